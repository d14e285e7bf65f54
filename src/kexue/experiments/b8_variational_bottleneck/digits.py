"""B8 study (gated, the reference run's protocol): a λ sweep of the bottleneck on 300 digits images.

MLP 64→128→(μ, log σ²) with K = 32 → linear 10, Adam, batch 32; a deterministic network (z = μ, no
KL) and VIB at every λ; noise off at test time (z = μ). Test accuracy, test KL, accuracy with z
sampled and under Gaussian input noise. All (model, seed) networks train together as a batched
ensemble of independent MLPs (Adam is elementwise, so this equals training them one by one); the KL
and the sampling are :func:`kexue.nn.bottleneck.gaussian_kl_standard_normal` and
:func:`~kexue.nn.bottleneck.reparameterize`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kexue.experiments.b8_variational_bottleneck.config import Config
from kexue.nn.bottleneck import gaussian_kl_standard_normal, reparameterize

__all__ = ["DigitsMember", "DigitsModel", "DigitsSweep", "digits_sweep"]


@dataclass(frozen=True)
class DigitsMember:
    """One trained network (one model on one seed)."""

    model: str
    lam: float
    seed: int
    test_acc: float
    test_kl: float
    noise_acc: tuple[float, ...]
    sampled_acc: float


@dataclass(frozen=True)
class DigitsModel:
    """One model averaged over the seeds.

    Attributes:
        model: ``"deterministic"`` or ``"vib λ=…"``.
        lam: the KL weight (``None`` for the deterministic network).
        test_acc: test accuracy with z = μ.
        test_kl: test KL to the prior (nats; 0 for the deterministic network).
        sampled_acc: test accuracy with z sampled from p(z|x).
        noise_acc: test accuracy under each input-noise level.
        acc_seed_range: (min, max) test accuracy over the seeds.
        curve: (epoch, test accuracy) along training.
        epochs_to_reach: first epoch of ``curve`` at the sweep's ``reach_acc`` (``None``: never).
    """

    model: str
    lam: float | None
    test_acc: float
    test_kl: float
    sampled_acc: float
    noise_acc: tuple[float, ...]
    acc_seed_range: tuple[float, float]
    curve: tuple[tuple[int, float], ...]
    epochs_to_reach: int | None


@dataclass(frozen=True)
class DigitsSweep:
    """The whole sweep: every member, and every model's mean."""

    noise: tuple[float, ...]
    reach_acc: float
    members: tuple[DigitsMember, ...]
    models: tuple[DigitsModel, ...]

    def model(self, name: str) -> DigitsModel:
        """The model called ``name``."""
        return next(m for m in self.models if m.model == name)

    @property
    def deterministic(self) -> DigitsModel:
        """The network without bottleneck."""
        return self.model("deterministic")

    @property
    def vib(self) -> dict[float, DigitsModel]:
        """The VIB models by λ."""
        return {m.lam: m for m in self.models if m.lam is not None}


def _ensemble_params(seeds: list[int], sizes: list[tuple[int, int]]) -> list[nn.Parameter]:
    """Per-member default ``nn.Linear`` init, stacked: weights (E, in, out), biases (E, 1, out)."""
    params: list[nn.Parameter] = []
    for li, (fan_in, fan_out) in enumerate(sizes):
        ws, bs = [], []
        for s in seeds:
            g = torch.Generator().manual_seed(1000 * s + li)
            bound = 1 / math.sqrt(fan_in)
            ws.append(torch.empty(fan_in, fan_out).uniform_(-bound, bound, generator=g))
            bs.append(torch.empty(1, fan_out).uniform_(-bound, bound, generator=g))
        params += [nn.Parameter(torch.stack(ws)), nn.Parameter(torch.stack(bs))]
    return params


