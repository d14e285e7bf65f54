"""Multi-label "softmax + cross-entropy" (ZLPR): dense, soft-label and sparse forms.

Every positive class must score above a fixed threshold class of score 0 and every negative below it,

.. math::
    \\mathcal L=\\log\\Big(1+\\sum_{i\\in\\Omega_-}e^{s_i}\\Big)+\\log\\Big(1+\\sum_{j\\in\\Omega_+}e^{-s_j}\\Big),

so a sample's labels are the classes with :math:`s_i>0` — no per-class threshold to tune, no class
weights. The soft-label form (article 9064) replaces the sets by weights :math:`t_i` and
:math:`1-t_i`; its optimum is :math:`t_i=\\sigma(2s_i)`. The sparse form (article 8888) takes the
positive class ids instead of a multi-hot matrix.

Conventions: logits first, targets second (like ``torch.nn`` losses and bert4torch; bert4keras takes
``(y_true, y_pred)``); classes on the last dimension, any leading dimensions are samples (flatten
GlobalPointer's ``(B, heads, n, n)`` scores to ``(B, heads, n*n)``); half inputs are computed in
float32 and the loss is cast back; a logit of ``-inf`` marks a masked-out class (allowed, it is
neither positive nor counted as negative), NaN and ``+inf`` are rejected.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import FunctionCtx, once_differentiable

from kexue._validate import check_floating, check_ndim, check_nonempty, check_tensor
from kexue._validate import check_reduction as _check_reduction
from kexue._validate import compute_dtype as _compute_dtype
from kexue._validate import reduce_loss as _reduce_loss

__all__ = [
    "MultilabelCrossEntropy",
    "SparseMultilabelCrossEntropy",
    "multilabel_categorical_crossentropy",
    "multilabel_predict",
    "multilabel_probabilities",
    "sparse_multilabel_categorical_crossentropy",
]

# exp() arguments are kept >= -80: e^-80 is still a normal float32 (subnormal results are ~10-100x
# slower on x86 CPUs), and terms below e^-80 of a sum that is >= 1 are below float64 precision.
_EXP_FLOOR = -80.0


def _check_logits(logits: object) -> tuple[torch.Tensor, bool]:
    """The logits and whether they hold any (allowed) ``-inf``."""
    s = check_floating(logits, "logits")
    check_ndim(s, "logits", 1)
    check_nonempty(s, "logits")
    if math.isfinite(float(s.detach().sum())):  # one cheap reduction; overflow just falls through
        return s, False
    bad = torch.isnan(s) | torch.isposinf(s)
    if bool(bad.any()):
        raise ValueError(
            f"logits contains {int(bad.sum())} NaN or +inf value(s) "
            "(-inf is allowed and marks a masked-out class)"
        )
    return s, True


def _log1p_sum_exp(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``log(1 + sum_i w_i e^{x_i})`` over the last dim; ``w >= 0`` and ``w = 0`` drops a term."""
    neg_inf = torch.full((), -math.inf, dtype=x.dtype, device=x.device)
    m = torch.where(w > 0, x, neg_inf).amax(-1, keepdim=True).clamp_min(0).detach()  # (*, 1)
    # clamp(.., 0): dropped +inf entries give 0 * 1, not 0 * inf; see _EXP_FLOOR for the lower end
    e = (x - m).clamp_(_EXP_FLOOR, 0.0).exp_().mul_(w)  # no autograd here: called in forward()
    m = m[..., 0]
    return m + torch.log(torch.exp(-m) + e.sum(-1))


