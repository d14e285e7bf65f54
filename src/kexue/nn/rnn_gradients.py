"""Per-time-step gradient diagnostics of recurrent networks: vanishing and exploding gradients.

For :math:`h_t=f(x_t,h_{t-1};\\theta)` the gradient is itself a recurrence,
:math:`\\frac{dh_t}{d\\theta}=\\frac{\\partial h_t}{\\partial h_{t-1}}\\frac{dh_{t-1}}{d\\theta}+\\frac{\\partial h_t}{\\partial\\theta}`,
so what step :math:`k` contributes at time :math:`T` is multiplied by
:math:`\\frac{\\partial h_T}{\\partial h_k}=\\prod_{s=k+1}^{T}\\frac{\\partial h_s}{\\partial h_{s-1}}`
(article 7888): persistently below 1 it vanishes, above 1 it explodes. Measure that product against
the lag :math:`T-k`, not the total gradient norm. For the simple RNN the step factor is
:math:`(1-h_t^2)U`, bounded by tanh's saturation; for the LSTM it is dominated by the forget gate
:math:`f_t`, so :math:`\\log\\|\\partial c_T/\\partial c_k\\|` falls at about the mean of
:math:`\\log f_t` per step.

:func:`state_jacobian_profile` measures, for a ``torch.nn`` RNN/GRU/LSTM (or its cell) on a batch of
sequences, :math:`\\|\\partial s_T/\\partial s_k\\|_F` for every ``k`` (``s`` the whole recurrent
state: ``h``, or ``(h, c)`` for an LSTM), the spectral norm of every step Jacobian, and the fitted
log-decay rate per step. :func:`loss_gradient_profile` gives :math:`\\|\\partial L/\\partial s_t\\|`
per step for a loss on the outputs. Both run the network one step at a time, so they cost ``S``
backward passes (``S`` = state size) — a diagnostic, not a training-time hook.

Reference: https://kexue.fm/archives/7888
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from kexue._validate import check_finite, check_floating, check_ndim

__all__ = ["StateJacobianProfile", "loss_gradient_profile", "state_jacobian_profile"]

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class StateJacobianProfile:
    """What :func:`state_jacobian_profile` measured (means over the batch).

    Attributes:
        lags: ``T - k`` for ``k = T-1, ..., 0``: ``(T,)`` integers 1..T.
        norms: :math:`\\|\\partial s_T/\\partial s_k\\|_F` at each lag, ``(T,)``.
        step_norms: spectral norm of :math:`\\partial s_t/\\partial s_{t-1}` for ``t = 1..T``.
        decay_rate: least-squares slope of ``log norms`` against the lag (negative: vanishing,
            positive: exploding), per step.

    Reference: https://kexue.fm/archives/7888
    """

    lags: torch.Tensor
    norms: torch.Tensor
    step_norms: torch.Tensor
    decay_rate: float


def _check_rnn(rnn: object) -> Any:
    if isinstance(rnn, nn.RNNBase):
        if (
            rnn.num_layers != 1
            or rnn.bidirectional
            or (rnn.proj_size if isinstance(rnn, nn.LSTM) else 0)
        ):
            raise ValueError(
                "rnn must be a single-layer, unidirectional RNN/GRU/LSTM without projections "
                f"(got num_layers={rnn.num_layers}, bidirectional={rnn.bidirectional}); "
                "profile one layer at a time"
            )
        return rnn
    if isinstance(rnn, nn.RNNCellBase):
        return rnn
    raise TypeError(
        f"rnn must be a torch.nn RNN, GRU or LSTM (or their cells), got {type(rnn).__name__}"
    )


def _check_x(x: object, rnn: Any) -> torch.Tensor:
    t = check_ndim(check_floating(x, "x"), "x", 3, 3)
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"x must be (batch >= 1, time >= 1, features), got shape {tuple(t.shape)}")
    if t.shape[2] != rnn.input_size:
        raise ValueError(f"x has {t.shape[2]} features, rnn expects input_size={rnn.input_size}")
    return check_finite(t, "x")


def _is_lstm(rnn: Any) -> bool:
    return isinstance(rnn, nn.LSTM | nn.LSTMCell)


def _flat(state: State) -> torch.Tensor:
    """The state as ``(batch, S)``: ``h`` or ``cat(h, c)``."""
    if isinstance(state, tuple):
        return torch.cat([s.reshape(s.shape[-2], -1) for s in state], dim=1)
    return state.reshape(state.shape[-2], -1)


def _unflat(flat: torch.Tensor, rnn: Any) -> State:
    h = rnn.hidden_size
    if _is_lstm(rnn):
        return flat[:, :h], flat[:, h:]
    return flat


def _step(rnn: Any, x_t: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    """One step from a flat state to the next flat state."""
    state = _unflat(flat, rnn)
    if isinstance(rnn, nn.RNNCellBase):
        return _flat(rnn(x_t, state))
    seq = x_t.unsqueeze(1) if rnn.batch_first else x_t.unsqueeze(0)
    packed = (
        tuple(s.unsqueeze(0).contiguous() for s in state)
        if isinstance(state, tuple)
        else state.unsqueeze(0)
    )
    _, new = rnn(seq, packed)
    if isinstance(new, tuple):
        return torch.cat([s[0] for s in new], dim=1)
    return new[0]


def _initial(rnn: Any, x: torch.Tensor, state: torch.Tensor | None) -> torch.Tensor:
    size = rnn.hidden_size * (2 if _is_lstm(rnn) else 1)
    if state is None:
        return torch.zeros(x.shape[0], size, dtype=x.dtype, device=x.device)
    s = check_floating(state, "state")
    if s.shape != (x.shape[0], size):
        raise ValueError(
            f"state must be the flat initial state (batch, {size}) "
            f"{'= cat(h0, c0)' if size > rnn.hidden_size else '= h0'}, got {tuple(s.shape)}"
        )
    return check_finite(s, "state")


def _run(
    rnn: Any, x: torch.Tensor, s0: torch.Tensor, detach_steps: bool
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Inputs and outputs of every step; with ``detach_steps`` each step starts from a fresh leaf."""
    ins, outs = [], []
    s = s0.detach().requires_grad_(True)
    for t in range(x.shape[1]):
        if detach_steps:
            s = s.detach().requires_grad_(True)
        ins.append(s)
        s = _step(rnn, x[:, t], s)
        outs.append(s)
    return ins, outs


