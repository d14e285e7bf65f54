"""D2 reproduction: the closed-form Gaussian KL / Bhattacharyya / W2 against independent estimates.

The article (https://kexue.fm/archives/8512) derives the three closed forms and shows that the two
circulating W2 formulas (``sqrt(S_p C_q S_p)`` and the "Fréchet" ``sqrt(C_p C_q)``) are equal; it
has no experiments. We check each closed form against something computed another way, in three
studies:

- :mod:`.references`: torch's ``kl_divergence``, scipy ``sqrtm`` for both W2 versions, POT's
  Bures–Wasserstein distance and the commuting-covariance formula, on random pairs;
- :mod:`.sampling`: Monte-Carlo estimates of BD and KL, the 1-D quantile-coupling optimal transport
  between 1e5 samples and exact 2-D discrete transport;
- :mod:`.digits`: the W2 (Fréchet distance) on real data: rank-deficient covariances of 20 digits
  images, and random halves vs digit classes of scikit-learn's digits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from kexue.experiments.base import Check, Experiment, Table, at_least, at_most
from kexue.experiments.d2_gaussian_distances.digits import DigitsFrechet, digits_frechet
from kexue.experiments.d2_gaussian_distances.references import (
    ReferenceComparison,
    compare_with_references,
)
from kexue.experiments.d2_gaussian_distances.sampling import (
    MonteCarlo,
    Transport,
    monte_carlo,
    transport,
)

__all__ = ["EXPERIMENT", "FULL", "QUICK", "Comparison", "Config", "Result"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config:
    """Sizes of the comparisons.

    Attributes:
        dim: dimension of the random Gaussian pairs.
        n_pairs: how many random pairs are compared with the reference formulas.
        mc_samples: Monte-Carlo samples for the KL and Bhattacharyya estimates.
        quantile_samples: samples per distribution for the 1-D transport estimate.
        ot_samples: samples per distribution for the 2-D exact transport (``ot.emd2``) estimate.
        rank_deficient_n: digits images behind each rank-deficient covariance.
        n_splits: random half/half splits of the digits for the sanity check.
    """

    dim: int = 5
    n_pairs: int = 50
    mc_samples: int = 1_000_000
    quantile_samples: int = 100_000
    ot_samples: int = 2000
    rank_deficient_n: int = 20
    n_splits: int = 10


QUICK = Config(n_pairs=10, mc_samples=200_000, ot_samples=1000, n_splits=2)
FULL = Config()


@dataclass(frozen=True)
class Comparison:
    """One row of the report: a closed form (or a gap) beside its estimate or reference."""

    quantity: str
    closed_form: float
    estimate: str


@dataclass(frozen=True)
class Result:
    """What the D2 run measured: one record per study, and the report's table."""

    references: ReferenceComparison
    monte_carlo: MonteCarlo
    transport: Transport
    digits: DigitsFrechet
    tables: tuple[Table, ...]


def _table(ref: ReferenceComparison, mc: MonteCarlo, tr: Transport, dg: DigitsFrechet) -> Table:
    last = mc.final
    rows = (
        Comparison("KL closed vs torch kl_divergence (max rel)", ref.kl_vs_torch_rel, "-"),
        Comparison("KL closed vs Monte-Carlo", mc.kl_closed, f"{last.kl:.4f} ± {last.kl_se:.4f}"),
        Comparison("BD closed vs Monte-Carlo", mc.bd_closed, f"{last.bd:.4f} ± {last.bd_se:.4f}"),
        Comparison("W2² version 1 vs version 2 (max rel)", ref.w2_version1_vs_version2_rel, "-"),
        Comparison("W2² ours vs POT² (max rel)", ref.w2_ours_vs_pot_rel, "-"),
        Comparison("W2² commuting formula (max rel)", ref.w2_commuting_rel, "-"),
        Comparison("1-D W2 closed vs quantile OT", tr.w2_1d_closed, f"{tr.w2_1d_quantile_ot:.4f}"),
        Comparison("2-D W2² closed vs ot.emd2", tr.w2sq_2d_closed, f"{tr.w2sq_2d_emd:.4f}"),
        Comparison(
            f"digits rank-{dg.rank} W2²: ours vs scipy sqrtm",
            dg.rank_deficient_w2sq,
            f"{dg.scipy_sqrtm_w2sq:.4f} (imag {dg.scipy_sqrtm_imag:.2g})",
        ),
        Comparison(
            "FD random halves vs closest classes", dg.fd_halves_mean, f"{min(dg.fd_classes):.2f}"
        ),
    )
    return Table("", rows, ("quantity", "closed form (ours)", "estimate / reference"))


def run(config: Config, seed: int) -> Result:
    """Compare every closed form with its independent estimate; see the module docstring."""
    gen = torch.Generator().manual_seed(seed)  # one stream, studies in this order
    log.info("D2: closed forms vs references on %d random pairs", config.n_pairs)
    ref = compare_with_references(config.n_pairs, config.dim, gen)
    log.info("D2: Monte-Carlo with %d samples", config.mc_samples)
    mc = monte_carlo(config.n_pairs, config.dim, config.mc_samples, gen)
    log.info("D2: optimal transport between samples")
    tr = transport(config.quantile_samples, config.ot_samples, gen)
    log.info("D2: Fréchet distances on digits")
    dg = digits_frechet(config.rank_deficient_n, config.n_splits, gen)
    return Result(ref, mc, tr, dg, tables=(_table(ref, mc, tr, dg),))


