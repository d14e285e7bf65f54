"""ODE solvers written as recurrent cells: an RNN whose step is Euler, midpoint or RK4.

A recurrent network is any recursion ``y_n = f(y_{n-1}, x_n, n)``; one explicit step of a Runge–Kutta
method for ``dx/dt = F(t, x)`` is such a recursion, with the step size as the "input" and the state
as the hidden state. Unrolling the cell over a time grid solves the ODE (forward pass), and
backpropagating through the unrolled loop gives the gradient of a trajectory loss with respect to
anything ``F`` depends on (discretise-then-optimise). States are batched: ``x`` may have any leading
shape (many initial conditions at once); ``F`` acts on the last dimension.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from kexue._validate import check_finite, check_floating, check_ndim, check_nonempty, check_tensor

__all__ = [
    "EulerCell",
    "MidpointCell",
    "ODESolverRNN",
    "RK4Cell",
    "integrate_fixed_step",
]

Func = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Method = Literal["euler", "midpoint", "rk4"]


class _ODECell(nn.Module):
    """Shared part of the cells: the right-hand side ``F(t, x)`` and the derivative clipping."""

    order: int = 0

    def __init__(self, func: Func, clip: float | None = None) -> None:
        super().__init__()
        if not callable(func):
            raise TypeError(f"func must be callable as func(t, x), got {type(func).__name__}")
        if clip is not None and not (isinstance(clip, int | float) and clip > 0):
            raise ValueError(f"clip must be a positive number or None, got {clip!r}")
        self.func = func
        self.clip = clip

    def rhs(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``F(t, x)``, clamped to ``[-clip, clip]`` when ``clip`` is set (the article's guard)."""
        dx = self.func(t, x)
        return dx if self.clip is None else dx.clamp(-self.clip, self.clip)

    def extra_repr(self) -> str:
        return f"order={self.order}, clip={self.clip}"


class EulerCell(_ODECell):
    r"""Explicit Euler as an RNN cell: ``x_{n+1} = x_n + h F(t_n, x_n)`` (order 1).

    Args:
        func: the right-hand side ``F(t, x)`` (``t`` a 0-d tensor, ``x`` of shape ``(..., D)``).
        clip: clamp every evaluation of ``F`` to ``[-clip, clip]`` (``None``: no clamp).

    Shape:
        ``forward(x, t, h)``: ``x`` is ``(..., D)``; returns the same shape.

    Reference:
        Su Jianlin, 貌离神合的RNN与ODE：花式RNN简介 https://kexue.fm/archives/5643

    Example:
        >>> cell = EulerCell(lambda t, x: -x)
        >>> cell(torch.ones(2), torch.tensor(0.0), 0.5)
        tensor([0.5000, 0.5000])
    """

    order = 1

    def forward(self, x: torch.Tensor, t: torch.Tensor, h: float) -> torch.Tensor:
        """One step of size ``h`` from ``(t, x)``."""
        return torch.add(x, self.rhs(t, x), alpha=h)


class MidpointCell(_ODECell):
    r"""The explicit midpoint rule as an RNN cell (order 2).

    ``x_{n+1} = x_n + h F(t_n + h/2, x_n + (h/2) F(t_n, x_n))``. Arguments as :class:`EulerCell`.

    Reference:
        Su Jianlin, 貌离神合的RNN与ODE：花式RNN简介 https://kexue.fm/archives/5643
    """

    order = 2

    def forward(self, x: torch.Tensor, t: torch.Tensor, h: float) -> torch.Tensor:
        """One step of size ``h`` from ``(t, x)``."""
        k1 = self.rhs(t, x)
        return torch.add(x, self.rhs(t + h / 2, torch.add(x, k1, alpha=h / 2)), alpha=h)


class RK4Cell(_ODECell):
    r"""The classical Runge–Kutta method as an RNN cell (order 4).

    ``k1 = F(t, x)``, ``k2 = F(t + h/2, x + h k1/2)``, ``k3 = F(t + h/2, x + h k2/2)``,
    ``k4 = F(t + h, x + h k3)``, ``x_{n+1} = x_n + h (k1 + 2k2 + 2k3 + k4)/6``. Arguments as
    :class:`EulerCell`.

    Reference:
        Su Jianlin, 貌离神合的RNN与ODE：花式RNN简介 https://kexue.fm/archives/5643
    """

    order = 4

    def forward(self, x: torch.Tensor, t: torch.Tensor, h: float) -> torch.Tensor:
        """One step of size ``h`` from ``(t, x)``."""
        k1 = self.rhs(t, x)
        half = t + h / 2
        k2 = self.rhs(half, torch.add(x, k1, alpha=h / 2))
        k3 = self.rhs(half, torch.add(x, k2, alpha=h / 2))
        k4 = self.rhs(t + h, torch.add(x, k3, alpha=h))
        return torch.add(x, k1 + k4 + 2 * (k2 + k3), alpha=h / 6)


