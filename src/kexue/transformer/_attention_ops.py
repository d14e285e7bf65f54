r"""Building blocks shared by attention cores: mask checks, masked softmax, entropy-invariant scale.

Every core in :mod:`kexue.transformer.attention` (and Performer, RealFormer, ... added later) uses these, so
masks mean the same thing everywhere: a bool tensor, ``True`` = may attend, of shape ``(B, Tk)`` or
broadcastable to ``(B, H, Tq, Tk)``.

Reference:
    Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823 ;
    Su Jianlin, "exp(x)在x=0处的偶次泰勒展开式总是正的", https://kexue.fm/archives/7919
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from kexue._validate import check_floating, check_ndim, check_nonempty, check_tensor

__all__ = ["SoftmaxFn", "check_qkv", "masked_softmax", "normalize_mask"]

SoftmaxFn = Callable[..., torch.Tensor]


def normalize_mask(mask: object, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor | None:
    """Check an attention mask and return it as a bool tensor broadcastable to ``(B, H, Tq, Tk)``.

    Args:
        mask: ``None``, or a bool tensor (``True`` = may attend) of shape ``(B, Tk)`` or
            broadcastable to ``(B, H, Tq, Tk)``.
        q: queries ``(B, H, Tq, D)``. k: keys ``(B, H, Tk, D)``.

    Returns:
        ``None`` or the 4-D mask (a view; not expanded), on the device of ``q``.

    Raises:
        TypeError: ``mask`` is not a bool tensor.
        ValueError: ``mask`` cannot broadcast to ``(B, H, Tq, Tk)``.

    Reference:
        Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823

    Example:
        >>> q = torch.zeros(2, 1, 3, 4)
        >>> normalize_mask(torch.ones(2, 3, dtype=torch.bool), q, q).shape
        torch.Size([2, 1, 1, 3])
    """
    if mask is None:
        return None
    m = check_tensor(mask, "mask")
    if m.dtype != torch.bool:
        raise TypeError(
            f"mask must be a bool tensor (True = attend), got {m.dtype}; use mask.bool()"
        )
    b, h, tq, tk = q.shape[0], q.shape[1], q.shape[2], k.shape[2]
    given = tuple(m.shape)
    if m.ndim == 2:
        m = m[:, None, None, :]  # (B, 1, 1, Tk)
    target = (b, h, tq, tk)
    ok = m.ndim == 4 and all(s in (1, t) for s, t in zip(m.shape, target, strict=True))
    if not ok:
        raise ValueError(
            f"mask of shape {given} does not broadcast to (B, H, Tq, Tk) = {target}; "
            "pass a (B, Tk) key-padding mask or a 4-D mask"
        )
    return m.to(q.device)


def check_qkv(q: object, k: object, v: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check ``q, k, v`` of shapes ``(B, H, Tq, D)``, ``(B, H, Tk, D)``, ``(B, H, Tk, Dv)``."""
    for t, name in ((q, "q"), (k, "k"), (v, "v")):
        check_nonempty(check_ndim(check_floating(t, name), name, 4, 4), name)
    assert isinstance(q, torch.Tensor) and isinstance(k, torch.Tensor)
    assert isinstance(v, torch.Tensor)
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"k has head dim {k.shape[-1]} but q has {q.shape[-1]}: q and k must share head size"
        )
    if k.shape[:-1] != v.shape[:-1]:
        raise ValueError(
            f"v of shape {tuple(v.shape)} must match k {tuple(k.shape)} except last dim"
        )
    if q.shape[:2] != k.shape[:2]:
        raise ValueError(f"k of shape {tuple(k.shape)} must match q {tuple(q.shape)} in (B, H)")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"q, k, v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    return q, k, v


def masked_softmax(
    scores: torch.Tensor,
    mask: torch.Tensor | None,
    softmax_fn: SoftmaxFn | None = None,
) -> torch.Tensor:
    r"""Softmax over the last dim that gives masked keys probability exactly zero, for any ``softmax_fn``.

    For a ratio-form normaliser :math:`p_i=g(x_i)/\sum_k g(x_k)` the result is
    :math:`g(x_i)m_i/\sum_k g(x_k)m_k`. Masked scores are first replaced by the row's smallest
    allowed score (finite, so polynomial normalisers cannot overflow and exp cannot underflow the
    allowed entries), then the output is multiplied by the mask and renormalised. A fully masked
    row gives zeros. Computed in float32 (or float64) for half inputs.

    Args:
        scores: floating ``(..., Tk)`` logits. mask: ``None`` or bool, broadcastable to ``scores``.
        softmax_fn: called as ``softmax_fn(x, dim=-1)``; default ``torch.softmax``.

    Returns:
        probabilities of the shape and dtype of ``scores``.

    Raises:
        TypeError: non-floating ``scores`` or non-bool ``mask``. ValueError: ``mask`` shape.

    Reference:
        Su Jianlin, "exp(x)在x=0处的偶次泰勒展开式总是正的", https://kexue.fm/archives/7919

    Example:
        >>> masked_softmax(torch.zeros(1, 3), torch.tensor([[True, True, False]]))
        tensor([[0.5000, 0.5000, 0.0000]])
    """
    check_nonempty(check_ndim(check_floating(scores, "scores"), "scores", 1), "scores")
    if mask is not None:
        if check_tensor(mask, "mask").dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor (True = attend), got {mask.dtype}")
        try:
            ok = torch.broadcast_shapes(mask.shape, scores.shape) == scores.shape
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to scores {tuple(scores.shape)}"
            )
    fn = softmax_fn if softmax_fn is not None else torch.softmax
    x = scores.float() if scores.dtype in (torch.float16, torch.bfloat16) else scores
    if mask is None:
        return fn(x, dim=-1).to(scores.dtype)
    big = torch.finfo(x.dtype).max
    row_min = torch.where(mask, x, torch.full_like(x, big)).amin(-1, keepdim=True)
    row_min = torch.where(row_min == big, torch.zeros_like(row_min), row_min)
    p = fn(torch.where(mask, x, row_min), dim=-1) * mask
    total = p.sum(-1, keepdim=True)
    return (p / torch.where(total > 0, total, torch.ones_like(total))).to(scores.dtype)
