"""B4 reproduction: WGAN-div, WGAN-GP and the energy-view GAN on 2-D toys (CPU).

WGAN-div (https://kexue.fm/archives/6139) claims its penalty :math:`k\\,\\mathbb E\\|\\nabla T\\|^p`
(k = 2, p = 6) is a true divergence that trains GANs stably, without Lipschitz constraints or
interpolation, at least as well as WGAN-GP; the energy view (https://kexue.fm/archives/6331) trains an
energy :math:`U` with a score penalty and a generator whose entropy term (a mutual-information bound
through an encoder) fights mode collapse, and then refines samples by latent MCMC.

Part 1 (divergence sanity): estimate :math:`W_{2,6}` between N(0, 1) and N(μ, 1) by maximising the
penalised objective over a small MLP: ≈ 0 at μ = 0 and increasing in |μ|.
Part 2 (toys): small MLP G/D trained on 8 Gaussians, a 5×5 grid and a spiral, per loss and seed:
modes covered, high-quality sample fraction and the 2-Wasserstein distance (POT ``emd2``) to fresh
data. All (toy, seed) pairs of one loss train together as a batched ensemble of independent networks
(``bmm``; Adam is elementwise, so this equals training them one by one).
Part 3 (latent MALA): on the energy-view models, MALA in z lowers the energy of the samples with an
acceptance rate in (0, 1).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kexue.experiments.base import Check, Experiment, at_least, at_most, jsonable, within
from kexue.losses.gan import (
    critic_loss,
    energy_generator_loss,
    generator_loss,
    score_penalty,
    wgan_div_penalty,
    wgan_gp_penalty,
)
from kexue.losses.latent_mala import latent_mala

LOSSES = ("wgan-div 1:1", "wgan-div", "wgan-gp", "energy+MI", "energy")
TOYS = ("8gaussians", "25gaussians", "spiral")


@dataclass(frozen=True)
class Config:
    """Sizes of the three parts.

    Attributes:
        toys: toy sets for the WGAN losses (``"8gaussians"``, ``"25gaussians"``, ``"spiral"``).
        one_to_one_toys: toy sets for ``"wgan-div 1:1"`` (the author's 1 critic : 1 generator
            update recipe).
        energy_toys: toy sets for the two energy-view runs (1:1).
        losses: objectives trained (a subset of ``LOSSES``).
        n_seeds: seeds per (toy, loss), starting at ``run``'s seed.
        iterations: generator updates of the 1:1 runs (``"wgan-div 1:1"``, energy view).
        pair_iterations: generator updates of the ``n_critic``:1 pair ``"wgan-div"``/``"wgan-gp"``.
        n_critic: critic updates per generator update of ``"wgan-div"`` and ``"wgan-gp"``.
        batch_size: samples per update (real and fake).
        width: hidden width of the 2-layer MLPs (G, D and the encoder).
        lr: Adam learning rate, betas (0.5, 0.9), for G and D alike.
        decay_start: fraction of the iterations after which both learning rates decay linearly
            to 0 (1.0: constant).
        sigma: standard deviation of each toy's noise; "high quality" means within 4σ of the data
            manifold (a mode centre or the spiral's curve).
        k, p: WGAN-div penalty; gp_weight: WGAN-GP λ; score_weight: energy-view score penalty λ;
            mi_weight: the encoder term λ₂ of ``energy+MI``.
        n_eval: generated samples for the mode statistics; n_w2: samples per side for ``emd2``.
        mala_steps, mala_step: latent MALA length and step size ε.
        div_mus: means μ for the 1-D divergence estimate; div_steps, div_batch: its Adam steps
            and batch size.
    """

    toys: tuple[str, ...] = TOYS
    one_to_one_toys: tuple[str, ...] = ("8gaussians",)
    energy_toys: tuple[str, ...] = ("8gaussians",)
    losses: tuple[str, ...] = LOSSES
    n_seeds: int = 3
    iterations: int = 1500
    pair_iterations: int = 1000
    n_critic: int = 5
    batch_size: int = 128
    width: int = 64
    lr: float = 1e-3
    decay_start: float = 0.5
    sigma: float = 0.05
    k: float = 2.0
    p: float = 6.0
    gp_weight: float = 0.1
    score_weight: float = 0.1
    mi_weight: float = 1.0
    n_eval: int = 2000
    n_w2: int = 1000
    mala_steps: int = 50
    mala_step: float = 0.01
    div_mus: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    div_steps: int = 300
    div_batch: int = 512


QUICK = Config(
    toys=("8gaussians",), losses=("wgan-div 1:1", "energy+MI"), n_seeds=1, iterations=200,
    decay_start=1.0, n_eval=1000, n_w2=400, mala_steps=10, mala_step=0.05, div_steps=100,
    div_batch=256,
)  # fmt: skip
FULL = Config()


# ---------------------------------------------------------------- toys and metrics
def _toy_curve(toy: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Points of the data manifold, the mode id of each, and the number of modes."""
    if toy == "8gaussians":
        a = np.arange(8) * 2 * np.pi / 8
        return 2.0 * np.stack([np.cos(a), np.sin(a)], 1), np.arange(8), 8
    if toy == "25gaussians":
        g = np.arange(-2, 3, dtype=float)
        pts = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
        return pts, np.arange(25), 25
    if toy == "spiral":
        t = np.linspace(0, 1, 4001)
        return _spiral(t), np.minimum((t * 8).astype(int), 7), 8
    raise ValueError(f"unknown toy {toy!r}; choose from {TOYS}")


def _spiral(t: np.ndarray) -> np.ndarray:
    theta, r = 4 * np.pi * t, 0.25 + 1.75 * t
    return np.stack([r * np.cos(theta), r * np.sin(theta)], -1)


def _sample_toy(toy: str, n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    if toy == "spiral":
        base = _spiral(rng.random(n))
    else:
        pts = _toy_curve(toy)[0]
        base = pts[rng.integers(0, len(pts), n)]
    return base + sigma * rng.standard_normal((n, 2))


def _mode_stats(x: np.ndarray, toy: str, sigma: float) -> dict[str, Any]:
    """Modes covered (>= 20 % of a mode's fair share of high-quality samples), HQ fraction, KL."""
    pts, ids, n_modes = _toy_curve(toy)
    d2 = ((x[:, None, :] - pts[None, :, :]) ** 2).sum(-1)
    j = d2.argmin(1)
    hq = np.sqrt(d2[np.arange(len(x)), j]) <= 4 * sigma
    counts = np.bincount(ids[j[hq]], minlength=n_modes)
    covered = int((counts >= 0.2 * len(x) / n_modes).sum())
    hist = (counts + 1e-12) / max(counts.sum(), 1)
    kl = float((hist * np.log(hist * n_modes)).sum()) if counts.sum() else float("inf")
    return {"modes": covered, "n_modes": n_modes, "hq": float(hq.mean()), "kl_uniform": kl}


def _w2(x: np.ndarray, y: np.ndarray) -> float:
    import ot

    m = ot.dist(x, y)  # squared Euclidean
    a = np.full(len(x), 1 / len(x))
    b = np.full(len(y), 1 / len(y))
    return float(np.sqrt(ot.emd2(a, b, m, numItermax=1_000_000)))


# ---------------------------------------------------------------- batched independent MLPs
class _EnsembleMLP(nn.Module):
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


def _train_loss(
    cfg: Config, loss: str, members: list[tuple[str, int]], w2_init: dict[tuple[str, int], float]
) -> dict[str, Any]:
    e, b = len(members), cfg.batch_size
    seeds = [s for _, s in members]
    gen_net = _EnsembleMLP(seeds, 2, 2, cfg.width, salt=1)  # same init per seed for every loss
    crit = _EnsembleMLP(seeds, 2, 1, cfg.width, salt=2)
    enc = _EnsembleMLP(seeds, 2, 2, cfg.width, salt=3)
    g_params = list(gen_net.parameters()) + (list(enc.parameters()) if loss == "energy+MI" else [])
    opt_g = torch.optim.Adam(g_params, lr=cfg.lr, betas=(0.5, 0.9), foreach=True)
    opt_d = torch.optim.Adam(crit.parameters(), lr=cfg.lr, betas=(0.5, 0.9), foreach=True)
    pool = torch.tensor(
        np.stack([_sample_toy(t, 20_000, cfg.sigma, np.random.default_rng(10_000 * s + 7))
                  for t, s in members]),
        dtype=torch.float32,
    )  # (E, P, 2) training data: a fixed draw per (toy, seed)  # fmt: skip
    tg = torch.Generator().manual_seed(7919 * seeds[0] + len(members))
    f = crit.flat(b)
    n_critic = cfg.n_critic if loss in ("wgan-div", "wgan-gp") else 1
    conv = (
        "critic" if loss == "wgan-gp" else "energy"
    )  # WGAN-div (author's code), energy: low on real
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
    out: dict[str, Any] = {"members": []}
    for i, (toy, seed) in enumerate(members):
        data = _sample_toy(toy, cfg.n_w2, cfg.sigma, np.random.default_rng(99 + seed))
        if (toy, seed) not in w2_init:
            w2_init[toy, seed] = _w2(x_init[i][: cfg.n_w2], data)
        row = {"toy": toy, "seed": seed, **_mode_stats(x_end[i], toy, cfg.sigma)}
        row |= {"w2": _w2(x_end[i][: cfg.n_w2], data), "w2_init": w2_init[toy, seed]}
        row["samples"] = x_end[i][:500].round(3).tolist()
        out["members"].append(row)
    if loss.startswith("energy"):
        out["mala"] = _mala(cfg, gen_net, crit, members, tg)
    return out


def _mala(
    cfg: Config, gen_net: _EnsembleMLP, crit: _EnsembleMLP, members: list[Any], tg: torch.Generator
) -> list[dict[str, Any]]:
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
        data = _sample_toy(toy, n, cfg.sigma, np.random.default_rng(199 + seed))
        rows.append({
            "toy": toy, "seed": seed, "energy_before": float(v0[i]), "energy_after": float(v1[i]),
            "acceptance": float(res.acceptance),
            "hq_before": _mode_stats(x0[i], toy, cfg.sigma)["hq"],
            "hq_after": _mode_stats(x1[i], toy, cfg.sigma)["hq"],
            "w2_before": _w2(x0[i], data), "w2_after": _w2(x1[i], data),
            "samples": x1[i][:300].round(3).tolist(),
        })  # fmt: skip
    return rows


# ---------------------------------------------------------------- part 1: divergence sanity
def _divergence(cfg: Config, seed: int) -> list[dict[str, float]]:
    """max_T E_P T - E_Q T - k E_r |T'|^p for P = N(0,1), Q = N(mu,1), batched over mu."""
    mus = torch.tensor(cfg.div_mus)
    e, b = len(mus), cfg.div_batch
    t = _EnsembleMLP([seed] * e, 1, 1, 32, salt=5)
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
    return [{"mu": float(m), "w_div": float(v)} for m, v in zip(mus, est, strict=True)]


# ---------------------------------------------------------------- contract
def _toys_of(config: Config, loss: str) -> tuple[str, ...]:
    if loss.startswith("energy"):
        return config.energy_toys
    return config.one_to_one_toys if loss == "wgan-div 1:1" else config.toys


def run(config: Config, seed: int) -> dict[str, Any]:
    """Divergence sanity, then every loss on its (toy, seed) ensemble, then latent MALA."""
    torch.set_num_threads(1)
    div = _divergence(config, seed)
    w2_init: dict[tuple[str, int], float] = {}
    per_loss = {}
    for loss in config.losses:
        members = [(t, seed + s) for t in _toys_of(config, loss) for s in range(config.n_seeds)]
        per_loss[loss] = _train_loss(config, loss, members, w2_init)
    mean: dict[str, dict[str, dict[str, float]]] = {}
    rows: list[list[Any]] = []
    for loss, res in per_loss.items():
        mean[loss] = {}
        for toy in _toys_of(config, loss):
            ms = [m for m in res["members"] if m["toy"] == toy]
            agg = {k: float(np.mean([m[k] for m in ms]))
                   for k in ("modes", "hq", "w2", "w2_init", "kl_uniform")}  # fmt: skip
            agg["min_modes"] = float(min(m["modes"] for m in ms))
            agg["n_modes"] = ms[0]["n_modes"]
            mean[loss][toy] = agg
            rows.append([
                loss, toy, f"{agg['modes']:.2f}/{agg['n_modes']} (min {agg['min_modes']:.0f})",
                f"{100 * agg['hq']:.1f}", f"{agg['w2']:.3f}", f"{agg['w2_init']:.3f}",
                f"{agg['kl_uniform']:.3f}",
            ])  # fmt: skip
        for r in res.get("mala", []):
            r_m = [x for x in res["mala"] if x["toy"] == r["toy"]]
            if r is r_m[0]:
                rows.append([
                    f"{loss} + latent MALA", r["toy"], "",
                    f"{100 * np.mean([x['hq_before'] for x in r_m]):.1f} → "
                    f"{100 * np.mean([x['hq_after'] for x in r_m]):.1f}",
                    f"{np.mean([x['w2_before'] for x in r_m]):.3f} → "
                    f"{np.mean([x['w2_after'] for x in r_m]):.3f}",
                    f"acceptance {r['acceptance']:.3f}", "",
                ])  # fmt: skip
    all_toys = sorted({t for loss in config.losses for t in _toys_of(config, loss)})
    floor = {
        toy: _w2(
            _sample_toy(toy, config.n_w2, config.sigma, np.random.default_rng(1)),
            _sample_toy(toy, config.n_w2, config.sigma, np.random.default_rng(2)),
        )
        for toy in all_toys
    }
    rows += [["data vs data (W2 floor)", t, "", "", f"{w:.3f}", "", ""] for t, w in floor.items()]
    table = {
        "columns": ["loss", "toy", "modes covered (mean over seeds)", "HQ % (within 4σ)",
                    "W2 to data (POT emd2)", "W2 at init", "KL(mode hist ‖ uniform)"],
        "rows": rows,
    }  # fmt: skip
    return jsonable(
        {"divergence": div, "per_loss": per_loss, "mean": mean, "w2_floor": floor, "table": table}
    )


def check(metrics: dict[str, Any], config: Config) -> list[Check]:
    """Gate: divergence sanity, W2 drops, WGAN-div coverage, div vs GP, MI term, latent MALA."""
    full = config.iterations >= 1000  # coverage and quality claims only after real training
    div = metrics["divergence"]
    mean = metrics["mean"]
    checks = [
        at_most("|W_{2,6}(N(0,1), N(0,1))| estimate", abs(div[0]["w_div"]), 0.05,
                article="= 0 iff P = Q"),
        at_least("min increment of the W_{2,6} estimate as |μ| grows",
                 min(b["w_div"] - a["w_div"] for a, b in itertools.pairwise(div)), 0.01,
                 article="a divergence: grows with the gap"),
    ]  # fmt: skip
    for loss in config.losses:
        if loss == "energy":
            continue  # the ablation without the anti-collapse term may fail on a seed
        for toy, m in mean[loss].items():
            checks.append(at_most(f"{loss} on {toy}: W2 to data / W2 at init (mean over seeds)",
                                  m["w2"] / m["w2_init"], 0.5 if full else 0.8))  # fmt: skip
    d8 = mean.get("wgan-div 1:1", {}).get("8gaussians")
    if full and d8:
        checks.append(at_least("WGAN-div 1:1, 8 Gaussians: modes covered (mean over seeds)",
                               d8["modes"], 7.0, article="spec [measured] 8/8 (3000 it., width 128)"))  # fmt: skip
        checks.append(at_least("WGAN-div 1:1, 8 Gaussians: high-quality fraction (mean)", d8["hq"],
                               0.4, article="spec [measured] 66 % (3000 it., width 128, batch 256)"))  # fmt: skip
    if full and "wgan-div" in mean and "wgan-gp" in mean:
        for toy, d in mean["wgan-div"].items():
            g = mean["wgan-gp"][toy]
            checks.append(at_least(f"{toy}: modes WGAN-div − WGAN-GP, both {config.n_critic}:1 (mean)",
                                   d["modes"] - g["modes"], -0.15 * d["n_modes"],
                                   article="WGAN-div ≥ WGAN-GP (paper: FID)"))  # fmt: skip
            checks.append(at_most(f"{toy}: W2 WGAN-div / W2 WGAN-GP", d["w2"] / g["w2"], 1.25,
                                  article="WGAN-div ≥ WGAN-GP (paper: FID)"))  # fmt: skip
    if full and "energy+MI" in mean and "energy" in mean:
        for toy, a in mean["energy+MI"].items():
            checks.append(at_least(f"{toy}: modes energy+MI − energy without MI term (mean)",
                                   a["modes"] - mean["energy"][toy]["modes"], 0.0,
                                   article="MI term is the anti-collapse force (spec: expect ≥)"))  # fmt: skip
    for loss in config.losses:
        mala = metrics["per_loss"][loss].get("mala", [])
        if mala:
            checks.append(within(f"{loss}: latent MALA acceptance rate", mala[0]["acceptance"],
                                 0.01, 0.999))  # fmt: skip
            frac = float(np.mean([r["energy_after"] < r["energy_before"] for r in mala]))
            checks.append(at_least(f"{loss}: fraction of models whose latent MALA lowers mean V(z)",
                                   frac, 1.0, article="MCMC in z: a better truncation trick"))  # fmt: skip
            if full and loss == "energy+MI":
                gain = float(np.mean([r["hq_after"] - r["hq_before"] for r in mala]))
                checks.append(at_least(f"{loss}: HQ fraction after − before latent MALA (mean)",
                                       gain, 0.0, article="MCMC in z improves samples (MEG)"))  # fmt: skip
    return checks


def plot(metrics: dict[str, Any], path: Path) -> None:
    """Samples of the first seed per (loss, toy) over the data manifold; MALA samples if any."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: list[tuple[str, str, list[list[float]], str]] = []
    for loss, res in metrics["per_loss"].items():
        for toy in metrics["mean"][loss]:
            m = next(r for r in res["members"] if r["toy"] == toy)
            panels.append((f"{loss} / {toy}", toy, m["samples"],
                           f"modes {m['modes']}/{m['n_modes']}, HQ {100 * m['hq']:.0f}%, "
                           f"W2 {m['w2']:.2f}"))  # fmt: skip
        for r in res.get("mala", [])[:1]:
            panels.append((f"{loss} + latent MALA / {r['toy']}", r["toy"], r["samples"],
                           f"HQ {100 * r['hq_before']:.0f}% → {100 * r['hq_after']:.0f}%"))  # fmt: skip
    cols = min(4, len(panels))
    nrows = -(-len(panels) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 3.3 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, toy, samples, sub) in zip(axes.flat, panels, strict=False):
        ax.axis("on")
        pts = _toy_curve(toy)[0]
        if toy == "spiral":
            ax.plot(pts[:, 0], pts[:, 1], "r-", lw=0.6)
        else:
            ax.plot(pts[:, 0], pts[:, 1], "r+", ms=6)
        s = np.asarray(samples)
        ax.scatter(s[:, 0], s[:, 1], s=2, alpha=0.5)
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[])
        ax.set_title(f"{title}\n{sub}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary(metrics: dict[str, Any]) -> str:
    """Headline: modes / HQ / W2 per loss on 8 Gaussians (or its first toy)."""
    parts = []
    for loss, per_toy in metrics["mean"].items():
        toy = "8gaussians" if "8gaussians" in per_toy else next(iter(per_toy))
        m = per_toy[toy]
        parts.append(f"{loss} ({toy}): {m['modes']:.1f}/{m['n_modes']} modes, "
                     f"HQ {100 * m['hq']:.0f}%, W2 {m['w2']:.3f}")  # fmt: skip
    return "; ".join(parts)


EXPERIMENT = Experiment(
    id="B4",
    title="WGAN-div vs WGAN-GP vs energy-view GAN (with/without MI term) on 2-D toys",
    quick=QUICK,
    full=FULL,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data="generated 2-D toys: 8 Gaussians (radius 2), 5×5 grid (spacing 1), 2-turn spiral; σ = 0.05",
    notes=(
        "Only 2-D toys (the articles' CelebA/MEG image runs are beyond a CPU budget): 8 Gaussians "
        "(radius 2) and a 5×5 grid (spacing 1), σ = 0.05, and a 2-turn spiral. Networks: 2×64 "
        "LeakyReLU(0.2) MLPs, z ∈ R², batch 128, Adam(1e-3, β = (0.5, 0.9)), both learning rates "
        "decayed linearly to 0 over the second half (spec recipe: 2×128, batch 256, constant lr, "
        "3000 iterations) — sized for the CPU; each loss trains all its (toy, seed) networks as "
        "one bmm ensemble. 'wgan-div 1:1' is the author's code recipe (energy sign, penalty at "
        "the real and fake samples, k = 2, p = 6, one critic step per generator step), 1500 "
        "iterations: 8/8 modes, 50 % high-quality samples (spec [measured] 66 % after 3000 "
        "iterations, so our HQ gate is 40 %). The WGAN-div vs WGAN-GP comparison gives both the "
        "same 5:1 schedule and 1000 generator steps; WGAN-GP uses λ = 0.1 as in the WGAN-GP "
        "authors' toy script (in tuning, λ = 10 reached 0–1 of 8 modes on 8 Gaussians in 1500 "
        "steps, and WGAN-GP with λ = 0.1 or 10 diverged on a 1:1 schedule that WGAN-div trains "
        "on). Result: WGAN-div ≥ WGAN-GP on every toy (modes 8 vs 7.7, 15.7 vs 13.7 of 25, 8 vs "
        "8; W2 0.40 vs 0.48, 0.39 vs 0.42, 0.23 vs 0.23), i.e. the paper's direction, on toys. "
        "The 25-grid is under-trained for both (≈ 16/25). Energy view: U trained on "
        "E_p U − E_G U + 0.1·E_p|∇U|² (score penalty on real data), 1:1 (MEG: 5:1, width 512, "
        "lr 1e-4); the entropy term is the InfoGAN bound λ₂|z − E(G(z))|², λ₂ = 1; 'energy' is "
        "the ablation λ₂ = 0, which lost all modes on one of three seeds (mean 5.3/8 vs 8/8 with "
        "the term). Latent MALA on V(z) = U(G(z)) + |z|²/2 uses the corrected kernel (the "
        "proposal's ε/2 drift also in q(z'|z); the article writes ε), ε = 0.01, 50 steps: "
        "acceptance 0.97 and high-quality fraction 31 → 47 % — the article's 'better truncation "
        "trick'. Modes covered: ≥ 20 % of a mode's fair share of samples within 4σ (spiral: 8 "
        "equal-parameter segments). W2: POT emd2 with squared Euclidean cost, 1000 vs 1000 "
        "samples (data-vs-data floor listed). Part 1 estimates W_{2,6} between N(0,1) and "
        "N(μ,1) with a small MLP: ≈ 0 at μ = 0 and increasing in |μ|."
    ),
)
