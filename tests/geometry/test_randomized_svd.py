"""Randomised SVD: exact SVD and scikit-learn on digits, Halko's error bound, batching, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.utils.extmath import randomized_svd as sk_randomized_svd

from kexue.geometry.randomized_svd import (
    _orthonormal_basis,
    randomized_range_finder,
    randomized_svd,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def with_spectrum(m: int, n: int, sigma: torch.Tensor, seed: int = 0) -> torch.Tensor:
    r = sigma.numel()
    u, _ = torch.linalg.qr(torch.randn(m, r, dtype=torch.float64, generator=gen(seed)))
    v, _ = torch.linalg.qr(torch.randn(n, r, dtype=torch.float64, generator=gen(seed + 1)))
    return (u * sigma) @ v.T


def test_digits_matches_exact_and_sklearn() -> None:
    a = torch.tensor(load_digits().data, dtype=torch.float64)  # (1797, 64)
    u, s, v = randomized_svd(a, 10, n_oversamples=10, n_iter=4, generator=gen(0))
    exact = torch.linalg.svdvals(a)[:10]
    _, s_sk, _ = sk_randomized_svd(a.numpy(), 10, n_oversamples=10, n_iter=4, random_state=0)
    assert ((s - exact).abs() / exact).max().item() < 1e-4
    np.testing.assert_allclose(s.numpy(), s_sk, rtol=1e-4)
    eye = torch.eye(10, dtype=torch.float64)
    torch.testing.assert_close(u.T @ u, eye, rtol=0, atol=1e-10)
    torch.testing.assert_close(v.T @ v, eye, rtol=0, atol=1e-10)
    best = torch.linalg.svdvals(a)[10:].pow(2).sum().sqrt()
    err = torch.linalg.matrix_norm(a - (u * s) @ v.T)
    assert err.item() <= 1.001 * best.item()


def test_exact_low_rank_recovery_and_sign_convention() -> None:
    a = with_spectrum(80, 50, torch.tensor([9.0, 5.0, 3.0, 2.0, 1.0], dtype=torch.float64))
    u, s, v = randomized_svd(a, 5, n_oversamples=2, n_iter=0, generator=gen(1))
    torch.testing.assert_close(s, torch.tensor([9.0, 5.0, 3.0, 2.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close((u * s) @ v.T, a, rtol=0, atol=1e-10)
    top = torch.gather(u, 0, u.abs().argmax(0, keepdim=True))
    assert (top > 0).all()
    u2, _, _ = randomized_svd(a, 5, generator=gen(2))
    torch.testing.assert_close(u2, u, rtol=0, atol=1e-8)  # deterministic signs across seeds


def test_halko_frobenius_bound() -> None:
    # E||A - QQ^T A||_F <= sqrt(1 + k/(p-1)) (sum_{j>k} sigma_j^2)^(1/2)  (Halko et al. Thm 10.5)
    k, p = 10, 5
    sigma = 1.0 / torch.arange(1, 61, dtype=torch.float64)  # slowly decaying spectrum
    a = with_spectrum(200, 120, sigma, seed=3)
    tail = sigma[k:].pow(2).sum().sqrt().item()
    errs = []
    for seed in range(30):
        q = randomized_range_finder(a, k + p, n_iter=0, generator=gen(seed))
        errs.append(torch.linalg.matrix_norm(a - q @ (q.T @ a)).item())
    bound = math.sqrt(1 + k / (p - 1)) * tail
    assert np.mean(errs) <= bound
    # Eckart-Young: no rank-(k + p) projection beats the optimal rank-(k + p) error
    assert min(errs) >= sigma[k + p :].pow(2).sum().sqrt().item() * (1 - 1e-12)
    # power iterations move the error towards the optimum
    q2 = [randomized_range_finder(a, k + p, n_iter=3, generator=gen(s)) for s in range(10)]
    errs2 = [torch.linalg.matrix_norm(a - q @ (q.T @ a)).item() for q in q2]
    assert np.mean(errs2) < np.mean(errs)


def test_batched_and_dtypes() -> None:
    sig = torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)
    a = torch.stack([with_spectrum(30, 20, sig * (i + 1), seed=10 * i) for i in range(3)])
    u, s, v = randomized_svd(a.reshape(3, 1, 30, 20), 3, generator=gen(0))
    assert u.shape == (3, 1, 30, 3) and s.shape == (3, 1, 3) and v.shape == (3, 1, 20, 3)
    torch.testing.assert_close(s.reshape(3, 3), torch.stack([sig * (i + 1) for i in range(3)]))
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        out = randomized_svd(a[0].to(dtype), 2, generator=gen(0))
        assert all(t.dtype == dtype for t in out)


def test_agrees_with_torch_svd_lowrank() -> None:
    sigma = 2.0 ** -torch.arange(0, 30, dtype=torch.float64)
    a = with_spectrum(100, 70, sigma, seed=4)
    _, s, _ = randomized_svd(a, 8, generator=gen(0))
    _, s_t, _ = torch.svd_lowrank(a, q=18, niter=4)
    torch.testing.assert_close(s, s_t[:8], rtol=1e-8, atol=0)


def test_gradcheck_singular_values() -> None:
    a = with_spectrum(7, 5, torch.tensor([3.0, 2.0, 1.0, 0.5, 0.2], dtype=torch.float64))
    a.requires_grad_(True)
    torch.autograd.gradcheck(lambda m: randomized_svd(m, 3, generator=gen(0))[1], (a,))


def test_bad_input() -> None:
    a = torch.randn(6, 4)
    with pytest.raises(ValueError, match="rank must be <= min"):
        randomized_svd(a, 5)
    with pytest.raises(ValueError, match="rank"):
        randomized_svd(a, 0)
    with pytest.raises(TypeError, match="rank"):
        randomized_svd(a, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_iter"):
        randomized_svd(a, 2, n_iter=-1)
    with pytest.raises(ValueError, match="a contains"):
        randomized_svd(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="a must have at least 2"):
        randomized_svd(torch.randn(5), 1)
    with pytest.raises(TypeError, match="a must be a floating"):
        randomized_svd(torch.ones(3, 3, dtype=torch.int64), 1)
    with pytest.raises(ValueError, match="size"):
        randomized_range_finder(a, 5)


# --- CholeskyQR2 between power iterations and its Householder fallback ----------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cholesky_qr_basis_is_orthonormal_and_spans_the_same_range(dtype: torch.dtype) -> None:
    y = torch.randn(500, 30, dtype=torch.float64, generator=gen(7)).to(dtype)
    q = _orthonormal_basis(y)
    q_ref = torch.linalg.qr(y).Q
    eye = torch.eye(30, dtype=dtype)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(q.mT @ q, eye, rtol=0, atol=tol)
    torch.testing.assert_close(q @ q.mT, q_ref @ q_ref.mT, rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_householder_fallback_for_rank_deficient_and_ill_conditioned(dtype: torch.dtype) -> None:
    low_rank = torch.randn(200, 4, dtype=torch.float64, generator=gen(8)) @ torch.randn(
        4, 10, dtype=torch.float64, generator=gen(9)
    )
    sigma = 10.0 ** -torch.arange(0, 10, dtype=torch.float64)  # cond 1e9: Cholesky loses it
    ill = with_spectrum(200, 10, sigma, seed=10)
    for y in (low_rank.to(dtype), ill.to(dtype)):
        q = _orthonormal_basis(y)
        assert torch.isfinite(q).all()
        eye = torch.eye(10, dtype=dtype)
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        torch.testing.assert_close(q.mT @ q, eye, rtol=0, atol=tol)
        q_ref = torch.linalg.qr(y).Q
        torch.testing.assert_close(q, q_ref, rtol=0, atol=0)  # the fallback is Householder's


def test_fast_path_matches_householder_range_finder() -> None:
    # The same sketch orthonormalised by Householder QR at every step gives the same subspace.
    a = with_spectrum(300, 120, torch.logspace(2, -1, 40, dtype=torch.float64), seed=11)
    q = randomized_range_finder(a, 20, n_iter=3, generator=gen(12))
    omega = torch.randn(120, 20, dtype=torch.float64, generator=gen(12))
    q_ref = torch.linalg.qr(a @ omega).Q
    for _ in range(3):
        q_ref = torch.linalg.qr(a @ torch.linalg.qr(a.T @ q_ref).Q).Q
    torch.testing.assert_close(q @ q.T, q_ref @ q_ref.T, rtol=0, atol=1e-12)


def test_nan_still_raises_and_batched_fallback() -> None:
    a = torch.randn(2, 40, 30, dtype=torch.float64, generator=gen(13))
    a[1, 3, 4] = float("inf")
    with pytest.raises(ValueError, match="a contains 1 NaN"):
        randomized_svd(a, 3)
    # one rank-deficient matrix in a batch sends the whole batch to Householder: still exact
    b = torch.stack(
        [with_spectrum(40, 30, torch.tensor([3.0, 2.0, 1.0]).double(), seed=s) for s in (0, 1)]
    )
    u, s, v = randomized_svd(b, 3, n_oversamples=5, generator=gen(14))
    torch.testing.assert_close((u * s.unsqueeze(-2)) @ v.mT, b, rtol=0, atol=1e-10)
