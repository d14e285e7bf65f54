"""Conformance cases for A1: Performer FAVOR+ attention and normalised linear attention."""

from __future__ import annotations

from typing import Any

import torch

from kexue.transformer.linear_attention import linear_attention
from kexue.transformer.performer import PerformerAttention, favor_attention
from kexue.transformer.random_features import (
    gaussian_orthogonal_random_matrix,
    positive_random_features,
)

from .case import Args, BadInput, Case

_M, _D = 16, 4


def _features() -> torch.Tensor:
    return gaussian_orthogonal_random_matrix(_M, _D, torch.Generator().manual_seed(3))


def _qkv(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 6, _D, generator=g).to(dtype)
    k = torch.randn(2, 3, 6, _D, generator=g).to(dtype)
    v = torch.randn(2, 3, 6, 2, generator=g).to(dtype)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    return q, k, v, mask


def _attn_args(dtype: torch.dtype) -> Args:
    return _qkv(dtype), {}


def _favor_args(dtype: torch.dtype) -> Args:
    q, k, v, mask = _qkv(dtype)
    return (q, k, v, _features(), mask), {}


def _fixed(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False) -> torch.Tensor:
    return favor_attention(q, k, v, _features(), mask, causal)


def _module(causal: bool = False) -> PerformerAttention:
    return PerformerAttention(_D, _M, causal=causal, generator=torch.Generator().manual_seed(3))


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def _phi(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(1)
    fq, fk = torch.rand(2, 5, 3, generator=g).to(dtype), torch.rand(2, 7, 3, generator=g).to(dtype)
    return (fq, fk, torch.randn(2, 7, 2, generator=g).to(dtype)), {}


_Q, _K, _V, _MASK = _qkv(torch.float64)
_W = _features()
_PQ, _PK, _PV = _phi(torch.float64)[0]

CASES = [
    Case(
        name="favor_attention",
        fn=favor_attention,
        make_args=_favor_args,
        bad=[
            BadInput("int-q", (_Q.long(), _K, _V, _W), {}, TypeError, "q"),
            BadInput("features-cols", (_Q, _K, _V, _W[:, :3]), {}, ValueError, "features"),
            BadInput("features-nan", (_Q, _K, _V, _W * float("nan")), {}, ValueError, "features"),
            BadInput(
                "mask-not-key-padding",
                (_Q, _K, _V, _W, torch.ones(2, 1, 6, 6, dtype=torch.bool)),
                {},
                ValueError,
                "mask",
            ),
            BadInput("mask-float", (_Q, _K, _V, _W, torch.ones(2, 6)), {}, TypeError, "mask"),
            BadInput("empty-q", (_Q[:, :, :0], _K, _V, _W), {}, ValueError, "q"),
        ],
    ),
    Case(
        name="PerformerAttention",
        fn=_fixed,
        make_args=_attn_args,
        module=_module,
        bad=[BadInput("head-dim", (_Q, _K[..., :3], _V), {}, ValueError, "k")],
        output=_first,
    ),
    Case(
        name="PerformerAttention-causal",
        fn=lambda q, k, v, mask=None: _fixed(q, k, v, mask, causal=True),
        make_args=_attn_args,
        module=lambda: _module(causal=True),
        output=_first,
    ),
    Case(
        name="positive_random_features",
        fn=positive_random_features,
        make_args=lambda dtype: ((_Q.to(dtype), _W, True), {}),
        bad=[
            BadInput("int-x", (_Q.long(), _W, True), {}, TypeError, "x"),
            BadInput("projection-cols", (_Q, _W[:, :2], True), {}, ValueError, "projection"),
            BadInput("eps", (_Q, _W, True), {"eps": -1.0}, ValueError, "eps"),
        ],
    ),
    Case(
        name="gaussian_orthogonal_random_matrix",
        fn=gaussian_orthogonal_random_matrix,
        make_args=lambda dtype: ((10, 4, torch.Generator().manual_seed(0)), {"dtype": dtype}),
        bad=[
            BadInput("m-float", (2.5, 4), {}, TypeError, "m"),
            BadInput("scaling", (4, 4), {"scaling": "unit"}, ValueError, "scaling"),
        ],
    ),
    Case(
        name="linear_attention",
        fn=linear_attention,
        make_args=_phi,
        bad=[
            BadInput("negative", (-_PQ, _PK, _PV), {}, ValueError, "phi_q"),
            BadInput("int-v", (_PQ, _PK, _PV.long()), {}, TypeError, "v"),
            BadInput("chunk", (_PQ, _PK, _PV), {"chunk_size": 0}, ValueError, "chunk_size"),
        ],
    ),
]
