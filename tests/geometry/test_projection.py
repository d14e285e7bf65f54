"""JL bounds and random projections: closed forms, scikit-learn, the distortion claim, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from sklearn.random_projection import johnson_lindenstrauss_min_dim

from kexue._validate import check_finite
from kexue.geometry.projection import (
    RandomProjection,
    _sparse_product_pays,
    _sparse_projection_csr,
    dasgupta_gupta_min_dim,
    gaussian_projection_matrix,
    head_size_rule,
    jl_min_dim,
    random_projection,
    sparse_projection_matrix,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- bounds ----------------------------------------------------------------------------------


def test_jl_min_dim_closed_form() -> None:
    assert jl_min_dim(200, 0.5) == math.ceil(24 * math.log(200) / 0.25) == 509
    assert jl_min_dim(200, 0.5, existence=True) == math.ceil(16 * math.log(200) / 0.25)
    # the article: eps = 0.1 with the 16-constant gives n > 1600 log N
    assert jl_min_dim(10**4, 0.1, existence=True) == math.ceil(1600 * math.log(10**4))


@given(st.integers(2, 10**7), st.floats(0.01, 0.99))
def test_dasgupta_gupta_equals_sklearn(n: int, eps: float) -> None:
    assert dasgupta_gupta_min_dim(n, eps) == int(johnson_lindenstrauss_min_dim(n, eps=eps))


@pytest.mark.parametrize("eps", [0.1, 0.2, 0.3, 0.4, 0.5])
def test_article_bound_is_about_three_times_sklearn(eps: float) -> None:
    # 24 ln N / eps^2 over 4 ln N / (eps^2/2 - eps^3/3) = 3 - 2 eps (up to integer rounding)
    ratio = jl_min_dim(10**5, eps) / dasgupta_gupta_min_dim(10**5, eps)
    assert ratio == pytest.approx(3 - 2 * eps, rel=2e-3)


@pytest.mark.parametrize(
    ("eps", "stated", "stated_existence"),
    [
        (0.01, 2.98, 1.9867),
        (0.1, 2.8, 1.8667),
        (0.5, 2.0, 1.3333),
        (0.9, 1.2, 0.8),
        (0.99, 1.02, 0.68),
    ],
)
def test_docstring_ratios_to_sklearn_hold(
    eps: float, stated: float, stated_existence: float
) -> None:
    """The docstring used to say "about 3x scikit-learn's" for every eps; it is 3 - 2 eps."""
    n = 10**12  # large N: the integer rounding of both bounds is negligible
    sk = int(johnson_lindenstrauss_min_dim(n, eps=eps))
    assert jl_min_dim(n, eps) / sk == pytest.approx(stated, rel=5e-3)
    assert jl_min_dim(n, eps, existence=True) / sk == pytest.approx(stated_existence, rel=5e-3)
    assert stated == pytest.approx(3 - 2 * eps) and stated_existence == pytest.approx(
        2 - 4 * eps / 3, abs=1e-4
    )
    doc = " ".join((jl_min_dim.__doc__ or "").split())
    assert "3-2\\varepsilon" in doc and "2.0 at 0.5, 1.2 at 0.9" in doc
    assert "about 3× scikit-learn's" not in doc
    dg_doc = " ".join((dasgupta_gupta_min_dim.__doc__ or "").split())
    assert "roughly three times smaller" not in dg_doc and "3-2\\varepsilon" in dg_doc


def test_head_size_rule() -> None:
    assert head_size_rule(512) == 52  # the article: L = 512 -> about 52, close to 64
    assert head_size_rule(100_000) == 96  # word vectors, N = 1e5 -> about 96
    assert head_size_rule(512, c=16.0) == math.ceil(16 * math.log(512))


@pytest.mark.parametrize(
    ("call", "error", "arg"),
    [
        (lambda: jl_min_dim(100, 0.0), ValueError, "eps"),
        (lambda: jl_min_dim(100, 1.0), ValueError, "eps"),
        (lambda: jl_min_dim(100, float("nan")), ValueError, "eps"),
        (lambda: jl_min_dim(100, "0.1"), TypeError, "eps"),
        (lambda: jl_min_dim(1, 0.1), ValueError, "n_points"),
        (lambda: jl_min_dim(10.0, 0.1), TypeError, "n_points"),
        (lambda: dasgupta_gupta_min_dim(True, 0.1), TypeError, "n_points"),
        (lambda: dasgupta_gupta_min_dim(10, 1.5), ValueError, "eps"),
        (lambda: head_size_rule(1), ValueError, "n_items"),
        (lambda: head_size_rule(10, c=0.0), ValueError, "c"),
    ],
)
def test_bound_bad_input(call: object, error: type[Exception], arg: str) -> None:
    with pytest.raises(error, match=arg):
        call()  # type: ignore[operator]


# --- matrices --------------------------------------------------------------------------------


def test_gaussian_matrix_norms_are_chi_square() -> None:
    # ||A e_j||^2 ~ chi2_n / n for every column; rotation invariance makes it hold for any unit v
    n = 16
    a = gaussian_projection_matrix(2000, n, generator=gen(1), dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(2000, 400, dtype=torch.float64, generator=gen(2)))
    for cols in (a, a @ q):
        sq = (cols.pow(2).sum(0) * n).numpy()
        assert stats.kstest(sq, stats.chi2(df=n).cdf).pvalue > 1e-3


def test_gaussian_matrix_seeded_and_dtype() -> None:
    a = gaussian_projection_matrix(30, 7, generator=gen(3), dtype=torch.float64)
    b = gaussian_projection_matrix(30, 7, generator=gen(3), dtype=torch.float64)
    assert a.shape == (7, 30) and a.dtype == torch.float64
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    c = gaussian_projection_matrix(30, 7, generator=gen(3), dtype=torch.float16)
    assert c.dtype == torch.float16
    assert not torch.equal(a, gaussian_projection_matrix(30, 7, generator=gen(4)).double())


@pytest.mark.parametrize("density", [None, 1 / 3, 1.0])
def test_sparse_matrix_entries(density: float | None) -> None:
    m, n = 400, 300
    a = sparse_projection_matrix(m, n, density=density, generator=gen(5), dtype=torch.float64)
    s = 1 / math.sqrt(m) if density is None else density
    nz = a[a != 0]
    np.testing.assert_allclose(nz.abs().numpy(), 1 / math.sqrt(s * n), rtol=1e-12)
    frac = nz.numel() / a.numel()
    se = math.sqrt(s * (1 - s) / a.numel()) + 1e-12
    assert abs(frac - s) < 5 * se + 1e-12
    assert abs((nz > 0).double().mean().item() - 0.5) < 5 * math.sqrt(0.25 / nz.numel())
    # E A_ij^2 = 1/n, so column norms average 1
    tol = 5 * math.sqrt((1 - s) / (s * a.numel())) + 1e-12
    assert a.pow(2).sum(0).mean().item() == pytest.approx(1.0, abs=tol)


def test_matrix_bad_input() -> None:
    with pytest.raises(ValueError, match="out_features"):
        gaussian_projection_matrix(10, 0)
    with pytest.raises(TypeError, match="in_features"):
        gaussian_projection_matrix(10.0, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="density"):
        sparse_projection_matrix(10, 3, density=0.0)
    with pytest.raises(ValueError, match="density"):
        sparse_projection_matrix(10, 3, density=1.5)


# --- the JL claim (scikit-learn's style: every pairwise ratio within 1 +- eps) -----------------


def _sq_dists(x: torch.Tensor) -> torch.Tensor:
    d = torch.cdist(x, x).pow(2)
    iu = torch.triu_indices(x.shape[0], x.shape[0], 1)
    return d[iu[0], iu[1]]


@pytest.mark.parametrize("kind", ["gaussian", "sparse"])
def test_all_pairs_within_eps_with_stated_probability(kind: str) -> None:
    n_points, dim, eps, runs = 40, 600, 0.5, 20
    x = torch.randn(n_points, dim, dtype=torch.float64, generator=gen(1001))
    target = jl_min_dim(n_points, eps)  # success probability >= 1 - 1/N = 0.975 per run
    d0 = _sq_dists(x)
    ok = 0
    for seed in range(runs):
        ratio = _sq_dists(random_projection(x, target, kind=kind, generator=gen(seed))) / d0
        ok += bool(((ratio > 1 - eps) & (ratio < 1 + eps)).all())
    assert ok >= 18  # P(ok <= 17 | p = 0.975) ~ 1e-2; observed typically 20/20


def test_distortion_grows_when_dimension_is_too_small() -> None:
    # the test can fail: far below the bound, some pair leaves 1 +- eps
    x = torch.randn(40, 600, dtype=torch.float64, generator=gen(1002))
    ratio = _sq_dists(random_projection(x, 8, generator=gen(0))) / _sq_dists(x)
    assert ((ratio - 1).abs() > 0.5).any()


def test_mean_distortion_matches_chi_square() -> None:
    # E|chi2_n/n - 1| in closed form (gamma mean absolute deviation), data-independent
    n = 64
    x = torch.randn(60, 300, dtype=torch.float64, generator=gen(1000))  # not a projection seed
    d0 = _sq_dists(x)
    devs = torch.cat(
        [(_sq_dists(random_projection(x, n, generator=gen(s))) / d0 - 1).abs() for s in range(10)]
    )
    k = n / 2
    mad = 2 * math.exp(k * math.log(k) - k - math.lgamma(k)) * 2 / n
    assert devs.mean().item() == pytest.approx(mad, rel=0.08)


# --- functional / module ---------------------------------------------------------------------


def test_random_projection_matches_matrix_and_module() -> None:
    x = torch.randn(2, 5, 30, dtype=torch.float64)
    y = random_projection(x, 9, generator=gen(11))
    a = gaussian_projection_matrix(30, 9, generator=gen(11), dtype=torch.float64)
    torch.testing.assert_close(y, x @ a.T)
    layer = RandomProjection(30, 9, generator=gen(11), dtype=torch.float64)
    torch.testing.assert_close(layer(x), y)
    assert "weight" in layer.state_dict() and not list(layer.parameters())
    sparse = RandomProjection(30, 9, kind="sparse", density=0.5, generator=gen(1))
    torch.testing.assert_close(
        sparse(x.float()),
        random_projection(x.float(), 9, kind="sparse", density=0.5, generator=gen(1)),
    )
    w = layer.weight.clone()
    layer.reset_parameters(gen(12))
    assert not torch.equal(w, layer.weight)


@given(st.floats(-3, 3), st.floats(-3, 3))
def test_projection_is_linear(alpha: float, beta: float) -> None:
    x = torch.randn(4, 20, dtype=torch.float64, generator=gen(1))
    y = torch.randn(4, 20, dtype=torch.float64, generator=gen(2))
    lhs = random_projection(alpha * x + beta * y, 6, generator=gen(3))
    rhs = alpha * random_projection(x, 6, generator=gen(3)) + beta * random_projection(
        y, 6, generator=gen(3)
    )
    torch.testing.assert_close(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_gradient_flows_and_dtypes_follow() -> None:
    x = torch.randn(3, 10, dtype=torch.float64, requires_grad=True)
    random_projection(x, 4, generator=gen(0)).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        assert random_projection(torch.randn(3, 10).to(dtype), 4).dtype == dtype


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_with_cpu_generator() -> None:
    x = torch.randn(3, 10, device="cuda")
    y = random_projection(x, 4, generator=gen(0))
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), random_projection(x.cpu(), 4, generator=gen(0)))


def test_projection_bad_input() -> None:
    x = torch.randn(3, 10)
    with pytest.raises(TypeError, match="x must be a floating"):
        random_projection(torch.ones(3, 10, dtype=torch.int64), 4)
    with pytest.raises(ValueError, match="x contains"):
        random_projection(torch.tensor([[float("nan"), 1.0]]), 4)
    with pytest.raises(ValueError, match="x is empty"):
        random_projection(torch.empty(0, 10), 4)
    with pytest.raises(ValueError, match="out_features"):
        random_projection(x, 0)
    with pytest.raises(ValueError, match="kind"):
        random_projection(x, 4, kind="orthogonal")
    with pytest.raises(ValueError, match="density"):
        random_projection(x, 4, density=0.1)
    with pytest.raises(ValueError, match="x must have 10 features"):
        RandomProjection(10, 4)(torch.randn(3, 11))


# --- the CSR fast path of the sparse projection ---------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(7, 2500), (2, 3, 2500), (2500,)])
def test_sparse_csr_path_agrees_with_dense_matrix(
    dtype: torch.dtype, shape: tuple[int, ...]
) -> None:
    x = torch.randn(*shape, dtype=torch.float64, generator=gen(20)).to(dtype)
    assert _sparse_product_pays(x, None, None)  # 1/sqrt(2500) = 0.02: the CSR path
    y = random_projection(x, 30, kind="sparse", generator=gen(21))
    a = sparse_projection_matrix(2500, 30, generator=gen(21), dtype=dtype)
    assert y.shape == (*shape[:-1], 30) and y.dtype == dtype
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(y, x @ a.T, rtol=tol, atol=tol)
    csr = _sparse_projection_csr(2500, 30, None, gen(21), dtype)
    torch.testing.assert_close(csr.to_dense(), a, rtol=0, atol=0)  # same draw, same entries


def test_sparse_path_choice() -> None:
    x = torch.randn(3, 400)
    assert _sparse_product_pays(x, 0.01, None)
    assert not _sparse_product_pays(x, 1 / 3, None)  # Achlioptas: the dense GEMM
    assert not _sparse_product_pays(x.half(), 0.01, None)  # no half CSR kernel
    assert not _sparse_product_pays(x, True, None)  # type: ignore[arg-type]  # rejected later
    torch.testing.assert_close(
        random_projection(x, 5, kind="sparse", density=1 / 3, generator=gen(2)),
        x @ sparse_projection_matrix(400, 5, density=1 / 3, generator=gen(2)).T,
    )


def test_sparse_csr_path_gradient_and_bad_input() -> None:
    x = torch.randn(4, 400, dtype=torch.float64, requires_grad=True)
    random_projection(x, 6, kind="sparse", density=0.02, generator=gen(3)).pow(2).sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    a = sparse_projection_matrix(400, 6, density=0.02, generator=gen(3), dtype=torch.float64)
    (x2 @ a.T).pow(2).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, x2.grad)
    bad = torch.randn(3, 400)
    bad[1, 7] = float("nan")
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        random_projection(bad, 4, kind="sparse", density=0.02)
    bad[1, 7] = float("inf")
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        random_projection(bad, 4, kind="sparse", density=0.02)
    with pytest.raises(ValueError, match="out_features"):
        random_projection(torch.randn(3, 400), 0, kind="sparse", density=0.02)
    with pytest.raises(ValueError, match="density"):
        random_projection(torch.randn(3, 400), 4, kind="sparse", density=0.0)
    with pytest.raises(TypeError, match="density"):
        random_projection(torch.randn(3, 400), 4, kind="sparse", density="auto")  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
@pytest.mark.parametrize("numel", [1, 7, 16, 33, 1000, 4099])
def test_finite_by_sum_agrees_with_elementwise_check(dtype: torch.dtype, numel: int) -> None:
    x = torch.randn(numel, generator=gen(30)).to(dtype)
    assert check_finite(x, "x") is x
    for pos in {0, numel // 2, numel - 1}:  # first, middle, tail (outside full vector lanes)
        for bad in (float("nan"), float("inf"), -float("inf")):
            y = x.clone()
            y[pos] = bad
            with pytest.raises(ValueError, match="y contains 1 NaN or infinite"):
                check_finite(y, "y")
    huge = torch.full((4,), torch.finfo(dtype).max, dtype=dtype)  # the sum overflows: still valid
    assert check_finite(huge, "x") is huge
