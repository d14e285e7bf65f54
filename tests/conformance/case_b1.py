"""Conformance cases for B1: multi-label softmax + cross-entropy (ZLPR)."""

from __future__ import annotations

import math

import torch

from kexue.losses.multilabel import (
    MultilabelCrossEntropy,
    SparseMultilabelCrossEntropy,
    multilabel_categorical_crossentropy,
    multilabel_predict,
    multilabel_probabilities,
    sparse_multilabel_categorical_crossentropy,
)

from .case import Args, BadInput, Case


def _dense(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 6, generator=g).to(dtype)
    targets = (torch.rand(4, 6, generator=g) < 0.3).to(dtype)
    return (logits, targets), {}


def _soft(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(1)
    return (torch.randn(2, 3, 5, generator=g).to(dtype), torch.rand(2, 3, 5, generator=g)), {}


def _sparse(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(3, 50, generator=g).to(dtype)
    ids = torch.tensor([[3, 7, -1], [0, 0, 49], [-1, -1, -1]])
    return (logits, ids), {}


def _logits(dtype: torch.dtype) -> Args:
    return (torch.linspace(-2, 2, 12).reshape(3, 4).to(dtype),), {}


_NAN = torch.tensor([[math.nan, 0.0]])
_Z = torch.zeros(1, 3)

CASES = [
    Case(
        name="multilabel_categorical_crossentropy",
        fn=multilabel_categorical_crossentropy,
        make_args=_dense,
        module=MultilabelCrossEntropy,
        bad=[
            BadInput("nan-logits", (_NAN, torch.zeros(1, 2)), {}, ValueError, "logits"),
            BadInput(
                "int-logits", (torch.zeros(1, 2, dtype=torch.long),) * 2, {}, TypeError, "logits"
            ),
            BadInput("shape", (_Z, torch.zeros(1, 2)), {}, ValueError, "targets"),
            BadInput("label>1", (_Z, torch.tensor([[0.0, 2.0, 1.0]])), {}, ValueError, "targets"),
            BadInput("empty", (torch.zeros(0, 3), torch.zeros(0, 3)), {}, ValueError, "logits"),
            BadInput("reduction", (_Z, _Z), {"reduction": "avg"}, ValueError, "reduction"),
            BadInput("reduction-type", (_Z, _Z), {"reduction": None}, TypeError, "reduction"),
        ],
    ),
    Case(
        name="multilabel_categorical_crossentropy-soft",
        fn=multilabel_categorical_crossentropy,
        make_args=_soft,
        module=MultilabelCrossEntropy,
        bad=[BadInput("mask-dtype", (_Z, _Z), {"mask": _Z}, TypeError, "mask")],
    ),
    Case(
        name="sparse_multilabel_categorical_crossentropy",
        fn=sparse_multilabel_categorical_crossentropy,
        make_args=_sparse,
        module=SparseMultilabelCrossEntropy,
        bad=[
            BadInput("float-ids", (_Z, torch.tensor([[0.0, 1.0]])), {}, TypeError, "positive_ids"),
            BadInput("id-range", (_Z, torch.tensor([[0, 3]])), {}, ValueError, "positive_ids"),
            BadInput(
                "lead-dims",
                (torch.zeros(2, 3), torch.tensor([[0]])),
                {},
                ValueError,
                "positive_ids",
            ),
            BadInput("nan-logits", (_NAN, torch.tensor([[0]])), {}, ValueError, "logits"),
        ],
    ),
    Case(
        name="multilabel_probabilities",
        fn=multilabel_probabilities,
        make_args=_logits,
        bad=[BadInput("int", (torch.zeros(2, dtype=torch.long),), {}, TypeError, "logits")],
    ),
    Case(
        name="multilabel_predict",
        fn=multilabel_predict,
        make_args=_logits,
        bad=[BadInput("nan", (_NAN,), {}, ValueError, "logits")],
        dtype_follows=False,
        output=lambda out: out.to(torch.float64),
    ),
]
