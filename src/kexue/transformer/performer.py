r"""Performer FAVOR+: softmax attention in linear time from positive orthogonal random features.

For :math:`\omega\sim\mathcal N(0,I_d)`, :math:`e^{q\cdot k}=\mathbb E_\omega[e^{\omega\cdot q-\|q\|^2/2}
e^{\omega\cdot k-\|k\|^2/2}]`, so with the rows of :math:`W\in\mathbb R^{m\times d}` as samples,
:math:`\phi(x)=m^{-1/2}\exp(Wx-\|x\|^2/2)` gives :math:`e^{q\cdot k}\approx\phi(q)\cdot\phi(k)` with
strictly positive terms, and attention becomes :math:`\phi(Q)(\phi(K)^\top V)` normalised row-wise
(:func:`kexue.transformer.linear_attention.linear_attention`). Rows drawn as orthogonal blocks with
:math:`\chi_d` norms keep each row :math:`\mathcal N(0,I)` (unbiased) and lower the variance.

Reference:
    Su Jianlin, "Performer：用随机投影将Attention的复杂度线性化", https://kexue.fm/archives/7921 ;
    Su Jianlin, "Transformer升级之路：3、从Performer到线性Attention", https://kexue.fm/archives/8338 ;
    Choromanski et al., "Rethinking Attention with Performers", ICLR 2021.
"""

from __future__ import annotations

from typing import Any

import torch

from kexue._validate import check_positive
from kexue.transformer._attention_ops import check_qkv, normalize_mask
from kexue.transformer.attention import Attention
from kexue.transformer.linear_attention import _bidirectional, _causal, _check_chunk
from kexue.transformer.random_features import (
    Scaling,
    _check_projection,
    _pos_int,
    _prf,
    gaussian_orthogonal_random_matrix,
)

__all__ = [
    "PerformerAttention",
    "favor_attention",
]  # the random-feature helpers live in kexue.transformer.random_features and are re-exported here


def favor_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    features: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    chunk_size: int = 128,
    *,
    eps: float = 1e-4,
) -> torch.Tensor:
    r"""FAVOR+ approximation of :math:`\mathrm{softmax}(QK^\top/\sqrt D)V` in :math:`O(nmD)`.

    :math:`o_i=\phi(q_i)^\top\sum_j\phi(k_j)v_j^\top/\phi(q_i)^\top\sum_j\phi(k_j)` with the
    stabilised positive features of :func:`positive_random_features` (:math:`s=D^{-1/4}`; the
    stabiliser is the max of the whole exponent, see there for why it departs from the reference
    code). The :math:`m^{-1/2}` factors cancel and are skipped. **Padding:** masked keys get zero
    features, so
    they leave numerator *and* denominator (performer-pytorch only zeroes :math:`v`, which keeps
    padded keys in the normaliser). The :math:`T_q\times T_k` matrix is never formed; the causal
    form is a chunked prefix-sum scan (:func:`kexue.transformer.linear_attention.linear_attention`).

    Args:
        q: ``(B, H, Tq, D)``; k: ``(B, H, Tk, D)``; v: ``(B, H, Tk, Dv)``, one floating dtype.
        features: ``(m, D)`` projection (:func:`gaussian_orthogonal_random_matrix`).
        mask: ``None`` or a bool key-padding mask (True = real key), ``(B, Tk)`` or broadcastable
            to ``(B, H, 1, Tk)``; a mask over query positions cannot be applied linearly.
        causal: attend to keys ``j <= i`` only. chunk_size: tokens per causal chunk.
        eps: the positive floor added to every feature (1e-4 as in the paper's code).

    Shape:
        output ``(B, H, Tq, Dv)``.

    Returns:
        the attended values, dtype of ``q`` (float32 compute for half inputs).

    Raises:
        TypeError: non-floating or mixed-dtype inputs, non-bool ``mask``.
        ValueError: bad shapes (naming ``k``, ``v``, ``features`` or ``mask``), NaN in
            ``features``, non-key-padding ``mask``, ``causal`` with ``Tq != Tk``.

    Reference:
        Su Jianlin, "Performer：用随机投影将Attention的复杂度线性化", https://kexue.fm/archives/7921 ;
        Choromanski et al., "Rethinking Attention with Performers", ICLR 2021.

    Example:
        >>> w = gaussian_orthogonal_random_matrix(8, 4, torch.Generator().manual_seed(0))
        >>> q = torch.zeros(1, 1, 3, 4); v = torch.tensor([[[[1.0], [2.0], [6.0]]]])
        >>> favor_attention(q, q, v, w).flatten().round(decimals=4)  # equal scores: mean of v
        tensor([3., 3., 3.])
    """
    q, k, v = check_qkv(q, k, v)
    d = q.shape[-1]
    w = _check_projection(features, d, "features", "q")
    chunk = _check_chunk(chunk_size)
    check_positive(eps, "eps", allow_zero=True)
    m4 = normalize_mask(mask, q, k)
    km = None
    if m4 is not None:
        if m4.shape[-2] != 1:
            raise ValueError(
                f"mask of shape {tuple(m4.shape)} is not a key-padding mask: FAVOR+ can only drop "
                "keys ((B, Tk) or (B, H|1, 1, Tk)); use causal=True for causal masking"
            )
        km = m4[..., 0, :]  # (B|1, H|1, Tk)
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(f"causal attention needs Tq == Tk, got k with {k.shape[-2]} keys")
    dtype = q.dtype
    ct = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    s = d**-0.25
    wc = w.to(device=q.device, dtype=ct) * s
    qf, kf, vf = q.to(ct), k.to(ct), v.to(ct)
    phi_q = _prf(qf, wc, 0.5 * s * s, True, None, eps, True)
    phi_k = _prf(kf, wc, 0.5 * s * s, False, km, eps, True)
    out = _causal(phi_q, phi_k, vf, chunk) if causal else _bidirectional(phi_q, phi_k, vf)
    return out.to(dtype)


