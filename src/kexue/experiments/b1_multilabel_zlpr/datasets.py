"""B1 data: the reference run's synthetic multi-label set and the real WordNet lexicographer-file set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kexue.experiments.b1_multilabel_zlpr.protocol import Features

__all__ = ["WordnetInfo", "synthetic", "wordnet"]


@dataclass(frozen=True)
class WordnetInfo:
    """Size of the WordNet set: lemmas, labels, and labels per lemma (mean)."""

    n: int
    n_labels: int
    labels_per_lemma: float


def synthetic(
    n_samples: int, n_features: int, n_classes: int, n_labels: int, seed: int
) -> tuple[Features, np.ndarray]:
    """scikit-learn ``make_multilabel_classification``; log counts, standardised."""
    from sklearn.datasets import make_multilabel_classification

    x, y = make_multilabel_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        n_labels=n_labels,
        random_state=seed,
    )
    x = np.log1p(x)  # word counts -> log counts, then standardised
    x = ((x - x.mean(0)) / (x.std(0) + 1e-6)).astype(np.float32)
    return Features(x), y.astype(bool)


def wordnet(max_features: int) -> tuple[Features, np.ndarray, WordnetInfo]:
    """WordNet lemma -> lexicographer files; tf-idf of lemma character n-grams and gloss words."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    from kexue.data.wordnet import load_wordnet_lexnames

    ds = load_wordnet_lexnames(min_senses=2)
    kw: dict[str, Any] = {"max_features": max_features, "sublinear_tf": True}
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), dtype=np.float32, **kw)
    words = TfidfVectorizer(dtype=np.float32, **kw)
    x = sparse.hstack(
        [
            chars.fit_transform([w.replace("_", " ") for w in ds.lemmas]),
            words.fit_transform(ds.glosses),
        ]
    ).tocsr()
    info = WordnetInfo(
        n=len(ds.lemmas),
        n_labels=int(ds.labels.shape[1]),
        labels_per_lemma=float(ds.labels.sum(1).mean()),
    )
    return Features(x), ds.labels, info
