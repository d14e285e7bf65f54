"""B1: multi-label ZLPR with the fixed threshold 0 vs sigmoid BCE at 0.5 and at a tuned threshold.

Article 7359 claims that the multi-label "softmax + cross-entropy" needs no threshold tuning and no
class weights: predict the classes with a positive score. We train the same linear model with the
ZLPR loss and with per-class sigmoid BCE (summed over classes, no weights) and compare micro/macro
F1 on a held-out split for (i) ZLPR at 0, (ii) BCE at probability 0.5, (iii) BCE at the global
threshold that maximises micro-F1 on a validation split (and, for reference, ZLPR at a tuned one).

Data: scikit-learn ``make_multilabel_classification(n_classes=200, n_labels=3, n_features=100)``
(the spec's acceptance check, gated) and, in the full run, the real WordNet lemma ->
lexicographer-file set (45 long-tailed labels; tf-idf of lemma character n-grams and gloss words).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kexue.experiments.base import Check, Experiment, at_least
from kexue.losses.multilabel import multilabel_categorical_crossentropy

__all__ = ["EXPERIMENT", "FULL", "QUICK", "Config", "check", "plot", "run", "summary"]

METHODS = ("ZLPR @ 0", "BCE @ 0.5", "BCE @ tuned", "ZLPR @ tuned")


@dataclass(frozen=True)
class Config:
    """Sizes of the B1 reproduction.

    Attributes:
        seeds: independent repetitions (data, split and initialisation), averaged.
        n_samples, n_classes, n_features, n_labels: ``make_multilabel_classification`` sizes.
        epochs, batch_size, lr: Adam training of the linear model (same for both losses).
        wordnet: also run the real WordNet lexicographer-file set (needs Debian wordnet-base).
        wordnet_features: tf-idf vocabulary size for each of lemma n-grams and gloss words.
        wordnet_epochs, wordnet_lr: Adam schedule on WordNet.
        margin: F1 that ZLPR @ 0 may lose to BCE @ 0.5 (synthetic gate).
        tuned_gap: F1 that ZLPR @ 0 may lose to BCE @ tuned (synthetic gate; spec: 1-2 points).
    """

    seeds: int = 3
    n_samples: int = 10000
    n_classes: int = 200
    n_features: int = 100
    n_labels: int = 3
    epochs: int = 15
    batch_size: int = 256
    lr: float = 1e-2
    wordnet: bool = True
    wordnet_features: int = 3000
    wordnet_epochs: int = 15
    wordnet_lr: float = 5e-2
    margin: float = 0.005
    tuned_gap: float = 0.02


QUICK = Config(seeds=1, n_samples=6000, epochs=6, lr=2e-2, wordnet=False)
FULL = Config()


def _f1(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Micro-F1 and macro-F1 (macro over the classes present in ``y``)."""
    tp = (pred & y).sum(0)
    fp = (pred & ~y).sum(0)
    fn = (~pred & y).sum(0)
    micro = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)
    present = y.any(0)
    macro = (2 * tp / np.maximum(2 * tp + fp + fn, 1))[present].mean()
    return float(micro), float(macro)


