import os
import shutil
import socket
from pathlib import Path

import pytest

from dynode.app import App, AppConfig
from dynode.app.service import fit_spec
from dynode.errors import InputError

SMALL = fit_spec(steps_first=20, steps=5, iters=30)


def test_uploads_are_checked_against_the_limits(tmp_path):
    app = App(AppConfig(max_upload_mb=1))
    try:
        toy, text = app.make_toy(3, "tab")
        assert "16 frames at 8 fps" in text
        kept, text = app.open_upload(toy, "tab")
        assert kept.parent == app.root / "tab" and kept.read_bytes() == toy.read_bytes() and "64x64" in text
        (tmp_path / "bad.mp4").write_bytes(b"not a video at all" * 100)
        with pytest.raises(InputError, match="^bad.mp4: cannot decode"):
            app.open_upload(tmp_path / "bad.mp4", "tab")
        (tmp_path / "big.mp4").write_bytes(bytes(2 << 20))
        with pytest.raises(InputError, match="2 MB; this app accepts up to 1 MB"):
            app.open_upload(tmp_path / "big.mp4", "tab")
        with pytest.raises(InputError, match="lasts 2.0 s; this app accepts up to 1.5 s"):
            App(AppConfig(max_seconds=1.5)).open_upload(toy, "tab")
        with pytest.raises(InputError, match="frames are 64x64; this app accepts up to 32 pixels"):
            App(AppConfig(max_side=32)).open_upload(toy, "tab")
    finally:
        app.close()
    assert not app.root.exists()


def test_one_job_per_tab_and_fits_are_cached():
    app = App()
    try:
        with app.job("tab"):
            with pytest.raises(InputError, match="already running in this tab"):
                with app.job("tab"):
                    pass
            with app.job("other tab"):
                pass
        with pytest.raises(InputError, match="open a video first"):
            app.fit(None, SMALL, "tab")
        toy, _ = app.make_toy(2, "tab")
        key, summary, plot, files = app.fit(toy, SMALL, "tab")
        assert summary.startswith("16 frames inverted") and plot.is_file() and all(f.is_file() for f in files)
        again, summary, _, _ = app.fit(toy, SMALL, "tab")
        assert again == key and "taken from the cache" in summary
        other, summary, _, _ = app.fit(toy, fit_spec(steps_first=20, steps=5, iters=31), "tab")
        assert other != key and "fitted in" in summary
        out, text = app.extrapolate(key, "tab", seconds=1.0, samples=2)
        assert text == "24 frames, up to 2.88 s" and out.is_file()  # 16 observed at 8 fps + 8 more
        with pytest.raises(InputError, match="choose a direction"):
            app.edit(key, "tab", [("smile", 0.0)])
    finally:
        app.close()


