"""Conformance cases for A6: Taylor softmax from even-order Taylor polynomials of exp."""

from __future__ import annotations

import torch

from kexue.transformer.taylor_softmax import (
    TaylorCrossEntropyLoss,
    TaylorSoftmax,
    log_taylor_softmax,
    taylor_cross_entropy,
    taylor_exp,
    taylor_minimum,
    taylor_softmax,
)

from .case import Args, BadInput, Case


def _x(dtype: torch.dtype) -> torch.Tensor:
    return (3 * torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(0))).to(dtype)


def _mask() -> torch.Tensor:
    m = torch.rand(2, 3, 5, generator=torch.Generator().manual_seed(1)) > 0.3
    m[0, 0] = False  # one fully masked row
    return m


def _softmax_args(dtype: torch.dtype) -> Args:
    return (_x(dtype),), {"mask": _mask()}


def _ce_args(dtype: torch.dtype) -> Args:
    target = torch.randint(0, 3, (2, 5), generator=torch.Generator().manual_seed(2))
    return (_x(dtype), target), {}


X = _x(torch.float64)
NAN = X.clone()
NAN[1, 2, 3] = float("nan")
TARGET = _ce_args(torch.float64)[0][1]

SOFTMAX_BAD = [
    BadInput("odd-order", (X,), {"order": 3}, ValueError, "order"),
    BadInput("float-order", (X,), {"order": 2.0}, TypeError, "order"),
    BadInput("int-x", (X.long(),), {}, TypeError, "x"),
    BadInput("nan", (NAN,), {}, ValueError, "x"),
    BadInput("empty", (X[:, :0],), {}, ValueError, "x"),
    BadInput("mask-dtype", (X,), {"mask": _mask().int()}, TypeError, "mask"),
    BadInput("mask-shape", (X,), {"mask": _mask()[..., :2]}, ValueError, "mask"),
    BadInput("dim", (X,), {"dim": 3}, ValueError, "dim"),
]

CASES = [
    Case(
        name="taylor_exp",
        fn=taylor_exp,
        make_args=lambda dtype: ((_x(dtype), 4), {}),
        bad=[
            BadInput("negative-order", (X, -2), {}, ValueError, "order"),
            BadInput("bool-order", (X, True), {}, TypeError, "order"),
            BadInput("int-x", (X.long(), 2), {}, TypeError, "x"),
            BadInput("nan", (NAN, 2), {}, ValueError, "x"),
        ],
    ),
    Case(
        name="taylor_softmax",
        fn=taylor_softmax,
        make_args=_softmax_args,
        module=lambda: TaylorSoftmax(order=2, dim=-1),
        bad=SOFTMAX_BAD,
    ),
    Case(
        name="log_taylor_softmax",
        fn=log_taylor_softmax,
        make_args=lambda dtype: ((_x(dtype),), {"order": 4, "dim": 1}),
        bad=SOFTMAX_BAD,
    ),
    Case(
        name="taylor_cross_entropy",
        fn=taylor_cross_entropy,
        make_args=_ce_args,
        module=lambda: TaylorCrossEntropyLoss(order=2),
        bad=[
            BadInput("odd-order", (X, TARGET), {"order": 5}, ValueError, "order"),
            BadInput("float-target", (X, TARGET.double()), {}, TypeError, "target"),
            BadInput("target-shape", (X, TARGET[:, :2]), {}, ValueError, "target"),
            BadInput("target-range", (X, TARGET + 3), {}, ValueError, "target"),
            BadInput("reduction", (X, TARGET), {"reduction": "avg"}, ValueError, "reduction"),
            BadInput("1d-logits", (X[0, 0], TARGET[0, :1]), {}, ValueError, "logits"),
        ],
    ),
    Case(
        name="taylor_minimum",
        fn=taylor_minimum,
        make_args=lambda dtype: ((6,), {}),
        dtype_follows=False,
        output=lambda out: torch.tensor(out, dtype=torch.float64),
        bad=[
            BadInput("odd-order", (7,), {}, ValueError, "order"),
            BadInput("float-order", (4.0,), {}, TypeError, "order"),
        ],
    ),
]
