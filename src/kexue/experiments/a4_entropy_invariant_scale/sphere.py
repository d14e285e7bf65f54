r"""A4 study 1: attention entropy of random vectors on the sphere, no training.

Queries and keys uniform on the sphere of radius :math:`\sqrt d`, :math:`d=64`; the mean entropy of
the attention over :math:`n` keys with the standard :math:`1/\sqrt d`, the entropy-invariant
:math:`\log_{512}n/\sqrt d` and the article's Laplace-approximation scale :math:`\log n/(0.24\,d)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["SphereEntropy", "sphere_entropy"]


@dataclass(frozen=True)
class SphereEntropy:
    """Mean attention entropy (nats) of random sphere vectors over ``n`` keys, per scale."""

    n: int
    standard: float
    entropy_invariant: float
    laplace: float


def sphere_entropy(ns: tuple[int, ...], n_queries: int, seed: int) -> tuple[SphereEntropy, ...]:
    """Mean entropy of ``n_queries`` random queries attending over ``n`` random keys, each n."""
    from kexue.transformer.attention_scale import attention_entropy

    d = 64
    g = torch.Generator().manual_seed(seed)

    def sphere(n: int) -> torch.Tensor:
        x = torch.randn(n, d, generator=g, dtype=torch.float64)
        return x / x.norm(dim=-1, keepdim=True) * math.sqrt(d)

    def entropy(scores: torch.Tensor, lam: float) -> float:
        return float(attention_entropy(torch.softmax(lam * scores, -1)).mean())

    out = []
    for n in ns:
        s = sphere(n_queries) @ sphere(n).T
        out.append(
            SphereEntropy(
                n,
                standard=entropy(s, 1 / math.sqrt(d)),
                entropy_invariant=entropy(s, math.log(n, 512) / math.sqrt(d)),
                laplace=entropy(s, math.log(n) / (0.24 * d)),
            )
        )
    return tuple(out)
