"""Conformance cases for A2: RealFormer residual attention scores."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from kexue.transformer.realformer import RealFormerAttention, RealFormerState, realformer_attention

from .case import Args, BadInput, Case


def _qkv(dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 4, 5, generator=g).to(dtype)
    k = torch.randn(2, 3, 6, 5, generator=g).to(dtype)
    v = torch.randn(2, 3, 6, 2, generator=g).to(dtype)
    prev = torch.randn(2, 3, 4, 6, generator=g).to(dtype)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    return q, k, v, mask, prev


def _first_layer(dtype: torch.dtype) -> Args:
    q, k, v, mask, _ = _qkv(dtype)
    return (q, k, v, mask), {}


def _later_layer(dtype: torch.dtype) -> Args:
    q, k, v, mask, prev = _qkv(dtype)
    return (q, k, v, mask, prev), {}


def _module_later() -> Any:
    core = RealFormerAttention(running_mean=True)

    def call(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Any, prev: Any) -> Any:
        return core(q, k, v, mask, RealFormerState(prev, 2))

    return call


_Q, _K, _V, _M, _P = _qkv(torch.float64)

CASES = [
    Case(
        name="realformer_attention-first-layer",
        fn=realformer_attention,
        make_args=_first_layer,
        module=lambda: RealFormerAttention(),
        bad=[
            BadInput("int-q", (_Q.long(), _K, _V), {}, TypeError, "q"),
            BadInput(
                "mask-shape",
                (_Q, _K, _V, torch.ones(2, 5, dtype=torch.bool)),
                {},
                ValueError,
                "mask",
            ),
            BadInput("n_prev-without-scores", (_Q, _K, _V), {"n_prev": 1}, ValueError, "n_prev"),
        ],
    ),
    Case(
        name="realformer_attention-running-mean",
        fn=partial(realformer_attention, n_prev=2, running_mean=True),
        make_args=_later_layer,
        module=_module_later,
        bad=[
            BadInput("prev-shape", (_Q, _K, _V, _M, _P[..., :5]), {}, ValueError, "prev_scores"),
            BadInput(
                "prev-nan",
                (_Q, _K, _V, _M, torch.full_like(_P, float("nan"))),
                {},
                ValueError,
                "prev_scores",
            ),
            BadInput("prev-dtype", (_Q, _K, _V, _M, _P.float()), {}, TypeError, "prev_scores"),
        ],
    ),
]
