"""The motion prior: trained across videos it predicts ahead better than holding the last code; conditioned
on a video its path passes through every code, its futures spread with the horizon around that path, edits
keep their offset, and it saves, reloads and is refused for another generator."""

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from conftest import TINY, make_tiny, save_tiny
from dynode.cli import app
from dynode.config import FitConfig
from dynode.config.training import PriorConfig
from dynode.dynamics import fit, load_prior, load_trajectory, sample_future, save_trajectory, train_prior
from dynode.errors import CheckpointError, InputError
from dynode.generators import load_generator
from dynode.io.checkpoints import save_latents
from dynode.pipelines import Models
from dynode.types import GeneratorRecord, LatentSequence

SHAPE = (2, 8)
FPS = 8.0


def _video(seed: int, seconds: float = 24.0, fps: float = FPS, mixing: torch.Tensor | None = None):
    """Codes moved by three factors, each a sum of three sinusoids of 0.1-0.6 Hz (as toy faces move), mixed
    into the code space, around an identity of their own, with a little inversion noise."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(3, SHAPE[0] * SHAPE[1], generator=torch.Generator().manual_seed(0)) if mixing is None else mixing
    t = torch.arange(int(seconds * fps), dtype=torch.float64) / fps
    freq, phase = 0.1 + 0.5 * torch.rand(3, 3, generator=g), 2 * math.pi * torch.rand(3, 3, generator=g)
    factors = torch.sin(2 * math.pi * freq[None] * t[:, None, None] + phase[None]).sum(-1).float() / 3
    codes = 2 * torch.randn(SHAPE[0] * SHAPE[1], generator=g) + factors @ mixing \
        + 0.01 * torch.randn(len(t), SHAPE[0] * SHAPE[1], generator=g)
    return t, codes.reshape(len(t), *SHAPE)


def _sequence(times, codes, record=GeneratorRecord("synthetic", "")):
    return LatentSequence(times, codes, torch.zeros(len(times)), torch.zeros(len(times)), record)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("prior") / "run"
    config = PriorConfig(components=4, resonators=3, steps=150, batch=16, lr=0.03)
    prior, stats = train_prior([_video(s) for s in range(24)], config, out=run)
    return prior, stats, config, run


def _kept(seed: int, fps: float, seconds: float):
    """A held-out video kept at ``fps`` for ``seconds`` and its next 8 kept-rate codes."""
    t, codes = _video(seed)
    step = int(FPS / fps)
    n = int(seconds * fps)
    return t[:n * step:step], codes[:n * step:step], t[n * step:(n + 8) * step:step], codes[n * step:(n + 8) * step:step]


def test_trained_prior_predicts_ahead_better_than_holding_the_last_code(trained):
    prior, stats, _, run = trained
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 150 and stats["videos"] == 24 and stats["frames"] == 24 * 192
    assert sum(r["loss"] for r in log[-2:]) < sum(r["loss"] for r in log[:2])
    errors = {"prior": 0.0, "hold": 0.0}
    for seed in range(1000, 1006):
        t, codes, t_future, truth = _kept(seed, 2.0, 8.0)
        traj = fit(_sequence(t, codes), FitConfig(field="prior"), prior=prior)
        errors["prior"] += float((traj.evaluate(t_future) - truth).pow(2).mean())
        errors["hold"] += float((codes[-1] - truth).pow(2).mean())
    assert errors["prior"] < 0.5 * errors["hold"], errors


def test_a_run_resumes_where_it_stopped_and_refuses_other_settings(trained):
    prior, _, config, run = trained
    again, stats = train_prior([_video(s) for s in range(24)], config, out=run)
    assert stats["steps"] == 150
    assert torch.equal(again.freq, prior.freq)
    with pytest.raises(InputError, match="other settings"):
        train_prior([_video(s) for s in range(24)], PriorConfig(components=4, steps=160), out=run)


def test_the_path_passes_every_code_and_futures_spread_around_it(trained, tmp_path):
    prior = trained[0]
    t, codes, t_future, _ = _kept(1001, 2.0, 8.0)
    traj = fit(_sequence(t, codes), FitConfig(field="prior"), prior=prior)
    assert torch.allclose(traj.evaluate(t), codes, atol=1e-4)
    assert float((traj.evaluate([float(t[-1]) + 1e-3]) - codes[-1]).abs().max()) < 0.02  # continuous at the end
    path = traj.evaluate(t_future)
    futures = sample_future(traj, t_future, samples=400, seed=0)
    assert futures.shape == (400, len(t_future), *SHAPE)
    spread = futures.std(0).mean((-1, -2))
    assert spread[-1] > 2 * spread[0]
    assert float((futures.mean(0) - path).abs().mean()) < 0.25 * float(spread.mean())
    save_trajectory(tmp_path / "traj.safetensors", traj)
    assert torch.equal(load_trajectory(tmp_path / "traj.safetensors").evaluate(t_future), path)
    offset = 0.3 * torch.randn(SHAPE)
    edited, plain = traj.evaluate_from(t_future, torch.stack([traj.w0 + offset, traj.w0]))
    assert torch.allclose(edited - plain, offset.expand_as(plain), atol=1e-4)
    assert torch.equal(plain, path)  # from the first code, a solve is the video's own path: every code kept


def test_jitter_outside_the_priors_components_does_not_carry_on_past_the_ends(trained):
    # Each code's own jitter along a direction outside the prior's components: past either end the path
    # starts from the end code and settles within a few intervals on the codes' mean there; futures follow.
    prior = trained[0]
    t, codes, _, _ = _kept(1002, 2.0, 8.0)
    away = torch.randn(SHAPE[0] * SHAPE[1], generator=torch.Generator().manual_seed(4))
    away -= prior.basis.T @ (prior.basis @ away)
    jitter = 0.3 * torch.randn(len(t), generator=torch.Generator().manual_seed(5))
    jitter[0], jitter[-1] = 0.6, -0.6
    codes = codes + (jitter[:, None] * away / away.norm()).reshape(len(t), *SHAPE)
    traj = fit(_sequence(t, codes), FitConfig(field="prior"), prior=prior)
    level = traj.chart.residual(codes).mean(0)
    first, last = float(t[0]), float(t[-1])
    torch.testing.assert_close(traj.residual_at([first - 1e-6, last + 1e-6]), traj.chart.residual(codes[[0, -1]]),
                               atol=1e-5, rtol=0)
    far = traj.residual_at([first - 2.5, last + 2.5])  # five intervals out
    assert (far - level).abs().max() < 0.01 * (traj.chart.residual(codes[-1:]) - level).abs().max()
    assert (traj.chart.residual(traj.evaluate([last + 2.5])) - level).abs().max() < 0.01
    futures = sample_future(traj, [last + 2.5], samples=4, seed=0)
    torch.testing.assert_close(traj.chart.residual(futures[:, 0]), level.expand(4, -1, -1), atol=0.01, rtol=0)


def _inside_80(futures: torch.Tensor, truth: torch.Tensor) -> float:
    lo, hi = torch.quantile(futures, 0.1, dim=0), torch.quantile(futures, 0.9, dim=0)
    return float(((truth >= lo) & (truth <= hi)).float().mean())


def test_futures_widen_for_a_video_that_moves_more_than_the_prior_learned(trained):
    prior = trained[0]
    wide, plain = [], []
    for seed in range(1010, 1016):
        t, codes, t_future, truth = _kept(seed, 4.0, 12.0)
        centre = codes.mean(0)
        # the same video moving three times as far: the prior's own bands are too narrow for it
        big, big_truth = centre + 3 * (codes - centre), centre + 3 * (truth - centre)
        conditioned = FitConfig(field="prior", refine_ahead=0)  # the prior's own spread, scaled
        own = fit(_sequence(t, codes), conditioned, prior=prior).field.future_scale
        traj = fit(_sequence(t, big), conditioned, prior=prior)
        assert 0.5 < float(own) < 2.5 < float(traj.field.future_scale), (float(own), float(traj.field.future_scale))
        wide.append(_inside_80(sample_future(traj, t_future, 200, seed), big_truth))
        traj.field.future_scale.fill_(1.0)
        plain.append(_inside_80(sample_future(traj, t_future, 200, seed), big_truth))
    assert sum(plain) / 6 < 0.6 < sum(wide) / 6, (plain, wide)


def test_past_the_end_a_refinement_takes_over_where_the_backtest_says_it_forecasts_better(trained, tmp_path):
    prior = trained[0]
    errors = {"conditioned": 0.0, "auto": 0.0}
    for seed in range(1020, 1024):
        t, codes, t_future, truth = _kept(seed, 4.0, 12.0)
        centre = codes.mean(0)
        big, big_truth = centre + 3 * (codes - centre), centre + 3 * (truth - centre)  # more motion than it learnt
        alone = fit(_sequence(t, big), FitConfig(field="prior", refine_ahead=0), prior=prior)
        auto = fit(_sequence(t, big), FitConfig(field="prior"), prior=prior)
        assert alone.field.ahead is None and auto.field.ahead is not None
        between = (t[1:] + t[:-1]) / 2
        assert torch.equal(auto.evaluate(between), alone.evaluate(between))  # the path between codes is unchanged
        errors["conditioned"] += float((alone.evaluate(t_future) - big_truth).pow(2).mean())
        errors["auto"] += float((auto.evaluate(t_future) - big_truth).pow(2).mean())
    assert errors["auto"] < 0.9 * errors["conditioned"], errors
    save_trajectory(tmp_path / "auto.safetensors", auto)
    again = load_trajectory(tmp_path / "auto.safetensors")
    assert torch.equal(again.evaluate(t_future), auto.evaluate(t_future))
    assert torch.equal(sample_future(again, t_future, 8, 0), sample_future(auto, t_future, 8, 0))


def test_refinement_raises_the_videos_own_likelihood(trained):
    t, codes, _, _ = _kept(1002, 4.0, 6.0)
    before = fit(_sequence(t, codes), FitConfig(field="prior", refine=0), prior=trained[0])
    after = fit(_sequence(t, codes), FitConfig(field="prior", refine=30, lr=0.02), prior=trained[0])
    assert after.stats.best_loss < before.stats.best_loss
    assert not torch.equal(after.field.prior.freq, trained[0].freq)  # the shared prior is left as it was


def test_field_prior_needs_a_prior_and_a_prior_its_generator(trained, tmp_path):
    t, codes, _, _ = _kept(1003, 2.0, 8.0)
    with pytest.raises(InputError, match="train-prior"):
        fit(_sequence(t, codes), FitConfig(field="prior"))
    with pytest.raises(InputError, match="refine"):
        FitConfig(field="prior", refine=-1)
    from dynode.io.checkpoints import save_model
    save_model(tmp_path / "prior", trained[0], "motion_prior", {**trained[0].config(), "generator_id": "aaaa"})
    with pytest.raises(CheckpointError, match="aaaa.*bbbb"):
        load_prior(tmp_path / "prior", "bbbb")
    assert torch.equal(load_prior(tmp_path / "prior", "aaaa").freq, trained[0].freq)


def test_train_prior_cli_learns_from_latents_artifacts_into_the_model_folder(tmp_path):
    folder = save_tiny(tmp_path, make_tiny())
    record = load_generator(str(folder)).record
    mixing = torch.randn(3, TINY.num_ws * TINY.w_dim, generator=torch.Generator().manual_seed(0))
    for k in range(3):  # codes of the tiny generator's shape at 25 fps, as `dynode batch` leaves them
        t, _ = _video(k, 24.0, 25.0, torch.zeros(3, SHAPE[0] * SHAPE[1]))
        codes = (torch.randn(len(t), 3) @ mixing * 0.1).reshape(len(t), TINY.num_ws, TINY.w_dim)
        save_latents(tmp_path / "batch" / f"clip{k}" / "latents.safetensors", _sequence(t, codes, record))
    runner = CliRunner()
    result = runner.invoke(app, ["train-prior", "--generator", str(folder), "--latents", str(tmp_path / "batch"),
                                 "--steps", "20", "--components", "4", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "curve.png").stat().st_size > 1000
    models = Models.from_pretrained(str(folder))
    assert models.prior is not None and len(models.prior.basis) == 4
    nothing = runner.invoke(app, ["train-prior", "--generator", str(folder), "--out", str(tmp_path / "run2")])
    assert nothing.exit_code != 0 and "nothing to train on" in nothing.output


def test_the_bundled_prior_predicts_a_toy_video_ahead_better_than_holding_its_last_code():
    from dynode.data.toyfaces import ToyFaceVideo
    models = Models.from_pretrained()
    assert models.prior is not None and models.prior.latent_shape == (models.generator.num_ws, models.generator.w_dim)
    errors = {"prior": 0.0, "hold": 0.0}
    for seed in (4321, 4322):  # neither a training seed (2,000,000 up) nor a benchmark's
        times = torch.arange(32, dtype=torch.float64) / 4  # 6 s kept at 4 fps, then 2 s ahead
        with torch.no_grad():
            codes = models.encoder.encode(models.generator, ToyFaceVideo(seed).render(times))
        kept, future = codes[:24], codes[24:]
        traj = fit(_sequence(times[:24], kept, models.record), FitConfig(field="prior"), prior=models.prior)
        chart = models.prior.chart()
        errors["prior"] += float((chart.encode(traj.evaluate(times[24:])) - chart.encode(future)).pow(2).mean())
        errors["hold"] += float((chart.encode(kept[-1:]) - chart.encode(future)).pow(2).mean())
    assert errors["prior"] < 0.7 * errors["hold"], errors
