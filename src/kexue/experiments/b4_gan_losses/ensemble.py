"""B4 networks: E independent MLPs applied at once with ``baddbmm``.

All (toy, seed) pairs of one loss train together as a batched ensemble of independent networks;
Adam is elementwise, so this equals training them one by one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["EnsembleMLP"]


class EnsembleMLP(nn.Module):
    """E independent MLPs ``d_in -> width -> width -> d_out`` (LeakyReLU 0.2) applied with bmm."""

    def __init__(self, seeds: list[int], d_in: int, d_out: int, width: int, salt: int) -> None:
        super().__init__()
        sizes = [d_in, width, width, d_out]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            ws, bs = [], []
            for s in seeds:  # PyTorch's default Linear init, per member
                g = torch.Generator().manual_seed(1000 * s + salt)
                bound = 1 / math.sqrt(fan_in)
                ws.append(torch.empty(fan_in, fan_out).uniform_(-bound, bound, generator=g))
                bs.append(torch.empty(1, fan_out).uniform_(-bound, bound, generator=g))
            self.weights.append(nn.Parameter(torch.stack(ws)))
            self.biases.append(nn.Parameter(torch.stack(bs)))
        self.n = len(seeds)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (E, B, d_in) -> (E, B, d_out)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = nn.functional.leaky_relu(x, 0.2)
        return x

    def flat(self, batch: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """Scalar head on member-major flat rows: ``(c*E*batch, d) -> (c*E*batch,)``."""

        def f(x: torch.Tensor) -> torch.Tensor:
            c = x.shape[0] // (self.n * batch)
            xe = x.reshape(c, self.n, batch, -1).transpose(0, 1).reshape(self.n, c * batch, -1)
            out = self(xe).reshape(self.n, c, batch).transpose(0, 1)
            return out.reshape(-1)

        return f
