"""Conformance cases for A4: entropy-invariant softmax and attention entropy."""

from __future__ import annotations

import torch

from kexue.transformer.attention_scale import SoftmaxPlus, attention_entropy, softmax_plus

from .case import Args, BadInput, Case

_S = torch.randn(2, 3, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
_M = torch.arange(40)[None, None, :] < torch.tensor([40, 23])[:, None, None]


def _plus_args(dtype: torch.dtype) -> Args:
    return (_S.to(dtype), _M), {}


CASES = [
    Case(
        name="softmax_plus",
        fn=softmax_plus,
        make_args=_plus_args,
        module=lambda: SoftmaxPlus(),
        bad=[
            BadInput("int-scores", (torch.ones(2, 3, dtype=torch.long),), {}, TypeError, "scores"),
            BadInput(
                "mask-shape", (_S, torch.ones(2, 4, dtype=torch.bool)), {}, ValueError, "mask"
            ),
            BadInput("nan-scores", (torch.full((2, 3), float("nan")),), {}, ValueError, "scores"),
            BadInput("min_keys", (_S,), {"min_keys": 0}, ValueError, "min_keys"),
        ],
    ),
    Case(
        name="attention_entropy",
        fn=attention_entropy,
        make_args=lambda dtype: ((torch.softmax(_S, -1).to(dtype),), {}),
        bad=[
            BadInput("int-p", (torch.ones(2, 3, dtype=torch.long),), {}, TypeError, "p"),
            BadInput("negative-p", (torch.tensor([0.5, -0.5, 1.0]),), {}, ValueError, "p"),
            BadInput("empty-p", (torch.zeros(2, 0),), {}, ValueError, "p"),
        ],
    ),
]
