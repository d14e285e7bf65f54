"""Conformance cases for B3: multi-task loss weighting."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from kexue.losses.multitask import (
    MultiTaskLoss,
    ce_prior_loss,
    generalized_mean,
    gradient_normalized_sum,
    mse_prior_loss,
    normalized_sum,
    realtime_normalized_sum,
    uncertainty_weighted_sum,
    weighted_sum,
)

from .case import Args, BadInput, Case


def _losses(dtype: torch.dtype) -> Args:
    return (torch.tensor([[0.7, 2.3, 1.5e4], [0.2, 1.1, 3.0e3]], dtype=dtype),), {}


def _with(key: str, value: Callable[[torch.dtype], Any]) -> Callable[[torch.dtype], Args]:
    def make(dtype: torch.dtype) -> Args:
        (t,), _ = _losses(dtype)
        return (t,), {key: value(dtype)}

    return make


def _graph(dtype: torch.dtype) -> Args:
    w = torch.tensor([0.5, -1.0, 2.0], dtype=dtype, requires_grad=True)
    head = torch.tensor([1.5], dtype=dtype, requires_grad=True)
    losses = [(w**2).sum(), 100 * (w.sum() * head - 3).pow(2).sum()]
    return (losses, [w]), {}


def _module(strategy: str, **kw: Any) -> Callable[[], Callable[..., Any]]:
    def build() -> Callable[..., Any]:
        def call(losses: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            extra = {k: v for k, v in kwargs.items() if k in ("weights", "scales", "gamma")}
            mod = MultiTaskLoss(losses.shape[-1], strategy, **extra, **kw)
            return mod(losses).to(losses.dtype)

        return call

    return build


def _gn_module() -> Callable[..., Any]:
    def call(losses: list[torch.Tensor], params: list[torch.Tensor]) -> torch.Tensor:
        return MultiTaskLoss(len(losses), "gradient_normalized")(losses, shared_params=params)

    return call


_GOOD = torch.tensor([1.0, 2.0])
_NAN = torch.tensor([1.0, math.nan])

_COMMON = [
    BadInput("nan", (_NAN,), {}, ValueError, "losses"),
    BadInput("empty", (torch.zeros(0),), {}, ValueError, "losses"),
    BadInput("int", (torch.tensor([1, 2]),), {}, TypeError, "losses"),
    BadInput("not-tensor", ("1, 2",), {}, TypeError, "losses"),
]

CASES = [
    Case(
        name="weighted_sum",
        fn=weighted_sum,
        make_args=_with("weights", lambda d: torch.tensor([0.5, 0.3, 1e-4], dtype=d)),
        module=_module("equal"),
        bad=[
            *_COMMON,
            BadInput(
                "neg-w", (_GOOD,), {"weights": torch.tensor([1.0, -1.0])}, ValueError, "weights"
            ),
            BadInput("len-w", (_GOOD,), {"weights": torch.ones(3)}, ValueError, "weights"),
        ],
    ),
    Case(
        name="normalized_sum",
        fn=normalized_sum,
        make_args=_with("scales", lambda d: torch.tensor([2.3, 2.3, 2e4], dtype=d)),
        module=_module("prior"),
        bad=[
            *(
                BadInput(b.label, b.args, {"scales": torch.ones(2)}, b.error, b.arg)
                for b in _COMMON
            ),
            BadInput(
                "zero-scale", (_GOOD,), {"scales": torch.tensor([1.0, 0.0])}, ValueError, "scales"
            ),
            BadInput("int-scale", (_GOOD,), {"scales": "ab"}, TypeError, "scales"),
        ],
    ),
    Case(
        name="realtime_normalized_sum",
        fn=realtime_normalized_sum,
        make_args=_losses,
        module=_module("realtime"),
        bad=[
            *_COMMON,
            BadInput("negative", (torch.tensor([1.0, -2.0]),), {}, ValueError, "losses"),
        ],
    ),
    Case(
        name="generalized_mean",
        fn=generalized_mean,
        make_args=_with("gamma", lambda d: 0.5),
        module=_module("generalized_mean"),
        bad=[
            *_COMMON,
            BadInput("zero-loss", (torch.tensor([0.0, 1.0]),), {}, ValueError, "losses"),
            BadInput("gamma-str", (_GOOD,), {"gamma": "1"}, TypeError, "gamma"),
            BadInput("gamma-nan", (_GOOD,), {"gamma": math.nan}, ValueError, "gamma"),
        ],
    ),
    Case(
        name="uncertainty_weighted_sum",
        fn=uncertainty_weighted_sum,
        make_args=_with("log_vars", lambda d: torch.zeros(3, dtype=d)),
        module=_module("uncertainty"),
        bad=[
            BadInput("nan", (_NAN, torch.zeros(2)), {}, ValueError, "losses"),
            BadInput("len", (_GOOD, torch.zeros(3)), {}, ValueError, "log_vars"),
            BadInput("int", (_GOOD, torch.zeros(2).long()), {}, TypeError, "log_vars"),
        ],
    ),
    Case(
        name="gradient_normalized_sum",
        fn=gradient_normalized_sum,
        make_args=_graph,
        module=_gn_module,
        bad=[
            BadInput(
                "2d",
                (torch.ones(2, 2), [torch.ones(1, requires_grad=True)]),
                {},
                ValueError,
                "losses",
            ),
            BadInput("no-params", ([torch.ones(())],), {"params": []}, ValueError, "params"),
            BadInput("param-type", ([torch.ones(())], ["w"]), {}, TypeError, "params"),
            BadInput(
                "int",
                (torch.tensor([1, 2]), [torch.ones(1, requires_grad=True)]),
                {},
                TypeError,
                "losses",
            ),
        ],
    ),
    Case(
        name="ce_prior_loss",
        fn=ce_prior_loss,
        make_args=lambda d: ((torch.tensor([50.0, 30.0, 20.0], dtype=d),), {}),
        bad=[
            BadInput("negative", (torch.tensor([-1.0, 2.0]),), {}, ValueError, "class_counts"),
            BadInput("list", ([1, 2],), {}, TypeError, "class_counts"),
        ],
    ),
    Case(
        name="mse_prior_loss",
        fn=mse_prior_loss,
        make_args=lambda d: ((torch.tensor([[1.0, 10.0], [3.0, 30.0], [2.0, 0.0]], dtype=d),), {}),
        bad=[
            BadInput("empty", (torch.zeros(0),), {}, ValueError, "targets"),
            BadInput("int", (torch.tensor([1, 2]),), {}, TypeError, "targets"),
        ],
    ),
]
