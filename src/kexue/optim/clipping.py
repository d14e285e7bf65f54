r"""Hard and soft gradient clipping by the global (or per-parameter) norm.

With :math:`g` the gradient and :math:`\gamma>0` the threshold, the two forms rescale the update by

.. math:: c_{\text{hard}}=\min\Big(1,\frac{\gamma}{\|g\|}\Big),\qquad
          c_{\text{soft}}=\frac{\gamma}{\|g\|+\gamma},

which bound each other: :math:`\tfrac12 c_{\text{hard}}\le c_{\text{soft}}\le c_{\text{hard}}`. Under
:math:`(L_0,L_1)`-smoothness, :math:`\|\nabla f(\theta+\Delta)-\nabla f(\theta)\|\le
(L_0+L_1\|\nabla f(\theta)\|)\|\Delta\|`, the step that the descent lemma guarantees best is
:math:`\eta^*=1/(L_0+L_1\|g\|)`, i.e. soft clipping with :math:`\gamma=L_0/L_1` and base learning rate
:math:`1/L_0`: clipped GD decreases the loss every step, however large the gradient.

The norm is the global :math:`\ell_2` norm over all tensors (``per_parameter=True`` clips each tensor
by its own norm instead), computed in at least float32. A NaN or infinite norm is never turned into
a finite update: it raises (``error_if_nonfinite=True``, the default) or, with ``False``, leaves the
gradients untouched and returns the non-finite norm so the caller skips the step;
:class:`GradientClipper` does that skipping and counts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from kexue._validate import check_floating, check_positive, compute_dtype

__all__ = [
    "CLIP_MODES",
    "GradientClipper",
    "clip_coefficient",
    "clip_grad_norm_",
    "clip_gradients",
]

CLIP_MODES = ("hard", "soft")
"""The clipping forms: ``"hard"`` :math:`\\min(1,\\gamma/\\|g\\|)`, ``"soft"``
:math:`\\gamma/(\\|g\\|+\\gamma)`."""

_NONFINITE = ("raise", "skip")


def _check_mode(mode: object) -> str:
    if mode not in CLIP_MODES:
        raise ValueError(f"mode must be one of {CLIP_MODES}, got {mode!r}")
    return str(mode)


def _check_gamma(gamma: object) -> float:
    return check_positive(gamma, "gamma")  # type: ignore[arg-type]


def clip_coefficient(
    norm: Tensor, gamma: float, mode: str = "hard", *, eps: float = 1e-6
) -> Tensor:
    r"""The factor by which clipping multiplies a gradient of norm ``norm``.

    .. math:: c_{\text{hard}}=\min\Big(1,\frac{\gamma}{\|g\|+\epsilon}\Big),\qquad
              c_{\text{soft}}=\frac{\gamma}{\|g\|+\gamma}

    Args:
        norm: gradient norms, any shape (non-negative).
        gamma: the threshold :math:`\gamma>0` (for soft clipping, :math:`L_0/L_1`).
        mode: ``"hard"`` or ``"soft"``.
        eps: added to the norm in the hard form only, as ``torch.nn.utils.clip_grad_norm_`` does
            (``1e-6``), so the two agree; ``0`` gives the exact :math:`\min(1,\gamma/\|g\|)`.

    Returns:
        The factors, same shape and dtype as ``norm``; in :math:`(0, 1]`.

    Raises:
        TypeError: ``norm`` is not a floating tensor.
        ValueError: ``gamma <= 0``, ``eps < 0`` or an unknown ``mode``.

    Reference:
        Su Jianlin, 为什么梯度裁剪能加速训练过程？一个简明的分析, https://kexue.fm/archives/7469;
        J. Zhang, T. He, S. Sra, A. Jadbabaie, Why gradient clipping accelerates training, ICLR 2020.

    Example:
        >>> n = torch.tensor([0.5, 1.0, 4.0])
        >>> clip_coefficient(n, 1.0, "hard", eps=0.0)
        tensor([1.0000, 1.0000, 0.2500])
        >>> clip_coefficient(n, 1.0, "soft")
        tensor([0.6667, 0.5000, 0.2000])
    """
    check_floating(norm, "norm")
    g = _check_gamma(gamma)
    check_positive(eps, "eps", allow_zero=True)
    mode = _check_mode(mode)
    if mode == "hard":
        return (g / (norm + eps)).clamp(max=1.0)
    return g / (norm + g)


def _grads_of(grads: Tensor | Sequence[Tensor], name: str) -> list[Tensor]:
    items = [grads] if isinstance(grads, Tensor) else list(grads)
    for i, t in enumerate(items):
        check_floating(t, f"{name}[{i}]" if not isinstance(grads, Tensor) else name)
    return items


def _norms(grads: Sequence[Tensor]) -> Tensor:
    """Per-tensor l2 norms in at least float32, stacked (one entry per tensor)."""
    if not grads:
        return torch.zeros(0)
    dt = max((compute_dtype(g) for g in grads), key=lambda d: torch.finfo(d).bits)
    return torch.stack([torch.linalg.vector_norm(g.detach(), dtype=dt) for g in grads])


def _coefficients(
    grads: Sequence[Tensor], gamma: float, mode: str, per_parameter: bool, eps: float
) -> tuple[Tensor, Tensor]:
    """(factor per tensor, global norm); the global norm decides finiteness."""
    norms = _norms(grads)
    total = torch.linalg.vector_norm(norms)
    coef = clip_coefficient(norms if per_parameter else total, gamma, mode, eps=eps)
    return coef.expand(len(grads)), total


def _nonfinite(total: Tensor, name: str) -> ValueError:
    return ValueError(
        f"{name} have a non-finite global norm ({float(total)}); pass error_if_nonfinite=False "
        "to skip the step instead (GradientClipper(nonfinite='skip') counts the skips)"
    )


def clip_gradients(
    grads: Tensor | Sequence[Tensor],
    gamma: float,
    mode: str = "hard",
    *,
    per_parameter: bool = False,
    eps: float = 1e-6,
    error_if_nonfinite: bool = True,
) -> tuple[list[Tensor], Tensor]:
    r"""Clipped copies of gradients, by their global norm (functional form).

    Every tensor is multiplied by :func:`clip_coefficient` of the global norm
    :math:`\|g\|=\sqrt{\sum_i\|g_i\|^2}` (or of its own norm with ``per_parameter=True``).

    Args:
        grads: a tensor or a sequence of tensors (e.g. ``[p.grad for p in params]``).
        gamma: the threshold :math:`\gamma>0`.
        mode: ``"hard"`` :math:`\min(1,\gamma/\|g\|)` or ``"soft"`` :math:`\gamma/(\|g\|+\gamma)`.
        per_parameter: clip each tensor by its own norm instead of the global one.
        eps: see :func:`clip_coefficient` (hard form only).
        error_if_nonfinite: raise on a NaN/inf global norm; with ``False`` the gradients come back
            unchanged and the returned norm is non-finite (skip the step).

    Returns:
        ``(clipped, total_norm)``: new tensors in the inputs' dtypes, and the global norm before
        clipping (a 0-d tensor in at least float32).

    Raises:
        TypeError: a gradient is not a floating tensor.
        ValueError: ``gamma <= 0``, unknown ``mode``, or a non-finite norm with
            ``error_if_nonfinite``.

    Reference:
        Su Jianlin, 为什么梯度裁剪能加速训练过程？一个简明的分析, https://kexue.fm/archives/7469.

    Example:
        >>> (g,), n = clip_gradients([torch.tensor([3.0, 4.0])], 1.0, "soft")
        >>> g, n
        (tensor([0.5000, 0.6667]), tensor(5.))
    """
    items = _grads_of(grads, "grads")
    gamma, mode = _check_gamma(gamma), _check_mode(mode)
    coef, total = _coefficients(items, gamma, mode, per_parameter, eps)
    if not bool(torch.isfinite(total)):
        if error_if_nonfinite:
            raise _nonfinite(total, "grads")
        return [g.clone() for g in items], total
    return [g * c.to(g.dtype) for g, c in zip(items, coef, strict=True)], total


def _with_grad(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters[{i}] must be a torch.Tensor, got {type(p).__name__}")
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    gamma: float,
    mode: str = "hard",
    *,
    per_parameter: bool = False,
    eps: float = 1e-6,
    error_if_nonfinite: bool = True,
) -> Tensor:
    r"""Clip the ``.grad`` of parameters in place; hard mode equals ``torch.nn.utils.clip_grad_norm_``.

    Same maths as :func:`clip_gradients`; parameters without a gradient are ignored.

    Args:
        parameters: a tensor or an iterable of tensors with ``.grad``.
        gamma: the threshold :math:`\gamma>0` (``max_norm`` of torch's function).
        mode: ``"hard"`` or ``"soft"``.
        per_parameter: clip each tensor by its own norm.
        eps: see :func:`clip_coefficient`.
        error_if_nonfinite: raise on a NaN/inf norm (default, unlike torch); ``False`` leaves the
            gradients untouched and returns the non-finite norm, so the caller must skip the step.

    Returns:
        The global gradient norm before clipping (0-d tensor).

    Raises:
        TypeError: an item of ``parameters`` is not a tensor.
        ValueError: ``gamma <= 0``, unknown ``mode``, or a non-finite norm with
            ``error_if_nonfinite``.

    Reference:
        Su Jianlin, 为什么梯度裁剪能加速训练过程？一个简明的分析, https://kexue.fm/archives/7469.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(2))
        >>> w.grad = torch.tensor([3.0, 4.0])
        >>> clip_grad_norm_([w], 1.0, "hard", eps=0.0), w.grad
        (tensor(5.), tensor([0.6000, 0.8000]))
    """
    params = _with_grad(parameters)
    gamma, mode = _check_gamma(gamma), _check_mode(mode)
    grads = [p.grad for p in params if p.grad is not None]
    coef, total = _coefficients(grads, gamma, mode, per_parameter, eps)
    if not bool(torch.isfinite(total)):
        if error_if_nonfinite:
            raise _nonfinite(total, "the parameters' gradients")
        return total
    with torch.no_grad():
        for g, c in zip(grads, coef, strict=True):
            g.mul_(c.to(device=g.device, dtype=g.dtype))
    return total


class GradientClipper:
    r"""Clip an optimiser's gradients before each step, skipping (and counting) non-finite steps.

    ``clipper.step(optimizer)`` clips the gradients of every parameter of ``optimizer`` by their
    global norm with :func:`clip_grad_norm_` and calls ``optimizer.step()``; on a NaN/inf norm it
    raises (``nonfinite="raise"``) or skips the step, zeroes nothing, and increments
    :attr:`skipped_steps` (``nonfinite="skip"``, as loss-scaling trainers do).

    Args:
        gamma: the threshold :math:`\gamma>0`.
        mode: ``"hard"`` or ``"soft"`` (default: soft, the article's optimal step).
        per_parameter: clip each tensor by its own norm.
        nonfinite: ``"raise"`` or ``"skip"``.
        eps: see :func:`clip_coefficient`.

    Attributes:
        skipped_steps: how many steps were skipped for a non-finite norm.
        last_norm: the global norm seen by the last call (``None`` before the first).

    Reference:
        Su Jianlin, 为什么梯度裁剪能加速训练过程？一个简明的分析, https://kexue.fm/archives/7469.

    Example:
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.SGD([w], lr=1.0)
        >>> clipper = GradientClipper(1.0, "soft", nonfinite="skip")
        >>> w.grad = torch.tensor([float("nan"), 0.0])
        >>> clipper.step(opt), clipper.skipped_steps, w.detach()
        (False, 1, tensor([1., 1.]))
    """

    def __init__(
        self,
        gamma: float,
        mode: str = "soft",
        *,
        per_parameter: bool = False,
        nonfinite: str = "raise",
        eps: float = 1e-6,
    ) -> None:
        self.gamma = _check_gamma(gamma)
        self.mode = _check_mode(mode)
        if nonfinite not in _NONFINITE:
            raise ValueError(f"nonfinite must be one of {_NONFINITE}, got {nonfinite!r}")
        self.per_parameter = per_parameter
        self.nonfinite = nonfinite
        self.eps = check_positive(eps, "eps", allow_zero=True)
        self.skipped_steps = 0
        self.last_norm: Tensor | None = None

    def clip_(self, parameters: Tensor | Iterable[Tensor]) -> bool:
        """Clip in place; ``False`` (and one more skipped step) when the norm is not finite."""
        norm = clip_grad_norm_(
            parameters, self.gamma, self.mode, per_parameter=self.per_parameter,
            eps=self.eps, error_if_nonfinite=self.nonfinite == "raise",
        )  # fmt: skip
        self.last_norm = norm
        if not bool(torch.isfinite(norm)):
            self.skipped_steps += 1
            return False
        return True

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Clip the optimiser's gradients and step; returns whether the step was taken."""
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer)}")
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if not self.clip_(params):
            return False
        optimizer.step()
        return True

    def state_dict(self) -> dict[str, Any]:
        """The skip counter (hyper-parameters are constructor arguments)."""
        return {"skipped_steps": self.skipped_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.skipped_steps = int(state["skipped_steps"])

    def __repr__(self) -> str:
        return (
            f"GradientClipper(gamma={self.gamma}, mode={self.mode!r}, "
            f"per_parameter={self.per_parameter}, nonfinite={self.nonfinite!r})"
        )
