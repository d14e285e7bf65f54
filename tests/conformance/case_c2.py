"""Conformance cases for C2: hard and soft gradient clipping."""

from __future__ import annotations

from collections.abc import Callable

import torch

from kexue.optim.clipping import clip_coefficient, clip_gradients

from .case import Args, BadInput, Case


def _grads(dtype: torch.dtype) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [(3 * torch.randn(*s, generator=g)).to(dtype) for s in ((4, 3), (5,))]


def _clip_args(mode: str, **kw: object) -> Callable[[torch.dtype], Args]:
    def make(dtype: torch.dtype) -> Args:
        return (_grads(dtype), 1.5, mode), dict(kw)

    return make


def _coef_args(mode: str) -> Callable[[torch.dtype], Args]:
    def make(dtype: torch.dtype) -> Args:
        return (torch.tensor([0.0, 0.5, 2.0, 40.0]).to(dtype), 1.0, mode), {}

    return make


G = _grads(torch.float64)
NAN = [G[0].clone(), G[1].clone()]
NAN[1][0] = float("nan")

CLIP_BAD = [
    BadInput("gamma-zero", (G, 0.0), {}, ValueError, "gamma"),
    BadInput("gamma-negative", (G, -1.0, "soft"), {}, ValueError, "gamma"),
    BadInput("mode", (G, 1.0, "medium"), {}, ValueError, "mode"),
    BadInput("int-grads", ([torch.ones(3, dtype=torch.long)], 1.0), {}, TypeError, "grads"),
    BadInput("nan-grads", (NAN, 1.0), {}, ValueError, "grads"),
]

CASES = [
    Case(
        "clip-hard",
        clip_gradients,
        _clip_args("hard"),
        bad=CLIP_BAD,
        output=lambda out: out[0],
    ),
    Case(
        "clip-soft",
        clip_gradients,
        _clip_args("soft"),
        output=lambda out: out[0],
    ),
    Case(
        "clip-per-parameter",
        clip_gradients,
        _clip_args("soft", per_parameter=True),
        output=lambda out: out[0],
    ),
    Case(
        "coefficient",
        clip_coefficient,
        _coef_args("soft"),
        bad=[
            BadInput("int-norm", (torch.ones(2, dtype=torch.long), 1.0), {}, TypeError, "norm"),
            BadInput("gamma", (torch.ones(2), -2.0), {}, ValueError, "gamma"),
        ],
    ),
]
