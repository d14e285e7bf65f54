"""Focal loss and its relatives: hard truncation, softened truncation (sigmoid and softmax forms).

Article 4733 derives the focal loss from a hard-truncated cross-entropy (stop updating samples already
on the right side of 0.5), softened by :math:`\\theta(x)=\\lim_{K\\to\\infty}\\sigma(Kx)`; with
:math:`K=\\gamma=1` the softened loss *is* the focal loss. All losses here take logits and work in
log-space (log-sigmoid / log-softmax), so the modulating factor :math:`(1-p_t)^\\gamma` is computed
as :math:`\\exp(\\gamma\\log(1-p_t))` and has a finite derivative even for :math:`0<\\gamma<1`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from kexue._validate import (
    check_finite,
    check_floating,
    check_positive,
    check_reduction,
    reduce_loss,
)
from kexue.losses._classification import (
    check_binary_target,
    check_class_target,
    check_class_weight,
    check_logits,
    check_unit_interval,
    compute_dtype,
    target_log_prob,
)

__all__ = [
    "HardTruncationLoss",
    "SigmoidFocalLoss",
    "SoftenedTruncationLoss",
    "SoftmaxFocalLoss",
    "hard_truncation_loss",
    "sigmoid_focal_loss",
    "softened_truncation_loss",
    "softmax_focal_loss",
]


def _elementwise_weight(weight: torch.Tensor | None, logits: torch.Tensor) -> torch.Tensor | None:
    if weight is None:
        return None
    w = check_floating(weight, "weight")
    try:
        shape = torch.broadcast_shapes(w.shape, logits.shape)
    except RuntimeError as exc:
        raise ValueError(
            f"weight of shape {tuple(w.shape)} does not broadcast to logits {tuple(logits.shape)}"
        ) from exc
    if shape != logits.shape:
        raise ValueError(f"weight of shape {tuple(w.shape)} would enlarge logits' shape")
    check_finite(w, "weight")
    if bool((w < 0).any()):
        raise ValueError(f"weight must be non-negative, got min {float(w.min())}")
    return w.to(compute_dtype(logits))


def _binary_ce(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # -y log σ(x) - (1-y) log σ(-x), with -log σ(x) = softplus(-x)
    return y * F.softplus(-x) + (1 - y) * F.softplus(x)


def sigmoid_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Binary (sigmoid) focal loss, elementwise over any shape.

    .. math::
        \\ell = -\\alpha_t\\,(1-p_t)^{\\gamma}\\log p_t,\\quad
        p_t = y\\sigma(x)+(1-y)(1-\\sigma(x)),\\quad \\alpha_t=\\alpha y+(1-\\alpha)(1-y)

    Same formula as torchvision's ``sigmoid_focal_loss`` (soft targets allowed), computed in
    log-space: :math:`\\log(1-p_t)` from log-sigmoids, so |x| = 100 stays finite. With
    ``gamma=0`` and ``alpha=None`` it is :func:`torch.nn.functional.binary_cross_entropy_with_logits`.
    Unlike torchvision, ``alpha=None`` (not a negative number) disables α and the default reduction
    is ``"mean"``.

    Args:
        logits: raw scores :math:`x`.
        target: labels in ``[0, 1]`` (hard or soft), same shape as ``logits``.
        gamma: focusing parameter :math:`\\gamma\\ge 0`.
        alpha: weight of positives in ``[0, 1]`` (negatives get ``1 - alpha``); ``None`` disables it.
            RetinaNet used 0.25 with γ = 2; the article suggests 0.5 without a tuning budget.
        weight: non-negative weights broadcastable to ``logits`` (e.g. per-class ``(C,)`` for
            multi-label), multiplied in like ``binary_cross_entropy_with_logits``'s ``weight``.
        reduction: ``"mean"`` (over all elements), ``"sum"`` or ``"none"``.

    Shape:
        logits, target ``(*)``; output ``(*)`` for ``"none"``, else ``()``.

    Returns:
        The loss, in the dtype of ``logits`` (half inputs are computed in float32).

    Raises:
        TypeError: non-tensor or non-floating ``logits``/``weight``; non-real ``gamma``/``alpha``.
        ValueError: empty or non-finite ``logits``; ``target`` of another shape or outside [0, 1];
            ``gamma < 0``; ``alpha`` outside [0, 1]; negative ``weight``; unknown ``reduction``.

    Reference:
        从loss的硬截断、软化到focal loss (From hard truncation and softening of the loss to focal loss),
        https://kexue.fm/archives/4733. Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.

    Example:
        >>> x = torch.tensor([2.0, -1.0]); y = torch.tensor([1.0, 0.0])
        >>> round(float(sigmoid_focal_loss(x, y, gamma=0.0)), 4)  # plain BCE
        0.2201
    """
    x = check_logits(logits)
    y = check_binary_target(target, x)
    g = check_positive(gamma, "gamma", allow_zero=True)
    a = None if alpha is None else check_unit_interval(alpha, "alpha")
    w = _elementwise_weight(weight, x)
    red = check_reduction(reduction)
    xc = x.to(compute_dtype(x))
    loss = _binary_ce(xc, y)
    if g != 0:
        yd = y.detach()
        # log(1 - p_t) = log[y σ(-x) + (1-y) σ(x)] in log-space
        log_1m_pt = torch.logaddexp(
            torch.log(yd) + F.logsigmoid(-xc), torch.log1p(-yd) + F.logsigmoid(xc)
        )
        loss = loss * torch.exp(g * log_1m_pt)
    if a is not None:
        loss = loss * (a * y + (1 - a) * (1 - y))
    if w is not None:
        loss = loss * w
    return reduce_loss(loss, red).to(x.dtype)