def _dense_weights(
    t: torch.Tensor, m: torch.Tensor | None, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive-term weights ``t`` and negative-term weights ``1 - t``, zero where masked."""
    t = t.to(dtype)
    w_pos, w_neg = t, 1 - t
    if m is not None:
        w_pos, w_neg = w_pos * m, w_neg * m
    return w_pos, w_neg


def _exp_rows(z: torch.Tensor) -> torch.Tensor:
    """``e^z`` for the backward passes: 0 below the floor, capped above (those get weight 0)."""
    return torch.exp(z.clamp(_EXP_FLOOR, -_EXP_FLOOR)).masked_fill_(z < _EXP_FLOOR, 0.0)


class _DenseZLPR(torch.autograd.Function):
    """ZLPR from (soft) multi-hot targets; backward recomputes from the inputs, saving no (*, C)."""

    @staticmethod
    def forward(
        ctx: FunctionCtx, s: torch.Tensor, t: torch.Tensor, m: torch.Tensor | None
    ) -> torch.Tensor:
        w_pos, w_neg = _dense_weights(t, m, s.dtype)
        pos_lse = _log1p_sum_exp(-s, w_pos)
        neg_lse = _log1p_sum_exp(s, w_neg)
        ctx.save_for_backward(s, t, pos_lse, neg_lse)
        ctx.mask = m  # type: ignore[attr-defined]  # an input (or None): no reference cycle
        return pos_lse + neg_lse

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        s, t, pos_lse, neg_lse = ctx.saved_tensors  # type: ignore[attr-defined]
        m = ctx.mask  # type: ignore[attr-defined]
        g = grad[..., None]
        e_pos = _exp_rows(-s - pos_lse[..., None])  # e^{-s_i} / (1 + sum_j t_j e^{-s_j})
        e_neg = _exp_rows(s - neg_lse[..., None])  # e^{s_i} / (1 + sum_j (1 - t_j) e^{s_j})
        w_pos, w_neg = _dense_weights(t, m, s.dtype)
        grad_s = (w_neg * e_neg - w_pos * e_pos) * g
        grad_t = None
        if ctx.needs_input_grad[1]:  # type: ignore[attr-defined]
            grad_t = (e_pos - e_neg) * g
            grad_t = (grad_t if m is None else grad_t * m).to(t.dtype)
        return grad_s, grad_t, None


def _check_dense_targets(targets: object, logits: torch.Tensor) -> torch.Tensor:
    t = check_tensor(targets, "targets")
    if t.shape != logits.shape:
        raise ValueError(
            f"targets must have the shape of logits {tuple(logits.shape)}, got {tuple(t.shape)}"
        )
    if t.is_complex():
        raise TypeError(f"targets must be real (bool, integer or floating), got {t.dtype}")
    if t.dtype == torch.bool:
        return t
    lo, hi = torch.aminmax(t)
    if not (bool(lo >= 0) and bool(hi <= 1)):  # NaN fails both
        if t.is_floating_point():
            raise ValueError("targets must lie in [0, 1] (soft labels) and contain no NaN")
        raise ValueError("integer targets must be 0 or 1 (multi-hot); pass ids to the sparse form")
    return t


def multilabel_categorical_crossentropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Multi-label "softmax + cross-entropy" (ZLPR) with multi-hot or soft targets.

    .. math::
        \\ell=\\log\\Big(1+\\sum_i t_i e^{-s_i}\\Big)+\\log\\Big(1+\\sum_i(1-t_i)e^{s_i}\\Big),

    which for :math:`t\\in\\{0,1\\}^C` is :math:`\\log(1+\\sum_{\\Omega_-}e^{s_i})+
    \\log(1+\\sum_{\\Omega_+}e^{-s_j})`. Computed as two max-shifted log-sum-exps over the appended
    0 class with the weights :math:`t_i`, :math:`1-t_i` multiplying the exponentials: entries with
    :math:`t_i=0` (or :math:`1`) drop out exactly, without the article's :math:`\\epsilon`-clipping
    of :math:`\\log t_i`, so masked logits of ``-inf`` stay finite and fp16 never sees a 1e12
    constant. The backward pass recomputes the gradient from the inputs, so no ``(*, C)``
    intermediate is kept for it (first derivatives only: not twice differentiable).

    Args:
        logits: raw scores ``s`` (no sigmoid/softmax before the loss); ``-inf`` masks a class.
        targets: multi-hot labels (bool, or integer/floating 0/1) or soft labels in ``[0, 1]``.
        mask: optional bool tensor broadcastable to ``logits``; ``False`` entries are ignored
            (neither positive nor negative), e.g. padded token pairs.
        reduction: ``"mean"`` (over samples), ``"sum"`` or ``"none"``.

    Shape:
        logits, targets: ``(*, C)``; output: ``()`` or ``(*)`` for ``reduction="none"``.

    Returns:
        The loss, in the dtype of ``logits``.

    Raises:
        TypeError: non-floating ``logits``, complex ``targets``, non-bool ``mask``.
        ValueError: NaN/+inf ``logits``; ``targets`` of another shape or outside ``[0, 1]``
            (``{0, 1}`` for integers); a positive target on a ``-inf`` logit; bad ``reduction``.

    Reference:
        Su Jianlin, "将“Softmax+交叉熵”推广到多标签分类问题", https://kexue.fm/archives/7359 ;
        Su Jianlin, "多标签“Softmax+交叉熵”的软标签版本", https://kexue.fm/archives/9064 ;
        Su et al., "ZLPR: A Novel Loss for Multi-label Classification", arXiv:2208.02955.

    Example:
        >>> s = torch.tensor([[2.0, -1.0, 0.5]])
        >>> y = torch.tensor([[1.0, 0.0, 1.0]])
        >>> round(float(multilabel_categorical_crossentropy(s, y)), 4)
        0.8682
    """
    s, has_neg_inf = _check_logits(logits)
    reduction = _check_reduction(reduction)
    t = _check_dense_targets(targets, s)
    s = s.to(_compute_dtype(s))
    m: torch.Tensor | None = None
    if mask is not None:
        m = check_tensor(mask, "mask")
        if m.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor, got {m.dtype}")
        try:
            m = m.expand_as(s)
        except RuntimeError as exc:
            raise ValueError(
                f"mask of shape {tuple(m.shape)} does not broadcast to logits {tuple(s.shape)}"
            ) from exc
    if has_neg_inf:
        w_pos, _ = _dense_weights(t, m, s.dtype)
        if bool(((w_pos > 0) & torch.isneginf(s)).any()):
            raise ValueError(
                "targets marks a class positive whose logit is -inf (masked); unmask it"
            )
    loss = _DenseZLPR.apply(s, t, m)
    return _reduce_loss(loss, reduction).to(logits.dtype)


class _SparseZLPR(torch.autograd.Function):
    """ZLPR from positive ids; saves no (N, C) tensor for backward (one transient copy)."""

    @staticmethod
    def forward(
        ctx: FunctionCtx, s: torch.Tensor, idx: torch.Tensor, valid: torch.Tensor
    ) -> torch.Tensor:
        n = s.shape[0]
        rows = torch.arange(n, device=s.device)[:, None].expand_as(idx)[valid]
        cols = idx[valid]
        neg_inf = torch.full((), -math.inf, dtype=s.dtype, device=s.device)
        pos = torch.where(valid, -s.gather(-1, idx), neg_inf)  # (N, K)
        pos_lse = torch.logsumexp(torch.cat([pos, s.new_zeros((n, 1))], -1), -1)
        # negatives: the logits with the positives removed; exact, unlike a + log(1 - e^{b-a})
        z = s.clone()  # (N, C), freed after forward
        z[rows, cols] = -math.inf
        big = z.amax(-1, keepdim=True).clamp_min(0.0)  # (N, 1)
        z.sub_(big).clamp_(_EXP_FLOOR, 0.0).exp_()
        z[rows, cols] = 0.0
        big = big[:, 0]
        neg_lse = big + torch.log(torch.exp(-big) + z.sum(-1))
        ctx.save_for_backward(s, idx, valid, pos_lse, neg_lse)
        return pos_lse + neg_lse

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        s, idx, valid, pos_lse, neg_lse = ctx.saved_tensors  # type: ignore[attr-defined]
        g = grad[:, None]
        z = s - neg_lse[:, None]  # negatives: grad = e^{s_i} / (1 + sum_neg e^s) = e^z, z <= 0
        below = z < _EXP_FLOOR
        out = z.clamp_(_EXP_FLOOR, 0.0).exp_().masked_fill_(below, 0.0).mul_(g)
        # positives: grad = -e^{-s_j} / (1 + sum_pos e^{-s}), written over the negatives' formula
        g_pos = -torch.exp(-s.gather(-1, idx) - pos_lse[:, None]) * g  # (N, K)
        rows = torch.arange(s.shape[0], device=s.device)[:, None].expand_as(idx)
        out[rows[valid], idx[valid]] = g_pos[valid]
        return out, None, None


def sparse_multilabel_categorical_crossentropy(
    logits: torch.Tensor,
    positive_ids: torch.Tensor,
    *,
    pad_id: int = -1,
    reduction: str = "mean",
) -> torch.Tensor:
    """ZLPR multi-label loss from the positive class ids, without a multi-hot matrix.

    Same value as :func:`multilabel_categorical_crossentropy` with the multi-hot targets of
    ``positive_ids``. The article writes the negative term as :math:`a+\\log(1-e^{b-a})`,
    :math:`a=\\log(1+\\sum_{\\rm all}e^{s_i})`, :math:`b=\\log\\sum_{\\Omega_+}e^{s_j}`, which
    cancels catastrophically where positives dominate (a trained model): NaN, or once
    :math:`1-e^{b-a}` is clipped, an error of ~17 in float32 and even a negative loss. Here the
    negatives' log-sum-exp is taken over a transient copy of the logits with the positives set to
    :math:`-\\infty`, which is exact. Duplicate ids count once and ``pad_id`` slots are ignored.
    Backward recomputes the gradient from the logits, so nothing of size ``(N, C)`` is kept
    between forward and backward.

    Args:
        logits: raw scores; ``-inf`` masks a class.
        positive_ids: integer class ids of the positives, padded with ``pad_id`` to a fixed width.
        pad_id: the padding value (any integer; a valid class id used as padding is ignored).
        reduction: ``"mean"`` (over samples), ``"sum"`` or ``"none"``.

    Shape:
        logits: ``(*, C)``; positive_ids: ``(*, K)`` with ``K >= 0``; output ``()`` or ``(*)``.

    Returns:
        The loss, in the dtype of ``logits``.

    Raises:
        TypeError: non-floating ``logits``; ``positive_ids`` not an integer tensor; non-int
            ``pad_id``.
        ValueError: NaN/+inf ``logits``; ``positive_ids`` with other leading dimensions or ids
            outside ``[0, C)`` other than ``pad_id``; a positive on a ``-inf`` logit; bad
            ``reduction``.

    Reference:
        Su Jianlin, "GPLinker：基于GlobalPointer的实体关系联合抽取" (sparse version), https://kexue.fm/archives/8888 ;
        Su Jianlin, "将“Softmax+交叉熵”推广到多标签分类问题", https://kexue.fm/archives/7359 .

    Example:
        >>> s = torch.tensor([[2.0, -1.0, 0.5]])
        >>> ids = torch.tensor([[0, 2, -1]])
        >>> round(float(sparse_multilabel_categorical_crossentropy(s, ids)), 4)
        0.8682
    """
    s, has_neg_inf = _check_logits(logits)
    reduction = _check_reduction(reduction)
    ids = check_tensor(positive_ids, "positive_ids")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"positive_ids must be an integer tensor of class ids, got {ids.dtype}")
    if isinstance(pad_id, bool) or not isinstance(pad_id, int):
        raise TypeError(f"pad_id must be an int, got {type(pad_id).__name__}")
    if ids.ndim != s.ndim or ids.shape[:-1] != s.shape[:-1]:
        raise ValueError(
            f"positive_ids must have shape (*, K) with * = {tuple(s.shape[:-1])} of logits, "
            f"got {tuple(ids.shape)}"
        )
    c = s.shape[-1]
    ids = ids.long()
    is_pad = ids == pad_id
    if bool((((ids < 0) | (ids >= c)) & ~is_pad).any()):
        raise ValueError(f"positive_ids must lie in [0, {c}) or equal pad_id={pad_id}")
    dtype = _compute_dtype(s)
    lead = s.shape[:-1]
    s2 = s.to(dtype).reshape(-1, c)  # (N, C)
    ids2 = (
        ids.masked_fill(is_pad, c).reshape(s2.shape[0], ids.shape[-1]).sort(-1).values
    )  # pads sort last
    valid = ids2 < c
    valid[:, 1:] &= ids2[:, 1:] != ids2[:, :-1]  # duplicates count once
    idx = torch.where(valid, ids2, 0)
    if has_neg_inf and bool((torch.isneginf(s2.gather(-1, idx)) & valid).any()):
        raise ValueError("positive_ids names a class whose logit is -inf (masked); unmask it")
    loss = _SparseZLPR.apply(s2, idx, valid).reshape(lead)
    return _reduce_loss(loss, reduction).to(logits.dtype)


