import dataclasses
import math

import numpy as np
import pytest
import torch

from dynode.config import FitConfig, SolverConfig
from dynode.dynamics import fit
from dynode.edit import (Direction, Edit, Schedule, add_to_every, carry, get_direction, motion_component, parse_layers,
                         read_directions, save_directions, scale_motion)
from dynode.edit.directions import EDITABLE, sample_w
from dynode.edit.find import ganspace, interfacegan, sefa, style_weights, user_direction
from dynode.errors import CheckpointError, InputError
from dynode.generators import generator_id, load_generator
from dynode.types import GeneratorRecord, LatentSequence


@pytest.fixture(scope="module")
def traj():
    """A fitted 2-D subspace trajectory of 4x8 codes: a loop in the first two coordinates of layer 0."""
    t = torch.linspace(0, 2, 9, dtype=torch.float64)
    ang = math.pi * t
    lat = torch.zeros(9, 4, 8)
    lat[:, 0, 0], lat[:, 0, 1] = torch.cos(ang).float(), 0.5 * torch.sin(ang).float()
    seq = LatentSequence(t, lat, torch.zeros(9), torch.zeros(9), GeneratorRecord("x"))
    return fit(seq, FitConfig(subspace_dim=2, iters=60))


def test_directions_are_unit_and_conditioning_projects_out():
    a = Direction("a", torch.tensor([3.0, 4.0, 0.0]), sigma=2.0)
    b = Direction("b", torch.tensor([1.0, 0.0, 0.0]))
    c = Direction("c", torch.tensor([0.0, 1.0, 1.0]))
    assert math.isclose(float(a.vector.norm()), 1.0, rel_tol=1e-6)
    ab = a.conditioned([b])
    assert abs(float(ab.vector @ b.vector)) < 1e-6 and math.isclose(float(ab.vector.norm()), 1.0, rel_tol=1e-6)
    assert ab.sigma == 2.0 and ab.info["conditioned_on"] == ["b"]
    abc = a.conditioned([b, c])
    assert abs(float(abc.vector @ b.vector)) < 1e-6 and abs(float(abc.vector @ c.vector)) < 1e-6
    with pytest.raises(InputError, match="lies in the span"):
        b.conditioned([b])
    with pytest.raises(InputError, match="non-zero"):
        Direction("z", torch.zeros(3))
    torch.testing.assert_close(a.offset(2.0, 2), torch.tensor([[2.4, 3.2, 0.0]] * 2))
    assert a.on_layers((1,)).offset(1.0, 2)[0].abs().sum() == 0
    with pytest.raises(InputError, match="out of range"):
        a.on_layers((5,)).offset(1.0, 2)


def test_layer_specs():
    assert parse_layers("coarse", 10) == (0, 1, 2, 3)
    assert parse_layers("middle", 10) == (4, 5, 6, 7)
    assert parse_layers("fine", 10) == (8, 9)
    assert parse_layers("0-2,9", 10) == (0, 1, 2, 9) and parse_layers("all", 10) is None
    for bad, msg in (("fine", "no layer"), ("3-12", "outside"), ("top", "not a layer")):
        with pytest.raises(InputError, match=msg):
            parse_layers(bad, 6 if bad == "fine" else 10)


def test_sefa_returns_the_top_eigenvectors_of_the_modulation_weights(tiny_gen):
    # Independently: every synthesis convolution's modulation weight, equalised-lr scale applied.
    mods = [m for name, m in tiny_gen.named_modules() if name.endswith("conv.modulation") and "to_rgb" not in name]
    a = torch.cat([m.weight * m.scale for m in mods])
    values, vectors = torch.linalg.eigh(a.T @ a)
    found = sefa(tiny_gen, count=3, samples=200)
    for k, d in enumerate(found):
        assert abs(float(d.vector @ vectors[:, -1 - k])) > 1 - 1e-4
        assert d.info["eigenvalue"] == pytest.approx(float(values[-1 - k]), rel=1e-4)
    assert found[0].info["eigenvalue"] >= found[1].info["eigenvalue"] >= found[2].info["eigenvalue"]
    # On some layers only, the weights of those layers' convolutions alone.
    assert style_weights(tiny_gen, (0,)).shape == (mods[0].weight.shape[0], tiny_gen.w_dim)
    with pytest.raises(InputError, match="no convolution"):
        sefa(tiny_gen, layers=(tiny_gen.num_ws - 1,))


