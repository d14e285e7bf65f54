r"""A4 — entropy-invariant attention scale: train a masked LM at length 64, test up to 1024.

1. **Entropy on the sphere** (no training): random :math:`q,k` on the sphere of radius
   :math:`\sqrt d`, :math:`d=64`; mean attention entropy for :math:`n=64\ldots4096` keys with the
   standard :math:`1/\sqrt d`, the entropy-invariant :math:`\log_{512}n/\sqrt d` and the article's
   Laplace-approximation scale :math:`\log n/(0.24\,d)`.
2. **Length generalisation.** Two identical RoPE encoders (Post-LN, 2 layers, 2 heads of size 32)
   are trained with a character-level masked LM on STS-B sentences at length 64, one with
   ``SoftmaxAttention(scale="standard")`` (Attention-O), one with ``scale="entropy_invariant"``
   (Attention-E). Both score the *same* masked characters of the held-out STS-B test text cut
   into windows of 64, 128, ..., 1024, giving the shape of the article's table; the attention
   entropy of the trained models is measured at every length as well.

The article's table is read from the catalogue record (:mod:`kexue.catalogue`), where it is stated.
Studies, one module each: :mod:`.sphere`, :mod:`.length`; :mod:`.article` reads the article's table
and :mod:`.figure` draws the figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kexue.experiments.a4_entropy_invariant_scale.article import article_accuracy, article_claims
from kexue.experiments.a4_entropy_invariant_scale.figure import plot
from kexue.experiments.a4_entropy_invariant_scale.length import (
    LABEL,
    LengthScore,
    train_and_score,
)
from kexue.experiments.a4_entropy_invariant_scale.sphere import SphereEntropy, sphere_entropy
from kexue.experiments.base import Check, Experiment, Table, at_least, at_most, within

__all__ = [
    "EXPERIMENT",
    "FULL",
    "LONG",
    "QUICK",
    "Config",
    "LengthRow",
    "LengthScore",
    "Result",
    "SphereEntropy",
    "check",
    "plot",
    "run",
    "summary",
]

IN_LENGTH_TOL = 5.0  # points: at this scale two runs already differ by several points at 64


@dataclass(frozen=True)
class Config:
    """Model/training sizes, test lengths, scored test characters, sphere-entropy sizes."""

    layers: int = 2
    hidden: int = 64
    heads: int = 2
    train_len: int = 64
    batch: int = 16
    steps: int = 800
    lr: float = 2e-3
    seeds: int = 2
    test_lens: tuple[int, ...] = (64, 128, 256, 512, 1024)
    eval_tokens: int = 16384
    sphere_ns: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096)
    sphere_queries: int = 128


QUICK = Config(
    layers=2,
    steps=8,
    test_lens=(64, 128, 256),
    eval_tokens=512,
    sphere_ns=(64, 512, 4096),
    sphere_queries=32,
)
FULL = Config()
LONG = Config(seeds=4)  # the accuracy gap is seed-sensitive: more seeds


@dataclass(frozen=True)
class LengthRow:
    """A row of the report's table: both scales (ours and the article's) at one test length."""

    test_len: int
    accuracy_o: float
    accuracy_e: float
    article_o: float | None
    article_e: float | None
    entropy_o: float
    entropy_e: float


@dataclass(frozen=True)
class Result:
    """What :func:`run` measured.

    Attributes:
        config: the configuration that ran.
        sphere: the sphere entropies, one record per number of keys.
        scores: the trained models' scores, per scale and test length (scale-major).
        drop_gain_per_seed: per seed, ``drop_O - drop_E`` averaged over the lengths ≥ 256, where
            ``drop_X(n) = acc_X(64) - acc_X(n)`` (points).
        tables: accuracy and entropy per test length.
    """

    config: Config
    sphere: tuple[SphereEntropy, ...]
    scores: tuple[LengthScore, ...]
    drop_gain_per_seed: tuple[float, ...]
    tables: tuple[Table, ...]

    def curve(self, scale: str, field: str) -> list[float]:
        """``field`` of ``scale``'s scores over the test lengths (``"accuracy"``, ``"entropy"``...)."""
        return [getattr(s, field) for s in self.scores if s.scale == scale]


