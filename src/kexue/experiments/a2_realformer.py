"""A2 — RealFormer vs Post-LN vs Pre-LN: a tiny masked LM trained from scratch on STS-B text.

Three encoders of identical size (3 layers — 4 with ``--long`` — hidden 64, 4 heads, RoPE positions) are trained with the
same data order and the same initial weights (Post-LN and RealFormer have exactly the same
parameters) on a character-level masked LM over the STS-B training sentences, and evaluated on the
held-out STS-B test sentences: masked-token cross-entropy and accuracy, for several seeds. The
attention maps of a test batch give the mean attention entropy (RealFormer is said to be sparser)
and the mean Jensen-Shannon divergence between adjacent layers (said to be more similar).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kexue.experiments.base import Check, Experiment, at_least, at_most

__all__ = ["EXPERIMENT", "FULL", "LONG", "QUICK", "Config", "check", "plot", "run", "summary"]

VARIANTS = ("Post-LN", "Pre-LN", "RealFormer")


@dataclass(frozen=True)
class Config:
    """Model and training sizes; ``seeds`` runs per variant; test tokens scored."""

    layers: int = 3
    hidden: int = 64
    heads: int = 4
    seq_len: int = 64
    batch: int = 16
    steps: int = 200
    lr: float = 2e-3
    seeds: int = 3
    eval_tokens: int = 16384
    margin: float = 0.05


QUICK = Config(layers=2, steps=12, seeds=1, eval_tokens=2048)
FULL = Config()
LONG = Config(layers=4, steps=300)


def _model(variant: str, config: Config, vocab: int) -> Any:
    from kexue.experiments._mlm import tiny_masked_lm
    from kexue.transformer.realformer import RealFormerAttention

    return tiny_masked_lm(
        vocab,
        hidden=config.hidden,
        layers=config.layers,
        heads=config.heads,
        max_len=config.seq_len,
        attention=RealFormerAttention() if variant == "RealFormer" else None,
        pre_norm=variant == "Pre-LN",
    )


def _js(p: torch.Tensor, q: torch.Tensor) -> float:
    """Mean Jensen-Shannon divergence (nats) between attention rows of two layers."""
    m = 0.5 * (p + q)

    def kl(a: torch.Tensor) -> torch.Tensor:
        return (torch.xlogy(a, a) - torch.xlogy(a, m)).sum(-1)

    return float((0.5 * kl(p) + 0.5 * kl(q)).mean())


def run(config: Config, seed: int) -> dict[str, Any]:
    """Train every variant for every seed; held-out MLM loss/accuracy and attention statistics."""
    from kexue.experiments._mlm import (
        attention_maps,
        evaluate_mlm,
        mean_entropy,
        stsb_corpus,
        train_mlm,
        unigram_loss,
    )

    corpus = stsb_corpus("char")
    unigram = unigram_loss(corpus.test)  # loss of a context-free predictor on test
    probe_ids = corpus.test[: 8 * config.seq_len].view(8, config.seq_len)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for s in range(config.seeds):
        run_seed = 1000 * seed + s
        for variant in VARIANTS:
            torch.manual_seed(run_seed)  # Post-LN and RealFormer start from identical weights
            model = _model(variant, config, corpus.vocab_size)
            losses = train_mlm(
                model,
                corpus.train,
                steps=config.steps,
                batch=config.batch,
                seq_len=config.seq_len,
                lr=config.lr,
                seed=run_seed,
            )
            ev = evaluate_mlm(
                model, corpus.test, seq_len=config.seq_len, n_tokens=config.eval_tokens
            )
            maps = attention_maps(model, probe_ids)
            tail = losses[-max(1, len(losses) // 10) :]
            runs[variant].append(
                {
                    "seed": run_seed,
                    "test_loss": ev["loss"],
                    "test_accuracy": ev["accuracy"],
                    "train_loss_final": sum(tail) / len(tail),
                    "finite": all(math.isfinite(x) for x in losses),
                    "entropy": mean_entropy(torch.stack(maps)),
                    "js_adjacent": sum(_js(a, b) for a, b in itertools.pairwise(maps))
                    / max(1, len(maps) - 1),
                    "curve": losses[:: max(1, config.steps // 60)],
                }
            )
    agg: dict[str, dict[str, float]] = {}
    for variant, rs in runs.items():
        agg[variant] = {}
        for key in ("test_loss", "test_accuracy", "entropy", "js_adjacent"):
            xs = torch.tensor([r[key] for r in rs], dtype=torch.float64)
            agg[variant][key] = float(xs.mean())
            agg[variant][key + "_std"] = float(xs.std()) if len(xs) > 1 else 0.0
    wins = sum(
        r["test_loss"] < p["test_loss"]
        for r, p in zip(runs["RealFormer"], runs["Post-LN"], strict=True)
    )
    rows = [
        [
            v,
            f"{agg[v]['test_loss']:.4f} ± {agg[v]['test_loss_std']:.4f}",
            f"{100 * agg[v]['test_accuracy']:.2f} ± {100 * agg[v]['test_accuracy_std']:.2f}",
            f"{agg[v]['entropy']:.3f}",
            f"{agg[v]['js_adjacent']:.4f}",
        ]
        for v in VARIANTS
    ]
    return {
        "runs": runs,
        "aggregate": agg,
        "unigram_loss": unigram,
        "realformer_wins_vs_postln": int(wins),
        "n_seeds": config.seeds,
        "curve_stride": max(1, config.steps // 60),
        "vocab_size": corpus.vocab_size,
        "table": {
            "columns": [
                "variant",
                "test MLM loss (mean ± sd)",
                "test accuracy % (mean ± sd)",
                "attention entropy",
                "JS adjacent layers",
            ],
            "rows": rows,
        },
    }


def check(metrics: dict[str, Any], config: Config) -> list[Check]:
    """Stable training; in FULL, RealFormer's mean held-out loss ≤ Post-LN's + margin, and its
    attention sparser and more alike across layers than Post-LN's."""
    agg, runs = metrics["aggregate"], metrics["runs"]
    finite = all(r["finite"] for rs in runs.values() for r in rs)
    worst = max(a["test_loss"] for a in agg.values())
    checks = [
        at_least("all training losses finite (1 = yes)", float(finite), 1.0),
        at_most("worst mean test loss vs log V (sanity)", worst, math.log(metrics["vocab_size"])),
    ]
    if config.steps >= 100:
        checks += [
            at_most(
                "every variant beats the context-free (unigram) loss: worst mean - unigram",
                worst - metrics["unigram_loss"],
                -0.1,
            ),
            at_most(
                "RealFormer minus Post-LN mean test MLM loss (nats)",
                agg["RealFormer"]["test_loss"] - agg["Post-LN"]["test_loss"],
                config.margin,
                article="RealFormer ≥ Post-LN ≥ Pre-LN on MLM (paper figures, no numbers in post)",
            ),
            at_most(
                "RealFormer minus Post-LN mean JS divergence of adjacent layers' attention",
                agg["RealFormer"]["js_adjacent"] - agg["Post-LN"]["js_adjacent"],
                0.0,
                article="attention more consistent across layers (paper figure)",
            ),
            at_most(
                "RealFormer minus Post-LN mean attention entropy (nats)",
                agg["RealFormer"]["entropy"] - agg["Post-LN"]["entropy"],
                0.0,
                article="sparser attention (paper figure)",
            ),
        ]
    return checks


