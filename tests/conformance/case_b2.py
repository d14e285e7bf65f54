"""Conformance cases for B2: class imbalance (focal, smooth F1 → weighted CE, logit adjustment)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from kexue.losses.focal import (
    HardTruncationLoss,
    SigmoidFocalLoss,
    SoftenedTruncationLoss,
    SoftmaxFocalLoss,
    hard_truncation_loss,
    sigmoid_focal_loss,
    softened_truncation_loss,
    softmax_focal_loss,
)
from kexue.losses.imbalance import (
    F1WeightedCrossEntropy,
    class_balanced_weights,
    f1_weighted_cross_entropy,
    smooth_accuracy,
    smooth_f1,
)
from kexue.losses.logit_adjustment import (
    LogitAdjustedCrossEntropy,
    log_prior,
    logit_adjust,
    logit_adjusted_cross_entropy,
)

from .case import Args, BadInput, Case


def _binary(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(4, 5, generator=g)
    x[0, 0], x[0, 1] = 100.0, -100.0
    y = (torch.rand(4, 5, generator=g) < 0.3).to(dtype)
    return (x.to(dtype), y), {}


def _multiclass(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(1)
    x = 3 * torch.randn(3, 4, 6, generator=g)
    t = torch.randint(0, 6, (3, 4), generator=g)
    t[0, 0] = -100
    return (x.to(dtype), t), {}


def _with_prior(dtype: torch.dtype) -> Args:
    (x, t), _ = _multiclass(dtype)
    return (x, t, torch.tensor([300.0, 100.0, 30.0, 10.0, 3.0, 1.0], dtype=dtype)), {}


def _posthoc(dtype: torch.dtype) -> Args:
    (x, _, prior), _ = _with_prior(dtype)
    return (x, prior), {"tau": 1.0}


def _counts(dtype: torch.dtype) -> Args:
    return (torch.tensor([500.0, 120.0, 20.0, 5.0], dtype=dtype),), {"beta": 0.99}


def _la_module() -> Callable[..., Any]:
    def call(x: torch.Tensor, t: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        return LogitAdjustedCrossEntropy(prior)(x, t)

    return call


_XB = torch.zeros(2, 3)
_YB = torch.ones(2, 3)
_NANB = torch.tensor([[math.nan, 0.0, 0.0], [0.0, 0.0, 0.0]])
_XM = torch.zeros(2, 3)
_TM = torch.tensor([0, 2])


def _binary_bad(extra: list[BadInput] | None = None) -> list[BadInput]:
    return [
        BadInput("nan-logits", (_NANB, _YB), {}, ValueError, "logits"),
        BadInput("int-logits", (_YB.long(), _YB), {}, TypeError, "logits"),
        BadInput("empty", (torch.zeros(0), torch.zeros(0)), {}, ValueError, "logits"),
        BadInput("shape", (_XB, _YB[:1]), {}, ValueError, "target"),
        BadInput("label>1", (_XB, 2 * _YB), {}, ValueError, "target"),
        *(extra or []),
    ]


CASES = [
    Case(
        name="sigmoid_focal_loss",
        fn=sigmoid_focal_loss,
        make_args=_binary,
        module=SigmoidFocalLoss,
        bad=_binary_bad(
            [
                BadInput("gamma<0", (_XB, _YB), {"gamma": -1.0}, ValueError, "gamma"),
                BadInput("gamma-str", (_XB, _YB), {"gamma": "2"}, TypeError, "gamma"),
                BadInput("alpha>1", (_XB, _YB), {"alpha": 2.0}, ValueError, "alpha"),
                BadInput("neg-weight", (_XB, _YB), {"weight": -_YB}, ValueError, "weight"),
                BadInput("reduction", (_XB, _YB), {"reduction": "avg"}, ValueError, "reduction"),
                BadInput("reduction-type", (_XB, _YB), {"reduction": 1}, TypeError, "reduction"),
            ]
        ),
    ),
    Case(
        name="softmax_focal_loss",
        fn=softmax_focal_loss,
        make_args=_multiclass,
        module=SoftmaxFocalLoss,
        bad=[
            BadInput("nan-logits", (_NANB, _TM), {}, ValueError, "logits"),
            BadInput("empty", (torch.zeros(0, 3), _TM[:0]), {}, ValueError, "logits"),
            BadInput(
                "one-class", (torch.zeros(2, 1), torch.zeros(2).long()), {}, ValueError, "logits"
            ),
            BadInput("label-range", (_XM, torch.tensor([0, 3])), {}, ValueError, "target"),
            BadInput("float-target", (_XM, _TM.float()), {}, TypeError, "target"),
            BadInput("shape", (_XM, _TM[:1]), {}, ValueError, "target"),
            BadInput("gamma<0", (_XM, _TM), {"gamma": -0.5}, ValueError, "gamma"),
            BadInput("neg-weight", (_XM, _TM), {"weight": -torch.ones(3)}, ValueError, "weight"),
            BadInput(
                "int-weight", (_XM, _TM), {"weight": torch.ones(3).long()}, TypeError, "weight"
            ),
        ],
    ),
    Case(
        name="softened_truncation_loss",
        fn=softened_truncation_loss,
        make_args=_binary,
        module=SoftenedTruncationLoss,
        bad=_binary_bad([BadInput("k<=0", (_XB, _YB), {"k": 0.0}, ValueError, "k")]),
    ),
    Case(
        name="hard_truncation_loss",
        fn=hard_truncation_loss,
        make_args=_binary,
        module=HardTruncationLoss,
        bad=_binary_bad([BadInput("margin", (_XB, _YB), {"margin": 0.2}, ValueError, "margin")]),
    ),
    Case(name="smooth_accuracy", fn=smooth_accuracy, make_args=_binary, bad=_binary_bad()),
    Case(
        name="smooth_f1",
        fn=smooth_f1,
        make_args=_binary,
        bad=_binary_bad([BadInput("eps<0", (_XB, _YB), {"eps": -1.0}, ValueError, "eps")]),
    ),
    Case(
        name="f1_weighted_cross_entropy",
        fn=f1_weighted_cross_entropy,
        make_args=_binary,
        module=F1WeightedCrossEntropy,
        bad=_binary_bad([BadInput("f1>1", (_XB, _YB), {"f1": 1.5}, ValueError, "f1")]),
    ),
    Case(
        name="class_balanced_weights",
        fn=class_balanced_weights,
        make_args=_counts,
        bad=[
            BadInput("zero-count", (torch.tensor([3.0, 0.0]),), {}, ValueError, "counts"),
            BadInput("2d", (torch.ones(2, 2),), {}, ValueError, "counts"),
            BadInput("list", ([3, 4],), {}, TypeError, "counts"),
            BadInput("beta=1", (torch.ones(3),), {"beta": 1.0}, ValueError, "beta"),
        ],
    ),
    Case(
        name="log_prior",
        fn=log_prior,
        make_args=lambda dtype: (_counts(dtype)[0], {}),
        bad=[
            BadInput("zero", (torch.tensor([1.0, 0.0]),), {}, ValueError, "class_prior"),
            BadInput("int", (torch.tensor([1, 2]),), {}, TypeError, "class_prior"),
        ],
    ),
    Case(
        name="logit_adjust",
        fn=logit_adjust,
        make_args=_posthoc,
        bad=[
            BadInput("prior-len", (_XM, torch.ones(2)), {}, ValueError, "class_prior"),
            BadInput("prior-int", (_XM, torch.ones(3).long()), {}, TypeError, "class_prior"),
            BadInput("tau<0", (_XM, torch.ones(3)), {"tau": -1.0}, ValueError, "tau"),
            BadInput("nan", (_NANB, torch.ones(3)), {}, ValueError, "logits"),
        ],
    ),
    Case(
        name="logit_adjusted_cross_entropy",
        fn=logit_adjusted_cross_entropy,
        make_args=_with_prior,
        module=_la_module,
        bad=[
            BadInput(
                "prior<=0", (_XM, _TM, torch.tensor([1.0, 0.0, 1.0])), {}, ValueError, "class_prior"
            ),
            BadInput("label-range", (_XM, _TM + 5, torch.ones(3)), {}, ValueError, "target"),
            BadInput(
                "int-logits",
                (_TM[:, None].expand(2, 3), _TM, torch.ones(3)),
                {},
                TypeError,
                "logits",
            ),
            BadInput(
                "empty", (torch.zeros(0, 3), _TM[:0], torch.ones(3)), {}, ValueError, "logits"
            ),
        ],
    ),
]
