r"""Normalised linear attention from non-negative feature maps: bidirectional and causal (chunked).

Given feature maps :math:`\phi(q_i),\varphi(k_j)\in\mathbb R^m_{\ge 0}` (FAVOR+ positive random
features, :mod:`kexue.transformer.performer`, or any other kernel), attention with the similarity
:math:`\phi(q)^\top\varphi(k)` is evaluated right-to-left, :math:`(\phi(Q)\varphi(K)^\top)V =
\phi(Q)(\varphi(K)^\top V)`, in :math:`O(nmd)` time and :math:`O(nm + md)` memory, never forming the
:math:`n\times n` matrix. The denominator :math:`\phi(q_i)\cdot\sum_j\varphi(k_j)` is computed in
the same matrix product by appending a column of ones to :math:`V`.

The causal form needs prefix sums :math:`S_i=\sum_{j\le i}\varphi(k_j)[v_j,1]^\top`. Materialising
every :math:`S_i` costs :math:`n\times m\times d` memory; instead the sequence is cut into chunks
of ``chunk_size`` tokens: inside a chunk the masked :math:`C\times C` product is exact, and the
contribution of earlier chunks comes from an exclusive cumulative sum of per-chunk states
(:math:`(n/C)\times m\times d`), all batched, with no Python loop over chunks.

Reference:
    Su Jianlin, "Transformer升级之路：3、从Performer到线性Attention", https://kexue.fm/archives/8338 ;
    Su Jianlin, "Performer：用随机投影将Attention的复杂度线性化", https://kexue.fm/archives/7921 ;
    Katharopoulos et al., "Transformers are RNNs", ICML 2020.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kexue._validate import check_finite, check_floating, check_ndim, check_nonempty

__all__ = ["linear_attention"]


def _check_chunk(chunk_size: object) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be an int, got {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return chunk_size


def _with_ones(v: torch.Tensor) -> torch.Tensor:
    """``[v, 1]``: the extra column carries the normaliser through the same products."""
    return F.pad(v, (0, 1), value=1.0)


def _divide(o: torch.Tensor, dv: int) -> torch.Tensor:
    num, den = o[..., :dv], o[..., dv:]
    # a row with no attendable key has numerator and denominator 0: return 0, never NaN
    return num / den.clamp_min(torch.finfo(o.dtype).tiny)


def _bidirectional(phi_q: torch.Tensor, phi_k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    kv = phi_k.transpose(-2, -1) @ _with_ones(v)  # (..., m, dv + 1)
    return _divide(phi_q @ kv, v.shape[-1])


def _causal(phi_q: torch.Tensor, phi_k: torch.Tensor, v: torch.Tensor, chunk: int) -> torch.Tensor:
    *lead, n, m = phi_q.shape
    dv = v.shape[-1]
    c = min(chunk, n)
    pad = (-n) % c
    va = _with_ones(v)
    if pad:  # zero features for the padding keys: they add nothing to any prefix sum
        phi_q, phi_k, va = (F.pad(t, (0, 0, 0, pad)) for t in (phi_q, phi_k, va))
    nc = (n + pad) // c
    qc = phi_q.reshape(*lead, nc, c, m)
    kc = phi_k.reshape(*lead, nc, c, m)
    vc = va.reshape(*lead, nc, c, dv + 1)
    tril = torch.ones(c, c, dtype=torch.bool, device=qc.device).tril()
    scores = (qc @ kc.transpose(-2, -1)).masked_fill(~tril, 0.0)  # (..., nc, C, C)
    intra = scores @ vc
    states = kc.transpose(-2, -1) @ vc  # (..., nc, m, dv + 1)
    prefix = torch.cumsum(states, dim=-3)
    before = torch.cat([torch.zeros_like(prefix[..., :1, :, :]), prefix[..., :-1, :, :]], dim=-3)
    o = intra + qc @ before
    return _divide(o.reshape(*lead, nc * c, dv + 1)[..., :n, :], dv)


def linear_attention(
    phi_q: torch.Tensor,
    phi_k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    chunk_size: int = 128,
) -> torch.Tensor:
    r"""Normalised linear attention :math:`o_i=\phi(q_i)^\top\sum_j\varphi(k_j)v_j^\top/\phi(q_i)^\top\sum_j\varphi(k_j)`.

    Bidirectional: the sums run over all keys. Causal: over :math:`j\le i`, evaluated chunk by chunk
    (exact, not an approximation of the prefix sums). Keys whose features are all zero (padding)
    drop out of numerator and denominator; a query with no attendable key gets 0.

    Args:
        phi_q: non-negative query features ``(..., Tq, m)``.
        phi_k: non-negative key features ``(..., Tk, m)``; same leading dims and dtype.
        v: values ``(..., Tk, Dv)``.
        causal: attend only to keys at positions ``<= i`` (needs ``Tq == Tk``).
        chunk_size: tokens per chunk of the causal scan (memory ``~ n*chunk_size + (n/chunk)*m*Dv``).

    Shape:
        output ``(..., Tq, Dv)``.

    Returns:
        the attended values, dtype of ``phi_q``.

    Raises:
        TypeError: non-floating or mixed-dtype inputs; non-int ``chunk_size``.
        ValueError: wrong ranks or mismatched shapes (naming ``phi_k`` or ``v``), NaN/inf,
            negative features, ``causal`` with ``Tq != Tk``, ``chunk_size < 1``.

    Reference:
        Su Jianlin, "Transformer升级之路：3、从Performer到线性Attention",
        https://kexue.fm/archives/8338 ;
        Katharopoulos et al., "Transformers are RNNs", ICML 2020.

    Example:
        >>> phi = torch.ones(1, 3, 2); v = torch.tensor([[[1.0], [2.0], [6.0]]])
        >>> linear_attention(phi, phi, v, causal=True).flatten()
        tensor([1.0000, 1.5000, 3.0000])
    """
    for t, name in ((phi_q, "phi_q"), (phi_k, "phi_k"), (v, "v")):
        check_finite(check_nonempty(check_ndim(check_floating(t, name), name, 2), name), name)
    if not phi_q.dtype == phi_k.dtype == v.dtype:
        raise TypeError(
            f"phi_q, phi_k, v must share a dtype, got {phi_q.dtype}, {phi_k.dtype}, {v.dtype}"
        )
    if phi_k.shape[:-2] != phi_q.shape[:-2] or phi_k.shape[-1] != phi_q.shape[-1]:
        raise ValueError(
            f"phi_k of shape {tuple(phi_k.shape)} must match phi_q {tuple(phi_q.shape)} "
            "in leading dims and feature count"
        )
    if v.shape[:-1] != phi_k.shape[:-1]:
        raise ValueError(f"v of shape {tuple(v.shape)} must match phi_k {tuple(phi_k.shape)}")
    if bool((phi_q < 0).any()) or bool((phi_k < 0).any()):
        raise ValueError("phi_q and phi_k must be non-negative feature maps")
    chunk = _check_chunk(chunk_size)
    if causal and phi_q.shape[-2] != phi_k.shape[-2]:
        raise ValueError(
            f"causal attention needs as many keys as queries: phi_k has {phi_k.shape[-2]}, "
            f"phi_q has {phi_q.shape[-2]}"
        )
    dtype = phi_q.dtype
    if dtype in (torch.float16, torch.bfloat16):
        phi_q, phi_k, v = phi_q.float(), phi_k.float(), v.float()
    out = _causal(phi_q, phi_k, v, chunk) if causal else _bidirectional(phi_q, phi_k, v)
    return out.to(dtype)
