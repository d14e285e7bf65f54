"""The SimSiam loss: negative cosine between a predictor's output and a stopped-gradient target.

SimSiam trains an encoder :math:`f_\\theta` and a predictor :math:`h_\\varphi` on two augmented views
with :math:`\\mathcal L=\\tfrac12 D(p_1,\\mathrm{sg}[z_2])+\\tfrac12 D(p_2,\\mathrm{sg}[z_1])`,
:math:`p_i=h(f(T_ix))`, :math:`z_i=f(T_ix)`, :math:`D(p,z)=-\\cos(p,z)`. Article 7980 reads it as a
dynamical system: with the stop-gradient, the encoder's and the predictor's gradients share the factor
:math:`\\partial_h l`; the predictor sits near the output, moves fast, and drives that factor to zero
before the slow encoder can drift to the constant (collapsed) solution. Without the stop-gradient the
extra term :math:`\\partial_{f'}l\\,\\partial_\\theta f'` is a short cut to collapse. Pair the loss with
:class:`kexue.stats.collapse.CollapseMonitor` to watch for it.

Reference: https://kexue.fm/archives/7980
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kexue._validate import check_finite, check_floating, check_ndim, check_reduction, reduce_loss

__all__ = ["SimSiamLoss", "negative_cosine_similarity", "simsiam_loss"]


def _check_pair(p: object, z: object, names: tuple[str, str]) -> tuple[torch.Tensor, torch.Tensor]:
    pt = check_ndim(check_floating(p, names[0]), names[0], 1)
    zt = check_ndim(check_floating(z, names[1]), names[1], 1)
    if pt.shape != zt.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, "
            f"got {tuple(pt.shape)} and {tuple(zt.shape)}"
        )
    if pt.shape[-1] == 0 or pt.numel() == 0:
        raise ValueError(f"{names[0]} is empty (shape {tuple(pt.shape)}); pass at least one vector")
    check_finite(pt, names[0])
    check_finite(zt, names[1])
    return pt, zt


def negative_cosine_similarity(
    p: torch.Tensor,
    z: torch.Tensor,
    *,
    stop_gradient: bool = True,
    reduction: str = "mean",
    eps: float = 1e-8,
) -> torch.Tensor:
    """:math:`D(p, z)=-\\cos(p,\\mathrm{sg}[z])` over the last dimension.

    Args:
        p: predictor outputs ``(..., d)``.
        z: targets ``(..., d)`` (the other view's encoder output).
        stop_gradient: detach ``z`` (SimSiam); ``False`` lets the gradient flow into ``z`` too, the
            variant that collapses.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over the leading dimensions.
        eps: floor of the norms (a zero vector gives cosine 0, not NaN).

    Returns:
        The loss in ``[-1, 1]`` per pair (reduced as asked), dtype of ``p``.

    Reference: https://kexue.fm/archives/7980
    """
    check_reduction(reduction)
    pt, zt = _check_pair(p, z, ("p", "z"))
    if stop_gradient:
        zt = zt.detach()
    cos = F.cosine_similarity(pt, zt, dim=-1, eps=eps)
    return reduce_loss(-cos, reduction)


def simsiam_loss(
    p1: torch.Tensor,
    p2: torch.Tensor,
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    stop_gradient: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    """The symmetrised SimSiam loss :math:`\\tfrac12 D(p_1,\\mathrm{sg}[z_2])+\\tfrac12 D(p_2,\\mathrm{sg}[z_1])`.

    Args:
        p1, p2: predictor outputs of the two views, ``(batch, d)``.
        z1, z2: encoder outputs of the two views, same shape.
        stop_gradient: detach the targets (``False``: the collapsing variant without stop-gradient).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over the batch.

    Returns:
        The loss, minimum ``-1`` (every prediction aligned with the other view's target).

    Reference: https://kexue.fm/archives/7980
    """
    _check_pair(p1, z2, ("p1", "z2"))
    _check_pair(p2, z1, ("p2", "z1"))
    a = negative_cosine_similarity(p1, z2, stop_gradient=stop_gradient, reduction=reduction)
    b = negative_cosine_similarity(p2, z1, stop_gradient=stop_gradient, reduction=reduction)
    return 0.5 * (a + b)


class SimSiamLoss(nn.Module):
    """Module form of :func:`simsiam_loss`, called as ``loss(p1, p2, z1, z2)``.

    Reference: https://kexue.fm/archives/7980
    """

    def __init__(self, *, stop_gradient: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        self.stop_gradient = bool(stop_gradient)
        self.reduction = check_reduction(reduction)

    def forward(
        self, p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor
    ) -> torch.Tensor:
        return simsiam_loss(
            p1, p2, z1, z2, stop_gradient=self.stop_gradient, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"stop_gradient={self.stop_gradient}, reduction={self.reduction!r}"
