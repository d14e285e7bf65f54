r"""Entropy-invariant attention: ``softmax_plus`` on already-scaled logits, and attention entropy.

The entropy of an attention row grows like :math:`\log n` with the number :math:`n` of keys it sees,
so a model trained at one length attends more diffusely at longer ones. Multiplying the usual
:math:`1/\sqrt d` logits by :math:`\log_{512}n` (Attention-E) slows that growth while leaving
attention at :math:`n=512` unchanged:

.. math::
    \mathrm{softmax}\Big(\frac{\log_{512} n}{\sqrt d}\,QK^\top\Big)V .

The full attention core is :class:`kexue.transformer.attention.SoftmaxAttention` with
``scale="entropy_invariant"`` (the per-query factor :func:`entropy_invariant_factor`
folded into ``q``); this module adds the normaliser alone, :func:`softmax_plus` (bert4keras
``attention_normalize(method='softmax_plus')``), for code that builds its own logits, and
:func:`attention_entropy` to measure :math:`H_i=-\sum_j a_{ij}\log a_{ij}`.

Reference:
    Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823 ;
    Su Jianlin, "熵不变性Softmax的一个快速推导", https://kexue.fm/archives/9034
"""

from __future__ import annotations

import math

import torch
from torch import nn

from kexue._validate import check_finite, check_floating, check_ndim, check_nonempty, check_tensor
from kexue.transformer._attention_ops import masked_softmax

__all__ = ["SoftmaxPlus", "attention_entropy", "entropy_invariant_factor", "softmax_plus"]


def entropy_invariant_factor(
    mask: torch.Tensor | None,
    n_keys: int,
    *,
    base: float = 512.0,
    min_keys: int = 16,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    r"""Per-query logit multiplier :math:`\log_{\text{base}}\max(n, n_{\min})` of entropy-invariant attention.

    Multiplying the usual :math:`1/\sqrt d` logits by it gives Attention-E,
    :math:`\mathrm{softmax}(\log_{512}n\,QK^\top/\sqrt d)`, which equals standard attention when a
    query sees :math:`n=512` keys. :math:`n` counts the keys the query may attend (padding
    excluded); it is clipped below at ``min_keys`` (bert4keras ``softmax_plus`` uses 16) because
    down-scaling very short sequences hurts.

    Args:
        mask: ``None`` (every query sees ``n_keys`` keys) or a bool 4-D mask from
            :func:`normalize_mask`.
        n_keys: the number of keys :math:`T_k`.
        base: the length at which the factor is 1. min_keys: lower clip for :math:`n`.
        dtype: floating dtype of the result.

    Shape:
        ``(B|1, H|1, Tq|1, 1)`` for a 4-D mask; a 0-d tensor when ``mask`` is ``None``.

    Returns:
        the factor, to multiply into ``q`` (a per-row constant, so fused attention still applies).

    Raises:
        TypeError: non-int ``n_keys``/``min_keys``; ``mask`` not a 4-D bool tensor.
        ValueError: ``n_keys < 1``, ``min_keys < 1`` or ``base <= 1``.

    Reference:
        Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823

    Example:
        >>> entropy_invariant_factor(None, 512)
        tensor(1.)
    """
    for val, name, low in ((n_keys, "n_keys", 1), (min_keys, "min_keys", 1)):
        if isinstance(val, bool) or not isinstance(val, int):
            raise TypeError(f"{name} must be an int, got {type(val).__name__}")
        if val < low:
            raise ValueError(f"{name} must be >= {low}, got {val}")
    if not base > 1:
        raise ValueError(f"base must be > 1, got {base}")
    if mask is not None and (check_tensor(mask, "mask").dtype != torch.bool or mask.ndim != 4):
        raise TypeError(f"mask must be a 4-D bool tensor (see normalize_mask), got {mask.dtype}")
    if mask is None:
        n = torch.tensor(float(n_keys), dtype=dtype)
    else:
        counts = mask.sum(-1, keepdim=True, dtype=dtype)  # (B|1, H|1, Tq|1, 1)
        n = counts if mask.shape[-1] == n_keys else counts * n_keys  # broadcast key dim of 1
    return n.clamp(min=float(min_keys)).log() / math.log(base)


def _check_mask(mask: object, scores: torch.Tensor) -> torch.Tensor | None:
    if mask is None:
        return None
    m = check_tensor(mask, "mask")
    if m.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = attend), got {m.dtype}")
    try:
        ok = torch.broadcast_shapes(m.shape, scores.shape) == scores.shape
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"mask of shape {tuple(m.shape)} does not broadcast to scores {tuple(scores.shape)}"
        )
    return m


