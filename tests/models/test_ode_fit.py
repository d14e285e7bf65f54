"""Tests for fitting ODE parameters through the unrolled solver RNN (kexue.fm/archives/5643)."""

from __future__ import annotations

import pytest
import torch

from kexue.models.ode_fit import ODEFit, competition_rhs, fit_ode, lotka_volterra_rhs
from kexue.nn.ode_cells import integrate_fixed_step

F64 = torch.float64
LV = torch.tensor([1.0, 0.1, 0.075, 1.5], dtype=F64)


def _lv_data(times: torch.Tensor, x0: torch.Tensor, step: float = 0.1) -> torch.Tensor:
    return integrate_fixed_step(lambda t, x: lotka_volterra_rhs(t, x, LV), x0, times, step)


def test_recovers_parameters_from_dense_noise_free_data() -> None:
    times = torch.linspace(0.0, 6.0, 61, dtype=F64)
    x0 = torch.tensor([[10.0, 5.0], [6.0, 12.0]], dtype=F64)  # two initial conditions at once
    y = _lv_data(times, x0)
    theta0 = LV * torch.tensor([1.3, 0.8, 1.2, 0.85], dtype=F64)
    trace: list[torch.Tensor] = []
    fit = fit_ode(lotka_volterra_rhs, theta0, x0, times, y, step=0.1, max_iter=200,
                  callback=trace.append)  # fmt: skip
    assert isinstance(fit, ODEFit)
    assert len(trace) == fit.evaluations and torch.equal(trace[0], theta0)
    assert ((fit.theta - LV) / LV).abs().max() < 1e-6
    assert fit.rmse < 1e-6 and fit.history[-1] <= fit.history[0]


def test_partial_observations_by_mask_and_nan() -> None:
    times = torch.tensor([0.0, 0.4, 1.1, 1.5, 2.2, 3.0, 3.3, 4.1, 5.0, 5.7], dtype=F64)
    x0 = torch.tensor([10.0, 5.0], dtype=F64)
    y = _lv_data(times, x0)
    mask = torch.ones_like(y, dtype=torch.bool)
    mask[1::2, 1] = False  # predator seen only at every other time
    theta0 = LV * torch.tensor([1.2, 0.9, 1.1, 0.9], dtype=F64)
    fit = fit_ode(lotka_volterra_rhs, theta0, x0, times, y, mask, step=0.1)
    assert ((fit.theta - LV) / LV).abs().max() < 1e-5
    y_nan = torch.where(mask, y, torch.full_like(y, float("nan")))
    fit2 = fit_ode(lotka_volterra_rhs, theta0, x0, times, y_nan, step=0.1)
    torch.testing.assert_close(fit2.theta, fit.theta, rtol=1e-10, atol=0)


def test_article_table_fit_with_log_scale_lbfgs() -> None:
    times = torch.tensor([0, 10, 15, 30, 36, 40, 42], dtype=F64)
    obs = torch.tensor([[100, 150], [165, 283], [197, 290], [280, 276], [305, 269], [318, 266],
                        [324, 264]], dtype=F64)  # fmt: skip
    truth = torch.tensor([0.1, 0.3, 1e-4, 2e-4, 0.002, 0.003], dtype=F64)
    theta0 = torch.tensor([0.1, 0.1, 1e-3, 1e-3, 1e-3, 1e-3], dtype=F64)
    fit = fit_ode(competition_rhs, theta0, obs[0], times, obs, step=1.0, method="euler")
    assert fit.rmse < 0.5
    assert ((fit.theta - truth) / truth).abs().max() < 0.15


def test_adam_recipe_runs_and_descends() -> None:
    times = torch.linspace(0.0, 2.0, 11, dtype=F64)
    y = torch.exp(-0.7 * times)[:, None]
    fit = fit_ode(lambda t, x, k: -k * x, torch.tensor([0.2], dtype=F64), y[0], times, y,
                  step=0.1, optimizer="adam", log_scale=False, lr=0.05, max_iter=300, clip=1e5)  # fmt: skip
    assert fit.iterations == 300 and fit.evaluations == 300
    assert abs(float(fit.theta[0]) - 0.7) < 0.02


def test_bad_input() -> None:
    times = torch.linspace(0.0, 1.0, 5, dtype=F64)
    x0 = torch.tensor([10.0, 5.0], dtype=F64)
    y = _lv_data(times, x0)
    kw = {"step": 0.1}
    with pytest.raises(ValueError, match="theta0"):
        fit_ode(
            lotka_volterra_rhs, torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=F64), x0, times, y, **kw
        )
    with pytest.raises(TypeError, match="theta0"):
        fit_ode(lotka_volterra_rhs, torch.ones(4, dtype=torch.long), x0, times, y, **kw)
    with pytest.raises(ValueError, match="observed"):
        fit_ode(lotka_volterra_rhs, LV, x0, times, y[:-1], **kw)
    with pytest.raises(TypeError, match="mask"):
        fit_ode(lotka_volterra_rhs, LV, x0, times, y, torch.ones_like(y), **kw)
    with pytest.raises(ValueError, match="observed"):
        fit_ode(lotka_volterra_rhs, LV, x0, times, torch.full_like(y, float("nan")), **kw)
    with pytest.raises(ValueError, match="optimizer"):
        fit_ode(lotka_volterra_rhs, LV, x0, times, y, optimizer="sgd", **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_iter"):
        fit_ode(lotka_volterra_rhs, LV, x0, times, y, max_iter=0, **kw)
