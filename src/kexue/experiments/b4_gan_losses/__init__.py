"""B4 reproduction: WGAN-div, WGAN-GP and the energy-view GAN on 2-D toys (CPU).

WGAN-div (https://kexue.fm/archives/6139) claims its penalty :math:`k\\,\\mathbb E\\|\\nabla T\\|^p`
(k = 2, p = 6) is a true divergence that trains GANs stably, without Lipschitz constraints or
interpolation, at least as well as WGAN-GP; the energy view (https://kexue.fm/archives/6331) trains an
energy :math:`U` with a score penalty and a generator whose entropy term (a mutual-information bound
through an encoder) fights mode collapse, and then refines samples by latent MCMC.

Studies, one module each: :mod:`.divergence` (part 1), :mod:`.training` (parts 2 and 3); the toys
and their metrics in :mod:`.toys`, the batched networks in :mod:`.ensemble`, sizes in :mod:`.config`.

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
import logging
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from kexue.experiments.b4_gan_losses.config import FULL, LOSSES, QUICK, TOYS, Config
from kexue.experiments.b4_gan_losses.divergence import DivergencePoint, divergence_estimates
from kexue.experiments.b4_gan_losses.notes import notes
from kexue.experiments.b4_gan_losses.toys import sample_toy, toy_curve, w2
from kexue.experiments.b4_gan_losses.training import LossRun, MalaMember, MemberResult, train_loss
from kexue.experiments.base import Check, Experiment, Table, at_least, at_most, num_threads, within

__all__ = [
    "EXPERIMENT",
    "FULL",
    "LOSSES",
    "QUICK",
    "TOYS",
    "Config",
    "DivergencePoint",
    "GanRow",
    "LossRun",
    "MalaMember",
    "MemberResult",
    "Result",
    "ToyMean",
    "W2Floor",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToyMean:
    """One loss on one toy, averaged over the seeds (``min_modes``: the worst seed)."""

    loss: str
    toy: str
    modes: float
    hq: float
    w2: float
    w2_init: float
    kl_uniform: float
    min_modes: float
    n_modes: int


@dataclass(frozen=True)
class W2Floor:
    """W2 between two independent data samples of a toy (the floor of the W2 metric)."""

    toy: str
    w2: float


@dataclass(frozen=True)
class GanRow:
    """One row of the report."""

    loss: str
    toy: str
    modes: str
    hq: str
    w2: str
    w2_init: str
    kl_uniform: str


@dataclass(frozen=True)
class Result:
    """What the B4 run measured.

    Attributes:
        divergence: the W_{2,6} estimate per μ (part 1).
        losses: every loss's members and latent MALA runs (parts 2 and 3).
        means: each (loss, toy) averaged over seeds, in training order.
        w2_floor: the data-vs-data W2 of each toy.
        tables: the report's table.
    """

    divergence: tuple[DivergencePoint, ...]
    losses: tuple[LossRun, ...]
    means: tuple[ToyMean, ...]
    w2_floor: tuple[W2Floor, ...]
    tables: tuple[Table, ...]

    def mean(self, loss: str, toy: str) -> ToyMean | None:
        """The seed mean of ``loss`` on ``toy`` (``None`` when it did not run)."""
        return next((m for m in self.means if m.loss == loss and m.toy == toy), None)

    def means_of(self, loss: str) -> list[ToyMean]:
        """The seed means of ``loss``, one per toy."""
        return [m for m in self.means if m.loss == loss]

    def run_of(self, loss: str) -> LossRun | None:
        """The run of ``loss`` (``None`` when it did not run)."""
        return next((r for r in self.losses if r.loss == loss), None)


def _means(cfg: Config, run: LossRun) -> list[ToyMean]:
    out = []
    for toy in cfg.toys_of(run.loss):
        ms = [m for m in run.members if m.toy == toy]
        agg = {k: float(np.mean([getattr(m, k) for m in ms]))
               for k in ("modes", "hq", "w2", "w2_init", "kl_uniform")}  # fmt: skip
        out.append(ToyMean(run.loss, toy, **agg, min_modes=float(min(m.modes for m in ms)),
                           n_modes=ms[0].n_modes))  # fmt: skip
    return out


def _rows(run: LossRun, means: list[ToyMean]) -> list[GanRow]:
    rows = [
        GanRow(run.loss, m.toy, f"{m.modes:.2f}/{m.n_modes} (min {m.min_modes:.0f})",
               f"{100 * m.hq:.1f}", f"{m.w2:.3f}", f"{m.w2_init:.3f}", f"{m.kl_uniform:.3f}")
        for m in means
    ]  # fmt: skip
    for toy in dict.fromkeys(r.toy for r in run.mala):
        r_m = [x for x in run.mala if x.toy == toy]
        rows.append(
            GanRow(
                f"{run.loss} + latent MALA", toy, "",
                f"{100 * np.mean([x.hq_before for x in r_m]):.1f} → "
                f"{100 * np.mean([x.hq_after for x in r_m]):.1f}",
                f"{np.mean([x.w2_before for x in r_m]):.3f} → "
                f"{np.mean([x.w2_after for x in r_m]):.3f}",
                f"acceptance {r_m[0].acceptance:.3f}", "",
            )
        )  # fmt: skip
    return rows


def run(config: Config, seed: int) -> Result:
    """Divergence sanity, then every loss on its (toy, seed) ensemble, then latent MALA."""
    with num_threads(1):  # small MLPs: one thread is faster; the figures were measured so
        log.info("B4: part 1, W_{2,6} estimate for μ = %s", config.div_mus)
        div = divergence_estimates(config, seed)
        w2_init: dict[tuple[str, int], float] = {}
        runs, means, rows = [], [], []
        for loss in config.losses:
            toys = config.toys_of(loss)
            members = [(t, seed + s) for t in toys for s in range(config.n_seeds)]
            mala = " and latent MALA" if loss.startswith("energy") else ""
            log.info(
                "B4: part 2, %s on %s: %d networks%s", loss, ", ".join(toys), len(members), mala
            )
            r = train_loss(config, loss, members, w2_init)
            runs.append(r)
            means += _means(config, r)
            rows += _rows(r, _means(config, r))
        log.info("B4: W2 floor (data vs data)")
        all_toys = sorted({t for loss in config.losses for t in config.toys_of(loss)})
        floor = tuple(
            W2Floor(toy, w2(
                sample_toy(toy, config.n_w2, config.sigma, np.random.default_rng(1)),
                sample_toy(toy, config.n_w2, config.sigma, np.random.default_rng(2)),
            ))
            for toy in all_toys
        )  # fmt: skip
    rows += [GanRow("data vs data (W2 floor)", f.toy, "", "", f"{f.w2:.3f}", "", "") for f in floor]
    headers = ("loss", "toy", "modes covered (mean over seeds)", "HQ % (within 4σ)",
               "W2 to data (POT emd2)", "W2 at init", "KL(mode hist ‖ uniform)")  # fmt: skip
    table = Table("", tuple(rows), headers)
    return Result(div, tuple(runs), tuple(means), floor, tables=(table,))


def check(result: Result, config: Config) -> list[Check]:
    """Gate: divergence sanity, W2 drops, WGAN-div coverage, div vs GP, MI term, latent MALA."""
    full = config.iterations >= 1000  # coverage and quality claims only after real training
    div = result.divergence
    spec = "reference run after 3000 it., width 128, batch 256: see the catalogue"
    checks = [
        at_most("|W_{2,6}(N(0,1), N(0,1))| estimate", abs(div[0].w_div), 0.05,
                article="= 0 iff P = Q"),
        at_least("min increment of the W_{2,6} estimate as |μ| grows",
                 min(b.w_div - a.w_div for a, b in itertools.pairwise(div)), 0.01,
                 article="a divergence: grows with the gap"),
    ]  # fmt: skip
    for loss in config.losses:
        if loss == "energy":
            continue  # the ablation without the anti-collapse term may fail on a seed
        for m in result.means_of(loss):
            checks.append(at_most(f"{loss} on {m.toy}: W2 to data / W2 at init (mean over seeds)",
                                  m.w2 / m.w2_init, 0.5 if full else 0.8))  # fmt: skip
    d8 = result.mean("wgan-div 1:1", "8gaussians")
    if full and d8:
        checks.append(at_least("WGAN-div 1:1, 8 Gaussians: modes covered (mean over seeds)",
                               d8.modes, 7.0, article=spec))  # fmt: skip
        checks.append(at_least("WGAN-div 1:1, 8 Gaussians: high-quality fraction (mean)", d8.hq,
                               0.4, article=spec))  # fmt: skip
    if full and result.means_of("wgan-div") and result.means_of("wgan-gp"):
        for d in result.means_of("wgan-div"):
            g = result.mean("wgan-gp", d.toy)
            assert g is not None
            checks.append(at_least(f"{d.toy}: modes WGAN-div − WGAN-GP, both {config.n_critic}:1 (mean)",
                                   d.modes - g.modes, -0.15 * d.n_modes,
                                   article="WGAN-div ≥ WGAN-GP (paper: FID)"))  # fmt: skip
            checks.append(at_most(f"{d.toy}: W2 WGAN-div / W2 WGAN-GP", d.w2 / g.w2, 1.25,
                                  article="WGAN-div ≥ WGAN-GP (paper: FID)"))  # fmt: skip
    if full and result.means_of("energy+MI") and result.means_of("energy"):
        for a in result.means_of("energy+MI"):
            e = result.mean("energy", a.toy)
            assert e is not None
            checks.append(at_least(f"{a.toy}: modes energy+MI − energy without MI term (mean)",
                                   a.modes - e.modes, 0.0,
                                   article="MI term is the anti-collapse force (reference: expect ≥)"))  # fmt: skip
    for r in result.losses:
        mala = r.mala
        if mala:
            checks.append(within(f"{r.loss}: latent MALA acceptance rate", mala[0].acceptance,
                                 0.01, 0.999))  # fmt: skip
            frac = float(np.mean([x.energy_after < x.energy_before for x in mala]))
            checks.append(at_least(f"{r.loss}: fraction of models whose latent MALA lowers mean V(z)",
                                   frac, 1.0, article="MCMC in z: a better truncation trick"))  # fmt: skip
            if full and r.loss == "energy+MI":
                gain = float(np.mean([x.hq_after - x.hq_before for x in mala]))
                checks.append(at_least(f"{r.loss}: HQ fraction after − before latent MALA (mean)",
                                       gain, 0.0, article="MCMC in z improves samples (MEG)"))  # fmt: skip
    return checks


def plot(result: Result) -> Figure:
    """Samples of the first seed per (loss, toy) over the data manifold; MALA samples if any."""
    panels: list[tuple[str, str, tuple[tuple[float, float], ...], str]] = []
    for r in result.losses:
        for mean in result.means_of(r.loss):
            m = next(x for x in r.members if x.toy == mean.toy)
            panels.append((f"{r.loss} / {m.toy}", m.toy, m.samples,
                           f"modes {m.modes}/{m.n_modes}, HQ {100 * m.hq:.0f}%, W2 {m.w2:.2f}"))  # fmt: skip
        for x in r.mala[:1]:
            panels.append((f"{r.loss} + latent MALA / {x.toy}", x.toy, x.samples,
                           f"HQ {100 * x.hq_before:.0f}% → {100 * x.hq_after:.0f}%"))  # fmt: skip
    cols = min(4, len(panels))
    nrows = -(-len(panels) // cols)
    fig = Figure(figsize=(3.2 * cols, 3.3 * nrows), layout="tight")
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, toy, samples, sub) in zip(axes.flat, panels, strict=False):
        ax.axis("on")
        pts = toy_curve(toy)[0]
        if toy == "spiral":
            ax.plot(pts[:, 0], pts[:, 1], "r-", lw=0.6)
        else:
            ax.plot(pts[:, 0], pts[:, 1], "r+", ms=6)
        s = np.asarray(samples)
        ax.scatter(s[:, 0], s[:, 1], s=2, alpha=0.5)
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[])
        ax.set_title(f"{title}\n{sub}", fontsize=8)
    return fig


def summary(result: Result) -> str:
    """Headline: modes / HQ / W2 per loss on 8 Gaussians (or its first toy)."""
    parts = []
    for r in result.losses:
        means = result.means_of(r.loss)
        m = next((x for x in means if x.toy == "8gaussians"), means[0])
        parts.append(f"{r.loss} ({m.toy}): {m.modes:.1f}/{m.n_modes} modes, "
                     f"HQ {100 * m.hq:.0f}%, W2 {m.w2:.3f}")  # fmt: skip
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
    notes=notes,
)
