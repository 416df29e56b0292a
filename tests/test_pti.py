import copy
import dataclasses

import pytest
import torch

from dynode.config import InversionConfig, PTIConfig
from dynode.dynamics import fit, save_trajectory
from dynode.config import FitConfig
from dynode.errors import CheckpointError, InputError
from dynode.generators import apply_delta, load_generator
from dynode.inversion import invert, pivotal_tuning
from dynode.io.checkpoints import load_latents, save_latents
from dynode.metrics import psnr


def test_pivotal_tuning_improves_reconstruction_and_travels_with_the_codes(tmp_path, tiny_gen, tiny_folder):
    # Frames the tiny generator cannot make: smooth colour gradients.
    ramp = torch.linspace(-1, 1, 16)
    images = torch.stack([torch.stack([ramp[None].expand(16, 16) * s, ramp[:, None].expand(16, 16) * -s,
                                       torch.full((16, 16), 0.3 * s)]) for s in (0.5, 0.7, 0.9)])
    seq = invert(load_generator(str(tiny_folder)), images, torch.tensor([0.0, 0.1, 0.2]),
                 InversionConfig(steps=5, steps_first=10))
    before = {k: v.clone() for k, v in tiny_gen.state_dict().items()}
    delta, stats = pivotal_tuning(tiny_gen, images, seq.latents, PTIConfig(steps=40, batch_size=3))
    assert stats.psnr_after > stats.psnr_before + 1
    assert all(torch.equal(v, tiny_gen.state_dict()[k]) for k, v in before.items())  # the original is untouched
    assert not any(k.startswith("style.") for k in delta)  # the mapping network is not tuned
    tuned = apply_delta(copy.deepcopy(tiny_gen), delta)
    assert float(psnr(tuned.synthesis(seq.latents), images).mean()) == pytest.approx(stats.psnr_after, abs=1e-3)
    seq = dataclasses.replace(seq, generator=dataclasses.replace(seq.generator, delta=delta), tuning=stats)
    save_latents(tmp_path / "l.safetensors", seq)
    back = load_latents(tmp_path / "l.safetensors")
    assert back.tuning == stats and back.stats == seq.stats  # the typed records round-trip
    traj = fit(back, FitConfig(iters=5, subspace_dim=2))
    save_trajectory(tmp_path / "t.safetensors", traj)
    from dynode.pipelines import VideoPipeline
    gen = VideoPipeline.from_artifacts(tmp_path / "t.safetensors").generator  # reloaded with the video's delta
    torch.testing.assert_close(gen.synthesis(seq.latents), tuned.synthesis(seq.latents))
    with pytest.raises(CheckpointError, match="does not fit"):
        apply_delta(copy.deepcopy(tiny_gen), {"conv1.conv.weight": torch.zeros(3)})
    with pytest.raises(InputError, match="pivots"):
        pivotal_tuning(tiny_gen, images, seq.latents[:2])
    with pytest.raises(InputError, match="PTIConfig"):
        PTIConfig(steps=0)


def _toy_frames(n: int = 6, fps: float = 4.0):
    from dynode.data.toyfaces import ToyFaceVideo
    from dynode.io.images import to_uint8
    from dynode.types import Frames
    times = torch.arange(n, dtype=torch.float64) / fps
    return Frames(to_uint8(ToyFaceVideo(11).render(times, 64)), times, fps)


def test_the_default_inversion_keeps_the_encoders_codes_and_tunes_one_generator_for_the_video(tmp_path):
    from dynode.io.images import from_uint8
    from dynode.pipelines import Models, VideoPipeline
    models, frames = Models.from_pretrained("toyfaces64"), _toy_frames()
    config = InversionConfig(tuning=PTIConfig(steps=12))
    pipe = VideoPipeline.from_frames(frames, models, config, fit=None, log=lambda _: None)
    seq = pipe.sequence
    with torch.no_grad():
        encoded = models.encoder.encode(models.generator, from_uint8(frames.pixels))
    torch.testing.assert_close(seq.latents, encoded)  # every frame's code is the encoder's
    assert seq.stats.config.steps == 0 and seq.stats.config.tune and seq.stats.init == "encoder"
    assert seq.tuning.config.steps == 12 and seq.tuning.psnr_after > seq.tuning.psnr_before + 0.5
    assert pipe.generator.record.delta is not None and models.generator.record.delta is None  # a tuned copy
    assert float(seq.psnr.mean()) == pytest.approx(seq.tuning.psnr_after, abs=1e-2)
    # The codes alone, saved and given back with the untuned bundle, render with the tuned generator.
    save_latents(tmp_path / "l.safetensors", seq)
    again = VideoPipeline(models, load_latents(tmp_path / "l.safetensors"))
    torch.testing.assert_close(again.generator.synthesis(seq.latents[:2]), pipe.generator.synthesis(seq.latents[:2]))
    # Asking for steps is per-frame optimisation, and then the generator is not tuned unless asked.
    stepped = VideoPipeline.from_frames(frames, models, InversionConfig(steps=2), fit=None).sequence
    assert stepped.tuning is None and stepped.generator.delta is None