def test_ganspace_and_user_directions_measure_their_spread(tiny_gen):
    found = ganspace(tiny_gen, count=2, samples=500)
    w = sample_w(tiny_gen, 500)
    assert found[0].sigma == pytest.approx(float((w @ found[0].vector).std()), rel=1e-3)
    assert found[0].sigma >= found[1].sigma and abs(float(found[0].vector @ found[1].vector)) < 1e-5
    user = user_direction("u", torch.ones(tiny_gen.w_dim), tiny_gen, samples=500)
    assert user.method == "user" and user.sigma == pytest.approx(float((w @ user.vector).std()), rel=1e-3)
    with pytest.raises(InputError, match="has shape"):
        user_direction("u", torch.ones(3), tiny_gen)
    # A user's vector named as a library colour edit is held as a colour in the default mode; others are shapes.
    named = {n: user_direction(n, torch.ones(tiny_gen.w_dim), tiny_gen, samples=100).appearance
             for n in ("hair_color", "skin", "smile", "u")}
    assert named == {"hair_color": True, "skin": True, "smile": False, "u": False}


def test_interfacegan_labels_samples_with_the_probe(tiny_gen):
    from dynode.metrics.attributes import load_regressor
    found = interfacegan(tiny_gen, load_regressor(), n=40, names=["smile", "skin"])
    assert [d.name for d in found] == ["smile", "skin"] and found[1].attribute == "skin"
    assert all(math.isclose(float(d.vector.norm()), 1.0, rel_tol=1e-5) and d.info["boundary_accuracy"] >= 0.75
               for d in found)


def test_direction_files_keep_metadata_and_refuse_the_wrong_generator_or_size(tmp_path, tiny_folder):
    gid = generator_id(str(tiny_folder))
    d1 = Direction("up", torch.ones(16), 0.5, (1, 2), "sefa", None, gid, {"eigenvalue": 3.0})
    d2 = Direction("plus", torch.ones(6, 16), 1.0, None, "user", "smile", gid)
    save_directions(tmp_path / "two.safetensors", [d1, d2])
    back = read_directions(tmp_path / "two.safetensors")
    assert back["up"].layers == (1, 2) and back["up"].info == {"eigenvalue": 3.0} and back["plus"].attribute == "smile"
    gen = load_generator(str(tiny_folder))
    got = get_direction(f"{tmp_path / 'two.safetensors'}:plus", gen)
    torch.testing.assert_close(got.vector, d2.vector)
    with pytest.raises(InputError, match="name one"):
        get_direction(str(tmp_path / "two.safetensors"), gen)
    save_directions(tmp_path / "other.safetensors", [Direction("up", torch.ones(16), generator_id="0123456789abcdef")])
    with pytest.raises(InputError, match="made for generator 0123456789abcdef"):
        get_direction(str(tmp_path / "other.safetensors"), gen)
    np.save(tmp_path / "bad.npy", np.ones(5, np.float32))
    with pytest.raises(InputError, match=r"has shape \(5,\)"):
        get_direction(str(tmp_path / "bad.npy"), gen)
    with pytest.raises(InputError, match="unknown direction"):
        get_direction("smile", gen)
    assert get_direction(str(tmp_path / "dir.npy"), gen).vector.shape == (16,)
    save_directions(tmp_path / "deep.safetensors", [Direction("deep", torch.ones(16), layers=(7,))])
    with pytest.raises(InputError, match="layers"):
        get_direction(str(tmp_path / "deep.safetensors"), gen)  # the tiny generator has 6 layers


def test_old_direction_files_are_refused_with_advice(tmp_path):
    from dynode.io.checkpoints import save_artifact
    save_artifact(tmp_path / "old.safetensors", "directions", {"smile": torch.ones(4)}, {"samples": 10})
    with pytest.raises(CheckpointError, match="older dynode"):
        read_directions(tmp_path / "old.safetensors")


def test_bundled_library_has_every_method():
    from dynode.edit import load_library
    found = load_library("toyfaces64")
    assert {"smile", "glasses", "hair_color", "interfacegan_smile", "sefa0", "ganspace0"} <= set(found)
    assert {d.method for d in found.values()} == {"learned", "interfacegan", "sefa", "ganspace"}
    # Every named edit is learned, calibrated so that strength 1 moves its attribute by about a tenth.
    named = [d for d in found.values() if d.method == "learned"]
    assert {d.name for d in named} == set(EDITABLE) and all(0.09 <= d.info["unit_change"] <= 0.11 for d in named)
    assert {d.generator_id for d in found.values()} == {generator_id("toyfaces64")}


