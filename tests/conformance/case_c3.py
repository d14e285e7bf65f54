"""Conformance cases for C3: policy-gradient and zeroth-order gradient estimators."""

from __future__ import annotations

import torch

from kexue.optim.zeroth_order import GradientEstimate, policy_gradient, zeroth_order_gradient

from .case import Args, BadInput, Case


def _quadratic(t: torch.Tensor) -> torch.Tensor:  # batched: (m, 3) -> (m,)
    return (t * t).sum(-1) + t[:, 0]


def _zo_args(dtype: torch.dtype) -> Args:
    theta = torch.tensor([0.5, -1.0, 2.0], dtype=dtype)
    return (_quadratic, theta), {"sigma": 0.1, "samples": 16,
                                 "generator": torch.Generator().manual_seed(0)}  # fmt: skip


_X = torch.randn(5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def _logits(theta: torch.Tensor) -> torch.Tensor:
    return _X.to(theta.dtype) @ theta  # (5, 4)


def _pg_args(dtype: torch.dtype) -> Args:
    theta = torch.zeros(3, 4, dtype=dtype)
    rewards = torch.eye(4, dtype=dtype)[torch.tensor([0, 1, 2, 3, 0])]
    return (_logits, theta, rewards), {"samples": 8, "generator": torch.Generator().manual_seed(0)}


def _estimate(out: GradientEstimate) -> torch.Tensor:
    return torch.stack([out.grad, out.stderr])


_THETA = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
_REWARDS = torch.eye(4, dtype=torch.float64)[torch.tensor([0, 1, 2, 3, 0])]
_THETA_PG = torch.zeros(3, 4, dtype=torch.float64)

CASES = [
    Case(
        "zeroth-order-gradient",
        zeroth_order_gradient,
        _zo_args,
        output=_estimate,
        bad=[
            BadInput(
                "zero-sigma",
                (_quadratic, _THETA),
                {"sigma": 0.0, "samples": 4},
                ValueError,
                "sigma",
            ),
            BadInput(
                "no-samples",
                (_quadratic, _THETA),
                {"sigma": 0.1, "samples": 0},
                ValueError,
                "samples",
            ),
            BadInput(
                "int-theta",
                (_quadratic, _THETA.long()),
                {"sigma": 0.1, "samples": 4},
                TypeError,
                "theta",
            ),
            BadInput(
                "nan-theta",
                (_quadratic, _THETA * float("nan")),
                {"sigma": 0.1, "samples": 4},
                ValueError,
                "theta",
            ),
        ],
    ),
    Case(
        "policy-gradient",
        policy_gradient,
        _pg_args,
        output=_estimate,
        bad=[
            BadInput(
                "no-samples", (_logits, _THETA_PG, _REWARDS), {"samples": 0}, ValueError, "samples"
            ),
            BadInput(
                "zero-temperature",
                (_logits, _THETA_PG, _REWARDS),
                {"samples": 4, "temperature": 0.0},
                ValueError,
                "temperature",
            ),
            BadInput(
                "int-rewards",
                (_logits, _THETA_PG, _REWARDS.long()),
                {"samples": 4},
                TypeError,
                "rewards",
            ),
            BadInput(
                "wrong-shape",
                (_logits, _THETA_PG, _REWARDS[:, :3]),
                {"samples": 4},
                ValueError,
                "rewards",
            ),
        ],
    ),
]
