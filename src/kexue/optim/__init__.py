"""Optimisation: wrappers around torch.optim optimisers, gradient clipping, estimators and optimiser dynamics.

Every public name is re-exported here flat (``from kexue.optim import ...``); each is defined in
one module of this package.
"""

from kexue.optim.accumulation import (
    GradientAccumulation,
)
from kexue.optim.clipping import (
    CLIP_MODES,
    GradientClipper,
    clip_coefficient,
    clip_grad_norm_,
    clip_gradients,
)
from kexue.optim.lazy import (
    LazyRows,
)
from kexue.optim.lookahead import (
    Lookahead,
)
from kexue.optim.param_groups import (
    layer_lr_factors,
    param_groups,
)
from kexue.optim.sampling_search import (
    SampledMove,
    boltzmann_move,
    mle_guided_move,
)
from kexue.optim.schedules import (
    PiecewiseLinearLR,
    piecewise_linear,
)
from kexue.optim.zeroth_order import (
    GradientEstimate,
    policy_gradient,
    zeroth_order_gradient,
)

__all__ = [
    "CLIP_MODES",
    "GradientAccumulation",
    "GradientClipper",
    "GradientEstimate",
    "LazyRows",
    "Lookahead",
    "PiecewiseLinearLR",
    "SampledMove",
    "boltzmann_move",
    "clip_coefficient",
    "clip_grad_norm_",
    "clip_gradients",
    "layer_lr_factors",
    "mle_guided_move",
    "param_groups",
    "piecewise_linear",
    "policy_gradient",
    "zeroth_order_gradient",
]