def run(config: Config, seed: int) -> Result:
    """Sphere entropies; train O and E at length 64; accuracy and entropy at every test length."""
    scores, per_seed = train_and_score(config, seed)
    article = article_accuracy()
    by_key = {(x.scale, x.test_len): x for x in scores}
    rows = tuple(
        LengthRow(
            n,
            accuracy_o=by_key["standard", n].accuracy,
            accuracy_e=by_key["entropy_invariant", n].accuracy,
            article_o=article["standard"].get(n),
            article_e=article["entropy_invariant"].get(n),
            entropy_o=by_key["standard", n].entropy,
            entropy_e=by_key["entropy_invariant", n].entropy,
        )
        for n in config.test_lens
    )
    headers = (
        "test length n",
        "MLM acc % O (ours)",
        "MLM acc % E (ours)",
        "O (article)",
        "E (article)",
        "attention entropy O (nats)",
        "entropy E (nats)",
    )
    title = (
        f"Trained at {config.train_len}; O = {LABEL['standard']}, E = {LABEL['entropy_invariant']}"
    )
    return Result(
        config=config,
        sphere=sphere_entropy(config.sphere_ns, config.sphere_queries, seed),
        scores=scores,
        drop_gain_per_seed=tuple(per_seed),
        tables=(Table(title, rows, headers),),
    )


def _slope(ys: list[float], ns: list[int]) -> float:
    return (ys[-1] - ys[0]) / math.log(ns[-1] / ns[0])


def check(result: Result, config: Config) -> list[Check]:
    """Sphere entropy trend; trained entropy grows less with E; E loses less accuracy from 64 to
    ≥ 256 and is not behind there; comparable accuracy at 64."""
    ns = [s.n for s in result.sphere]
    sph = {k: [getattr(s, k) for s in result.sphere] for k in ("standard", "entropy_invariant")}
    laplace = [s.laplace for s in result.sphere]
    i512 = ns.index(512)
    checks = [
        at_most(
            "sphere: entropy slope per log n, E minus O",
            _slope(sph["entropy_invariant"], ns) - _slope(sph["standard"], ns),
            -0.1,
            article="O: 3.69→7.83, E: 3.95→7.47 for n = 64→4096 (reference run)",
        ),
        at_most(
            "sphere: |H_E - H_O| at n = 512",
            abs(sph["entropy_invariant"][i512] - sph["standard"][i512]),
            1e-9,
        ),
        at_most("sphere: |slope| with λ = log n/(0.24 d)", abs(_slope(laplace, ns)), 0.2),
    ]
    lens = list(config.test_lens)
    o_ent, e_ent = result.curve("standard", "entropy"), result.curve("entropy_invariant", "entropy")
    checks.append(
        at_most(
            f"trained: entropy growth {lens[0]}→{lens[-1]}, E minus O (nats)",
            (e_ent[-1] - e_ent[0]) - (o_ent[-1] - o_ent[0]),
            0.0,
        )
    )
    if config.steps >= 100:
        o_acc = result.curve("standard", "accuracy")
        e_acc = result.curve("entropy_invariant", "accuracy")
        gap = [ea - oa for ea, oa in zip(e_acc, o_acc, strict=True)]
        i64 = lens.index(64)
        long = [i for i, n in enumerate(lens) if n >= 256]
        # drop_X(n) = acc_X(64) - acc_X(n); drop_O - drop_E = gap(n) - gap(64)
        gain = sum(gap[i] - gap[i64] for i in long) / len(long)
        art_drops, art_gap, art_64 = article_claims(lens)
        checks += [
            at_least(
                f"degradation from 64, O minus E, mean over n ∈ {[lens[i] for i in long]} (points)",
                gain,
                1.0,
                article=art_drops,
            ),
            at_least(
                f"accuracy, E minus O, mean over n ∈ {[lens[i] for i in long]} (points)",
                sum(gap[i] for i in long) / len(long),
                0.0,
                article=art_gap,
            ),
            within(
                "accuracy at the training length 64, E minus O (points)",
                gap[i64],
                -IN_LENGTH_TOL,
                IN_LENGTH_TOL,
                article=art_64,
            ),
        ]
    return checks


