"""Conformance cases for E4: the skipping-rope (troposkein) curve."""

from __future__ import annotations

import torch

from kexue.models.rope_curve import rope_bvp, troposkein

from .case import Args, BadInput, Case


def _radius(axial: torch.Tensor, span: float, length: float) -> torch.Tensor:
    return troposkein(span, length).radius(axial)


def _sag(
    axial: torch.Tensor, span: float, length: float, omega: float, gravity: float
) -> torch.Tensor:
    return rope_bvp(span, length, omega, gravity).displacement(axial)


def _args(*extra: float) -> object:
    def make(dtype: torch.dtype) -> Args:
        return (torch.linspace(0.0, 2.0, 11, dtype=dtype), 2.0, 3.0, *extra), {}

    return make


def _bad(*extra: float) -> list[BadInput]:
    a = torch.linspace(0.0, 2.0, 11, dtype=torch.float64)
    nan = a.clone()
    nan[2] = float("nan")
    return [
        BadInput("short-rope", (a, 2.0, 2.0, *extra), {}, ValueError, "length"),
        BadInput("int-axial", (torch.arange(3), 2.0, 3.0, *extra), {}, TypeError, "axial"),
        BadInput("nan-axial", (nan, 2.0, 3.0, *extra), {}, ValueError, "axial"),
        BadInput("neg-span", (a, -2.0, 3.0, *extra), {}, ValueError, "span"),
    ]


CASES = [
    Case("troposkein-radius", _radius, _args(), bad=_bad()),  # type: ignore[arg-type]
    Case("rope-bvp-sag", _sag, _args(2.0, 9.8), bad=_bad(2.0, 9.8)),  # type: ignore[arg-type]
]
