"""Tests for kexue.geometry.gaussian: KL, Bhattacharyya and W2 between Gaussians (technique D2)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import ot
import pytest
import scipy.integrate
import scipy.linalg
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from kexue.geometry.gaussian import (
    GaussianBhattacharyyaDistance,
    GaussianKLDivergence,
    GaussianWasserstein2,
    bhattacharyya_distance_gaussian,
    entropy_gaussian,
    kl_divergence_gaussian,
    wasserstein2_gaussian,
)
from kexue.geometry.psd import nuclear_norm, sample_mean_cov, sqrtm_psd

F64 = torch.float64


def spd(*batch: int, d: int, gen: torch.Generator, ridge: float = 0.1) -> torch.Tensor:
    a = torch.randn(*batch, d, d, generator=gen, dtype=F64)
    return a @ a.mT / d + ridge * torch.eye(d, dtype=F64)


def pair(*batch: int, d: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    mp = torch.randn(*batch, d, generator=g, dtype=F64)
    mq = torch.randn(*batch, d, generator=g, dtype=F64)
    return mp, spd(*batch, d=d, gen=g), mq, spd(*batch, d=d, gen=g)


def w2_scipy(mp: np.ndarray, cp: np.ndarray, mq: np.ndarray, cq: np.ndarray) -> tuple[float, float]:
    """W2^2 by version 1 (sqrt(S_p C_q S_p)) and version 2 (sqrt(C_p C_q)) with scipy sqrtm."""
    base = float(np.sum((mp - mq) ** 2) + np.trace(cp) + np.trace(cq))
    root = scipy.linalg.sqrtm(cp)
    v1 = base - 2 * np.trace(scipy.linalg.sqrtm(root @ cq @ root)).real
    v2 = base - 2 * np.trace(scipy.linalg.sqrtm(cp @ cq)).real
    return float(v1), float(v2)


# --- reference values --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_kl_matches_torch_distributions(shape: tuple[int, ...]) -> None:
    mp, cp, mq, cq = pair(*shape, d=7)
    ref = kl_divergence(MultivariateNormal(mp, cp), MultivariateNormal(mq, cq))
    got = kl_divergence_gaussian(mp, cp, mq, cq)
    assert got.shape == shape
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=0)


def test_kl_broadcasts_and_standard_normal_formula() -> None:
    mp, cp, _, _ = pair(5, d=4)
    mq, cq = torch.zeros(4, dtype=F64), torch.eye(4, dtype=F64)  # broadcast against batch of 5
    got = kl_divergence_gaussian(mp, cp, mq, cq)
    closed = 0.5 * (mp.square().sum(-1) - torch.logdet(cp) + cp.diagonal(0, -2, -1).sum(-1) - 4)
    torch.testing.assert_close(got, closed, rtol=1e-12, atol=0)


def test_diagonal_flag_matches_full_and_torch_independent() -> None:
    g = torch.Generator().manual_seed(1)
    mp, mq = torch.randn(2, 3, 6, generator=g, dtype=F64).unbind(0)
    vp, vq = (torch.rand(2, 3, 6, generator=g, dtype=F64) + 0.05).unbind(0)
    ref = kl_divergence(
        Independent(Normal(mp, vp.sqrt()), 1), Independent(Normal(mq, vq.sqrt()), 1)
    )
    torch.testing.assert_close(kl_divergence_gaussian(mp, vp, mq, vq, diagonal=True), ref)
    full = (mp, torch.diag_embed(vp), mq, torch.diag_embed(vq))
    for fn in (kl_divergence_gaussian, bhattacharyya_distance_gaussian, wasserstein2_gaussian):
        torch.testing.assert_close(fn(mp, vp, mq, vq, diagonal=True), fn(*full), rtol=1e-12, atol=0)
    torch.testing.assert_close(
        entropy_gaussian(mp, vp, diagonal=True), entropy_gaussian(mp, torch.diag_embed(vp))
    )


def test_bhattacharyya_matches_numpy_formula_and_is_symmetric() -> None:
    mp, cp, mq, cq = pair(3, d=6, seed=2)
    got = bhattacharyya_distance_gaussian(mp, cp, mq, cq)
    for i in range(3):
        p, q, dl = cp[i].numpy(), cq[i].numpy(), (mp[i] - mq[i]).numpy()
        mid = (p + q) / 2
        ld = np.linalg.slogdet
        ref = 0.5 * (ld(mid)[1] - 0.5 * (ld(p)[1] + ld(q)[1])) + dl @ np.linalg.solve(mid, dl) / 8
        assert float(got[i]) == pytest.approx(ref, rel=1e-10)
    torch.testing.assert_close(
        got, bhattacharyya_distance_gaussian(mq, cq, mp, cp), rtol=1e-13, atol=0
    )


def test_one_dimensional_bhattacharyya_and_hellinger_by_quadrature() -> None:
    m1, s1, m2, s2 = 0.3, 0.7, -0.5, 1.6

    def p(x: float, m: float, s: float) -> float:
        return math.exp(-((x - m) ** 2) / (2 * s * s)) / (s * math.sqrt(2 * math.pi))

    bc = scipy.integrate.quad(lambda x: math.sqrt(p(x, m1, s1) * p(x, m2, s2)), -30, 30)[0]
    t = lambda v: torch.tensor([v], dtype=F64)  # noqa: E731
    bd = bhattacharyya_distance_gaussian(t(m1), t(s1**2), t(m2), t(s2**2), diagonal=True)
    assert float(bd) == pytest.approx(-math.log(bc), rel=1e-9)
    hell = scipy.integrate.quad(
        lambda x: 0.5 * (p(x, m1, s1) ** 0.5 - p(x, m2, s2) ** 0.5) ** 2, -30, 30
    )
    assert 1 - math.exp(-float(bd)) == pytest.approx(hell[0], rel=1e-8)


def test_wasserstein_versions_scipy_and_pot_agree() -> None:
    mp, cp, mq, cq = pair(4, d=8, seed=3)
    got = wasserstein2_gaussian(mp, cp, mq, cq, squared=True)
    pot = ot.gaussian.bures_wasserstein_distance(mp, mq, cp, cq, paired=True) ** 2
    torch.testing.assert_close(got, pot, rtol=1e-8, atol=0)
    for i in range(4):
        v1, v2 = w2_scipy(mp[i].numpy(), cp[i].numpy(), mq[i].numpy(), cq[i].numpy())
        assert float(got[i]) == pytest.approx(v1, rel=1e-8)
        assert float(got[i]) == pytest.approx(v2, rel=1e-8)
    torch.testing.assert_close(wasserstein2_gaussian(mp, cp, mq, cq), got.sqrt())
    torch.testing.assert_close(wasserstein2_gaussian(mq, cq, mp, cp, squared=True), got)


def test_wasserstein_commuting_and_one_dimensional_cases() -> None:
    g = torch.Generator().manual_seed(4)
    u = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=F64))[0]
    ep, eq = torch.rand(2, 5, generator=g, dtype=F64).unbind(0)
    cp, cq = u @ torch.diag(ep + 0.1) @ u.T, u @ torch.diag(eq + 0.1) @ u.T
    mp, mq = torch.randn(2, 5, generator=g, dtype=F64).unbind(0)
    closed = (mp - mq).square().sum() + (sqrtm_psd(cp) - sqrtm_psd(cq)).square().sum()
    got = wasserstein2_gaussian(mp, cp, mq, cq, squared=True)
    assert float(got) == pytest.approx(float(closed), rel=1e-12)
    one = wasserstein2_gaussian(
        torch.tensor([1.0], dtype=F64), torch.tensor([[4.0]], dtype=F64),
        torch.tensor([-2.0], dtype=F64), torch.tensor([[0.25]], dtype=F64),
    )  # fmt: skip
    assert float(one) == pytest.approx(math.hypot(3.0, 1.5), rel=1e-14)


def test_entropy_matches_torch() -> None:
    mp, cp, _, _ = pair(3, d=5, seed=5)
    torch.testing.assert_close(entropy_gaussian(mp, cp), MultivariateNormal(mp, cp).entropy())


# --- rank-deficient covariances ----------------------------------------------------------------


def test_rank_deficient_digits_covariance_is_finite_and_exact() -> None:
    x = torch.tensor(load_digits().data, dtype=F64)
    m1, c1 = sample_mean_cov(x[:20])  # rank <= 19 in 64 dims
    m2, c2 = sample_mean_cov(x[20:40])
    m3, c3 = sample_mean_cov(x[40:400])  # still singular: some pixels are always 0
    c3 = c3 + 0.5 * torch.eye(64, dtype=F64)  # non-singular
    # sqrt amplifies the ~1e-16 rounding eigenvalues of the stored singular matrices to ~1e-8.
    # Exact reference through the factor A = X_c^T / sqrt(N - 1): tr sqrt(A^T C A) is a 20x20 problem.
    a = (x[:20] - m1).T / math.sqrt(19)
    for mo, co in ((m2, c2), (m3, c3)):
        lam = torch.linalg.eigvalsh(a.T @ co @ a).clamp_min(0)
        ref = (m1 - mo).square().sum() + c1.trace() + co.trace() - 2 * lam.sqrt().sum()
        for args in ((m1, c1, mo, co), (mo, co, m1, c1)):
            got = wasserstein2_gaussian(*args, squared=True)
            assert torch.isfinite(got) and not got.is_complex() and got >= 0
            assert float(got) == pytest.approx(float(ref), rel=2e-7)
    got32 = wasserstein2_gaussian(m1.float(), c1.float(), m2.float(), c2.float(), squared=True)
    assert torch.isfinite(got32) and got32 >= 0


def test_sqrtm_psd_and_sample_mean_cov() -> None:
    g = torch.Generator().manual_seed(6)
    b = torch.randn(3, 6, 2, generator=g, dtype=F64)
    m = b @ b.mT  # rank 2
    root = sqrtm_psd(m)
    torch.testing.assert_close(root @ root, m, rtol=0, atol=1e-10)
    torch.testing.assert_close(root, root.mT)
    x = torch.randn(2, 30, 4, generator=g, dtype=F64)
    mean, cov = sample_mean_cov(x)
    np.testing.assert_allclose(cov[1].numpy(), np.cov(x[1].numpy(), rowvar=False), rtol=1e-12)
    np.testing.assert_allclose(mean[0].numpy(), x[0].numpy().mean(0), rtol=1e-12)
    _, ml = sample_mean_cov(x, correction=0)
    torch.testing.assert_close(ml, cov * 29 / 30)


def test_large_batches_are_evaluated_in_blocks_consistently() -> None:
    mp, cp, mq, cq = pair(600, d=16, seed=12)  # 600 pairs > one cache block (256 at d = 16)
    torch.testing.assert_close(
        kl_divergence_gaussian(mp, cp, mq, cq),
        kl_divergence(MultivariateNormal(mp, cp), MultivariateNormal(mq, cq)),
        rtol=1e-10,
        atol=0,
    )
    for fn in (kl_divergence_gaussian, bhattacharyya_distance_gaussian, wasserstein2_gaussian):
        blocked = fn(mp, cp, mq, cq[0])  # cov_q shared by the whole batch (broadcast)
        single = torch.stack([fn(mp[i], cp[i], mq[i], cq[0]) for i in range(0, 600, 37)])
        torch.testing.assert_close(blocked[::37], single, rtol=1e-12, atol=0)
        shaped = fn(mp.view(2, 300, 16), cp.view(2, 300, 16, 16), mq[:300], cq[:300])
        assert shaped.shape == (2, 300)
        torch.testing.assert_close(shaped[1], fn(mp[300:], cp[300:], mq[:300], cq[:300]))
    bad = cp.clone()
    bad[500, 0, 1] += 1.0  # asymmetric, in the second block
    with pytest.raises(ValueError, match="cov_p must be symmetric"):
        wasserstein2_gaussian(mp, bad, mq, cq)


# --- method="iterative" (matmul-only Newton–Schulz) vs method="eig" ----------------------------


def _count_eigvalsh(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the matrices passed to torch.linalg.eigvalsh from now on."""
    seen: list[int] = []
    original = torch.linalg.eigvalsh

    def counting(a: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        seen.append(a.numel() // (a.shape[-1] ** 2))
        return original(a, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch.linalg, "eigvalsh", counting)
    return seen


@pytest.mark.parametrize(
    ("shape", "d"), [((), 1), ((5,), 3), ((2, 3), 8), ((300,), 16), ((9,), 33)]
)
def test_iterative_matches_eig_on_well_conditioned_batches(
    shape: tuple[int, ...], d: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = pair(*shape, d=d, seed=20 + d)
    eig = wasserstein2_gaussian(*args, squared=True, method="eig")
    seen = _count_eigvalsh(monkeypatch)
    it = wasserstein2_gaussian(*args, squared=True, method="iterative")
    assert seen == []  # every matrix converged: no eigvalsh fallback
    assert it.shape == shape
    torch.testing.assert_close(it, eig, rtol=1e-10, atol=0)
    torch.testing.assert_close(wasserstein2_gaussian(*args, squared=True), eig, rtol=0, atol=0)
    for i in range(min(3, eig.numel())):  # and scipy's sqrtm(C_p C_q)
        flat = [a.reshape(-1, *a.shape[len(shape) :])[i].numpy() for a in args]
        assert float(it.reshape(-1)[i]) == pytest.approx(w2_scipy(*flat)[1], rel=1e-8)
    mp, cp, mq, cq = args  # broadcasting cov_q, and float32
    torch.testing.assert_close(
        wasserstein2_gaussian(mp, cp, mq, cq[..., :1, :, :] if shape else cq, method="iterative"),
        wasserstein2_gaussian(mp, cp, mq, cq[..., :1, :, :] if shape else cq, method="eig"),
        rtol=1e-10,
        atol=0,
    )
    it32 = wasserstein2_gaussian(*(a.float() for a in args), squared=True, method="iterative")
    torch.testing.assert_close(it32.double(), eig, rtol=1e-4, atol=1e-5)


def test_iterative_falls_back_on_ill_conditioned_and_singular_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g = torch.Generator().manual_seed(21)
    d = 6
    u = torch.linalg.qr(torch.randn(4, d, d, generator=g, dtype=F64))[0]
    a = torch.rand(4, d, generator=g, dtype=F64) + 0.5
    b = torch.rand(4, d, generator=g, dtype=F64) + 2.0
    a[:2, 0] = 1e-13  # near-singular but Cholesky succeeds: sigma ratio ~1e-7, far below the floor
    cp, cq = u @ torch.diag_embed(a) @ u.mT, u @ torch.diag_embed(b) @ u.mT
    cp, cq = (cp + cp.mT) / 2, (cq + cq.mT) / 2
    mp = mq = torch.zeros(4, d, dtype=F64)
    exact = (a.sqrt() - b.sqrt()).square().sum(-1)  # commuting covariances
    seen = _count_eigvalsh(monkeypatch)
    it = wasserstein2_gaussian(mp, cp, mq, cq, squared=True, method="iterative")
    assert seen == [2]  # exactly the two ill-conditioned pairs went to eigvalsh
    torch.testing.assert_close(it, exact, rtol=1e-9, atol=0)
    torch.testing.assert_close(
        it, wasserstein2_gaussian(mp, cp, mq, cq, squared=True, method="eig"), rtol=1e-9, atol=0
    )
    # A singular covariance (Cholesky fails): the block takes the eig path, still exact.
    x = torch.tensor(load_digits().data[:20], dtype=F64)
    m1, c1 = sample_mean_cov(x)  # rank <= 19 in 64 dims
    m2, c2 = sample_mean_cov(torch.tensor(load_digits().data[20:400], dtype=F64))
    c2 = c2 + 0.5 * torch.eye(64, dtype=F64)
    for args in ((m1, c1, m2, c2), (m2, c2, m1, c1)):
        got = wasserstein2_gaussian(*args, squared=True, method="iterative")
        ref = wasserstein2_gaussian(*args, squared=True, method="eig")
        assert torch.isfinite(got) and float(got) == pytest.approx(float(ref), rel=1e-12)
    # nuclear_norm on exactly singular matrices: no NaN, equals the sum of singular values.
    sing = torch.randn(3, 5, 2, generator=g, dtype=F64) @ torch.randn(
        3, 2, 5, generator=g, dtype=F64
    )
    torch.testing.assert_close(
        nuclear_norm(sing), torch.linalg.svdvals(sing).sum(-1), rtol=1e-6, atol=0
    )


def test_iterative_gradient_is_exact_first_order() -> None:
    g = torch.Generator().manual_seed(22)
    d = 4
    ap, aq = (torch.randn(2, 3, d, d, generator=g, dtype=F64).requires_grad_()).unbind(0)
    ap, aq = ap.detach().requires_grad_(), aq.detach().requires_grad_()
    mp, mq = torch.randn(2, 3, d, generator=g, dtype=F64).unbind(0)
    eye = torch.eye(d, dtype=F64)

    def w2(ap: torch.Tensor, aq: torch.Tensor, method: str) -> torch.Tensor:
        cp, cq = ap @ ap.mT + 0.3 * eye, aq @ aq.mT + 0.3 * eye
        return wasserstein2_gaussian(mp, cp, mq, cq, method=method)

    assert torch.autograd.gradcheck(lambda p, q: w2(p, q, "iterative"), (ap, aq))
    gi = torch.autograd.grad(w2(ap, aq, "iterative").sum(), (ap, aq))
    ge = torch.autograd.grad(w2(ap, aq, "eig").sum(), (ap, aq))
    for x, y in zip(gi, ge, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)
    b = torch.randn(3, d, d, generator=g, dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(nuclear_norm(b).sum(), b, create_graph=True)
    with pytest.raises(RuntimeError):  # first derivatives only; use method="eig" for more
        grad.sum().backward()


def test_method_must_be_known() -> None:
    args = pair(2, d=3, seed=23)
    for bad in ("EIG", "", "newton", None, 1):
        with pytest.raises(ValueError, match="method"):
            wasserstein2_gaussian(*args, method=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        GaussianWasserstein2(method="svd")(*args)
    module = GaussianWasserstein2(squared=True, method="iterative")
    assert "method='iterative'" in repr(module)
    torch.testing.assert_close(
        module(*args), wasserstein2_gaussian(*args, squared=True, method="eig"), rtol=1e-10, atol=0
    )


# --- gradients ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn", [kl_divergence_gaussian, bhattacharyya_distance_gaussian, wasserstein2_gaussian]
)
def test_gradcheck_full_and_diagonal(fn: object) -> None:
    g = torch.Generator().manual_seed(7)
    d = 3
    leaves = [torch.randn(2, d, d, generator=g, dtype=F64, requires_grad=True) for _ in range(2)]
    means = [torch.randn(2, d, generator=g, dtype=F64, requires_grad=True) for _ in range(2)]
    eye = torch.eye(d, dtype=F64)

    def full(
        mp: torch.Tensor, ap: torch.Tensor, mq: torch.Tensor, aq: torch.Tensor
    ) -> torch.Tensor:
        return fn(mp, ap @ ap.mT + 0.3 * eye, mq, aq @ aq.mT + 0.3 * eye)  # type: ignore[operator]

    assert torch.autograd.gradcheck(full, (means[0], leaves[0], means[1], leaves[1]))
    vars_ = [torch.rand(2, d, generator=g, dtype=F64).add(0.2).requires_grad_() for _ in range(2)]
    diag = lambda mp, vp, mq, vq: fn(mp, vp, mq, vq, diagonal=True)  # type: ignore[operator]  # noqa: E731
    assert torch.autograd.gradcheck(diag, (means[0], vars_[0], means[1], vars_[1]))


def test_wasserstein_gradient_finite_at_equal_and_singular_inputs() -> None:
    mp, cp, _, _ = pair(d=4, seed=8)
    cp.requires_grad_()
    w = wasserstein2_gaussian(mp, cp, mp, cp.detach())
    w.backward()
    assert cp.grad is not None and torch.isfinite(cp.grad).all()
    b = torch.randn(4, 2, dtype=F64, requires_grad=True)  # singular cov_p, non-singular cov_q
    wasserstein2_gaussian(mp, b @ b.T, mp + 1, cp.detach(), squared=True).backward()
    assert b.grad is not None and torch.isfinite(b.grad).all()


# --- laws --------------------------------------------------------------------------------------


@st.composite
def gaussians(draw: st.DrawFn) -> tuple[torch.Tensor, ...]:
    d = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    scale = draw(st.floats(0.1, 10.0))
    out = []
    for _ in range(3):
        out += [scale * torch.randn(d, generator=g, dtype=F64), scale**2 * spd(d=d, gen=g)]
    return tuple(out)


@given(gaussians())
def test_laws_nonnegative_zero_iff_equal_symmetry_triangle(gs: tuple[torch.Tensor, ...]) -> None:
    m1, c1, m2, c2, m3, c3 = gs
    scale = float(c1.trace() + c2.trace() + m1.square().sum() + m2.square().sum())
    kl12, kl11 = kl_divergence_gaussian(m1, c1, m2, c2), kl_divergence_gaussian(m1, c1, m1, c1)
    assert kl12 > 0 and 0 <= kl11 <= 1e-20  # every term of the stable form is >= 0
    bd12 = bhattacharyya_distance_gaussian(m1, c1, m2, c2)
    assert bd12 > 0 and bhattacharyya_distance_gaussian(m1, c1, m1, c1) == 0
    assert float(bd12) == pytest.approx(float(bhattacharyya_distance_gaussian(m2, c2, m1, c1)))
    w = lambda a, b, c, d: float(wasserstein2_gaussian(a, b, c, d))  # noqa: E731
    w12, w23, w13 = w(m1, c1, m2, c2), w(m2, c2, m3, c3), w(m1, c1, m3, c3)
    assert w12 > 0 and w12 == pytest.approx(w(m2, c2, m1, c1), rel=1e-9, abs=1e-9 * scale**0.5)
    assert w(m1, c1, m1, c1) <= 1e-6 * scale**0.5
    assert w13 <= w12 + w23 + 1e-9 * scale**0.5  # W2 is a metric


# --- dtypes, modules, bad input ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_low_precision_inputs_keep_their_dtype(dtype: torch.dtype) -> None:
    args = pair(3, d=4, seed=9)
    ref = wasserstein2_gaussian(*args)
    got = wasserstein2_gaussian(*(a.to(dtype) for a in args))
    assert got.dtype == dtype
    torch.testing.assert_close(
        got.double(), ref, rtol=2e-2 if dtype != torch.float32 else 1e-5, atol=0
    )


def test_modules_match_functions() -> None:
    args = pair(2, d=3, seed=10)
    torch.testing.assert_close(GaussianKLDivergence()(*args), kl_divergence_gaussian(*args))
    torch.testing.assert_close(
        GaussianBhattacharyyaDistance()(*args), bhattacharyya_distance_gaussian(*args)
    )
    torch.testing.assert_close(
        GaussianWasserstein2(squared=True)(*args), wasserstein2_gaussian(*args, squared=True)
    )
    assert "squared=True" in repr(GaussianWasserstein2(squared=True))


def test_bad_inputs_name_the_argument() -> None:
    mp, cp, mq, cq = pair(d=3, seed=11)
    indefinite = torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=F64))
    cases = [
        (kl_divergence_gaussian, (mp, cp.long(), mq, cq), {}, TypeError, "cov_p"),
        (kl_divergence_gaussian, (mp, cp, mq[:2], cq), {}, ValueError, "mean_q"),
        (kl_divergence_gaussian, (mp, cp, mq, cq[:2, :2]), {}, ValueError, "cov_q"),
        (kl_divergence_gaussian, (mp, cp, mq, indefinite), {}, ValueError, "cov_q"),
        (bhattacharyya_distance_gaussian, (mp, indefinite, mq, cq), {}, ValueError, "cov_p"),
        (wasserstein2_gaussian, (mp, cp, mq, indefinite), {}, ValueError, "cov_q"),
        (wasserstein2_gaussian, (mp, indefinite, mq, cq), {}, ValueError, "cov_p"),
        (wasserstein2_gaussian, (mp, cp + torch.triu(cp, 1), mq, cq), {}, ValueError, "cov_p"),
        (wasserstein2_gaussian, (mp * math.nan, cp, mq, cq), {}, ValueError, "mean_p"),
        (wasserstein2_gaussian, (mp, cp, mq, cq), {"eps": -1.0}, ValueError, "eps"),
        (wasserstein2_gaussian, (mp, -cp.diagonal(), mq, cq.diagonal()), {"diagonal": True},
         ValueError, "cov_p"),
        (kl_divergence_gaussian, (mp, cp.diagonal(), mq, cq.diagonal() * 0), {"diagonal": True},
         ValueError, "cov_q"),
        (entropy_gaussian, (mp, torch.zeros(3, 3, dtype=F64)), {}, ValueError, "cov"),
        (sqrtm_psd, (indefinite,), {}, ValueError, "matrix"),
        (sample_mean_cov, (torch.zeros(1, 3),), {}, ValueError, "samples"),
    ]  # fmt: skip
    for fn, args, kwargs, err, name in cases:
        with pytest.raises(err, match=name):
            fn(*args, **kwargs)  # type: ignore[operator]
    both_singular_indefinite = torch.diag(torch.tensor([1.0, -1.0, 0.0], dtype=F64))
    with pytest.raises(ValueError, match="cov_q"):
        wasserstein2_gaussian(mp, torch.zeros(3, 3, dtype=F64), mq, both_singular_indefinite)
    with pytest.raises(ValueError, match="do not broadcast"):
        kl_divergence_gaussian(mp.expand(2, 3), cp.expand(3, 3, 3), mq, cq)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"method": "bad"}, ValueError),
        ({"method": None}, ValueError),
        ({"eps": -1.0}, ValueError),
        ({"eps": math.nan}, ValueError),
        ({"eps": "0"}, TypeError),
    ],
)
def test_wasserstein_module_validates_in_constructor(kwargs: dict[str, Any], error: type) -> None:
    """GaussianWasserstein2(method="bad") used to fail only on the first call."""
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        GaussianWasserstein2(**kwargs)
    assert GaussianWasserstein2(method="eig", eps=0.0).method == "eig"
