"""Conformance cases for D1: entropy normalisation."""

from __future__ import annotations

from typing import Any

import torch

from kexue.stats.entropy_normalization import (
    EntropyNormalization,
    entropy,
    entropy_invariant_scale,
    entropy_normalize,
    solve_entropy_exponent,
)

from .case import Args, BadInput, Case

_Z = torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
_MASK = torch.ones(3, 5, 7, dtype=torch.bool)
_MASK[1, 2, 4:] = False


def _logits(dtype: torch.dtype) -> torch.Tensor:
    return _Z.to(dtype)


def _entropy_args(dtype: torch.dtype) -> Args:
    return (torch.softmax(_logits(dtype), -1),), {}


def _normalize_args(dtype: torch.dtype) -> Args:
    return (), {"logits": _logits(dtype), "target_entropy": 1.2, "mask": _MASK}


def _normalize_probs_args(dtype: torch.dtype) -> Args:
    p = torch.softmax(_logits(dtype), 1)
    return (p,), {"target_entropy": torch.full((3, 7), 0.9, dtype=dtype), "dim": 1}


def _solve_args(dtype: torch.dtype) -> Args:
    return (_logits(dtype), 1.5), {}


def _module_args(dtype: torch.dtype) -> Args:
    return (_logits(dtype),), {"mask": _MASK}


def _layer_fn(input: torch.Tensor, mask: torch.Tensor | None = None) -> Any:
    return entropy_normalize(logits=input, target_entropy=0.7, mask=mask)


def _scale_args(dtype: torch.dtype) -> Args:
    return (torch.tensor([16.0, 512.0, 4096.0], dtype=dtype), 64), {}


_BAD_NORMALIZE = [
    BadInput("int-logits", (), {"logits": torch.zeros(2, 3, dtype=torch.long), "target_entropy": 0.5}, TypeError, "logits"),
    BadInput("nan-logits", (), {"logits": torch.tensor([0.0, float("nan")]), "target_entropy": 0.5}, ValueError, "logits"),
    BadInput("target-above-log-n", (), {"logits": torch.randn(2, 3), "target_entropy": 2.0}, ValueError, "target_entropy"),
    BadInput("one-hot-row", (torch.tensor([[1.0, 0.0, 0.0]]),), {"target_entropy": 0.5}, ValueError, "target_entropy"),
    BadInput("empty", (), {"logits": torch.zeros(2, 0), "target_entropy": 0.5}, ValueError, "logits"),
    BadInput("mask-shape", (), {"logits": torch.randn(3), "target_entropy": 0.5, "mask": torch.ones(4, dtype=torch.bool)}, ValueError, "mask"),
    BadInput("mask-float", (), {"logits": torch.randn(3), "target_entropy": 0.5, "mask": torch.ones(3)}, TypeError, "mask"),
    BadInput("negative-probs", (torch.tensor([0.5, -0.1, 0.6]),), {"target_entropy": 0.5}, ValueError, "probs"),
]  # fmt: skip

CASES = [
    Case(
        name="entropy",
        fn=entropy,
        make_args=_entropy_args,
        bad=[
            BadInput("int-probs", (torch.ones(3, dtype=torch.long),), {}, TypeError, "probs"),
            BadInput("nan-probs", (torch.tensor([0.5, float("nan")]),), {}, ValueError, "probs"),
            BadInput("empty", (torch.zeros(0),), {}, ValueError, "probs"),
        ],
    ),
    Case(
        name="entropy_normalize",
        fn=entropy_normalize,
        make_args=_normalize_args,
        bad=_BAD_NORMALIZE,
    ),
    Case(name="entropy_normalize_probs", fn=entropy_normalize, make_args=_normalize_probs_args),
    Case(
        name="solve_entropy_exponent",
        fn=solve_entropy_exponent,
        make_args=_solve_args,
        output=lambda out: (out.exponent, out.residual),
        bad=[
            BadInput(
                "int-logits", (torch.zeros(2, 3, dtype=torch.long), 0.5), {}, TypeError, "logits"
            ),
            BadInput(
                "target-negative", (torch.randn(2, 3), -1.0), {}, ValueError, "target_entropy"
            ),
            BadInput(
                "target-shape", (torch.randn(2, 3), torch.ones(3)), {}, ValueError, "target_entropy"
            ),
        ],
    ),
    Case(
        name="EntropyNormalization",
        fn=_layer_fn,
        make_args=_module_args,
        module=lambda: EntropyNormalization(0.7),
    ),
    Case(
        name="entropy_invariant_scale",
        fn=entropy_invariant_scale,
        make_args=_scale_args,
        bad=[
            BadInput("n-below-1", (torch.tensor([0.5]), 64), {}, ValueError, "n"),
            BadInput("head-dim-str", (torch.tensor([4.0]), "64"), {}, TypeError, "head_dim"),
            BadInput("head-dim-zero", (torch.tensor([4.0]), 0), {}, ValueError, "head_dim"),
        ],
    ),
]
