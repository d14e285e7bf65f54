"""B2 building blocks: the digits data and a batched ensemble of independent MLPs.

All models of one protocol (methods × seeds) train at once: stacked weights applied with
``baddbmm``. Adam is elementwise, so this is the same as training them one by one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch

__all__ = ["digits", "ensemble_forward", "ensemble_init", "train_full_batch"]


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


def ensemble_init(sizes: list[int], n_seeds: int, n_methods: int, seed: int) -> list[torch.Tensor]:
    """nn.Linear-style init per seed, replicated over methods; index = method * n_seeds + seed."""
    gen = torch.Generator().manual_seed(seed)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = fan_in**-0.5
        w = (torch.rand(n_seeds, fan_in, fan_out, generator=gen) * 2 - 1) * bound
        b = (torch.rand(n_seeds, 1, fan_out, generator=gen) * 2 - 1) * bound
        params += [w.repeat(n_methods, 1, 1), b.repeat(n_methods, 1, 1)]
    return [p.requires_grad_() for p in params]


def ensemble_forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """ReLU MLP of every member: ``(E, N, in) -> (E, N, out)``."""
    n_layers = len(params) // 2
    for i in range(n_layers):
        x = torch.baddbmm(params[2 * i + 1], x, params[2 * i])  # (E, N, out)
        if i < n_layers - 1:
            x = torch.relu(x)
    return x


def train_full_batch(
    params: list[torch.Tensor],
    loss: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    epochs: int,
    lr: float,
    on_epoch: Callable[[int], None] | None = None,
) -> None:
    """Full-batch Adam on ``loss(ensemble_forward(params, x))``; ``on_epoch(epoch)`` after each."""
    opt = torch.optim.Adam(params, lr=lr)
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        loss(ensemble_forward(params, x)).backward()
        opt.step()
        if on_epoch is not None:
            on_epoch(epoch)
