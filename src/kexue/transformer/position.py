r"""Hierarchical decomposition of trained absolute position embeddings: ``n`` positions to ``n²``.

Write position :math:`t\ge0` as :math:`(i, j) = (\lfloor t/n\rfloor,\ t \bmod n)` and embed it as

.. math::
    q_t = \alpha\,u_i + (1-\alpha)\,u_j,\qquad u = \frac{P - \alpha P_0}{1-\alpha},

where :math:`P` is the trained ``(n, d)`` table. For :math:`t<n` (:math:`i=0`) this gives back
:math:`p_t` exactly, so the model is unchanged on inputs of at most :math:`n` tokens; positions up to
:math:`n^2` get embeddings with no new parameters (gradients flow into :math:`P`). Use
:math:`\alpha<1/2` (default 0.4) so the fine index :math:`j` dominates; :math:`\alpha\ne 1/2` keeps
:math:`(i,j)` and :math:`(j,i)` apart. Rows :math:`t<n` are looked up directly (bit-identical to the
original table, not merely equal up to rounding).

The module also holds the rotary position embedding (:func:`rotary_embedding`, RoPE) that the
experiments' small encoders use instead of a learned table, so that any test length works.

References:
    Su Jianlin, "层次分解位置编码，让BERT可以处理超长文本", https://kexue.fm/archives/7947 ;
    Su Jianlin, "Transformer升级之路：2、博采众长的旋转式位置编码", https://kexue.fm/archives/8265
"""

from __future__ import annotations

from functools import lru_cache
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from kexue._validate import (
    check_finite,
    check_floating,
    check_ndim,
    check_nonempty,
    check_positive,
    check_tensor,
)

M = TypeVar("M", bound=nn.Module)

__all__ = [
    "HierarchicalPositionEmbedding",
    "extend_positions_",
    "hierarchical_position_embedding",
    "hierarchical_position_table",
    "rotary_embedding",
]


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float):
        raise TypeError(f"alpha must be a real number, got {type(alpha).__name__}")
    if not 0.0 < alpha < 1.0 or alpha == 0.5:
        raise ValueError(
            f"alpha must lie in (0, 1) and differ from 0.5 (else (i, j) and (j, i) coincide), "
            f"got {alpha}"
        )
    return float(alpha)


def _check_table(table: object) -> torch.Tensor:
    t = check_floating(table, "table")
    return check_finite(check_nonempty(check_ndim(t, "table", 2, 2), "table"), "table")


