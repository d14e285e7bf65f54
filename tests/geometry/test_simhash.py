"""SimHash: bit-collision probability θ/π, the corrected cos(πh) estimator, module form, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kexue.geometry.simhash import SimHash, sign_cosine, simhash, simhash_cosine


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def pair_at_angle(theta: float, dim: int = 50, seed: int = 100) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(dim, 2, dtype=torch.float64, generator=gen(seed)))
    u, w = q[:, 0], q[:, 1]
    return torch.stack([u, math.cos(theta) * u + math.sin(theta) * w])  # (2, dim)


@pytest.mark.parametrize("degrees", [20, 45, 60, 80, 120])
def test_bit_flip_probability_and_estimators(degrees: float) -> None:
    theta = math.radians(degrees)
    n_bits = 20_000
    codes = simhash(pair_at_angle(theta), n_bits, generator=gen(1))
    p = theta / math.pi
    h = (codes[0] != codes[1]).double().mean().item()
    assert abs(h - p) < 5 * math.sqrt(p * (1 - p) / n_bits)
    est = simhash_cosine(codes[0], codes[1]).item()
    se = math.pi * math.sin(theta) * math.sqrt(p * (1 - p) / n_bits)
    assert abs(est - math.cos(theta)) < 5 * se
    assert est == pytest.approx(math.cos(math.pi * h), abs=1e-12)
    raw = sign_cosine(codes[0], codes[1]).item()
    assert raw == pytest.approx(1 - 2 * h, abs=1e-12)
    assert abs(raw - (1 - 2 * p)) < 10 * math.sqrt(p * (1 - p) / n_bits)


def test_sign_cosine_is_not_cosine() -> None:
    # the article's reading cos(sign(Av_i), sign(Av_j)) ~ cos θ is off by 0.2 at 45°
    codes = simhash(pair_at_angle(math.pi / 4), 4096, generator=gen(2))
    assert abs(sign_cosine(codes[0], codes[1]).item() - math.cos(math.pi / 4)) > 0.15
    assert abs(simhash_cosine(codes[0], codes[1]).item() - math.cos(math.pi / 4)) < 0.05


def test_closed_form_on_given_codes() -> None:
    a = torch.tensor([1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0])
    b = torch.tensor([1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0])
    h = 3 / 8
    assert sign_cosine(a, b).item() == pytest.approx(1 - 2 * h)
    assert simhash_cosine(a, b).item() == pytest.approx(math.cos(math.pi * h))
    assert simhash_cosine(a, -a).item() == pytest.approx(-1.0)


@given(st.floats(0.01, 100.0))
def test_codes_depend_only_on_direction(scale: float) -> None:
    x = torch.randn(5, 12, dtype=torch.float64, generator=gen(3))
    c = simhash(x, 64, generator=gen(4))
    torch.testing.assert_close(simhash(scale * x, 64, generator=gen(4)), c)
    torch.testing.assert_close(simhash(-x, 64, generator=gen(4)), -c)
    assert set(c.unique().tolist()) <= {-1.0, 1.0}


def test_pairwise_broadcast_and_module() -> None:
    x = torch.randn(6, 12, dtype=torch.float64, generator=gen(5))
    c = simhash(x, 256, generator=gen(6))
    sims = simhash_cosine(c[:, None, :], c[None, :, :])  # (6, 6)
    assert sims.shape == (6, 6)
    torch.testing.assert_close(sims, sims.T)
    torch.testing.assert_close(sims.diagonal(), torch.ones(6, dtype=torch.float64))
    hasher = SimHash(12, 256, generator=gen(6), dtype=torch.float64)
    torch.testing.assert_close(hasher(x), c)
    assert hasher(x.float()).dtype == torch.float32


def test_estimator_error_shrinks_with_code_length() -> None:
    x = torch.randn(40, 30, dtype=torch.float64, generator=gen(7))
    xn = x / x.norm(dim=1, keepdim=True)
    true = xn @ xn.T
    errs = []
    for bits in (64, 4096):
        c = simhash(x, bits, generator=gen(8))
        errs.append((simhash_cosine(c[:, None], c[None]) - true).pow(2).mean().sqrt().item())
    assert errs[1] < errs[0] / 4  # about 1/sqrt(64) = 1/8 expected


def test_bad_input() -> None:
    codes = torch.tensor([1.0, -1.0])
    with pytest.raises(ValueError, match="codes_a must hold"):
        simhash_cosine(torch.tensor([0.5, -1.0]), codes)
    with pytest.raises(ValueError, match="codes_b must hold"):
        sign_cosine(codes, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="codes_a and codes_b"):
        simhash_cosine(codes, torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(TypeError, match="codes_a"):
        simhash_cosine(torch.tensor([1, -1]), codes)
    with pytest.raises(ValueError, match="n_bits"):
        simhash(torch.randn(2, 3), 0)
    with pytest.raises(ValueError, match="n_bits"):
        SimHash(3, 0)
    with pytest.raises(ValueError, match="x contains"):
        simhash(torch.tensor([[float("inf"), 1.0]]), 8)