def softmax_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """Multi-class (softmax) focal loss, classes on the last dimension.

    .. math::
        \\ell = -w_t\\,(1-p_t)^{\\gamma}\\log p_t,\\qquad p=\\mathrm{softmax}(x)

    :math:`\\log(1-p_t)=\\operatorname{logsumexp}_{j\\neq t}x_j-\\operatorname{logsumexp}_j x_j`
    exactly, so the factor never underflows to a zero with an infinite derivative. With
    ``gamma=0`` it equals :func:`torch.nn.functional.cross_entropy` (same ``weight``,
    ``ignore_index`` and weighted-mean convention) on ``logits.movedim(-1, 1)``.

    Args:
        logits: raw scores, classes last.
        target: integer class indices; entries equal to ``ignore_index`` contribute nothing.
        gamma: focusing parameter :math:`\\gamma\\ge 0`.
        weight: non-negative per-class weights ``(C,)`` (the per-class α of other libraries).
        ignore_index: label value to skip.
        reduction: ``"mean"`` (divided by :math:`\\sum w_t` over kept targets, 0 if none),
            ``"sum"`` or ``"none"``.

    Shape:
        logits ``(*, C)`` with C ≥ 2, target ``(*)``; output ``(*)`` for ``"none"``, else ``()``.

    Returns:
        The loss, in the dtype of ``logits``.

    Raises:
        TypeError: non-floating ``logits``/``weight``; non-integer ``target``; non-real ``gamma``.
        ValueError: empty/non-finite ``logits`` or fewer than 2 classes; ``target`` of the wrong
            shape or out of range; ``gamma < 0``; ``weight`` negative or of the wrong shape.

    Reference:
        从loss的硬截断、软化到focal loss, https://kexue.fm/archives/4733 (multi-class form
        :math:`-(1-\\hat y_t)^\\gamma\\log\\hat y_t`). Lin et al., "Focal Loss for Dense Object
        Detection", ICCV 2017.

    Example:
        >>> x = torch.tensor([[2.0, 0.0, -1.0]]); t = torch.tensor([0])
        >>> round(float(softmax_focal_loss(x, t, gamma=2.0)), 5)  # (1-0.8438)^2 * 0.1698
        0.00414
    """
    x = check_logits(logits, min_ndim=1)
    if x.shape[-1] < 2:
        raise ValueError(
            f"logits must have at least 2 classes on the last dimension, got {x.shape}"
        )
    t = check_class_target(target, x, ignore_index)
    g = check_positive(gamma, "gamma", allow_zero=True)
    w = None if weight is None else check_class_weight(weight, "weight", x.shape[-1])
    red = check_reduction(reduction)
    logp = torch.log_softmax(x.to(compute_dtype(x)), dim=-1)  # (*, C)
    logp_t, w_t = target_log_prob(logp, t, w, ignore_index)  # (*), (*)
    loss = -logp_t
    if g != 0:
        safe = torch.where(t != ignore_index, t, torch.zeros_like(t)).unsqueeze(-1)
        others = logp.scatter(-1, safe, float("-inf"))  # drop the target class
        loss = loss * torch.exp(g * torch.logsumexp(others, dim=-1))  # (1 - p_t)^γ
    return reduce_loss(loss * w_t, red, w_t.sum()).to(x.dtype)


