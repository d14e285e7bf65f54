"""Conformance cases for B8: the Gaussian KL to N(0, I), reparameterisation and the VIB layer."""

from __future__ import annotations

import torch

from kexue.nn.bottleneck import VariationalBottleneck, gaussian_kl_standard_normal, reparameterize

from .case import Args, BadInput, Case


def _moments(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(2, 4, 3, generator=g).to(dtype)
    return (mean, torch.randn(2, 4, 3, generator=g).to(dtype)), {}


def _vib_forward(x: torch.Tensor) -> torch.Tensor:
    """Eval-mode layer (z = mu) with fixed weights in the input's floating dtype."""
    dt = x.dtype if isinstance(x, torch.Tensor) and x.is_floating_point() else torch.float64
    with torch.random.fork_rng():
        torch.manual_seed(0)
        layer = VariationalBottleneck(5, 3, beta=0.1, dtype=dt).eval()
    return layer(x)


M, V = _moments(torch.float64)[0]
NAN = V.clone()
NAN[0, 0, 0] = float("nan")
X = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

MOMENT_BAD = [
    BadInput("shape", (M, V[..., :2]), {}, ValueError, "log_var"),
    BadInput("int", (M.long(), V), {}, TypeError, "mean"),
    BadInput("nan", (M, NAN), {}, ValueError, "log_var"),
    BadInput("scalar", (M[0, 0, 0], V[0, 0, 0]), {}, ValueError, "mean"),
]

CASES = [
    Case(
        name="gaussian_kl_standard_normal",
        fn=gaussian_kl_standard_normal,
        make_args=_moments,
        bad=[
            *MOMENT_BAD,
            BadInput("reduction", (M, V), {"reduction": "x"}, ValueError, "reduction"),
            BadInput("reduction-type", (M, V), {"reduction": None}, TypeError, "reduction"),
        ],
    ),
    Case(
        name="reparameterize",
        fn=reparameterize,
        make_args=lambda dtype: (
            _moments(dtype)[0],
            {"generator": torch.Generator().manual_seed(2)},
        ),
        bad=MOMENT_BAD,
    ),
    Case(
        name="VariationalBottleneck",
        fn=_vib_forward,
        make_args=lambda dtype: ((X.to(dtype),), {}),
        bad=[
            BadInput("int-x", (X.long(),), {}, TypeError, "x"),
            BadInput("last-dim", (X[:, :4],), {}, ValueError, "x"),
            BadInput("nan-x", (X / 0.0,), {}, ValueError, "x"),
        ],
    ),
]
