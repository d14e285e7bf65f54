"""scikit-learn-style estimators and trainable systems.

Every public name is re-exported here flat (``from kexue.models import ...``); each is defined in
one module of this package.
"""

from kexue.models.analytic_classifier import (
    AnalyticLogisticRegression,
    SingularCovarianceWarning,
    analytic_softmax_regression,
)
from kexue.models.expression import (
    MAX_BITS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    BracketNode,
    ChainNode,
    ExpressionError,
    ExpressionLimitError,
    ExpressionMathError,
    ExpressionNode,
    ExpressionSyntaxError,
    NumberNode,
    PercentNode,
    PowerNode,
    SignNode,
    SlotNode,
    answers_equal,
    evaluate,
    evaluate_node,
    format_expression,
    parse_expression,
)
from kexue.models.ode_fit import (
    ODEFit,
    competition_rhs,
    fit_ode,
    lotka_volterra_rhs,
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
    "MAX_BITS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "AnalyticLogisticRegression",
    "BracketNode",
    "ChainNode",
    "ExpressionError",
    "ExpressionLimitError",
    "ExpressionMathError",
    "ExpressionNode",
    "ExpressionSyntaxError",
    "NumberNode",
    "ODEFit",
    "PathKernelFit",
    "PercentNode",
    "PowerNode",
    "RopeShape",
    "SignNode",
    "SingularCovarianceWarning",
    "SlotNode",
    "Troposkein",
    "analytic_softmax_regression",
    "answers_equal",
    "catenary",
    "competition_rhs",
    "euler_lagrange_residuals",
    "evaluate",
    "evaluate_node",
    "fit_ode",
    "format_expression",
    "gradient_descent_path_kernel",
    "lotka_volterra_rhs",
    "parse_expression",
    "rope_bvp",
    "spinning_rope",
    "tangent_kernel",
    "troposkein",
]
