"""The pipeline object: what it records, reloads and refuses."""

import numpy as np
import pytest
import torch

from conftest import TINY, make_tiny
from dynode.config import FitConfig, InversionConfig, ReadConfig, SolverConfig
from dynode.dynamics import save_trajectory
from dynode.errors import CheckpointError, InputError
from dynode.generators import load_generator
from dynode.generators.zspace import ZSpaceGenerator
from dynode.io.checkpoints import save_latents, save_model
from dynode.pipelines import VideoPipeline
from dynode.types import Generator

FAST = dict(inversion=InversionConfig(steps=2, steps_first=3), fit=FitConfig(iters=5, subspace_dim=2))


def test_loaded_and_adapted_generators_satisfy_the_protocol(tiny_folder):
    gen = load_generator(str(tiny_folder))
    assert isinstance(gen, Generator) and gen.record.name == str(tiny_folder) and len(gen.record.id) == 16 and gen.record.delta is None
    z = ZSpaceGenerator(torch.nn.Sequential(torch.nn.Linear(8, 3 * 8 * 8), torch.nn.Tanh(),
                                            torch.nn.Unflatten(1, (3, 8, 8))), 8, conv_input=False)
    assert isinstance(z, Generator) and (z.record.name, z.record.id) == ("", "")
    assert z.mean_latent.shape == (8,) and gen.mean_latent.shape == (TINY.w_dim,)


def test_a_video_pipeline_records_its_source_and_reloads_alone(tmp_path, tiny_folder, tiny_video):
    pipe = VideoPipeline.from_video(tiny_video, str(tiny_folder), **FAST)
    src = pipe.source
    assert (src.width, src.height, src.every, src.has_audio) == (16, 16, 1, False) and src.video.endswith("tiny.mp4")
    assert src.duration == pytest.approx(5 / 8, abs=2e-3)
    save_trajectory(tmp_path / "t.safetensors", pipe.trajectory)
    again = VideoPipeline.from_artifacts(tmp_path / "t.safetensors")
    assert again.source == src and again.generator.record.id == pipe.generator.record.id and again.sequence is None
    np.testing.assert_array_equal(again.interpolate(factor=2).numpy(), pipe.interpolate(factor=2).numpy())
    with pytest.raises(InputError, match="needs the inverted codes") as caught:
        again.fit()
    assert caught.value.remedy == "invert_first"  # the front ends word it: the CLI as `dynode invert`


def test_changed_generator_weights_are_refused_with_both_ids(tmp_path, tiny_folder, tiny_video):
    pipe = VideoPipeline.from_video(tiny_video, str(tiny_folder), **FAST)
    save_latents(tmp_path / "l.safetensors", pipe.sequence)
    old = pipe.generator.record.id
    save_model(tiny_folder, make_tiny(seed=5), "stylegan2", TINY.to_dict())  # the folder's weights replaced
    with pytest.raises(CheckpointError, match=rf"not the generator the codes were made with \(id {old}\)"):
        VideoPipeline.from_artifacts(tmp_path / "l.safetensors")


def test_a_generator_built_in_memory_must_be_passed_back(tmp_path, tiny_gen, tiny_video):
    pipe = VideoPipeline.from_video(tiny_video, tiny_gen, **FAST)
    save_latents(tmp_path / "l.safetensors", pipe.sequence)
    with pytest.raises(CheckpointError, match="built in memory, which cannot be reloaded"):
        VideoPipeline.from_artifacts(tmp_path / "l.safetensors")
    assert VideoPipeline.from_artifacts(tmp_path / "l.safetensors", models=tiny_gen).generator is tiny_gen


def test_audio_goes_along_and_a_gone_source_is_said_not_dropped(tmp_path, tiny_folder):
    import av

    from test_video import _av_video, _pattern
    _av_video(tmp_path / "talk.mp4", _pattern(8), fps=8, audio_seconds=1.0)
    said = []
    pipe = VideoPipeline.from_video(tmp_path / "talk.mp4", str(tiny_folder), ReadConfig(resize=True), log=said.append,
                                    **FAST)
    assert pipe.source.has_audio and (pipe.source.width, pipe.source.height) == (64, 48)
    clip = pipe.interpolate(factor=2)
    assert clip.audio == tmp_path / "talk.mp4" and clip.at_rate(clip.fps / 3).audio_stretch == pytest.approx(3)
    slow = pipe.interpolate(slowdown=4)  # the source's 8 fps, four times as long: rendered at 32 fps
    assert slow.fps == 8 and len(slow) == 7 * 4 + 1 and slow.audio_stretch == pytest.approx(4)
    assert pipe.interpolate(times=[0.1, 0.2]).audio is None  # not the source's time span
    (tmp_path / "talk.mp4").rename(tmp_path / "moved.mp4")
    pipe.interpolate(factor=2).write(tmp_path / "i.mp4")
    assert any("talk.mp4 is gone" in line and "no audio" in line for line in said)
    with av.open(str(tmp_path / "i.mp4")) as c:
        assert not c.streams.audio and c.streams.video[0].frames == 15
    with pytest.raises(InputError, match="whose faces were aligned") as caught:
        pipe.interpolate(full_frame=True)
    assert caught.value.remedy == "align"


