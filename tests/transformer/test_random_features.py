"""Tests for kexue.transformer.random_features: Gaussian orthogonal random matrices, FAVOR+ features."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chi, kstest

from kexue.transformer.linear_attention import linear_attention
from kexue.transformer.random_features import (
    gaussian_orthogonal_random_matrix,
    positive_random_features,
)

D64 = torch.float64
UNBIASED: dict[str, Any] = {"stabilize": False, "eps": 0.0}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _pairs(n_pairs: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random q, k with norms <= 1."""
    g = _gen(seed)
    q = torch.nn.functional.normalize(torch.randn(n_pairs, d, generator=g, dtype=D64), dim=-1)
    k = torch.nn.functional.normalize(torch.randn(n_pairs, d, generator=g, dtype=D64), dim=-1)
    q = q * torch.rand(n_pairs, 1, generator=g, dtype=D64)
    k = k * torch.rand(n_pairs, 1, generator=g, dtype=D64)
    return q, k


def _estimates(
    q: torch.Tensor,
    k: torch.Tensor,
    m: int,
    draws: int,
    orth: bool,
    seed: int,
    scale: float | None = 1.0,
) -> torch.Tensor:
    """``(draws, pairs)`` independent unbiased estimates; one set of whole blocks per draw."""
    d = q.shape[-1]
    if orth and m % d:  # keep draws independent: whole blocks per draw
        raise AssertionError("use m divisible by d")
    w = gaussian_orthogonal_random_matrix(m * draws, d, _gen(seed), orth, dtype=D64)
    w = w.reshape(draws, m, d)
    fq = positive_random_features(q.expand(draws, *q.shape), w, True, scale=scale, **UNBIASED)
    fk = positive_random_features(k.expand(draws, *k.shape), w, False, scale=scale, **UNBIASED)
    return (fq * fk).sum(-1)


def _x(*shape: int, scale: float = 1.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed), dtype=D64) * scale


# ---------------------------------------------------------------- random matrix


def test_orthogonal_blocks_and_chi_norms() -> None:
    d, m = 8, 20  # two whole blocks and a partial one
    w = gaussian_orthogonal_random_matrix(m, d, _gen(1), dtype=D64)
    assert w.shape == (m, d)
    for lo in range(0, m, d):
        blk = w[lo : lo + d]
        unit = blk / blk.norm(dim=1, keepdim=True)
        gram = unit @ unit.T
        torch.testing.assert_close(gram, torch.eye(len(blk), dtype=D64), atol=1e-12, rtol=0)
    # blocks are independent: rows of different blocks are not orthogonal
    cross = (w[:d] / w[:d].norm(dim=1, keepdim=True)) @ (
        w[d : 2 * d] / w[d : 2 * d].norm(dim=1)[:, None]
    ).T
    assert float(cross.abs().max()) > 0.1
    big = gaussian_orthogonal_random_matrix(8000, d, _gen(2), dtype=D64)
    norms = big.norm(dim=1)
    assert abs(float(norms.mean()) - chi(d).mean()) < 0.03
    assert abs(float(norms.var()) - chi(d).var()) < 0.03
    assert kstest(norms.numpy(), chi(d).cdf).pvalue > 1e-3  # the whole law, not two moments
    cov = big.T @ big / len(big)  # rows marginally N(0, I)
    torch.testing.assert_close(cov, torch.eye(d, dtype=D64), atol=0.05, rtol=0)


def test_iid_rows_are_standard_gaussian() -> None:
    w = gaussian_orthogonal_random_matrix(6000, 5, _gen(3), orthogonal=False, dtype=D64)
    assert kstest(w.flatten().numpy(), "norm").pvalue > 1e-3
    assert kstest(w.norm(dim=1).numpy(), chi(5).cdf).pvalue > 1e-3
    # i.i.d. rows: consecutive rows are not orthogonal
    unit = w[:5] / w[:5].norm(dim=1, keepdim=True)
    assert float((unit @ unit.T - torch.eye(5, dtype=D64)).abs().max()) > 0.1


def test_fixed_and_qmc_scaling_and_iid() -> None:
    w = gaussian_orthogonal_random_matrix(10, 4, _gen(0), scaling="fixed", dtype=D64)
    torch.testing.assert_close(w.norm(dim=1), torch.full((10,), 2.0, dtype=D64))
    w = gaussian_orthogonal_random_matrix(10, 4, _gen(0), scaling="qmc", dtype=D64)
    want = torch.as_tensor(chi(4).ppf([i / 11 for i in range(1, 11)]), dtype=D64)
    torch.testing.assert_close(w.norm(dim=1).sort().values, want)
    assert not torch.equal(w.norm(dim=1), want)  # randomly permuted, not sorted
    a = gaussian_orthogonal_random_matrix(6, 4, _gen(3), orthogonal=False)
    b = gaussian_orthogonal_random_matrix(6, 4, _gen(3), orthogonal=False)
    assert torch.equal(a, b) and a.dtype == torch.float32
    assert not torch.equal(a, gaussian_orthogonal_random_matrix(6, 4, _gen(4), orthogonal=False))
    fixed_iid = gaussian_orthogonal_random_matrix(7, 3, _gen(5), False, scaling="fixed", dtype=D64)
    torch.testing.assert_close(fixed_iid.norm(dim=1), torch.full((7,), math.sqrt(3), dtype=D64))


