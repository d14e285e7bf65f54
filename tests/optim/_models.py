"""Small float64 models, data and a Rosenbrock loss shared by the optimiser-wrapper tests."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

D = torch.float64


def mlp(seed: int = 0, batchnorm: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(5, 8), nn.Tanh()]
    if batchnorm:
        layers.insert(1, nn.BatchNorm1d(8))
    layers.append(nn.Linear(8, 3))
    return nn.Sequential(*layers).to(D)


def data(n: int = 16, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g, dtype=D), torch.randint(0, 3, (n,), generator=g)


def params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def rosenbrock(make: Callable[[list[torch.Tensor]], torch.optim.Optimizer], steps: int) -> float:
    """Distance to the minimum (1, 1) after ``steps`` steps from (-1.5, 2)."""
    xy = torch.tensor([-1.5, 2.0], dtype=D, requires_grad=True)
    opt = make([xy])
    for _ in range(steps):
        opt.zero_grad()
        x, y = xy
        ((1 - x) ** 2 + 100 * (y - x**2) ** 2).backward()
        opt.step()
    return float((xy.detach() - 1).norm())
