import math

import pytest
import torch

from dynode.config import FitConfig, SolverConfig
from dynode.dynamics import fit, load_trajectory, make_field, sample_future, save_trajectory
from dynode.errors import FitError, InputError
from dynode.types import GeneratorRecord, LatentSequence


def _seq(latents, times):
    T = len(times)
    return LatentSequence(torch.as_tensor(times, dtype=torch.float64), latents, torch.zeros(T), torch.zeros(T), GeneratorRecord("x"))


def _circle(times, freq=0.25):
    ang = 2 * math.pi * freq * torch.as_tensor(times, dtype=torch.float64)
    lat = torch.zeros(len(ang), 2, 4)
    lat[:, 0, 0], lat[:, 0, 1] = torch.cos(ang).float(), torch.sin(ang).float()
    return lat


@pytest.mark.parametrize("field", ["mlp", "mlp_t", "paper", "augmented", "second_order"])
def test_fields_pass_float64_gradcheck(field):
    torch.manual_seed(0)
    f = make_field(field, 3, 8, path=(torch.linspace(0, 1, 4), torch.randn(4, 3))).double()
    z = torch.randn(2, 3 + f.extra, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(0.3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: f(t, z), (z,))


def _there_and_back(times):
    """A 1-D motion out and back (a head that turns and turns back): each point passed twice, in both directions."""
    x = torch.sin(math.pi * torch.as_tensor(times, dtype=torch.float64) / 2)
    lat = torch.zeros(len(x), 2, 4)
    lat[:, 0, 0] = x.float()
    return lat


def test_only_a_field_with_more_state_than_the_coordinates_turns_back():
    t = torch.linspace(0, 2, 17, dtype=torch.float64)
    query = torch.linspace(0.05, 1.95, 20)
    error = {}
    # mlp cannot turn back however long it trains (0.66 after 100 iterations, 0.67 after 300)
    for field, iters in (("mlp", 100), ("second_order", 300), ("augmented", 300)):
        traj = fit(_seq(_there_and_back(t), t), FitConfig(field=field, subspace_dim=1, iters=iters))
        error[field] = float((traj.evaluate(query, path="initial") - _there_and_back(query)).abs().max())
    # One solve from the first code: a first-order autonomous field in 1-D cannot come back.
    assert error["mlp"] > 0.3 and error["second_order"] < 0.02 and error["augmented"] < 0.1, error


@pytest.mark.parametrize("field", ["second_order", "augmented"])
def test_fields_with_more_state_extrapolate_sample_futures_round_trip_and_scale_motion(field, tmp_path):
    from dynode.edit import scale_motion
    t = torch.tensor(IRREGULAR, dtype=torch.float64)
    traj = fit(_seq(_wavy(t), t), FitConfig(field=field, subspace_dim=3, iters=60))
    future = traj.evaluate([3.5, 3.8])
    torch.testing.assert_close(future[0], _wavy(t)[-1], atol=1e-5, rtol=0)
    assert sample_future(traj, [3.6, 4.0], samples=5).shape == (5, 2, 2, 4)
    save_trajectory(tmp_path / "t.safetensors", traj)
    query = [0.2, 1.7, 3.2, 3.9]
    torch.testing.assert_close(load_trajectory(tmp_path / "t.safetensors").evaluate(query), traj.evaluate(query))
    component = torch.tensor([1.0, 0.0, 0.0])
    moved = scale_motion(traj, component, 2.0)
    torch.testing.assert_close(moved.evaluate(t), moved.observed, atol=1e-4, rtol=0)  # through the moved codes
    # One solve of each: the moved path is the old one with its excursions along pc0 doubled, the rest the same.
    z, u = traj.encode(traj.evaluate(query, path="initial")), moved.encode(moved.evaluate(query, path="initial"))
    c = traj.encode(traj.observed).mean(0)
    torch.testing.assert_close(u[:, 1:], z[:, 1:], atol=1e-3, rtol=0)
    torch.testing.assert_close(u[:, 0] - c[0], 2 * (z[:, 0] - c[0]), atol=1e-3, rtol=0)


def test_unknown_field_lists_valid_names():
    with pytest.raises(InputError, match="unknown vector field 'nope'; valid:"):
        make_field("nope", 3, 8)


def test_recovers_a_linear_path_and_extrapolates_it():
    t = torch.linspace(0, 2, 9)
    lat = torch.zeros(9, 2, 4)
    lat[:, :, 0] = (0.5 + 1.5 * t)[:, None]
    lat[:, :, 2] = (-1.0 * t)[:, None]
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    traj = fit(_seq(lat, t), FitConfig(subspace_dim=2, iters=400, lr=3e-3))
    # a library call leaves torch's global state as it found it: its random generator and thread count
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == threads
    query = torch.tensor([0.25, 1.1, 2.5])
    truth = torch.zeros(3, 2, 4)
    truth[:, :, 0] = (0.5 + 1.5 * query)[:, None]
    truth[:, :, 2] = (-1.0 * query)[:, None]
    assert (traj.evaluate(query) - truth).abs().max() < 0.05


def test_recovers_a_circular_path():
    t = torch.linspace(0, 3, 16)
    traj = fit(_seq(_circle(t), t), FitConfig(subspace_dim=2, iters=300))
    query = torch.tensor([0.1, 1.3, 2.9, 3.5])
    assert (traj.evaluate(query) - _circle(query)).abs().max() < 0.1


def test_paper_field_cannot_match_the_speed_of_a_fast_path():
    t = torch.linspace(0, 1, 8)
    lat = _circle(t, freq=0.5) * 3  # path length ~9.4 normalised units, the unit-speed field travels ~1
    paper = fit(_seq(lat, t), FitConfig(field="paper", subspace_dim=2, iters=150))
    learned = fit(_seq(lat, t), FitConfig(field="mlp", subspace_dim=2, iters=150))
    assert learned.stats.best_loss < 0.1 * paper.stats.best_loss


def test_trajectory_starts_at_w0_runs_backwards_and_round_trips(tmp_path):
    t = torch.linspace(0, 1, 6)
    lat = _circle(t) + 0.01 * torch.randn(6, 2, 4)
    traj = fit(_seq(lat, t), FitConfig(subspace_dim=2, iters=50, solver=SolverConfig(method="rk4")))
    torch.testing.assert_close(traj.evaluate([0.0])[0], lat[0])
    before = traj.evaluate([-0.5, -0.1, 0.0, 0.4])
    assert torch.isfinite(before).all()
    save_trajectory(tmp_path / "t.safetensors", traj)
    again = load_trajectory(tmp_path / "t.safetensors")
    torch.testing.assert_close(again.evaluate([-0.5, -0.1, 0.0, 0.4]), before)
    # Order of the query times does not matter.
    torch.testing.assert_close(traj.evaluate([0.4, -0.1])[0], before[3])


def test_full_space_fit_runs():
    t = torch.linspace(0, 1, 5)
    traj = fit(_seq(_circle(t), t), FitConfig(subspace_dim=0, iters=20))
    assert traj.chart.basis is None and traj.evaluate([0.5]).shape == (1, 2, 4)


def test_edited_start_changes_every_frame():
    t = torch.linspace(0, 1, 6)
    traj = fit(_seq(_circle(t), t), FitConfig(subspace_dim=2, iters=50))
    d = torch.zeros(2, 4)
    d[1, 3] = 1.0
    edited = traj.evaluate(t, start=traj.w0 + d)
    torch.testing.assert_close(edited - traj.evaluate(t, path="initial"), d.expand(6, 2, 4).contiguous())


def test_nan_latents_are_refused():
    t = torch.linspace(0, 1, 5)
    lat = _circle(t)
    lat[3] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        _seq(lat, t)


def test_divergence_during_fitting_is_a_fit_error_with_iteration_and_time():
    t = torch.linspace(0, 1, 5)
    with pytest.raises(FitError, match=r"iteration \d+.*t="):
        fit(_seq(_circle(t) * 100, t), FitConfig(subspace_dim=2, iters=50, lr=1e6, solver=SolverConfig(method="rk4")))


def test_solver_blow_up_is_a_fit_error_naming_the_time():
    class Explode(torch.nn.Module):
        def forward(self, t, z):
            return z**3 * 50

    from dynode.dynamics import solve
    with pytest.raises(FitError, match="tau="):
        solve(Explode(), torch.ones(2) * 3, torch.linspace(0, 1, 5), SolverConfig("rk4", 1e-4, 1e-5, 0.05))


@pytest.mark.parametrize("times", [[0.0, 0.2, 0.1], [0.0, 0.1, 0.1], [0.0, float("nan"), 0.3]])
def test_bad_time_grids_are_named_errors(times):
    with pytest.raises(InputError, match="times"):
        _seq(torch.zeros(3, 2, 4), times)


def _wavy(times):
    """A known curved path in a 3-D subspace of a (2, 4) code, plus a fixed off-subspace offset."""
    t = torch.as_tensor(times, dtype=torch.float64)
    lat = torch.zeros(len(t), 2, 4)
    lat[:, 0, 0] = torch.cos(1.3 * t).float()
    lat[:, 0, 1] = torch.sin(1.3 * t).float()
    lat[:, 1, 2] = (0.4 * t).float()
    return lat


IRREGULAR = [0.0, 0.3, 0.45, 1.0, 1.2, 1.9, 2.0, 2.6, 3.1, 3.5]  # dropped frames, varying rate


@pytest.mark.parametrize("field", ["mlp", "mlp_t", "cde", "second_order", "augmented"])
def test_each_field_and_mode_recovers_a_known_path_on_an_irregular_grid(field):
    t = torch.tensor(IRREGULAR, dtype=torch.float64)
    traj = fit(_seq(_wavy(t), t), FitConfig(field=field, subspace_dim=3, iters=150))  # 0.03 at worst, second_order
    query = torch.tensor([0.15, 0.7, 1.55, 2.3, 3.3])
    for mode in ("exact", "initial"):
        assert (traj.evaluate(query, path=mode) - _wavy(query)).abs().max() < 0.08, mode


def test_paper_field_recovers_a_known_path_in_exact_mode():
    t = torch.tensor(IRREGULAR, dtype=torch.float64)
    traj = fit(_seq(_wavy(t), t), FitConfig(field="paper", subspace_dim=3, iters=200))
    query = torch.tensor([0.15, 0.7, 1.55, 2.3, 3.3])
    # Its fixed speed cannot follow the path; exact mode still pins it to the observations.
    assert (traj.evaluate(query) - _wavy(query)).abs().max() < 0.12


@pytest.mark.parametrize("field", ["mlp", "cde", "second_order", "augmented"])
def test_exact_mode_reproduces_every_observed_code(field):
    t = torch.tensor(IRREGULAR, dtype=torch.float64)
    lat = _wavy(t) + 0.05 * torch.randn(len(t), 2, 4)  # noise outside the 2-D subspace too
    traj = fit(_seq(lat, t), FitConfig(field=field, subspace_dim=2, iters=30))
    assert (traj.evaluate(t) - lat).abs().max() < 1e-4
    # ... and is continuous on both sides of an observation.
    eps = 1e-4
    around = traj.evaluate([1.0 - eps, 1.0 + eps])
    assert (around - lat[3]).abs().max() < 1e-2


def test_exact_mode_refuses_a_start_and_unknown_modes_are_named():
    t = torch.linspace(0, 1, 5)
    traj = fit(_seq(_circle(t), t), FitConfig(subspace_dim=2, iters=5))
    with pytest.raises(InputError, match="exact"):
        traj.evaluate(t, start=traj.w0, path="exact")
    with pytest.raises(InputError, match="valid paths"):
        traj.evaluate(t, path="spline")
    with pytest.raises(InputError, match="finite"):
        traj.evaluate([0.1, float("nan")])


def test_extrapolation_starts_from_the_last_observed_code():
    t = torch.linspace(0, 2, 9)
    lat = _wavy(t)
    traj = fit(_seq(lat, t), FitConfig(subspace_dim=3, iters=300))
    future = traj.evaluate([2.0, 2.25])
    torch.testing.assert_close(future[0], lat[-1], atol=1e-5, rtol=0)
    assert (future[1] - _wavy(torch.tensor([2.25]))[0]).abs().max() < 0.08


def test_sde_futures_are_seeded_and_spread_with_the_horizon():
    t = torch.linspace(0, 2, 11)
    lat = _wavy(t) + 0.02 * torch.randn(11, 2, 4)
    traj = fit(_seq(lat, t), FitConfig(subspace_dim=3, iters=100))
    assert traj.diffusion.shape == (3,) and (traj.diffusion > 0).all()
    query = torch.tensor([2.1, 2.5, 3.0, 4.0])
    a = sample_future(traj, query, samples=64, seed=3)
    assert a.shape == (64, 4, 2, 4)
    torch.testing.assert_close(a, sample_future(traj, query, samples=64, seed=3))
    assert not torch.allclose(a, sample_future(traj, query, samples=64, seed=4))
    spread = a.std(0).mean((1, 2))
    assert (spread[1:] > spread[:-1]).all()
    with pytest.raises(InputError, match="last observed time"):
        sample_future(traj, [1.5], samples=2)


def test_cde_holds_still_past_the_observations_and_round_trips(tmp_path):
    t = torch.tensor(IRREGULAR, dtype=torch.float64)
    traj = fit(_seq(_wavy(t), t), FitConfig(field="cde", subspace_dim=3, iters=50))
    future = traj.evaluate([3.5, 4.0, 5.0])
    torch.testing.assert_close(future[1:], future[:1].expand(2, 2, 4), atol=1e-5, rtol=0)
    save_trajectory(tmp_path / "cde.safetensors", traj)
    query = [0.2, 1.7, 3.2]
    torch.testing.assert_close(load_trajectory(tmp_path / "cde.safetensors").evaluate(query), traj.evaluate(query))


def test_holdout_selects_on_held_out_frames_and_stops_early():
    t = torch.linspace(0, 3, 16)
    cfg = FitConfig(subspace_dim=2, iters=2000, holdout=0.25, patience=2)
    traj = fit(_seq(_circle(t), t), cfg)
    assert traj.stats.selected_by == "heldout" and traj.stats.iterations < 2000
    assert (traj.evaluate(t) - _circle(t)).abs().max() < 1e-4  # held-out frames are still observations
    with pytest.raises(InputError, match="holdout"):
        fit(_seq(_circle(t[:4]), t[:4]), FitConfig(holdout=0.1))


@pytest.mark.parametrize("name", ["mlp_t", "second_order"])
def test_adjoint_gradients_match_direct_backpropagation(name):
    from dynode.dynamics.fit import _windows_loss
    t = torch.linspace(0, 1, 6)
    z = torch.randn(6, 3)
    field = make_field(name, 3, 16, path=(t, z))
    grads = []
    for adjoint in (False, True):
        cfg = FitConfig(adjoint=adjoint, solver=SolverConfig(rtol=1e-7, atol=1e-8))
        field.zero_grad()
        _windows_loss(field, z, t, t.double(), torch.tensor([0, 2]), 4, cfg, 0)[0].backward()
        grads.append(torch.cat([p.grad.flatten() for p in field.parameters()]))
    torch.testing.assert_close(grads[0], grads[1], atol=1e-4, rtol=1e-3)


def test_image_loss_renders_predictions_and_needs_the_frames(tiny_gen):
    t = torch.linspace(0, 1, 6)
    w = tiny_gen.mapping(torch.randn(2, 16, generator=torch.Generator().manual_seed(0)))
    a = t[:, None, None]
    lat = (w[0] * (1 - a) + w[1] * a).expand(6, tiny_gen.num_ws, 16).contiguous()
    frames = tiny_gen.synthesis(lat)
    seq = LatentSequence(t.double(), lat, torch.zeros(6), torch.zeros(6), GeneratorRecord("tiny"))
    cfg = FitConfig(subspace_dim=3, iters=10, image_weight=1.0, image_frames=2)
    plain = fit(seq, FitConfig(subspace_dim=3, iters=10))
    with_image = fit(seq, cfg, generator=tiny_gen, frames=frames)
    # Same seed and windows: the image term changes the gradients, so the fitted fields differ.
    assert not torch.allclose(plain.field.net[0].weight, with_image.field.net[0].weight)
    assert (with_image.evaluate(t) - lat).abs().max() < 1e-4
    with pytest.raises(InputError, match="image_weight needs"):
        fit(seq, cfg)
    with pytest.raises(InputError, match="image_weight needs"):
        fit(seq, cfg, generator=tiny_gen, frames=frames[:3])