def test_drawn_in_float64_then_cast() -> None:
    for scaling in ("chi", "fixed", "qmc"):
        w64 = gaussian_orthogonal_random_matrix(9, 4, _gen(8), scaling=scaling, dtype=D64)
        w32 = gaussian_orthogonal_random_matrix(9, 4, _gen(8), scaling=scaling, device="cpu")
        assert w32.dtype == torch.float32 and w64.dtype == D64
        assert torch.equal(w32, w64.float())


def test_global_generator_by_default() -> None:
    torch.manual_seed(11)
    a = gaussian_orthogonal_random_matrix(5, 3)
    torch.manual_seed(11)
    assert torch.equal(a, gaussian_orthogonal_random_matrix(5, 3))


@given(
    m=st.integers(1, 30),
    d=st.integers(1, 7),
    orthogonal=st.booleans(),
    scaling=st.sampled_from(["chi", "fixed", "qmc"]),
    seed=st.integers(0, 10_000),
)
def test_random_matrix_laws(m: int, d: int, orthogonal: bool, scaling: Any, seed: int) -> None:
    w = gaussian_orthogonal_random_matrix(m, d, _gen(seed), orthogonal, scaling=scaling, dtype=D64)
    assert w.shape == (m, d) and bool(torch.isfinite(w).all())
    norms = w.norm(dim=1)
    if scaling == "fixed":
        torch.testing.assert_close(norms, torch.full((m,), math.sqrt(d), dtype=D64))
    elif scaling == "qmc":
        want = torch.as_tensor(chi(d).ppf([i / (m + 1) for i in range(1, m + 1)]), dtype=D64)
        torch.testing.assert_close(norms.sort().values, want)
    if orthogonal:
        unit = w / norms[:, None]
        for lo in range(0, m, d):
            blk = unit[lo : lo + d]
            torch.testing.assert_close(
                blk @ blk.T, torch.eye(len(blk), dtype=D64), atol=1e-12, rtol=0
            )


def test_random_matrix_bad_input() -> None:
    with pytest.raises(TypeError, match="m"):
        gaussian_orthogonal_random_matrix(2.0, 4)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="d"):
        gaussian_orthogonal_random_matrix(2, True)
    with pytest.raises(ValueError, match="m"):
        gaussian_orthogonal_random_matrix(0, 4)
    with pytest.raises(ValueError, match="d"):
        gaussian_orthogonal_random_matrix(4, 0)
    with pytest.raises(ValueError, match="scaling"):
        gaussian_orthogonal_random_matrix(4, 4, scaling="unit")  # type: ignore[arg-type]


# ---------------------------------------------------------------- features: closed form


def test_features_closed_form() -> None:
    x = _x(2, 5, 4, seed=1)
    w = gaussian_orthogonal_random_matrix(6, 4, _gen(2), dtype=D64)
    s = 4**-0.25  # the default scale d^{-1/4}
    want = torch.exp(s * x @ w.T - s * s * (x * x).sum(-1, keepdim=True) / 2) / math.sqrt(6)
    torch.testing.assert_close(positive_random_features(x, w, True, **UNBIASED), want)
    torch.testing.assert_close(positive_random_features(x, w, False, **UNBIASED), want)
    s = 0.3
    want = torch.exp(s * x @ w.T - s * s * (x * x).sum(-1, keepdim=True) / 2) / math.sqrt(6)
    got = positive_random_features(x, w, True, scale=s, stabilize=False, eps=0.01)
    torch.testing.assert_close(got, want + 0.01 / math.sqrt(6))


def test_docstring_example() -> None:
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    got = positive_random_features(torch.zeros(1, 2), w, True, stabilize=False, eps=0.0)
    torch.testing.assert_close(got, torch.full((1, 2), 2**-0.5))


def test_batched_projection_broadcasts() -> None:
    x = _x(2, 3, 5, 4, seed=3)
    w = torch.stack([gaussian_orthogonal_random_matrix(8, 4, _gen(i), dtype=D64) for i in (4, 5)])
    got = positive_random_features(x, w[:, None], False)  # (2, 1, 8, 4) against (2, 3, 5, 4)
    for b in range(2):
        torch.testing.assert_close(got[b], positive_random_features(x[b], w[b], False))


