import math

import pytest
import torch

from dynode.config import FitConfig
from dynode.dynamics import Trajectory, fit, make_field
from dynode.errors import FitError, InputError
from dynode.types import LatentSequence


def _seq(latents, times):
    T = len(times)
    return LatentSequence(torch.as_tensor(times, dtype=torch.float64), latents, torch.zeros(T), torch.zeros(T), "x")


def _circle(times, freq=0.25):
    ang = 2 * math.pi * freq * torch.as_tensor(times, dtype=torch.float64)
    lat = torch.zeros(len(ang), 2, 4)
    lat[:, 0, 0], lat[:, 0, 1] = torch.cos(ang).float(), torch.sin(ang).float()
    return lat


@pytest.mark.parametrize("field", ["mlp", "mlp_t", "paper"])
def test_fields_pass_float64_gradcheck(field):
    torch.manual_seed(0)
    f = make_field(field, 3, 8).double()
    z = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(0.3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: f(t, z), (z,))


def test_unknown_field_lists_valid_names():
    with pytest.raises(InputError, match="valid fields are"):
        make_field("nope", 3, 8)


def test_recovers_a_linear_path_and_extrapolates_it():
    t = torch.linspace(0, 2, 9)
    lat = torch.zeros(9, 2, 4)
    lat[:, :, 0] = (0.5 + 1.5 * t)[:, None]
    lat[:, :, 2] = (-1.0 * t)[:, None]
    traj = fit(_seq(lat, t), FitConfig(subspace_dim=2, iters=400, lr=3e-3))
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
    assert learned.stats["full_loss"] < 0.1 * paper.stats["full_loss"]


def test_trajectory_starts_at_w0_runs_backwards_and_round_trips(tmp_path):
    t = torch.linspace(0, 1, 6)
    lat = _circle(t) + 0.01 * torch.randn(6, 2, 4)
    traj = fit(_seq(lat, t), FitConfig(subspace_dim=2, iters=50, solver="rk4"))
    torch.testing.assert_close(traj.evaluate([0.0])[0], lat[0])
    before = traj.evaluate([-0.5, -0.1, 0.0, 0.4])
    assert torch.isfinite(before).all()
    traj.save(tmp_path / "t.safetensors")
    again = Trajectory.load(tmp_path / "t.safetensors")
    torch.testing.assert_close(again.evaluate([-0.5, -0.1, 0.0, 0.4]), before)
    # Order of the query times does not matter.
    torch.testing.assert_close(traj.evaluate([0.4, -0.1])[0], before[3])


def test_full_space_fit_runs():
    t = torch.linspace(0, 1, 5)
    traj = fit(_seq(_circle(t), t), FitConfig(subspace_dim=0, iters=20))
    assert traj.basis is None and traj.evaluate([0.5]).shape == (1, 2, 4)


def test_edited_start_changes_every_frame():
    t = torch.linspace(0, 1, 6)
    traj = fit(_seq(_circle(t), t), FitConfig(subspace_dim=2, iters=50))
    d = torch.zeros(2, 4)
    d[1, 3] = 1.0
    edited = traj.evaluate(t, start=traj.w0 + d)
    torch.testing.assert_close(edited - traj.evaluate(t), d.expand(6, 2, 4).contiguous())


def test_nan_latents_are_refused():
    t = torch.linspace(0, 1, 5)
    lat = _circle(t)
    lat[3] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        _seq(lat, t)


def test_divergence_during_fitting_is_a_fit_error_with_iteration_and_time():
    t = torch.linspace(0, 1, 5)
    with pytest.raises(FitError, match=r"iteration \d+.*t="):
        fit(_seq(_circle(t) * 100, t), FitConfig(subspace_dim=2, iters=50, lr=1e6, solver="rk4"))


def test_solver_blow_up_is_a_fit_error_naming_the_time():
    class Explode(torch.nn.Module):
        def forward(self, t, z):
            return z**3 * 50

    from dynode.dynamics import solve
    with pytest.raises(FitError, match="tau="):
        solve(Explode(), torch.ones(2) * 3, torch.linspace(0, 1, 5), "rk4", 1e-4, 1e-5, 0.05)


@pytest.mark.parametrize("times", [[0.0, 0.2, 0.1], [0.0, 0.1, 0.1], [0.0, float("nan"), 0.3]])
def test_bad_time_grids_are_named_errors(times):
    with pytest.raises(InputError, match="times"):
        _seq(torch.zeros(3, 2, 4), times)