def test_zero_strength_reproduces_the_unedited_video_exactly(traj):
    t = torch.linspace(0, 2, 17)
    d = Direction("d", torch.ones(8))
    plain = traj.evaluate(t)
    for propagate in (carry, add_to_every):
        assert torch.equal(propagate(traj, t, [Edit(d, 0.0)]), plain)
    tiny = carry(traj, t, [Edit(d, 1e-5)])
    assert 0 < (tiny - plain).abs().max() < 1e-4
    torch.testing.assert_close(carry(traj, t, [Edit(d, 0.0)], path="initial"), traj.evaluate(t, path="initial"))


def test_first_frame_edit_starts_at_the_edit_and_carries_it(traj):
    t = torch.linspace(0, 2, 9)
    inside = Direction("in", torch.tensor([1.0, 1.0, 0, 0, 0, 0, 0, 0]), layers=(0,))  # in the motion plane
    outside = Direction("out", torch.ones(8), layers=(3,))  # layer 3 never moves: outside the subspace
    plain = traj.evaluate(t)
    ff = carry(traj, t, [Edit(inside, 0.3)])
    torch.testing.assert_close(ff[0], plain[0] + inside.offset(0.3, 4))
    assert (ff[1:] - plain[1:] - inside.offset(0.3, 4)).abs().max() > 1e-3  # the flow moved it
    # Outside the subspace the flow cannot act: the edit stays constant, as per-frame editing does.
    torch.testing.assert_close(carry(traj, t, [Edit(outside, 2.0)]),
                               add_to_every(traj, t, [Edit(outside, 2.0)]))
    both = add_to_every(traj, t, [Edit(inside, 0.3), Edit(outside, 2.0)])
    torch.testing.assert_close(both, plain + inside.offset(0.3, 4) + outside.offset(2.0, 4))
    with pytest.raises(InputError, match="valid"):
        carry(traj, t, [Edit(inside, 1.0)], "last-frame")  # an unknown path


def test_first_frame_on_the_initial_path_is_the_papers_single_solve(traj):
    traj = dataclasses.replace(traj, solver=SolverConfig(rtol=1e-7, atol=1e-9))  # equal up to solver error
    t = torch.linspace(0, 2, 9)
    d = Direction("in", torch.tensor([1.0, 1.0, 0, 0, 0, 0, 0, 0]), layers=(0,))
    paper = traj.evaluate(t, start=traj.w0 + d.offset(0.3, 4))
    torch.testing.assert_close(carry(traj, t, [Edit(d, 0.3)], path="initial"), paper, atol=1e-5, rtol=0)
    assert (carry(traj, t, [Edit(d, 0.3)]) - paper).abs().max() > 1e-3  # the exact path differs


def test_schedules_fade_edits(traj):
    s = Schedule.parse("0:0,1:1,1.5:1,2:0")
    torch.testing.assert_close(s([-1, 0, 0.5, 1.2, 1.75, 3]), torch.tensor([0, 0, 0.5, 1, 0.5, 0]))
    for bad in ("0:0,0:1", "0-1", "1:0,0:1"):
        with pytest.raises(InputError, match="schedule"):
            Schedule.parse(bad)
    t = torch.linspace(0, 2, 9)
    d = Direction("d", torch.ones(8), layers=(3,))
    faded = add_to_every(traj, t, [Edit(d, 2.0, s)])
    plain = traj.evaluate(t)
    torch.testing.assert_close(faded[0], plain[0])
    torch.testing.assert_close(faded[4], plain[4] + d.offset(2.0, 4))
    torch.testing.assert_close(faded[2], plain[2] + 0.5 * d.offset(2.0, 4))
    ff = carry(traj, t, [Edit(d, 2.0, s)])
    torch.testing.assert_close(ff[0], plain[0])
    torch.testing.assert_close(ff[4], plain[4] + d.offset(2.0, 4))
    on_initial = carry(traj, t, [Edit(d, 2.0, s)], path="initial")  # schedules hold on either path
    torch.testing.assert_close(on_initial[0], traj.evaluate(t[:1], path="initial")[0])


def test_motion_gain_scales_the_path_along_a_component(traj):
    t = torch.linspace(0, 2, 13)
    v = motion_component(traj, "pc0")
    z = traj.encode(traj.evaluate(t))
    center = traj.encode(traj.observed).mean(0)
    for gain in (1.0, 2.0, 0.5):
        u = traj.encode(scale_motion(traj, v, gain).evaluate(t))
        expect = z + (gain - 1) * ((z - center) @ v)[:, None] * v
        torch.testing.assert_close(u, expect, atol=2e-3, rtol=0)
    doubled = scale_motion(traj, v, 2.0)
    assert float(((traj.encode(doubled.evaluate(t)) - center) @ v).abs().max()) > \
        1.8 * float(((z - center) @ v).abs().max())
    with pytest.raises(InputError, match="gain must be > 0"):
        scale_motion(traj, v, 0.0)
    with pytest.raises(InputError, match="components pc0..pc1"):
        motion_component(traj, "pc5")
    with pytest.raises(InputError, match="outside the coordinates"):
        motion_component(traj, Direction("out", torch.ones(8), layers=(3,)))


