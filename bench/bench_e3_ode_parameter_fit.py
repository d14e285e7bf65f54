"""E3 benchmark: time to reach equal parameter error when fitting an ODE's parameters.

One Lotka–Volterra problem (the E3 reproduction's: 3 initial conditions fitted together, irregular
observation times, Gaussian noise σ = 0.3, a quarter of the entries missing), the same start
``θ₀`` and the same log-scale parameters ``θ = θ₀·exp(s)`` for every contender:

- ours: :func:`kexue.models.ode_fit.fit_ode` (RK4 RNN unrolled, autograd, L-BFGS strong Wolfe);
- torchdiffeq ``odeint(method="rk4", options={"step_size": h})`` with the same L-BFGS;
- torchdiffeq ``odeint_adjoint`` (same solver, gradients by the adjoint ODE) with the same L-BFGS;
- scipy ``least_squares`` (trust-region, finite-difference Jacobian) on ``solve_ivp`` (RK45,
  rtol 1e-8) residuals — the non-autograd baseline.

Every objective evaluation records (CPU time, θ). The target is the largest final parameter error
among the contenders, times 1.05 (every one reaches it); each contender's time is its first CPU
time (``time.process_time``, single thread) at which ``max|θ/θ* − 1|`` is within the target. One
timed run each after one untimed warm-up run. torchdiffeq's fixed grid steps uniformly and
interpolates at the observation times; ours splits each interval so that it lands on them.

Run: ``python bench/bench_e3_ode_parameter_fit.py``; ``KEXUE_BENCH_TINY=1`` (or ``--tiny``) runs a
small problem in seconds and writes nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import machine, write_result
from kexue.models.ode_fit import fit_ode, lotka_volterra_rhs
from kexue.nn.ode_cells import integrate_fixed_step

TINY = "--tiny" in sys.argv[1:] or __import__("os").environ.get("KEXUE_BENCH_TINY") == "1"
D = torch.float64
TRUTH = torch.tensor([1.0, 0.1, 0.075, 1.5], dtype=D)
X0 = torch.tensor([[10.0, 5.0], [20.0, 8.0], [6.0, 15.0]], dtype=D)
STEP = 0.25
N_TIMES, HORIZON = (10, 5.0) if TINY else (24, 10.0)
MAX_ITER = 30 if TINY else 300

Trace = list[tuple[float, torch.Tensor]]


def _problem() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    later = torch.sort(torch.rand(N_TIMES - 1, generator=g, dtype=D))[0]
    times = torch.cat([torch.zeros(1, dtype=D), later * HORIZON])
    clean = integrate_fixed_step(lambda t, x: lotka_volterra_rhs(t, x, TRUTH), X0, times, 0.01)
    noisy = clean + 0.3 * torch.randn(clean.shape, generator=g, dtype=D)
    mask = torch.rand(clean.shape, generator=g, dtype=D) >= 0.25
    theta0 = TRUTH * torch.exp(torch.empty(4, dtype=D).uniform_(-0.4, 0.4, generator=g))
    return times, torch.where(mask, noisy, torch.zeros((), dtype=D)), mask, theta0


def _error(theta: torch.Tensor) -> float:
    return float(((theta - TRUTH) / TRUTH).abs().max())


def _ours(times: Any, y: Any, mask: Any, theta0: Any, trace: Trace) -> None:
    fit_ode(lotka_volterra_rhs, theta0, X0, times, y, mask, step=STEP, max_iter=MAX_ITER,
            callback=lambda th: trace.append((time.process_time(), th)))  # fmt: skip


class _LV(torch.nn.Module):
    def __init__(self, theta0: torch.Tensor) -> None:
        super().__init__()
        self.theta0 = theta0
        self.s = torch.nn.Parameter(torch.zeros_like(theta0))

    def theta(self) -> torch.Tensor:
        return self.theta0 * torch.exp(self.s)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return lotka_volterra_rhs(t, x, self.theta())


def _torchdiffeq(adjoint: bool) -> Callable[..., None]:
    import torchdiffeq

    solve = torchdiffeq.odeint_adjoint if adjoint else torchdiffeq.odeint

    def run(times: Any, y: Any, mask: Any, theta0: Any, trace: Trace) -> None:
        func = _LV(theta0)
        opt = torch.optim.LBFGS([func.s], lr=1.0, max_iter=MAX_ITER, max_eval=2 * MAX_ITER,
                                tolerance_grad=1e-12, tolerance_change=1e-12, history_size=20,
                                line_search_fn="strong_wolfe")  # fmt: skip

        def closure() -> torch.Tensor:
            opt.zero_grad()
            traj = solve(func, X0, times, method="rk4", options={"step_size": STEP})
            loss = ((traj - y) ** 2 * mask).sum()
            loss.backward()
            trace.append((time.process_time(), func.theta().detach()))
            return loss

        opt.step(closure)

    return run


def _scipy(times: Any, y: Any, mask: Any, theta0: Any, trace: Trace) -> None:
    from scipy.integrate import solve_ivp
    from scipy.optimize import least_squares

    t, yv, m, th0 = times.numpy(), y.numpy(), mask.numpy(), theta0.numpy()

    def rhs(_t: float, z: np.ndarray, th: np.ndarray) -> np.ndarray:
        u, v = z.reshape(-1, 2).T
        a, b, d, g = th
        return np.stack([a * u - b * u * v, d * u * v - g * v], -1).ravel()

    def residuals(s: np.ndarray) -> np.ndarray:
        th = th0 * np.exp(s)
        sol = solve_ivp(rhs, (t[0], t[-1]), X0.numpy().ravel(), t_eval=t, args=(th,),
                        rtol=1e-8, atol=1e-8)  # fmt: skip
        traj = sol.y.T.reshape(len(t), -1, 2) if sol.success else np.full(yv.shape, 1e6)
        trace.append((time.process_time(), torch.from_numpy(th.copy())))
        return (traj - yv)[m]

    least_squares(residuals, np.zeros(4), method="trf", xtol=1e-12, ftol=1e-12, gtol=1e-12,
                  max_nfev=20 * MAX_ITER)  # fmt: skip


def main() -> None:
    torch.set_num_threads(1)
    times, y, mask, theta0 = _problem()
    contenders: dict[str, Callable[..., None]] = {"kexue fit_ode (RK4 RNN)": _ours}
    try:
        contenders["torchdiffeq odeint rk4"] = _torchdiffeq(adjoint=False)
        contenders["torchdiffeq odeint_adjoint rk4"] = _torchdiffeq(adjoint=True)
    except ImportError:
        print("torchdiffeq not installed: its rows are skipped")
    contenders["scipy least_squares + solve_ivp"] = _scipy
    traces: dict[str, Trace] = {}
    for name, fn in contenders.items():
        fn(times, y, mask, theta0, [])  # warm-up run: lazy initialisation is not fit time
        trace: Trace = []
        start = time.process_time()
        fn(times, y, mask, theta0, trace)
        traces[name] = [(t - start, th) for t, th in trace]
    target = 1.05 * max(_error(tr[-1][1]) for tr in traces.values())
    rows: list[list[Any]] = []
    for name, tr in traces.items():
        hit = next(((t, k + 1) for k, (t, th) in enumerate(tr) if _error(th) <= target), None)
        assert hit is not None
        rows.append([name, _error(tr[-1][1]), hit[0], hit[1], tr[-1][0], len(tr)])
    ours_t = rows[0][2]
    for row in rows:
        row.insert(4, row[2] / ours_t)
    columns = ["method", "final max rel. param error", "CPU s to target", "evaluations to target",
               "their time / ours (>1: ours faster)", "CPU s total", "evaluations total"]  # fmt: skip
    others = ", ".join(f"{r[0]} {r[4]:.2f}x" for r in rows[1:])
    headline = (
        f"CPU time to reach max relative parameter error {target:.2%} on noisy Lotka–Volterra "
        f"(3 initial conditions fitted together), relative to kexue fit_ode: {others} (one run, "
        "1 thread)"
    )
    print(machine())
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    print(headline)
    if TINY:  # a smoke run: never overwrite the stored table
        return
    write_result("E3", "Fitting ODE parameters: time to equal parameter error", columns, rows,
                 headline, "python bench/bench_e3_ode_parameter_fit.py")  # fmt: skip


if __name__ == "__main__":
    main()
