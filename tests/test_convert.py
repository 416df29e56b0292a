import pickle

import pytest
import torch
from typer.testing import CliRunner

from conftest import make_tiny
from standins import Persistent, blur_kernels, nvlabs_generator, write_rosinality
from dynode.cli import app
from dynode.errors import CheckpointError
from dynode.generators import load_generator
from dynode.generators.convert import convert_checkpoint


def _source(conv_clamp=None):
    """A tiny generator with every parameter moved off its initial value, so a wrong mapping shows."""
    from dataclasses import replace

    from conftest import TINY
    g = make_tiny(seed=3, config=replace(TINY, conv_clamp=conv_clamp))
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in g.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen))
    return g


def _same_outputs(a, b):
    z = torch.randn(4, a.w_dim, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        torch.testing.assert_close(b.mapping(z), a.mapping(z))
        ws = a.mapping(z)[:, None].repeat(1, a.num_ws, 1) + 0.1 * torch.randn(4, a.num_ws, a.w_dim)
        torch.testing.assert_close(b.synthesis(ws), a.synthesis(ws))
    torch.testing.assert_close(b.w_avg, a.w_avg)


def test_rosinality_checkpoint_converts_to_the_same_generator(tmp_path):
    src = _source()
    write_rosinality(src, tmp_path / "ros.pt")
    model, info = convert_checkpoint(tmp_path / "ros.pt")
    assert info["format"] == "rosinality" and info["resolution"] == 16
    _same_outputs(src, model)
    r = CliRunner().invoke(app, ["convert", str(tmp_path / "ros.pt"), "-o", str(tmp_path / "out"), "--samples", "2"])
    assert r.exit_code == 0, r.output
    _same_outputs(src, load_generator(str(tmp_path / "out")))
    assert (tmp_path / "out" / "samples.png").is_file()


class _Gadget:
    pass


def test_rosinality_loader_refuses_foreign_classes_and_odd_files(tmp_path):
    torch.save({"g_ema": {}, "gadget": _Gadget()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"refused: the checkpoint asks to import [\w.]*_Gadget;") as refused:
        convert_checkpoint(tmp_path / "evil.pt")
    assert "weights_only" not in str(refused.value) and "trust" not in str(refused.value)  # no advice to unsafe-load
    for junk in (b"not a checkpoint", b"junk\n"):  # torch fails on these with different exception types
        (tmp_path / "junk.pt").write_bytes(junk)
        with pytest.raises(CheckpointError, match="unreadable as the checkpoint"):
            convert_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no 'g_ema'"):
        convert_checkpoint(tmp_path / "other.pt")
    (tmp_path / "x.onnx").write_bytes(b"0")
    with pytest.raises(CheckpointError, match="unknown checkpoint format"):
        convert_checkpoint(tmp_path / "x.onnx")
    bad = make_tiny().state_dict() | blur_kernels(make_tiny())
    bad["convs.0.conv.blur.kernel"] = torch.ones(4, 4)
    torch.save({"g_ema": bad}, tmp_path / "blur.pt")
    with pytest.raises(CheckpointError, match="blur kernel"):
        convert_checkpoint(tmp_path / "blur.pt")


def test_nvlabs_pickle_converts_without_running_its_code(tmp_path, nvlabs_modules):
    src = _source()
    _, util = nvlabs_modules
    data = {"G": nvlabs_generator(make_tiny(seed=8)), "D": Persistent("Discriminator"), "G_ema": nvlabs_generator(src),
            "augment_pipe": None, "training_set_kwargs": util.EasyDict(resolution=16, path="faces.zip")}
    (tmp_path / "net.pkl").write_bytes(pickle.dumps(data))
    model, info = convert_checkpoint(tmp_path / "net.pkl")
    assert info["format"] == "nvlabs" and info["init_kwargs"]["img_resolution"] == 16
    _same_outputs(src, model)


def test_nvlabs_loader_refuses_any_other_import(tmp_path, nvlabs_modules):
    class Evil:
        def __reduce__(self):
            import os
            return os.system, ("echo owned",)

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G_ema": Evil()}))
    with pytest.raises(CheckpointError, match=r"refused: the checkpoint asks to import (os|posix)\.system"):
        convert_checkpoint(tmp_path / "evil.pkl")
    r = CliRunner().invoke(app, ["convert", str(tmp_path / "evil.pkl"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 2 and "refused" in r.output and not (tmp_path / "out").exists()
    (tmp_path / "none.pkl").write_bytes(pickle.dumps({"G": 1}))
    with pytest.raises(CheckpointError, match="no 'G_ema'"):
        convert_checkpoint(tmp_path / "none.pkl")


def test_nvlabs_layer_state_numpy_gains_clamp_and_lr_multiplier(tmp_path, nvlabs_modules):
    from dataclasses import replace

    import numpy as np
    src = _source(conv_clamp=0.6)  # small enough to bite on this tiny generator
    (tmp_path / "clamped.pkl").write_bytes(pickle.dumps({"G_ema": nvlabs_generator(src)}))
    model, info = convert_checkpoint(tmp_path / "clamped.pkl")
    assert model.config.conv_clamp == 0.6 and info["conv_clamp"] == 0.6
    _same_outputs(src, model)
    unclamped = make_tiny(seed=3, config=replace(src.config, conv_clamp=None))
    unclamped.load_state_dict(src.state_dict())
    ws = src.mapping(torch.randn(2, src.w_dim, generator=torch.Generator().manual_seed(1)))[:, None].repeat(
        1, src.num_ws, 1)
    with torch.no_grad():
        assert (unclamped.synthesis(ws) - model.synthesis(ws)).abs().max() > 1e-3  # the clamp changed the picture
    lr = replace(src.config, conv_clamp=None, lr_mlp=0.03)
    other = make_tiny(seed=4, config=lr)  # no mapping_kwargs: the multiplier is read off fc0's weight_gain
    (tmp_path / "lr.pkl").write_bytes(pickle.dumps({"G_ema": nvlabs_generator(other, mapping_kwargs=False)}))
    model, _ = convert_checkpoint(tmp_path / "lr.pkl")
    assert model.config.lr_mlp == pytest.approx(0.03) and model.config.conv_clamp is None
    _same_outputs(other, model)
    mixed = nvlabs_generator(_source(conv_clamp=256.0))
    mixed.meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["b4"].meta["state"]["_modules"][
        "conv1"].meta["state"]["conv_clamp"] = None
    (tmp_path / "mixed.pkl").write_bytes(pickle.dumps({"G_ema": mixed}))
    with pytest.raises(CheckpointError, match="clamp activations differently"):
        convert_checkpoint(tmp_path / "mixed.pkl")
    for evil in (np.array(["x"], dtype=object)[0:1], np.str_("x")):  # numpy values other than numbers
        (tmp_path / "np.pkl").write_bytes(pickle.dumps({"G_ema": evil}))
        with pytest.raises(CheckpointError, match="refused"):
            convert_checkpoint(tmp_path / "np.pkl")


def test_numpy_scalars_of_both_numpy_generations_are_read(tmp_path):
    import io

    import numpy as np
    from dynode.generators.convert import SafeUnpickler
    data = pickle.dumps({"gain": np.float64(0.25), "n": np.int32(3)}, protocol=3)  # names as text lines
    legacy = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # what numpy 1.x pickles name
    assert legacy != data
    for blob in (data, legacy):
        out = SafeUnpickler(io.BytesIO(blob)).load()
        assert out == {"gain": 0.25, "n": 3} and type(out["gain"]) is float
