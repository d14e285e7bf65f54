"""Conformance cases for C4: Boltzmann-weighted sampled moves and MLE-guided search."""

from __future__ import annotations

import torch

from kexue.optim.sampling_search import SampledMove, boltzmann_move, mle_guided_move

from .case import Args, BadInput, Case


def _loss(t: torch.Tensor) -> torch.Tensor:  # batched: (m, 3) -> (m,)
    return 0.5 * (t * t).sum(-1)


def _move_args(dtype: torch.dtype) -> Args:
    theta = torch.tensor([1.0, -0.5, 0.2], dtype=dtype)
    kwargs = {"alpha": 0.1, "sigma": 0.5, "samples": 8, "guide": -theta,
              "generator": torch.Generator().manual_seed(0)}  # fmt: skip
    return (_loss, theta), kwargs


def _mgs_args(dtype: torch.dtype) -> Args:
    theta = torch.tensor([1.0, -0.5, 0.2], dtype=dtype)
    return (_loss, theta, theta.clone()), {"alpha": 0.1, "sigma": 0.1,
                                           "generator": torch.Generator().manual_seed(0)}  # fmt: skip


def _output(out: SampledMove) -> torch.Tensor:
    return torch.cat([out.move, out.weights])


_THETA = torch.tensor([1.0, -0.5, 0.2], dtype=torch.float64)
_OK = {"alpha": 0.1, "sigma": 0.1, "samples": 4}

CASES = [
    Case(
        "boltzmann-move",
        boltzmann_move,
        _move_args,
        output=_output,
        bad=[
            BadInput("zero-sigma", (_loss, _THETA), {**_OK, "sigma": 0.0}, ValueError, "sigma"),
            BadInput("zero-alpha", (_loss, _THETA), {**_OK, "alpha": 0.0}, ValueError, "alpha"),
            BadInput("no-samples", (_loss, _THETA), {**_OK, "samples": 0}, ValueError, "samples"),
            BadInput("int-theta", (_loss, _THETA.long()), _OK, TypeError, "theta"),
            BadInput(
                "guide-shape", (_loss, _THETA), {**_OK, "guide": _THETA[:2]}, ValueError, "guide"
            ),
        ],
    ),
    Case(
        "mle-guided-move",
        mle_guided_move,
        _mgs_args,
        output=_output,
        bad=[
            BadInput(
                "int-grad",
                (_loss, _THETA, _THETA.long()),
                {"alpha": 0.1, "sigma": 0.1},
                TypeError,
                "mle_grad",
            ),
            BadInput(
                "zero-max-norm",
                (_loss, _THETA, _THETA),
                {"alpha": 0.1, "sigma": 0.1, "max_norm": 0.0},
                ValueError,
                "max_norm",
            ),
            BadInput(
                "neg-sigma",
                (_loss, _THETA, _THETA),
                {"alpha": 0.1, "sigma": -1.0},
                ValueError,
                "sigma",
            ),
        ],
    ),
]