def softened_truncation_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    k: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """The article's softened hard-truncation loss (binary, elementwise).

    .. math::
        L'' = -y\\,\\sigma(-Kx)\\log\\sigma(x) - (1-y)\\,\\sigma(Kx)\\log\\sigma(-x)

    The step :math:`\\theta(\\mp x)` of :func:`hard_truncation_loss` is replaced by
    :math:`\\sigma(\\mp Kx)`, kept in the graph, so samples on the right side still receive a
    gradient telling them to stay there. For hard labels ``k=1`` equals
    :func:`sigmoid_focal_loss` with ``gamma=1``.

    Args:
        logits: raw scores :math:`x`.
        target: labels in ``[0, 1]``, same shape.
        k: steepness :math:`K>0` of the soft step.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shape:
        logits, target ``(*)``; output ``(*)`` or ``()``.

    Returns:
        The loss, in the dtype of ``logits``.

    Raises:
        TypeError: non-floating ``logits``; non-real ``k``.
        ValueError: empty/non-finite ``logits``; bad ``target``; ``k <= 0``; unknown ``reduction``.

    Reference:
        从loss的硬截断、软化到focal loss, https://kexue.fm/archives/4733.

    Example:
        >>> x = torch.tensor([0.0]); y = torch.tensor([1.0])
        >>> round(float(softened_truncation_loss(x, y, k=5.0)), 4)  # σ(0) log 2 / 1
        0.3466
    """
    x = check_logits(logits)
    y = check_binary_target(target, x)
    kk = check_positive(k, "k")
    red = check_reduction(reduction)
    xc = x.to(compute_dtype(x))
    loss = y * torch.sigmoid(-kk * xc) * F.softplus(-xc) + (1 - y) * torch.sigmoid(
        kk * xc
    ) * F.softplus(xc)
    return reduce_loss(loss, red).to(x.dtype)


