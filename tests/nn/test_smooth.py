"""Smooth approximations (D5): quadrature, identities, limits, stable tails, gradients, errors."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
import scipy.integrate
import scipy.special
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from kexue.nn.smooth import (
    SmoothLeakyReLU,
    SmoothReLU,
    smooth_abs,
    smooth_clip,
    smooth_floor,
    smooth_leaky_relu,
    smooth_max,
    smooth_min,
    smooth_relu,
    smooth_sign,
    smooth_step,
)

F64 = torch.float64


def _gauss(u: float, s: float) -> float:
    return math.exp(-0.5 * (u / s) ** 2) / (math.sqrt(2 * math.pi) * s)


def _logistic(u: float, w: float) -> float:
    v = scipy.special.expit(u / w)
    return float(v * (1 - v) / w)


def _convolve(
    f: Callable[[float], float], x: float, w: float, kink: list[float], kernel: str
) -> float:
    """(f * phi_w)(x) by adaptive quadrature, split at the kinks/jumps of f."""
    k = _gauss if kernel == "gaussian" else _logistic
    span = 40 * w if kernel == "gaussian" else 60 * w
    a, b = x - span, x + span
    cuts = sorted({a, b, *[c for c in kink if a < c < b]})
    total = 0.0
    for lo, hi in itertools.pairwise(cuts):
        val, _ = scipy.integrate.quad(
            lambda y: f(y) * k(x - y, w), lo, hi, epsabs=1e-14, epsrel=1e-13, limit=200
        )
        total += val
    return total


# (name, ours, f, kinks) for the 1-D functions; max/clip/floor are checked against f of one input
_CASES: list[tuple[str, Callable[..., torch.Tensor], Callable[[float], float], list[float]]] = [
    ("relu", smooth_relu, lambda y: max(y, 0.0), [0.0]),
    ("abs", smooth_abs, abs, [0.0]),
    ("step", smooth_step, lambda y: float(y > 0), [0.0]),
    ("sign", smooth_sign, lambda y: float(np.sign(y)), [0.0]),
    ("leaky", lambda x, w, **k: smooth_leaky_relu(x, w, 0.1, **k), lambda y: max(y, 0.1 * y), [0.0]),
    ("max", lambda x, w, **k: smooth_max(x, torch.full_like(x, 0.3), w, **k), lambda y: max(y, 0.3), [0.3]),
    ("clip", lambda x, w, **k: smooth_clip(x, -0.5, 1.0, w, **k), lambda y: min(max(y, -0.5), 1.0), [-0.5, 1.0]),
    ("floor", lambda x, w, **k: smooth_floor(x, w, low=-4, high=4, **k), lambda y: float(min(max(math.floor(y), -5), 4)), [float(k) for k in range(-4, 5)]),
]  # fmt: skip


@pytest.mark.parametrize("kernel", ["gaussian", "logistic"])
@pytest.mark.parametrize(("name", "ours", "f", "kinks"), _CASES, ids=[c[0] for c in _CASES])
def test_closed_forms_match_quadrature(
    name: str,
    ours: Callable[..., torch.Tensor],
    f: Callable[[float], float],
    kinks: list[float],
    kernel: str,
) -> None:
    xs = torch.linspace(-3, 3, 13, dtype=F64)
    for w in (0.1, 1.0, 3.0):
        got = ours(xs, w, kernel=kernel)
        ref = torch.tensor([_convolve(f, float(x), w, kinks, kernel) for x in xs], dtype=F64)
        assert (got - ref).abs().max() < 1e-8, (name, kernel, w)


def test_identities_and_clark() -> None:
    x = torch.linspace(-8, 8, 401, dtype=F64)
    for s in (0.2, 1.0, 2.5):
        r = smooth_relu(x, s)
        torch.testing.assert_close(r - smooth_relu(-x, s), x, rtol=0, atol=1e-13)
        torch.testing.assert_close(smooth_abs(x, s), 2 * r - x, rtol=0, atol=1e-13)
        b = torch.cos(x)
        d = x - b
        clark = x * torch.special.ndtr(d / s) + b * torch.special.ndtr(-d / s)
        clark = clark + s * torch.exp(-0.5 * (d / s) ** 2) / math.sqrt(2 * math.pi)
        torch.testing.assert_close(smooth_max(x, b, s), clark, rtol=0, atol=1e-12)
        torch.testing.assert_close(
            smooth_max(x, b, s), b + smooth_relu(x - b, s), rtol=0, atol=1e-12
        )
        torch.testing.assert_close(smooth_min(x, b, s), -smooth_max(-x, -b, s))


def test_logistic_kernel_gives_softplus_and_logsumexp_exactly() -> None:
    x = torch.linspace(-50, 50, 1001, dtype=F64)
    for w in (0.1, 1.0, 4.0):
        ref = torch.tensor(
            [float(mpmath.log1p(mpmath.exp(v / w)) * w) for v in x.tolist()], dtype=F64
        )
        torch.testing.assert_close(
            smooth_relu(x, w, kernel="logistic"), ref, rtol=1e-14, atol=1e-300
        )
        b = 0.5 * x.flip(0)
        lse = w * torch.logsumexp(torch.stack([x / w, b / w]), 0)
        torch.testing.assert_close(smooth_max(x, b, w, kernel="logistic"), lse)
        torch.testing.assert_close(smooth_step(x, w, kernel="logistic"), torch.sigmoid(x / w))
    # SoftPlus at t = 1; torch's softplus switches to x above its threshold, so compare below it
    torch.testing.assert_close(
        smooth_relu(x, 1.0, kernel="logistic")[x < 15], F.softplus(x)[x < 15]
    )


def test_gelu_is_a_different_smoothing() -> None:
    x = torch.linspace(-4, 4, 81, dtype=F64)
    phi = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    torch.testing.assert_close(smooth_relu(x, 1.0) - F.gelu(x), phi, rtol=0, atol=1e-14)


def test_sup_norm_limits() -> None:
    x = torch.linspace(-10, 10, 200_001, dtype=F64)
    for s in (1.0, 0.1, 0.01, 0.001):
        relu_err = (smooth_relu(x, s) - x.clamp_min(0)).abs().max().item()
        assert relu_err == pytest.approx(s / math.sqrt(2 * math.pi), rel=1e-12)
        abs_err = (smooth_abs(x, s) - x.abs()).abs().max().item()
        assert abs_err == pytest.approx(s * math.sqrt(2 / math.pi), rel=1e-12)
        clip_err = (smooth_clip(x, -1.0, 1.0, s) - x.clamp(-1, 1)).abs().max().item()
        assert clip_err <= s / math.sqrt(2 * math.pi) + 1e-15
        far = x.abs() >= 0.1  # jumps converge uniformly away from the jump
        step_err = (smooth_step(x, s) - (x > 0).double())[far].abs().max().item()
        nearest = x[far].abs().min().item()
        assert step_err == pytest.approx(scipy.special.ndtr(-nearest / s), rel=1e-9, abs=1e-300)


def test_floor_logistic_error_bound_article_demo() -> None:
    t = 10.0
    x = torch.linspace(-3, 6, 9001, dtype=F64)
    approx = smooth_floor(x, 1 / t, low=-5, high=10, kernel="logistic")
    dist = (x - x.round()).abs()
    err = (approx - torch.floor(x)).abs()
    for delta in (0.1, 0.2, 0.3, 0.45):
        bound = 2 * math.exp(-t * delta) / (1 - math.exp(-t))
        assert err[dist >= delta].max() <= bound
    frac = (err < 0.05).double().mean().item()
    assert 0.3 < frac < 0.55  # spec [measured]: ~41 % of [-3, 6]


def _mp_relu(x: float, s: float) -> float:
    z = mpmath.mpf(x) / s
    return float(s * (z * mpmath.ncdf(z) + mpmath.npdf(z)))


def test_stable_left_tail_float32_and_float64() -> None:
    mpmath.mp.dps = 40
    z = torch.linspace(-30, -5, 101, dtype=F64)
    for s in (0.5, 2.0):
        ref = torch.tensor([_mp_relu(float(v) * s, s) for v in z], dtype=F64)
        ours64 = smooth_relu(z * s, s)
        assert ((ours64 - ref) / ref).abs().max() < 1e-12  # condition number ~ z^2 eps = 1e-13
        x32 = (z * s).float()  # the float32 input is itself rounded: reference at that input
        ref32 = torch.tensor([_mp_relu(float(v), s) for v in x32.double()], dtype=F64)
        ours32 = smooth_relu(x32, s).double()
        normal = (
            ref32 > 1e-37
        )  # float32 cannot hold the deep tail (z < -12.8): compare where it can
        assert normal.sum() > 20
        assert ((ours32 - ref32) / ref32)[normal].abs().max() < 1e-5
        assert (ours32 - ref32)[~normal].abs().max() < 1e-37
        zz = x32 / s
        naive = x32 * torch.erfc(-zz / math.sqrt(2)) / 2 + s * torch.exp(-0.5 * zz * zz) / 2.5066283
        assert ((naive.double() - ref32) / ref32)[normal].abs().max() > 1e-3  # cancellation


def test_tail_branch_boundary() -> None:
    mpmath.mp.dps = 40
    z = torch.linspace(-7, -3, 161, dtype=F64)  # both branch thresholds (-6 float64, -4 float32)
    ref = torch.tensor([_mp_relu(float(v), 1.0) for v in z], dtype=F64)
    assert ((smooth_relu(z, 1.0) - ref) / ref).abs().max() < 2e-14
    z32 = z.float()
    ref32 = torch.tensor([_mp_relu(float(v), 1.0) for v in z32.double()], dtype=F64)
    # float32 keeps the function's own conditioning, relative z^2 eps32 / 2 <= 1.5e-6 here
    assert ((smooth_relu(z32, 1.0).double() - ref32) / ref32).abs().max() < 4e-6


@given(x=st.floats(-60, 60), s=st.floats(1e-3, 1e3))
def test_relu_bounds_and_gradient_property(x: float, s: float) -> None:
    t = torch.tensor([x], dtype=F64, requires_grad=True)
    y = smooth_relu(t, s)
    assert y.item() >= max(x, 0.0) and y.item() - max(x, 0.0) <= s / math.sqrt(2 * math.pi) + 1e-12
    (g,) = torch.autograd.grad(y.sum(), t)
    assert g.item() == pytest.approx(float(scipy.special.ndtr(x / s)), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("kernel", ["gaussian", "logistic"])
def test_gradcheck(kernel: str) -> None:
    x = torch.cat([torch.linspace(-12, 3, 9), torch.tensor([0.0, 0.7])]).to(F64).requires_grad_()
    w = torch.tensor(0.8, dtype=F64, requires_grad=True)
    wv = torch.linspace(0.5, 2, 11, dtype=F64).requires_grad_()
    b = torch.randn(11, dtype=F64, requires_grad=True)
    k = {"kernel": kernel}
    assert torch.autograd.gradcheck(lambda x, w: smooth_relu(x, w, **k), (x, w))
    assert torch.autograd.gradcheck(lambda x, w: smooth_relu(x, w, **k), (x, wv))
    assert torch.autograd.gradcheck(lambda x, w: smooth_abs(x, w, **k), (x, w))
    assert torch.autograd.gradcheck(lambda x, b, w: smooth_max(x, b, w, **k), (x, b, w))
    assert torch.autograd.gradcheck(lambda x, w: smooth_clip(x, -1.0, 2.0, w, **k), (x, w))
    assert torch.autograd.gradcheck(lambda x, w: smooth_leaky_relu(x, w, 0.2, **k), (x, w))
    assert torch.autograd.gradcheck(lambda x, w: smooth_floor(x, w, low=-3, high=3, **k), (x, w))
    assert torch.autograd.gradcheck(lambda x, w: smooth_sign(x, w, **k), (x, w))
    assert torch.autograd.gradgradcheck(lambda x, w: smooth_relu(x, w), (x, w))


def test_half_and_dtype() -> None:
    x = torch.linspace(-20, 5, 50)
    assert smooth_relu(x.half(), 0.5).dtype == torch.float16
    assert smooth_relu(x.bfloat16(), 0.5).dtype == torch.bfloat16
    out = smooth_relu(x, torch.tensor(0.5, dtype=F64))
    assert out.dtype == torch.float32


def test_modules() -> None:
    x = torch.randn(4, 7, dtype=F64)
    torch.testing.assert_close(SmoothReLU(0.3)(x), smooth_relu(x, 0.3))
    torch.testing.assert_close(SmoothLeakyReLU(0.3, 0.2)(x), smooth_leaky_relu(x, 0.3, 0.2))
    torch.testing.assert_close(SmoothReLU(2.0, kernel="logistic")(x), 2 * F.softplus(x / 2))
    m = SmoothReLU(0.5, learnable=True)
    m.double()
    m(x).sum().backward()
    assert m.log_width.grad is not None and m.log_width.grad.abs() > 0
    assert not list(p for p in SmoothReLU(0.5).parameters() if p.requires_grad)
    assert "width=0.5" in repr(SmoothReLU(0.5))


@pytest.mark.parametrize(
    ("call", "error", "word"),
    [
        (lambda: smooth_relu(torch.arange(3), 1.0), TypeError, "x"),
        (lambda: smooth_relu(torch.randn(3), 0.0), ValueError, "width"),
        (lambda: smooth_relu(torch.randn(3), -1.0), ValueError, "width"),
        (lambda: smooth_relu(torch.randn(3), math.nan), ValueError, "width"),
        (lambda: smooth_relu(torch.randn(3), "1"), TypeError, "width"),
        (lambda: smooth_relu(torch.randn(3), torch.tensor([1.0, -1.0, 1.0])), ValueError, "width"),
        (lambda: smooth_relu(torch.randn(3), torch.ones(4)), ValueError, "width"),
        (lambda: smooth_relu(torch.randn(3), 1.0, kernel="box"), ValueError, "kernel"),
        (lambda: smooth_max(torch.randn(3), torch.randn(4)), ValueError, "b"),
        (lambda: smooth_max(torch.randn(3), torch.randn(3, dtype=F64)), TypeError, "b"),
        (lambda: smooth_clip(torch.randn(3), 1.0, 0.0), ValueError, "low"),
        (lambda: smooth_floor(torch.randn(3), 0.1, low=2, high=1), ValueError, "low"),
        (lambda: smooth_floor(torch.randn(3), 0.1, low=0.5), TypeError, "low"),
        (lambda: SmoothReLU(0.0), ValueError, "width"),
    ],
)
def test_bad_input(call: Callable[[], object], error: type[Exception], word: str) -> None:
    with pytest.raises(error, match=word):
        call()
