"""Tests for kexue.nn.init: relative-bound truncated normal, Gaussian moments."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from kexue.nn.init import (
    gaussian_second_moment,
    trunc_normal,
    trunc_normal_,
    trunc_normal_correction,
    truncated_normal_variance,
)


def test_gamma_matches_quadrature_and_article() -> None:
    num = integrate.quad(lambda x: x * x * math.exp(-x * x / 2), -2, 2)[0]
    den = integrate.quad(lambda x: math.exp(-x * x / 2), -2, 2)[0]
    assert truncated_normal_variance() == pytest.approx(num / den, abs=1e-12)
    assert abs(truncated_normal_variance() - 0.7737413) < 1e-7
    assert abs(trunc_normal_correction() - 1.1368472) < 1e-7
    assert abs(1 / trunc_normal_correction() - 0.87962566) < 1e-8  # the JAX/Keras constant


@given(
    a=st.floats(-6, 3, allow_nan=False),
    width=st.floats(0.05, 6, allow_nan=False),
)
def test_gamma_matches_scipy_truncnorm(a: float, width: float) -> None:
    b = a + width
    assert truncated_normal_variance(a, b) == pytest.approx(stats.truncnorm(a, b).var(), rel=1e-7)


def _tail_variance_by_quad(a: float, b: float) -> float:
    """Reference gamma(a, b) by scipy quad on the mirrored, shifted, normalised density.

    With ``a >= 0`` after mirroring, ``u = x - a`` has density proportional to
    ``exp(-(a u + u^2/2)) <= 1`` (no underflow), cut where it drops below ``exp(-60)``; the variance
    is a centred (two-pass) integral, so nothing cancels.
    """
    if b <= 0:
        a, b = -b, -a
    assert a >= 0
    hi = min(b - a, 120.0 / (a + math.sqrt(a * a + 120.0)))
    g = lambda u: math.exp(-(a * u + 0.5 * u * u))  # noqa: E731
    opts = {"epsabs": 0.0, "epsrel": 1e-13, "limit": 200}
    z = integrate.quad(g, 0.0, hi, **opts)[0]
    m = integrate.quad(lambda u: u * g(u), 0.0, hi, **opts)[0] / z
    return integrate.quad(lambda u: (u - m) ** 2 * g(u), 0.0, hi, **opts)[0] / z


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (8.0, 9.0),  # naive closed form: 4.16 (Phi(9) - Phi(8) cancels in 1 - eps)
        (-9.0, -8.0),
        (12.0, 13.0),  # naive: "zero normal probability"
        (-13.0, -12.0),
        (30.0, 31.0),
        (-31.0, -30.0),
        (40.0, 41.0),  # Phi(41) - Phi(40) underflows even in the left tail
        (6.0, 6.001),  # narrow and in the tail
        (1e3, 1e3 + 0.5),
        (5.0, math.inf),
        (-math.inf, -20.0),
    ],
)
def test_gamma_stable_in_both_tails(a: float, b: float) -> None:
    ref = _tail_variance_by_quad(a, b)
    got = truncated_normal_variance(a, b)
    assert got == pytest.approx(ref, rel=1e-10)
    assert truncated_normal_variance(-b, -a) == pytest.approx(ref, rel=1e-10)  # symmetric


def test_gamma_tail_known_values() -> None:
    assert truncated_normal_variance(8.0, 9.0) == pytest.approx(0.014148542782748111, rel=1e-12)
    # one-sided tail: gamma = 1/a^2 - 6/a^4 + O(a^-6), far beyond where Phi underflows
    for a in (1e3, 1e6, 1e100):
        assert truncated_normal_variance(a, math.inf) == pytest.approx(
            (1 - 6 / a / a) / a / a, rel=1e-9
        )
        assert truncated_normal_variance(-math.inf, -a) == pytest.approx(1 / a**2, rel=1e-5)


def test_gamma_narrow_interval_is_uniform_variance() -> None:
    for a, w in ((0.0, 1e-9), (-1e-9, 1e-9), (3.0, 1e-7), (-20.0, 1e-8)):
        assert truncated_normal_variance(a, a + w) == pytest.approx(w * w / 12, rel=1e-6)


def test_gamma_infinite_bounds() -> None:
    assert truncated_normal_variance(-math.inf, math.inf) == pytest.approx(1.0)
    assert truncated_normal_variance(0.0, math.inf) == pytest.approx(1 - 2 / math.pi)


def _se_std(x: torch.Tensor) -> float:
    """Standard error of the sample std (delta method with the sample kurtosis)."""
    n = x.numel()
    kurt = float(((x - x.mean()) ** 4).mean() / x.var(unbiased=False) ** 2)
    return float(x.std()) * math.sqrt((kurt - 1) / (4 * n))


@pytest.mark.parametrize("sigma", [0.02, 1.0, 3.0])
def test_sample_std_matches_request_within_sampling_error(sigma: float) -> None:
    g = torch.Generator().manual_seed(0)
    x = trunc_normal((400_000,), std=sigma, mean=1.5, dtype=torch.float64, generator=g)
    assert abs(float(x.std()) - sigma) <= 4 * _se_std(x)
    assert abs(float(x.mean()) - 1.5) <= 4 * sigma / math.sqrt(x.numel())
    # truncation really happens, at +-2 pre-truncation stds (relative bounds)
    c = 2 * trunc_normal_correction() * sigma
    assert float((x - 1.5).abs().max()) <= c + 1e-12
    assert float((x - 1.5).abs().max()) >= 0.99 * c  # the bound is reached, nothing beyond
    raw = trunc_normal(
        (400_000,), std=sigma, correct_variance=False, dtype=torch.float64, generator=g
    )
    assert abs(float(raw.std()) - 0.87962566 * sigma) <= 4 * _se_std(raw)
    assert float(raw.abs().max()) <= 2 * sigma


def test_distribution_is_truncnorm_ks() -> None:
    g = torch.Generator().manual_seed(1)
    x = trunc_normal((20_000,), std=0.02, correct_variance=False, dtype=torch.float64, generator=g)
    assert stats.kstest(x.numpy() / 0.02, stats.truncnorm(-2, 2).cdf).pvalue > 1e-3


def test_torch_absolute_bounds_pitfall() -> None:
    """torch's trunc_normal_(std=0.02) with a=-2, b=2 never truncates; ours does."""
    torch.manual_seed(0)
    t = torch.nn.init.trunc_normal_(torch.empty(200_000, dtype=torch.float64), std=0.02)
    assert float((t.abs() > 2 * 0.02).double().mean()) == pytest.approx(0.0455, abs=0.003)
    assert (
        abs(float(t.std()) / 0.02 - 1.0) < 0.01
    )  # already the full std: dividing by 0.8796 is wrong
    ours = trunc_normal_(torch.empty(200_000, dtype=torch.float64), std=0.02)
    assert float((ours.abs() > 2 * 1.1368473 * 0.02).sum()) == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_has_no_outliers(dtype: torch.dtype) -> None:
    w = trunc_normal_(torch.empty(100_000, dtype=dtype), std=1e-3)
    assert w.dtype == dtype
    assert float(w.float().abs().max()) <= 2 * 1.1368473e-3 * 1.01


