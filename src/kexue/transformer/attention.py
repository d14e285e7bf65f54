r"""Pluggable multi-head attention cores: the part of a Transformer layer between Q, K, V and the output.

An attention *core* maps per-head queries, keys and values to per-head outputs. The encoder in
:mod:`kexue.transformer.bert` does the projections and calls the core as
``out, state = core(q, k, v, mask, state)`` once per layer, threading ``state`` from layer to layer
(starting at ``None``). Cores are chosen by argument, never by a global switch.

Conventions every core follows (and how to add one):

* ``q`` is ``(B, H, Tq, D)``, ``k`` is ``(B, H, Tk, D)``, ``v`` is ``(B, H, Tk, Dv)``; the output is
  ``(B, H, Tq, Dv)`` in the dtype of ``q``.
* ``mask`` is ``None`` or a bool tensor, ``True`` = may attend, of shape ``(B, Tk)`` (key padding)
  or broadcastable to ``(B, H, Tq, Tk)``; :func:`normalize_mask` checks it and returns the 4-D form.
  A key-padding mask has ``mask.shape[-2] == 1`` — all a linear-attention core needs (Performer,
  A1: zero the key features of masked keys, never build the ``Tq x Tk`` matrix).
* ``state`` is whatever the core wants the next layer to receive; stateless cores return it
  unchanged. RealFormer (A2) returns its pre-softmax scores *before* the mask is applied and adds
  the previous layer's scores to its own: ``scores = q k^T * scale + state``, then
  :func:`masked_softmax` (the mask is applied after the sum, so it never accumulates).
* Scales: ``"standard"`` is :math:`1/\sqrt D`; ``"entropy_invariant"`` is
  :math:`\log_{512}(n)/\sqrt D` with :math:`n` the number of keys a query may attend
  (:func:`entropy_invariant_factor`, A4). Any ``softmax_fn(scores, dim=...)`` of ratio form
  :math:`g(x_i)/\sum_k g(x_k)`, :math:`g>0` (e.g. Taylor softmax, A6) can replace ``torch.softmax``.

A new core subclasses :class:`Attention` and implements ``forward``; put any random features in
buffers with ``persistent=False`` so they do not clash with pretrained weight files.

Reference:
    Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823 ;
    Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620 ;
    Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from kexue.transformer._attention_ops import SoftmaxFn, check_qkv, masked_softmax, normalize_mask
from kexue.transformer.attention_scale import entropy_invariant_factor

__all__ = ["Attention", "SoftmaxAttention", "softmax_attention"]

Scale = Literal["standard", "entropy_invariant"]


def _check_scale(scale: object) -> Scale | float:
    """Return ``scale`` if it is ``"standard"``, ``"entropy_invariant"`` or a positive finite real."""
    if scale in ("standard", "entropy_invariant"):
        return scale
    if (
        isinstance(scale, int | float)
        and not isinstance(scale, bool)
        and math.isfinite(scale)
        and scale > 0
    ):
        return float(scale)
    raise ValueError(
        f"scale must be 'standard', 'entropy_invariant' or a positive float, got {scale!r}"
    )


def softmax_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: Scale | float = "standard",
    softmax_fn: SoftmaxFn | None = None,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    r"""Exact multi-head attention :math:`\mathrm{softmax}(\lambda\,QK^\top + \text{mask})\,V`.

    :math:`\lambda=1/\sqrt D` (``"standard"``), :math:`\log_{512}(n)/\sqrt D` (``"entropy_invariant"``,
    :math:`n` = attended keys per query, see :func:`entropy_invariant_factor`) or a given float.
    With the default ``softmax_fn`` this runs ``F.scaled_dot_product_attention`` with the additive
    mask bias :math:`(1-m)\cdot\mathrm{finfo.min}` (the transformers convention: a fully masked row
    stays finite); with a custom ``softmax_fn`` it builds the scores explicitly and uses
    :func:`masked_softmax` (a fully masked row then gives zeros). A NaN anywhere in a query row
    makes that row's output NaN (the torch convention, as in the explicit formula): PyTorch's fused
    CPU kernel returns a zero row for an all-NaN query, which would hide the NaN downstream
    (e.g. a NaN query bias in :class:`~kexue.transformer.bert.BertModel` gave finite outputs), so
    such rows are set to NaN explicitly.

    Args:
        q: ``(B, H, Tq, D)``; k: ``(B, H, Tk, D)``; v: ``(B, H, Tk, Dv)``, one floating dtype.
        mask: ``None`` or bool, ``(B, Tk)`` or broadcastable to ``(B, H, Tq, Tk)``; True = attend.
        scale: ``"standard"``, ``"entropy_invariant"`` or a positive float.
        softmax_fn: ``softmax_fn(scores, dim=-1)`` of ratio form (e.g. Taylor softmax).
        dropout_p: dropout on the attention probabilities (pass 0 at evaluation).

    Shape:
        output ``(B, H, Tq, Dv)``.

    Returns:
        the attended values, dtype and device of ``q``.

    Raises:
        TypeError: non-floating or mixed-dtype ``q``/``k``/``v``; non-bool ``mask``.
        ValueError: wrong ranks, mismatched head dims (names ``k``), bad ``mask`` shape, bad
            ``scale``.

    Reference:
        Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823 ;
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017.

    Example:
        >>> q = torch.zeros(1, 1, 2, 4); v = torch.tensor([[[[1.0], [3.0]]]])
        >>> softmax_attention(q, q, v).flatten()
        tensor([2., 2.])
    """
    q, k, v = check_qkv(q, k, v)
    m = normalize_mask(mask, q, k)
    d = q.shape[-1]
    scale = _check_scale(scale)
    if scale == "standard":
        lam: float | torch.Tensor = 1.0 / math.sqrt(d)
    elif scale == "entropy_invariant":
        ct = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype
        lam = entropy_invariant_factor(m, k.shape[2], dtype=ct).to(q.device) / math.sqrt(d)
    else:
        lam = float(scale)
    dtype = q.dtype
    if dtype in (torch.float16, torch.bfloat16):  # compute in float32 on half inputs
        q, k, v = q.float(), k.float(), v.float()
    if softmax_fn is None:
        bias = None
        if m is not None:
            bias = torch.zeros(m.shape, dtype=q.dtype, device=q.device)
            bias = bias.masked_fill(~m, torch.finfo(q.dtype).min)
        if isinstance(lam, torch.Tensor):  # per-row factor folded into q; SDPA applies 1/sqrt(d)
            q, lam = q * (lam * math.sqrt(d)).to(q.dtype), 1.0 / math.sqrt(d)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=dropout_p, scale=lam
        )
        # the fused CPU kernel turns an all-NaN query row into zeros: restore the NaN
        out = out.masked_fill(torch.isnan(q).any(-1, keepdim=True), math.nan)
        return out.to(dtype)
    scores = (q @ k.transpose(-2, -1)) * lam  # (B, H, Tq, Tk)
    p = masked_softmax(scores, m, softmax_fn)
    if dropout_p > 0:
        p = F.dropout(p, dropout_p)
    return (p @ v).to(dtype)


class Attention(nn.Module):
    """Base class of attention cores: ``forward(q, k, v, mask=None, state=None) -> (out, state)``.

    Subclasses implement ``forward`` on ``(B, H, T, D)`` tensors (see the module docstring for the
    mask and state conventions). Calling the object returns ``(out, state)``.

    Reference:
        Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620
    """

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        state: Any = None,
    ) -> tuple[torch.Tensor, Any]:
        """Attend; return the output ``(B, H, Tq, Dv)`` and the state for the next layer."""
        raise NotImplementedError


class SoftmaxAttention(Attention):
    r"""Exact softmax attention core, module form of :func:`softmax_attention` (stateless).

    Args:
        scale: ``"standard"`` (:math:`1/\sqrt d`), ``"entropy_invariant"``
            (:math:`\log_{512}n/\sqrt d`) or a positive float.
        softmax_fn: optional ratio-form normaliser ``softmax_fn(scores, dim=-1)``; ``None`` uses
            ``F.scaled_dot_product_attention``.
        dropout: attention-probability dropout, active only in training mode.

    Raises:
        ValueError: unknown ``scale`` (checked here, not on the first call), ``dropout`` outside
            ``[0, 1)``. TypeError: ``softmax_fn`` not callable.

    Reference:
        Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823

    Example:
        >>> q = torch.zeros(1, 1, 2, 4)
        >>> out, state = SoftmaxAttention()(q, q, q)
        >>> out.shape, state
        (torch.Size([1, 1, 2, 4]), None)
    """

    def __init__(
        self,
        scale: Scale | float = "standard",
        softmax_fn: SoftmaxFn | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(dropout, bool) or not isinstance(dropout, int | float):
            raise TypeError(f"dropout must be a float in [0, 1), got {type(dropout).__name__}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if softmax_fn is not None and not callable(softmax_fn):
            raise TypeError(f"softmax_fn must be callable or None, got {type(softmax_fn).__name__}")
        self.scale = _check_scale(scale)
        self.softmax_fn = softmax_fn
        self.dropout = dropout

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        state: Any = None,
    ) -> tuple[torch.Tensor, Any]:
        """Attend; ``state`` passes through unchanged."""
        p = self.dropout if self.training else 0.0
        out = softmax_attention(
            q, k, v, mask, scale=self.scale, softmax_fn=self.softmax_fn, dropout_p=p
        )
        return out, state

    def extra_repr(self) -> str:
        return f"scale={self.scale!r}, softmax_fn={self.softmax_fn!r}, dropout={self.dropout}"