def plot(metrics: dict[str, Any], path: Path) -> None:
    """Training-loss curves (mean over seeds) of the three variants."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for variant, rs in metrics["runs"].items():
        curves = torch.tensor([r["curve"] for r in rs])
        a = metrics["aggregate"][variant]
        ax.plot(
            torch.arange(curves.shape[1]).numpy() * metrics["curve_stride"],
            curves.mean(0).numpy(),
            label=f"{variant}: test loss {a['test_loss']:.3f}, acc {100 * a['test_accuracy']:.1f} %",
        )
    ax.axhline(metrics["unigram_loss"], color="grey", ls=":", label="unigram (test)")
    ax.set_xlabel("training step")
    ax.set_ylabel("masked-LM loss (nats)")
    ax.set_title(f"char-level MLM on STS-B, {metrics['n_seeds']} seed(s) per variant", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary(metrics: dict[str, Any]) -> str:
    """Headline: mean held-out MLM loss of the three variants."""
    a = metrics["aggregate"]
    parts = [f"{v} {a[v]['test_loss']:.3f}±{a[v]['test_loss_std']:.3f}" for v in VARIANTS]
    return (
        f"test MLM loss: {', '.join(parts)}; RealFormer < Post-LN in "
        f"{metrics['realformer_wins_vs_postln']}/{metrics['n_seeds']} seeds"
    )


EXPERIMENT = Experiment(
    id="A2",
    title="RealFormer vs Post-LN vs Pre-LN: tiny masked LM on STS-B text from scratch",
    quick=QUICK,
    full=FULL,
    long=LONG,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data="English STS-B sentences (shared/data/stsb): train+dev for training (≈0.87M characters), "
    "test held out (≈0.15M characters)",
    notes="Scale: 3 layers × hidden 64, 200 AdamW steps of 16×64 characters (``--long``: 4 "
    "layers, 300 steps), RoPE, no dropout, linear warm-up (5 %) and decay, lr 2e-3, 3 seeds; each "
    "seed uses the same initial weights and batches for all variants. Departures: character-level "
    "MLM instead of word pieces, and RoPE instead of learned absolute positions, because at this "
    "budget a word-piece MLM (and any model that has to learn its position table) stays on the "
    "unigram plateau, where the three variants are indistinguishable (measured: test loss 5.09–"
    "5.31 nats vs unigram 5.95, plateau escape decided by the seed). The ordering here is thus "
    "about how fast each variant leaves the plateau, not converged quality. Gates: RealFormer ≤ "
    "Post-LN + 0.05 nats in mean held-out loss, and lower attention entropy and adjacent-layer JS "
    "divergence than Post-LN (the article's sparser / more consistent attention); Pre-LN is "
    "reported, not gated. Measured with ``--long``: Post-LN 2.538 ± 0.101, Pre-LN 2.476 ± 0.099, "
    "RealFormer 2.307 ± 0.092 nats, RealFormer best in 3/3 seeds (≈2.5 min); at 150 steps the "
    "variants are still within 0.1 nats of the unigram loss. At lr 4e-3 Post-LN stayed longest "
    "on the plateau.",
)
