r"""D3 — Johnson–Lindenstrauss: bounds, distortion on real sentence vectors, SimHash, randomised SVD.

Follows the acceptance check of the D3 spec, in four studies:

- :mod:`.bounds`: the article's bound $24\ln N/\varepsilon^2$ against scikit-learn's; a Monte-Carlo
  of the unit-norm lemma; the all-pairs claim on N Gaussian points over seeds;
- :mod:`.text`: distortion vs target dimension on TF-IDF vectors of STS-B sentences (Gaussian and
  sparse projections, against the bound and the exact $\chi^2_n/n$ law);
- :mod:`.lsh`: SimHash, the article's sign-cosine vs the corrected $\cos(\pi h)$, and the estimate's
  error vs code length on STS-B sentence pairs;
- :mod:`.rsvd`: randomised SVD on digits against exact SVD, scikit-learn and Halko's bound, and the
  article's JL sketch on a synthetic rank-10 + noise matrix.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from matplotlib.figure import Figure

from kexue.experiments.base import Check, Experiment, Table, num_threads
from kexue.experiments.d3_johnson_lindenstrauss import bounds as bounds_study
from kexue.experiments.d3_johnson_lindenstrauss import lsh as lsh_study
from kexue.experiments.d3_johnson_lindenstrauss import rsvd as rsvd_study
from kexue.experiments.d3_johnson_lindenstrauss import text as text_study
from kexue.experiments.d3_johnson_lindenstrauss.bounds import (
    Bounds,
    LemmaRow,
    SyntheticRow,
    dimension_bounds,
    synthetic_pairs,
    unit_norm_lemma,
)
from kexue.experiments.d3_johnson_lindenstrauss.lsh import (
    AngleRow,
    SentencePairRow,
    lsh_angles,
    lsh_sentence_pairs,
)
from kexue.experiments.d3_johnson_lindenstrauss.rsvd import (
    DigitsRsvd,
    SketchRow,
    digits_rsvd,
    jl_sketch,
)
from kexue.experiments.d3_johnson_lindenstrauss.text import (
    HEADERS,
    TextDistortion,
    load_stsb_tfidf,
    text_distortion,
)

__all__ = ["EXPERIMENT", "FULL", "QUICK", "Config", "Result", "load_stsb_tfidf"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config:
    """Sizes of the D3 reproduction."""

    bound_eps: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
    lemma_dims: tuple[int, ...] = (64, 256, 1024)
    lemma_eps: float = 0.2
    lemma_draws: int = 10_000
    synth_points: int = 80  # spec: N = 200 points in D = 2000
    synth_dim: int = 800
    synth_eps: tuple[float, ...] = (0.5,)
    synth_runs: int = 10
    text_points: int = 100  # STS-B sentences for the distortion curve
    text_dims: tuple[int, ...] = (64, 512)
    text_runs: int = 3
    lsh_bits: int = 1024
    lsh_pairs: int = 40  # random pairs per angle
    lsh_real_pairs: int = 200  # STS-B sentence pairs
    lsh_real_bits: tuple[int, ...] = (64, 256, 1024)
    halko_runs: int = 10
    sketch_ks: tuple[int, ...] = (50,)
    sketch_runs: int = 2


QUICK = Config()
FULL = Config(
    lemma_draws=100_000,
    synth_points=200,
    synth_dim=2000,
    synth_eps=(0.3, 0.5),
    synth_runs=20,
    text_points=300,
    text_dims=(32, 64, 128, 256, 512, 1024, 2048),
    text_runs=10,
    lsh_pairs=100,
    lsh_real_pairs=1000,
    lsh_real_bits=(64, 128, 256, 512, 1024, 2048, 4096),
    halko_runs=30,
    sketch_ks=(20, 50, 100, 200),
    sketch_runs=4,
)


@dataclass(frozen=True)
class Result:
    """What the D3 run measured, one field per study (see the study modules for the records)."""

    bounds: Bounds
    lemma: tuple[LemmaRow, ...]
    synthetic: tuple[SyntheticRow, ...]
    text: TextDistortion
    lsh_angles: tuple[AngleRow, ...]
    lsh_sentences: tuple[SentencePairRow, ...]
    digits: DigitsRsvd
    sketch: tuple[SketchRow, ...]
    tables: tuple[Table, ...]

    def angle(self, degrees: float) -> AngleRow:
        """The SimHash record at ``degrees``."""
        return next(r for r in self.lsh_angles if r.degrees == degrees)


def run(config: Config, seed: int) -> Result:
    """The four studies; each draws from its own seeded generators (see the module docstring).

    Runs single-threaded: its matrices are small (at most 2000 x 2000), so intra-op threads bring
    no speed-up, and on a shared machine they oversubscribe the cores (measured 7-10x slower with
    2 threads on 2 busy cores).
    """
    with num_threads(1):
        return _measure(config, seed)


def _measure(config: Config, seed: int) -> Result:
    c = config
    log.info("D3: STS-B TF-IDF vectors")
    tfidf, pairs = load_stsb_tfidf()
    log.info("D3: distortion of %d sentences at %d dimensions", c.text_points, len(c.text_dims))
    text = text_distortion(tfidf, c.text_points, c.text_dims, c.text_runs, seed)
    log.info("D3: bounds, unit-norm lemma, %d Gaussian points", c.synth_points)
    bound = dimension_bounds(c.bound_eps)
    lemma = unit_norm_lemma(c.lemma_dims, c.lemma_eps, c.lemma_draws, seed)
    synthetic = synthetic_pairs(c.synth_points, c.synth_dim, c.synth_eps, c.synth_runs, seed)
    log.info("D3: SimHash on random and STS-B pairs")
    angles = lsh_angles(c.lsh_bits, c.lsh_pairs, seed)
    sentences = lsh_sentence_pairs(tfidf, pairs, c.lsh_real_pairs, c.lsh_real_bits, seed)
    log.info("D3: randomised SVD on digits and the JL sketch")
    digits = digits_rsvd(c.halko_runs, seed)
    sketch = jl_sketch(c.sketch_ks, c.sketch_runs, seed)
    title = f"STS-B TF-IDF, N = {text.points} sentences: squared-distance distortion |ratio - 1|"
    return Result(
        bounds=bound,
        lemma=lemma,
        synthetic=synthetic,
        text=text,
        lsh_angles=angles,
        lsh_sentences=sentences,
        digits=digits,
        sketch=sketch,
        tables=(Table(title, text.rows, HEADERS),),
    )


def check(result: Result, config: Config) -> list[Check]:
    """The spec's acceptance checks: bounds, real-data distortion, SimHash, randomised SVD."""
    r = result
    return [
        *bounds_study.checks(r.bounds, r.lemma, r.synthetic, config.lemma_draws),
        *text_study.checks(r.text),
        *lsh_study.checks(r.lsh_angles, r.lsh_sentences),
        *rsvd_study.checks(r.digits, r.sketch),
    ]