def hard_truncation_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    margin: float = 0.5,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy switched off for samples already on the right side of ``margin``.

    .. math::
        L' = \\lambda(y,\\hat y)\\,L_{ce},\\quad \\lambda = 0 \\text{ if } (y=1,\\hat y>m)
        \\text{ or } (y=0,\\hat y<1-m),\\ \\text{else } 1

    The switch has zero derivative, which is the article's reason to soften it
    (:func:`softened_truncation_loss`). Soft targets weight the two branches by y and 1 - y.

    Args:
        logits: raw scores :math:`x`, :math:`\\hat y=\\sigma(x)`.
        target: labels in ``[0, 1]``, same shape.
        margin: threshold :math:`m\\in[0.5, 1)` (0.5 in the article; its earlier post used 0.6).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shape:
        logits, target ``(*)``; output ``(*)`` or ``()``.

    Returns:
        The loss, in the dtype of ``logits``.

    Raises:
        TypeError: non-floating ``logits``; non-real ``margin``.
        ValueError: empty/non-finite ``logits``; bad ``target``; ``margin`` outside [0.5, 1).

    Reference:
        从loss的硬截断、软化到focal loss, https://kexue.fm/archives/4733.

    Example:
        >>> x = torch.tensor([3.0, -3.0]); y = torch.tensor([1.0, 1.0])
        >>> hard_truncation_loss(x, y, reduction="none")[0].item()  # already right: no loss
        0.0
    """
    x = check_logits(logits)
    y = check_binary_target(target, x)
    m = check_unit_interval(margin, "margin", closed_right=False)
    if m < 0.5:
        raise ValueError(f"margin must lie in [0.5, 1), got {margin}")
    red = check_reduction(reduction)
    xc = x.to(compute_dtype(x))
    cut = math.log(m / (1 - m))  # σ(x) > m  ⇔  x > logit(m)
    on_pos = (xc <= cut).to(xc.dtype)  # λ for y = 1
    on_neg = (xc >= -cut).to(xc.dtype)  # λ for y = 0
    loss = y * on_pos * F.softplus(-xc) + (1 - y) * on_neg * F.softplus(xc)
    return reduce_loss(loss, red).to(x.dtype)


class SigmoidFocalLoss(nn.Module):
    """Module form of :func:`sigmoid_focal_loss`.

    Reference:
        从loss的硬截断、软化到focal loss, https://kexue.fm/archives/4733.

    Example:
        >>> round(SigmoidFocalLoss(gamma=2.0)(torch.zeros(3), torch.ones(3)).item(), 4)  # log(2)/4
        0.1733
    """

    def __init__(
        self, gamma: float = 2.0, alpha: float | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.gamma, self.alpha, self.reduction = gamma, alpha, reduction

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        return sigmoid_focal_loss(
            logits,
            target,
            gamma=self.gamma,
            alpha=self.alpha,
            weight=weight,
            reduction=self.reduction,
        )


class SoftmaxFocalLoss(nn.Module):
    """Module form of :func:`softmax_focal_loss`; holds the per-class ``weight`` as a buffer.

    Reference:
        从loss的硬截断、软化到focal loss, https://kexue.fm/archives/4733.

    Example:
        >>> loss = SoftmaxFocalLoss(gamma=0.0)(torch.zeros(2, 4), torch.tensor([1, 3]))
        >>> round(loss.item(), 4)  # log 4
        1.3863
    """

    weight: torch.Tensor | None

    def __init__(
        self,
        gamma: float = 2.0,
        weight: torch.Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.gamma, self.ignore_index, self.reduction = gamma, ignore_index, reduction
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return softmax_focal_loss(
            logits,
            target,
            gamma=self.gamma,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


class SoftenedTruncationLoss(nn.Module):
    """Module form of :func:`softened_truncation_loss`.

    Reference:
        从loss的硬截断、软化到focal loss, https://kexue.fm/archives/4733.

    Example:
        >>> round(SoftenedTruncationLoss(k=1.0)(torch.zeros(2), torch.ones(2)).item(), 4)
        0.3466
    """

    def __init__(self, k: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.k, self.reduction = k, reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return softened_truncation_loss(logits, target, k=self.k, reduction=self.reduction)


class HardTruncationLoss(nn.Module):
    """Module form of :func:`hard_truncation_loss`.

    Reference:
        从loss的硬截断、软化到focal loss, https://kexue.fm/archives/4733.

    Example:
        >>> round(HardTruncationLoss()(torch.tensor([-1.0]), torch.ones(1)).item(), 4)
        1.3133
    """

    def __init__(self, margin: float = 0.5, reduction: str = "mean") -> None:
        super().__init__()
        self.margin, self.reduction = margin, reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return hard_truncation_loss(logits, target, margin=self.margin, reduction=self.reduction)
