r"""RealFormer: residual attention scores, a running sum of pre-softmax logits across layers.

Layer :math:`n` attends with :math:`\mathrm{softmax}(A_n + \text{mask})V_n` where

.. math::
    A_n = \lambda\,Q_nK_n^\top + A_{n-1},\qquad A_0 = 0,

i.e. :math:`A_n` is the running sum of every layer's scaled scores (per head). The mask bias is
added *after* the sum and is never passed on, so masks do not accumulate across layers (the
x-transformers pitfall). With ``running_mean=True`` the softmax sees :math:`A_n/n` instead (the
official ``use_running_mean``, recommended for deep stacks where the summed logits grow). The rest
of the network keeps the Post-LN layout: use ``BertModel(BertConfig(pre_norm=False, ...),
attention=RealFormerAttention())``; the encoder threads the state from layer to layer.

Reference:
    Su Jianlin, "RealFormer：把残差转移到Attention矩阵上面去", https://kexue.fm/archives/8027 ;
    He et al., "RealFormer: Transformer Likes Residual Attention", Findings of ACL 2021.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F

from kexue._validate import check_finite, check_floating
from kexue.transformer._attention_ops import check_qkv, masked_softmax, normalize_mask
from kexue.transformer.attention import Attention
from kexue.transformer.attention_scale import entropy_invariant_factor

__all__ = ["RealFormerAttention", "RealFormerState", "realformer_attention"]

Scale = Literal["standard", "entropy_invariant"]


class RealFormerState(NamedTuple):
    r"""What a RealFormer layer hands to the next one.

    Attributes:
        scores: the running sum :math:`A_n` of scaled pre-softmax scores, *without* any mask,
            ``(B, H, Tq, Tk)``.
        layers: how many layers :math:`n` it sums.

    Reference:
        Su Jianlin, "RealFormer：把残差转移到Attention矩阵上面去", https://kexue.fm/archives/8027
    """

    scores: torch.Tensor
    layers: int


def _scale(scale: object, m: torch.Tensor | None, tk: int, d: int, dtype: torch.dtype) -> Any:
    if scale == "standard":
        return 1.0 / math.sqrt(d)
    if scale == "entropy_invariant":
        return entropy_invariant_factor(m, tk, dtype=dtype) / math.sqrt(d)
    if isinstance(scale, int | float) and not isinstance(scale, bool) and scale > 0:
        return float(scale)
    raise ValueError(f"scale must be 'standard', 'entropy_invariant' or > 0, got {scale!r}")


def realformer_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    prev_scores: torch.Tensor | None = None,
    *,
    n_prev: int = 0,
    running_mean: bool = False,
    scale: Scale | float = "standard",
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One RealFormer attention layer: :math:`A_n=\lambda QK^\top+A_{n-1}`, output :math:`\mathrm{softmax}(A_n+\text{mask})V`.

    With ``running_mean`` the softmax sees :math:`A_n/n`, :math:`n=` ``n_prev + 1``. The mask is
    applied to the logits after the sum (masked keys get probability exactly 0; a fully masked row
    gives zeros) and the returned scores never contain it.

    Args:
        q: ``(B, H, Tq, D)``; k: ``(B, H, Tk, D)``; v: ``(B, H, Tk, Dv)``, one floating dtype.
        mask: ``None`` or bool, ``(B, Tk)`` or broadcastable to ``(B, H, Tq, Tk)``; True = attend.
        prev_scores: :math:`A_{n-1}`, ``(B, H, Tq, Tk)``, or ``None`` for the first layer
            (:math:`A_0=0`).
        n_prev: layers summed in ``prev_scores`` (0 when it is ``None``; used by the running mean).
        running_mean: softmax over :math:`A_n/n` instead of :math:`A_n`.
        scale: :math:`\lambda`: ``"standard"`` (:math:`1/\sqrt D`), ``"entropy_invariant"``
            (:math:`\log_{512}n/\sqrt D`) or a positive float.
        dropout_p: dropout on the attention probabilities (0 at evaluation).

    Shape:
        output ``(B, H, Tq, Dv)``; scores ``(B, H, Tq, Tk)``.

    Returns:
        ``(output, scores)``: the attended values (dtype of ``q``) and :math:`A_n` (float32 for
        half inputs, else the dtype of ``q``) to pass to the next layer.

    Raises:
        TypeError: non-floating or mixed-dtype ``q``/``k``/``v``/``prev_scores``; non-bool ``mask``;
            non-int ``n_prev``.
        ValueError: wrong ranks or head dims, bad ``mask`` shape, ``prev_scores`` not
            ``(B, H, Tq, Tk)`` or not finite, inconsistent ``n_prev``, bad ``scale``.

    Reference:
        Su Jianlin, "RealFormer：把残差转移到Attention矩阵上面去", https://kexue.fm/archives/8027 ;
        He et al., "RealFormer: Transformer Likes Residual Attention", Findings of ACL 2021.

    Example:
        >>> q = torch.zeros(1, 1, 2, 4); v = torch.tensor([[[[1.0], [3.0]]]])
        >>> out, a1 = realformer_attention(q, q, v)
        >>> out2, a2 = realformer_attention(q, q, v, None, a1, n_prev=1)
        >>> out2.flatten(), a2.shape
        (tensor([2., 2.]), torch.Size([1, 1, 2, 2]))
    """
    q, k, v = check_qkv(q, k, v)
    m = normalize_mask(mask, q, k)
    if isinstance(n_prev, bool) or not isinstance(n_prev, int):
        raise TypeError(f"n_prev must be an int, got {type(n_prev).__name__}")
    if (
        n_prev < 0
        or (prev_scores is None and n_prev != 0)
        or (prev_scores is not None and n_prev < 1)
    ):
        raise ValueError(
            f"n_prev must be 0 without prev_scores and >= 1 with them, got {n_prev} "
            f"(prev_scores {'absent' if prev_scores is None else 'given'})"
        )
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    b, h, tq, tk = q.shape[0], q.shape[1], q.shape[2], k.shape[2]
    ct = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype
    if prev_scores is not None:
        check_finite(check_floating(prev_scores, "prev_scores"), "prev_scores")
        if tuple(prev_scores.shape) != (b, h, tq, tk):
            raise ValueError(
                f"prev_scores of shape {tuple(prev_scores.shape)} must be (B, H, Tq, Tk) = "
                f"{(b, h, tq, tk)}: every RealFormer layer needs the same heads and lengths"
            )
        if prev_scores.dtype != ct:
            raise TypeError(f"prev_scores must have dtype {ct}, got {prev_scores.dtype}")
    lam = _scale(scale, m, tk, q.shape[-1], ct)
    if isinstance(lam, torch.Tensor):
        lam = lam.to(q.device)
    scores = (q.to(ct) @ k.to(ct).transpose(-2, -1)) * lam
    if prev_scores is not None:
        scores = scores + prev_scores  # the running sum A_n, never masked
    logits = scores / (n_prev + 1) if running_mean else scores
    p = masked_softmax(logits, m)
    if dropout_p > 0:
        p = F.dropout(p, dropout_p)
    return (p @ v.to(ct)).to(q.dtype), scores


