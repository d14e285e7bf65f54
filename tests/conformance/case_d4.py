"""Conformance cases for D4: EMD / WMD / WRD between vector sequences, and their lower bounds."""

from __future__ import annotations

from collections.abc import Callable

import torch

from kexue.geometry.transport import (
    earth_movers_distance,
    relaxed_transport_bound,
    token_masses,
    transport_cost_matrix,
    transport_distance,
    word_centroid_distance,
    word_mover_distance,
    word_rotator_distance,
    wrd_centroid_bound,
)

from .case import Args, BadInput, Case

D = 4


def _seqs(dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, D, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randn(3, 4, D, generator=g, dtype=torch.float64).to(dtype)
    x_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 1, 0, 1]]).bool()
    return x, y, x_mask


def _args(**kwargs: object) -> Callable[[torch.dtype], Args]:
    def make(dtype: torch.dtype) -> Args:
        return _seqs(dtype), dict(kwargs)

    return make


def _bad(fn_kw: dict[str, object] | None = None) -> list[BadInput]:
    x, y, xm = _seqs()
    nan = x.clone()
    nan[1, 0, 2] = float("nan")
    kw = fn_kw or {}
    no_token = xm.clone()
    no_token[2] = False
    return [
        BadInput("int", (x.long(), y, xm), kw, TypeError, "x"),
        BadInput("nan", (nan, y, xm), kw, ValueError, "x"),
        BadInput("wrong-dim", (x, y[..., :2], xm), kw, ValueError, "y"),
        BadInput("empty", (x, y[:, :0], xm), kw, ValueError, "y"),
        BadInput("empty-mask", (x, y, no_token), kw, ValueError, "x_mask"),
        BadInput(
            "zero-weights", (x, y, xm), {**kw, "y_weights": torch.zeros(4)}, ValueError, "y_weights"
        ),
    ]


def _emd_args(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(1)
    c = torch.rand(3, 4, 5, generator=g, dtype=torch.float64).to(dtype)
    p = torch.rand(3, 4, generator=g, dtype=torch.float64).to(dtype)
    return (c, p, torch.ones(5, dtype=dtype)), {}


def _masses_args(dtype: torch.dtype) -> Args:
    x, _, xm = _seqs(dtype)
    return (x, xm), {"mass": "norm"}


def _cost_args(dtype: torch.dtype) -> Args:
    x, y, _ = _seqs(dtype)
    return (x, y), {"cost": "cosine"}


_C = torch.rand(2, 3, dtype=torch.float64)

CASES = [
    Case("wmd", word_mover_distance, _args(), bad=_bad()),
    Case("wmd-normalized", word_mover_distance, _args(normalize=True)),
    Case("wrd", word_rotator_distance, _args(), bad=_bad()),
    Case(
        "wrd-uniform-sinkhorn",
        word_rotator_distance,
        _args(mass="uniform", method="sinkhorn", eps=0.05),
    ),
    Case(
        "transport-distance",
        transport_distance,
        _args(cost="cosine", mass="uniform"),
        bad=[
            *_bad({"cost": "cosine"}),
            BadInput("bad-cost", _seqs(), {"cost": "l1"}, ValueError, "cost"),
            BadInput("bad-eps", _seqs(), {"method": "sinkhorn", "eps": -1.0}, ValueError, "eps"),
        ],
    ),
    Case("wcd", word_centroid_distance, _args(), bad=_bad()),
    Case("wrd-bound", wrd_centroid_bound, _args(), bad=_bad()),
    Case("rwmd", relaxed_transport_bound, _args(cost="cosine", mass="norm"), bad=_bad()),
    Case(
        "emd",
        earth_movers_distance,
        _emd_args,
        bad=[
            BadInput("int-cost", (_C.long(), torch.ones(2), torch.ones(3)), {}, TypeError, "cost"),
            BadInput(
                "zero-p",
                (_C, torch.zeros(2, dtype=torch.float64), torch.ones(3, dtype=torch.float64)),
                {},
                ValueError,
                "p",
            ),
            BadInput(
                "wrong-q",
                (_C, torch.ones(2, dtype=torch.float64), torch.ones(4, dtype=torch.float64)),
                {},
                ValueError,
                "cost",
            ),
        ],
    ),
    Case(
        "token-masses",
        token_masses,
        _masses_args,
        bad=[BadInput("zero-vectors", (torch.zeros(3, D),), {"mass": "norm"}, ValueError, "x")],
    ),
    Case(
        "cost-matrix",
        transport_cost_matrix,
        _cost_args,
        bad=[BadInput("int", (torch.ones(2, D).long(), torch.ones(2, D)), {}, TypeError, "x")],
    ),
]
