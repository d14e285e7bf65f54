"""RNN gradient diagnostics against closed forms and brute-force Jacobians of the unrolled net."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from kexue.nn.rnn_gradients import loss_gradient_profile, state_jacobian_profile

D = torch.float64


def _unrolled(rnn: Any, x: torch.Tensor, s0: torch.Tensor) -> torch.Tensor:
    """s_T as a function of the flat s_0, with torch's own full-sequence call."""
    h = rnn.hidden_size
    if isinstance(rnn, nn.LSTM):
        _, (hn, cn) = rnn(x, (s0[None, :, :h].contiguous(), s0[None, :, h:].contiguous()))
        return torch.cat([hn[0], cn[0]], dim=1)
    _, hn = rnn(x, s0[None])
    return hn[0]


def test_relu_rnn_with_scaled_identity_is_exact() -> None:
    h, a = 6, 1.1
    rnn: Any = nn.RNN(3, h, nonlinearity="relu", batch_first=True).to(D)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(a * torch.eye(h, dtype=D))
        rnn.weight_ih_l0.mul_(0.01)
        rnn.bias_ih_l0.fill_(1.0)  # every unit stays active
        rnn.bias_hh_l0.zero_()
    x = torch.randn(2, 15, 3, dtype=D)
    p = state_jacobian_profile(rnn, x)
    expected = math.sqrt(h) * a ** p.lags.to(D)
    torch.testing.assert_close(p.norms, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(p.step_norms, torch.full((15,), a, dtype=D))
    assert p.decay_rate == pytest.approx(math.log(a), rel=1e-10)


@pytest.mark.parametrize("kind", [nn.RNN, nn.GRU, nn.LSTM])
def test_longest_lag_matches_brute_force_jacobian(kind: Any) -> None:
    torch.manual_seed(0)
    rnn = kind(3, 4, batch_first=True).to(D)
    x = torch.randn(2, 7, 3, dtype=D)
    size = 8 if kind is nn.LSTM else 4
    s0 = 0.3 * torch.randn(2, size, dtype=D)
    p = state_jacobian_profile(rnn, x, s0)
    norms = []
    for b in range(2):

        def f(s: torch.Tensor, b: int = b) -> torch.Tensor:
            full = s0.clone()
            full[b] = s
            return _unrolled(rnn, x, full)[b]

        norms.append(torch.autograd.functional.jacobian(f, s0[b]).norm())
    torch.testing.assert_close(p.norms[-1], torch.stack(norms).mean(), rtol=1e-10, atol=1e-12)
    # lag 1: the last step's Jacobian, whose spectral norm is the last step norm
    assert float(p.step_norms[-1]) <= float(p.norms[0]) + 1e-12


def test_cells_give_the_same_profile_as_layers() -> None:
    torch.manual_seed(1)
    layer: Any = nn.GRU(3, 4, batch_first=True).to(D)
    cell = nn.GRUCell(3, 4).to(D)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(layer, f"{name}_l0"))
    x = torch.randn(2, 6, 3, dtype=D)
    a, b = state_jacobian_profile(layer, x), state_jacobian_profile(cell, x)
    torch.testing.assert_close(a.norms, b.norms)
    torch.testing.assert_close(a.step_norms, b.step_norms)


def test_loss_gradient_profile_matches_autograd_at_the_start() -> None:
    torch.manual_seed(2)
    rnn = nn.LSTM(3, 4, batch_first=True).to(D)
    x = torch.randn(3, 5, 3, dtype=D)
    s0 = (0.2 * torch.randn(3, 8, dtype=D)).requires_grad_(True)
    prof = loss_gradient_profile(rnn, x, lambda out: out[:, -1].pow(2).sum(), s0.detach())
    out, _ = rnn(x, (s0[None, :, :4].contiguous(), s0[None, :, 4:].contiguous()))
    (g,) = torch.autograd.grad(out[:, -1].pow(2).sum(), s0)
    torch.testing.assert_close(prof[0], g.norm(dim=1).mean())
    assert prof.shape == (5,)


def test_bad_input() -> None:
    rnn = nn.RNN(3, 4, batch_first=True).to(D)
    x = torch.randn(2, 5, 3, dtype=D)
    with pytest.raises(TypeError, match="rnn"):
        state_jacobian_profile(nn.Linear(3, 4), x)
    with pytest.raises(ValueError, match="rnn"):
        state_jacobian_profile(nn.RNN(3, 4, num_layers=2), x)
    with pytest.raises(ValueError, match="input_size"):
        state_jacobian_profile(rnn, torch.randn(2, 5, 2, dtype=D))
    with pytest.raises(ValueError, match="x"):
        state_jacobian_profile(rnn, torch.full((2, 5, 3), float("nan"), dtype=D))
    with pytest.raises(ValueError, match="x"):
        state_jacobian_profile(rnn, torch.randn(5, 3, dtype=D))
    with pytest.raises(ValueError, match="state"):
        state_jacobian_profile(rnn, x, torch.zeros(2, 5, dtype=D))
    with pytest.raises(ValueError, match="loss_fn"):
        loss_gradient_profile(rnn, x, lambda out: out)
