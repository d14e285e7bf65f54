"""E1 study protocol: data, whitening, the models compared, and one evaluation per split.

Every model is fitted on whitened inputs (training statistics) except scikit-learn's LDA, which is
affine-invariant and gets the raw ones; accuracy, log-loss and single-threaded fit time are
recorded per split and summarised per (data, training size, model) as a :class:`ScoreRow`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from kexue.experiments.base import num_threads
from kexue.models.analytic_classifier import AnalyticLogisticRegression, SingularCovarianceWarning

__all__ = [
    "ANALYTIC",
    "CS",
    "LDA",
    "LR1",
    "MLE",
    "MLE_C",
    "TOTAL",
    "TUNED",
    "ScoreRow",
    "datasets",
    "evaluate",
    "models",
    "protocol",
    "score_rows",
    "single_threaded",
    "whiten",
]

MLE_C = 1e6  # "MLE": an unregularised fit, as the article's plain Dense layer
CS = (0.01, 0.1, 1.0, 10.0, 100.0)
ANALYTIC, TOTAL, LDA, MLE, LR1, TUNED = (
    "analytic",
    "analytic, total Σ (author's code)",
    "LDA (sklearn lsqr)",
    "MLE (LR C=1e6)",
    "LR C=1",
    "LR tuned C",
)

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, x_test, y_train, y_test


@dataclass(frozen=True)
class ScoreRow:
    """One model on one data set and training size, over seeds (a row of the report's table)."""

    data: str
    n_train: int
    model: str
    accuracy: float
    accuracy_sd: float
    log_loss: float
    fit_ms: float
    seeds: int


@contextmanager
def single_threaded() -> Iterator[None]:
    """Single-threaded torch and BLAS, so fit times compare like with like on a shared machine."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with num_threads(1), threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # lbfgs stops at max_iter=100
        warnings.simplefilter("ignore", SingularCovarianceWarning)  # recorded in shrinkage_
        yield


def whiten(train: np.ndarray, *others: np.ndarray, tol: float = 1e-10) -> list[np.ndarray]:
    """Whiten with training statistics: (x - mean) / sd, then U Λ^{-1/2} of the correlation matrix.

    Standardising first makes the rank cut-off ``tol`` scale-free; directions of ~zero variance
    (constant pixels, N < d) are dropped.
    """
    mean, sd = train.mean(0), train.std(0)
    live = sd > 0
    ev, u = np.linalg.eigh(np.corrcoef(train[:, live], rowvar=False).reshape(live.sum(), -1))
    keep = ev > tol * ev.max()
    t = u[:, keep] / np.sqrt(ev[keep]) / sd[live][:, None]
    return [(a[:, live] - mean[live]) @ t for a in (train, *others)]


class _TotalCovariance:
    """The author's code: after whitening, w_i = μ_i, b_i = log p_i − |μ_i|²/2 (Σ = total = I)."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> _TotalCovariance:
        self.classes_ = np.unique(y)
        means = np.stack([x[y == c].mean(0) for c in self.classes_])
        prior = np.array([np.mean(y == c) for c in self.classes_])
        self.w, self.b = means.T, np.log(prior) - 0.5 * (means**2).sum(1)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import softmax

        return np.asarray(softmax(x @ self.w + self.b, axis=1))


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's breast_cancer, wine, iris and digits, constant features dropped."""
    from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

    out = {}
    for name, loader in (
        ("breast_cancer", load_breast_cancer),
        ("wine", load_wine),
        ("iris", load_iris),
        ("digits", load_digits),
    ):
        x, y = loader(return_X_y=True)
        out[name] = (x[:, x.std(0) > 0].astype(np.float64), y)  # digits: 61 non-constant pixels
    return out


def models(names: Sequence[str], c_tuned: float) -> dict[str, Callable[[], Any]]:
    """Factories of the named models (``c_tuned`` is the C of :data:`TUNED`)."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression

    makers: dict[str, Callable[[], Any]] = {
        ANALYTIC: AnalyticLogisticRegression,
        TOTAL: _TotalCovariance,
        LDA: lambda: LinearDiscriminantAnalysis(solver="lsqr"),
        MLE: lambda: LogisticRegression(C=MLE_C),
        LR1: lambda: LogisticRegression(C=1.0),
        TUNED: lambda: LogisticRegression(C=c_tuned),
    }
    return {k: makers[k] for k in names}


def evaluate(
    makers: dict[str, Callable[[], Any]], split: Split, whitened: bool
) -> dict[str, list[float]]:
    """Accuracy, log-loss and fit seconds of each model on one split (whitened with train stats)."""
    from sklearn.metrics import log_loss

    xtr, xte, ytr, yte = split
    wtr, wte = whiten(xtr, xte) if whitened else (xtr, xte)
    out = {}
    for name, make in makers.items():
        a, b = (xtr, xte) if name == LDA else (wtr, wte)  # LDA is affine-invariant: raw inputs
        start = time.perf_counter()
        model = make().fit(a, ytr)
        seconds = time.perf_counter() - start
        proba = model.predict_proba(b)
        acc = float(np.mean(model.classes_[proba.argmax(1)] == yte))
        out[name] = [acc, float(log_loss(yte, proba, labels=model.classes_)), seconds]
    return out


def protocol(
    x: np.ndarray,
    y: np.ndarray,
    n_train: int | float,
    seeds: Sequence[int],
    makers: dict[str, Callable[[], Any]],
    whitened: bool,
) -> dict[str, np.ndarray]:
    """Stratified splits of ``n_train`` training samples, one per seed: (seeds, [acc, loss, s])."""
    from sklearn.model_selection import train_test_split

    runs: dict[str, list[list[float]]] = {}
    for s in seeds:
        split = train_test_split(x, y, train_size=n_train, stratify=y, random_state=s)
        for name, row in evaluate(makers, tuple(split), whitened).items():
            runs.setdefault(name, []).append(row)
    return {k: np.asarray(v) for k, v in runs.items()}


def score_rows(data: str, n_train: int, runs: dict[str, np.ndarray]) -> list[ScoreRow]:
    """One :class:`ScoreRow` per model from :func:`protocol`'s runs."""
    return [
        ScoreRow(
            data=data,
            n_train=n_train,
            model=k,
            accuracy=float(v[:, 0].mean()),
            accuracy_sd=float(v[:, 0].std()),
            log_loss=float(v[:, 1].mean()),
            fit_ms=float(1e3 * v[:, 2].mean()),
            seeds=len(v),
        )
        for k, v in runs.items()
    ]
