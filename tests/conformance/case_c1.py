"""Conformance cases for C1: the piecewise-linear schedule (the wrappers are tested in tests/optim)."""

from __future__ import annotations

import torch

from kexue.optim.schedules import piecewise_linear

from .case import Args, BadInput, Case

SCHEDULE = {1000: 1.0, 2000: 0.1}


def _args(dtype: torch.dtype) -> Args:
    return (torch.linspace(0, 3000, 13, dtype=dtype), SCHEDULE), {}


CASES = [
    Case(
        "piecewise-linear",
        piecewise_linear,
        _args,
        bad=[
            BadInput("int-step", (torch.arange(3), SCHEDULE), {}, TypeError, "step"),
            BadInput("nan-step", (torch.tensor([float("nan")]), SCHEDULE), {}, ValueError, "step"),
            BadInput("empty-schedule", (torch.arange(3.0), {}), {}, ValueError, "schedule"),
            BadInput("list-schedule", (torch.arange(3.0), [1.0]), {}, TypeError, "schedule"),
        ],
    )
]
