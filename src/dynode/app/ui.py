"""The app's page (:func:`build_app`): Gradio controls wired to :class:`dynode.app.service.App`'s actions."""

import inspect
import os
from types import SimpleNamespace

from dynode.app.service import MAX_EDITS, REMEDIES, TUNING, App, AppConfig, directions_of, fit_spec
from dynode.config import (DEFAULT_PATH, EDIT_MODES, FIDELITIES, RENDER_FIDELITY, RENDER_PATHS, EditSpec, FitConfig,
                           InversionConfig)
from dynode.errors import DynodeError, advice
from dynode.generators import bundled_names


def _first(names: list[str]) -> str | None:
    """The direction offered first: smile when there is one."""
    return "smile" if "smile" in names else (names[0] if names else None)


def _guarded(gr, state: App, status, action, inputs: list, outputs: list):
    """Run ``action`` as this tab's one job; an error becomes the ``status`` line, other outputs unchanged.

    Gradio passes the request (for the tab's session) and a progress tracker to the parameters
    that ask for them by their signature, which is spelled out here for the ``inputs``.
    """
    def run(*args):
        *values, request, progress = args
        session = getattr(request, "session_hash", None) or "local"
        try:
            with state.job(session):
                return action(session, *values, progress=progress)
        except DynodeError as e:
            return [f"**Error:** {advice(e, REMEDIES)}" if o is status else gr.update() for o in outputs]
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    run.__signature__ = inspect.Signature(
        [inspect.Parameter(f"input{i}", positional) for i in range(len(inputs))]
        + [inspect.Parameter("request", positional, default=None, annotation=gr.Request),
           inspect.Parameter("progress", positional, default=gr.Progress())])
    return run


def _source(gr, state: App) -> SimpleNamespace:
    """The header, the queue note, the video's input (upload or toy video) and the invert-and-fit controls."""
    limits = state.config
    gr.Markdown("# dynode\nA video made continuous in a GAN's latent space: open a video, invert and fit it, "
                "then render it at any frame rate, past its end, or edited.")
    jobs = limits.jobs
    gr.Markdown(f"Each browser tab has its own videos and outputs. {jobs} job{'s run' if jobs > 1 else ' runs'} at "
                "a time across all tabs; the others wait in the queue and show their place in it. Limits: "
                f"{limits.max_upload_mb:g} MB, {limits.max_seconds:g} s and "
                f"{limits.max_side} pixels a side per video.", elem_id="queue-note")
    c = SimpleNamespace(video=gr.State(None), key=gr.State(None),
                        status=gr.Markdown("Open a video to start.", elem_id="status"))
    with gr.Row():
        with gr.Column():
            c.upload = gr.File(label=f"Upload a video (up to {limits.max_upload_mb:g} MB, {limits.max_seconds:g} s, "
                                     f"{limits.max_side} pixels a side)", file_types=["video"], type="filepath",
                               elem_id="upload")
            with gr.Row():
                c.seed = gr.Number(1, label="Toy seed", precision=0, minimum=0)
                c.toy = gr.Button("Make a toy-face video", elem_id="make-toy")
        c.preview = gr.Video(label="Input", height=256, interactive=False, elem_id="preview")
    with gr.Row():
        c.generator = gr.Dropdown(list(dict.fromkeys([*bundled_names(), limits.generator])),
                                  value=limits.generator, label="Generator", allow_custom_value=True,
                                  info="a bundled name, or the path of a model folder")
        c.align = gr.Checkbox(False, label="Align faces (real faces)")
        c.pti = gr.Dropdown(list(TUNING), value="auto", label="Pivotal tuning",
                            info="auto: the generator tuned to the video when its codes are the encoder's")
    with gr.Accordion("Budgets", open=False):
        with gr.Row():
            c.steps_first = gr.Number(InversionConfig().steps_first, label="Inversion steps, first frame",
                                      precision=0, minimum=1)
            c.steps = gr.Number(0, label="Inversion steps, other frames", precision=0, minimum=0,
                                info="0: the encoder's codes as they are (100 for a generator without one)")
            c.iters = gr.Number(FitConfig().iters, label="Fitting iterations (a generator without a motion prior)",
                                precision=0, minimum=1)
    c.run_fit = gr.Button("Invert and fit", variant="primary", elem_id="fit")
    c.plot = gr.Image(label="Latent path", show_label=False, type="filepath", elem_id="plot")
    c.artifacts = gr.File(label="Artifacts", file_count="multiple", elem_id="artifacts")
    return c


