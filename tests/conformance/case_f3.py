"""Conformance cases for F3: the SimSiam loss and the collapse statistics."""

from __future__ import annotations

import torch

from kexue.losses.simsiam import SimSiamLoss, negative_cosine_similarity, simsiam_loss
from kexue.stats.collapse import effective_rank, normalized_output_std

from .case import Args, BadInput, Case


def _four(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(4, 6, 5, generator=g).to(dtype).unbind(0)), {}


def _two(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(1)
    return tuple(torch.randn(2, 6, 5, generator=g).to(dtype).unbind(0)), {}


def _one(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(2)
    return (torch.randn(12, 5, generator=g).to(dtype),), {}


_ok = torch.randn(6, 5)
CASES = [
    Case(
        "simsiam",
        simsiam_loss,
        _four,
        SimSiamLoss,
        [
            BadInput("shape", (_ok, _ok, _ok, _ok[:, :3]), {}, ValueError, "z2"),
            BadInput("int", (_ok.long(), _ok, _ok, _ok), {}, TypeError, "p1"),
        ],
    ),
    Case(
        "negative-cosine",
        negative_cosine_similarity,
        _two,
        bad=[BadInput("nan", (_ok, _ok * float("nan")), {}, ValueError, "z")],
    ),
    Case(
        "output-std",
        normalized_output_std,
        _one,
        bad=[BadInput("1-row", (_ok[:1],), {}, ValueError, "z")],
    ),
    Case(
        "effective-rank",
        effective_rank,
        _one,
        bad=[BadInput("1-d", (_ok[0],), {}, ValueError, "z")],
    ),
]
