"""D2 study: the closed forms against estimates from samples.

Monte-Carlo estimates of the Bhattacharyya distance and KL from importance ratios, along a growing
sample size; the 1-D W2 against the quantile coupling of two samples (optimal in 1-D); the 2-D W2²
against exact discrete optimal transport (``ot.emd2``) between two samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from kexue.experiments.d2_gaussian_distances.references import random_pairs
from kexue.geometry.gaussian import (
    bhattacharyya_distance_gaussian,
    kl_divergence_gaussian,
    wasserstein2_gaussian,
)

__all__ = ["MonteCarlo", "MonteCarloPoint", "Transport", "monte_carlo", "transport"]

F64 = torch.float64


@dataclass(frozen=True)
class MonteCarloPoint:
    """Monte-Carlo estimates from the first ``samples`` draws, with their standard errors."""

    samples: int
    bd: float
    bd_se: float
    kl: float
    kl_se: float


@dataclass(frozen=True)
class MonteCarlo:
    """The closed forms of one random pair and their Monte-Carlo estimates along a sample path."""

    bd_closed: float
    kl_closed: float
    path: tuple[MonteCarloPoint, ...]

    @property
    def final(self) -> MonteCarloPoint:
        """The estimate from all samples."""
        return self.path[-1]


@dataclass(frozen=True)
class Transport:
    """W2 closed forms against optimal transport between samples.

    Attributes:
        w2_1d_closed, w2_1d_quantile_ot: 1-D W2, closed form and quantile coupling.
        w2sq_2d_closed, w2sq_2d_emd: 2-D W2², closed form and exact discrete transport.
    """

    w2_1d_closed: float
    w2_1d_quantile_ot: float
    w2sq_2d_closed: float
    w2sq_2d_emd: float


def monte_carlo(n_pairs: int, dim: int, samples: int, gen: torch.Generator) -> MonteCarlo:
    """BD and KL of one random pair: closed forms and Monte-Carlo estimates from samples of p.

    The pair is the first of ``n_pairs`` drawn as in :func:`random_pairs` (drawing all of them keeps
    the generator's stream, hence the published numbers, unchanged).
    """
    from torch.distributions import MultivariateNormal

    mp, cp, mq, cq = (t[0] for t in random_pairs(n_pairs, dim, gen))
    p, q = MultivariateNormal(mp, cp), MultivariateNormal(mq, cq)
    z = torch.randn(samples, dim, generator=gen, dtype=F64)
    x = mp + z @ p.scale_tril.T  # samples of p
    log_ratio = q.log_prob(x) - p.log_prob(x)  # log q/p
    sizes = sorted({int(samples / 2**k) for k in range(9)})
    path = []
    for n in sizes:
        w = (0.5 * log_ratio[:n]).exp()  # sqrt(q/p): E_p = exp(-BD)
        bd, bd_se = -float(w.mean().log()), float(w.std() / w.mean()) / math.sqrt(n)
        kl, kl_se = -float(log_ratio[:n].mean()), float(log_ratio[:n].std()) / math.sqrt(n)
        path.append(MonteCarloPoint(n, bd, bd_se, kl, kl_se))
    return MonteCarlo(
        bd_closed=float(bhattacharyya_distance_gaussian(mp, cp, mq, cq)),
        kl_closed=float(kl_divergence_gaussian(mp, cp, mq, cq)),
        path=tuple(path),
    )


def transport(quantile_samples: int, ot_samples: int, gen: torch.Generator) -> Transport:
    """1-D W2 vs the quantile coupling, 2-D W2² vs exact discrete OT between samples."""
    import ot

    # 1-D: the monotone (quantile) coupling is optimal, so sorting both samples gives W2.
    m1, s1, m2, s2 = 0.0, 1.0, 1.5, 0.5
    n = quantile_samples
    x = (m1 + s1 * torch.randn(n, generator=gen, dtype=F64)).sort().values
    y = (m2 + s2 * torch.randn(n, generator=gen, dtype=F64)).sort().values
    emp_1d = float((x - y).square().mean().sqrt())
    t = lambda v: torch.tensor([v], dtype=F64)  # noqa: E731
    w2_1d = float(wasserstein2_gaussian(t(m1), t(s1**2), t(m2), t(s2**2), diagonal=True))
    # 2-D: exact discrete OT between two samples (s.d. ~3.5 % at 1000 points, hence a loose gate).
    mp, mq = torch.tensor([0.0, 0.0], dtype=F64), torch.tensor([2.0, 1.0], dtype=F64)
    cp = torch.tensor([[1.0, 0.6], [0.6, 1.0]], dtype=F64)
    cq = torch.tensor([[0.5, -0.3], [-0.3, 2.0]], dtype=F64)
    k = ot_samples
    xs = mp + torch.randn(k, 2, generator=gen, dtype=F64) @ torch.linalg.cholesky(cp).T
    ys = mq + torch.randn(k, 2, generator=gen, dtype=F64) @ torch.linalg.cholesky(cq).T
    unif = torch.full((k,), 1.0 / k, dtype=F64)
    return Transport(
        w2_1d_closed=w2_1d,
        w2_1d_quantile_ot=emp_1d,
        w2sq_2d_closed=float(wasserstein2_gaussian(mp, cp, mq, cq, squared=True)),
        w2sq_2d_emd=float(ot.emd2(unif, unif, ot.dist(xs, ys))),
    )
