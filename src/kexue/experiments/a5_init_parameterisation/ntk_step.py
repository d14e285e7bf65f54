r"""A5 study 3: the NTK parameterisation against the standard one under one Adam step.

:class:`~kexue.transformer.ntk.NTKLinear` (unit-variance weights, output scaled by
:math:`1/\sqrt m`) and an ``nn.Linear`` with LeCun truncated-normal weights give outputs of the
same second moment at initialisation; after one Adam step of learning rate ``lr`` (whose update
size is about ``lr`` per weight, whatever the weight's scale), the NTK layer's weights change by
about ``lr`` *relative* to their size, so the learning rate reads directly as a relative change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["NTKStep", "ntk_vs_standard"]


@dataclass(frozen=True)
class NTKStep:
    """Output second moments at init and relative weight changes after one Adam step."""

    second_moment_ntk: float
    second_moment_standard: float
    rel_change_ntk: float
    rel_change_standard: float


def ntk_vs_standard(x: torch.Tensor, lr: float, seed: int) -> NTKStep:
    """One Adam step of ``mean(layer(x)²)`` for an NTK and a standard layer of width ``x.shape[-1]``."""
    from kexue.nn.init import trunc_normal_
    from kexue.transformer.ntk import NTKLinear

    m = x.shape[-1]
    # NTKLinear and nn.Linear draw from torch's global generator: seed it inside a fork, which
    # restores the caller's state on exit
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ntk = NTKLinear(m, m, dtype=torch.float64)
        std = nn.Linear(m, m).double()
        trunc_normal_(std.weight, std=1 / math.sqrt(m))
    nn.init.zeros_(std.bias)
    second: dict[str, float] = {}
    change: dict[str, float] = {}
    for name, layer in (("ntk", ntk), ("standard", std)):
        y = layer(x)
        second[name] = float(y.detach().pow(2).mean())
        w0 = layer.weight.detach().clone()
        opt = torch.optim.Adam(layer.parameters(), lr=lr)
        y.pow(2).mean().backward()
        opt.step()
        change[name] = float((layer.weight.detach() - w0).norm() / w0.norm())
    return NTKStep(second["ntk"], second["standard"], change["ntk"], change["standard"])