def test_auto_condition_projects_the_library_directions_of_other_attributes_out(tiny_gen):
    from dynode.config import EditSpec
    from dynode.pipelines import Models, VideoPipeline
    rng = torch.Generator().manual_seed(3)
    library = {name: Direction(name, torch.randn(16, generator=rng), attribute=attribute)
               for name, attribute in (("tan", "skin"), ("grin", "smile"), ("shade", "skin"), ("pc", None))}
    seq = LatentSequence(torch.tensor([0.0, 1.0]), torch.zeros(2, tiny_gen.num_ws, 16), torch.zeros(2), torch.zeros(2),
                         tiny_gen.record)
    pipe = VideoPipeline(Models(tiny_gen, directions=library), seq)
    plain, kept = (pipe.make_edits(EditSpec(("tan",), auto_condition=auto))[0].direction for auto in (False, True))
    # Only the other attribute's direction is projected out: not the same attribute's, not an unlabelled one.
    assert kept.info["conditioned_on"] == ["grin"] and "conditioned_on" not in plain.info
    assert abs(float(kept.vector @ library["grin"].vector)) < 1e-5 < abs(float(plain.vector @ library["grin"].vector))


@pytest.mark.slow
def test_a_learned_direction_moves_its_attribute_by_the_calibrated_amount_both_ways(tmp_path):
    from dynode.config.training import LearnConfig
    from dynode.edit import add_to_library
    from dynode.edit.learn import learn_direction
    from dynode.metrics.attributes import ATTRIBUTES, load_regressor, read_attributes
    probe, gen = load_regressor(), load_generator("toyfaces64")
    d = learn_direction(gen, probe, "hair_color", config=LearnConfig(steps=20, pool=32, samples=8, toy=0))
    assert d.method == "learned" and d.attribute == "hair_lightness" and d.appearance
    assert d.vector.shape == (gen.num_ws, gen.w_dim)
    w = sample_w(gen, 64, seed=5)[:, None].repeat(1, gen.num_ws, 1)  # codes it never saw
    k = ATTRIBUTES.index("hair_lightness")
    with torch.no_grad():
        read = lambda s: read_attributes(probe, gen.synthesis(w + d.offset(s, gen.num_ws)))  # noqa: E731
        base, up, down = read(0.0), read(1.0), read(-1.0)
    assert 0.06 < float((up - base)[:, k].mean()) < 0.15  # strength 1: a tenth of the attribute's range
    others = [i for i in range(len(ATTRIBUTES)) if i != k]
    assert float((up - base)[:, others].abs().mean()) < 0.03  # and the other attributes stay
    assert float((down - base)[:, k].mean()) < -0.03  # a negative strength moves it the other way
    # Learned into a library that had an entry of the same name: the old one stays under its method.
    add_to_library(tmp_path / "lib.safetensors", [Direction("hair_color", torch.ones(128), method="interfacegan")])
    add_to_library(tmp_path / "lib.safetensors", [d])
    assert {n: v.method for n, v in read_directions(tmp_path / "lib.safetensors").items()} == \
        {"hair_color": "learned", "interfacegan_hair_color": "interfacegan"}


def test_a_w_direction_conditioned_on_a_w_plus_one_keeps_its_offsets_outside_it():
    w = Direction("w", torch.tensor([1.0, 0.0, 0.0]), sigma=2.0)
    plus = Direction("plus", torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    lifted = w.conditioned([plus])
    assert lifted.vector.shape == (2, 3)  # W+ now
    torch.testing.assert_close(lifted.offset(1.5, 2), w.offset(1.5, 2))  # nothing of it lay along the other
    mixed = Direction("mixed", torch.tensor([1.0, 1.0, 0.0])).conditioned([plus])
    assert abs(float((mixed.vector * plus.vector).sum())) < 1e-6


def test_every_edit_mode_is_one_object_of_the_registry():
    from dynode.config import EDIT_MODES
    from dynode.edit.modes import MODES
    assert tuple(MODES) == EDIT_MODES and all(mode.name == name for name, mode in MODES.items())
    assert len({type(mode) for mode in MODES.values()}) == len(EDIT_MODES)
