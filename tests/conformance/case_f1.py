"""Conformance cases for F1: the landscape probes (they return floats: dtype is not followed)."""

from __future__ import annotations

import torch

from kexue.nn.landscape import effective_smoothness, hessian_max_eigenvalue

from .case import Args, BadInput, Case


def _args(dtype: torch.dtype) -> Args:
    theta = torch.linspace(-1, 1, 5, dtype=dtype).requires_grad_(True)
    return (lambda: (theta**4).sum() + (theta**2).sum(), [theta]), {}


def _smooth_args(dtype: torch.dtype) -> Args:
    (fn, params), _ = _args(dtype)
    return (fn, params, (0.01, 0.1)), {}


_theta = torch.ones(3, requires_grad=True)
CASES = [
    Case(
        "hessian-max-eigenvalue",
        hessian_max_eigenvalue,
        _args,
        bad=[
            BadInput("non-scalar", (lambda: _theta * 2, [_theta]), {}, ValueError, "loss_fn"),
            BadInput(
                "tol", (lambda: (_theta**2).sum(), [_theta]), {"tol": -1.0}, ValueError, "tol"
            ),
        ],
        dtype_follows=False,
        output=lambda lam: torch.tensor(lam),
    ),
    Case(
        "effective-smoothness",
        effective_smoothness,
        _smooth_args,
        bad=[
            BadInput("no-params", (lambda: _theta.sum(), [], (0.1,)), {}, ValueError, "params"),
            BadInput(
                "frozen", (lambda: _theta.sum(), [torch.ones(3)], (0.1,)), {}, TypeError, "params"
            ),
        ],
        dtype_follows=False,
        output=lambda s: torch.tensor([s.beta, s.loss_min, s.loss_max]),
    ),
]