class _Data:
    """Features as a dense matrix or as a CSR bag (indices, offsets, weights) for embedding_bag."""

    def __init__(self, x: Any) -> None:
        self.dense = isinstance(x, np.ndarray)
        self.x = x

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def dim(self) -> int:
        return int(self.x.shape[1])

    def scores(self, rows: np.ndarray, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.dense:
            return torch.from_numpy(self.x[rows]) @ w + b
        sub = self.x[rows]
        idx = torch.from_numpy(sub.indices.astype(np.int64))
        off = torch.from_numpy(sub.indptr[:-1].astype(np.int64))
        wts = torch.from_numpy(sub.data)
        return F.embedding_bag(idx, w, off, mode="sum", per_sample_weights=wts) + b


def _train(data: _Data, y: np.ndarray, rows: np.ndarray, loss: str, sched: tuple[int, float],
           config: Config, seed: int) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    epochs, lr = sched
    gen = torch.Generator().manual_seed(seed)
    w = (torch.randn(data.dim(), y.shape[1], generator=gen) * 0.01).requires_grad_()
    b = torch.zeros(y.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        perm = rng.permutation(rows)
        for k in range(0, len(perm), config.batch_size):
            batch = np.sort(perm[k : k + config.batch_size])
            s = data.scores(batch, w, b)
            t = torch.from_numpy(y[batch]).to(s.dtype)
            if loss == "zlpr":
                value = multilabel_categorical_crossentropy(s, t)
            else:  # independent sigmoids, summed over classes like ZLPR, no class weights
                value = F.binary_cross_entropy_with_logits(s, t, reduction="none").sum(-1).mean()
            opt.zero_grad()
            value.backward()
            opt.step()
    return w.detach(), b.detach()


def _best_threshold(scores: np.ndarray, y: np.ndarray, grid: np.ndarray) -> float:
    f1s = [_f1(scores > t, y)[0] for t in grid]
    return float(grid[int(np.argmax(f1s))])


def _evaluate(
    data: _Data, y: np.ndarray, config: Config, sched: tuple[int, float], seed: int
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(data))
    n_tr, n_va = int(0.6 * len(perm)), int(0.2 * len(perm))
    tr, va, te = perm[:n_tr], perm[n_tr : n_tr + n_va], perm[n_tr + n_va :]
    out: dict[str, Any] = {}
    p_grid = np.linspace(0.02, 0.98, 49)
    for loss in ("zlpr", "bce"):
        w, b = _train(data, y, tr, loss, sched, config, seed)
        with torch.no_grad():
            s_va = data.scores(np.sort(va), w, b).numpy()
            s_te = data.scores(np.sort(te), w, b).numpy()
        y_va, y_te = y[np.sort(va)], y[np.sort(te)]
        if loss == "zlpr":  # score grid; sigma(2s) is ZLPR's implied probability
            grid = 0.5 * np.log(p_grid / (1 - p_grid))
            out["ZLPR @ 0"] = (*_f1(s_te > 0, y_te), 0.0)
            thr = _best_threshold(s_va, y_va, grid)
            out["ZLPR @ tuned"] = (*_f1(s_te > thr, y_te), 1 / (1 + math.exp(-2 * thr)))
        else:
            grid = np.log(p_grid / (1 - p_grid))
            out["BCE @ 0.5"] = (*_f1(s_te > 0, y_te), 0.5)
            thr = _best_threshold(s_va, y_va, grid)
            out["BCE @ tuned"] = (*_f1(s_te > thr, y_te), 1 / (1 + math.exp(-thr)))
    return out


def _synthetic(config: Config, seed: int) -> tuple[_Data, np.ndarray]:
    from sklearn.datasets import make_multilabel_classification

    x, y = make_multilabel_classification(
        n_samples=config.n_samples,
        n_features=config.n_features,
        n_classes=config.n_classes,
        n_labels=config.n_labels,
        random_state=seed,
    )
    x = np.log1p(x)  # word counts -> log counts, then standardised
    x = ((x - x.mean(0)) / (x.std(0) + 1e-6)).astype(np.float32)
    return _Data(x), y.astype(bool)


def _wordnet(config: Config) -> tuple[_Data, np.ndarray, dict[str, float]]:
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    from kexue.data.wordnet import load_wordnet_lexnames

    ds = load_wordnet_lexnames(min_senses=2)
    kw: dict[str, Any] = {"max_features": config.wordnet_features, "sublinear_tf": True}
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), dtype=np.float32, **kw)
    words = TfidfVectorizer(dtype=np.float32, **kw)
    x = sparse.hstack(
        [
            chars.fit_transform([w.replace("_", " ") for w in ds.lemmas]),
            words.fit_transform(ds.glosses),
        ]
    ).tocsr()
    info = {"n": float(len(ds.lemmas)), "labels_per_lemma": float(ds.labels.sum(1).mean())}
    return _Data(x), ds.labels, info