def test_the_inversion_recipe_is_chosen_by_the_generator_and_refuses_what_cannot_work():
    with_encoder, without = InversionConfig().resolved(True), InversionConfig().resolved(False)
    assert (with_encoder.init, with_encoder.steps, with_encoder.tune) == ("encoder", 0, True)
    assert (without.init, without.steps, without.tune) == ("previous", 100, False)
    assert InversionConfig(steps=0, tune=False).resolved(True).tune is False  # the encoder's codes, untuned
    assert InversionConfig(steps=20, tune=True).resolved(True).tune is True
    with pytest.raises(InputError, match="no encoder") as e:
        InversionConfig(steps=0).resolved(False)
    assert e.value.remedy == "encoder"
    with pytest.raises(InputError, match="init 'previous'"):
        InversionConfig(steps=0, init="previous")
    with pytest.raises(InputError, match="locality_every"):
        PTIConfig(locality_every=0)


def test_an_interrupted_tuning_keeps_the_codes_and_starts_again_from_them(tmp_path):
    from dynode.pipelines import Models, VideoPipeline
    models, frames = Models.from_pretrained("toyfaces64"), _toy_frames(5)
    config, partial, said = InversionConfig(tuning=PTIConfig(steps=6)), tmp_path / "l.partial.safetensors", []

    class Stop(Exception):
        pass

    def stop(done, total):
        if done == 3:
            raise Stop
    with pytest.raises(Stop):
        VideoPipeline.from_frames(frames, models, config, fit=None, partial=partial, tune_progress=stop)
    assert partial.is_file()  # the codes are kept while the tuning has not finished
    seq = VideoPipeline.from_frames(frames, models, config, fit=None, partial=partial, log=said.append).sequence
    assert any("resuming: 5 of 5" in line for line in said) and not partial.is_file()
    assert seq.tuning.config.steps == 6 and seq.generator.delta is not None


def test_an_edit_on_a_tuned_generator_draws_the_change_the_directions_were_made_for(tmp_path):
    import numpy as np

    from dynode.config import EditSpec, FitConfig
    from dynode.edit import carry
    from dynode.io.images import from_uint8
    from dynode.pipelines import Models, VideoPipeline
    from dynode.render import render_images
    config = InversionConfig(tuning=PTIConfig(steps=30))
    pipe = VideoPipeline.from_frames(_toy_frames(), Models.from_pretrained("toyfaces64"), config, fit=FitConfig(),
                                     log=lambda _: None)
    assert pipe.models.base is not None and pipe.models.base.record.delta is None
    t = pipe.trajectory.observed_times
    spec = EditSpec(("glasses",), (2.0,), propagation="first-frame", steady=0)
    edited = pipe.edit(spec, times=t).numpy()
    plain = pipe.interpolate(times=t, fidelity="latent").numpy()
    codes = carry(pipe.trajectory, t, pipe.make_edits(spec))
    base = pipe.models.base
    wanted = (render_images(base, codes) - render_images(base, pipe.trajectory.evaluate(t))) * 127.5
    change = (from_uint8(edited) - from_uint8(plain)) * 127.5
    assert float((change - wanted).abs().mean()) < 1.0  # the untuned generator's change, in 0-255 levels
    tuned_change = from_uint8(pipe.edit(replace_spec(spec), times=t).numpy()) - from_uint8(plain)
    assert not np.allclose(tuned_change.numpy(), change.numpy() / 127.5, atol=0.02)
    # Reloaded from its artifacts, the pipeline draws the same edit.
    pipe.save_trajectory(tmp_path / "t.safetensors")
    again = VideoPipeline.from_artifacts(tmp_path / "t.safetensors")
    assert again.models.base is not None
    np.testing.assert_array_equal(again.edit(spec, times=t).numpy(), edited)


def replace_spec(spec):
    return dataclasses.replace(spec, base_change=False)
