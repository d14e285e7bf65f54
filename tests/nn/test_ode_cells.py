"""Tests for the ODE solvers written as RNN cells (kexue.fm/archives/5643)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from kexue.models.ode_fit import competition_rhs
from kexue.nn.ode_cells import EulerCell, MidpointCell, ODESolverRNN, RK4Cell, integrate_fixed_step

F64 = torch.float64
THETA = torch.tensor([0.1, 0.3, 1e-4, 2e-4, 0.002, 0.003], dtype=F64)  # the article's code
X0 = torch.tensor([100.0, 150.0], dtype=F64)
TABLE_T = [0, 10, 15, 30, 36, 40, 42]
TABLE_X = [(100, 150), (165, 283), (197, 290), (280, 276), (305, 269), (318, 266), (324, 264)]


def _competition(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return competition_rhs(t, x, THETA)


def _oscillator(
    t: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:  # x'' = -x + cos(t)·0 + time term
    return torch.stack([x[..., 1], -x[..., 0] + torch.sin(t) * torch.ones_like(x[..., 0])], -1)


def _oscillator_exact(t: float) -> np.ndarray:
    # x'' + x = sin t, x(0) = 1, x'(0) = 0: x = cos t + (sin t − t cos t)/2
    x = math.cos(t) + 0.5 * (math.sin(t) - t * math.cos(t))
    v = -math.sin(t) + 0.5 * t * math.sin(t)
    return np.array([x, v])


def test_euler_rnn_reproduces_the_article_table() -> None:
    traj = integrate_fixed_step(_competition, X0, torch.tensor(TABLE_T, dtype=F64), 0.1, "euler")
    assert (traj - torch.tensor(TABLE_X, dtype=F64)).abs().max() <= 0.6


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_convergence_order_on_a_known_solution(method: str, order: int) -> None:
    x0 = torch.tensor([1.0, 0.0], dtype=F64)
    times = torch.tensor([0.0, 4.0], dtype=F64)
    hs = [0.4, 0.2, 0.1, 0.05]
    errs = [
        float(np.linalg.norm(integrate_fixed_step(_oscillator, x0, times, h, method)[-1].numpy()
                             - _oscillator_exact(4.0)))
        for h in hs
    ]  # fmt: skip
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.25, (method, slope, errs)


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("rk4", 4)])
def test_matches_solve_ivp_with_the_right_order(method: str, order: int) -> None:
    ref = solve_ivp(lambda t, x: _competition(torch.tensor(t), torch.from_numpy(x)).numpy(),
                    (0.0, 42.0), X0.numpy(), method="DOP853", rtol=1e-13, atol=1e-12).y[:, -1]  # fmt: skip
    hs = [0.4, 0.2, 0.1, 0.05]
    times = torch.tensor([0.0, 42.0], dtype=F64)
    errs = [float(np.abs(integrate_fixed_step(_competition, X0, times, h, method)[-1].numpy() - ref)
                  .max()) for h in hs]  # fmt: skip
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.3
    if method == "rk4":
        assert errs[-1] / np.abs(ref).max() < 1e-8


def test_irregular_times_land_on_the_grid_and_batch_equals_loop() -> None:
    times = torch.tensor([0.0, 0.13, 0.5, 1.7, 1.75, 3.0], dtype=F64)
    x0 = torch.randn(5, 3, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    batch = integrate_fixed_step(_oscillator, x0, times, 0.05)
    assert batch.shape == (6, 5, 3, 2)
    one = integrate_fixed_step(_oscillator, x0[2, 1], times, 0.05)
    torch.testing.assert_close(batch[:, 2, 1], one, rtol=0, atol=1e-14)
    exact = torch.from_numpy(np.stack([_oscillator_exact(float(t)) for t in times]))
    x1 = integrate_fixed_step(_oscillator, torch.tensor([1.0, 0.0], dtype=F64), times, 0.05)
    assert (x1 - exact).abs().max() < 1e-6


def test_cells_and_module_agree_with_the_functional() -> None:
    x = torch.tensor([[1.0, 2.0]], dtype=F64)
    t = torch.tensor(0.3, dtype=F64)
    f = _oscillator
    k1 = f(t, x)
    torch.testing.assert_close(EulerCell(f)(x, t, 0.1), x + 0.1 * k1)
    torch.testing.assert_close(MidpointCell(f)(x, t, 0.1), x + 0.1 * f(t + 0.05, x + 0.05 * k1))
    assert RK4Cell(f).order == 4
    times = torch.linspace(0, 1, 4, dtype=F64)
    torch.testing.assert_close(ODESolverRNN(f, "midpoint", 0.1)(x, times),
                               integrate_fixed_step(f, x, times, 0.1, "midpoint"))  # fmt: skip


def test_clip_bounds_each_derivative() -> None:
    cell = EulerCell(lambda t, x: 1e6 * x, clip=1e5)
    out = cell(torch.ones(2, dtype=F64), torch.tensor(0.0, dtype=F64), 1.0)
    torch.testing.assert_close(out, torch.full((2,), 1e5 + 1, dtype=F64))


def test_gradcheck_through_the_unrolled_cell() -> None:
    times = torch.tensor([0.0, 0.7, 1.2], dtype=F64)
    x0 = torch.tensor([[30.0, 20.0], [10.0, 5.0]], dtype=F64)

    def traj(theta: torch.Tensor) -> torch.Tensor:
        return integrate_fixed_step(lambda t, x: competition_rhs(t, x, theta), x0, times, 0.25)

    theta = THETA.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(traj, (theta,), eps=1e-7, atol=1e-5, rtol=1e-4)


def test_agrees_with_torchdiffeq_when_installed() -> None:
    torchdiffeq = pytest.importorskip("torchdiffeq")
    times = torch.tensor([0.0, 10.0, 15.0, 30.0], dtype=F64)
    for method in ("euler", "rk4", "midpoint"):
        ours = integrate_fixed_step(_competition, X0, times, 0.5, method)
        ref = torchdiffeq.odeint(_competition, X0, times, method=method, options={"step_size": 0.5})
        torch.testing.assert_close(ours, ref, rtol=1e-6, atol=0)


def test_dtype_follows_and_bad_input() -> None:
    times = torch.tensor([0.0, 1.0])
    assert integrate_fixed_step(_oscillator, torch.ones(2), times, 0.5).dtype == torch.float32
    with pytest.raises(TypeError, match="x0"):
        integrate_fixed_step(_oscillator, torch.ones(2, dtype=torch.long), times, 0.5)
    with pytest.raises(ValueError, match="times"):
        integrate_fixed_step(_oscillator, torch.ones(2), torch.tensor([0.0, 1.0, 1.0]), 0.5)
    with pytest.raises(ValueError, match="step"):
        integrate_fixed_step(_oscillator, torch.ones(2), times, 0.0)
    with pytest.raises(ValueError, match="method"):
        integrate_fixed_step(_oscillator, torch.ones(2), times, 0.5, "rk45")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="x0"):
        integrate_fixed_step(_oscillator, torch.tensor([1.0, float("nan")]), times, 0.5)
    with pytest.raises(TypeError, match="func"):
        integrate_fixed_step(3, torch.ones(2), times, 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="clip"):
        EulerCell(_oscillator, clip=-1.0)
