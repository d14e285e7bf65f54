"""B8 study (reported, full run, when Debian ``dataset-fashion-mnist`` is installed).

A Fashion-MNIST subset with :class:`kexue.nn.bottleneck.VariationalBottleneck` in an MLP
784→256→VIB(32)→10, with and without VIB: clean accuracy and accuracy under pixel noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kexue.experiments.b8_variational_bottleneck.config import Config
from kexue.nn.bottleneck import VariationalBottleneck

__all__ = ["FashionComparison", "FashionModel", "fashion_comparison"]


@dataclass(frozen=True)
class FashionModel:
    """One model: test accuracy under each pixel-noise level, per seed and mean over seeds."""

    model: str
    beta: float | None
    per_seed: tuple[tuple[float, ...], ...]
    mean: tuple[float, ...]


@dataclass(frozen=True)
class FashionComparison:
    """The deterministic network and VIB at each β on the same subsets."""

    noise: tuple[float, ...]
    epochs: int
    models: tuple[FashionModel, ...]

    @property
    def n_seeds(self) -> int:
        """Seeds (subsets) per model."""
        return len(self.models[0].per_seed)


class _FashionNet(nn.Module):
    def __init__(self, beta: float | None, latent: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(784, 256), nn.ReLU())
        self.vib = None if beta is None else VariationalBottleneck(256, latent, beta=beta)
        self.det = nn.Linear(256, latent) if beta is None else None
        self.head = nn.Linear(latent, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        if self.vib is not None:
            return self.head(self.vib(h)), self.vib.penalty
        assert self.det is not None
        return self.head(self.det(h)), x.new_zeros(())


def fashion_comparison(cfg: Config, seed: int) -> FashionComparison | None:
    """Train each model on up to three random subsets; ``None`` when the data is not installed."""
    from kexue.data.fashion_mnist import available, load_fashion_mnist

    if not available():
        return None
    xtr_all, ytr_all = load_fashion_mnist("train")
    xte_all, yte_all = load_fashion_mnist("test")
    betas: list[float | None] = [None, *cfg.fashion_betas]
    names = ["deterministic"] + [f"vib β={b:g}" for b in cfg.fashion_betas]
    res: dict[str, list[tuple[float, ...]]] = {n: [] for n in names}
    for s in range(cfg.n_seeds if cfg.n_seeds < 3 else 3):
        rng = np.random.default_rng(seed + s)
        itr = rng.choice(len(ytr_all), cfg.fashion_train, replace=False)
        ite = rng.choice(len(yte_all), cfg.fashion_test, replace=False)
        xtr = torch.tensor(xtr_all[itr].reshape(-1, 784) / 255.0, dtype=torch.float32)
        xte = torch.tensor(xte_all[ite].reshape(-1, 784) / 255.0, dtype=torch.float32)
        ytr, yte = torch.tensor(ytr_all[itr]).long(), torch.tensor(yte_all[ite]).long()
        for name, beta in zip(names, betas, strict=True):
            # the layers draw their init and the bottleneck its noise from the global RNG:
            # seed a fork of it, so the process's own stream is left as it was
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + s)
                res[name].append(_train_and_score(cfg, beta, seed + s, xtr, ytr, xte, yte))
    models = tuple(
        FashionModel(n, b, tuple(res[n]), tuple(np.mean(res[n], 0).tolist()))
        for n, b in zip(names, betas, strict=True)
    )
    return FashionComparison(tuple(cfg.fashion_noise), cfg.fashion_epochs, models)


def _train_and_score(
    cfg: Config,
    beta: float | None,
    seed: int,
    xtr: torch.Tensor,
    ytr: torch.Tensor,
    xte: torch.Tensor,
    yte: torch.Tensor,
) -> tuple[float, ...]:
    net = _FashionNet(beta, cfg.latent)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(cfg.fashion_epochs):
        perm = torch.randperm(len(ytr), generator=g)
        for i in range(0, len(ytr), cfg.fashion_batch):
            b = perm[i : i + cfg.fashion_batch]
            logits, pen = net(xtr[b])
            loss = F.cross_entropy(logits, ytr[b]) + pen
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()
    gn = torch.Generator().manual_seed(seed + 777)
    with torch.no_grad():
        accs = []
        for sd in cfg.fashion_noise:
            xn = (xte + sd * torch.randn(xte.shape, generator=gn)).clamp(0, 1)
            accs.append(float((net(xn)[0].argmax(-1) == yte).float().mean()))
    return tuple(accs)
