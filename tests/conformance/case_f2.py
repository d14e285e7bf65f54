"""Conformance cases for F2: per-step RNN gradient diagnostics."""

from __future__ import annotations

import torch
from torch import nn

from kexue.nn.rnn_gradients import loss_gradient_profile, state_jacobian_profile

from .case import Args, BadInput, Case


def _args(dtype: torch.dtype) -> Args:
    torch.manual_seed(0)
    rnn = nn.LSTM(3, 4, batch_first=True).to(dtype)
    return (rnn, torch.randn(2, 6, 3).to(dtype)), {}


def _loss_args(dtype: torch.dtype) -> Args:
    (rnn, x), _ = _args(dtype)
    return (rnn, x, lambda out: out.pow(2).mean()), {}


_rnn = nn.GRU(3, 4, batch_first=True)
_x = torch.randn(2, 6, 3)
CASES = [
    Case(
        "state-jacobian-profile",
        state_jacobian_profile,
        _args,
        bad=[
            BadInput("int-x", (_rnn, _x.long()), {}, TypeError, "x"),
            BadInput("not-rnn", (nn.Linear(3, 4), _x), {}, TypeError, "rnn"),
        ],
        output=lambda p: p.norms,
    ),
    Case(
        "loss-gradient-profile",
        loss_gradient_profile,
        _loss_args,
        bad=[
            BadInput(
                "state",
                (_rnn, _x, lambda o: o.sum()),
                {"state": torch.zeros(2, 3)},
                ValueError,
                "state",
            )
        ],
    ),
]
