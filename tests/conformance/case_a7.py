"""Conformance cases for A7: attention cores and pooling of the compact BERT encoder."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from kexue.transformer._attention_ops import masked_softmax
from kexue.transformer.attention import SoftmaxAttention, softmax_attention
from kexue.transformer.attention_scale import entropy_invariant_factor
from kexue.transformer.pretrained import mean_pooling

from .case import Args, BadInput, Case


def _qkv(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 5, 4, generator=g).to(dtype)
    k = torch.randn(2, 3, 6, 4, generator=g).to(dtype)
    v = torch.randn(2, 3, 6, 2, generator=g).to(dtype)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    return q, k, v, mask


def _attn_args(dtype: torch.dtype) -> Args:
    q, k, v, mask = _qkv(dtype)
    return (q, k, v, mask), {}


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


_Q, _K, _V, _M = _qkv(torch.float64)
_ATTN_BAD = [
    BadInput("int-q", (_Q.long(), _K, _V), {}, TypeError, "q"),
    BadInput("head-dim", (_Q, _K[..., :3], _V), {}, ValueError, "k"),
    BadInput(
        "mask-shape", (_Q, _K, _V, torch.ones(2, 5, dtype=torch.bool)), {}, ValueError, "mask"
    ),
    BadInput("mask-float", (_Q, _K, _V, torch.ones(2, 6)), {}, TypeError, "mask"),
    BadInput("empty-q", (_Q[:, :, :0], _K, _V), {}, ValueError, "q"),
]

_H = torch.randn(3, 4, 5)
_AM = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])

CASES = [
    Case(
        name="softmax_attention",
        fn=softmax_attention,
        make_args=_attn_args,
        module=lambda: SoftmaxAttention(),
        bad=_ATTN_BAD,
        output=_first,
    ),
    Case(
        name="softmax_attention-entropy-invariant",
        fn=partial(softmax_attention, scale="entropy_invariant"),
        make_args=_attn_args,
        module=lambda: SoftmaxAttention(scale="entropy_invariant"),
        bad=[BadInput("scale", (_Q, _K, _V), {"scale": "log"}, ValueError, "scale")],
        output=_first,
    ),
    Case(
        name="softmax_attention-explicit",
        fn=partial(softmax_attention, softmax_fn=torch.softmax),
        make_args=_attn_args,
        module=lambda: SoftmaxAttention(softmax_fn=torch.softmax),
        output=_first,
    ),
    Case(
        name="masked_softmax",
        fn=masked_softmax,
        make_args=lambda dtype: ((torch.randn(3, 5).to(dtype), torch.rand(3, 5) > 0.3), {}),
        bad=[
            BadInput(
                "int-scores", (torch.ones(2, 3, dtype=torch.long), None), {}, TypeError, "scores"
            ),
            BadInput(
                "mask-shape",
                (torch.ones(2, 3), torch.ones(2, 4, dtype=torch.bool)),
                {},
                ValueError,
                "mask",
            ),
        ],
    ),
    Case(
        name="entropy_invariant_factor",
        fn=entropy_invariant_factor,
        make_args=lambda dtype: ((_M[:, None, None, :], 6), {"dtype": dtype}),
        bad=[
            BadInput("n_keys", (None, 0), {}, ValueError, "n_keys"),
            BadInput("mask-float", (torch.ones(1, 1, 1, 4), 4), {}, TypeError, "mask"),
        ],
    ),
    Case(
        name="mean_pooling",
        fn=mean_pooling,
        make_args=lambda dtype: ((_H.to(dtype), _AM), {"normalize": True}),
        bad=[
            BadInput("int-hidden", (_H.long(), _AM), {}, TypeError, "hidden"),
            BadInput("mask-shape", (_H, _AM[:, :3]), {}, ValueError, "attention_mask"),
        ],
    ),
]