def summary(result: Result) -> str:
    """One line: distortion at the largest dimension, SimHash at 45°, rSVD on digits."""
    last = result.text.rows[-1]
    a45 = result.angle(45.0)
    eps = last.eps_24_bound if last.eps_24_bound is not None else math.nan
    return (
        f"STS-B TF-IDF (N={result.text.points}): Gaussian n={last.dim} "
        f"max dev {last.gauss_max_dev_median:.3f} (24-bound eps {eps:.3f}); LSH 45° cos(πh) "
        f"{a45.cos_pi_h:.3f} vs sign-cos {a45.sign_cos:.3f} (true {a45.cos:.3f}); rSVD digits SV "
        f"error {result.digits.sv_rel_err_exact:.1e}"
    )


def _values(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def plot(result: Result) -> Figure:
    """Distortion vs dimension on STS-B, SimHash error vs code length, sketch reconstructions."""
    fig = Figure(figsize=(15, 4.2), layout="tight")
    axes = fig.subplots(1, 3)
    ax, rows = axes[0], result.text.rows
    n = [r.dim for r in rows]
    ax.loglog(
        n,
        [r.gauss_max_dev_median for r in rows],
        "o-",
        label="Gaussian: max |ratio-1| (median run)",
    )
    ax.loglog(
        n, [r.sparse_max_dev_median for r in rows], "s-", label="sparse (1/√D): max |ratio-1|"
    )
    ax.loglog(n, [r.gauss_mean_dev for r in rows], "^-", label="Gaussian: mean |ratio-1|")
    ax.loglog(n, [r.chi2_mean_dev for r in rows], "k:", label="χ²ₙ/n mean |dev| (exact)")
    ax.loglog(n, _values([r.eps_24_bound for r in rows]), "k--", label="ε of 24 ln N/ε² bound")
    ax.loglog(n, _values([r.eps_sklearn for r in rows]), "k-.", label="ε of sklearn bound")
    ax.set(
        xlabel="target dimension n",
        ylabel="squared-distance distortion",
        title=f"STS-B TF-IDF, N={result.text.points} sentences",
    )
    ax.legend(fontsize=7)
    ax, pairs = axes[1], result.lsh_sentences
    bits = [p.bits for p in pairs]
    ax.loglog(bits, [p.rmse for p in pairs], "o-", label="cos(πh) RMSE (STS-B pairs)")
    ax.loglog(bits, [p.theory for p in pairs], "k--", label="delta-method theory")
    ax.loglog(bits, [p.sign_cos_bias for p in pairs], "s-", label="sign-cos mean |error| (article)")
    ax.set(xlabel="code length (bits)", ylabel="cosine error", title="SimHash cosine estimate")
    ax.legend(fontsize=7)
    ax, sketch = axes[2], result.sketch
    k = [s.k for s in sketch]
    ax.semilogy(k, [s.literal for s in sketch], "o-", label="article: U_B Σ_B (Q V_B)ᵀ")
    ax.semilogy(k, [s.fixed for s in sketch], "s-", label="V = Mᵀ U_B Σ_B⁻¹")
    ax.semilogy(k, [s.halko for s in sketch], "^-", label="Halko range finder")
    ax.semilogy(k, [s.optimal for s in sketch], "k--", label="optimal rank 10")
    ax.semilogy(k, [s.sv_rel_err for s in sketch], "d-", label="Σ_B top-10 max rel. error")
    ax.set(xlabel="sketch size k", ylabel="relative error", title="rank-10 + noise, 500×2000")
    ax.legend(fontsize=7)
    return fig  # fmt: skip


def notes(result: Result) -> str:
    """Where the reproduction departs from the article and the spec; measured figures from the run."""
    low = min(result.bounds.rows, key=lambda r: r.ratio)
    noisy = max(result.lsh_angles, key=lambda r: r.se)
    text = result.text
    var_ratios = [r.sparse_var_ratio for r in text.rows]
    beyond = [
        r.dim
        for r in text.rows
        if r.eps_24_bound is not None and r.sparse_max_dev_median > r.eps_24_bound
    ]
    worst = (
        f"its worst distortion (median run) exceeds the 24-bound's ε at n = "
        f"{', '.join(map(str, beyond))}"
        if beyond
        else "its worst distortion (median run) still stays within the 24-bound's ε"
    )
    return (
        "LSH: the article reads the cosine of sign codes as cos θ; it estimates 1 - 2θ/π, so the "
        "library's estimator is cos(πh) (h = Hamming fraction); both are shown. rSVD: the article's "
        "reconstruction U_B Σ_B (QV_B)^T is shown to be poor (QQ^T ≈ I only in expectation); the "
        "library uses Halko's range finder (oversampling 10, 4 QR-normalised power iterations). "
        "Spec check 1 asks the 24-bound/sklearn ratio in [2.3, 3.2] for ε in [0.1, 0.5], but the "
        f"ratio is 3 - 2ε up to rounding ({low.ratio:.2f} at ε = {low.eps}, as in the reference run's own "
        "measured table), so the gate is [1.95, 3.2]. The LSH angle checks average cos(πh) over "
        f"random pairs (one pair at {noisy.bits} bits has standard error {noisy.se:.3f} at "
        f"{noisy.degrees:.0f}°, too close to the {lsh_study.TOLERANCE} tolerance). Real data: MiniLM "
        "sentence vectors are not used (no encoder dependency); TF-IDF vectors of STS-B sentences "
        "are (only the vocabulary columns the sampled sentences use enter the projection, which "
        "leaves the distances' distribution unchanged; sparse density is 1/√vocabulary). The "
        "optional head-size fitting curve is not run; the head-size rule is checked as arithmetic. "
        "Finding beyond the article: the very sparse projection (density 1/√vocabulary) on sparse "
        f"TF-IDF vectors has {text.sparse_variance_factor:.1f}× the Gaussian variance, as Li et "
        "al.'s formula (2 + (1/s - 3)κ)/n predicts (κ = Σv⁴/‖v‖⁴ of the difference vectors; "
        f"measured / predicted {min(var_ratios):.2f}–{max(var_ratios):.2f}), so {worst}; the "
        "Gaussian projection follows the exact χ²ₙ/n law."
    )


EXPERIMENT = Experiment(
    id="D3",
    title="JL random projections keep all pairwise distances; SimHash and randomised SVD corrected",
    quick=QUICK,
    full=FULL,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data=(
        "TF-IDF vectors of the STS-B train sentences (shipped with kexue.data) and their gold "
        "pairs; scikit-learn digits (1797×64); iid Gaussian points and a synthetic rank-10 + noise "
        "matrix"
    ),
    notes=notes,
)
