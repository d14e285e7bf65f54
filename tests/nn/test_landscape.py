"""Smoothness probes against quadratics, where the Hessian and the gradient change are exact."""

from __future__ import annotations

import pytest
import torch

from kexue.nn.landscape import effective_smoothness, hessian_max_eigenvalue

D = torch.float64


def _quadratic(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=D))
    a = q @ torch.diag(torch.tensor([9.0, 3.0, 2.0, 1.0, 0.5, 0.1], dtype=D)) @ q.T
    return a, torch.randn(6, generator=g, dtype=D)


def test_power_iteration_finds_the_top_eigenvalue() -> None:
    a, t0 = _quadratic()
    theta = t0.clone().requires_grad_(True)
    lam = hessian_max_eigenvalue(
        lambda: 0.5 * theta @ a @ theta, [theta], iters=500, tol=1e-14,
        generator=torch.Generator().manual_seed(1),
    )  # fmt: skip
    assert lam == pytest.approx(9.0, rel=1e-10)


def test_power_iteration_on_a_split_parameter_list() -> None:
    a, t0 = _quadratic(2)
    p1, p2 = t0[:2].clone().requires_grad_(True), t0[2:].clone().requires_grad_(True)

    def loss() -> torch.Tensor:
        t = torch.cat([p1, p2])
        return 0.5 * t @ a @ t

    lam = hessian_max_eigenvalue(loss, [p1, p2], iters=500, tol=1e-14)
    assert lam == pytest.approx(float(torch.linalg.eigvalsh(a)[-1]), rel=1e-9)


def test_effective_smoothness_of_a_quadratic_and_restores_params() -> None:
    a, t0 = _quadratic(3)
    theta = t0.clone().requires_grad_(True)
    s = effective_smoothness(lambda: 0.5 * theta @ a @ theta, [theta], (0.01, 0.1))
    g = a @ t0
    # the gradient moves by A(−ηg) exactly, so β = ‖A g‖ / ‖g‖ for every η
    assert s.beta == pytest.approx(float((a @ g).norm() / g.norm()), rel=1e-12)
    assert s.grad_norm == pytest.approx(float(g.norm()), rel=1e-12)
    assert s.beta <= 9.0 + 1e-12
    assert torch.equal(theta.detach(), t0)
    losses = [float(0.5 * (t0 - e * g) @ a @ (t0 - e * g)) for e in (0.01, 0.1)]
    assert s.loss_min == pytest.approx(min(losses)) and s.loss_max == pytest.approx(max(losses))


def test_a_step_to_infinity_reports_infinite_beta() -> None:
    theta = torch.tensor([-1.0], dtype=D, requires_grad=True)
    s = effective_smoothness(lambda: torch.exp(theta**2).sum(), [theta], (1e-6, 1e3))
    assert s.beta == float("inf")


def test_bad_input() -> None:
    theta = torch.ones(3, dtype=D, requires_grad=True)
    with pytest.raises(ValueError, match="params"):
        hessian_max_eigenvalue(lambda: theta.sum(), [])
    with pytest.raises(TypeError, match="params"):
        hessian_max_eigenvalue(lambda: theta.sum(), [torch.ones(3)])
    with pytest.raises(TypeError, match="loss_fn"):
        hessian_max_eigenvalue(3.0, [theta])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loss_fn"):
        hessian_max_eigenvalue(lambda: theta * 2, [theta])
    with pytest.raises(ValueError, match="loss_fn"):
        hessian_max_eigenvalue(lambda: theta.sum() * float("nan"), [theta])
    with pytest.raises(ValueError, match="iters"):
        hessian_max_eigenvalue(lambda: (theta**2).sum(), [theta], iters=0)
    with pytest.raises(ValueError, match="lrs"):
        effective_smoothness(lambda: (theta**2).sum(), [theta], (0.1, -1.0))
    with pytest.raises(ValueError, match="lrs"):
        effective_smoothness(lambda: (theta**2).sum(), [theta], ())
