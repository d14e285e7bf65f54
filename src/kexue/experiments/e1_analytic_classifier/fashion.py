"""E1 study: Fashion-MNIST (Debian ``dataset-fashion-mnist``), when it is installed.

1,000-image stratified training subsets on raw and whitened pixels, and the analytic solution on
all 60,000 images. Without the package the study records why and the check is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kexue.experiments.e1_analytic_classifier.protocol import (
    ANALYTIC,
    LR1,
    MLE,
    ScoreRow,
    evaluate,
    models,
    score_rows,
)

__all__ = ["FashionMnist", "fashion_mnist"]

RAW, WHITENED = "fashion_mnist (raw pixels)", "fashion_mnist (whitened)"


@dataclass(frozen=True)
class FashionMnist:
    """What the Fashion-MNIST study found.

    Attributes:
        status: ``"ok"``, or ``"unavailable: ..."`` naming the package that installs the data.
        rows: scores on the subsets (raw and whitened) and, when run, on the full training set.
        full_accuracy: the analytic solution's test accuracy trained on all 60,000 images.
    """

    status: str
    rows: tuple[ScoreRow, ...] = ()
    full_accuracy: float | None = None

    @property
    def subset_size(self) -> int:
        """The training-subset size."""
        return min(r.n_train for r in self.rows)

    def accuracy(self, data: str, model: str) -> float:
        """Mean accuracy of ``model`` on the subsets of ``data`` (:data:`RAW` or :data:`WHITENED`)."""
        key = (data, model, self.subset_size)
        return next(r.accuracy for r in self.rows if (r.data, r.model, r.n_train) == key)

    def finding(self) -> str:
        """What the subsets show, in words, with the measured accuracies."""
        if self.status != "ok":
            return f"Fashion-MNIST was not run ({self.status})."
        n, trained = self.subset_size, (MLE, LR1)
        raw_an, white_an = self.accuracy(RAW, ANALYTIC), self.accuracy(WHITENED, ANALYTIC)
        raw_tr = max(self.accuracy(RAW, m) for m in trained)
        white_tr = max(self.accuracy(WHITENED, m) for m in trained)
        beats = "beats" if raw_tr > raw_an else "does not beat"
        hurts = all(
            self.accuracy(WHITENED, m) < self.accuracy(RAW, m) for m in (ANALYTIC, *trained)
        )
        reverses = (raw_tr > raw_an) != (white_tr > white_an)
        return (
            "On raw Fashion-MNIST pixels the pooled covariance is singular (constant border "
            "pixels), so the estimator falls back to Ledoit-Wolf shrinkage; there, with "
            f"N = {n}, trained regression {beats} the analytic solution (best trained "
            f"{raw_tr:.3f} vs analytic {raw_an:.3f}), while whitening with {n}-sample statistics "
            f"{'hurts every model' if hurts else 'does not hurt every model'} and "
            f"{'reverses' if reverses else 'keeps'} the order (analytic {white_an:.3f} vs best "
            f"trained {white_tr:.3f})."
        )


def fashion_mnist(n_train: int, seeds: int, full: bool, seed: int) -> FashionMnist:
    """Analytic vs trained regression on ``seeds`` subsets of ``n_train`` images (and on all)."""
    from kexue.data.fashion_mnist import DEBIAN_PACKAGE, available, load_fashion_mnist

    if not available():
        return FashionMnist(f"unavailable: install the Debian package {DEBIAN_PACKAGE}")
    xtr, ytr = load_fashion_mnist("train")
    xte, yte = load_fashion_mnist("test")
    xtr, xte = xtr.reshape(len(xtr), -1) / 255.0, xte.reshape(len(xte), -1) / 255.0
    rng = np.random.default_rng(seed)
    rows: list[ScoreRow] = []
    makers = models([ANALYTIC, MLE, LR1], 1.0)
    for whitened in (False, True):
        runs: dict[str, list[list[float]]] = {}
        for _ in range(seeds):
            per_class = [
                rng.choice(np.flatnonzero(ytr == c), n_train // 10, False) for c in range(10)
            ]
            idx = np.concatenate(per_class)
            res = evaluate(makers, (xtr[idx], xte, ytr[idx], yte), whitened)
            for k, v in res.items():
                runs.setdefault(k, []).append(v)
        tag = WHITENED if whitened else RAW
        rows += score_rows(tag, n_train, {k: np.asarray(v) for k, v in runs.items()})
    if not full:
        return FashionMnist("ok", tuple(rows))
    res = evaluate(models([ANALYTIC], 1.0), (xtr, xte, ytr, yte), False)
    rows += score_rows(RAW, len(xtr), {ANALYTIC: np.asarray([res[ANALYTIC]])})
    return FashionMnist("ok", tuple(rows), res[ANALYTIC][0])