def softmax_plus(
    scores: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    base: float = 512.0,
    min_keys: int = 16,
) -> torch.Tensor:
    r"""Entropy-invariant softmax over the last dim: :math:`\mathrm{softmax}(\log_{b}\max(n, n_{\min})\,s)`.

    ``scores`` are logits already multiplied by :math:`1/\sqrt d`; :math:`n` is the number of keys
    each row may attend (``mask`` True entries; all of the last dim without a mask), clipped below
    at ``min_keys`` because down-scaling very short rows hurts (bert4keras uses 16). At
    :math:`n=b` it equals the plain softmax. Masked keys get probability exactly 0; a fully masked
    row gives zeros.

    Args:
        scores: floating ``(..., Tk)`` logits (:math:`QK^\top/\sqrt d`).
        mask: ``None`` or bool, broadcastable to ``scores``; True = may attend.
        base: the length :math:`b` at which the factor is 1 (the training length the usual
            :math:`1/\sqrt d` is tuned for). min_keys: lower clip for :math:`n`.

    Shape:
        output: the shape of ``scores``.

    Returns:
        probabilities over the last dim, dtype of ``scores`` (computed in float32 for half inputs).

    Raises:
        TypeError: non-floating ``scores``, non-bool ``mask``, non-int ``min_keys``.
        ValueError: empty or non-finite ``scores``, bad ``mask`` shape, ``base <= 1``,
            ``min_keys < 1``.

    Reference:
        Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823 ;
        bert4keras ``backend.attention_normalize(method='softmax_plus')``.

    Example:
        >>> p = softmax_plus(torch.tensor([0.0, 1.0]), min_keys=1)  # n = 2: factor log(2)/log(512)
        >>> torch.allclose(p, torch.softmax(torch.tensor([0.0, 1.0]) / 9, -1))
        True
    """
    s = check_finite(
        check_nonempty(check_ndim(check_floating(scores, "scores"), "scores", 1), "scores"),
        "scores",
    )
    m = _check_mask(mask, s)
    if isinstance(min_keys, bool) or not isinstance(min_keys, int):
        raise TypeError(f"min_keys must be an int, got {type(min_keys).__name__}")
    if min_keys < 1:
        raise ValueError(f"min_keys must be >= 1, got {min_keys}")
    if isinstance(base, bool) or not isinstance(base, int | float) or not base > 1:
        raise ValueError(f"base must be a number > 1, got {base!r}")
    x = s.float() if s.dtype in (torch.float16, torch.bfloat16) else s
    if m is None:
        n = torch.full((*x.shape[:-1], 1), float(x.shape[-1]), dtype=x.dtype, device=x.device)
    else:
        n = m.expand(x.shape).sum(-1, keepdim=True, dtype=x.dtype)
    factor = n.clamp(min=float(min_keys)).log() / math.log(base)
    return masked_softmax(x * factor, m).to(s.dtype)


class SoftmaxPlus(nn.Module):
    """Module form of :func:`softmax_plus`: ``SoftmaxPlus(base, min_keys)(scores, mask)``.

    Reference:
        Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823

    Example:
        >>> SoftmaxPlus()(torch.zeros(2, 4)).sum(-1)
        tensor([1., 1.])
    """

    def __init__(self, base: float = 512.0, min_keys: int = 16) -> None:
        super().__init__()
        if not base > 1:
            raise ValueError(f"base must be > 1, got {base}")
        if min_keys < 1:
            raise ValueError(f"min_keys must be >= 1, got {min_keys}")
        self.base = float(base)
        self.min_keys = int(min_keys)

    def forward(self, scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Entropy-invariant softmax of ``scores`` over the last dim."""
        return softmax_plus(scores, mask, base=self.base, min_keys=self.min_keys)

    def extra_repr(self) -> str:
        return f"base={self.base}, min_keys={self.min_keys}"


def attention_entropy(p: torch.Tensor) -> torch.Tensor:
    r"""Entropy (nats) of attention rows, :math:`H_i=-\sum_j a_{ij}\log a_{ij}` over the last dim.

    Zero probabilities (masked keys) contribute 0 (``torch.xlogy``). For rows of :math:`n` keys
    it lies in :math:`[0, \log n]`; uniform attention gives :math:`\log n`.

    Args:
        p: floating ``(..., Tk)`` probabilities (non-negative; rows normally sum to 1).

    Shape:
        output: ``p.shape[:-1]``.

    Returns:
        the entropies, dtype of ``p`` (float32 compute for half inputs).

    Raises:
        TypeError: non-floating ``p``. ValueError: empty, non-finite or negative ``p``.

    Reference:
        Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823

    Example:
        >>> attention_entropy(torch.full((1, 4), 0.25))
        tensor([1.3863])
    """
    t = check_finite(check_nonempty(check_ndim(check_floating(p, "p"), "p", 1), "p"), "p")
    if bool((t < 0).any()):
        raise ValueError("p has negative entries; pass probabilities (e.g. softmax outputs)")
    x = t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
    return (-torch.xlogy(x, x).sum(-1)).to(t.dtype)
