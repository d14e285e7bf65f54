"""Logit adjustment for long-tailed classification: the train-time loss and the post-hoc shift.

Article 7615 has the model fit :math:`\\log[p(y|x)/p(y)]` instead of :math:`\\log p(y|x)`, i.e. the
loss is cross-entropy on :math:`f+\\tau\\log\\pi`, and predicts with :math:`\\arg\\max f` (balanced
accuracy); article 7708 reads the same shift as a per-class margin :math:`m_y=-\\tau\\log\\pi_y`
*inside* the log, where plain class weights act outside it. The post-hoc variant trains plain CE and
predicts with :math:`\\arg\\max(f-\\tau\\log\\pi)`. Use one or the other, never both.
"""

from __future__ import annotations

import torch
from torch import nn

from kexue._validate import check_finite, check_floating, check_ndim, check_positive
from kexue.losses._classification import check_logits, compute_dtype
from kexue.losses.focal import softmax_focal_loss

__all__ = ["LogitAdjustedCrossEntropy", "log_prior", "logit_adjust", "logit_adjusted_cross_entropy"]


def log_prior(class_prior: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """Validated :math:`\\log\\pi` from class frequencies or counts (normalised to sum to one).

    Args:
        class_prior: positive class frequencies or counts.
        n_classes: the expected length C, if known.

    Shape:
        class_prior ``(C,)``; output ``(C,)``, in the compute dtype (float32 for half input).

    Returns:
        :math:`\\log\\pi_k = \\log c_k - \\log\\sum_j c_j`.

    Raises:
        TypeError: non-floating ``class_prior``.
        ValueError: ``class_prior`` not 1-D, of the wrong length, non-finite, or with an entry <= 0.

    Reference:
        通过互信息思想来缓解类别不平衡问题, https://kexue.fm/archives/7615.

    Example:
        >>> log_prior(torch.tensor([3.0, 1.0])).exp()
        tensor([0.7500, 0.2500])
    """
    pi = check_floating(class_prior, "class_prior")
    check_ndim(pi, "class_prior", 1, 1)
    if n_classes is not None and pi.shape[0] != n_classes:
        raise ValueError(
            f"class_prior must have one entry per class ({n_classes}), got {pi.shape[0]}"
        )
    check_finite(pi, "class_prior")
    if pi.numel() == 0 or bool((pi <= 0).any()):
        raise ValueError("class_prior must be non-empty with every entry > 0 (no empty class)")
    lp = pi.to(compute_dtype(pi)).log()
    return lp - torch.logsumexp(lp, dim=0)


def logit_adjust(logits: torch.Tensor, class_prior: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Post-hoc logit adjustment: :math:`f-\\tau\\log\\pi`, for balanced (per-class) prediction.

    .. math::
        \\hat y = \\arg\\max_y\\, f_y(x) - \\tau\\log\\pi_y

    Apply to a model trained with plain cross-entropy; do not apply to one trained with
    :func:`logit_adjusted_cross_entropy` (its raw logits already predict the balanced way).

    Args:
        logits: raw scores, classes last.
        class_prior: training class frequencies or counts (positive).
        tau: temperature τ ≥ 0 (τ = 1 is usually near-optimal).

    Shape:
        logits ``(*, C)``, class_prior ``(C,)``; output ``(*, C)``.

    Returns:
        The adjusted logits, in the dtype of ``logits``.

    Raises:
        TypeError: non-floating ``logits``/``class_prior``; non-real ``tau``.
        ValueError: empty/non-finite ``logits``; bad ``class_prior``; ``tau < 0``.

    Reference:
        通过互信息思想来缓解类别不平衡问题, https://kexue.fm/archives/7615;
        再谈类别不平衡问题, https://kexue.fm/archives/7708. Menon et al., "Long-tail learning
        via logit adjustment", ICLR 2021.

    Example:
        >>> f = torch.tensor([[1.0, 0.5]]); prior = torch.tensor([0.9, 0.1])
        >>> logit_adjust(f, prior).argmax(-1).item()  # the rare class wins after the shift
        1
    """
    x = check_logits(logits, min_ndim=1)
    lp = log_prior(class_prior, x.shape[-1])
    t = check_positive(tau, "tau", allow_zero=True)
    return (x.to(lp.dtype) - t * lp).to(x.dtype)


def logit_adjusted_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    class_prior: torch.Tensor,
    *,
    tau: float = 1.0,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """Logit-adjusted cross-entropy: cross-entropy on :math:`f+\\tau\\log\\pi`.

    .. math::
        \\ell = -\\log\\mathrm{softmax}(f+\\tau\\log\\pi)_y
              = \\log\\Big[1+\\sum_{i\\neq y}\\Big(\\frac{\\pi_i}{\\pi_y}\\Big)^{\\tau}e^{f_i-f_y}\\Big]

    Rare classes get a larger margin :math:`-\\tau\\log\\pi_y`. Predict with ``logits.argmax(-1)``
    for balanced accuracy (or ``logits + tau * log_prior(...)`` for overall accuracy).

    Args:
        logits: raw scores :math:`f`, classes last.
        target: integer class indices (``ignore_index`` entries skipped).
        class_prior: training class frequencies or counts (positive); normalised internally.
        tau: temperature τ ≥ 0; τ = 0 is plain cross-entropy.
        weight: optional non-negative per-class weights ``(C,)``.
        ignore_index: label value to skip.
        reduction: ``"mean"`` (weighted mean like ``F.cross_entropy``), ``"sum"`` or ``"none"``.

    Shape:
        logits ``(*, C)``, target ``(*)``, class_prior ``(C,)``; output ``(*)`` or ``()``.

    Returns:
        The loss, in the dtype of ``logits``.

    Raises:
        TypeError: non-floating ``logits``/``class_prior``/``weight``; non-integer ``target``.
        ValueError: empty/non-finite ``logits``; ``target`` of the wrong shape or out of range;
            bad ``class_prior``; ``tau < 0``; bad ``weight``; unknown ``reduction``.

    Reference:
        通过互信息思想来缓解类别不平衡问题, https://kexue.fm/archives/7615;
        再谈类别不平衡问题, https://kexue.fm/archives/7708. Menon et al., "Long-tail learning
        via logit adjustment", ICLR 2021.

    Example:
        >>> f = torch.zeros(1, 2); prior = torch.tensor([0.8, 0.2])
        >>> round(logit_adjusted_cross_entropy(f, torch.tensor([1]), prior).item(), 4)  # -log 0.2
        1.6094
    """
    x = check_logits(logits, min_ndim=1)
    lp = log_prior(class_prior, x.shape[-1])
    t = check_positive(tau, "tau", allow_zero=True)
    shifted = x.to(lp.dtype) + t * lp
    out = softmax_focal_loss(
        shifted, target, gamma=0.0, weight=weight, ignore_index=ignore_index, reduction=reduction
    )
    return out.to(x.dtype)


class LogitAdjustedCrossEntropy(nn.Module):
    """Module form of :func:`logit_adjusted_cross_entropy`; holds the class prior as a buffer.

    ``adjust(logits)`` applies the post-hoc shift :func:`logit_adjust` with the same prior.

    Reference:
        通过互信息思想来缓解类别不平衡问题, https://kexue.fm/archives/7615.

    Example:
        >>> crit = LogitAdjustedCrossEntropy(torch.tensor([0.8, 0.2]))
        >>> round(crit(torch.zeros(1, 2), torch.tensor([1])).item(), 4)
        1.6094
    """

    class_prior: torch.Tensor
    weight: torch.Tensor | None

    def __init__(
        self,
        class_prior: torch.Tensor,
        tau: float = 1.0,
        weight: torch.Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        log_prior(class_prior)  # validate early
        self.register_buffer("class_prior", class_prior)
        self.register_buffer("weight", weight)
        self.tau, self.ignore_index, self.reduction = tau, ignore_index, reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return logit_adjusted_cross_entropy(
            logits,
            target,
            self.class_prior,
            tau=self.tau,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )

    def adjust(self, logits: torch.Tensor) -> torch.Tensor:
        """Post-hoc adjusted logits :math:`f-\\tau\\log\\pi` (for a plain-CE model)."""
        return logit_adjust(logits, self.class_prior, self.tau)
