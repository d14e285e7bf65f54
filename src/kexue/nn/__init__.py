"""Generic layers and diagnostics: smooth activations, initialisation, the variational bottleneck,
ODE-solver cells, RNN gradient diagnostics, loss-landscape smoothness probes.

Every public name is re-exported here flat (``from kexue.nn import ...``); each is defined in
one module of this package.
"""

from kexue.nn.bottleneck import (
    VariationalBottleneck,
    gaussian_kl_standard_normal,
    reparameterize,
)
from kexue.nn.init import (
    gaussian_second_moment,
    trunc_normal,
    trunc_normal_,
    trunc_normal_correction,
    truncated_normal_variance,
)
from kexue.nn.landscape import (
    Smoothness,
    effective_smoothness,
    hessian_max_eigenvalue,
)
from kexue.nn.ode_cells import (
    EulerCell,
    MidpointCell,
    ODESolverRNN,
    RK4Cell,
    integrate_fixed_step,
)
from kexue.nn.rnn_gradients import (
    StateJacobianProfile,
    loss_gradient_profile,
    state_jacobian_profile,
)
from kexue.nn.smooth import (
    SmoothLeakyReLU,
    SmoothReLU,
    smooth_abs,
    smooth_clip,
    smooth_floor,
    smooth_leaky_relu,
    smooth_max,
    smooth_min,
    smooth_relu,
    smooth_sign,
    smooth_step,
)

__all__ = [
    "EulerCell",
    "MidpointCell",
    "ODESolverRNN",
    "RK4Cell",
    "SmoothLeakyReLU",
    "SmoothReLU",
    "Smoothness",
    "StateJacobianProfile",
    "VariationalBottleneck",
    "effective_smoothness",
    "gaussian_kl_standard_normal",
    "gaussian_second_moment",
    "hessian_max_eigenvalue",
    "integrate_fixed_step",
    "loss_gradient_profile",
    "reparameterize",
    "smooth_abs",
    "smooth_clip",
    "smooth_floor",
    "smooth_leaky_relu",
    "smooth_max",
    "smooth_min",
    "smooth_relu",
    "smooth_sign",
    "smooth_step",
    "state_jacobian_profile",
    "trunc_normal",
    "trunc_normal_",
    "trunc_normal_correction",
    "truncated_normal_variance",
]