def hierarchical_position_embedding(
    table: torch.Tensor, position_ids: torch.Tensor, alpha: float = 0.4
) -> torch.Tensor:
    r"""Embeddings of arbitrary position ids under the hierarchical decomposition of ``table``.

    :math:`q_t=\alpha u_{\lfloor t/n\rfloor}+(1-\alpha)u_{t \bmod n}`,
    :math:`u=(P-\alpha P_0)/(1-\alpha)`; ids below :math:`n` return the table rows themselves.

    Args:
        table: the trained ``(n, d)`` position table :math:`P` (floating, finite).
        position_ids: integer tensor of any shape with values in :math:`[0, n^2)` (0-based).
        alpha: the coarse weight, in (0, 1), not 0.5; 0.4 by default.

    Shape:
        output: ``position_ids.shape + (d,)``.

    Returns:
        the embeddings, dtype/device of ``table``, differentiable with respect to ``table``.

    Raises:
        TypeError: non-floating ``table``, non-integer ``position_ids``, non-real ``alpha``.
        ValueError: ``table`` not 2-D, empty or non-finite; ids out of range; bad ``alpha``.

    Reference:
        Su Jianlin, "层次分解位置编码，让BERT可以处理超长文本", https://kexue.fm/archives/7947

    Example:
        >>> P = torch.tensor([[1.0], [2.0]])
        >>> hierarchical_position_embedding(P, torch.tensor([0, 1, 2, 3]), alpha=0.25).flatten()
        tensor([1.0000, 2.0000, 1.3333, 2.3333])
    """
    p = _check_table(table)
    ids = check_tensor(position_ids, "position_ids")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"position_ids must be an integer tensor, got {ids.dtype}")
    a = _check_alpha(alpha)
    n = p.shape[0]
    ids = ids.to(p.device)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= n * n):
        raise ValueError(
            f"position_ids must lie in [0, {n * n}) (n^2 for a table of {n} rows), "
            f"got [{int(ids.min())}, {int(ids.max())}]"
        )
    if ids.numel() == 0 or int(ids.max()) < n:
        return F.embedding(ids, p)
    u = (p - a * p[0]) / (1.0 - a)  # (n, d)
    hier = a * F.embedding(ids // n, u) + (1.0 - a) * F.embedding(ids % n, u)
    direct = F.embedding(ids.clamp(max=n - 1), p)
    return torch.where((ids < n)[..., None], direct, hier)


def hierarchical_position_table(
    table: torch.Tensor, n_new: int, alpha: float = 0.4
) -> torch.Tensor:
    r"""The extended ``(n_new, d)`` table: rows :math:`0..n-1` copy ``table``, the rest decompose it.

    Args:
        table: the trained ``(n, d)`` table. n_new: rows wanted, :math:`1\le n_{new}\le n^2`.
        alpha: the coarse weight (0.4; must be in (0, 1), not 0.5).

    Shape:
        output ``(n_new, d)``.

    Returns:
        the table, dtype/device of ``table``, differentiable with respect to ``table``.

    Raises:
        TypeError: non-floating ``table``, non-int ``n_new``. ValueError: bad ``table``,
            ``n_new`` out of :math:`[1, n^2]`, bad ``alpha``.

    Reference:
        Su Jianlin, "层次分解位置编码，让BERT可以处理超长文本", https://kexue.fm/archives/7947

    Example:
        >>> P = torch.randn(512, 8)
        >>> T = hierarchical_position_table(P, 2048)
        >>> T.shape, bool((T[:512] == P).all())
        (torch.Size([2048, 8]), True)
    """
    p = _check_table(table)
    if isinstance(n_new, bool) or not isinstance(n_new, int):
        raise TypeError(f"n_new must be an int, got {type(n_new).__name__}")
    n = p.shape[0]
    if not 1 <= n_new <= n * n:
        raise ValueError(f"n_new must lie in [1, {n * n}] for a table of {n} rows, got {n_new}")
    return hierarchical_position_embedding(p, torch.arange(n_new, device=p.device), alpha)


class HierarchicalPositionEmbedding(nn.Module):
    r"""Drop-in for ``nn.Embedding`` of positions that serves up to ``n_positions`` (≤ n²) ids.

    The parameter stays the original ``(n, d)`` table under the name ``weight`` (so weight files
    and ``state_dict`` keys are unchanged); ``forward(position_ids)`` applies
    :func:`hierarchical_position_embedding`.

    Args:
        weight: the trained table, kept as is (pass an existing ``nn.Parameter`` to share it).
        n_positions: the largest number of positions served, :math:`n\le` ``n_positions`` :math:`\le n^2`.
        alpha: the coarse weight (0.4).

    Reference:
        Su Jianlin, "层次分解位置编码，让BERT可以处理超长文本", https://kexue.fm/archives/7947

    Example:
        >>> emb = HierarchicalPositionEmbedding(torch.randn(4, 2), 16)
        >>> emb(torch.arange(16)).shape
        torch.Size([16, 2])
    """

    def __init__(self, weight: torch.Tensor, n_positions: int, alpha: float = 0.4) -> None:
        super().__init__()
        w = _check_table(weight.detach() if isinstance(weight, nn.Parameter) else weight)
        n = w.shape[0]
        if isinstance(n_positions, bool) or not isinstance(n_positions, int):
            raise TypeError(f"n_positions must be an int, got {type(n_positions).__name__}")
        if not n <= n_positions <= n * n:
            raise ValueError(
                f"n_positions must lie in [{n}, {n * n}] for a table of {n} rows, got {n_positions}"
            )
        self.weight = weight if isinstance(weight, nn.Parameter) else nn.Parameter(weight)
        self.alpha = _check_alpha(alpha)
        self.n_positions = n_positions

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        """Embed ``position_ids`` (values below ``n_positions``)."""
        ids = check_tensor(position_ids, "position_ids")
        if ids.numel() and int(ids.max()) >= self.n_positions:
            raise ValueError(
                f"position_ids reach {int(ids.max())} but only {self.n_positions} positions are "
                "served; extend further with extend_positions_"
            )
        return hierarchical_position_embedding(self.weight, ids, self.alpha)

    def extra_repr(self) -> str:
        return (
            f"table={tuple(self.weight.shape)}, n_positions={self.n_positions}, alpha={self.alpha}"
        )


def extend_positions_(model: M, n_positions: int, alpha: float = 0.4) -> M:
    r"""Let a :class:`~kexue.transformer.bert.BertModel` take ``n_positions`` tokens, in place.

    Replaces ``model.embeddings.position_embeddings`` by a :class:`HierarchicalPositionEmbedding`
    sharing the same parameter (the first :math:`n` positions stay bit-identical, so outputs on
    inputs of at most :math:`n` tokens do not change) and raises ``model.embeddings.max_positions``.
    ``model.config.max_position_embeddings`` still describes the stored table. Calling it again
    re-extends from the original table. Remember to raise the tokenizer's truncation too
    (``BertTokenizer(max_length=n_positions)``).

    Args:
        model: a ``BertModel`` (anything with ``embeddings.position_embeddings`` holding a
            ``weight`` of shape ``(n, d)`` and ``embeddings.max_positions``).
        n_positions: the new maximum length, :math:`n\le` ``n_positions`` :math:`\le n^2`.
        alpha: the coarse weight (0.4).

    Returns:
        ``model`` itself.

    Raises:
        TypeError: ``model`` has no position table. ValueError: ``n_positions`` out of range, bad
            ``alpha``.

    Reference:
        Su Jianlin, "层次分解位置编码，让BERT可以处理超长文本", https://kexue.fm/archives/7947

    Example:
        >>> from kexue.transformer.bert import BertConfig, BertModel
        >>> cfg = BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1,
        ...                  num_attention_heads=2, intermediate_size=16, max_position_embeddings=8)
        >>> m = extend_positions_(BertModel(cfg).eval(), 32)
        >>> m(torch.ones(1, 20, dtype=torch.long)).last_hidden_state.shape
        torch.Size([1, 20, 8])
    """
    emb = getattr(model, "embeddings", None)
    pos = getattr(emb, "position_embeddings", None)
    weight = getattr(pos, "weight", None)
    if emb is None or not isinstance(weight, nn.Parameter) or not hasattr(emb, "max_positions"):
        raise TypeError(
            f"model must be a BertModel with embeddings.position_embeddings.weight, "
            f"got {type(model).__name__}"
        )
    new = HierarchicalPositionEmbedding(weight, n_positions, alpha)
    emb.position_embeddings = new
    emb.max_positions = n_positions
    return model


@lru_cache(maxsize=32)
def _rotary_tables(
    t: int, d: int, base: float, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` of the RoPE angles ``(T, D)`` (each half repeated), computed in float64."""
    inv = base ** (-torch.arange(0, d // 2, dtype=torch.float64, device=device) / (d // 2))
    ang = torch.arange(t, dtype=torch.float64, device=device)[:, None] * inv[None]  # (T, D/2)
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rotary_embedding(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    r"""Rotary position embedding (RoPE) of ``x`` at positions :math:`t = 0, \ldots, T-1`.

    Feature pairs :math:`(i, i + D/2)` (half-split layout) of position :math:`t` are rotated by the
    angle :math:`t\,\theta_i`, :math:`\theta_i = \text{base}^{-2i/D}`. Applied to queries and
    keys, the score :math:`\langle R_s q, R_t k\rangle = \langle q, R_{t-s} k\rangle` depends only
    on the offset :math:`t - s`, so a model trained at one length can be run at any other. The
    angles are computed in float64 (cached per length, size, dtype and device) and cast to the
    dtype of ``x``.

    Args:
        x: floating tensor ``(..., T, D)`` (e.g. ``(B, H, T, D)`` queries or keys), ``D`` even.
        base: :math:`> 0`, the wavelength base (10000 as in RoFormer).

    Shape:
        output: same as ``x``.

    Returns:
        the rotated tensor, dtype/device of ``x``; norms along the last axis are unchanged.

    Raises:
        TypeError: non-floating ``x``, non-real ``base``. ValueError: ``x`` with fewer than 2
            dimensions or an odd last dimension; ``base <= 0``.

    Reference:
        Su Jianlin, "Transformer升级之路：2、博采众长的旋转式位置编码", https://kexue.fm/archives/8265

    Example:
        >>> x = torch.randn(2, 7, 8)
        >>> torch.allclose(rotary_embedding(x).norm(dim=-1), x.norm(dim=-1))
        True
        >>> torch.equal(rotary_embedding(x)[:, 0], x[:, 0])  # position 0 is not rotated
        True
    """
    check_ndim(check_floating(x, "x"), "x", 2)
    d, t = x.shape[-1], x.shape[-2]
    if d % 2:
        raise ValueError(f"x must have an even last dimension (feature pairs), got {d}")
    b = check_positive(base, "base")
    cos, sin = _rotary_tables(t, d, b, x.dtype, x.device)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin
