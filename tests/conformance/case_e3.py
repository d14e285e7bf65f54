"""Conformance cases for E3: ODE solvers as RNN cells, and parameter fitting through them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kexue.models.ode_fit import fit_ode, lotka_volterra_rhs
from kexue.nn.ode_cells import ODESolverRNN, integrate_fixed_step

from .case import Args, BadInput, Case


def _decay(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return -x + torch.cos(t)


def _args(method: str) -> Callable[[torch.dtype], Args]:
    def make(dtype: torch.dtype) -> Args:
        x0 = torch.linspace(-1.0, 1.0, 6, dtype=dtype).reshape(3, 2)  # 3 initial conditions
        times = torch.tensor([0.0, 0.3, 1.0, 1.25], dtype=dtype)
        return (_decay, x0, times, 0.1, method), {}

    return make


def _module(func: Any, x0: torch.Tensor, times: torch.Tensor, step: float, method: str) -> Any:
    return ODESolverRNN(func, method, step)(x0, times)  # type: ignore[arg-type]


def _bad_solver() -> list[BadInput]:
    x0 = torch.ones(2, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    return [
        BadInput("int-x0", (_decay, x0.long(), t, 0.1), {}, TypeError, "x0"),
        BadInput("decreasing-times", (_decay, x0, t.flip(0), 0.1), {}, ValueError, "times"),
        BadInput("zero-step", (_decay, x0, t, 0.0), {}, ValueError, "step"),
        BadInput("empty-x0", (_decay, x0[:0], t, 0.1), {}, ValueError, "x0"),
    ]


_LV = (1.0, 0.1, 0.075, 1.5)


def _fit_args(dtype: torch.dtype) -> Args:
    times = torch.linspace(0.0, 2.0, 6, dtype=dtype)
    x0 = torch.tensor([10.0, 5.0], dtype=dtype)
    truth = torch.tensor(_LV, dtype=dtype)
    y = integrate_fixed_step(lambda t, x: lotka_volterra_rhs(t, x, truth), x0, times, 0.1)
    theta0 = truth * 1.1
    return (lotka_volterra_rhs, theta0, x0, times, y), {"step": 0.2, "max_iter": 3}


def _bad_fit() -> list[BadInput]:
    (rhs, theta0, x0, times, y), kw = _fit_args(torch.float64)
    return [
        BadInput("int-theta0", (rhs, theta0.long(), x0, times, y), kw, TypeError, "theta0"),
        BadInput("short-observed", (rhs, theta0, x0, times, y[:-1]), kw, ValueError, "observed"),
        BadInput("zero-theta0", (rhs, theta0 * 0, x0, times, y), kw, ValueError, "theta0"),
    ]


CASES = [
    Case("rk4-rnn", integrate_fixed_step, _args("rk4"), lambda: _module, _bad_solver()),
    Case("euler-rnn", integrate_fixed_step, _args("euler"), lambda: _module),
    Case("midpoint-rnn", integrate_fixed_step, _args("midpoint"), lambda: _module),
    Case("fit-ode", fit_ode, _fit_args, bad=_bad_fit(), output=lambda fit: fit.theta),
]
