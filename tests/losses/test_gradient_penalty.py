"""B5: input/parameter gradient penalties and the inequality between them (article 8796)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.func import functional_call, grad, jacrev, vmap

from kexue.losses.gradient_penalty import (
    InputGradientPenalty,
    ParameterGradientPenalty,
    gradient_penalty_inequality,
    input_gradient_penalty,
    parameter_gradient_penalty,
)

D = torch.float64
ACTS = [nn.Tanh, nn.ReLU, nn.GELU, nn.Sigmoid, nn.Softplus, nn.LeakyReLU, nn.Identity]


def _mlp(widths: list[int], act: type[nn.Module], bias: bool, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1], bias=bias))
        if i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers).to(D)


def _reference(net: nn.Sequential, x: torch.Tensor, f) -> tuple[torch.Tensor, ...]:
    """Brute force with torch.func: per-example grads, Jacobians by jacrev, SVD spectral norms."""
    params = {k: v.detach() for k, v in net.named_parameters()}
    lin_idx = [i for i, m in enumerate(net) if isinstance(m, nn.Linear)]

    def f1(p: dict, xi: torch.Tensor) -> torch.Tensor:
        return f(functional_call(net, p, (xi[None],)))[0]

    gx = vmap(grad(f1, argnums=1), in_dims=(None, 0))(params, x)
    gp = vmap(grad(f1), in_dims=(None, 0))(params, x)
    rhs = sum(v.pow(2).flatten(1).sum(1) for v in gp.values())
    gx2 = gx.pow(2).sum(1)
    lhs = torch.zeros(x.shape[0], dtype=D)
    for i in lin_idx:
        prefix = net[:i]
        lin = net[i]
        jac = vmap(jacrev(lambda xi, prefix=prefix: prefix(xi)))(x)  # (N, d_t, d_in)
        h = prefix(x)
        wn = torch.linalg.matrix_norm(lin.weight.detach(), ord=2)
        jn = torch.linalg.matrix_norm(jac, ord=2)
        lhs += gx2 * (h.pow(2).sum(1) + (lin.bias is not None)) / (wn * jn) ** 2
    return lhs, rhs, gx2


@given(
    depth=st.integers(1, 4),
    width=st.integers(1, 7),
    act=st.sampled_from(ACTS),
    bias=st.booleans(),
    seed=st.integers(0, 10_000),
    use_ce=st.booleans(),
)
def test_inequality_holds_on_random_mlps(depth, width, act, bias, seed, use_ce) -> None:
    g = torch.Generator().manual_seed(seed)
    widths = [5] + [width + (i % 3) for i in range(depth - 1)] + [3]
    net = _mlp(widths, act, bias, seed)
    x = 2 * torch.randn(16, 5, generator=g, dtype=D)
    y = torch.randint(0, 3, (16,), generator=g)
    u = torch.randn(3, generator=g, dtype=D)
    f = (lambda o: F.cross_entropy(o, y, reduction="none")) if use_ce else (lambda o: o @ u)
    b = gradient_penalty_inequality(net, x, f)
    tol = 1e-10
    assert (b.lhs <= b.rhs * (1 + tol)).all()
    assert (b.weight_lhs <= b.weight_rhs * (1 + tol)).all()
    assert (b.bias_lhs <= b.bias_rhs * (1 + tol)).all()
    torch.testing.assert_close(b.lhs, (b.weight_lhs + b.bias_lhs).sum(-1), rtol=1e-12, atol=0)
    if not bias:
        assert (b.bias_lhs == 0).all() and (b.bias_rhs == 0).all()


@pytest.mark.parametrize("act", [nn.Tanh, nn.ReLU, nn.GELU])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_brute_force_torch_func(act: type[nn.Module], bias: bool) -> None:
    net = _mlp([4, 6, 5, 3], act, bias, seed=1)
    x = torch.randn(9, 4, dtype=D)
    y = torch.randint(0, 3, (9,))

    b = gradient_penalty_inequality(net, x, lambda o: F.cross_entropy(o, y, reduction="none"))
    # reference one example at a time (each with its own target)
    lhs, rhs, gx2 = (torch.empty(9, dtype=D) for _ in range(3))
    for i in range(9):
        yi = y[i : i + 1]
        li, ri, gi = _reference(
            net, x[i : i + 1], lambda o, yi=yi: F.cross_entropy(o, yi, reduction="none")
        )
        lhs[i], rhs[i], gx2[i] = li[0], ri[0], gi[0]
    torch.testing.assert_close(b.rhs, rhs, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(b.input_penalty, gx2, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(b.lhs, lhs, rtol=1e-9, atol=1e-15)


def test_tight_for_one_layer_and_top_singular_vector() -> None:
    g = torch.Generator().manual_seed(3)
    net = nn.Sequential(nn.Linear(6, 4)).to(D)
    u1 = torch.linalg.svd(net[0].weight.detach())[0][:, 0]
    x = torch.randn(7, 6, generator=g, dtype=D)
    b = gradient_penalty_inequality(net, x, lambda o: o @ u1)
    torch.testing.assert_close(b.lhs, b.rhs, rtol=1e-12, atol=0)
    torch.testing.assert_close(b.bias_lhs, b.bias_rhs, rtol=1e-12, atol=0)
    sigma1 = torch.linalg.matrix_norm(net[0].weight.detach(), ord=2)
    torch.testing.assert_close(b.input_penalty, sigma1.expand(7) ** 2, rtol=1e-12, atol=0)
    # a different direction makes it strict
    b2 = gradient_penalty_inequality(net, x, lambda o: o[:, 0] + o[:, 1])
    assert (b2.lhs < b2.rhs * (1 - 1e-6)).all()


def test_leading_dims_and_nested_sequential() -> None:
    net = nn.Sequential(nn.Sequential(nn.Linear(3, 4), nn.Tanh()), nn.Linear(4, 2)).to(D)
    x = torch.randn(2, 5, 3, dtype=D)
    b = gradient_penalty_inequality(net, x)
    flat = gradient_penalty_inequality(net, x.reshape(10, 3))
    assert b.lhs.shape == (2, 5) and b.weight_lhs.shape == (2, 5, 2)
    torch.testing.assert_close(b.rhs.reshape(10), flat.rhs)
    torch.testing.assert_close(b.lhs.reshape(10), flat.lhs)


def test_float32_follows_and_agrees() -> None:
    net = _mlp([4, 5, 2], nn.Tanh, True, seed=2)
    x = torch.randn(6, 4, dtype=D)
    b64 = gradient_penalty_inequality(net, x)
    b32 = gradient_penalty_inequality(net, x.float())
    assert b32.lhs.dtype == torch.float32
    torch.testing.assert_close(b32.rhs.double(), b64.rhs, rtol=1e-5, atol=1e-6)


def test_inequality_bad_input() -> None:
    x = torch.randn(4, 3, dtype=D)
    with pytest.raises(TypeError, match="mlp"):
        gradient_penalty_inequality(nn.Linear(3, 2), x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"mlp\[1\] is BatchNorm1d"):
        gradient_penalty_inequality(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), x)
    with pytest.raises(ValueError, match="must start with nn.Linear"):
        gradient_penalty_inequality(nn.Sequential(nn.ReLU(), nn.Linear(3, 4)), x)
    net = nn.Sequential(nn.Linear(3, 2)).to(D)
    with pytest.raises(ValueError, match="x must have 3 features"):
        gradient_penalty_inequality(net, torch.randn(4, 5, dtype=D))
    with pytest.raises(ValueError, match="f must return"):
        gradient_penalty_inequality(net, x, lambda o: o)
    with pytest.raises(TypeError, match="x"):
        gradient_penalty_inequality(net, x.long())


def test_input_penalty_closed_form_and_differentiable() -> None:
    w = torch.randn(5, dtype=D, requires_grad=True)
    x = torch.randn(8, 5, dtype=D)
    pen = input_gradient_penalty(lambda z: torch.tanh(z @ w), x, reduction="none")
    ref = (1 - torch.tanh(x @ w) ** 2) ** 2 * (w @ w)  # |d tanh(w.x)/dx|^2
    torch.testing.assert_close(pen, ref, rtol=1e-12, atol=1e-14)
    torch.autograd.gradcheck(
        lambda ww: input_gradient_penalty(lambda z: torch.tanh(z @ ww), x), (w,)
    )
    assert input_gradient_penalty(lambda z: z @ w, x, reduction="sum").ndim == 0


def test_input_penalty_through_upstream_x() -> None:
    a = torch.randn(4, 3, dtype=D, requires_grad=True)
    x = 2 * a  # non-leaf input: gradient with respect to x, graph reaches a
    pen = input_gradient_penalty(lambda z: (z**2).sum(-1), x)
    pen.backward()
    # pen = mean_i |2 x_i|^2 = 16 mean_i |a_i|^2 -> d/da = 32 a / N
    torch.testing.assert_close(a.grad, 32 * a.detach() / 4)


def test_input_penalty_bad_input() -> None:
    x = torch.randn(4, 3)
    with pytest.raises(TypeError, match="fn"):
        input_gradient_penalty(3, x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fn must return one scalar"):
        input_gradient_penalty(lambda z: z, x)
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none'"):
        input_gradient_penalty(lambda z: z.sum(-1), x, reduction="avg")
    with pytest.raises(TypeError, match="reduction must be a string"):  # as every other loss
        input_gradient_penalty(lambda z: z.sum(-1), x, reduction=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="reduction"):
        InputGradientPenalty(lambda z: z.sum(-1), reduction=1)  # type: ignore[arg-type]
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="x"):
        input_gradient_penalty(lambda z: z.sum(-1), bad)


def test_parameter_penalty_matches_manual_and_is_differentiable() -> None:
    net = _mlp([3, 4, 1], nn.Tanh, True, seed=5)
    x = torch.randn(6, 3, dtype=D)
    loss = net(x).pow(2).mean()
    pen = parameter_gradient_penalty(loss, net)
    grads = torch.autograd.grad(loss, list(net.parameters()), retain_graph=True)
    torch.testing.assert_close(pen, sum(g.pow(2).sum() for g in grads))
    loss.backward()  # graph retained
    w = torch.randn(3, dtype=D, requires_grad=True)
    torch.autograd.gradcheck(
        lambda ww: parameter_gradient_penalty(torch.sin(x @ ww).sum(), [ww]), (w,)
    )


def test_parameter_penalty_bad_input() -> None:
    w = torch.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match="loss must be a scalar"):
        parameter_gradient_penalty(w * 2, [w])
    with pytest.raises(ValueError, match="params is empty"):
        parameter_gradient_penalty((w**2).sum(), [])
    with pytest.raises(ValueError, match="params"):
        parameter_gradient_penalty((w**2).sum(), [torch.ones(2)])
    with pytest.raises(TypeError, match="loss"):
        parameter_gradient_penalty(3.0, [w])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loss has no autograd graph"):
        parameter_gradient_penalty(torch.tensor(1.0), [w])


def test_modules_match_functional() -> None:
    net = _mlp([3, 4, 1], nn.ReLU, True, seed=6)
    x = torch.randn(5, 3, dtype=D)
    f = lambda z: net(z)[:, 0]  # noqa: E731
    torch.testing.assert_close(
        InputGradientPenalty(f, reduction="sum")(x), input_gradient_penalty(f, x, reduction="sum")
    )
    loss = net(x).pow(2).mean()
    torch.testing.assert_close(
        ParameterGradientPenalty(net)(loss), parameter_gradient_penalty(loss, net)
    )