def _renders(gr, state: App) -> SimpleNamespace:
    """The interpolate, extrapolate and edit tabs."""
    c = SimpleNamespace()
    with gr.Tabs():
        with gr.Tab("Interpolate"):
            with gr.Row():
                c.factor = gr.Slider(1, 16, 4, step=1, label="Factor (x the frame rate)")
                c.fps = gr.Number(0, label="Or a frame rate (0: use the factor)", minimum=0)
                c.slowdown = gr.Slider(1, 8, 1, step=0.5, label="Slow motion: times longer (1: off; the "
                                       "factor and rate are then unused)", elem_id="slowdown")
                c.i_path = gr.Radio(list(RENDER_PATHS), value=DEFAULT_PATH, label="Path")
                c.i_fidelity = gr.Radio(list(FIDELITIES), value=RENDER_FIDELITY, label="Fidelity")
            c.interp_go = gr.Button("Interpolate", elem_id="interpolate")
            c.interp_video = gr.Video(label="Interpolated", height=256, elem_id="interp-video")
        with gr.Tab("Extrapolate"):
            with gr.Row():
                c.seconds = gr.Slider(0.25, 4, 1, step=0.25, label="Seconds past the end")
                c.samples = gr.Slider(0, 4, 0, step=1, label="SDE futures side by side (0: the ODE's)")
                c.e_path = gr.Radio(list(RENDER_PATHS), value=DEFAULT_PATH, label="Path")
                c.e_fidelity = gr.Radio(list(FIDELITIES), value=RENDER_FIDELITY, label="Fidelity")
            c.extra_go = gr.Button("Extrapolate", elem_id="extrapolate")
            c.extra_video = gr.Video(label="Extrapolated", height=256, elem_id="extra-video")
        with gr.Tab("Edit"):
            c.rows = []
            names = directions_of(state.config.generator)
            for i in range(MAX_EDITS):
                with gr.Row():
                    c.rows.append(gr.Dropdown(names, value=_first(names) if i == 0 else None,
                                              label=f"Direction {i + 1}", allow_custom_value=True))
                    c.rows.append(gr.Slider(-4, 4, 2.0 if i == 0 else 0.0, step=0.25, label=f"Strength {i + 1}"))
            with gr.Row():
                c.mode = gr.Radio(list(EDIT_MODES), value=EditSpec.propagation, label="Mode")
                c.schedule = gr.Textbox("", label="Schedule (time:weight, e.g. 0:0,1:1)")
                c.layers = gr.Textbox("", label="Layers (coarse, middle, fine, 0-3)")
                c.compare = gr.Checkbox(True, label="Unedited beside")
            c.edit_go = gr.Button("Edit", elem_id="edit")
            with gr.Row():
                c.edit_video = gr.Video(label="Edited", height=256, elem_id="edit-video")
                c.edit_plot = gr.Image(label="Attribute over time", type="filepath", elem_id="edit-plot")
    return c


def _actions(gr, state: App) -> SimpleNamespace:
    """What each button does, as (session, *inputs, progress) -> outputs."""
    def on_upload(session, path, progress):
        if path is None:
            return gr.update(), gr.update(), gr.update(), gr.update()
        kept, text = state.open_upload(path, session)
        return str(kept), str(kept), None, f"Opened {text}. Press 'Invert and fit'."

    def on_toy(session, seed_value, progress):
        path, text = state.make_toy(int(seed_value or 0), session)
        return str(path), str(path), None, f"Made a {text}. Press 'Invert and fit'."

    def on_fit(session, path, gen, al, tune, s_first, s, it, progress):
        spec = fit_spec(str(gen), bool(al), str(tune), int(s_first), int(s), int(it))
        k, summary, figure, files = state.fit(path, spec, session, lambda f, what: progress(f, desc=what))
        return k, str(figure), [str(f) for f in files], summary

    def on_interpolate(session, k, fac, rate, slow, p, fid, progress):
        out, text = state.interpolate(k, session, int(fac), float(rate or 0), p, fid, float(slow))
        return str(out), f"Interpolated: {text}."

    def on_extrapolate(session, k, sec, n, p, fid, progress):
        out, text = state.extrapolate(k, session, float(sec), int(n), p, fid)
        return str(out), f"Extrapolated: {text}."

    def on_edit(session, k, *values, progress):
        pairs, (m, sch, lay, cmp) = list(zip(values[:2 * MAX_EDITS:2], values[1:2 * MAX_EDITS:2])), \
            values[2 * MAX_EDITS:]
        out, figure, text = state.edit(k, session, pairs, m, sch, lay, bool(cmp))
        return str(out), str(figure) if figure else None, f"Edited: {text}."
    return SimpleNamespace(upload=on_upload, toy=on_toy, fit=on_fit, interpolate=on_interpolate,
                           extrapolate=on_extrapolate, edit=on_edit)


def build_app(config: AppConfig = AppConfig(), app: App | None = None):
    """The Gradio page over an :class:`App`; ``demo.app_state`` is the App (close it when done)."""
    import gradio as gr
    state = app or App(config)
    # Gradio's copies of uploads and outputs go in the app's folder too, removed with it.
    os.environ["GRADIO_TEMP_DIR"] = str(state.root / "gradio")
    with gr.Blocks(title="dynode", delete_cache=(1800, 3600)) as demo:
        c, r, do = _source(gr, state), _renders(gr, state), _actions(gr, state)
        wire = [(c.upload.upload, do.upload, [c.upload], [c.video, c.preview, c.key, c.status]),
                (c.toy.click, do.toy, [c.seed], [c.video, c.preview, c.key, c.status]),
                (c.run_fit.click, do.fit, [c.video, c.generator, c.align, c.pti, c.steps_first, c.steps, c.iters],
                 [c.key, c.plot, c.artifacts, c.status]),
                (r.interp_go.click, do.interpolate, [c.key, r.factor, r.fps, r.slowdown, r.i_path, r.i_fidelity],
                 [r.interp_video, c.status]),
                (r.extra_go.click, do.extrapolate, [c.key, r.seconds, r.samples, r.e_path, r.e_fidelity],
                 [r.extra_video, c.status]),
                (r.edit_go.click, do.edit, [c.key, *r.rows, r.mode, r.schedule, r.layers, r.compare],
                 [r.edit_video, r.edit_plot, c.status])]
        for event, action, inputs, outputs in wire:
            event(_guarded(gr, state, c.status, action, inputs, outputs), inputs, outputs,
                  concurrency_limit=state.config.jobs, concurrency_id="jobs")

        def on_generator(gen):
            names = directions_of(str(gen))
            return [gr.update(choices=names, value=_first(names) if i == 0 else None) for i in range(MAX_EDITS)]
        c.generator.change(on_generator, [c.generator], r.rows[::2])
    demo.app_state = state
    return demo