def state_jacobian_profile(
    rnn: nn.Module, x: torch.Tensor, state: torch.Tensor | None = None
) -> StateJacobianProfile:
    """:math:`\\|\\partial s_T/\\partial s_k\\|_F` against the lag, and every step Jacobian's norm.

    Args:
        rnn: a single-layer ``nn.RNN``/``nn.GRU``/``nn.LSTM`` or ``nn.RNNCell``/``GRUCell``/
            ``LSTMCell``.
        x: inputs ``(batch, time, input_size)`` (batch first, whatever ``rnn.batch_first`` says).
        state: flat initial state ``(batch, S)`` (``h0``, or ``cat(h0, c0)`` for an LSTM);
            ``None``: zeros.

    Returns:
        A :class:`StateJacobianProfile` (means over the batch).

    Reference: https://kexue.fm/archives/7888
    """
    m = _check_rnn(rnn)
    xt = _check_x(x, m)
    s0 = _initial(m, xt, state)
    big_t = xt.shape[1]
    size = s0.shape[1]
    ins, outs = _run(m, xt, s0, detach_steps=False)
    sq = torch.zeros(big_t, xt.shape[0], dtype=xt.dtype, device=xt.device)
    eye = torch.eye(size, dtype=xt.dtype, device=xt.device)
    for j in range(size):  # row j of every ∂s_T/∂s_k in one backward pass
        rows = torch.autograd.grad(
            outs[-1], ins, grad_outputs=eye[j].expand_as(outs[-1]), retain_graph=True
        )
        sq += torch.stack([(r**2).sum(dim=1) for r in rows])
    norms = sq.sqrt().mean(dim=1).flip(0)  # lag 1 .. T
    ins_d, outs_d = _run(m, xt, s0, detach_steps=True)
    jac = torch.zeros(big_t, xt.shape[0], size, size, dtype=xt.dtype, device=xt.device)
    stacked = torch.stack(outs_d)  # (T, B, S)
    for j in range(size):
        rows = torch.autograd.grad(stacked[..., j].sum(), ins_d, retain_graph=True)
        jac[:, :, j] = torch.stack(rows)
    step_norms = torch.linalg.matrix_norm(jac, ord=2).mean(dim=1)
    lags = torch.arange(1, big_t + 1, device=xt.device)
    log_n = norms.clamp_min(torch.finfo(xt.dtype).tiny).log()
    lf = lags.to(xt.dtype)
    slope = 0.0
    if big_t > 1:
        lc = lf - lf.mean()
        slope = float((lc * (log_n - log_n.mean())).sum() / (lc * lc).sum())
    return StateJacobianProfile(lags, norms.detach(), step_norms.detach(), slope)


def loss_gradient_profile(
    rnn: nn.Module,
    x: torch.Tensor,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    state: torch.Tensor | None = None,
) -> torch.Tensor:
    """:math:`\\|\\partial L/\\partial s_t\\|` for every step ``t`` (mean over the batch).

    Args:
        rnn, x, state: as :func:`state_jacobian_profile`.
        loss_fn: maps the hidden outputs ``(batch, time, hidden_size)`` to a scalar loss.

    Returns:
        ``(time,)``: the norm of the total derivative of the loss with respect to the state
        entering step ``t`` (through every later step).

    Reference: https://kexue.fm/archives/7888
    """
    m = _check_rnn(rnn)
    xt = _check_x(x, m)
    s0 = _initial(m, xt, state)
    ins, outs = _run(m, xt, s0, detach_steps=False)
    hidden = torch.stack([o[:, : m.hidden_size] for o in outs], dim=1)
    loss = loss_fn(hidden)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError("loss_fn must return a scalar tensor")
    grads = torch.autograd.grad(loss, ins, allow_unused=True)
    return torch.stack(
        [torch.zeros((), dtype=xt.dtype) if g is None else g.norm(dim=1).mean() for g in grads]
    ).detach()
