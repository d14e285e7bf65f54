"""Conformance cases for F4: the tangent kernel and the path-kernel fit."""

from __future__ import annotations

import torch
from torch import nn

from kexue.models.path_kernel import gradient_descent_path_kernel, tangent_kernel

from .case import Args, BadInput, Case


def _model(dtype: torch.dtype, out: int = 1) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, out)).to(dtype)


def _kernel_args(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(1)
    return (_model(dtype), torch.randn(4, 3, generator=g).to(dtype)), {}


def _fit_args(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 3, generator=g).to(dtype)
    return (_model(dtype), x, torch.sin(x[:, :1])), {"lr": 0.05, "steps": 3}


_x = torch.randn(4, 3)
CASES = [
    Case(
        "tangent-kernel",
        tangent_kernel,
        _kernel_args,
        bad=[
            BadInput("int-x", (_model(torch.float32), _x.long()), {}, TypeError, "x1"),
            BadInput("1-d-x", (_model(torch.float32), _x[0]), {}, ValueError, "x1"),
        ],
    ),
    Case(
        "path-kernel-fit",
        gradient_descent_path_kernel,
        _fit_args,
        bad=[
            BadInput(
                "neg-lr",
                (_model(torch.float32), _x, _x[:, :1]),
                {"lr": -1.0, "steps": 2},
                ValueError,
                "lr",
            ),
            BadInput(
                "nan-y",
                (_model(torch.float32), _x, _x[:, :1] * float("nan")),
                {"lr": 0.1, "steps": 2},
                ValueError,
                "y",
            ),
        ],
        output=lambda fit: fit.final,
    ),
]
