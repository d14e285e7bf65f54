"""D2 study: each closed form against a reference computed another way, on random Gaussian pairs.

KL against torch's ``kl_divergence``; the two circulating W2 formulas (``sqrt(S_p C_q S_p)`` and the
Fréchet ``sqrt(C_p C_q)``) through scipy's ``sqrtm``; our W2 against both and POT's Bures–Wasserstein
distance; and the commuting-covariance formula, where W2 has an elementary form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from kexue.geometry.gaussian import kl_divergence_gaussian, wasserstein2_gaussian
from kexue.geometry.psd import sqrtm_psd

__all__ = ["ReferenceComparison", "compare_with_references", "random_pairs"]

F64 = torch.float64


@dataclass(frozen=True)
class ReferenceComparison:
    """Max relative gaps between our closed forms and the references, over the random pairs.

    Attributes:
        kl_vs_torch_rel: KL against ``torch.distributions.kl_divergence``.
        w2_version1_vs_version2_rel: the two circulating W2² formulas against each other.
        w2_ours_vs_version1_rel, w2_ours_vs_version2_rel: our W2² against each formula.
        w2_ours_vs_pot_rel: our W2² against POT's ``bures_wasserstein_distance``².
        w2_commuting_rel: our W2² against the commuting-covariance formula.
        w2_example: W2² of the first pair.
        w2_min_over_pairs: the smallest W2² over the pairs.
    """

    kl_vs_torch_rel: float
    w2_version1_vs_version2_rel: float
    w2_ours_vs_version1_rel: float
    w2_ours_vs_version2_rel: float
    w2_ours_vs_pot_rel: float
    w2_commuting_rel: float
    w2_example: float
    w2_min_over_pairs: float


def random_pairs(
    n_pairs: int, dim: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n_pairs`` random Gaussian pairs in ``dim`` dimensions: means and SPD covariances of p and q."""
    a = torch.randn(2, n_pairs, dim, dim, generator=gen, dtype=F64)
    covs = a @ a.mT / dim + 0.2 * torch.eye(dim, dtype=F64)
    means = torch.randn(2, n_pairs, dim, generator=gen, dtype=F64)
    return means[0], covs[0], 0.5 * means[1], covs[1]


def _rel(a: Any, b: Any) -> float:
    a, b = torch.as_tensor(a, dtype=F64), torch.as_tensor(b, dtype=F64)
    return float(((a - b).abs() / b.abs()).max())


def compare_with_references(n_pairs: int, dim: int, gen: torch.Generator) -> ReferenceComparison:
    """Compare KL and W2 with torch, scipy ``sqrtm`` (both W2 versions), POT and commuting pairs."""
    import numpy as np
    import ot
    import scipy.linalg
    from torch.distributions import MultivariateNormal, kl_divergence

    mp, cp, mq, cq = random_pairs(n_pairs, dim, gen)
    kl_ref = kl_divergence(MultivariateNormal(mp, cp), MultivariateNormal(mq, cq))
    w2 = wasserstein2_gaussian(mp, cp, mq, cq, squared=True)
    v1, v2 = [], []
    for i in range(n_pairs):
        p, q = cp[i].numpy(), cq[i].numpy()
        base = float(np.sum((mp[i] - mq[i]).numpy() ** 2) + np.trace(p) + np.trace(q))
        root = scipy.linalg.sqrtm(p)
        v1.append(base - 2 * np.trace(scipy.linalg.sqrtm(root @ q @ root)).real)
        v2.append(base - 2 * np.trace(scipy.linalg.sqrtm(p @ q)).real)
    pot = ot.gaussian.bures_wasserstein_distance(mp, mq, cp, cq, paired=True) ** 2
    # Commuting covariances (shared eigenvectors): W2^2 = |dmu|^2 + |C_p^1/2 - C_q^1/2|_F^2.
    u = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=F64))[0]
    ev = torch.rand(2, n_pairs, dim, generator=gen, dtype=F64) + 0.1
    c1, c2 = u @ torch.diag_embed(ev[0]) @ u.T, u @ torch.diag_embed(ev[1]) @ u.T
    commuting = (mp - mq).square().sum(-1) + (sqrtm_psd(c1) - sqrtm_psd(c2)).square().sum((-2, -1))
    return ReferenceComparison(
        kl_vs_torch_rel=_rel(kl_divergence_gaussian(mp, cp, mq, cq), kl_ref),
        w2_version1_vs_version2_rel=_rel(v1, v2),
        w2_ours_vs_version1_rel=_rel(w2, v1),
        w2_ours_vs_version2_rel=_rel(w2, v2),
        w2_ours_vs_pot_rel=_rel(w2, pot),
        w2_commuting_rel=_rel(wasserstein2_gaussian(mp, c1, mq, c2, squared=True), commuting),
        w2_example=float(w2[0]),
        w2_min_over_pairs=float(w2.min()),
    )
