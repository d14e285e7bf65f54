"""B4 studies (parts 2 and 3): each loss trains small G/D MLPs on the toys; latent MALA refines.

Per loss, every (toy, seed) pair trains as one member of a batched ensemble; afterwards each
member's samples are scored (modes covered, high-quality fraction, W2 to fresh data). On the
energy-view models, MALA in z on :math:`V(z)=U(G(z))+\\|z\\|^2/2` lowers the energy of the samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kexue.experiments.b4_gan_losses.config import Config
from kexue.experiments.b4_gan_losses.ensemble import EnsembleMLP
from kexue.experiments.b4_gan_losses.toys import mode_stats, sample_toy, w2
from kexue.losses.gan import (
    critic_loss,
    energy_generator_loss,
    generator_loss,
    score_penalty,
    wgan_div_penalty,
    wgan_gp_penalty,
)
from kexue.losses.latent_mala import latent_mala

__all__ = ["LossRun", "MalaMember", "MemberResult", "train_loss"]

Points = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class MemberResult:
    """One trained generator (one toy, one seed): its samples scored against the data.

    Attributes:
        toy, seed: the member.
        modes, n_modes, hq, kl_uniform: see :class:`~.toys.ModeStats`.
        w2: W2 from the generated samples to fresh data; w2_init: the same at initialisation.
        samples: the first generated samples (for the figure).
    """

    toy: str
    seed: int
    modes: int
    n_modes: int
    hq: float
    kl_uniform: float
    w2: float
    w2_init: float
    samples: Points


@dataclass(frozen=True)
class MalaMember:
    """Latent MALA on one energy-view member: mean energy, HQ and W2 before and after."""

    toy: str
    seed: int
    energy_before: float
    energy_after: float
    acceptance: float
    hq_before: float
    hq_after: float
    w2_before: float
    w2_after: float
    samples: Points


@dataclass(frozen=True)
class LossRun:
    """One loss trained on all its (toy, seed) members.

    Attributes:
        loss: one of ``LOSSES``.
        iterations: generator updates; n_critic: critic updates per generator update.
        members: every member's scores.
        mala: latent MALA per member (energy-view losses only; else empty).
    """

    loss: str
    iterations: int
    n_critic: int
    members: tuple[MemberResult, ...]
    mala: tuple[MalaMember, ...] = ()


def _points(x: np.ndarray) -> Points:
    return tuple((float(a), float(b)) for a, b in x.round(3).tolist())


def train_loss(
    cfg: Config, loss: str, members: list[tuple[str, int]], w2_init: dict[tuple[str, int], float]
) -> LossRun:
    """Train ``loss`` on ``members`` and score them; ``w2_init`` caches W2 at initialisation."""
    e, b = len(members), cfg.batch_size
    seeds = [s for _, s in members]
    gen_net = EnsembleMLP(seeds, 2, 2, cfg.width, salt=1)  # same init per seed for every loss
    crit = EnsembleMLP(seeds, 2, 1, cfg.width, salt=2)
    enc = EnsembleMLP(seeds, 2, 2, cfg.width, salt=3)
    g_params = list(gen_net.parameters()) + (list(enc.parameters()) if loss == "energy+MI" else [])
    opt_g = torch.optim.Adam(g_params, lr=cfg.lr, betas=(0.5, 0.9), foreach=True)
    opt_d = torch.optim.Adam(crit.parameters(), lr=cfg.lr, betas=(0.5, 0.9), foreach=True)
    pool = torch.tensor(
        np.stack([sample_toy(t, 20_000, cfg.sigma, np.random.default_rng(10_000 * s + 7))
                  for t, s in members]),
        dtype=torch.float32,
    )  # (E, P, 2) training data: a fixed draw per (toy, seed)  # fmt: skip
    tg = torch.Generator().manual_seed(7919 * seeds[0] + len(members))
    f = crit.flat(b)
    n_critic = cfg.n_critic if loss in ("wgan-div", "wgan-gp") else 1
    # WGAN-div (the author's code) and the energy view: low on real; WGAN-GP: high on real
    conv = "critic" if loss == "wgan-gp" else "energy"
    z_eval = torch.stack(
        [torch.randn(cfg.n_eval, 2, generator=torch.Generator().manual_seed(s)) for s in seeds]
    )
    iters = cfg.pair_iterations if n_critic > 1 else cfg.iterations
    start = int(cfg.decay_start * iters)

    def factor(i: int) -> float:  # constant, then linear decay to 0 (sharpens the modes)
        return 1.0 if i < start else 1.0 - (i - start) / max(1, iters - start)

    scheds = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in (opt_g, opt_d)]
    with torch.no_grad():
        x_init = gen_net(z_eval).numpy()
    for _ in range(iters):
        for _ in range(n_critic):
            idx = torch.randint(0, pool.shape[1], (e, b, 1), generator=tg).expand(-1, -1, 2)
            real = pool.gather(1, idx).reshape(e * b, 2)  # member-major rows
            with torch.no_grad():
                fake = gen_net(torch.randn(e, b, 2, generator=tg)).reshape(e * b, 2)
            ld = critic_loss(f(real), f(fake), convention=conv)
            if loss.startswith("wgan-div"):
                ld = ld + wgan_div_penalty(f, real, fake, cfg.k, cfg.p)
            elif loss == "wgan-gp":
                ld = ld + wgan_gp_penalty(f, real, fake, cfg.gp_weight, generator=tg)
            else:
                ld = ld + score_penalty(f, real, cfg.score_weight)
            opt_d.zero_grad(set_to_none=True)
            (e * ld).backward()  # losses are means over all members: scale back per member
            opt_d.step()
        z = torch.randn(e, b, 2, generator=tg)
        x = gen_net(z)
        scores = f(x.reshape(e * b, 2))
        if loss.startswith("energy"):
            w = cfg.mi_weight if loss == "energy+MI" else 0.0
            lg = energy_generator_loss(scores, z.reshape(e * b, 2), enc(x).reshape(e * b, 2), w)
        else:
            lg = generator_loss(scores, convention=conv)
        opt_g.zero_grad(set_to_none=True)
        (e * lg).backward()
        opt_g.step()
        for sch in scheds:
            sch.step()
    with torch.no_grad():
        x_end = gen_net(z_eval).numpy()
    results = []
    for i, (toy, seed) in enumerate(members):
        data = sample_toy(toy, cfg.n_w2, cfg.sigma, np.random.default_rng(99 + seed))
        if (toy, seed) not in w2_init:
            w2_init[toy, seed] = w2(x_init[i][: cfg.n_w2], data)
        st = mode_stats(x_end[i], toy, cfg.sigma)
        results.append(
            MemberResult(
                toy, seed, st.modes, st.n_modes, st.hq, st.kl_uniform,
                w2(x_end[i][: cfg.n_w2], data), w2_init[toy, seed], _points(x_end[i][:500]),
            )
        )  # fmt: skip
    mala = _mala(cfg, gen_net, crit, members, tg) if loss.startswith("energy") else ()
    return LossRun(loss, iters, n_critic, tuple(results), mala)


def _mala(
    cfg: Config,
    gen_net: EnsembleMLP,
    crit: EnsembleMLP,
    members: list[tuple[str, int]],
    tg: torch.Generator,
) -> tuple[MalaMember, ...]:
    """Latent MALA on V(z) = U(G(z)) + |z|^2/2 per member: energy, HQ and W2 before and after."""
    e, n = len(members), 500

    def v(z: torch.Tensor) -> torch.Tensor:  # (E*n, 2) member-major -> (E*n,)
        xe = gen_net(z.reshape(e, n, 2)).reshape(e * n, 2)
        return crit.flat(n)(xe) + 0.5 * z.square().sum(1)

    z0 = torch.randn(e * n, 2, generator=tg)
    with torch.no_grad():
        v0 = v(z0).reshape(e, n).mean(1)
        x0 = gen_net(z0.reshape(e, n, 2)).numpy()
    res = latent_mala(v, z0, cfg.mala_step, cfg.mala_steps, generator=tg)
    with torch.no_grad():
        x1 = gen_net(res.z.reshape(e, n, 2)).numpy()
    v1 = res.energy.reshape(e, n).mean(1)
    rows = []
    for i, (toy, seed) in enumerate(members):
        data = sample_toy(toy, n, cfg.sigma, np.random.default_rng(199 + seed))
        rows.append(
            MalaMember(
                toy, seed, float(v0[i]), float(v1[i]), float(res.acceptance),
                mode_stats(x0[i], toy, cfg.sigma).hq, mode_stats(x1[i], toy, cfg.sigma).hq,
                w2(x0[i], data), w2(x1[i], data), _points(x1[i][:300]),
            )
        )  # fmt: skip
    return tuple(rows)
