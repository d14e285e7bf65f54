r"""The bert4keras piecewise-linear learning-rate schedule.

A schedule ``{step: value}`` gives the multiplier :math:`\rho_t` of the learning rate: linear
between consecutive knots, starting from ``(0, 0)`` unless a ``0`` key is given, constant after
the last knot. ``{1000: 1}`` is a linear warm-up to the full lr over 1000 steps;
``{1000: 1, 2000: 0.1}`` then decays linearly to a tenth. Every other schedule comes from
``torch.optim.lr_scheduler``.

Reference: 苏剑林, 6个派生优化器的简单介绍及其实现, https://kexue.fm/archives/7094
(``bert4keras.backend.piecewise_linear``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch.optim.lr_scheduler import LambdaLR

from kexue._validate import check_finite, check_floating

__all__ = ["PiecewiseLinearLR", "piecewise_linear"]


def _knots(schedule: object) -> tuple[list[float], list[float]]:
    if not isinstance(schedule, Mapping):
        raise TypeError(f"schedule must be a dict {{step: value}}, got {type(schedule).__name__}")
    if not schedule:
        raise ValueError("schedule is empty; pass e.g. {1000: 1.0} for a linear warm-up")
    items = sorted((float(k), float(v)) for k, v in schedule.items())
    if items[0][0] < 0 or any(x != x or y != y for x, y in items):
        raise ValueError(f"schedule must have steps >= 0 and finite values, got {dict(schedule)}")
    if items[0][0] > 0:
        items.insert(0, (0.0, 0.0))
    return [x for x, _ in items], [y for _, y in items]


def _multiplier(t: float, xs: list[float], ys: list[float]) -> float:
    if t <= xs[0]:
        return ys[0]
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:], strict=False):
        if t <= x1:
            return y0 + (t - x0) / (x1 - x0) * (y1 - y0)
    return ys[-1]


def piecewise_linear(step: torch.Tensor, schedule: Mapping[float, float]) -> torch.Tensor:
    """The multiplier of ``schedule`` at each (fractional) step, in ``step``'s dtype.

    Args:
        step: a floating tensor of step numbers (any shape).
        schedule: ``{step: value}`` knots (steps ≥ 0).

    Raises:
        TypeError: ``step`` is not a floating tensor; ``schedule`` not a mapping.
        ValueError: NaN/inf in ``step``; ``schedule`` empty or with negative steps.

    Reference: 苏剑林, 6个派生优化器的简单介绍及其实现, https://kexue.fm/archives/7094
    """
    check_finite(check_floating(step, "step"), "step")
    xs, ys = _knots(schedule)
    x = torch.tensor(xs, dtype=step.dtype, device=step.device)
    y = torch.tensor(ys, dtype=step.dtype, device=step.device)
    if len(xs) == 1:
        return torch.full_like(step, ys[0])
    i = torch.searchsorted(x, step.contiguous(), right=True).clamp(1, len(xs) - 1)
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    w = ((step - x0) / (x1 - x0)).clamp(0, 1)
    return y0 + w * (y1 - y0)


class PiecewiseLinearLR(LambdaLR):
    """``LambdaLR`` whose multiplier at scheduler step t is ``piecewise_linear(t, schedule)``.

    Args:
        optimizer: the optimiser (or kexue wrapper) whose groups' lr it scales.
        schedule: ``{step: multiplier}`` knots, steps counted in ``scheduler.step()`` calls.
        last_epoch: as in ``LambdaLR`` (``-1``: a fresh schedule).

    Reference: 苏剑林, 6个派生优化器的简单介绍及其实现, https://kexue.fm/archives/7094
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Mapping[float, float],
        last_epoch: int = -1,
    ) -> None:
        xs, ys = _knots(schedule)
        self.schedule = dict(zip(xs, ys, strict=True))
        super().__init__(optimizer, lambda t: _multiplier(float(t), xs, ys), last_epoch)