def summary(result: Result) -> str:
    """Headline: accuracy at 64 and 256 for O vs E."""
    o, e = result.curve("standard", "accuracy"), result.curve("entropy_invariant", "accuracy")
    lens = list(result.config.test_lens)
    i = lens.index(256) if 256 in lens else len(lens) - 1
    art = article_accuracy()
    art_o, art_e = art["standard"].get(lens[i]), art["entropy_invariant"].get(lens[i])
    versus = f" (article {art_o:.2f} vs {art_e:.2f})" if art_o and art_e else ""
    gains = ", ".join(f"{g:+.1f}" for g in result.drop_gain_per_seed)
    return (
        f"MLM acc at 64: O {o[0]:.2f} % vs E {e[0]:.2f} %; at {lens[i]}: "
        f"O {o[i]:.2f} % vs E {e[i]:.2f} %{versus}; E loses {gains} points less per seed"
    )


def notes(result: Result) -> str:
    """Where the set-up departs from the article's, with this run's figures."""
    c = result.config
    gains = result.drop_gain_per_seed
    at_64 = [a for s in result.scores if s.test_len == 64 for a in s.accuracy_runs]
    spread = f"{max(at_64) - min(at_64):.1f}" if at_64 else "?"
    art_gain = article_claims(list(article_accuracy()["standard"]))[0].split(" ")[0]
    return (
        f"A character-level MLM on English STS-B ({c.layers} layers × hidden {c.hidden}, "
        f"{c.heads} heads of size {c.hidden // c.heads}, RoPE, {c.steps} steps of "
        f"{c.batch}×{c.train_len} characters, {c.seeds} seed(s)) stands in for the article's "
        "RoFormer-small on Chinese text; STS-B sentences average about 60 characters, so a window "
        "of n characters holds about n/60 unrelated sentences and longer windows add only "
        "distractors. Both models of a seed share initial weights and batches. Attention-E is "
        "bert4keras' softmax_plus form (n clipped below at 16), used in training and at test "
        "time, n = attended keys. At this scale the runs already differ at length 64 (how far "
        f"each got off the unigram plateau; here the {len(at_64)} runs span {spread} points), so "
        "the gate is on the article's qualitative claim measured against each model's own "
        "in-length accuracy: the drop from 64 to 256/512/1024 is smaller with E, by ≥ 1 point on "
        f"average over seeds (article: {art_gain} points; this run per seed: "
        f"{', '.join(f'{g:+.1f}' for g in gains)}, positive in "
        f"{sum(g > 0 for g in gains)}/{len(gains)} seeds); the in-length gap is only required "
        f"within ±{IN_LENGTH_TOL:g} points (reference: ±2). In pilots (one seed each) with 4 layers × "
        "4 heads of 16 (400 steps) and 2 layers × 4 heads of 16 (800 steps), E also degraded "
        "less at 512/1024 in every run, but by much less than with heads of size 32 (sharper "
        "attention); with head size 16 the curves nearly coincide up to 256. "
        "The sphere curves reproduce the reference run's measured numbers (entropy invariance needs "
        "κ ≈ 1/0.24; log₅₁₂ n only slows the growth). ``--long`` runs "
        f"{LONG.seeds} seeds (the README's long-run table)."
    )


EXPERIMENT = Experiment(
    id="A4",
    title="Entropy-invariant attention scale: MLM trained at 64, tested at 64…1024",
    quick=QUICK,
    full=FULL,
    long=LONG,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data="English STS-B sentences (shipped with kexue): train+dev for training, test held out; "
    "random vectors on the sphere for the entropy curves",
    notes=notes,
)