def check(result: Result, config: Config) -> list[Check]:
    """Gate each closed form against its independent estimate."""
    ref, mc, tr, dg = result.references, result.monte_carlo, result.transport, result.digits
    last = mc.final
    return [
        at_most("KL closed form vs torch kl_divergence, max rel. error", ref.kl_vs_torch_rel, 1e-10),
        at_most("|BD closed - Monte-Carlo| / standard error", abs(mc.bd_closed - last.bd) / last.bd_se,
                3.0, article="no experiments (closed form only)"),
        at_most("|KL closed - Monte-Carlo| / standard error", abs(mc.kl_closed - last.kl) / last.kl_se, 3.0),
        at_most("W2² version 1 vs version 2 (scipy sqrtm), max rel.", ref.w2_version1_vs_version2_rel,
                1e-10, article="the two formulas are equal"),
        at_most("W2² ours (eigvalsh) vs version 1, max rel.", ref.w2_ours_vs_version1_rel, 1e-10),
        at_most("W2² ours vs POT bures_wasserstein_distance², max rel.", ref.w2_ours_vs_pot_rel, 1e-10),
        at_most("W2² commuting formula vs general, max rel.", ref.w2_commuting_rel, 1e-12),
        at_most("1-D W2 vs quantile OT on 1e5 samples, rel.",
                abs(tr.w2_1d_quantile_ot / tr.w2_1d_closed - 1), 0.01),
        at_most("2-D W2² vs exact OT between samples, rel.", abs(tr.w2sq_2d_emd / tr.w2sq_2d_closed - 1), 0.15),
        at_least("rank-deficient digits W2² (finite, real, >= 0)", dg.rank_deficient_w2sq, 0.0),
        at_least("... and in float32", dg.rank_deficient_w2sq_float32, 0.0),
        at_most("FD(random halves) / min FD(two digit classes)", dg.fd_halves_mean / min(dg.fd_classes), 0.1),
    ]  # fmt: skip


def plot(result: Result) -> Figure:
    """Monte-Carlo convergence to the closed forms, and Fréchet distances on digits."""
    mc, dg = result.monte_carlo, result.digits
    n = [p.samples for p in mc.path]
    fig = Figure(figsize=(11, 4), layout="tight")
    ax1, ax2 = fig.subplots(1, 2)
    for est, se, closed, name, col in (
        ([p.bd for p in mc.path], [p.bd_se for p in mc.path], mc.bd_closed, "Bhattacharyya", "C0"),
        ([p.kl for p in mc.path], [p.kl_se for p in mc.path], mc.kl_closed, "KL(p‖q)", "C1"),
    ):
        err = [e - closed for e in est]
        band = [3 * s for s in se]
        ax1.fill_between(
            n, [-b for b in band], band, color=col, alpha=0.15, label=f"{name}: ± 3 s.e."
        )
        ax1.plot(n, err, "o-", color=col, label=f"{name}: MC − closed form ({closed:.4f})")
    ax1.axhline(0, color="k", lw=0.8)
    ax1.set(xscale="log", xlabel="Monte-Carlo samples", ylabel="estimate − closed form (nats)")
    ax1.set_title("d = 5 Gaussians: Monte-Carlo converges to the closed forms")
    ax1.legend(fontsize=7)
    classes = sorted(dg.fd_classes)
    ax2.bar(range(len(classes)), classes, color="0.6", label="two digit classes (45 pairs)")
    ax2.bar([-2], [dg.fd_halves_mean], color="C3", label=f"random halves ({dg.fd_halves_mean:.1f})")
    ax2.set(yscale="log", ylabel="Fréchet distance W2²", title="scikit-learn digits (64-d)")
    ax2.set_xticks([])
    ax2.legend(fontsize=8)
    return fig


def summary(result: Result) -> str:
    """One line: our headline figures."""
    ref, mc, dg = result.references, result.monte_carlo, result.digits
    return (
        f"BD {mc.bd_closed:.4f} vs MC {mc.final.bd:.4f}±{mc.final.bd_se:.4f}; W2² v1/v2/POT agree "
        f"to {max(ref.w2_version1_vs_version2_rel, ref.w2_ours_vs_pot_rel):.1g}; "
        f"digits FD halves {dg.fd_halves_mean:.1f} vs classes ≥ {min(dg.fd_classes):.0f}"
    )


EXPERIMENT = Experiment(
    id="D2",
    title="Closed-form Gaussian KL / Bhattacharyya / W2 vs torch, scipy, POT, Monte-Carlo and OT",
    quick=QUICK,
    full=FULL,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data="random SPD Gaussians (seeded); scikit-learn digits (1,797 8×8 images, bundled)",
    notes=(
        "The article has no experiments, so each closed form is checked against an independent "
        "computation. W2 uses eigvalsh of L_p^T C_q L_p (no complex sqrtm) and accepts singular "
        "covariances; the digits covariances are singular even on all images (always-blank pixels)."
    ),
)
