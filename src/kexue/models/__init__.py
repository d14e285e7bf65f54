"""scikit-learn-style estimators and trainable systems.

Every public name is re-exported here flat (``from kexue.models import ...``); each is defined in
one module of this package.
"""

from kexue.models.analytic_classifier import (
    AnalyticLogisticRegression,
    SingularCovarianceWarning,
    analytic_softmax_regression,
)

__all__ = [
    "AnalyticLogisticRegression",
    "SingularCovarianceWarning",
    "analytic_softmax_regression",
]
