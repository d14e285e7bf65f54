"""Conformance cases for B5: input vs parameter gradient penalties and their inequality."""

from __future__ import annotations

import torch
from torch import nn

from kexue.losses.gradient_penalty import (
    gradient_penalty_inequality,
    input_gradient_penalty,
    parameter_gradient_penalty,
)

from .case import Args, BadInput, Case


def _net(dtype: torch.dtype) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)
    ).to(dtype)


def _x(dtype: torch.dtype) -> torch.Tensor:
    return torch.randn(6, 3, generator=torch.Generator().manual_seed(1)).to(dtype)


def _input_args(dtype: torch.dtype) -> Args:
    net = _net(dtype)
    return (lambda z: net(z)[:, 0], _x(dtype)), {}


def _param_args(dtype: torch.dtype) -> Args:
    net = _net(dtype)
    return (net(_x(dtype)).pow(2).mean(), net), {}


def _ineq_args(dtype: torch.dtype) -> Args:
    y = torch.tensor([0, 1, 1, 0, 1, 0])
    return (
        _net(dtype),
        _x(dtype),
        lambda o: nn.functional.cross_entropy(o, y, reduction="none"),
    ), {}


NET = _net(torch.float64)
X = _x(torch.float64)
NAN = X.clone()
NAN[0, 0] = float("nan")
W = torch.ones(3, requires_grad=True)


def _fn(z: torch.Tensor) -> torch.Tensor:
    return NET(z)[:, 0]


CASES = [
    Case(
        name="input_gradient_penalty",
        fn=input_gradient_penalty,
        make_args=_input_args,
        bad=[
            BadInput("fn-not-callable", (3, X), {}, TypeError, "fn"),
            BadInput("int-x", (_fn, X.long()), {}, TypeError, "x"),
            BadInput("nan-x", (_fn, NAN), {}, ValueError, "x"),
            BadInput("empty-x", (_fn, X[:0]), {}, ValueError, "x"),
            BadInput("vector-output", (NET, X), {}, ValueError, "fn"),
            BadInput("reduction", (_fn, X), {"reduction": "avg"}, ValueError, "reduction"),
            BadInput("reduction-type", (_fn, X), {"reduction": None}, TypeError, "reduction"),
        ],
    ),
    Case(
        name="parameter_gradient_penalty",
        fn=parameter_gradient_penalty,
        make_args=_param_args,
        bad=[
            BadInput("loss-not-tensor", (1.0, [W]), {}, TypeError, "loss"),
            BadInput("loss-not-scalar", (W * 2, [W]), {}, ValueError, "loss"),
            BadInput("params-empty", ((W**2).sum(), []), {}, ValueError, "params"),
            BadInput("params-not-tensors", ((W**2).sum(), [1.0]), {}, TypeError, "params"),
        ],
    ),
    Case(
        name="gradient_penalty_inequality",
        fn=gradient_penalty_inequality,
        make_args=_ineq_args,
        bad=[
            BadInput("not-sequential", (nn.Linear(3, 2), X), {}, TypeError, "mlp"),
            BadInput(
                "batchnorm",
                (nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)), X),
                {},
                TypeError,
                "mlp",
            ),
            BadInput("int-x", (NET, X.long()), {}, TypeError, "x"),
            BadInput("x-width", (NET, X[:, :2]), {}, ValueError, "x"),
            BadInput("nan-x", (NET, NAN), {}, ValueError, "x"),
            BadInput("f-shape", (NET, X, lambda o: o), {}, ValueError, "f"),
        ],
    ),
]
