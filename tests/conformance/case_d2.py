"""Conformance cases for D2: closed-form distances between Gaussians."""

from __future__ import annotations

from collections.abc import Callable

import torch

from kexue.geometry.gaussian import (
    GaussianBhattacharyyaDistance,
    GaussianKLDivergence,
    GaussianWasserstein2,
    bhattacharyya_distance_gaussian,
    entropy_gaussian,
    kl_divergence_gaussian,
    wasserstein2_gaussian,
)
from kexue.geometry.psd import sample_mean_cov, sqrtm_psd

from .case import Args, BadInput, Case

D = 4


def _pair(dtype: torch.dtype, diagonal: bool = False) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    mp, mq = torch.randn(2, 3, D, generator=g).unbind(0)
    if diagonal:
        vp, vq = (torch.rand(2, 3, D, generator=g) + 0.1).unbind(0)
        return tuple(t.to(dtype) for t in (mp, vp, mq, vq))
    a = torch.randn(2, 3, D, D, generator=g, dtype=torch.float64)
    cp, cq = (a @ a.mT / D + 0.2 * torch.eye(D, dtype=torch.float64)).unbind(0)
    return tuple(t.to(dtype) for t in (mp, cp, mq, cq))


def _args(diagonal: bool = False, **kwargs: object) -> Callable[[torch.dtype], Args]:
    def make(dtype: torch.dtype) -> Args:
        kw = dict(kwargs, diagonal=True) if diagonal else dict(kwargs)
        return _pair(dtype, diagonal), kw

    return make


def _bad(fn_kw: dict[str, object] | None = None) -> list[BadInput]:
    mp, cp, mq, cq = _pair(torch.float64)
    nan_mean = mp.clone()
    nan_mean[0, 1] = float("nan")
    indefinite = cq.clone()
    indefinite[1] = torch.diag(torch.tensor([1.0, -2.0, 1.0, 1.0], dtype=torch.float64))
    kw = fn_kw or {}
    return [
        BadInput("int-cov", (mp, cp.long(), mq, cq), kw, TypeError, "cov_p"),
        BadInput("wrong-dim", (mp, cp, mq[..., :2], cq), kw, ValueError, "mean_q"),
        BadInput("nan", (nan_mean, cp, mq, cq), kw, ValueError, "mean_p"),
        BadInput("indefinite", (mp, cp, mq, indefinite), kw, ValueError, "cov_q"),
        BadInput("asymmetric", (mp, cp + torch.triu(cp, 1), mq, cq), kw, ValueError, "cov_p"),
        BadInput("empty", (mp[:, :0], cp[:, :0, :0], mq, cq), kw, ValueError, "mean_p"),
    ]


def _moments_args(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(1)
    return (torch.randn(2, 10, D, generator=g).to(dtype),), {}


def _sqrtm_args(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(2)
    b = torch.randn(2, D, 2, generator=g, dtype=torch.float64)
    return ((b @ b.mT).to(dtype),), {}  # rank 2: the singular path


def _entropy_args(dtype: torch.dtype) -> Args:
    mp, cp, _, _ = _pair(dtype)
    return (mp, cp), {}


CASES = [
    Case("kl", kl_divergence_gaussian, _args(), GaussianKLDivergence, _bad()),
    Case("kl-diagonal", kl_divergence_gaussian, _args(diagonal=True)),
    Case(
        "bhattacharyya",
        bhattacharyya_distance_gaussian,
        _args(),
        GaussianBhattacharyyaDistance,
        _bad(),
    ),
    Case("w2", wasserstein2_gaussian, _args(), GaussianWasserstein2, _bad()),
    Case(
        "w2-squared",
        wasserstein2_gaussian,
        _args(squared=True),
        bad=[BadInput("neg-eps", _pair(torch.float64), {"eps": -1.0}, ValueError, "eps")],
    ),
    Case(
        "w2-diagonal",
        wasserstein2_gaussian,
        _args(diagonal=True),
        bad=[
            BadInput(
                "neg-variance",
                tuple(t if i != 3 else -t for i, t in enumerate(_pair(torch.float64, True))),
                {"diagonal": True},
                ValueError,
                "cov_q",
            )
        ],
    ),
    Case(
        "gaussian-entropy",
        entropy_gaussian,
        _entropy_args,
        bad=[
            BadInput(
                "int", (torch.zeros(D, dtype=torch.long), torch.eye(D)), {}, TypeError, "mean"
            ),
            BadInput("singular", (torch.zeros(D), torch.zeros(D, D)), {}, ValueError, "cov"),
        ],
    ),
    Case(
        "sqrtm-psd",
        sqrtm_psd,
        _sqrtm_args,
        bad=[
            BadInput("int", (torch.eye(3, dtype=torch.long),), {}, TypeError, "matrix"),
            BadInput("not-square", (torch.ones(3, 2),), {}, ValueError, "matrix"),
        ],
    ),
    Case(
        "sample-mean-cov",
        sample_mean_cov,
        _moments_args,
        bad=[
            BadInput("int", (torch.ones(5, 3, dtype=torch.long),), {}, TypeError, "samples"),
            BadInput("one-point", (torch.ones(1, 3),), {}, ValueError, "samples"),
        ],
    ),
]
