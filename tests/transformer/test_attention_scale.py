"""Tests for kexue.transformer.attention_scale: softmax_plus and attention entropy (entropy-invariant scale)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import entropy as scipy_entropy

from kexue.transformer.attention import softmax_attention
from kexue.transformer.attention_scale import SoftmaxPlus, attention_entropy, softmax_plus

D64 = torch.float64


def _sphere(n: int, d: int, g: torch.Generator) -> torch.Tensor:
    x = torch.randn(n, d, generator=g, dtype=D64)
    return x / x.norm(dim=-1, keepdim=True) * math.sqrt(d)


def _mean_entropy(n: int, lam: float, d: int = 64, n_q: int = 64, seed: int = 0) -> float:
    g = torch.Generator().manual_seed(seed)
    q, k = _sphere(n_q, d, g), _sphere(n, d, g)
    return float(attention_entropy(torch.softmax(lam * q @ k.T, -1)).mean())


@pytest.mark.parametrize("n", [16, 64, 300, 512, 2000])
def test_softmax_plus_is_softmax_of_log512_n_scaled_logits(n: int) -> None:
    s = torch.randn(3, n, dtype=D64)
    want = torch.softmax(s * math.log(max(n, 16)) / math.log(512), -1)
    torch.testing.assert_close(softmax_plus(s), want, rtol=1e-12, atol=1e-14)
    if n == 512:
        torch.testing.assert_close(softmax_plus(s), torch.softmax(s, -1), rtol=1e-12, atol=1e-14)


def test_softmax_plus_clips_short_rows_at_min_keys() -> None:
    s = torch.randn(2, 5, dtype=D64)
    torch.testing.assert_close(softmax_plus(s), torch.softmax(s * math.log(16) / math.log(512), -1))
    torch.testing.assert_close(
        softmax_plus(s, min_keys=1), torch.softmax(s * math.log(5) / math.log(512), -1)
    )


def test_padded_batch_equals_unpadded_rows() -> None:
    """n counts valid keys only: a padded row equals the same row without the padding."""
    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 40, dtype=D64, generator=g)
    lengths = [40, 25, 17]
    mask = torch.arange(40)[None] < torch.tensor(lengths)[:, None]
    p = softmax_plus(s, mask)
    for i, n in enumerate(lengths):
        torch.testing.assert_close(p[i, :n], softmax_plus(s[i, :n]), rtol=1e-12, atol=1e-14)
        assert torch.equal(p[i, n:], torch.zeros(40 - n, dtype=D64))


def test_matches_entropy_invariant_attention_core() -> None:
    """softmax_plus(QK^T/sqrt d) V equals SoftmaxAttention(scale='entropy_invariant')."""
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 2, 7, 8, generator=g, dtype=D64)
    k = torch.randn(2, 2, 30, 8, generator=g, dtype=D64)
    v = torch.randn(2, 2, 30, 3, generator=g, dtype=D64)
    mask = torch.arange(30)[None] < torch.tensor([30, 21])[:, None]
    p = softmax_plus(q @ k.transpose(-2, -1) / math.sqrt(8), mask[:, None, None, :])
    want = softmax_attention(q, k, v, mask, scale="entropy_invariant")
    torch.testing.assert_close(p @ v, want, rtol=1e-10, atol=1e-12)


def test_module_form() -> None:
    s = torch.randn(4, 9, dtype=D64)
    torch.testing.assert_close(
        SoftmaxPlus(base=64.0, min_keys=2)(s), softmax_plus(s, base=64.0, min_keys=2)
    )


@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=12))
def test_entropy_matches_scipy(weights: list[float]) -> None:
    w = np.asarray(weights) + 1e-3
    p = w / w.sum()
    got = float(attention_entropy(torch.tensor(p)))
    assert got == pytest.approx(float(scipy_entropy(p)), rel=1e-10, abs=1e-12)


def test_entropy_bounds_and_zeros() -> None:
    assert float(attention_entropy(torch.full((7,), 1 / 7, dtype=D64))) == pytest.approx(
        math.log(7)
    )
    assert float(attention_entropy(torch.tensor([1.0, 0.0, 0.0]))) == 0.0
    p = torch.softmax(torch.randn(5, 6, 11), -1)
    h = attention_entropy(p)
    assert h.shape == (5, 6) and bool((h >= 0).all()) and bool((h <= math.log(11) + 1e-6).all())


def test_entropy_trend_on_the_sphere() -> None:
    """Spec check: random q, k on the sphere of radius sqrt(d), d = 64, n = 64 ... 4096.

    Standard 1/sqrt(d) entropy grows ~1 per log n; log_512(n)/sqrt(d) grows more slowly and equals it
    at n = 512; lambda = log(n)/(0.24 d) keeps it nearly flat.
    """
    d, ns = 64, [64, 512, 4096]
    o = [_mean_entropy(n, 1 / math.sqrt(d)) for n in ns]
    e = [_mean_entropy(n, math.log(n, 512) / math.sqrt(d)) for n in ns]
    k = [_mean_entropy(n, math.log(n) / (0.24 * d)) for n in ns]
    span = math.log(4096 / 64)
    slope_o, slope_e, slope_k = ((x[-1] - x[0]) / span for x in (o, e, k))
    assert o[0] == pytest.approx(3.69, abs=0.1) and o[-1] == pytest.approx(7.83, abs=0.1)
    assert e[0] == pytest.approx(3.95, abs=0.1) and e[-1] == pytest.approx(7.47, abs=0.1)
    assert e[1] == pytest.approx(o[1], abs=1e-12)
    assert slope_e < slope_o - 0.1 and 0.9 < slope_o < 1.05
    assert abs(slope_k) < 0.2


def test_bad_inputs_name_the_argument() -> None:
    with pytest.raises(TypeError, match="scores"):
        softmax_plus(torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="scores"):
        softmax_plus(torch.tensor([0.0, math.nan]))
    with pytest.raises(ValueError, match="scores"):
        softmax_plus(torch.ones(2, 0))
    with pytest.raises(ValueError, match="mask"):
        softmax_plus(torch.ones(2, 3), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask"):
        softmax_plus(torch.ones(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match="min_keys"):
        softmax_plus(torch.ones(2, 3), min_keys=0)
    with pytest.raises(ValueError, match="base"):
        softmax_plus(torch.ones(2, 3), base=1.0)
    with pytest.raises(ValueError, match="p"):
        attention_entropy(torch.tensor([-0.1, 1.1]))
    with pytest.raises(TypeError, match="p"):
        attention_entropy(torch.tensor([0, 1]))