_CELLS: dict[str, type[_ODECell]] = {"euler": EulerCell, "midpoint": MidpointCell, "rk4": RK4Cell}


def _check_grid(
    x0: object, times: object, step: object
) -> tuple[torch.Tensor, torch.Tensor, float]:
    x = check_floating(x0, "x0")
    check_nonempty(check_ndim(x, "x0", 1), "x0")
    check_finite(x, "x0")
    t = check_floating(check_tensor(times, "times"), "times")
    check_ndim(t, "times", 1, 1)
    check_finite(t, "times")
    if t.numel() < 1:
        raise ValueError("times is empty; pass at least the initial time")
    if t.numel() > 1 and not bool((t.diff() > 0).all()):
        raise ValueError("times must be strictly increasing")
    if isinstance(step, bool) or not isinstance(step, int | float) or not step > 0:
        raise ValueError(f"step must be a positive number, got {step!r}")
    return x, t, float(step)


def _unroll(cell: _ODECell, x0: torch.Tensor, times: torch.Tensor, step: float) -> torch.Tensor:
    tt = times.to(x0.dtype)
    out, x = [x0], x0
    for i in range(tt.numel() - 1):
        span = float(tt[i + 1] - tt[i])
        # equal sub-steps of size <= step that land exactly on the next observation time
        n = max(1, math.ceil(span / step - 1e-9))
        h = span / n
        for j in range(n):
            x = cell(x, tt[i] + j * h, h)
        out.append(x)
    return torch.stack(out)  # (T, ..., D)


def integrate_fixed_step(
    func: Func,
    x0: torch.Tensor,
    times: torch.Tensor,
    step: float,
    method: Method = "rk4",
    clip: float | None = None,
) -> torch.Tensor:
    r"""Solve ``dx/dt = F(t, x)`` by unrolling an ODE cell over a fixed-step grid.

    Between consecutive (possibly irregular) observation times the interval is split into the
    fewest equal sub-steps of size ``≤ step``, so the grid passes through every requested time (a
    uniform grid when the times are multiples of ``step``). Differentiable end to end.

    Args:
        func: the right-hand side ``F(t, x)``, ``t`` a 0-d tensor in ``x0``'s dtype.
        x0: initial states, ``(..., D)``: any leading batch shape (many initial conditions).
        times: strictly increasing 1-D floating tensor; ``times[0]`` is the time of ``x0``.
        step: the largest step size.
        method: ``"euler"`` (order 1), ``"midpoint"`` (2) or ``"rk4"`` (4).
        clip: clamp every evaluation of ``F`` to ``[-clip, clip]`` (the article's guard).

    Returns:
        The states at ``times``, shape ``(len(times), *x0.shape)`` (``[0]`` is ``x0``).

    Raises:
        TypeError: ``x0`` or ``times`` not a floating tensor, ``func`` not callable.
        ValueError: non-increasing or non-finite ``times``, ``step <= 0``, unknown ``method``.

    Reference:
        Su Jianlin, 貌离神合的RNN与ODE：花式RNN简介 https://kexue.fm/archives/5643

    Example:
        >>> ts = torch.tensor([0.0, 1.0], dtype=torch.float64)
        >>> x = integrate_fixed_step(lambda t, x: -x, torch.ones(1, dtype=torch.float64), ts, 0.1)
        >>> round(float(x[-1, 0]), 5)  # exp(-1) = 0.3678794...
        0.36788
    """
    return ODESolverRNN(func, method, step, clip)(x0, times)


class ODESolverRNN(nn.Module):
    """An RNN that solves an ODE: a chosen cell unrolled over the time grid (see
    :func:`integrate_fixed_step`, its functional twin).

    Args:
        func: the right-hand side ``F(t, x)`` (an ``nn.Module`` registers its parameters here).
        method: ``"euler"``, ``"midpoint"`` or ``"rk4"``.
        step: the largest step size.
        clip: clamp every evaluation of ``F`` to ``[-clip, clip]``.

    Shape:
        ``forward(x0, times)``: ``x0`` ``(..., D)``, ``times`` ``(T,)`` → ``(T, ..., D)``.

    Reference:
        Su Jianlin, 貌离神合的RNN与ODE：花式RNN简介 https://kexue.fm/archives/5643
    """

    def __init__(
        self, func: Func, method: Method = "rk4", step: float = 0.1, clip: float | None = None
    ) -> None:
        super().__init__()
        if method not in _CELLS:
            raise ValueError(f"method must be one of {', '.join(_CELLS)}, got {method!r}")
        self.cell = _CELLS[method](func, clip)
        self.step = step

    def forward(self, x0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """The trajectory at ``times`` from ``x0`` at ``times[0]``."""
        x, t, h = _check_grid(x0, times, self.step)
        return _unroll(self.cell, x, t, h)
