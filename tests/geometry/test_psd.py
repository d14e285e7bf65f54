"""Tests for kexue.geometry.psd: PSD square roots, nuclear norm, sample covariance, checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given
from hypothesis import strategies as st

from kexue._validate import check_finite
from kexue.geometry.psd import (
    check_symmetric,
    cholesky_or_raise,
    nuclear_norm,
    psd_factor,
    safe_sqrt,
    sample_mean_cov,
    sqrtm_psd,
)

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _spd(*lead: int, d: int = 5, seed: int = 0) -> torch.Tensor:
    """Well-conditioned SPD matrices with distinct eigenvalues: ``B B^T / d + I / 2``."""
    b = torch.randn(*lead, d, d, generator=_gen(seed), dtype=F64)
    return b @ b.mT / d + 0.5 * torch.eye(d, dtype=F64)


def _orthogonal(d: int, seed: int) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(d, d, generator=_gen(seed), dtype=F64))
    return q * torch.sign(r.diagonal())


# ---------------------------------------------------------------- sqrtm_psd: values


def test_docstring_example() -> None:
    got = sqrtm_psd(torch.tensor([[4.0, 0.0], [0.0, 9.0]]))
    torch.testing.assert_close(got, torch.tensor([[2.0, 0.0], [0.0, 3.0]]))


def test_sqrtm_matches_scipy_on_spd() -> None:
    a = _spd(4, d=6, seed=1)
    root = sqrtm_psd(a)
    want = np.stack([scipy.linalg.sqrtm(m) for m in a.numpy()])
    np.testing.assert_allclose(root.numpy(), want.real, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(root @ root, a, rtol=1e-12, atol=1e-12)
    assert torch.equal(root, root.mT)  # exactly symmetric
    assert bool((torch.linalg.eigvalsh(root) > 0).all())


def test_rank_deficient_root_is_real_and_squares_back() -> None:
    b = torch.randn(3, 6, 2, generator=_gen(2), dtype=F64)
    a = b @ b.mT  # rank 2 in 6 dimensions: zero eigenvalues become +-1e-16 after rounding
    root = sqrtm_psd(a)
    assert root.dtype == F64 and bool(torch.isfinite(root).all())
    torch.testing.assert_close(root @ root, a, rtol=0, atol=1e-12)
    u, s, _ = torch.linalg.svd(b, full_matrices=False)
    exact = u @ torch.diag_embed(s) @ u.mT  # B B^T = U S^2 U^T -> root U S U^T
    # sqrt of the rounding noise of the zero eigenvalues: ~sqrt(eps) absolute, not eps
    torch.testing.assert_close(root, exact, rtol=0, atol=1e-7)
    evals = torch.linalg.eigvalsh(root)
    assert float(evals[..., :4].abs().max()) < 1e-7 < float(evals[..., 4:].min())
    torch.testing.assert_close(sqrtm_psd(torch.zeros(2, 3, 3)), torch.zeros(2, 3, 3))


def test_rounding_negative_eigenvalue_is_clamped() -> None:
    v = torch.tensor([1.0, 1.0, 1.0], dtype=F64) / math.sqrt(3)
    a = 3.0 * torch.outer(v, v)  # eigenvalues 3, 0, 0
    a = a - 1e-15 * torch.eye(3, dtype=F64)  # now -1e-15: a rounding error, not indefinite
    assert float(torch.linalg.eigvalsh(a).min()) < 0
    root = sqrtm_psd(a)
    torch.testing.assert_close(root, math.sqrt(3) * torch.outer(v, v), rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_low_precision_dtypes(dtype: torch.dtype) -> None:
    a = _spd(2, d=4, seed=3)
    got = sqrtm_psd(a.to(dtype))
    assert got.dtype == dtype  # half precision is computed in float32
    want = sqrtm_psd(a.to(dtype).double())
    tol = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}[dtype]
    torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)


@given(seed=st.integers(0, 10_000), d=st.integers(1, 6), c=st.floats(1e-3, 1e3))
def test_sqrtm_laws(seed: int, d: int, c: float) -> None:
    g = _gen(seed)
    s = torch.randn(d, d, generator=g, dtype=F64)
    s = s @ s.mT + 0.1 * torch.eye(d, dtype=F64)  # a PSD root candidate
    a = s @ s
    # uniqueness of the PSD root
    torch.testing.assert_close(sqrtm_psd(a), s, rtol=1e-7, atol=1e-9 * float(s.norm()))
    # homogeneity and orthogonal equivariance
    torch.testing.assert_close(sqrtm_psd(c * a), math.sqrt(c) * sqrtm_psd(a), rtol=1e-7, atol=1e-7)
    q = _orthogonal(d, seed + 1)
    rotated = q @ a @ q.T
    rotated = (rotated + rotated.T) / 2
    torch.testing.assert_close(sqrtm_psd(rotated), q @ sqrtm_psd(a) @ q.T, rtol=1e-7, atol=1e-7)
    # diagonal closed form
    w = torch.rand(d, generator=g, dtype=F64) * 10
    torch.testing.assert_close(sqrtm_psd(torch.diag(w)), torch.diag(w.sqrt()))


# ---------------------------------------------------------------- sqrtm_psd: gradients


def _sym_sqrtm(x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    # gradcheck perturbs single entries; symmetrise so the input stays in the domain
    return sqrtm_psd((x + x.mT) / 2, eps=eps)


def test_sqrtm_gradient_solves_the_sylvester_equation() -> None:
    # S = sqrt(A): S dS + dS S = dA, so the vector-Jacobian product with a symmetric G is the X
    # with S X + X S = G (the Sylvester operator is self-adjoint)
    a = _spd(d=5, seed=4).requires_grad_()
    gmat = torch.randn(5, 5, generator=_gen(5), dtype=F64)
    gmat = gmat + gmat.T
    root = sqrtm_psd(a)
    (grad,) = torch.autograd.grad((root * gmat).sum(), a)
    s = root.detach().numpy()
    want = scipy.linalg.solve_sylvester(s, s, gmat.numpy())
    np.testing.assert_allclose(grad.numpy(), want, rtol=1e-9, atol=1e-11)


def test_sqrtm_gradcheck() -> None:
    a = _spd(2, d=3, seed=6).requires_grad_()
    assert torch.autograd.gradcheck(_sym_sqrtm, (a,))
    assert torch.autograd.gradgradcheck(_sym_sqrtm, (a,))


def test_eps_changes_the_gradient_only() -> None:
    # an exactly zero eigenvalue: d sqrt(w) / dw is infinite there. With eps the value stays
    # sqrt(A); the gradient is the Daleckii-Krein one, f[w_i, w_j] G_ij with the divided differences
    # (sqrt w_i - sqrt w_j) / (w_i - w_j) off the diagonal and 1 / (2 sqrt(w_i + eps)) on it
    w = torch.tensor([0.0, 1.0, 3.0], dtype=F64)
    a = torch.diag(w)
    eps = 1e-4
    torch.testing.assert_close(sqrtm_psd(a, eps=eps), sqrtm_psd(a), rtol=0, atol=1e-15)
    gmat = torch.randn(3, 3, generator=_gen(7), dtype=F64)
    gmat = gmat + gmat.T
    x = a.clone().requires_grad_()
    (g_eps,) = torch.autograd.grad((sqrtm_psd(x, eps=eps) * gmat).sum(), x)
    root = w.sqrt()
    gap = w[:, None] - w[None, :]
    divided = (root[:, None] - root[None, :]) / torch.where(gap == 0, 1.0, gap)
    divided = divided + torch.diag(0.5 / (w + eps).sqrt())
    torch.testing.assert_close(g_eps, divided * gmat, rtol=1e-10, atol=1e-12)
    x = a.clone().requires_grad_()
    (g_raw,) = torch.autograd.grad((sqrtm_psd(x) * gmat).sum(), x)
    assert not bool(torch.isfinite(g_raw).all())  # why eps exists


def test_gradient_at_repeated_eigenvalues() -> None:
    # autograd through eigh divides by eigenvalue gaps and gave NaN here
    x = torch.eye(3, dtype=F64).requires_grad_()
    gmat = torch.randn(3, 3, generator=_gen(8), dtype=F64)
    gmat = gmat + gmat.T
    (grad,) = torch.autograd.grad((sqrtm_psd(x) * gmat).sum(), x)
    torch.testing.assert_close(grad, gmat / 2)  # Sylvester with S = I: 2 X = G


def _repeated(w: list[float], seed: int) -> torch.Tensor:
    q = _orthogonal(len(w), seed)
    a = q @ torch.diag(torch.tensor(w, dtype=F64)) @ q.T
    return (a + a.T) / 2


@pytest.mark.parametrize(
    "a",
    [
        torch.eye(3, dtype=F64),
        torch.diag(torch.tensor([1.0, 1.0, 2.0], dtype=F64)),
        _repeated([0.5, 2.0, 2.0, 2.0], seed=20),  # a repeated eigenspace in a rotated basis
        _repeated([0.5, 1.0, 2.0, 3.0], seed=21),  # distinct eigenvalues
    ],
    ids=["identity", "diag112", "rotated-repeated", "distinct"],
)
def test_gradient_and_second_order_at_repeated_and_distinct_eigenvalues(a: torch.Tensor) -> None:
    x = a.clone().requires_grad_()
    assert torch.autograd.gradcheck(_sym_sqrtm, (x,))
    assert torch.autograd.gradgradcheck(_sym_sqrtm, (x,))
    gmat = torch.randn(*a.shape, generator=_gen(22), dtype=F64)
    gmat = gmat + gmat.T
    (grad,) = torch.autograd.grad((sqrtm_psd(x) * gmat).sum(), x)
    s = scipy.linalg.sqrtm(a.numpy()).real
    want = scipy.linalg.solve_sylvester(s, s, gmat.numpy())
    np.testing.assert_allclose(grad.numpy(), want, rtol=1e-10, atol=1e-12)


def _sqrtm_through_eigh(a: torch.Tensor, eps: float) -> torch.Tensor:
    """The former implementation: autograd through ``eigh`` (valid at distinct eigenvalues)."""
    evals, evecs = torch.linalg.eigh(a)
    root = (evecs * safe_sqrt(evals, eps).unsqueeze(-2)) @ evecs.mT
    return (root + root.mT) / 2


@pytest.mark.parametrize("eps", [0.0, 1e-6])
def test_gradient_matches_autograd_through_eigh_where_that_is_defined(eps: float) -> None:
    # distinct eigenvalues, including a rank-deficient matrix whose zero eigenvalues are rounding
    # noise of both signs (some clamped): the same gradient as before, batched
    b = torch.randn(2, 6, 2, generator=_gen(23), dtype=F64)
    for a in (_spd(2, d=4, seed=24), b @ b.mT):
        gmat = torch.randn(*a.shape, generator=_gen(25), dtype=F64)
        x = a.clone().requires_grad_()
        (got,) = torch.autograd.grad((sqrtm_psd(x, eps=eps) * gmat).sum(), x)
        (want,) = torch.autograd.grad((_sqrtm_through_eigh(x, eps) * gmat).sum(), x)
        scale = float(want.abs().max())
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-9 * scale)
        assert torch.equal(sqrtm_psd(a, eps=eps), _sqrtm_through_eigh(a, eps))  # same values


def test_gradient_at_two_zero_eigenvalues_uses_eps() -> None:
    # s_i + s_j = 0 for the pair of zero eigenvalues: the derivative is unbounded there; with eps
    # the null block gets 1 / (2 sqrt(eps)) like the diagonal, in any basis of the null space
    eps = 1e-4
    a = torch.diag(torch.tensor([0.0, 0.0, 4.0], dtype=F64))
    gmat = torch.randn(3, 3, generator=_gen(26), dtype=F64)
    gmat = gmat + gmat.T
    x = a.clone().requires_grad_()
    (grad,) = torch.autograd.grad((sqrtm_psd(x, eps=eps) * gmat).sum(), x)
    factors = torch.tensor(
        [[0.5 / math.sqrt(eps)] * 2 + [0.5]] * 2 + [[0.5, 0.5, 0.5 / math.sqrt(4 + eps)]],
        dtype=F64,
    )
    torch.testing.assert_close(grad, factors * gmat, rtol=1e-12, atol=0)
    x = a.clone().requires_grad_()
    (raw,) = torch.autograd.grad((sqrtm_psd(x) * gmat).sum(), x)
    assert not bool(torch.isfinite(raw).all())


def test_sqrtm_bad_inputs_name_the_argument() -> None:
    good = _spd(d=3)
    bad: list[tuple[object, type[Exception], str]] = [
        (good.tolist(), TypeError, "matrix"),
        (good.long(), TypeError, "matrix"),
        (good[0], ValueError, "matrix"),
        (good[:2], ValueError, "square"),
        (torch.zeros(0, 3, 3), ValueError, "matrix"),
        (good.clone().fill_diagonal_(math.nan), ValueError, "matrix"),
        (good + torch.triu(torch.ones(3, 3, dtype=F64), 1), ValueError, "symmetric"),
        (good - 5 * torch.eye(3, dtype=F64), ValueError, "positive semi-definite"),
    ]
    for matrix, err, msg in bad:
        with pytest.raises(err, match=msg) as info:
            sqrtm_psd(matrix)  # type: ignore[arg-type]
        assert "matrix" in str(info.value)


# ---------------------------------------------------------------- sample_mean_cov


def test_sample_docstring_example() -> None:
    mean, cov = sample_mean_cov(torch.tensor([[0.0, 0.0], [2.0, 2.0]]))
    torch.testing.assert_close(mean, torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(cov, torch.full((2, 2), 2.0))


@pytest.mark.parametrize("correction", [0, 1, 2])
def test_sample_mean_cov_matches_numpy(correction: int) -> None:
    x = torch.randn(2, 3, 40, 5, generator=_gen(9), dtype=F64) * torch.arange(1, 6, dtype=F64)
    mean, cov = sample_mean_cov(x, correction=correction)
    assert mean.shape == (2, 3, 5) and cov.shape == (2, 3, 5, 5)
    for idx in np.ndindex(2, 3):
        xi = x[idx].numpy()
        want = np.cov(xi, rowvar=False, ddof=correction)
        np.testing.assert_allclose(cov[idx].numpy(), want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(mean[idx].numpy(), xi.mean(0), rtol=1e-13, atol=1e-15)
    assert torch.equal(cov, cov.mT)


def test_fewer_points_than_dimensions_give_a_singular_cov() -> None:
    x = torch.randn(6, 10, generator=_gen(10), dtype=F64)
    _, cov = sample_mean_cov(x)
    assert int(torch.linalg.matrix_rank(cov)) == 5  # N - 1 after centring
    root = sqrtm_psd(cov)
    torch.testing.assert_close(root @ root, cov, rtol=0, atol=1e-12)


def test_sample_float32_keeps_dtype() -> None:
    x = torch.randn(50, 3, generator=_gen(11))
    mean, cov = sample_mean_cov(x)
    assert mean.dtype == cov.dtype == torch.float32 and torch.equal(cov, cov.mT)
    ref = np.cov(x.double().numpy(), rowvar=False)
    np.testing.assert_allclose(cov.numpy(), ref, rtol=1e-5, atol=1e-6)


@given(
    n=st.integers(2, 20),
    d=st.integers(1, 5),
    shift=st.floats(-100, 100),
    scale=st.floats(-10, 10).filter(lambda s: abs(s) > 1e-3),
    seed=st.integers(0, 10_000),
)
def test_sample_cov_laws(n: int, d: int, shift: float, scale: float, seed: int) -> None:
    x = torch.randn(n, d, generator=_gen(seed), dtype=F64)
    mean, cov = sample_mean_cov(x)
    m2, c2 = sample_mean_cov(scale * x + shift)
    torch.testing.assert_close(m2, scale * mean + shift, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(c2, scale**2 * cov, rtol=1e-8, atol=1e-8 * scale**2)
    assert float(torch.linalg.eigvalsh(cov).min()) > -1e-12 * float(cov.diagonal().max())
    _, ml = sample_mean_cov(x, correction=0)
    torch.testing.assert_close(ml, cov * (n - 1) / n)


def test_sample_bad_inputs_name_the_argument() -> None:
    x = torch.randn(4, 3)
    with pytest.raises(TypeError, match="samples"):
        sample_mean_cov(x.long())
    with pytest.raises(ValueError, match="samples"):
        sample_mean_cov(x[0])
    with pytest.raises(ValueError, match="samples"):
        sample_mean_cov(x[:0])
    with pytest.raises(ValueError, match="samples"):
        sample_mean_cov(x.clone().fill_(math.inf))
    with pytest.raises(ValueError, match="correction"):
        sample_mean_cov(x[:1])
    with pytest.raises(ValueError, match="correction"):
        sample_mean_cov(x, correction=4)
    with pytest.raises(TypeError, match="correction"):
        sample_mean_cov(x, correction=1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="correction"):
        sample_mean_cov(x, correction=True)


# ---------------------------------------------------------------- nuclear norm (custom backward)


def _with_singular_values(s: list[float], seed: int) -> torch.Tensor:
    d = len(s)
    return _orthogonal(d, seed) @ torch.diag(torch.tensor(s, dtype=F64)) @ _orthogonal(d, seed + 1)


@pytest.mark.parametrize(
    ("spectrum", "rtol64", "rtol32"),
    [
        ([3.0, 2.0, 1.0, 0.5], 1e-13, 1e-6),  # inside the fixed schedule
        ([1.0, 0.5, 1e-5, 1e-6], 1e-10, 3e-4),  # below POLAR_FLOOR; float32: ~sqrt(eps) noise
        # singular: the fallback sums sqrt(eigvalsh(B^T B)), so the rounding noise of the zero
        # eigenvalues enters as its square root, ~sqrt(eps_dtype) relative
        ([2.0, 1.0, 0.0, 0.0], 1e-7, 1e-3),
    ],
)
def test_nuclear_norm_matches_the_singular_values(
    spectrum: list[float], rtol64: float, rtol32: float
) -> None:
    b = _with_singular_values(spectrum, seed=12)
    want = sum(spectrum)
    assert nuclear_norm(b).item() == pytest.approx(want, rel=rtol64)
    got32 = nuclear_norm(b.float())
    assert got32.dtype == torch.float32 and got32.item() == pytest.approx(want, rel=rtol32)


def test_nuclear_norm_batched_mixture_and_shape() -> None:
    good = torch.randn(2, 3, 4, 4, generator=_gen(13), dtype=F64)
    good[1, 2, :, 0] = 0.0  # one singular matrix among regular ones
    got = nuclear_norm(good)
    assert got.shape == (2, 3)
    torch.testing.assert_close(got, torch.linalg.matrix_norm(good, ord="nuc"))


def test_nuclear_norm_gradient_is_the_polar_factor() -> None:
    b = torch.randn(3, 5, 5, generator=_gen(14), dtype=F64)
    x = b.clone().requires_grad_()
    (grad,) = torch.autograd.grad(nuclear_norm(x).sum(), x)
    u, _, vh = torch.linalg.svd(b)
    torch.testing.assert_close(grad, u @ vh, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(nuclear_norm, (b[:2, :3, :3].clone().requires_grad_(),))


def test_nuclear_norm_fallback_gradient_finite_with_eps() -> None:
    b = _with_singular_values([2.0, 1.0, 0.0], seed=15).requires_grad_()
    (grad,) = torch.autograd.grad(nuclear_norm(b, eps=1e-8), b)
    assert bool(torch.isfinite(grad).all())
    u, _, vh = torch.linalg.svd(b.detach())
    # on the range of B the gradient is U V^T; the null direction contributes a bounded term
    torch.testing.assert_close(
        u[:, :2].T @ grad @ vh[:2].T, torch.eye(2, dtype=F64), rtol=1e-6, atol=1e-6
    )


# ---------------------------------------------------------------- shared checks and factors


def test_psd_factor_of_singular_cov() -> None:
    b = torch.randn(2, 6, 3, generator=_gen(16), dtype=F64)
    cov = b @ b.mT
    f = psd_factor(cov, "cov_p", eps=0.0)
    torch.testing.assert_close(f @ f.mT, cov, rtol=0, atol=1e-12)
    # the rounding noise of the three zero eigenvalues is set to exactly zero
    assert int((f.abs().amax(dim=-2) == 0).sum(-1).min()) == 3
    with pytest.raises(ValueError, match="cov_p"):
        psd_factor(cov - torch.eye(6, dtype=F64), "cov_p", eps=0.0)


def test_check_symmetric_tolerates_rounding_only() -> None:
    a = _spd(d=4, seed=17)
    check_symmetric(a + 1e-12 * torch.triu(torch.ones(4, 4, dtype=F64), 1), "cov_q")
    with pytest.raises(ValueError, match=r"cov_q must be symmetric"):
        check_symmetric(a + 1e-3 * torch.triu(torch.ones(4, 4, dtype=F64), 1), "cov_q")
    for bad in (math.nan, math.inf):
        c = a.clone()
        c[0, 0] = bad
        with pytest.raises(ValueError, match="cov_q contains"):
            check_symmetric(c, "cov_q")


def test_cholesky_or_raise() -> None:
    a = _spd(3, d=4, seed=18)
    chol = cholesky_or_raise(a, "cov_p")
    torch.testing.assert_close(chol @ chol.mT, a)
    assert torch.equal(chol, chol.tril())
    singular = a.clone()
    singular[1] = torch.zeros(4, 4, dtype=F64)
    with pytest.raises(ValueError, match=r"cov_p must be symmetric positive definite.*1 of 3"):
        cholesky_or_raise(singular, "cov_p")


def test_check_finite_fast_ignores_overflowing_sums() -> None:
    check_finite(torch.tensor([1e308, 1e308], dtype=F64), "x")  # the sum overflows only
    with pytest.raises(ValueError, match="x contains 1"):
        check_finite(torch.tensor([1.0, math.nan], dtype=F64), "x")


def test_safe_sqrt_value_and_gradient() -> None:
    x = torch.tensor([-1e-18, 0.0, 4.0], dtype=F64, requires_grad=True)
    y = safe_sqrt(x, 1e-6)
    torch.testing.assert_close(y.detach(), torch.tensor([0.0, 0.0, 2.0], dtype=F64))
    (grad,) = torch.autograd.grad(y.sum(), x)
    want = torch.tensor([0.0, 0.5 / math.sqrt(1e-6), 0.5 / math.sqrt(4 + 1e-6)], dtype=F64)
    torch.testing.assert_close(grad, want)  # clamp_min passes no gradient below zero
    torch.testing.assert_close(safe_sqrt(x.detach(), 0.0), torch.tensor([0.0, 0.0, 2.0], dtype=F64))
