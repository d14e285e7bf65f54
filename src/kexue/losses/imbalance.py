"""Class imbalance: smooth accuracy → cross-entropy, smooth F1 → weighted CE, class re-weighting.

Article 7708 reads the usual losses as smoothed metrics whose gradients were rewritten with the
"axiom" :math:`\\nabla p\\to\\nabla\\log p` (and :math:`-\\nabla p\\to\\nabla\\log(1-p)` for negatives):
applied to smooth accuracy it gives cross-entropy, applied to smooth F1 it gives a cross-entropy that
weights positives by :math:`1-F_1/2` and negatives by :math:`F_1/2`. Focal loss
(:mod:`kexue.losses.focal`) and logit adjustment (:mod:`kexue.losses.logit_adjustment`) are the
softened and margin forms of the same idea; plain class weights are here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kexue._validate import (
    check_finite,
    check_ndim,
    check_nonempty,
    check_positive,
    check_reduction,
    check_tensor,
    reduce_loss,
)
from kexue.losses._classification import (
    check_binary_target,
    check_logits,
    check_unit_interval,
    compute_dtype,
)

__all__ = [
    "F1WeightedCrossEntropy",
    "class_balanced_weights",
    "f1_weighted_cross_entropy",
    "smooth_accuracy",
    "smooth_f1",
]


def smooth_accuracy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Smoothed binary accuracy, the metric whose "log-gradient" is cross-entropy.

    .. math::
        \\mathrm{ACC}_s = \\mathbb E\\,[y p + (1-y)(1-p)],\\qquad p=\\sigma(x)

    For one sample with y = 1 the gradient of :math:`-\\mathrm{ACC}_s` is :math:`-p(1-p)\\nabla x`,
    which vanishes at p → 0 (the worst error); replacing :math:`\\nabla p` by :math:`\\nabla\\log p`
    gives cross-entropy's :math:`-(1-p)\\nabla x`.

    Args:
        logits: raw scores :math:`x`.
        target: labels in ``[0, 1]``, same shape.

    Shape:
        logits, target ``(*)``; output ``()`` (mean over all elements).

    Returns:
        :math:`\\mathrm{ACC}_s\\in[0,1]`, in the dtype of ``logits``.

    Raises:
        TypeError: non-floating ``logits``.
        ValueError: empty/non-finite ``logits``; ``target`` of another shape or outside [0, 1].

    Reference:
        再谈类别不平衡问题：调节权重与魔改Loss的对比联系, https://kexue.fm/archives/7708.

    Example:
        >>> smooth_accuracy(torch.zeros(4), torch.tensor([0.0, 1.0, 1.0, 0.0])).item()
        0.5
    """
    x = check_logits(logits)
    y = check_binary_target(target, x)
    p = torch.sigmoid(x.to(compute_dtype(x)))
    return (y * p + (1 - y) * (1 - p)).mean().to(x.dtype)


def smooth_f1(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    dim: int | tuple[int, ...] | None = None,
    eps: float = 1e-12,
) -> torch.Tensor:
    """Smoothed F1 of the positive class over a batch (or along ``dim``).

    .. math::
        F_{1,s} = \\frac{2\\,\\mathbb E[y p]}{\\mathbb E[y + p]},\\qquad p=\\sigma(x)

    Args:
        logits: raw scores :math:`x`.
        target: labels in ``[0, 1]``, same shape.
        dim: the sample dimension(s) to average over; ``None`` = all (one F1 per batch).
        eps: added to the denominator (it is positive unless every y and p are 0).

    Shape:
        logits, target ``(*)``; output ``()``, or the shape without ``dim``.

    Returns:
        :math:`F_{1,s}\\in[0,1]`, differentiable, in the dtype of ``logits``.

    Raises:
        TypeError: non-floating ``logits``; non-real ``eps``.
        ValueError: empty/non-finite ``logits``; bad ``target``; ``eps < 0``.

    Reference:
        再谈类别不平衡问题：调节权重与魔改Loss的对比联系, https://kexue.fm/archives/7708.

    Example:
        >>> round(smooth_f1(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0])).item(), 4)  # 1/2
        0.5
    """
    x = check_logits(logits)
    y = check_binary_target(target, x)
    check_positive(eps, "eps", allow_zero=True)
    p = torch.sigmoid(x.to(compute_dtype(x)))
    if dim is None:
        return (2 * (y * p).sum() / ((y + p).sum() + eps)).to(x.dtype)
    return (2 * (y * p).sum(dim) / ((y + p).sum(dim) + eps)).to(x.dtype)


