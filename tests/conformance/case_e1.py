"""Conformance cases for E1: closed-form (analytic) logistic / softmax regression."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kexue.models.analytic_classifier import (
    AnalyticLogisticRegression,
    analytic_softmax_regression,
)

from .case import Args, BadInput, Case

K, D = 3, 4


def _data(dtype: torch.dtype, batch: tuple[int, ...] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(60).remainder(K).expand(*batch, 60)
    x = torch.randn(*batch, 60, D, generator=g, dtype=torch.float64)
    x = x + 2.0 * torch.randn(K, D, generator=g, dtype=torch.float64)[y]
    return x.to(dtype), y


def _args(batch: tuple[int, ...] = (), **kwargs: Any) -> Callable[[torch.dtype], Args]:
    def make(dtype: torch.dtype) -> Args:
        x, y = _data(dtype, batch)
        return (x, y, K), dict(kwargs)

    return make


def _estimator() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The scikit-learn estimator as a (x, y, n_classes) -> (weight, bias) callable."""

    def fit(x: torch.Tensor, y: torch.Tensor, n_classes: int, shrinkage: float = 0.0) -> Any:
        clf = AnalyticLogisticRegression(shrinkage=shrinkage).fit(x.numpy(), y.numpy())
        assert len(clf.classes_) == n_classes
        return torch.from_numpy(clf.coef_), torch.from_numpy(clf.intercept_)

    return fit


def _bad() -> list[BadInput]:
    x, y = _data(torch.float64)
    nan = x.clone()
    nan[3, 1] = float("nan")
    collinear = torch.cat([x, x[:, :1] + x[:, 1:2]], dim=-1)
    return [
        BadInput("int-x", (x.long(), y, K), {}, TypeError, "x"),
        BadInput("float-y", (x, y.double(), K), {}, TypeError, "y"),
        BadInput("nan-x", (nan, y, K), {}, ValueError, "x"),
        BadInput("y-shape", (x, y[:10], K), {}, ValueError, "y"),
        BadInput("empty-class", (x, y, K + 1), {}, ValueError, "y"),
        BadInput("one-class", (x, y, 1), {}, ValueError, "n_classes"),
        BadInput("shrinkage-range", (x, y, K), {"shrinkage": 2.0}, ValueError, "shrinkage"),
        BadInput("singular", (collinear, y, K), {}, ValueError, "x"),
    ]


CASES = [
    Case(
        name="analytic_softmax_regression",
        fn=analytic_softmax_regression,
        make_args=_args(shrinkage=0.1),
        module=_estimator,
        bad=_bad(),
    ),
    Case(
        name="analytic_softmax_regression-batched-auto",
        fn=analytic_softmax_regression,
        make_args=_args(batch=(2,), shrinkage="auto"),
    ),
]
