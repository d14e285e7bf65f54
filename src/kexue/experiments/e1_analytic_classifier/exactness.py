"""E1 study: the closed form is LDA exactly, and whitening the inputs changes no prediction.

Without shrinkage the analytic softmax regression's weights must equal scikit-learn's LDA (lsqr)
coefficients; with a full-rank covariance its probabilities must not depend on an affine
whitening of the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kexue.experiments.e1_analytic_classifier.protocol import whiten
from kexue.models.analytic_classifier import AnalyticLogisticRegression

__all__ = ["Exactness", "LdaGap", "WhiteningGap", "exactness"]


@dataclass(frozen=True)
class LdaGap:
    """Max relative gap of the weights and intercepts to scikit-learn's LDA on one data set."""

    data: str
    coef_rel: float
    intercept_rel: float


@dataclass(frozen=True)
class WhiteningGap:
    """Max |Δ probability| between fits on raw and on whitened inputs, on one data set."""

    data: str
    max_dproba: float


@dataclass(frozen=True)
class Exactness:
    """The LDA identity and the whitening invariance, per data set."""

    lda: tuple[LdaGap, ...]
    whitening: tuple[WhiteningGap, ...]

    @property
    def max_lda_rel(self) -> float:
        """The largest relative gap to LDA, weights or intercepts."""
        return max(max(g.coef_rel, g.intercept_rel) for g in self.lda)

    @property
    def max_whitening_dproba(self) -> float:
        """The largest probability change from whitening."""
        return max(g.max_dproba for g in self.whitening)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def exactness(data: dict[str, tuple[np.ndarray, np.ndarray]]) -> Exactness:
    """LDA identity on breast_cancer, wine, digits; whitening invariance on breast_cancer, wine, iris."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    lda = []
    for name in ("breast_cancer", "wine", "digits"):
        x, y = data[name]
        ours = AnalyticLogisticRegression(shrinkage=0.0).fit(x, y)
        ref = LinearDiscriminantAnalysis(solver="lsqr").fit(x, y)
        lda.append(LdaGap(name, _rel(ours.coef_, ref.coef_), _rel(ours.intercept_, ref.intercept_)))
    gaps = []
    for name in ("breast_cancer", "wine", "iris"):  # whitening invariance (full-rank Σ)
        x, y = data[name]
        (z,) = whiten(x)
        p_raw = AnalyticLogisticRegression(shrinkage=0.0).fit(x, y).predict_proba(x)
        p_white = AnalyticLogisticRegression(shrinkage=0.0).fit(z, y).predict_proba(z)
        gaps.append(WhiteningGap(name, float(np.abs(p_raw - p_white).max())))
    return Exactness(tuple(lda), tuple(gaps))
