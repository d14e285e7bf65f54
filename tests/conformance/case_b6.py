"""Conformance cases for B6: the WEISSI regulariser."""

from __future__ import annotations

import torch
from torch import nn

from kexue.losses.weissi import (
    WEISSIRegularizer,
    l2_penalty,
    layer_weights,
    rescale_layers,
    weissi_penalty,
)

from .case import BadInput, Case


def _weights(dtype: torch.dtype) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(5, 3, generator=g).to(dtype), torch.randn(2, 5, generator=g).to(dtype)]


def _net(dtype: torch.dtype) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).to(dtype)


def _flat(net: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.parameters()])


W = _weights(torch.float64)
NAN = W[1].clone()
NAN[0, 0] = float("nan")
NET = _net(torch.float64)

WEIGHT_BAD = [
    BadInput("empty", ([],), {}, ValueError, "weights"),
    BadInput("int-weight", ([W[0].long()],), {}, TypeError, "weights[0]"),
    BadInput("nan-weight", ([W[0], NAN],), {}, ValueError, "weights[1]"),
    BadInput("bare-tensor", (W[0],), {}, TypeError, "weights"),
]

CASES = [
    Case(
        name="weissi_penalty",
        fn=weissi_penalty,
        make_args=lambda dtype: ((_weights(dtype),), {}),
        module=lambda: WEISSIRegularizer(),
        bad=[
            *WEIGHT_BAD,
            BadInput("negative-lambda1", (W,), {"lambda1": -1.0}, ValueError, "lambda1"),
            BadInput("str-lambda2", (W,), {"lambda2": "1"}, TypeError, "lambda2"),
            BadInput("eps", (W,), {"eps": 0.0}, ValueError, "eps"),
        ],
    ),
    Case(
        name="l2_penalty",
        fn=l2_penalty,
        make_args=lambda dtype: ((_weights(dtype),), {}),
        bad=WEIGHT_BAD,
    ),
    Case(
        name="layer_weights",
        fn=layer_weights,
        make_args=lambda dtype: ((_net(dtype),), {}),
        output=lambda ws: [w.detach() for w in ws],
        bad=[
            BadInput("not-module", (W,), {}, TypeError, "model"),
            BadInput("no-layers", (nn.ReLU(),), {}, ValueError, "model"),
        ],
    ),
    Case(
        name="rescale_layers",
        fn=rescale_layers,
        make_args=lambda dtype: ((_net(dtype), [2.0, 0.5]), {}),
        output=_flat,
        bad=[
            BadInput("gammas-length", (NET, [1.0]), {}, ValueError, "gammas"),
            BadInput("gamma-negative", (NET, [1.0, -1.0]), {}, ValueError, "gammas[1]"),
            BadInput("gamma-str", (NET, [1.0, "2"]), {}, TypeError, "gammas[1]"),
            BadInput(
                "bias-scaling", (NET, [1.0, 1.0]), {"bias_scaling": "x"}, ValueError, "bias_scaling"
            ),
        ],
    ),
]
