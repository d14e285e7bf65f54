"""A5 — initialisation and parameterisation: truncated-normal variance, NTK, 1/√d, residual schemes.

Checks the article's constants (γ, the correction factor, E[sigmoid(z)²], the SELU constants;
stated in the catalogue record) from their formulas, then measures at initialisation: the std of
our relative-bound truncated normal vs torch's absolute-bound ``trunc_normal_``; attention
saturation with and without 1/√d and with T5-style init; NTK vs standard parameterisation under one
Adam step; and activation / gradient norms through residual stacks of depth 12–48 (alternating
attention and FFN sub-layers) under Post-Norm, Pre-Norm and ReZero, fed with scikit-learn's digits
(64 features = the width). With ``--long``, a masked LM is trained under each residual scheme.

Studies, one module each: :mod:`.constants`, :mod:`.saturation`, :mod:`.ntk_step`, :mod:`.depth`,
:mod:`.training`; the figure is drawn in :mod:`.figure`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kexue.experiments.a5_init_parameterisation.constants import (
    Constants,
    constant_checks,
    measure_constants,
)
from kexue.experiments.a5_init_parameterisation.depth import (
    DepthRow,
    GradientProfile,
    depth_sweep,
    digits_sequences,
)
from kexue.experiments.a5_init_parameterisation.figure import plot
from kexue.experiments.a5_init_parameterisation.ntk_step import NTKStep, ntk_vs_standard
from kexue.experiments.a5_init_parameterisation.saturation import (
    SaturationRow,
    attention_saturation,
)
from kexue.experiments.a5_init_parameterisation.training import (
    TrainingRecord,
    TrainingRow,
    compare_residual_schemes,
    training_notes,
)
from kexue.experiments.base import Check, Experiment, Table, at_least, at_most, within

__all__ = ["EXPERIMENT", "FULL", "LONG", "QUICK", "Config", "Result", "check", "plot", "run"]

log = logging.getLogger(__name__)

NTK_LR = 1e-2
POST_NORM_DEPTH = 24  # sub-layers: a 12-layer Transformer, where the article's 2^{-l/2} is read


@dataclass(frozen=True)
class Config:
    """Sizes: truncated-normal samples, residual-stack depths (sub-layers), seeds, sequences;
    the training comparison (``train_layers`` attention+FFN layers, 0 = not run)."""

    n_samples: int = 1_000_000
    depths: tuple[int, ...] = (12, 24, 48)
    seeds: int = 3
    n_seq: int = 32
    train_layers: int = 0
    train_steps: int = 1000
    alpha_warmup: int = 500  # steps of the scheduled α's 0 -> 1 ramp


QUICK = Config(
    n_samples=1_000_000, depths=(12, 24), seeds=1, n_seq=4, train_layers=2, train_steps=6,
    alpha_warmup=3,
)  # fmt: skip
FULL = Config()
LONG = Config(train_layers=12)


@dataclass(frozen=True)
class Result:
    """What :func:`run` measured.

    Attributes:
        config: the configuration that ran.
        constants: the constants by formula and the samplers' statistics.
        saturation: attention max-probability and Jacobian norm per head size and set-up.
        ntk: the NTK-vs-standard step.
        depth: the residual stacks, per scheme and depth.
        gradient_profiles: per-layer gradient norms of each stack (first seed).
        rezero_identity: whether every ReZero stack (α = 0) was exactly the identity.
        training: the training comparison (empty unless ``train_layers > 0``).
        training_unigram_loss: the context-free test loss of that corpus (``None`` if not run).
        tables: the depth sweep, the attention saturation and (if run) the training table.
    """

    config: Config
    constants: Constants
    saturation: tuple[SaturationRow, ...]
    ntk: NTKStep
    depth: tuple[DepthRow, ...]
    gradient_profiles: tuple[GradientProfile, ...]
    rezero_identity: bool
    training: tuple[TrainingRecord, ...]
    training_unigram_loss: float | None
    tables: tuple[Table, ...]

    def depth_row(self, scheme: str, depth: int) -> DepthRow:
        """The depth-sweep record of ``scheme`` at ``depth`` sub-layers."""
        return next(r for r in self.depth if r.scheme == scheme and r.depth == depth)


def _tables(
    config: Config,
    depth: tuple[DepthRow, ...],
    saturation: tuple[SaturationRow, ...],
    training: tuple[TrainingRecord, ...],
) -> tuple[Table, ...]:
    headers = (
        "scheme",
        "depth (sub-layers)",
        "log2 coef. on x0",
        "output RMS",
        "grad ratio last/first layer",
    )
    tables = [
        Table("Residual stacks at initialisation", depth, headers),
        Table(
            "Attention at initialisation, 64 keys",
            saturation,
            ("head size d", "set-up", "mean max probability", "softmax Jacobian norm"),
        ),
    ]
    if training:
        rows = tuple(
            TrainingRow(r.variant, r.test_loss, r.diverged_at, r.test_accuracy, r.train_loss_final)
            for r in training
        )
        title = (
            f"Training: {config.train_layers}-layer char-level MLM, {config.train_steps} steps, "
            f"scheduled α ramps 0→1 over {config.alpha_warmup} steps"
        )
        headers = (
            "set-up",
            "test MLM loss",
            "non-finite loss from step",
            "test accuracy",
            "final train loss",
        )
        tables.append(Table(title, rows, headers))
    return tuple(tables)


def run(config: Config, seed: int) -> Result:
    """Constants, sampler statistics, attention saturation, NTK step, residual depth sweep, and
    (``train_layers > 0``) the training comparison."""
    log.info("A5: constants and samplers (%d draws)", config.n_samples)
    constants = measure_constants(config.n_samples, seed)
    x0 = digits_sequences(config.n_seq)
    log.info("A5: residual stacks of depth %s", ", ".join(map(str, config.depths)))
    depth, profiles, identity = depth_sweep(x0, config.depths, config.seeds, seed)
    training: tuple[TrainingRecord, ...] = ()
    unigram = None
    if config.train_layers > 0:
        from kexue.experiments._mlm import stsb_corpus, unigram_loss

        training = compare_residual_schemes(
            layers=config.train_layers,
            steps=config.train_steps,
            alpha_warmup=config.alpha_warmup,
            seed=seed,
            eval_tokens=16384 if config.train_steps >= 100 else 1024,
        )
        unigram = unigram_loss(stsb_corpus("char").test)
    log.info("A5: attention saturation and the NTK step")
    saturation = attention_saturation(seed)
    return Result(
        config=config,
        constants=constants,
        saturation=saturation,
        ntk=ntk_vs_standard(x0.flatten(0, 1), NTK_LR, seed),  # every token a sample
        depth=depth,
        gradient_profiles=profiles,
        rezero_identity=identity,
        training=training,
        training_unigram_loss=unigram,
        tables=_tables(config, depth, saturation, training),
    )


def check(result: Result, config: Config) -> list[Check]:
    """Constants exact; sampler std; 1/√d needed; NTK step ≈ lr; Post-Norm 2^{-l/2}; Pre-Norm growth."""
    att = {(r.head_size, r.setup): r.max_prob for r in result.saturation}
    ntk, dmax, dmin = result.ntk, max(config.depths), min(config.depths)
    post, pre = result.depth_row("post_norm", dmax), result.depth_row("pre_norm", dmax)
    checks = constant_checks(result.constants)
    checks += [
        at_least("max attention prob, d=256, no 1/sqrt(d)", att[256, "no scale"], 0.8),
        at_least(
            "no-scale max prob rise, d=16 -> 256", att[256, "no scale"] - att[16, "no scale"], 0.2
        ),
        at_most("max attention prob, d=256, with 1/sqrt(d)", att[256, "1/sqrt(d)"], 0.5),
        at_most(
            "|T5 init - 1/sqrt(d)| max-prob, d=256",
            abs(att[256, "T5 init"] - att[256, "1/sqrt(d)"]),
            0.05,
        ),
        within(
            "NTK/standard output second moment",
            ntk.second_moment_ntk / ntk.second_moment_standard,
            0.9,
            1.1,
        ),
        within(
            "NTK: relative weight change after one Adam step / lr",
            ntk.rel_change_ntk / NTK_LR,
            0.9,
            1.1,
            article="≈1 (lr reads as relative change)",
        ),
        within(
            f"Post-Norm log2 coefficient on x0 at depth {POST_NORM_DEPTH}",
            result.depth_row("post_norm", POST_NORM_DEPTH).log2_coef_x0,
            -13.5,
            -9.0,
            article=f"-{POST_NORM_DEPTH // 2} (2^{{-l/2}})",
        ),
        at_least(
            "Pre-Norm output RMS growth, deepest / shallowest",
            pre.rms_out / result.depth_row("pre_norm", dmin).rms_out,
            1.2,
        ),
        at_most("Pre-Norm grad ratio last/first layer (deepest)", pre.grad_ratio_last_first, 1.0),
        at_least(
            "Post-Norm / Pre-Norm grad ratio (deepest)",
            post.grad_ratio_last_first / pre.grad_ratio_last_first,
            2.0,
        ),
        at_least("ReZero (alpha=0) is the identity at init", float(result.rezero_identity), 1.0),
    ]
    training = {r.scheme + ("+warm-up" if r.warmup else ""): r for r in result.training}
    if training:  # the scheduled α is reported, not gated: it diverges in the long run
        checks.append(
            at_least(
                "training: Post-LN, Pre-LN and ReZero losses finite (1 = yes)",
                float(all(r.finite for k, r in training.items() if k != "scheduled")),
                1.0,
            )
        )
    if training and config.train_steps >= 100 and result.training_unigram_loss is not None:
        checks.append(
            at_most(
                "training: Pre-LN without warm-up, test loss - unigram loss (left the plateau)",
                training["pre_norm"].test_loss - result.training_unigram_loss,
                -0.1,
                article="Pre-Norm trains without special care; Post-Norm needs warm-up",
            )
        )
    return checks


def summary(result: Result) -> str:
    """Headline constants and the Post-Norm coefficient."""
    c = result.constants
    post = [r for r in result.depth if r.scheme == "post_norm" and r.depth == POST_NORM_DEPTH]
    c24 = post[0].log2_coef_x0 if post else float("nan")
    text = (
        f"gamma={c.gamma:.7f}, factor={c.factor:.7f}; corrected std ratio "
        f"{c.std_ratio_corrected:.4f}; Post-Norm coef on x0 at depth {POST_NORM_DEPTH} = "
        f"2^{c24:.1f}"
    )
    if result.training:
        parts = ", ".join(
            f"{r.variant} {r.test_loss:.3f}"
            if r.diverged_at is None
            else f"{r.variant} diverged at step {r.diverged_at}"
            for r in result.training
        )
        text += f"; training test loss: {parts} (unigram {result.training_unigram_loss:.3f})"
    return text


def notes(result: Result) -> str:
    """How the measurements are defined, and the training comparison's outcome."""
    return (
        "Depth counts residual sub-layers (attention and FFN alternate), so depth "
        f"{POST_NORM_DEPTH} is a {POST_NORM_DEPTH // 2}-layer Transformer and the article's "
        f"2^{{-{POST_NORM_DEPTH // 2}}} applies. The x0 coefficient is the exact skip-path "
        "product of 1/σ of each LayerNorm (LN gains 1 at init). Gradient norms use a fixed random "
        "linear read-out; ReZero's branch weights get no gradient at α=0, so its column is the "
        "gradient of α. The training comparison (an optional check of the reference protocol): the A2 "
        "character-level MLM rebuilt from `ResidualBlock`s with LeCun truncated-normal init, "
        "AdamW lr 2e-3 with linear decay; Post-LN with and without a 10 % warm-up, Pre-LN, "
        "ReZero and the scheduled α (0→1, then frozen; no norm inside the blocks, a final "
        "LayerNorm as for Pre-LN). The article gives no numbers for it; gated are finiteness of "
        "Post-LN/Pre-LN/ReZero and Pre-LN leaving the unigram plateau. "
        + training_notes(result.training, result.training_unigram_loss, result.config)
    )


EXPERIMENT = Experiment(
    id="A5",
    title="Init and parameterisation: truncated normal, 1/√d, NTK, residual schemes at depth 12–48",
    quick=QUICK,
    full=FULL,
    long=LONG,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data="scikit-learn digits (1,797 × 64, standardised) as the residual stream's input; "
    "Gaussian samples for the samplers and the attention statistics; with ``--long`` the "
    "English STS-B sentences (shipped with kexue) for the training comparison",
    notes=notes,
)