class RealFormerAttention(Attention):
    r"""RealFormer attention core: threads :class:`RealFormerState` through the encoder's layers.

    Module form of :func:`realformer_attention`; one object can serve every layer (it keeps no
    per-layer data: the running sum travels in ``state``). Use it in a Post-LN
    :class:`~kexue.transformer.bert.BertModel` to get RealFormer.

    Args:
        scale: ``"standard"``, ``"entropy_invariant"`` or a positive float.
        running_mean: softmax over :math:`A_n/n` (deep stacks).
        dropout: attention-probability dropout, active only in training mode.

    Reference:
        Su Jianlin, "RealFormer：把残差转移到Attention矩阵上面去", https://kexue.fm/archives/8027 ;
        He et al., "RealFormer: Transformer Likes Residual Attention", Findings of ACL 2021.

    Example:
        >>> from kexue.transformer.bert import BertConfig, BertModel
        >>> cfg = BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=2,
        ...                  num_attention_heads=2, intermediate_size=16)
        >>> model = BertModel(cfg, attention=RealFormerAttention()).eval()
        >>> model(torch.tensor([[1, 2, 3]])).last_hidden_state.shape
        torch.Size([1, 3, 8])
    """

    def __init__(
        self, scale: Scale | float = "standard", running_mean: bool = False, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        _scale(scale, None, 1, 1, torch.float32)  # validate early
        self.scale = scale
        self.running_mean = bool(running_mean)
        self.dropout = dropout

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        state: Any = None,
    ) -> tuple[torch.Tensor, RealFormerState]:
        """Attend; ``state`` is ``None`` (first layer) or the previous layer's RealFormerState."""
        if state is not None and not isinstance(state, RealFormerState):
            raise TypeError(
                f"state must be None or a RealFormerState, got {type(state).__name__}: "
                "do not mix RealFormer with other stateful cores"
            )
        prev, n = (None, 0) if state is None else (state.scores, state.layers)
        out, scores = realformer_attention(
            q,
            k,
            v,
            mask,
            prev,
            n_prev=n,
            running_mean=self.running_mean,
            scale=self.scale,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return out, RealFormerState(scores, n + 1)

    def extra_repr(self) -> str:
        return f"scale={self.scale!r}, running_mean={self.running_mean}, dropout={self.dropout}"