def f1_weighted_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    f1: float | torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Binary cross-entropy weighted by the smooth F1, derived from :math:`-F_{1,s}` (article 7708).

    .. math::
        \\ell = -\\big(1-\\tfrac{F_1}{2}\\big)\\,y\\log\\sigma(x)
                -\\tfrac{F_1}{2}\\,(1-y)\\log\\sigma(-x)

    The per-sample gradient of :math:`-F_{1,s}` is :math:`\\propto -(y-F_{1,s}/2)\\nabla p`; the
    :math:`\\nabla p\\to\\nabla\\log p` axiom turns it into this weighted CE, with :math:`F_1` a
    constant (no gradient). When few positives make the batch estimate noisy, pass an EMA as ``f1``
    (:class:`F1WeightedCrossEntropy` keeps one).

    Args:
        logits: raw scores :math:`x`.
        target: labels in ``[0, 1]``, same shape.
        f1: the constant :math:`F_1\\in[0,1]` (a float, or a tensor broadcastable to ``logits``
            for one constant per group, e.g. ``smooth_f1(x, y, dim=-1)[..., None]``); ``None``
            uses :func:`smooth_f1` of the whole batch, detached.
        reduction: ``"mean"`` (over elements), ``"sum"`` or ``"none"``.

    Shape:
        logits, target ``(*)``; output ``(*)`` or ``()``.

    Returns:
        The loss, in the dtype of ``logits``.

    Raises:
        TypeError: non-floating ``logits``; ``f1`` not a number or tensor.
        ValueError: empty/non-finite ``logits``; bad ``target``; ``f1`` outside [0, 1].

    Reference:
        再谈类别不平衡问题：调节权重与魔改Loss的对比联系, https://kexue.fm/archives/7708.

    Example:
        >>> x = torch.zeros(2); y = torch.tensor([1.0, 0.0])
        >>> round(f1_weighted_cross_entropy(x, y, f1=1.0).item(), 4)  # (0.5 + 0.5) log 2 / 2
        0.3466
    """
    x = check_logits(logits)
    y = check_binary_target(target, x)
    red = check_reduction(reduction)
    xc = x.to(compute_dtype(x))
    if f1 is None:
        p = torch.sigmoid(xc.detach())
        f = 2 * (y * p).sum() / ((y + p).sum() + 1e-12)
    elif isinstance(f1, torch.Tensor):
        try:
            shape = torch.broadcast_shapes(f1.shape, x.shape)
        except RuntimeError:
            shape = None
        if shape != x.shape:
            raise ValueError(
                f"f1 must be a scalar or broadcast to logits {tuple(x.shape)}, "
                f"got shape {tuple(f1.shape)}"
            )
        f = f1.detach().to(xc.dtype)
        if not bool(((f >= 0) & (f <= 1)).all()):
            raise ValueError("f1 must lie in [0, 1] (NaN or out-of-range values found)")
    else:
        f = torch.tensor(check_unit_interval(f1, "f1"), dtype=xc.dtype, device=xc.device)
    loss = (1 - f / 2) * y * F.softplus(-xc) + (f / 2) * (1 - y) * F.softplus(xc)
    return reduce_loss(loss, red).to(x.dtype)


class F1WeightedCrossEntropy(nn.Module):
    """:func:`f1_weighted_cross_entropy` with an exponential moving average of the batch F1.

    In training mode each call updates ``f1_ema`` (initialised by the first batch) with
    ``momentum`` and uses it as the constant F1; in eval mode the stored average is used.

    Args:
        momentum: weight of the old average, in ``[0, 1)`` (0 = batch estimate only).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Reference:
        再谈类别不平衡问题：调节权重与魔改Loss的对比联系, https://kexue.fm/archives/7708.

    Example:
        >>> crit = F1WeightedCrossEntropy(momentum=0.9)
        >>> _ = crit(torch.zeros(2), torch.tensor([1.0, 0.0]))
        >>> round(crit.f1_ema.item(), 4)  # 2 * 0.5 / (1 + 1)
        0.5
    """

    f1_ema: torch.Tensor
    initialised: torch.Tensor

    def __init__(self, momentum: float = 0.9, reduction: str = "mean") -> None:
        super().__init__()
        self.momentum = check_unit_interval(momentum, "momentum", closed_right=False)
        self.reduction = check_reduction(reduction)
        self.register_buffer("f1_ema", torch.zeros(()))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                batch = smooth_f1(logits, target)
                if bool(self.initialised):
                    self.f1_ema.mul_(self.momentum).add_((1 - self.momentum) * batch)
                else:  # the first batch sets the average (and its dtype/device)
                    self.f1_ema = batch.detach().clone()
                    self.initialised.fill_(True)
        return f1_weighted_cross_entropy(
            logits, target, f1=self.f1_ema.clamp(0, 1), reduction=self.reduction
        )


def class_balanced_weights(counts: torch.Tensor, *, beta: float | None = None) -> torch.Tensor:
    """Per-class loss weights from class counts: inverse frequency or "effective number".

    .. math::
        w_k = \\frac{N}{C\\,n_k}\\ (\\beta=\\text{None}),\\qquad
        w_k \\propto \\frac{1-\\beta}{1-\\beta^{n_k}},\\ \\sum_k w_k = C\\ (0\\le\\beta<1)

    The first is scikit-learn's ``compute_class_weight("balanced")`` (the :math:`1/p(y)` reweighting
    of article 7615's first family); the second is Cui et al.'s class-balanced weight (β = 0: all
    ones; β → 1: inverse frequency). Pass the result as ``weight=`` to the multi-class losses.
    Article 7708's point: such weights act *outside* the log, logit adjustment *inside* it.

    Args:
        counts: number of training samples per class, all > 0.
        beta: ``None`` for inverse frequency, else β ∈ [0, 1).

    Shape:
        counts ``(C,)``; output ``(C,)``.

    Returns:
        The weights, in the dtype of ``counts`` if floating, else the default dtype.

    Raises:
        TypeError: ``counts`` not a real tensor; non-real ``beta``.
        ValueError: ``counts`` not 1-D, empty, non-finite or with a class count <= 0; ``beta``
            outside [0, 1).

    Reference:
        再谈类别不平衡问题：调节权重与魔改Loss的对比联系, https://kexue.fm/archives/7708;
        通过互信息思想来缓解类别不平衡问题, https://kexue.fm/archives/7615. Cui et al.,
        "Class-Balanced Loss Based on Effective Number of Samples", CVPR 2019.

    Example:
        >>> class_balanced_weights(torch.tensor([30.0, 10.0]))
        tensor([0.6667, 2.0000])
    """
    c = check_tensor(counts, "counts")
    if c.is_complex() or c.dtype == torch.bool:
        raise TypeError(f"counts must be a real tensor, got dtype {c.dtype}")
    check_ndim(c, "counts", 1, 1)
    check_nonempty(c, "counts")
    c = c if c.is_floating_point() else c.to(torch.get_default_dtype())
    check_finite(c, "counts")
    if bool((c <= 0).any()):
        raise ValueError("counts must be > 0 for every class (drop empty classes first)")
    n_classes = c.numel()
    if beta is None:
        return c.sum() / (n_classes * c)
    b = check_unit_interval(beta, "beta", closed_right=False)
    cd = c.to(compute_dtype(c))
    # 1 - β^n = -expm1(n log β), accurate for β near 1
    eff = -torch.expm1(cd * torch.log(torch.tensor(b, dtype=cd.dtype))) if b > 0 else None
    w = torch.ones_like(cd) if eff is None else (1 - b) / eff
    return (w * n_classes / w.sum()).to(c.dtype)