def test_graph_and_in_place_paths_agree_and_gradcheck() -> None:
    x = _x(2, 5, 3, seed=6)
    w = gaussian_orthogonal_random_matrix(6, 3, _gen(7), dtype=D64)
    for iq in (True, False):
        plain = positive_random_features(x, w, iq)
        graph = positive_random_features(x.clone().requires_grad_(), w, iq)
        torch.testing.assert_close(graph.detach(), plain, rtol=0, atol=0)
    args = (x.clone().requires_grad_(), w.clone().requires_grad_())

    def fn(xx: torch.Tensor, ww: torch.Tensor) -> torch.Tensor:
        return positive_random_features(xx, ww, True, scale=0.7, stabilize=False, eps=0.1)

    assert torch.autograd.gradcheck(fn, args)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_computed_in_float32(dtype: torch.dtype) -> None:
    x = _x(3, 6, 4, seed=8).to(dtype)
    w = gaussian_orthogonal_random_matrix(16, 4, _gen(9))
    got = positive_random_features(x, w, False)
    assert got.dtype == dtype
    ref = positive_random_features(x.float(), w, False)
    torch.testing.assert_close(got.float(), ref.to(dtype).float(), rtol=0, atol=0)


# ---------------------------------------------------------------- features: estimator


@pytest.mark.parametrize(("orth", "scale"), [(False, 1.0), (True, 1.0), (True, None)])
def test_unbiased_mean_within_monte_carlo_error(orth: bool, scale: float | None) -> None:
    d, draws = 16, 10000
    q, k = _pairs(6, d, seed=5)
    est = _estimates(q, k, m=16, draws=draws, orth=orth, seed=6, scale=scale)
    s2 = d**-0.5 if scale is None else scale**2  # E = exp(s^2 q.k)
    truth = torch.exp(s2 * (q * k).sum(-1))
    stderr = est.std(0) / math.sqrt(draws)
    z = (est.mean(0) - truth) / stderr
    assert float(z.abs().max()) < 4.5, z  # 6 pairs: |z| > 4.5 has probability ~4e-5
    assert bool((est > 0).all())


def test_orthogonal_lower_mse_than_iid() -> None:
    q, k = _pairs(8, 16, seed=7)
    q = torch.nn.functional.normalize(q, dim=-1) * 0.5  # light tails: the MSEs are stable
    k = torch.nn.functional.normalize(k, dim=-1) * 0.5
    truth = torch.exp((q * k).sum(-1))
    for m in (16, 32, 64):
        mse = {
            orth: ((_estimates(q, k, m, 1500, orth, seed=m) - truth) ** 2).mean(0)
            for orth in (False, True)
        }
        assert bool((mse[True] < mse[False]).all()), (m, mse)
        assert float(mse[True].mean()) < 0.92 * float(mse[False].mean()), (m, mse)


def test_positive_beats_trig_features() -> None:
    g = _gen(9)
    d, m, draws = 16, 64, 2000
    q = torch.nn.functional.normalize(torch.randn(d, generator=g, dtype=D64), dim=0) * 1.5
    k = -0.8 * q + 0.3 * torch.nn.functional.normalize(
        torch.randn(d, generator=g, dtype=D64), dim=0
    )
    dot = float(q @ k)
    assert -3 <= dot <= -1
    w = gaussian_orthogonal_random_matrix(m * draws, d, g, dtype=D64).reshape(draws, m, d)
    kw: dict[str, Any] = {"scale": 1.0, **UNBIASED}
    pos = (
        positive_random_features(q.expand(draws, 1, d), w, True, **kw)
        * positive_random_features(k.expand(draws, 1, d), w, False, **kw)
    ).sum(-1)[:, 0]
    trig = math.exp((q @ q + k @ k).item() / 2) * torch.cos(w @ (q - k)).mean(-1)  # sin/cos map
    truth = math.exp(dot)
    rmse_pos = float(((pos - truth) ** 2).mean().sqrt()) / truth
    rmse_trig = float(((trig - truth) ** 2).mean().sqrt()) / truth
    assert bool((pos > 0).all()) and bool((trig < 0).any())
    assert rmse_pos < rmse_trig / 5, (rmse_pos, rmse_trig)


# ---------------------------------------------------------------- stabilisers and masks


