"""Shared argument checks for the classification losses (B2).

Conventions (every public loss in :mod:`kexue.losses.focal`, :mod:`kexue.losses.imbalance` and
:mod:`kexue.losses.logit_adjustment` follows them):

* logits in, classes on the **last** dimension for multi-class losses (``(*, C)`` with integer
  targets ``(*)``); elementwise logits and targets of the same shape for binary (sigmoid) losses;
* half-precision inputs are computed in float32 and the result is cast back to the input dtype;
* ``reduction="mean" | "sum" | "none"``, checked and applied by :func:`kexue._validate.check_reduction`
  and :func:`kexue._validate.reduce_loss` (as in every loss); for multi-class losses ``"mean"``
  divides by the summed weights of the non-ignored targets, like
  :func:`torch.nn.functional.cross_entropy`, and gives 0 (not NaN) when every target is ignored.
"""

from __future__ import annotations

import torch

from kexue._validate import (
    check_finite,
    check_floating,
    check_ndim,
    check_nonempty,
    check_tensor,
    compute_dtype,
)

__all__ = [
    "check_binary_target",
    "check_class_target",
    "check_class_weight",
    "check_logits",
    "check_unit_interval",
    "compute_dtype",
    "target_log_prob",
]


def check_unit_interval(value: object, name: str, *, closed_right: bool = True) -> float:
    """Require a real number in ``[0, 1]`` (or ``[0, 1)``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    ok = 0 <= value <= 1 if closed_right else 0 <= value < 1
    if not ok:
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return float(value)


def check_logits(logits: object, name: str = "logits", *, min_ndim: int = 0) -> torch.Tensor:
    """Floating, non-empty, finite logits with at least ``min_ndim`` dimensions."""
    x = check_floating(logits, name)
    check_ndim(x, name, min_ndim)
    check_nonempty(x, name)
    check_finite(x, name)
    return x


def check_class_target(target: object, logits: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """Integer class indices of shape ``logits.shape[:-1]`` in ``[0, C)`` or ``== ignore_index``."""
    t = check_tensor(target, "target")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"target must hold integer class indices, got dtype {t.dtype}")
    if t.shape != logits.shape[:-1]:
        raise ValueError(
            f"target must have shape logits.shape[:-1] = {tuple(logits.shape[:-1])} "
            f"(classes on the last dimension of logits), got {tuple(t.shape)}"
        )
    n_classes = logits.shape[-1]
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= n_classes))
    if bool(bad.any()):
        raise ValueError(
            f"target holds {int(bad.sum())} label(s) outside [0, {n_classes}) "
            f"that are not ignore_index={ignore_index}"
        )
    return t.long()


def check_binary_target(target: object, logits: torch.Tensor) -> torch.Tensor:
    """Targets in ``[0, 1]`` (hard or soft), same shape as ``logits``, in the compute dtype."""
    t = check_tensor(target, "target")
    if t.is_complex():
        raise TypeError(f"target must be real, got dtype {t.dtype}")
    if t.shape != logits.shape:
        raise ValueError(
            f"target and logits must have the same shape, got {tuple(t.shape)} and "
            f"{tuple(logits.shape)}"
        )
    t = t.to(compute_dtype(logits))
    if not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError("target must lie in [0, 1] (NaN or out-of-range values found)")
    return t


def check_class_weight(weight: object, name: str, n_classes: int) -> torch.Tensor:
    """A finite, non-negative per-class weight vector of shape ``(C,)``."""
    w = check_floating(weight, name)
    if w.shape != (n_classes,):
        raise ValueError(f"{name} must have shape ({n_classes},), got {tuple(w.shape)}")
    check_finite(w, name)
    if bool((w < 0).any()):
        raise ValueError(f"{name} must be non-negative, got min {float(w.min())}")
    return w


def target_log_prob(
    log_probs: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None,
    ignore_index: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick ``log p_t`` and the per-element weight ``w_t`` (0 where ignored).

    Shape:
        log_probs ``(*, C)``, target ``(*)`` → both outputs ``(*)``.
    """
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    logp_t = log_probs.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (*)
    w_t = valid.to(log_probs.dtype)
    if weight is not None:
        w_t = w_t * weight.to(log_probs.dtype)[safe]
    return logp_t, w_t
