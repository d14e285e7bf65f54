"""Helpers the D3 studies share: seeded generators and pairwise squared distances."""

from __future__ import annotations

import torch

DATA_SEED = 1_000_003
"""Offset of the data-sampling streams: data never shares a stream with the projections."""


def gen(seed: int) -> torch.Generator:
    """A fresh CPU generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


def sq_dists(x: torch.Tensor) -> torch.Tensor:
    """Squared distances of all pairs i < j of the rows of ``x``, from the float64 Gram matrix."""
    x = x.double()
    sq = x.pow(2).sum(-1)
    d = sq[:, None] + sq[None, :] - 2 * x @ x.T
    iu = torch.triu_indices(x.shape[0], x.shape[0], 1)
    return d[iu[0], iu[1]]
