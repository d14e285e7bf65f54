"""Tangent kernel against closed forms and brute force; the path-kernel identity of GD."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kexue.models.path_kernel import gradient_descent_path_kernel, tangent_kernel

D = torch.float64


def _mlp(seed: int = 0, out: int = 1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, out)).to(D)


def test_linear_model_kernel_is_inner_product_plus_one() -> None:
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.randn(5, 4, generator=g, dtype=D), torch.randn(3, 4, generator=g, dtype=D)
    model = nn.Linear(4, 1).to(D)
    torch.testing.assert_close(tangent_kernel(model, x1, x2), x1 @ x2.T + 1)
    # vector outputs: a matrix-valued kernel, identity in the output indices for a linear layer
    k = tangent_kernel(nn.Linear(4, 2).to(D), x1, x2)
    assert k.shape == (5, 3, 2, 2)
    torch.testing.assert_close(k[..., 0, 0], x1 @ x2.T + 1)
    torch.testing.assert_close(k[..., 0, 1], torch.zeros(5, 3, dtype=D))


def test_kernel_matches_per_sample_autograd_loop() -> None:
    model = _mlp()
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=D)
    grads = []
    for xi in x:
        model.zero_grad()
        model(xi[None]).sum().backward()
        grads.append(
            torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])
        )
    j = torch.stack(grads)
    k = tangent_kernel(model, x)
    torch.testing.assert_close(k, j @ j.T, rtol=1e-12, atol=1e-12)
    assert float(torch.linalg.eigvalsh(k).min()) > -1e-10  # symmetric PSD


def test_identity_is_exact_for_a_linear_model() -> None:
    # f linear in θ: the kernel is constant and one GD step moves f by exactly η Σ α_i K(x, x_i)
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(10, 4, generator=g, dtype=D), torch.randn(10, 1, generator=g, dtype=D)
    x_eval = torch.randn(7, 4, generator=g, dtype=D)
    fit = gradient_descent_path_kernel(
        nn.Linear(4, 1).to(D), x, y, lr=0.05, steps=40, x_eval=x_eval
    )
    assert fit.residual < 1e-12
    torch.testing.assert_close(fit.path_kernel, 40 * 0.05 * (x_eval @ x.T + 1))


def test_residual_shrinks_with_the_step_and_model_is_copied() -> None:
    model = _mlp(3)
    before = [p.detach().clone() for p in model.parameters()]
    g = torch.Generator().manual_seed(3)
    x = torch.randn(12, 3, generator=g, dtype=D)
    y = torch.sin(x.sum(1, keepdim=True))
    res = [
        gradient_descent_path_kernel(model, x, y, lr=lr, steps=round(1.0 / lr)).residual
        for lr in (0.02, 0.01, 0.005)
    ]
    assert res[0] > res[1] > res[2] and res[2] < 0.02
    for p, b in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, b)
    fit = gradient_descent_path_kernel(model, x, y, lr=0.01, steps=5)
    assert fit.losses.shape == (5,) and fit.losses[-1] < fit.losses[0]
    trained = torch.cat([p.reshape(-1) for p in fit.model.parameters()])
    assert not torch.equal(trained, torch.cat([b.reshape(-1) for b in before]))
    torch.testing.assert_close(fit.model(x).detach(), fit.final)


def test_bad_input() -> None:
    model, x, y = _mlp(), torch.randn(4, 3, dtype=D), torch.randn(4, 1, dtype=D)
    with pytest.raises(TypeError, match="model"):
        tangent_kernel(lambda t: t, x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="x2"):
        tangent_kernel(model, x, torch.randn(2, 5, dtype=D))
    with pytest.raises(ValueError, match="x1"):
        tangent_kernel(model, torch.full((2, 3), float("nan"), dtype=D))
    with pytest.raises(ValueError, match="lr"):
        gradient_descent_path_kernel(model, x, y, lr=0.0, steps=3)
    with pytest.raises(ValueError, match="steps"):
        gradient_descent_path_kernel(model, x, y, lr=0.1, steps=0)
    with pytest.raises(ValueError, match="y"):
        gradient_descent_path_kernel(model, x, y[:, 0], lr=0.1, steps=3)
    frozen = _mlp().requires_grad_(False)
    with pytest.raises(ValueError, match="trainable"):
        tangent_kernel(frozen, x)