def multilabel_predict(logits: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Predicted label set of a ZLPR model: the classes scoring above ``threshold`` (0).

    .. math:: \\hat y_i = [s_i > \\tau],\\qquad \\tau = 0

    Args:
        logits: raw scores of a model trained with the ZLPR loss.
        threshold: decision threshold :math:`\\tau`; the loss builds in 0, so keep the default.

    Shape:
        logits: ``(*, C)``; output: same shape, bool.

    Returns:
        A bool tensor, ``True`` for predicted labels.

    Raises:
        TypeError: non-floating ``logits`` or non-real ``threshold``.
        ValueError: NaN in ``logits`` or a NaN ``threshold``.

    Reference:
        Su Jianlin, "将“Softmax+交叉熵”推广到多标签分类问题", https://kexue.fm/archives/7359

    Example:
        >>> multilabel_predict(torch.tensor([[2.0, -1.0, 0.5]]))
        tensor([[ True, False,  True]])
    """
    s = check_floating(logits, "logits")
    if bool(torch.isnan(s).any()):
        raise ValueError(f"logits contains {int(torch.isnan(s).sum())} NaN value(s)")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise TypeError(f"threshold must be a real number, got {type(threshold).__name__}")
    if math.isnan(threshold):
        raise ValueError("threshold must not be NaN")
    return s > threshold


def multilabel_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Per-class probabilities implied by ZLPR scores, :math:`\\sigma(2s_i)` (not :math:`\\sigma(s_i)`).

    The soft-label loss is minimised where :math:`t_ie^{-s_i}=(1-t_i)e^{s_i}`, i.e.
    :math:`t_i=\\sigma(2s_i)`; a score of 0 is probability 1/2.

    Args:
        logits: raw scores of a model trained with the ZLPR loss.

    Shape:
        logits: ``(*, C)``; output: same shape and dtype.

    Returns:
        Probabilities in ``[0, 1]``.

    Raises:
        TypeError: non-floating ``logits``.
        ValueError: NaN in ``logits``.

    Reference:
        Su Jianlin, "多标签“Softmax+交叉熵”的软标签版本", https://kexue.fm/archives/9064

    Example:
        >>> multilabel_probabilities(torch.tensor([0.0, 1.0]))
        tensor([0.5000, 0.8808])
    """
    s = check_floating(logits, "logits")
    if bool(torch.isnan(s).any()):
        raise ValueError(f"logits contains {int(torch.isnan(s).sum())} NaN value(s)")
    return torch.sigmoid(2 * s.to(_compute_dtype(s))).to(s.dtype)


class MultilabelCrossEntropy(nn.Module):
    """Module form of :func:`multilabel_categorical_crossentropy` (``forward(logits, targets)``).

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Reference:
        Su Jianlin, "将“Softmax+交叉熵”推广到多标签分类问题", https://kexue.fm/archives/7359

    Example:
        >>> loss = MultilabelCrossEntropy()
        >>> round(float(loss(torch.zeros(2, 4), torch.zeros(2, 4))), 4)  # log(1 + 4)
        1.6094
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return multilabel_categorical_crossentropy(
            logits, targets, mask=mask, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class SparseMultilabelCrossEntropy(nn.Module):
    """Module form of :func:`sparse_multilabel_categorical_crossentropy` (``forward(logits, ids)``).

    Args:
        pad_id: the value padding ``positive_ids`` to a fixed width.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Reference:
        Su Jianlin, "GPLinker：基于GlobalPointer的实体关系联合抽取" (sparse version), https://kexue.fm/archives/8888

    Example:
        >>> loss = SparseMultilabelCrossEntropy(pad_id=-1)
        >>> round(float(loss(torch.zeros(1, 4), torch.tensor([[1, -1]]))), 4)  # log 2 + log 4
        2.0794
    """

    def __init__(self, pad_id: int = -1, reduction: str = "mean") -> None:
        super().__init__()
        if isinstance(pad_id, bool) or not isinstance(pad_id, int):
            raise TypeError(f"pad_id must be an int, got {type(pad_id).__name__}")
        self.pad_id = pad_id
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: torch.Tensor, positive_ids: torch.Tensor) -> torch.Tensor:
        return sparse_multilabel_categorical_crossentropy(
            logits, positive_ids, pad_id=self.pad_id, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"pad_id={self.pad_id}, reduction={self.reduction!r}"
