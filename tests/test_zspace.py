import importlib.util
from pathlib import Path

import pytest
import torch

from dynode.config import FitConfig, InversionConfig
from dynode.dynamics import fit, save_trajectory
from dynode.errors import InputError
from dynode.generators.zspace import ZSpaceGenerator
from dynode.inversion import invert
from dynode.metrics import psnr
from dynode.render import render_pixels


def _dcgan():
    """The external DCGAN of gan-face-generate (installed with --no-deps; its weights stay in its package)."""
    from gan_face_generate.models import Generator
    folder = Path(list(importlib.util.find_spec("gan_face_generate").submodule_search_locations)[0])
    state = torch.load(folder / "weights.tar", map_location="cpu", weights_only=True)["netG_state_dict"]
    net = Generator(ngpu=0, nc=3, nz=100, ngf=state["main.0.weight"].shape[1] // 8)
    net.load_state_dict(state)
    return net


@pytest.mark.slow
def test_a_z_space_dcgan_runs_the_whole_pipeline():
    gen = ZSpaceGenerator(_dcgan(), z_dim=100)
    assert (gen.num_ws, gen.w_dim, gen.resolution) == (1, 100, 64)
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 100, generator=g)
    path = torch.stack([z0 * (1 - a) + z1 * a for a in torch.linspace(0, 1, 5)])
    with torch.no_grad():
        frames = gen.synthesis(path)
    assert frames.shape == (5, 3, 64, 64) and frames.abs().max() <= 1
    times = torch.linspace(0, 1, 5, dtype=torch.float64)
    seq = invert(gen, frames, times, InversionConfig(steps=40, steps_first=100))
    with torch.no_grad():
        start = float(psnr(gen.synthesis(gen.w_avg.expand(5, -1)), frames).mean())  # where inversion starts
    assert seq.latents.shape == (5, 1, 100) and float(seq.psnr.mean()) > start + 3
    traj = fit(seq, FitConfig(iters=30, subspace_dim=3))
    pixels = render_pixels(gen, traj.evaluate(torch.linspace(0, 1, 9)))
    assert pixels.shape == (9, 64, 64, 3)
    with torch.no_grad():  # the exact path passes through the inverted codes
        torch.testing.assert_close(gen.synthesis(traj.evaluate(times)), gen.synthesis(seq.latents), atol=1e-3, rtol=0)


def test_a_module_that_does_not_make_images_is_refused():
    with pytest.raises(InputError, match=r"\(B, 3, R, R\)"):
        ZSpaceGenerator(torch.nn.Linear(8, 8), z_dim=8, conv_input=False)


def test_a_saved_z_space_generator_reloads_from_the_artifacts(tmp_path):
    from dynode.generators import load_generator, save_zspace
    from dynode.io.images import to_uint8
    from dynode.pipelines import VideoPipeline
    from dynode.types import Frames
    net = _dcgan()
    kwargs = {"ngpu": 0, "nc": 3, "nz": 100, "ngf": net.main[0].weight.shape[1] // 8}
    folder = save_zspace(tmp_path / "dcgan", ZSpaceGenerator(net, 100), "gan_face_generate.models:Generator", kwargs)
    gen = load_generator(str(folder))
    assert (gen.num_ws, gen.w_dim, gen.resolution) == (1, 100, 64) and len(gen.record.id) == 16
    z = torch.randn(4, 1, 100, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        frames = Frames(to_uint8(gen.synthesis(z)), torch.arange(4, dtype=torch.float64) / 4, 4.0)
    pipe = VideoPipeline.from_frames(frames, gen, InversionConfig(steps=5, steps_first=10), fit=FitConfig(iters=5,
                                                                                                         subspace_dim=2))
    save_trajectory(tmp_path / "t.safetensors", pipe.trajectory)
    again = VideoPipeline.from_artifacts(tmp_path / "t.safetensors")  # no generator passed: reloaded by its record
    assert isinstance(again.generator, ZSpaceGenerator) and again.generator.record.id == gen.record.id
    latent = dict(factor=2, fidelity="latent")  # frames given in memory: no source video to carry detail from
    torch.testing.assert_close(again.interpolate(**latent).numpy(), pipe.interpolate(**latent).numpy(), atol=1, rtol=0)


def test_a_z_space_factory_must_be_an_installed_module_class(tmp_path):
    from dynode.generators import save_zspace
    gen = ZSpaceGenerator(_dcgan(), 100)
    for factory, msg in (("os:system", "not an nn.Module class"), ("no_such_package.x:Net", "cannot be imported"),
                         ("Generator", "package.module:Class")):
        with pytest.raises(InputError, match=msg):
            save_zspace(tmp_path / "x", gen, factory, {})
    assert not (tmp_path / "x").exists()
