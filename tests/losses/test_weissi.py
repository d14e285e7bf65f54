"""B6: WEISSI regulariser (article 7681): scale-shift invariance, where L2 is not."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize
from torch import nn

from kexue.losses.weissi import (
    WEISSIRegularizer,
    l2_penalty,
    layer_weights,
    rescale_layers,
    weissi_penalty,
)

D = torch.float64
HOMOGENEOUS = [nn.ReLU, nn.Identity, lambda: nn.LeakyReLU(0.1)]


def _net(depth: int, act, seed: int, width: int = 6) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    d = 4
    for _ in range(depth - 1):
        layers += [nn.Linear(d, width), act()]
        d = width
    layers.append(nn.Linear(d, 3))
    net = nn.Sequential(*layers).to(D)
    with torch.no_grad():  # non-trivial biases so that bias scaling matters
        for m in net:
            if isinstance(m, nn.Linear):
                m.bias.normal_()
    return net.requires_grad_(False)


@given(
    depth=st.integers(1, 4),
    act=st.sampled_from(HOMOGENEOUS),
    seed=st.integers(0, 10_000),
    logs=st.lists(st.floats(-1.5, 1.5), min_size=4, max_size=4),
    lam2=st.sampled_from([0.0, 0.3]),
)
def test_invariant_under_scale_shifts_with_unit_product(depth, act, seed, logs, lam2) -> None:
    net = _net(depth, act, seed)
    u = logs[: depth - 1]
    gam = [math.exp(v) for v in [*u, -sum(u)]]  # prod = 1
    x = torch.randn(10, 4, generator=torch.Generator().manual_seed(seed), dtype=D)
    new = rescale_layers(net, gam)
    with torch.no_grad():
        y0, y1 = net(x), new(x)
    assert float((y1 - y0).abs().max() / y0.abs().max()) < 1e-12
    assert abs(float(weissi_penalty(new, 0.7, lam2) - weissi_penalty(net, 0.7, lam2))) < 1e-12
    # L2 moves by exactly sum (gamma^2 - 1) |W|^2
    expected = sum(
        (g * g - 1) * float(w.pow(2).sum()) for g, w in zip(gam, layer_weights(net), strict=True)
    )
    d_l2 = float(l2_penalty(new) - l2_penalty(net))
    assert math.isclose(d_l2, expected, rel_tol=1e-9, abs_tol=1e-10)


def test_output_and_penalty_scale_with_the_product() -> None:
    net = _net(3, nn.ReLU, 0)
    gam = [2.0, 0.5, 3.0]
    x = torch.randn(7, 4, dtype=D)
    new = rescale_layers(net, gam)
    torch.testing.assert_close(new(x), 3.0 * net(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(weissi_penalty(new), weissi_penalty(net) + math.log(3.0))
    assert float(l2_penalty(new) - l2_penalty(net)) > 1.0  # L2 not invariant
    for a, b in zip(
        layer_weights(net), layer_weights(rescale_layers(net, [1.0, 1.0, 1.0])), strict=True
    ):
        assert torch.equal(a, b)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_article_per_layer_bias_scaling_breaks_from_layer_two(depth: int) -> None:
    net = _net(depth, nn.ReLU, 1)
    gam = [2.0, 0.25, 2.0][:depth]
    gam[-1] = 1 / math.prod(gam[:-1]) if depth > 1 else 1.0
    x = torch.randn(9, 4, dtype=D)
    with torch.no_grad():
        y0 = net(x)
    d_art = float((rescale_layers(net, gam, bias_scaling="per_layer")(x) - y0).abs().max())
    d_cum = float((rescale_layers(net, gam)(x) - y0).abs().max())
    assert d_cum < 1e-12
    if depth == 1:
        assert d_art < 1e-12  # correct for the first layer
    else:
        assert d_art > 1e-3


def test_gradient_is_weight_over_squared_norm() -> None:
    ws = [
        torch.randn(5, 4, dtype=D, requires_grad=True),
        torch.randn(3, 5, dtype=D, requires_grad=True),
    ]
    lam = 0.3
    grads = torch.autograd.grad(weissi_penalty(ws, lam), ws)
    for w, g in zip(ws, grads, strict=True):
        torch.testing.assert_close(
            g, lam * w.detach() / w.detach().pow(2).sum(), rtol=1e-12, atol=0
        )
    torch.autograd.gradcheck(lambda a, b: weissi_penalty([a, b], 0.5, 0.2), tuple(ws))


def test_closed_form_value_with_direction_term() -> None:
    w1 = torch.tensor([[3.0, -4.0]], dtype=D)  # |.|_F = 5, |.|_1 = 7
    w2 = torch.tensor([[1.0], [0.0]], dtype=D)  # |.|_F = 1, |.|_1 = 1
    got = weissi_penalty([w1, w2], lambda1=2.0, lambda2=0.5)
    torch.testing.assert_close(got, torch.tensor(2 * math.log(5) + 0.5 * (7 / 5 + 1), dtype=D))
    # the direction term is invariant to any positive per-layer scale
    d2 = weissi_penalty([7 * w1, 0.1 * w2], lambda1=0.0, lambda2=1.0)
    torch.testing.assert_close(d2, weissi_penalty([w1, w2], lambda1=0.0, lambda2=1.0))


def test_l2_minimum_over_rescalings_is_at_equal_norms() -> None:
    norms = np.array([5.0, 0.5, 2.0, 1.3])

    # minimise sum gamma_l^2 |W_l|^2 subject to prod gamma_l = 1 (free logs for the first L-1)
    def obj(u: np.ndarray) -> float:
        logs = np.append(u, -u.sum())
        return float(np.sum(np.exp(2 * logs) * norms**2))

    res = minimize(obj, np.zeros(3), method="BFGS", options={"gtol": 1e-12})
    logs = np.append(res.x, -res.x.sum())
    scaled = np.exp(logs) * norms
    geo = np.prod(norms) ** (1 / len(norms))
    np.testing.assert_allclose(scaled, geo, rtol=1e-6)
    np.testing.assert_allclose(res.fun, len(norms) * geo**2, rtol=1e-10)


def test_eps_keeps_zero_weights_finite() -> None:
    w = torch.zeros(3, 3, dtype=D, requires_grad=True)
    val = weissi_penalty([w], eps=1e-6)
    val.backward()
    assert math.isclose(float(val.detach()), math.log(1e-6))
    assert torch.isfinite(w.grad).all()


def test_module_conv_and_half() -> None:
    net = (
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
        .to(D)
        .requires_grad_(False)
    )
    ws = layer_weights(net)
    assert [tuple(w.shape) for w in ws] == [(2, 1, 3, 3), (2, 8)]
    torch.testing.assert_close(WEISSIRegularizer(0.2, 0.1)(net), weissi_penalty(ws, 0.2, 0.1))
    expected = sum(math.log(float(w.norm())) for w in ws)
    torch.testing.assert_close(float(weissi_penalty(net).detach()), expected)
    half = weissi_penalty([w.detach().half() for w in ws])
    assert half.dtype == torch.float16
    assert math.isclose(float(half), expected, rel_tol=1e-2, abs_tol=1e-2)


def test_bad_input() -> None:
    w = torch.randn(3, 3)
    with pytest.raises(ValueError, match="weights is empty"):
        weissi_penalty([])
    with pytest.raises(TypeError, match=r"weights\[0\]"):
        weissi_penalty([w.long()])
    bad = w.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        weissi_penalty([w, bad])
    with pytest.raises(ValueError, match="lambda1"):
        weissi_penalty([w], lambda1=-1.0)
    with pytest.raises(TypeError, match="weights"):
        weissi_penalty(w)  # a bare tensor is ambiguous
    with pytest.raises(ValueError, match="model has no"):
        layer_weights(nn.ReLU())
    net = _net(2, nn.ReLU, 0)
    with pytest.raises(ValueError, match="gammas must have one factor per layer"):
        rescale_layers(net, [1.0])
    with pytest.raises(ValueError, match=r"gammas\[1\]"):
        rescale_layers(net, [1.0, -2.0])
    with pytest.raises(ValueError, match="bias_scaling"):
        rescale_layers(net, [1.0, 1.0], bias_scaling="article")