def _chromium():
    return next((path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium: install Debian's (make test does: apt-get install chromium)")
def test_app_in_a_real_browser(tmp_path):
    """Make a toy video, fit it, interpolate, extrapolate and edit it in headless chromium, while a second
    person (another browser context) fits and interpolates their own video at the same time; a bad upload
    shows an error."""
    from playwright.sync_api import sync_playwright

    from dynode.app import build_app
    shots = Path(os.environ.get("DYNODE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    demo, port = build_app(AppConfig()), _free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    duration = "el => new Promise(done => { const go = () => done([el.duration, el.videoWidth]); " \
               "el.readyState >= 1 ? go() : el.addEventListener('loadedmetadata', go); })"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            page, other = (browser.new_context(viewport={"width": 1280, "height": 1400}).new_page() for _ in range(2))
            for person, seed in ((page, "1"), (other, "2")):
                person.goto(f"http://127.0.0.1:{port}")
                assert "1 job runs at a time across all tabs" in person.locator("#queue-note").inner_text()
                person.get_by_label("Toy seed").fill(seed)
                person.get_by_role("button", name="Make a toy-face video").click()
                person.get_by_text("Made a toy-face video").wait_for(timeout=30_000)
                person.get_by_text("Budgets").click()
                person.get_by_label("Inversion steps, first frame").fill("20")
                person.get_by_label("Inversion steps, other frames").fill("5")
                person.get_by_label("Fitting iterations").fill("30")
            status = page.locator("#status")
            page.get_by_role("button", name="Invert and fit").click()
            other.get_by_role("button", name="Invert and fit").click()  # queued behind the first person's job
            page.get_by_text("16 frames inverted").wait_for(timeout=120_000)
            other.get_by_text("16 frames inverted").wait_for(timeout=120_000)
            assert "Error" not in other.locator("#status").inner_text()
            assert page.locator("#plot img").count() == 1
            listed = page.locator("#artifacts").inner_text().replace("\n.", ".")
            assert "latents.safetensors" in listed and "trajectory.safetensors" in listed

            for person in (page, other):
                person.get_by_role("button", name="Interpolate", exact=True).click()
            for person in (page, other):
                person.get_by_text("Interpolated: 61 frames at 32 fps").wait_for(timeout=60_000)
            mine, theirs = (person.locator("#interp-video video").get_attribute("src") for person in (page, other))
            assert mine != theirs  # each person's output is their own file
            seconds, width = page.locator("#interp-video video").evaluate(duration)
            assert seconds == pytest.approx(61 / 32, abs=0.05) and width == 64  # decoded: it plays
            page.screenshot(path=str(shots / "app_interpolate.png"), full_page=True)
            page.locator("#slowdown input[type=number]").fill("2")  # slow motion: twice as long at the video's 8 fps
            page.locator("#slowdown input[type=number]").press("Enter")
            page.get_by_role("button", name="Interpolate", exact=True).click()
            page.get_by_text("Interpolated: 31 frames at 8 fps").wait_for(timeout=60_000)
            seconds, width = page.locator("#interp-video video").evaluate(duration)
            assert seconds == pytest.approx(31 / 8, abs=0.05)

            page.get_by_role("tab", name="Extrapolate").click()
            page.get_by_role("button", name="Extrapolate", exact=True).click()
            page.get_by_text("Extrapolated: 24 frames, up to 2.88 s").wait_for(timeout=60_000)
            seconds, width = page.locator("#extra-video video").evaluate(duration)
            assert seconds == pytest.approx(24 / 8, abs=0.05) and width == 64

            page.get_by_role("tab", name="Edit").click()
            page.get_by_role("button", name="Edit", exact=True).click()
            page.get_by_text("Edited: 16 edited frames (auto)").wait_for(timeout=120_000)
            seconds, width = page.locator("#edit-video video").evaluate(duration)
            assert seconds == pytest.approx(16 / 8, abs=0.05) and width == 128  # unedited beside the edit
            assert page.locator("#edit-plot img").count() == 1
            page.screenshot(path=str(shots / "app_edit.png"), full_page=True)

            bad = tmp_path / "holiday.mp4"
            bad.write_bytes(b"this is not a video" * 200)
            page.locator("#upload input[type=file]").set_input_files(str(bad))
            page.get_by_text("cannot decode as a video").wait_for(timeout=30_000)
            # The file is named as the user knows it, not by the temporary path Gradio kept it at.
            assert status.inner_text().startswith("Error: holiday.mp4") and "/tmp" not in status.inner_text()
            browser.close()
    finally:
        demo.close()
        demo.app_state.close()


def test_core_errors_come_with_what_to_do_in_the_page_own_terms():
    from dynode.app.service import REMEDIES
    from dynode.errors import REMEDIES as KEYS, advice
    assert set(REMEDIES) <= set(KEYS)
    assert advice(InputError("full-frame output needs aligned codes", "align"), REMEDIES) == \
        "full-frame output needs aligned codes; tick 'Align faces' and fit again"
    assert advice(InputError("no remedy here"), REMEDIES) == "no remedy here"


def test_the_app_starts_on_the_generator_named_and_refuses_an_unknown_one(tiny_folder):
    from typer.testing import CliRunner

    from dynode.app import build_app
    from dynode.cli import app as cli
    r = CliRunner().invoke(cli, ["app", "--generator", "no/such/folder"])
    assert r.exit_code == 2 and "unknown generator 'no/such/folder'" in r.output
    demo = build_app(AppConfig(generator=str(tiny_folder)))
    try:
        dropdown = next(b for b in demo.blocks.values() if getattr(b, "label", None) == "Generator")
        assert dropdown.value == str(tiny_folder) and str(tiny_folder) in [c[0] for c in dropdown.choices]
    finally:
        demo.app_state.close()
