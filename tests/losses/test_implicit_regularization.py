"""B7: implicit gradient regularisation (article 7787): modified loss, flows and GD."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.linalg import expm
from torch import nn

from kexue.losses.implicit_regularization import (
    ModifiedLoss,
    flow_tracking_errors,
    gradient_descent,
    gradient_flow,
    modified_gradient,
    modified_loss,
)

D = torch.float64


def _spd(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=D))[0]
    return q @ torch.diag(torch.linspace(0.3, 2.0, n, dtype=D)) @ q.T


def _logistic(seed: int = 0) -> tuple:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(40, 3, generator=g, dtype=D)
    y = (
        torch.rand(40, generator=g) < torch.sigmoid(x @ torch.tensor([1.0, -2.0, 0.5], dtype=D))
    ).to(D)

    def loss_fn(t: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(x @ t[:3] + t[3], y)

    return loss_fn, torch.full((4,), 0.3, dtype=D)


@given(seed=st.integers(0, 1000), h=st.floats(0.0, 0.5))
def test_modified_loss_closed_form_on_quadratics(seed: int, h: float) -> None:
    a = _spd(4, seed)
    th = torch.randn(
        4, generator=torch.Generator().manual_seed(seed + 1), dtype=D, requires_grad=True
    )
    loss = 0.5 * th @ a @ th
    lt = modified_loss(loss, [th], h)
    expected = 0.5 * th @ a @ th + h / 4 * (a @ th) @ (a @ th)
    torch.testing.assert_close(lt, expected, rtol=1e-12, atol=1e-12)
    (g,) = torch.autograd.grad(lt, th)  # differentiable: grad = A th + h/2 A^2 th
    ref = (a @ th + h / 2 * a @ a @ th).detach()
    torch.testing.assert_close(g, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(modified_gradient(lambda t: 0.5 * t @ a @ t, th.detach(), h), ref)


def test_modified_gradient_matches_hessian_on_logistic() -> None:
    loss_fn, th = _logistic()
    h = 0.3
    g = torch.func.grad(loss_fn)(th)
    hess = torch.autograd.functional.hessian(loss_fn, th)
    torch.testing.assert_close(
        modified_gradient(loss_fn, th, h), g + h / 2 * hess @ g, rtol=1e-12, atol=1e-14
    )
    torch.testing.assert_close(modified_gradient(loss_fn, th), g, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("h", [0.0, 0.2])
def test_flow_matches_matrix_exponential(h: float) -> None:
    a = _spd(3, 4)
    th0 = torch.tensor([1.0, -2.0, 0.5], dtype=D)
    traj = gradient_flow(lambda t: 0.5 * t @ a @ t, th0, 1.5, lr=h, steps=150)
    m = (a + h / 2 * a @ a).numpy()
    exact = expm(-1.5 * m) @ th0.numpy()
    assert traj.shape == (151, 3)
    np.testing.assert_allclose(traj[-1].numpy(), exact, rtol=0, atol=1e-9)
    np.testing.assert_allclose(traj[75].numpy(), expm(-0.75 * m) @ th0.numpy(), atol=1e-9)


def test_flow_matches_scipy_on_logistic() -> None:
    loss_fn, th0 = _logistic(1)
    for h in (0.0, 0.3):
        sol = solve_ivp(
            lambda _t, p, h=h: -modified_gradient(loss_fn, torch.from_numpy(p), h).numpy(),
            (0.0, 2.0),
            th0.numpy(),
            method="DOP853",
            rtol=1e-12,
            atol=1e-12,
        )
        rk4 = gradient_flow(loss_fn, th0, 2.0, lr=h, steps=100)[-1]
        np.testing.assert_allclose(rk4.numpy(), sol.y[:, -1], atol=1e-8)


def test_gradient_descent_closed_form() -> None:
    a = _spd(3, 5)
    th0 = torch.tensor([1.0, 2.0, -1.0], dtype=D)
    it = gradient_descent(lambda t: 0.5 * t @ a @ t, th0, 0.3, 7)
    ref = torch.linalg.matrix_power(torch.eye(3, dtype=D) - 0.3 * a, 7) @ th0
    assert it.shape == (8, 3)
    torch.testing.assert_close(it[-1], ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(it[0], th0)


@pytest.mark.parametrize("problem", ["quadratic", "logistic"])
def test_gd_tracks_modified_flow_one_order_better(problem: str) -> None:
    if problem == "quadratic":
        a = _spd(3, 6)
        loss_fn, th0 = (lambda t: 0.5 * t @ a @ t), torch.tensor([1.0, -1.0, 2.0], dtype=D)
    else:
        loss_fn, th0 = _logistic(2)
    r = flow_tracking_errors(loss_fn, th0, [0.2, 0.1, 0.05, 0.025], 1.0, steps_per_unit_time=40)
    assert 0.8 <= float(r.plain_slope) <= 1.3
    assert 1.7 <= float(r.modified_slope) <= 2.3
    assert (r.modified < r.plain).all()
    assert r.lrs.dtype == D


def test_explicit_penalty_reproduces_large_step_gd() -> None:
    def toy(t: torch.Tensor) -> torch.Tensor:
        return 0.5 * (t[0] * t[1] - 1) ** 2

    t0 = torch.tensor([1.5, 0.05], dtype=D)
    big = gradient_descent(toy, t0, 0.1, 20)[-1]
    small = gradient_descent(toy, t0, 0.01, 200)[-1]
    small_reg = gradient_descent(lambda p: modified_loss(toy(p), [p], 0.1), t0, 0.01, 200)[-1]
    assert float((small_reg - big).norm()) < 0.2 * float((small - big).norm())


def test_module_matches_functional() -> None:
    net = nn.Linear(3, 1).to(D)
    x = torch.randn(5, 3, dtype=D)
    loss = net(x).pow(2).mean()
    torch.testing.assert_close(ModifiedLoss(net, 0.1)(loss), modified_loss(loss, net, 0.1))


def test_bad_input() -> None:
    th = torch.ones(3, dtype=D)
    q = lambda t: (t**2).sum()  # noqa: E731
    with pytest.raises(ValueError, match="lr"):
        modified_gradient(q, th, -0.1)
    with pytest.raises(ValueError, match="theta"):
        modified_gradient(q, th[None])
    with pytest.raises(TypeError, match="loss_fn"):
        modified_gradient(3, th)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loss_fn must return a scalar"):
        modified_gradient(lambda t: t, th)
    with pytest.raises(TypeError, match="theta0"):
        gradient_flow(q, th.long(), 1.0)
    with pytest.raises(ValueError, match="steps"):
        gradient_flow(q, th, 1.0, steps=0)
    with pytest.raises(ValueError, match="lr"):
        gradient_descent(q, th, 0.0, 3)
    with pytest.raises(TypeError, match="n_steps"):
        gradient_descent(q, th, 0.1, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a multiple of lrs"):
        flow_tracking_errors(q, th, [0.3, 0.1], 1.0)
    with pytest.raises(ValueError, match="lrs must hold at least two"):
        flow_tracking_errors(q, th, [0.1, 0.1], 1.0)
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="loss must be a scalar"):
        modified_loss(w * 2, [w], 0.1)
    with pytest.raises(ValueError, match="lr"):
        modified_loss((w**2).sum(), [w], math.nan)
