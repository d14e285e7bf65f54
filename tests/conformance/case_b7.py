"""Conformance cases for B7: implicit gradient regularisation (modified loss and flows)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from kexue.losses.implicit_regularization import (
    flow_tracking_errors,
    gradient_descent,
    gradient_flow,
    modified_gradient,
    modified_loss,
)

from .case import Args, BadInput, Case


def _quadratic(dtype: torch.dtype) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    a = torch.tensor([[1.0, 0.3, 0.0], [0.3, 2.0, 0.1], [0.0, 0.1, 0.5]]).to(dtype)
    return (lambda t: 0.5 * t @ a @ t + t.sum()), torch.tensor([1.0, -1.0, 0.5]).to(dtype)


def _loss_args(dtype: torch.dtype) -> Args:
    torch.manual_seed(0)
    net = nn.Linear(3, 1).to(dtype)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(1)).to(dtype)
    return (torch.tanh(net(x)).pow(2).mean(), net, 0.1), {}


def _args(dtype: torch.dtype, *rest: object, **kw: object) -> Args:
    fn, th = _quadratic(dtype)
    return (fn, th, *rest), dict(kw)


FN, TH = _quadratic(torch.float64)
NAN = TH.clone()
NAN[0] = float("nan")
W = torch.ones(2, requires_grad=True)

THETA_BAD = [
    BadInput("loss-fn", (3, TH), {}, TypeError, "loss_fn"),
    BadInput("theta-int", (FN, TH.long()), {}, TypeError, "theta"),
    BadInput("theta-2d", (FN, TH[None]), {}, ValueError, "theta"),
    BadInput("theta-nan", (FN, NAN), {}, ValueError, "theta"),
]

CASES = [
    Case(
        name="modified_loss",
        fn=modified_loss,
        make_args=_loss_args,
        bad=[
            BadInput("loss-vector", (W * 2, [W], 0.1), {}, ValueError, "loss"),
            BadInput("loss-int", (torch.tensor(1), [W], 0.1), {}, TypeError, "loss"),
            BadInput("lr-negative", ((W**2).sum(), [W], -0.1), {}, ValueError, "lr"),
            BadInput("lr-str", ((W**2).sum(), [W], "0.1"), {}, TypeError, "lr"),
        ],
    ),
    Case(
        name="modified_gradient",
        fn=modified_gradient,
        make_args=lambda dtype: _args(dtype, 0.2),
        bad=[*THETA_BAD, BadInput("lr", (FN, TH, -1.0), {}, ValueError, "lr")],
    ),
    Case(
        name="gradient_flow",
        fn=gradient_flow,
        make_args=lambda dtype: _args(dtype, 1.0, lr=0.1, steps=10),
        bad=[
            BadInput("theta0-int", (FN, TH.long(), 1.0), {}, TypeError, "theta0"),
            BadInput("time", (FN, TH, -1.0), {}, ValueError, "time"),
            BadInput("steps", (FN, TH, 1.0), {"steps": 0}, ValueError, "steps"),
            BadInput("steps-float", (FN, TH, 1.0), {"steps": 2.0}, TypeError, "steps"),
        ],
    ),
    Case(
        name="gradient_descent",
        fn=gradient_descent,
        make_args=lambda dtype: _args(dtype, 0.1, 5),
        bad=[
            BadInput("theta0-nan", (FN, NAN, 0.1, 3), {}, ValueError, "theta0"),
            BadInput("lr-zero", (FN, TH, 0.0, 3), {}, ValueError, "lr"),
            BadInput("n-steps", (FN, TH, 0.1, 1.5), {}, TypeError, "n_steps"),
        ],
    ),
    Case(
        name="flow_tracking_errors",
        fn=flow_tracking_errors,
        make_args=lambda dtype: _args(dtype, [0.2, 0.1], 1.0, steps_per_unit_time=20),
        bad=[
            BadInput("lrs-not-multiple", (FN, TH, [0.3, 0.1], 1.0), {}, ValueError, "lrs"),
            BadInput("lrs-one", (FN, TH, [0.1], 1.0), {}, ValueError, "lrs"),
            BadInput("lrs-tensor", (FN, TH, torch.tensor([0.1, 0.2]), 1.0), {}, TypeError, "lrs"),
            BadInput("time", (FN, TH, [0.2, 0.1], 0.0), {}, ValueError, "time"),
        ],
    ),
]