def _aggregate(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    agg = {}
    for m in METHODS:
        vals = np.array([r[m] for r in runs])  # (seeds, 3)
        agg[m] = {
            "micro_f1": float(vals[:, 0].mean()),
            "micro_f1_std": float(vals[:, 0].std()),
            "macro_f1": float(vals[:, 1].mean()),
            "threshold_prob": float(vals[:, 2].mean()),
        }
    return agg


def run(config: Config, seed: int) -> dict[str, Any]:
    """Train both losses on each data set for ``config.seeds`` seeds; F1 on the test splits."""
    torch.set_num_threads(1)
    seeds = [seed + i for i in range(config.seeds)]
    results: dict[str, Any] = {}
    syn = []
    for s in seeds:
        data, y = _synthetic(config, s)
        syn.append(_evaluate(data, y, config, (config.epochs, config.lr), s))
    results["synthetic"] = _aggregate(syn)
    results["synthetic_per_seed"] = syn
    if config.wordnet:
        data, y, info = _wordnet(config)
        sched = (config.wordnet_epochs, config.wordnet_lr)
        wn = [_evaluate(data, y, config, sched, s) for s in seeds]
        results["wordnet"] = _aggregate(wn)
        results["wordnet_per_seed"] = wn
        results["wordnet_info"] = info
    rows = []
    for name in ("synthetic", "wordnet"):
        if name in results:
            for m in METHODS:
                r = results[name][m]
                rows.append([name, m, round(r["micro_f1"], 4), round(r["macro_f1"], 4),
                             round(r["threshold_prob"], 3)])  # fmt: skip
    results["table"] = {
        "columns": ["data", "method", "micro-F1", "macro-F1", "threshold (prob.)"],
        "rows": rows,
    }
    return results


def check(metrics: dict[str, Any], config: Config) -> list[Check]:
    """ZLPR @ 0 is not worse than BCE @ 0.5 and within ``tuned_gap`` of BCE @ tuned (synthetic)."""
    syn = metrics["synthetic"]
    z = syn["ZLPR @ 0"]["micro_f1"]
    return [
        at_least(
            "synthetic micro-F1: ZLPR@0 - BCE@0.5",
            z - syn["BCE @ 0.5"]["micro_f1"],
            -config.margin,
            article="no threshold tuning needed; matches tuned binary classification",
        ),
        at_least(
            "synthetic micro-F1: ZLPR@0 - BCE@tuned",
            z - syn["BCE @ tuned"]["micro_f1"],
            -config.tuned_gap,
            article="spec: within ~1-2 points of a tuned threshold",
        ),
    ]


def plot(metrics: dict[str, Any], path: Path) -> None:
    """Grouped bars: micro- and macro-F1 of the four decision rules, per data set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [n for n in ("synthetic", "wordnet") if n in metrics]
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 3.6), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        xs = np.arange(len(METHODS))
        micro = [metrics[name][m]["micro_f1"] for m in METHODS]
        macro = [metrics[name][m]["macro_f1"] for m in METHODS]
        ax.bar(xs - 0.2, micro, 0.4, label="micro-F1")
        ax.bar(xs + 0.2, macro, 0.4, label="macro-F1")
        ax.set_xticks(xs, METHODS, rotation=20, fontsize=8)
        ax.set_title(f"B1 ZLPR vs BCE: {name}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary(metrics: dict[str, Any]) -> str:
    """One line: micro-F1 of the three decision rules."""
    parts = []
    for name in ("synthetic", "wordnet"):
        if name in metrics:
            r = metrics[name]
            parts.append(
                f"{name}: ZLPR@0 {r['ZLPR @ 0']['micro_f1']:.3f}, BCE@0.5 "
                f"{r['BCE @ 0.5']['micro_f1']:.3f}, BCE@tuned {r['BCE @ tuned']['micro_f1']:.3f}"
            )
    return "micro-F1 " + "; ".join(parts)


EXPERIMENT: Experiment[Config] = Experiment(
    id="B1",
    title="Multi-label ZLPR at threshold 0 vs sigmoid BCE at 0.5 and at a tuned threshold",
    quick=QUICK,
    full=FULL,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data=(
        "scikit-learn make_multilabel_classification(200 classes, 3 labels, 100 features); "
        "full run also WordNet 3.0 lemma -> 45 lexicographer files (Debian wordnet-base)"
    ),
    notes=(
        "Linear model, Adam, same schedule for both losses; BCE is summed over classes with no "
        "class weights. Thresholds tuned on a 20% validation split for global micro-F1; macro-F1 "
        "over classes present in the test split. The gated check is the spec's synthetic set "
        "(1.5% positives: BCE@0.5 predicts almost nothing, ZLPR@0 equals BCE@tuned). The real "
        "WordNet variant (4.8% positives) is reported, not gated: there ZLPR@0 trails BCE@0.5 by "
        "about 1.7 micro-F1 points (2.8 macro) and BCE@tuned by 2.5, so the claim does not carry "
        "over to this moderately imbalanced set. The WordNet part needs Debian wordnet-base."
    ),
)
