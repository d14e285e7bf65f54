"""Conformance cases for D3: JL bounds, random projections, SimHash, randomised SVD."""

from __future__ import annotations

from typing import Any

import torch

from kexue.geometry.projection import (
    RandomProjection,
    dasgupta_gupta_min_dim,
    gaussian_projection_matrix,
    head_size_rule,
    jl_min_dim,
    random_projection,
    sparse_projection_matrix,
)
from kexue.geometry.randomized_svd import randomized_range_finder, randomized_svd
from kexue.geometry.simhash import SimHash, sign_cosine, simhash, simhash_cosine

from .case import Args, BadInput, Case


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _x(dtype: torch.dtype) -> torch.Tensor:
    return torch.randn(2, 5, 6, generator=_gen(1)).to(dtype)


def _codes(dtype: torch.dtype) -> Args:
    a = torch.where(torch.randn(4, 32, generator=_gen(2)) > 0, 1.0, -1.0).to(dtype)
    b = torch.where(torch.randn(4, 32, generator=_gen(3)) > 0, 1.0, -1.0).to(dtype)
    return (a, b), {}


def _matrix(dtype: torch.dtype) -> torch.Tensor:
    return torch.randn(12, 8, generator=_gen(4)).to(dtype)


def _as_tensor(n: Any) -> torch.Tensor:
    return torch.tensor(float(n))


_NAN_X = torch.tensor([[1.0, float("nan")]])
_INT_X = torch.ones(2, 3, dtype=torch.int64)
_BAD_CODES = torch.tensor([[0.5, -1.0]])
_PM = torch.tensor([[1.0, -1.0]])

CASES: list[Case] = [
    Case(
        name="jl_min_dim",
        fn=jl_min_dim,
        make_args=lambda dtype: ((200, 0.5), {}),
        dtype_follows=False,
        output=_as_tensor,
        bad=[
            BadInput("eps_one", (200, 1.0), {}, ValueError, "eps"),
            BadInput("eps_nan", (200, float("nan")), {}, ValueError, "eps"),
            BadInput("one_point", (1, 0.5), {}, ValueError, "n_points"),
            BadInput("float_points", (200.0, 0.5), {}, TypeError, "n_points"),
        ],
    ),
    Case(
        name="dasgupta_gupta_min_dim",
        fn=dasgupta_gupta_min_dim,
        make_args=lambda dtype: ((200, 0.5), {}),
        dtype_follows=False,
        output=_as_tensor,
        bad=[BadInput("eps_zero", (200, 0.0), {}, ValueError, "eps")],
    ),
    Case(
        name="head_size_rule",
        fn=head_size_rule,
        make_args=lambda dtype: ((512,), {}),
        dtype_follows=False,
        output=_as_tensor,
        bad=[BadInput("one_item", (1,), {}, ValueError, "n_items")],
    ),
    Case(
        name="gaussian_projection_matrix",
        fn=gaussian_projection_matrix,
        make_args=lambda dtype: ((6, 4), {"generator": _gen(0), "dtype": dtype}),
        bad=[
            BadInput("zero_out", (6, 0), {}, ValueError, "out_features"),
            BadInput("float_in", (6.0, 4), {}, TypeError, "in_features"),
        ],
    ),
    Case(
        name="sparse_projection_matrix",
        fn=sparse_projection_matrix,
        make_args=lambda dtype: ((6, 4), {"density": 0.5, "generator": _gen(0), "dtype": dtype}),
        bad=[
            BadInput("density_zero", (6, 4), {"density": 0.0}, ValueError, "density"),
            BadInput("density_str", (6, 4), {"density": "auto"}, TypeError, "density"),
        ],
    ),
    Case(
        name="random_projection",
        fn=random_projection,
        make_args=lambda dtype: ((_x(dtype), 4), {"generator": _gen(0)}),
        bad=[
            BadInput("nan_x", (_NAN_X, 4), {}, ValueError, "x"),
            BadInput("int_x", (_INT_X, 4), {}, TypeError, "x"),
            BadInput("empty_x", (torch.empty(0, 3), 4), {}, ValueError, "x"),
            BadInput("zero_out", (torch.ones(2, 3), 0), {}, ValueError, "out_features"),
            BadInput("kind", (torch.ones(2, 3), 2), {"kind": "qr"}, ValueError, "kind"),
        ],
    ),
    Case(
        name="RandomProjection",
        fn=lambda x: random_projection(x, 4, kind="sparse", density=0.5, generator=_gen(5)),
        make_args=lambda dtype: ((_x(dtype),), {}),
        module=lambda: RandomProjection(
            6, 4, kind="sparse", density=0.5, generator=_gen(5), dtype=torch.float64
        ),
        bad=[BadInput("nan_x", (_NAN_X,), {}, ValueError, "x")],
    ),
    Case(
        name="simhash",
        fn=simhash,
        make_args=lambda dtype: ((_x(dtype), 16), {"generator": _gen(0)}),
        bad=[
            BadInput("nan_x", (_NAN_X, 8), {}, ValueError, "x"),
            BadInput("zero_bits", (torch.ones(2, 3), 0), {}, ValueError, "n_bits"),
            BadInput("float_bits", (torch.ones(2, 3), 8.0), {}, TypeError, "n_bits"),
        ],
    ),
    Case(
        name="SimHash",
        fn=lambda x: simhash(x, 16, generator=_gen(6)),
        make_args=lambda dtype: ((_x(dtype),), {}),
        module=lambda: SimHash(6, 16, generator=_gen(6), dtype=torch.float64),
        bad=[BadInput("int_x", (_INT_X,), {}, TypeError, "x")],
    ),
    Case(
        name="simhash_cosine",
        fn=simhash_cosine,
        make_args=_codes,
        bad=[
            BadInput("not_pm1", (_BAD_CODES, _PM), {}, ValueError, "codes_a"),
            BadInput("int_codes", (_PM, _PM.long()), {}, TypeError, "codes_b"),
        ],
    ),
    Case(
        name="sign_cosine",
        fn=sign_cosine,
        make_args=_codes,
        bad=[
            BadInput("length", (_PM, torch.ones(1, 3)), {}, ValueError, "codes_a"),
            BadInput("int_codes", (_PM.long(), _PM), {}, TypeError, "codes_a"),
        ],
    ),
    Case(
        name="randomized_svd",
        fn=randomized_svd,
        make_args=lambda dtype: ((_matrix(dtype), 3), {"generator": _gen(0)}),
        bad=[
            BadInput("rank_too_big", (torch.ones(4, 3), 4), {}, ValueError, "rank"),
            BadInput("rank_zero", (torch.ones(4, 3), 0), {}, ValueError, "rank"),
            BadInput("nan_a", (_NAN_X, 1), {}, ValueError, "a"),
            BadInput("vector_a", (torch.ones(3), 1), {}, ValueError, "a"),
            BadInput("int_a", (_INT_X, 1), {}, TypeError, "a"),
        ],
    ),
    Case(
        name="randomized_range_finder",
        fn=randomized_range_finder,
        make_args=lambda dtype: ((_matrix(dtype), 5), {"n_iter": 2, "generator": _gen(0)}),
        bad=[
            BadInput("size_too_big", (torch.ones(4, 3), 4), {}, ValueError, "size"),
            BadInput("n_iter_float", (torch.ones(4, 3), 2), {"n_iter": 1.5}, TypeError, "n_iter"),
        ],
    ),
]
