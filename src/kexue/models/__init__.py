"""scikit-learn-style estimators and trainable systems.

Every public name is re-exported here flat (``from kexue.models import ...``); each is defined in
one module of this package.
"""

from kexue.models.analytic_classifier import (
    AnalyticLogisticRegression,
    SingularCovarianceWarning,
    analytic_softmax_regression,
)
from kexue.models.path_kernel import (
    PathKernelFit,
    gradient_descent_path_kernel,
    tangent_kernel,
)
from kexue.models.rope_curve import (
    RopeShape,
    Troposkein,
    catenary,
    euler_lagrange_residuals,
    rope_bvp,
    spinning_rope,
    troposkein,
)

__all__ = [
    "AnalyticLogisticRegression",
    "PathKernelFit",
    "RopeShape",
    "SingularCovarianceWarning",
    "Troposkein",
    "analytic_softmax_regression",
    "catenary",
    "euler_lagrange_residuals",
    "gradient_descent_path_kernel",
    "rope_bvp",
    "spinning_rope",
    "tangent_kernel",
    "troposkein",
]
