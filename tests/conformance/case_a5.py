"""Conformance cases for A5: truncated-normal init, NTK linear layer, residual schemes."""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from kexue.nn.init import trunc_normal, trunc_normal_
from kexue.transformer.ntk import ntk_linear
from kexue.transformer.residual import residual_step

from .case import Args, BadInput, Case


def _ntk_args(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 8, generator=g).to(dtype)
    w = torch.randn(5, 8, generator=g).to(dtype)
    return (x, w, torch.zeros(5, dtype=dtype)), {}


def _residual_args(dtype: torch.dtype) -> Args:
    x = torch.randn(2, 3, 6, generator=torch.Generator().manual_seed(1)).to(dtype)
    return (x, torch.tanh, "post_norm"), {"norm": partial(F.layer_norm, normalized_shape=(6,))}


CASES = [
    Case(
        name="trunc_normal",
        fn=trunc_normal,
        make_args=lambda dtype: (
            ((64, 8),),
            {"std": 0.02, "dtype": dtype, "generator": torch.Generator().manual_seed(0)},
        ),
        bad=[
            BadInput("std-zero", ((4,),), {"std": 0.0}, ValueError, "std"),
            BadInput("std-str", ((4,),), {"std": "0.02"}, TypeError, "std"),
            BadInput("bound-negative", ((4,),), {"bound": -2.0}, ValueError, "bound"),
        ],
    ),
    Case(
        name="trunc_normal_",
        fn=trunc_normal_,
        make_args=lambda dtype: ((torch.empty(16, 4, dtype=dtype),), {"std": 0.5}),
        bad=[
            BadInput("int-tensor", (torch.zeros(3, dtype=torch.long),), {}, TypeError, "tensor"),
            BadInput("std-negative", (torch.zeros(3),), {"std": -1.0}, ValueError, "std"),
        ],
    ),
    Case(
        name="ntk_linear",
        fn=ntk_linear,
        make_args=_ntk_args,
        bad=[
            BadInput(
                "int-x", (torch.ones(2, 8, dtype=torch.long), torch.randn(5, 8)), {}, TypeError, "x"
            ),
            BadInput("fan-in", (torch.randn(2, 7), torch.randn(5, 8)), {}, ValueError, "weight"),
        ],
    ),
    Case(
        name="residual_step",
        fn=residual_step,
        make_args=_residual_args,
        bad=[
            BadInput("scheme", (torch.ones(3), torch.tanh, "sandwich"), {}, ValueError, "scheme"),
            BadInput(
                "int-x", (torch.ones(3, dtype=torch.long), torch.tanh, "rezero"), {}, TypeError, "x"
            ),
        ],
    ),
]