def test_stabilisers_are_constants_that_cancel_in_attention() -> None:
    q, k, v = (
        _x(2, 2, 12, 8, scale=2.0, seed=0),
        _x(2, 2, 12, 8, scale=2.0, seed=1),
        _x(2, 2, 12, 3),
    )
    w = gaussian_orthogonal_random_matrix(32, 8, _gen(0), dtype=D64)
    raw_q, raw_k = (positive_random_features(x, w, iq, **UNBIASED) for x, iq in ((q, 1), (k, 0)))
    fq = positive_random_features(q, w, True, eps=0.0)
    fk = positive_random_features(k, w, False, eps=0.0)
    # queries: one constant per row; keys: one scalar per (batch, head), a per-key max would not do
    ratio_q, ratio_k = fq / raw_q, fk / raw_k
    torch.testing.assert_close(ratio_q, ratio_q[..., :1].expand_as(ratio_q), rtol=1e-9, atol=0)
    torch.testing.assert_close(ratio_k, ratio_k[..., :1, :1].expand_as(ratio_k), rtol=1e-9, atol=0)
    assert not torch.allclose(ratio_k[0, 0], ratio_k[1, 1])
    torch.testing.assert_close(
        linear_attention(fq, fk, v), linear_attention(raw_q, raw_k, v), rtol=1e-10, atol=1e-12
    )
    # the largest feature is exactly m^{-1/2} (1 + eps): per row for queries, per head for keys
    eps = 1e-4
    top = 32**-0.5 * (1 + eps)
    fq, fk = positive_random_features(q, w, True), positive_random_features(k, w, False)
    torch.testing.assert_close(fq.amax(-1), torch.full(fq.shape[:-1], top, dtype=D64))
    torch.testing.assert_close(fk.amax((-2, -1)), torch.full(fk.shape[:-2], top, dtype=D64))


def test_large_inputs_stay_finite_with_stabiliser() -> None:
    x = _x(2, 16, 8, scale=30.0, seed=2).float()
    w = gaussian_orthogonal_random_matrix(64, 8, _gen(0))
    raw = positive_random_features(x, w, True, **UNBIASED)
    assert bool((raw == 0).all())  # without the stabiliser every feature underflows
    for iq in (True, False):
        phi = positive_random_features(x, w, iq)
        assert bool(torch.isfinite(phi).all()) and bool((phi > 0).all())


def test_masked_keys_are_zero_and_excluded_from_the_key_max() -> None:
    k = _x(3, 14, 8, seed=4)
    lengths = [14, 9, 3]
    mask = torch.arange(14)[None] < torch.tensor(lengths)[:, None]
    k = k.masked_fill(~mask[..., None], 50.0)  # huge padded keys must not set the stabiliser
    w = gaussian_orthogonal_random_matrix(32, 8, _gen(5), dtype=D64)
    phi = positive_random_features(k, w, False, mask=mask)
    assert bool((phi[~mask] == 0).all())
    for i, n in enumerate(lengths):
        alone = positive_random_features(k[i, :n], w, False)
        torch.testing.assert_close(phi[i, :n], alone, rtol=1e-12, atol=0)
    none = positive_random_features(k, w, False, mask=torch.zeros(3, 14, dtype=torch.bool))
    assert bool((none == 0).all())  # all keys masked: zeros, not NaN


@given(
    n=st.integers(1, 8),
    d=st.integers(1, 6),
    m=st.integers(1, 12),
    scale=st.floats(0.1, 3.0),
    is_query=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_features_positive_and_shaped(
    n: int, d: int, m: int, scale: float, is_query: bool, seed: int
) -> None:
    x = _x(2, n, d, scale=scale, seed=seed)
    w = gaussian_orthogonal_random_matrix(m, d, _gen(seed + 1), dtype=D64)
    phi = positive_random_features(x, w, is_query)
    assert phi.shape == (2, n, m) and phi.dtype == D64
    assert bool((phi >= 1e-4 * m**-0.5).all()) and bool((phi <= (1 + 1e-4) * m**-0.5).all())


def test_feature_bad_inputs_name_the_argument() -> None:
    x = _x(2, 4, 8)
    w = gaussian_orthogonal_random_matrix(8, 8, dtype=D64)
    with pytest.raises(TypeError, match="x"):
        positive_random_features(x.long(), w, True)
    with pytest.raises(TypeError, match="x"):
        positive_random_features(x.tolist(), w, True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="x"):
        positive_random_features(x[0, 0], w, True)
    with pytest.raises(ValueError, match="x"):
        positive_random_features(x[:, :0], w, True)
    with pytest.raises(ValueError, match="x"):
        positive_random_features(x.clone().fill_(math.inf), w, True)
    with pytest.raises(TypeError, match="projection"):
        positive_random_features(x, w.long(), True)
    with pytest.raises(ValueError, match="projection"):
        positive_random_features(x, w[:, :4], True)
    with pytest.raises(ValueError, match="projection"):
        positive_random_features(x, w.clone().fill_(math.nan), True)
    with pytest.raises(ValueError, match="eps"):
        positive_random_features(x, w, True, eps=-1e-3)
    with pytest.raises(ValueError, match="scale"):
        positive_random_features(x, w, True, scale=0.0)
    with pytest.raises(TypeError, match="mask"):
        positive_random_features(x, w, False, mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="mask"):
        positive_random_features(x, w, False, mask=torch.ones(3, dtype=torch.bool))