def test_clips_render_lazily_and_tile(tiny_folder, tiny_video):
    pipe = VideoPipeline.from_video(tiny_video, str(tiny_folder), **FAST)
    clip = pipe.interpolate(times=[0.0, 0.3, 0.6])
    assert len(clip) == 3 and clip.fps == pytest.approx(2 / 0.6)
    assert clip.beside(clip, clip).numpy().shape == (3, 16, 48, 3)
    with pytest.raises(InputError, match="codes but"):
        pipe.render(torch.zeros(2, pipe.generator.num_ws, pipe.generator.w_dim), [0.0])
    with pytest.raises(InputError, match="nothing to edit"):
        pipe.edit()


def test_configs_round_trip_nested_and_refuse_bad_fields():
    from dynode.generators.stylegan2 import StyleGAN2Config
    from dynode.generators.train import TrainConfig
    from dynode.pipelines.demo import DemoConfig
    cfg = FitConfig(solver=SolverConfig("rk4", step_size=0.1), iters=7)
    assert FitConfig.from_dict(cfg.to_dict()) == cfg and cfg.hash() != FitConfig().hash()
    demo = DemoConfig(fit=cfg)
    assert DemoConfig.from_dict(demo.to_dict()) == demo
    g = StyleGAN2Config.from_dict({"resolution": 16, "w_dim": 8, "n_mlp": 1, "channels": {"4": 8, "8": 8, "16": 4}})
    assert g.channels == {4: 8, 8: 8, 16: 4}
    train = TrainConfig(kimg=1.0)
    assert TrainConfig.from_dict(train.to_dict()) == train
    for bad in (dict(batch=3), dict(lr=0), dict(mixing_prob=2.0), dict(augment="blur")):
        with pytest.raises(InputError):
            TrainConfig(**bad)
    with pytest.raises(InputError, match="method"):
        SolverConfig("euler")
    with pytest.raises(InputError, match="every"):
        ReadConfig(every=0)
    with pytest.raises(InputError, match="unknown keys"):
        FitConfig.from_dict({"solver": {"method": "rk4"}, "speed": 2})


def test_an_interrupted_inversion_resumes_where_it_stopped(tmp_path, tiny_folder, tiny_video):
    from dynode.io.video import read_video
    from dynode.types import Frames
    gen = load_generator(str(tiny_folder))
    frames = read_video(tiny_video)
    config = InversionConfig(steps=3, steps_first=4, batch_size=2, init="previous")
    whole = VideoPipeline.from_frames(frames, gen, config, fit=None).sequence
    partial, said = tmp_path / "l.partial.safetensors", []

    class Stop(Exception):
        pass

    def stop_after_three(done, total):
        if done >= 3:
            raise Stop
    with pytest.raises(Stop):
        VideoPipeline.from_frames(frames, gen, config, fit=None, progress=stop_after_three, partial=partial)
    assert partial.is_file()
    resumed = VideoPipeline.from_frames(frames, gen, config, fit=None, partial=partial, log=said.append).sequence
    assert any("resuming: 3 of 6" in line for line in said) and not partial.is_file()
    torch.testing.assert_close(resumed.latents, whole.latents)  # as if it had never stopped
    with pytest.raises(Stop):
        VideoPipeline.from_frames(frames, gen, config, fit=None, progress=stop_after_three, partial=partial)
    other = Frames(frames.pixels[::-1].copy(), frames.times, frames.fps)  # another video: never used
    VideoPipeline.from_frames(other, gen, config, fit=None, partial=partial, log=said.append)
    assert any("another video" in line and "starting over" in line for line in said)


def test_any_path_of_the_codes_renders_inside_the_video_and_the_dynamics_past_it(tiny_folder, tiny_video):
    from dynode.baselines import spline
    from dynode.render import render_pixels
    pipe = VideoPipeline.from_video(tiny_video, str(tiny_folder), **FAST)
    seq = pipe.sequence
    inside = torch.tensor([0.05, 0.2, 0.33])
    expected = render_pixels(pipe.generator, spline(seq.times, seq.latents, inside))
    np.testing.assert_array_equal(pipe.interpolate(times=inside, path="spline", fidelity="latent").numpy(), expected)
    clip = pipe.extrapolate(seconds=0.5, fps=4, path="spline", fidelity="latent")
    assert float(clip.times[-1]) > float(seq.times[-1])  # past the video: the dynamics', not the spline's hold
    np.testing.assert_array_equal(clip.numpy()[-1], render_pixels(pipe.generator,
                                                                  pipe.trajectory.evaluate(clip.times[-1:]))[0])
    with pytest.raises(InputError, match="valid"):
        pipe.interpolate(path="bezier")
    with pytest.raises(InputError, match="rides on the fitted dynamics"):
        pipe.edit(motion=[("pc0", 2.0)], path="spline")
    # motion edits given as any iterable, a generator included, are read once and applied
    moved = pipe.edit(motion=(m for m in [("pc0", 2.0)]), times=inside, fidelity="latent").numpy()
    unmoved = pipe.interpolate(times=inside, path="exact", fidelity="latent").numpy()
    assert moved.shape == unmoved.shape and np.abs(moved.astype(int) - unmoved).mean() > 0.5
