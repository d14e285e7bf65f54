"""A4 study 2: train Attention-O and Attention-E masked LMs at length 64, score them up to 1024.

Two identical RoPE encoders (Post-LN, character-level MLM on STS-B, :mod:`kexue.experiments._mlm`)
differ only in the attention scale, ``SoftmaxAttention(scale="standard")`` (O) or
``scale="entropy_invariant"`` (E); both score the *same* masked characters of the held-out test text
cut into windows of every test length, and their attention entropy is measured there too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from kexue.experiments._mlm import MaskedLM
    from kexue.experiments.a4_entropy_invariant_scale import Config

__all__ = ["LABEL", "SCALES", "LengthScore", "train_and_score"]

log = logging.getLogger(__name__)

SCALES = ("standard", "entropy_invariant")
LABEL = {"standard": "Attention-O (1/√d)", "entropy_invariant": "Attention-E (log₅₁₂n/√d)"}


@dataclass(frozen=True)
class LengthScore:
    """One scale's trained models scored at one test length.

    Attributes:
        scale: ``"standard"`` (O) or ``"entropy_invariant"`` (E).
        test_len: the window length n.
        accuracy: masked-token accuracy (%), mean over seeds.
        accuracy_runs: the accuracy (%) of each seed.
        loss: masked-token cross-entropy (nats), mean over seeds.
        entropy: mean attention entropy (nats) of the trained models, mean over seeds.
        entropy_init: the same at initialisation (first seed).
    """

    scale: str
    test_len: int
    accuracy: float
    accuracy_runs: tuple[float, ...]
    loss: float
    entropy: float
    entropy_init: float


def _model(scale: str, config: Config, vocab: int, seed: int) -> MaskedLM:
    from kexue.experiments._mlm import tiny_masked_lm
    from kexue.transformer.attention import SoftmaxAttention

    return tiny_masked_lm(
        vocab,
        hidden=config.hidden,
        layers=config.layers,
        heads=config.heads,
        max_len=config.train_len,
        attention=SoftmaxAttention(scale=scale),  # type: ignore[arg-type]
        seed=seed,  # both scales start from the same weights (and batches)
    )


def train_and_score(config: Config, seed: int) -> tuple[tuple[LengthScore, ...], tuple[float, ...]]:
    """Train O and E for every seed; their scores per test length (scale-major) and, per seed,
    ``drop_O - drop_E`` averaged over the lengths ≥ 256 (points)."""
    from kexue.experiments._mlm import (
        attention_maps,
        evaluate_mlm,
        mean_entropy,
        stsb_corpus,
        train_mlm,
    )

    corpus = stsb_corpus("char")
    lens = config.test_lens
    acc: dict[tuple[str, int], list[float]] = {(s, n): [] for s in SCALES for n in lens}
    loss: dict[tuple[str, int], list[float]] = {(s, n): [] for s in SCALES for n in lens}
    ent: dict[tuple[str, int], list[float]] = {(s, n): [] for s in SCALES for n in lens}
    ent_init: dict[tuple[str, int], float] = {}
    for i in range(config.seeds):
        run_seed = 1000 * seed + i
        for scale in SCALES:
            log.info("A4: training %s, seed %d/%d", scale, i + 1, config.seeds)
            model = _model(scale, config, corpus.vocab_size, run_seed)
            if i == 0:
                for n in lens:
                    ids = corpus.test[:n].view(1, n)
                    ent_init[scale, n] = mean_entropy(torch.stack(attention_maps(model, ids)))
            train_mlm(
                model,
                corpus.train,
                steps=config.steps,
                batch=config.batch,
                seq_len=config.train_len,
                lr=config.lr,
                seed=run_seed,
            )
            for n in lens:
                score = evaluate_mlm(model, corpus.test, seq_len=n, n_tokens=config.eval_tokens)
                acc[scale, n].append(100 * score.accuracy)
                loss[scale, n].append(score.loss)
                ids = corpus.test[: 2 * n].view(2, n)
                ent[scale, n].append(mean_entropy(torch.stack(attention_maps(model, ids))))

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    scores = tuple(
        LengthScore(
            s,
            n,
            accuracy=mean(acc[s, n]),
            accuracy_runs=tuple(acc[s, n]),
            loss=mean(loss[s, n]),
            entropy=mean(ent[s, n]),
            entropy_init=ent_init[s, n],
        )
        for s in SCALES
        for n in lens
    )
    long = [i for i, n in enumerate(lens) if n >= 256] or [len(lens) - 1]
    per_seed = []  # drop_O - drop_E averaged over n >= 256, one value per seed
    for r in range(config.seeds):
        gap = [acc["entropy_invariant", n][r] - acc["standard", n][r] for n in lens]
        per_seed.append(sum(gap[i] - gap[0] for i in long) / len(long))
    return scores, tuple(per_seed)
