"""Argument checks shared by every component.

Each check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (wrong shape or
values) with a message that names the argument and says what to do, so bad input never turns into
a silent NaN or a wrong answer. They are cheap (one reduction at most) and skip value checks while
tracing with ``torch.jit``/``torch.compile`` is not involved.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = [
    "check_finite",
    "check_floating",
    "check_ndim",
    "check_nonempty",
    "check_positive",
    "check_reduction",
    "check_same_shape",
    "check_tensor",
    "compute_dtype",
    "reduce_loss",
]

REDUCTIONS = ("mean", "sum", "none")


def check_tensor(x: object, name: str) -> torch.Tensor:
    """Return ``x`` if it is a tensor, else raise ``TypeError`` naming ``name``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_floating(x: object, name: str) -> torch.Tensor:
    """Require a floating-point tensor (float16/bfloat16/float32/float64)."""
    t = check_tensor(x, name)
    if not t.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {t.dtype}; "
            f"convert it with {name}.float() or {name}.double()"
        )
    return t


def check_nonempty(x: torch.Tensor, name: str) -> torch.Tensor:
    """Require at least one element."""
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}); pass at least one element")
    return x


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Require every element to be finite (no NaN or inf).

    A NaN or inf makes a sum non-finite and no addition turns it finite again, so one reduction
    proves a tensor finite; ``torch.isfinite(x).all()`` (several passes and temporaries, ~13x the
    cost on large tensors) runs only when the sum is not finite: a bad value, or an overflow.
    """
    if not x.is_floating_point() or bool(torch.isfinite(x.detach().sum())):
        return x
    if not bool(torch.isfinite(x).all()):
        n_bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or infinite value(s)")
    return x


def check_ndim(
    x: torch.Tensor, name: str, min_ndim: int, max_ndim: int | None = None
) -> torch.Tensor:
    """Require ``min_ndim <= x.ndim <= max_ndim``."""
    if x.ndim < min_ndim or (max_ndim is not None and x.ndim > max_ndim):
        want = f"at least {min_ndim}" if max_ndim is None else f"{min_ndim}..{max_ndim}"
        raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(x.shape)}")
    return x


def check_same_shape(a: torch.Tensor, b: torch.Tensor, names: Sequence[str]) -> None:
    """Require two tensors to have identical shapes."""
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Require a real scalar ``> 0`` (or ``>= 0`` with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    bad = value < 0 if allow_zero else value <= 0
    if bad or value != value:  # value != value catches NaN
        op = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {op}, got {value}")
    return float(value)


def check_reduction(reduction: object) -> str:
    """Require one of ``"mean"``, ``"sum"``, ``"none"`` (the losses' ``reduction=``).

    Raises:
        TypeError: ``reduction`` is not a string.
        ValueError: an unknown string; the message names ``reduction`` and the allowed values.
    """
    if not isinstance(reduction, str):
        raise TypeError(f"reduction must be a string, got {type(reduction).__name__}")
    if reduction not in REDUCTIONS:
        allowed = ", ".join(repr(r) for r in REDUCTIONS)
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")
    return reduction


def reduce_loss(
    loss: torch.Tensor, reduction: str, denominator: torch.Tensor | None = None
) -> torch.Tensor:
    """Apply a loss's ``reduction`` to its per-element values (the one helper every loss uses).

    Args:
        loss: per-element loss values.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (checked by :func:`check_reduction`).
        denominator: what ``"mean"`` divides the sum by (e.g. the summed weights of the
            non-ignored targets); ``None``: the element count. A zero denominator (every target
            ignored) gives a zero loss instead of NaN.

    Returns:
        ``loss`` itself for ``"none"``, else a 0-dim tensor.
    """
    check_reduction(reduction)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if denominator is None:
        return loss.mean()
    total = loss.sum()
    return torch.where(denominator > 0, total / denominator.clamp_min(1e-30), total * 0)


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float32 for half/bfloat16 inputs (computed in float32, cast back), else ``x.dtype``."""
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