def _forward(p: Sequence[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    h = torch.relu(torch.baddbmm(p[1], x, p[0]))  # (E, B, hidden)
    mu = torch.baddbmm(p[3], h, p[2])  # (E, B, K)
    log_var = torch.baddbmm(p[5], h, p[4]).clamp(-30.0, 20.0)
    return mu, log_var


def _splits(cfg: Config, seeds: list[int], n_models: int) -> tuple[torch.Tensor, ...]:
    """One stratified split per seed, standardised on its training part, repeated per model."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr_l, ytr_l, xte_l, yte_l = [], [], [], []
    for s in seeds:
        xtr, xte, ytr, yte = train_test_split(
            x, y, train_size=cfg.n_train, random_state=s, stratify=y
        )
        mu, sd = xtr.mean(0), xtr.std(0)
        sd[sd == 0] = 1.0
        for _ in range(n_models):
            xtr_l.append((xtr - mu) / sd)
            xte_l.append((xte - mu) / sd)
            ytr_l.append(ytr)
            yte_l.append(yte)
    return (
        torch.tensor(np.stack(xtr_l), dtype=torch.float32),  # (E, n_train, 64)
        torch.tensor(np.stack(ytr_l)),
        torch.tensor(np.stack(xte_l), dtype=torch.float32),
        torch.tensor(np.stack(yte_l)),
    )


def digits_sweep(cfg: Config, seed: int) -> DigitsSweep:
    """Train the deterministic network and VIB at every λ, ``n_seeds`` seeds each, at once."""
    models = ["deterministic"] + [f"vib λ={lam:g}" for lam in cfg.lambdas]
    lams = [0.0, *cfg.lambdas]
    seeds = [seed + s for s in range(cfg.n_seeds)]
    members = [(m, lam, s) for s in seeds for m, lam in zip(models, lams, strict=True)]
    e = len(members)
    xtr_t, ytr_t, xte_t, yte_t = _splits(cfg, seeds, len(models))
    sizes = [(64, cfg.hidden), (cfg.hidden, cfg.latent), (cfg.hidden, cfg.latent), (cfg.latent, 10)]
    params = _ensemble_params([s for _, _, s in members], sizes)
    opt = torch.optim.Adam(params, lr=cfg.lr, foreach=True)
    lam_t = torch.tensor([lam for _, lam, _ in members])
    noisy = torch.tensor([m != "deterministic" for m, _, _ in members])[:, None, None]
    g = torch.Generator().manual_seed(seed)
    n = cfg.n_train
    curve: list[list[float]] = []
    for epoch in range(cfg.epochs):
        perm = torch.rand(e, n, generator=g).argsort(1)
        for i in range(0, n, cfg.batch_size):
            idx = perm[:, i : i + cfg.batch_size]
            xb = xtr_t.gather(1, idx[..., None].expand(-1, -1, 64))
            yb = ytr_t.gather(1, idx)
            mu, log_var = _forward(params, xb)
            z = torch.where(noisy, reparameterize(mu, log_var, generator=g), mu)
            logits = torch.baddbmm(params[7], z, params[6])
            ce = F.cross_entropy(logits.transpose(1, 2), yb, reduction="none").mean(1)  # (E,)
            kl = gaussian_kl_standard_normal(mu, log_var, reduction="none").mean(1)  # (E,)
            loss = (ce + lam_t * kl).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if epoch < 20 or (epoch + 1) % 10 == 0:  # learning curve: dense early, then every 10
            with torch.no_grad():
                mu, _ = _forward(params, xte_t)
                pred = torch.baddbmm(params[7], mu, params[6]).argmax(-1)
                curve.append([epoch + 1, *(pred == yte_t).float().mean(1).tolist()])
    gn = torch.Generator().manual_seed(seed + 12345)
    with torch.no_grad():
        mu, log_var = _forward(params, xte_t)
        kl_test = gaussian_kl_standard_normal(mu, log_var, reduction="none").mean(1)
        acc_noise = []
        for level in cfg.noise_levels:
            draws = 1 if level == 0 else cfg.noise_draws
            accs = torch.zeros(e)
            for _ in range(draws):
                xn = xte_t + level * torch.randn(xte_t.shape, generator=gn)
                mu_n, _ = _forward(params, xn)
                pred = torch.baddbmm(params[7], mu_n, params[6]).argmax(-1)
                accs += (pred == yte_t).float().mean(1) / draws
            acc_noise.append(accs)
        acc_sampled = torch.zeros(e)  # noise on at test time: z ~ p(z|x), the information bound
        for _ in range(cfg.noise_draws):
            zs = reparameterize(mu, log_var, generator=gn)
            pred = torch.baddbmm(params[7], zs, params[6]).argmax(-1)
            acc_sampled += (pred == yte_t).float().mean(1) / cfg.noise_draws
    per_member = tuple(
        DigitsMember(m, lam, s, float(acc_noise[0][i]), float(kl_test[i]),
                     tuple(float(a[i]) for a in acc_noise), float(acc_sampled[i]))
        for i, (m, lam, s) in enumerate(members)
    )  # fmt: skip
    means = []
    for j, m in enumerate(models):
        rows = [r for r in per_member if r.model == m]
        mean_curve = tuple(
            (int(c[0]), float(np.mean([c[1 + i] for i in range(e) if members[i][0] == m])))
            for c in curve
        )
        reach = [ep for ep, a in mean_curve if a >= cfg.reach_acc]
        means.append(
            DigitsModel(
                model=m,
                lam=lams[j] if m != "deterministic" else None,
                test_acc=float(np.mean([r.test_acc for r in rows])),
                test_kl=float(np.mean([r.test_kl for r in rows])),
                sampled_acc=float(np.mean([r.sampled_acc for r in rows])),
                noise_acc=tuple(np.mean([r.noise_acc for r in rows], 0).tolist()),
                acc_seed_range=(min(r.test_acc for r in rows), max(r.test_acc for r in rows)),
                curve=mean_curve,
                epochs_to_reach=reach[0] if reach else None,
            )
        )
    return DigitsSweep(tuple(cfg.noise_levels), cfg.reach_acc, per_member, tuple(means))