def test_generator_reproducible_and_in_place() -> None:
    a = trunc_normal((5,), generator=torch.Generator().manual_seed(3))
    b = trunc_normal((5,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    p = torch.nn.Parameter(torch.zeros(4, 4))
    assert trunc_normal_(p, std=0.1) is p and p.requires_grad


@pytest.mark.parametrize(
    ("call", "error", "arg"),
    [
        (lambda: trunc_normal((3,), std=0.0), ValueError, "std"),
        (lambda: trunc_normal((3,), std=-1.0), ValueError, "std"),
        (lambda: trunc_normal((3,), bound=0.0), ValueError, "bound"),
        (lambda: trunc_normal((3,), mean=math.nan), ValueError, "mean"),
        (lambda: trunc_normal((3,), std="1"), TypeError, "std"),
        (lambda: trunc_normal((3,), dtype=torch.long), TypeError, "dtype"),
        (lambda: trunc_normal_(np.zeros(3)), TypeError, "tensor"),
        (lambda: trunc_normal_(torch.zeros(3, dtype=torch.long)), TypeError, "tensor"),
        (lambda: truncated_normal_variance(2.0, 1.0), ValueError, "a < b"),
        (lambda: trunc_normal_correction(-1.0), ValueError, "bound"),
        (lambda: gaussian_second_moment(torch.tanh, std=0.0), ValueError, "std"),
    ],
)
def test_bad_input(call, error: type[Exception], arg: str) -> None:
    with pytest.raises(error, match=arg):
        call()


def test_gaussian_second_moment() -> None:
    assert abs(gaussian_second_moment(torch.sigmoid) - 0.2933790) < 1e-7
    assert gaussian_second_moment(lambda z: z) == pytest.approx(1.0, abs=1e-12)
    assert gaussian_second_moment(lambda z: z, mean=2.0, std=3.0) == pytest.approx(13.0)
    assert gaussian_second_moment(torch.relu) == pytest.approx(
        0.5, abs=1e-12
    )  # kink at a panel edge
    assert gaussian_second_moment(torch.relu, mean=0.3) == pytest.approx(
        integrate.quad(lambda x: max(x, 0) ** 2 * stats.norm.pdf(x, 0.3), 0, np.inf)[0], abs=1e-10
    )
    tanh_ref = integrate.quad(lambda z: math.tanh(z) ** 2 * stats.norm.pdf(z), -np.inf, np.inf)[0]
    assert gaussian_second_moment(torch.tanh) == pytest.approx(tanh_ref, abs=1e-9)


def test_selu_constants_follow_from_moments() -> None:
    """torch's SELU has mean 0 and second moment 1 under N(0, 1) (the tuned-activation rule)."""
    selu = torch.nn.functional.selu
    assert gaussian_second_moment(selu) == pytest.approx(1.0, abs=1e-6)