class PerformerAttention(Attention):
    r"""FAVOR+ attention core for :class:`~kexue.transformer.bert.BertModel` (module form of :func:`favor_attention`).

    Holds ``features`` (``(m, head_dim)``) as a non-persistent buffer, so pretrained weight files
    load unchanged. In training mode the features are redrawn every ``redraw_interval`` forward
    calls (``None``: never; a core shared by all layers counts one call per layer); in eval mode
    they stay fixed. Draws come from ``generator`` when given (seedable, reproducible).

    Args:
        head_dim: per-head size :math:`D`. num_features: :math:`m` (a few times :math:`D`).
        orthogonal, scaling: see :func:`gaussian_orthogonal_random_matrix`.
        causal, chunk_size, eps: see :func:`favor_attention`.
        redraw_interval: forward calls between redraws in training mode, or ``None``.
        generator: torch generator for the draws.

    Reference:
        Su Jianlin, "Performer：用随机投影将Attention的复杂度线性化", https://kexue.fm/archives/7921 ;
        Choromanski et al., "Rethinking Attention with Performers", ICLR 2021.

    Example:
        >>> core = PerformerAttention(4, 16, generator=torch.Generator().manual_seed(0))
        >>> out, state = core(*(torch.randn(1, 2, 5, 4),) * 3)
        >>> out.shape, core.features.shape
        (torch.Size([1, 2, 5, 4]), torch.Size([16, 4]))
    """

    features: torch.Tensor

    def __init__(
        self,
        head_dim: int,
        num_features: int = 256,
        *,
        orthogonal: bool = True,
        scaling: Scaling = "chi",
        causal: bool = False,
        chunk_size: int = 128,
        eps: float = 1e-4,
        redraw_interval: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.head_dim = _pos_int(head_dim, "head_dim")
        self.num_features = _pos_int(num_features, "num_features")
        if redraw_interval is not None:
            _pos_int(redraw_interval, "redraw_interval")
        self.orthogonal, self.scaling, self.causal = orthogonal, scaling, causal
        self.chunk_size = _check_chunk(chunk_size)
        self.eps = check_positive(eps, "eps", allow_zero=True)
        self.redraw_interval, self.generator, self.calls = redraw_interval, generator, 0
        self.register_buffer("features", self._draw(torch.float32, None), persistent=False)

    def _draw(self, dtype: torch.dtype, device: torch.device | None) -> torch.Tensor:
        return gaussian_orthogonal_random_matrix(
            self.num_features,
            self.head_dim,
            self.generator,
            self.orthogonal,
            scaling=self.scaling,
            dtype=dtype,
            device=device,
        )

    @torch.no_grad()
    def redraw_features(self) -> None:
        """Draw a fresh projection into ``features`` (same dtype/device)."""
        self.features.copy_(self._draw(self.features.dtype, self.features.device))

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        state: Any = None,
    ) -> tuple[torch.Tensor, Any]:
        """Attend with FAVOR+; ``state`` passes through unchanged."""
        if self.training and self.redraw_interval is not None:
            if self.calls and self.calls % self.redraw_interval == 0:
                self.redraw_features()
            self.calls += 1
        out = favor_attention(
            q, k, v, self.features, mask, self.causal, self.chunk_size, eps=self.eps
        )
        return out, state

    def extra_repr(self) -> str:
        return (
            f"head_dim={self.head_dim}, num_features={self.num_features}, "
            f"orthogonal={self.orthogonal}, scaling={self.scaling!r}, causal={self.causal}, "
            f"redraw_interval={self.redraw_interval}"
        )
