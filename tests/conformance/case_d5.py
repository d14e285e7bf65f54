"""Conformance cases for D5: smooth approximations via approximate identities."""

from __future__ import annotations

from collections.abc import Callable

import torch

from kexue.nn.smooth import (
    SmoothLeakyReLU,
    SmoothReLU,
    smooth_abs,
    smooth_clip,
    smooth_floor,
    smooth_leaky_relu,
    smooth_max,
    smooth_min,
    smooth_relu,
    smooth_sign,
    smooth_step,
)

from .case import Args, BadInput, Case

_X = torch.linspace(-12.0, 6.0, 37, dtype=torch.float64).reshape(37, 1) * torch.ones(
    1, 3, dtype=torch.float64
)


def _x(dtype: torch.dtype) -> torch.Tensor:
    return _X.to(dtype)


def _unary(width: float = 0.7, **kw: object) -> Callable[[torch.dtype], Args]:
    def make(dtype: torch.dtype) -> Args:
        return (_x(dtype), width), dict(kw)

    return make


def _binary(dtype: torch.dtype) -> Args:
    return (_x(dtype), torch.cos(_x(dtype))), {"width": 0.5}


def _clip_args(dtype: torch.dtype) -> Args:
    return (_x(dtype), -1.0, 2.0, 0.4), {}


def _floor_args(dtype: torch.dtype) -> Args:
    return (_x(dtype), 0.1), {"low": -13, "high": 7, "kernel": "logistic"}


def _tensor_width(dtype: torch.dtype) -> Args:
    return (_x(dtype), torch.linspace(0.2, 2.0, 3, dtype=dtype)), {}


_BAD_UNARY = [
    BadInput("int-x", (torch.arange(3), 1.0), {}, TypeError, "x"),
    BadInput("zero-width", (torch.randn(3), 0.0), {}, ValueError, "width"),
    BadInput("nan-width", (torch.randn(3), float("nan")), {}, ValueError, "width"),
    BadInput("width-shape", (torch.randn(3), torch.ones(4)), {}, ValueError, "width"),
    BadInput("str-width", (torch.randn(3), "1"), {}, TypeError, "width"),
    BadInput("kernel", (torch.randn(3), 1.0), {"kernel": "box"}, ValueError, "kernel"),
]

CASES = [
    Case(name="smooth_relu", fn=smooth_relu, make_args=_unary(), bad=_BAD_UNARY),
    Case(name="smooth_relu_logistic", fn=smooth_relu, make_args=_unary(kernel="logistic")),
    Case(name="smooth_relu_tensor_width", fn=smooth_relu, make_args=_tensor_width),
    Case(
        name="SmoothReLU",
        fn=lambda x, width=0.7: smooth_relu(x, width),
        make_args=_unary(),
        module=lambda: lambda x, width=0.7: SmoothReLU(width)(x),
    ),
    Case(
        name="SmoothLeakyReLU",
        fn=lambda x, width=0.7: smooth_leaky_relu(x, width, 0.1),
        make_args=_unary(),
        module=lambda: lambda x, width=0.7: SmoothLeakyReLU(width, 0.1)(x),
    ),
    Case(name="smooth_step", fn=smooth_step, make_args=_unary(), bad=_BAD_UNARY[:3]),
    Case(
        name="smooth_sign", fn=smooth_sign, make_args=_unary(kernel="logistic"), bad=_BAD_UNARY[:3]
    ),
    Case(name="smooth_abs", fn=smooth_abs, make_args=_unary(), bad=_BAD_UNARY[:3]),
    Case(
        name="smooth_leaky_relu",
        fn=smooth_leaky_relu,
        make_args=_unary(negative_slope=0.2),
        bad=[
            *_BAD_UNARY[:2],
            BadInput("slope-str", (torch.randn(3), 1.0, "0.1"), {}, TypeError, "negative_slope"),
        ],
    ),
    Case(
        name="smooth_max",
        fn=smooth_max,
        make_args=_binary,
        bad=[
            BadInput("int-a", (torch.arange(3), torch.randn(3)), {}, TypeError, "a"),
            BadInput("b-shape", (torch.randn(3), torch.randn(4)), {}, ValueError, "b"),
            BadInput(
                "b-dtype", (torch.randn(3), torch.randn(3, dtype=torch.float64)), {}, TypeError, "b"
            ),
        ],
    ),
    Case(
        name="smooth_min",
        fn=smooth_min,
        make_args=_binary,
        bad=[
            BadInput("int-b", (torch.randn(3), torch.arange(3)), {}, TypeError, "b"),
            BadInput("neg-width", (torch.randn(3), torch.randn(3), -1.0), {}, ValueError, "width"),
        ],
    ),
    Case(
        name="smooth_clip",
        fn=smooth_clip,
        make_args=_clip_args,
        bad=[
            BadInput("low>=high", (torch.randn(3), 1.0, 0.0), {}, ValueError, "low"),
            BadInput("low-str", (torch.randn(3), "0", 1.0), {}, TypeError, "low"),
        ],
    ),
    Case(
        name="smooth_floor",
        fn=smooth_floor,
        make_args=_floor_args,
        bad=[
            BadInput("low>high", (torch.randn(3), 0.1), {"low": 3, "high": 1}, ValueError, "low"),
            BadInput("float-low", (torch.randn(3), 0.1), {"low": 0.5}, TypeError, "low"),
        ],
    ),
]
