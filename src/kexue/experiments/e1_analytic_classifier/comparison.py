"""E1 study: analytic vs trained regression with few samples and with 70 % of the data.

Per data set: N = 4d training samples (digits: N = 2d, 4d, 8d, 16d, the accuracy curve), then 70 %
of the data with LDA and, optionally, logistic regression with C tuned by 3-fold cross-validation.
Seeds are ``base, base + 1, ...``; the protocol is :mod:`.protocol`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kexue.experiments.e1_analytic_classifier.protocol import (
    ANALYTIC,
    CS,
    LDA,
    LR1,
    MLE,
    TOTAL,
    TUNED,
    ScoreRow,
    models,
    protocol,
    score_rows,
    whiten,
)

__all__ = ["Comparison", "CurvePoint", "ModelAccuracy", "TunedC", "compare"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CurvePoint:
    """Digits test accuracy of one model at one training size (mean and sd over seeds)."""

    model: str
    n_train: int
    accuracy: float
    accuracy_sd: float


@dataclass(frozen=True)
class ModelAccuracy:
    """Mean test accuracy of one model."""

    model: str
    accuracy: float


@dataclass(frozen=True)
class TunedC:
    """The C that 3-fold cross-validation picked on one data set."""

    data: str
    c: float


@dataclass(frozen=True)
class Comparison:
    """The few-sample and full-data comparison.

    Attributes:
        rows: every (data, training size, model) score.
        tuned_c: the cross-validated C per data set (empty when not tuned).
        digits_few_analytic, digits_few_mle: digits accuracy at N = 2d, one per seed.
        digits_full: digits accuracy per model with 70 % of the data.
        curve: digits accuracy against training size, per model.
    """

    rows: tuple[ScoreRow, ...]
    tuned_c: tuple[TunedC, ...]
    digits_few_analytic: tuple[float, ...]
    digits_few_mle: tuple[float, ...]
    digits_full: tuple[ModelAccuracy, ...]
    curve: tuple[CurvePoint, ...]

    def full_accuracy(self, model: str) -> float:
        """Digits accuracy of ``model`` with 70 % of the data."""
        return next(m.accuracy for m in self.digits_full if m.model == model)


def compare(
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    names: Sequence[str],
    *,
    few_seeds: int,
    curve_multiples: Sequence[int],
    curve_seeds: int,
    full_seeds: int,
    tune_c: bool,
    base: int,
) -> Comparison:
    """Run the comparison on the data sets ``names`` (digits must be one of them)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, train_test_split

    rows: list[ScoreRow] = []
    curve: list[CurvePoint] = []
    tuned: list[TunedC] = []
    few_an: tuple[float, ...] = ()
    few_mle: tuple[float, ...] = ()
    digits_full: tuple[ModelAccuracy, ...] = ()
    few_models = models([ANALYTIC, TOTAL, MLE, LR1], 1.0)
    for name in names:
        log.info("E1: %s, few samples and 70 %% of the data", name)
        x, y = data[name]
        d = x.shape[1]
        mult = tuple(curve_multiples) if name == "digits" else (4,)
        for m in mult:
            few = m == mult[0]
            seeds = list(range(base, base + (few_seeds if few else curve_seeds)))
            res = protocol(x, y, m * d, seeds, few_models, whitened=True)
            rows += score_rows(name, m * d, res)
            if name == "digits":
                curve += [_point(k, m * d, v) for k, v in res.items()]
                if few:
                    few_an = tuple(float(a) for a in res[ANALYTIC][:, 0])
                    few_mle = tuple(float(a) for a in res[MLE][:, 0])
        compared = [ANALYTIC, TOTAL, LDA, MLE, LR1]
        c_tuned = 1.0
        if tune_c:
            xt, _, yt, _ = train_test_split(x, y, train_size=0.7, stratify=y, random_state=base)
            grid = GridSearchCV(LogisticRegression(), {"C": list(CS)}, cv=3)
            c_tuned = float(grid.fit(whiten(xt)[0], yt).best_params_["C"])
            tuned.append(TunedC(name, c_tuned))
            compared.append(TUNED)
        seeds = list(range(base, base + full_seeds))
        res = protocol(x, y, 0.7, seeds, models(compared, c_tuned), whitened=True)
        n_full = round(0.7 * len(y))
        rows += score_rows(name, n_full, res)
        if name == "digits":
            on_curve = {p.model for p in curve}
            curve += [_point(k, n_full, v) for k, v in res.items() if k in on_curve]
            digits_full = tuple(ModelAccuracy(k, float(v[:, 0].mean())) for k, v in res.items())
    return Comparison(tuple(rows), tuple(tuned), few_an, few_mle, digits_full, tuple(curve))


def _point(model: str, n_train: int, runs: np.ndarray) -> CurvePoint:
    return CurvePoint(model, n_train, float(runs[:, 0].mean()), float(runs[:, 0].std()))
