"""B4 study (part 1): the WGAN-div objective estimates a divergence between N(0, 1) and N(μ, 1).

:math:`\\max_T\\ \\mathbb E_P T-\\mathbb E_Q T-k\\,\\mathbb E_r\\|T'\\|^p` over a small MLP, batched
over μ: about 0 at μ = 0 and increasing in |μ|.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kexue.experiments.b4_gan_losses.config import Config
from kexue.experiments.b4_gan_losses.ensemble import EnsembleMLP
from kexue.losses.gan import wgan_div_penalty

__all__ = ["DivergencePoint", "divergence_estimates"]


@dataclass(frozen=True)
class DivergencePoint:
    """The penalised objective at its maximum (mean of the last 50 steps) for one μ."""

    mu: float
    w_div: float


def divergence_estimates(cfg: Config, seed: int) -> tuple[DivergencePoint, ...]:
    """One estimate per ``cfg.div_mus``, in that order."""
    mus = torch.tensor(cfg.div_mus)
    e, b = len(mus), cfg.div_batch
    t = EnsembleMLP([seed] * e, 1, 1, 32, salt=5)
    opt = torch.optim.Adam(t.parameters(), lr=5e-3)
    f = t.flat(b)
    g = torch.Generator().manual_seed(seed)
    vals = []
    for step in range(cfg.div_steps):
        xp = torch.randn(e, b, 1, generator=g).reshape(e * b, 1)
        xq = (torch.randn(e, b, 1, generator=g) + mus[:, None, None]).reshape(e * b, 1)
        gap = (f(xp) - f(xq)).reshape(e, b).mean(1)
        pen = wgan_div_penalty(f, xp, xq, cfg.k, cfg.p, reduction="none").reshape(e, b).mean(1)
        obj = gap - pen
        opt.zero_grad(set_to_none=True)
        (-obj.sum()).backward()
        opt.step()
        if step >= cfg.div_steps - 50:
            vals.append(obj.detach())
    est = torch.stack(vals).mean(0)
    return tuple(DivergencePoint(float(m), float(v)) for m, v in zip(mus, est, strict=True))
