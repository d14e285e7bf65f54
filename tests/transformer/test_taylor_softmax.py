"""Tests for kexue.transformer.taylor_softmax (A6): Taylor softmax from even-order Taylor polynomials of exp."""

from __future__ import annotations

import functools
import math
import sys

import mpmath as mp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from kexue.transformer.taylor_softmax import (
    TaylorCrossEntropyLoss,
    TaylorSoftmax,
    _horner,
    _log_taylor_exp,
    log_taylor_softmax,
    taylor_cross_entropy,
    taylor_exp,
    taylor_minimum,
    taylor_softmax,
)

F64 = torch.float64
EVEN = st.sampled_from([2, 4, 6, 8, 10, 12, 14, 16])
SPEC_TABLE = {  # spec/transformer-nlp.md, A6 (the article's table)
    2: (-1.0, 0.5),
    4: (-1.59607, 0.270395),
    6: (-2.18061, 0.149325),
    8: (-2.759, 0.0832715),
    10: (-3.33355, 0.0466991),
}


def f_ref(x: np.ndarray, n: int) -> np.ndarray:
    return sum(x**k / math.factorial(k) for k in range(n + 1))


def p_ref(x: np.ndarray, n: int, axis: int = -1) -> np.ndarray:
    f = f_ref(x, n)
    return f / f.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- taylor_exp and the minima
@pytest.mark.parametrize("n", range(13))
def test_taylor_exp_matches_series_and_derivative(n: int) -> None:
    x = torch.linspace(-7, 7, 57, dtype=F64, requires_grad=True)
    y = taylor_exp(x, n)
    np.testing.assert_allclose(y.detach().numpy(), f_ref(x.detach().numpy(), n), rtol=1e-12)
    (g,) = torch.autograd.grad(y.sum(), x)
    want = f_ref(x.detach().numpy(), n - 1) if n else np.zeros(57)
    np.testing.assert_allclose(g.numpy(), want, rtol=1e-12, atol=1e-12)


def test_taylor_exp_gradcheck_and_gradgradcheck() -> None:
    x = torch.randn(4, 3, dtype=F64, requires_grad=True)
    for n in (1, 2, 5):
        assert torch.autograd.gradcheck(lambda t, n=n: taylor_exp(t, n), (x,))
        assert torch.autograd.gradgradcheck(lambda t, n=n: taylor_exp(t, n), (x,))


@given(x=st.floats(-200, 200), n=EVEN)
def test_even_order_is_positive_and_above_its_minimum(x: float, n: int) -> None:
    value = float(taylor_exp(torch.tensor([x], dtype=F64), n))
    _, f_star = taylor_minimum(n)
    assert value > 0
    assert value >= f_star * (1 - 1e-9)


@pytest.mark.parametrize("n", [1, 3, 5, 7, 9, 11])
def test_odd_order_goes_negative(n: int) -> None:
    assert float(taylor_exp(torch.tensor(-2.0 * n, dtype=F64), n)) < 0


@pytest.mark.parametrize("n", range(2, 17, 2))
def test_minimum_matches_scipy_and_closed_form(n: int) -> None:
    x_star, f_star = taylor_minimum(n)
    res = minimize_scalar(
        lambda t: f_ref(np.float64(t), n), bracket=(-n, 0.0), options={"xtol": 1e-12}
    )
    assert abs(x_star - res.x) < 1e-6
    assert abs(f_star - res.fun) < 1e-12
    assert abs(f_ref(np.float64(x_star), n - 1)) < 1e-13  # critical point: f_{n-1}(x*) = 0
    assert f_star == pytest.approx(float(taylor_exp(torch.tensor(x_star, dtype=F64), n)), rel=1e-12)


@pytest.mark.parametrize("n", sorted(SPEC_TABLE))
def test_minimum_reproduces_the_article_table(n: int) -> None:
    x_star, f_star = taylor_minimum(n)
    assert abs(x_star - SPEC_TABLE[n][0]) < 1e-5
    assert abs(f_star - SPEC_TABLE[n][1]) < 1e-6


def _mp_taylor(n: int, x: float) -> mp.mpf:
    """f_n(x) with enough digits that the alternating sum does not cancel (|x| digits more)."""
    with mp.workdps(int(40 + 0.9 * abs(x))):
        xm, total, term = mp.mpf(x), mp.mpf(0), mp.mpf(1)
        for k in range(n + 1):
            total += term
            term *= xm / (k + 1)
        return +total


def _mp_minimum(n: int) -> tuple[float, float]:
    """x_n* (root of f_{n-1}) and f_n(x_n*) by mpmath Newton at about 0.5 n + 40 digits."""
    with mp.workdps(int(40 + 0.5 * n)):

        def f(t: mp.mpf, m: int) -> mp.mpf:
            return mp.fsum(t**k / mp.factorial(k) for k in range(m + 1))

        x = mp.findroot(lambda t: f(t, n - 1), mp.mpf(-0.2861 * n), df=lambda t: f(t, n - 2))
        return float(x), float(x**n / mp.factorial(n))


@pytest.mark.parametrize("n", [14, 30, 50, 100, 200, 500])
def test_minimum_is_accurate_for_large_orders(n: int) -> None:
    """Horner on f_{n-1} near its root cancels: n=100 gave x* = -23.63 (true -28.61), n=200 overflowed."""
    want_x, want_f = _mp_minimum(n)
    x_star, f_star = taylor_minimum(n)
    assert x_star == pytest.approx(want_x, rel=1e-14)
    assert f_star == pytest.approx(want_f, rel=n * 1e-15)  # f = |x|^n/n!: n ulps of log|x|


def test_minimum_n100_value_and_underflow_bound() -> None:
    assert taylor_minimum(100)[0] == pytest.approx(-28.6108101526955, rel=1e-13)
    x_star, f_star = taylor_minimum(2540)  # the largest order whose minimum is a normal float64
    assert f_star > sys.float_info.min and x_star < -700
    with pytest.raises(ValueError, match="order=2542"):
        taylor_minimum(2542)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("n", [9, 10, 12, 20, 40, 41, 70, 200])
def test_high_order_taylor_exp_matches_mpmath(n: int, dtype: torch.dtype) -> None:
    """Naive Horner loses ~3^n ulps on x < 0: negative at n=40 in float32, n~70 in float64."""
    x = torch.linspace(-3.0 * n, 3.0 * n, 241, dtype=F64).to(dtype)
    x = torch.cat([x, torch.tensor([-float(n), -1.0, 1.0, float(n)], dtype=dtype)])
    got = taylor_exp(x, n).to(F64)
    want = torch.tensor([float(_mp_taylor(n, v)) for v in x.tolist()], dtype=F64)
    fin = torch.finfo(dtype)
    ok = (want.abs() < fin.max) & (want.abs() > fin.tiny)
    assert torch.isfinite(got[ok]).all()
    # odd orders cross 0: measure their error against e^{-|x|}, the size of the cancelling terms
    scale = want.abs() if n % 2 == 0 else torch.maximum(want.abs(), torch.exp(-x.to(F64).abs()))
    err = ((got - want).abs() / scale)[ok].max().item()
    assert err < 8 * n * fin.eps
    if n % 2 == 0:
        assert (got[ok] > 0).all()
        log_want = torch.tensor([float(mp.log(_mp_taylor(n, v))) for v in x.tolist()], dtype=F64)
        log_got = _log_taylor_exp(x, n).to(F64)
        assert torch.isfinite(log_got).all()
        assert (log_got - log_want).abs().max().item() < 8 * n * fin.eps * max(1.0, 3.0 * n)


def test_high_order_gradients() -> None:
    x = 8 * torch.randn(3, 5, dtype=F64, generator=torch.Generator().manual_seed(1))
    x = x.requires_grad_()
    wide = torch.tensor([-60.0, -20.0, -3.0, -0.5, 0.5, 3.0, 30.0, 80.0], dtype=F64)
    for n in (10, 40):
        assert torch.autograd.gradcheck(lambda t, n=n: taylor_exp(t, n), (x,))
        assert torch.autograd.gradgradcheck(lambda t, n=n: taylor_exp(t, n), (x,))
        assert torch.autograd.gradcheck(lambda t, n=n: taylor_softmax(t, n), (x,))
        assert torch.autograd.gradcheck(
            lambda t, n=n: _log_taylor_exp(t, n), (wide.clone().requires_grad_(),)
        )


# ---------------------------------------------------------------- taylor_softmax
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    n=EVEN,
    scale=st.floats(0.1, 20),
    seed=st.integers(0, 2**16),
)
def test_softmax_is_positive_sums_to_one_and_matches_reference(
    shape: list[int], n: int, scale: float, seed: int
) -> None:
    x = scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)
    dim = seed % len(shape)
    p = taylor_softmax(x, n, dim=dim)
    assert (p > 0).all()
    torch.testing.assert_close(p.sum(dim), torch.ones_like(p.sum(dim)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.numpy(), p_ref(x.numpy(), n, axis=dim), rtol=1e-10)
    torch.testing.assert_close(log_taylor_softmax(x, n, dim=dim).exp(), p, rtol=1e-10, atol=0)


@settings(deadline=None, max_examples=60)
@given(
    half_order=st.integers(1, 100),
    n_cols=st.integers(1, 9),
    seed=st.integers(0, 2**16),
    double=st.booleans(),
    monotone=st.booleans(),
)
def test_rows_positive_and_sum_to_one_for_every_even_order(
    half_order: int, n_cols: int, seed: int, double: bool, monotone: bool
) -> None:
    """Naive Horner made float32 order 40 negative on [-12, 0] and float64 from order ~70."""
    n = 2 * half_order
    dtype = F64 if double else torch.float32
    radius = 100.0 if double else 30.0  # keeps every true probability a normal float
    g = torch.Generator().manual_seed(seed)
    x = ((2 * torch.rand(4, n_cols, generator=g, dtype=F64) - 1) * radius).to(dtype)
    x[0] = torch.linspace(-12.0, 0.0, n_cols, dtype=dtype)
    p = taylor_softmax(x, n, monotone=monotone)
    assert (p > 0).all()
    tol = 1e-12 if double else 1e-5
    torch.testing.assert_close(p.sum(-1), torch.ones(4, dtype=dtype), rtol=0, atol=tol)
    torch.testing.assert_close(
        log_taylor_softmax(x, n, monotone=monotone).exp(),
        p,
        rtol=1e-3 if not double else 1e-9,
        atol=0,
    )


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_high_order_softmax_matches_mpmath(dtype: torch.dtype) -> None:
    rows = [
        (40, torch.linspace(-12.0, 0.0, 13).tolist()),  # naive float32: negative entries
        (80, torch.linspace(-30.0, 0.0, 16).tolist()),  # naive float64: negative entries
        (200, [1e3, 0.0, -1e3]),  # naive: OverflowError (1/200! as a float)
        (400, [-112.0, -110.0, -115.0]),  # every f_n ~ e^-112: the float32 sum underflows
    ]
    for n, xs in rows:
        with mp.workdps(60):
            f = [_mp_taylor(n, v) for v in xs]
            want = torch.tensor([float(v / mp.fsum(f)) for v in f], dtype=F64)
        p = taylor_softmax(torch.tensor([xs], dtype=dtype), n)[0].to(F64)
        tiny = torch.finfo(dtype).tiny
        rtol = 8 * n * torch.finfo(dtype).eps
        big = want > tiny
        torch.testing.assert_close(p[big], want[big], rtol=rtol, atol=0)
        assert (p[~big] <= tiny).all()  # below the dtype's range (3.8e-226 in float32): 0


def test_high_order_approaches_softmax_and_is_not_shift_invariant() -> None:
    x = torch.randn(3, 6, dtype=F64)
    torch.testing.assert_close(taylor_softmax(x, 40), x.softmax(-1), rtol=1e-12, atol=1e-14)
    p2 = taylor_softmax(x, 2)
    assert (taylor_softmax(x + 3.0, 2) - p2).abs().max() > 1e-2  # unlike softmax


def test_gradcheck_softmax_log_softmax_and_cross_entropy() -> None:
    x = (2 * torch.randn(3, 5, dtype=F64)).requires_grad_()
    mask = torch.tensor([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    t = torch.tensor([0, 3, 4])
    for n in (2, 4):
        assert torch.autograd.gradcheck(lambda z, n=n: taylor_softmax(z, n, mask=mask), (x,))
        assert torch.autograd.gradcheck(lambda z, n=n: log_taylor_softmax(z, n, dim=0), (x,))
        assert torch.autograd.gradcheck(lambda z, n=n: taylor_cross_entropy(z, t, n), (x,))
        assert torch.autograd.gradcheck(lambda z, n=n: taylor_softmax(z, n, monotone=True), (x,))


# ---------------------------------------------------------------- the fast path (issue 10)
def _horner_with_graph(x: torch.Tensor, n: int) -> torch.Tensor:
    """Horner with fresh temporaries (the differentiable branch of ``_horner``)."""
    with torch.enable_grad():
        return _horner(x.detach().requires_grad_(), n).detach()


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_in_place_horner_is_bit_identical(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.cat(
        [s * torch.randn(4000, generator=g, dtype=dtype) for s in (0.1, 1.0, 3.0, 30.0, 1e4)]
        + [torch.tensor([0.0, -0.0, 1e-30, -1e-30], dtype=dtype)]
    )
    for n in range(13):
        with torch.no_grad():
            fast = _horner(x, n)
        assert torch.equal(fast, _horner_with_graph(x, n)), n


@pytest.mark.parametrize("n", [2, 4, 6, 8, 10])
def test_fast_path_equals_the_checked_path(n: int) -> None:
    # the mask path keeps the former composite evaluation (check first, autograd of the ops);
    # an all-True mask must give the same probabilities and gradients
    x = (3 * torch.randn(5, 7, dtype=F64)).requires_grad_()
    keep = torch.ones(5, 7, dtype=torch.bool)
    g = torch.randn(5, 7, dtype=F64)
    for dim in (0, -1):
        p = taylor_softmax(x, n, dim=dim)
        q = taylor_softmax(x, n, dim=dim, mask=keep)
        if n <= 8:
            assert torch.equal(p, q)  # forward bit for bit: same Horner, same sum, same division
        torch.testing.assert_close(p, q, rtol=1e-13, atol=0)
        (gp,) = torch.autograd.grad((p * g).sum(), x)
        (gq,) = torch.autograd.grad((q * g).sum(), x)
        torch.testing.assert_close(gp, gq, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_hand_written_backward_matches_autograd_of_the_formula(dtype: torch.dtype) -> None:
    def formula_grad(x: torch.Tensor, up: torch.Tensor, n: int, dim: int) -> torch.Tensor:
        f = sum(x**k / math.factorial(k) for k in range(n + 1))
        (grad,) = torch.autograd.grad((f / f.sum(dim, keepdim=True) * up).sum(), x)
        return grad

    g = torch.Generator().manual_seed(1)
    x = (2 * torch.randn(6, 9, 4, generator=g, dtype=dtype)).requires_grad_()
    up = torch.randn(6, 9, 4, generator=g, dtype=dtype)
    x64, up64 = x.detach().double().requires_grad_(), up.double()
    for n in (2, 4, 6, 8, 12):
        for dim in (0, 1, -1):
            want = formula_grad(x, up, n, dim)
            (got,) = torch.autograd.grad((taylor_softmax(x, n, dim=dim) * up).sum(), x)
            if dtype == F64:
                torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
            else:  # float32: at least as close to the float64 gradient as the formula's autograd
                exact = formula_grad(x64, up64, n, dim)
                err_ours = float((got.double() - exact).abs().max())
                err_formula = float((want.double() - exact).abs().max())
                assert err_ours <= 2 * err_formula + 1e-6, (n, dim, err_ours, err_formula)


def test_hand_written_backward_gradcheck_and_gradgradcheck() -> None:
    x = (2 * torch.randn(3, 4, 5, dtype=F64)).requires_grad_()
    for n in (2, 4, 8, 10):
        for dim in (0, -1):
            fn = functools.partial(taylor_softmax, order=n, dim=dim)
            assert torch.autograd.gradcheck(fn, (x,))
            assert torch.autograd.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("n", [2, 4, 10])
def test_fast_path_still_rejects_non_finite_logits(bad: float, n: int) -> None:
    for dtype in (torch.float32, F64, torch.float16):
        x = torch.randn(3, 4).to(dtype)
        x[1, 2] = bad
        for monotone in (False, True):
            with pytest.raises(ValueError, match="x contains 1 NaN or infinite"):
                taylor_softmax(x, n, monotone=monotone)


def test_log_space_path_matches_direct_and_has_good_gradients() -> None:
    # |x| on both sides of 1, where _log_taylor_exp switches formula
    x = torch.tensor([-30.0, -3.0, -1.0001, -0.9999, 0.0, 0.5, 1.0, 1.0001, 7.0, 1e3], dtype=F64)
    for n in (2, 4, 10):
        want = taylor_exp(x, n).log()
        torch.testing.assert_close(_log_taylor_exp(x, n), want, rtol=1e-13, atol=1e-14)
        xg = x.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda z, n=n: _log_taylor_exp(z, n), (xg,))


def test_huge_logits_stay_finite_via_log_space() -> None:
    x = torch.tensor([[1e200, 2e200, -3e200, 0.0]], dtype=F64)  # f_2 overflows float64
    p = taylor_softmax(x, 2)
    torch.testing.assert_close(p, torch.tensor([[1.0, 4.0, 9.0, 0.0]], dtype=F64) / 14)
    torch.testing.assert_close(log_taylor_softmax(x, 2).exp(), p)
    x32 = torch.tensor([1e4, -2e4, 1.0])  # f_12 overflows float32 near 8.5e3
    want = p_ref(x32.double().numpy(), 12)
    np.testing.assert_allclose(taylor_softmax(x32, 12).numpy(), want, rtol=1e-4, atol=1e-30)


def test_mask_gives_exact_zeros_and_equals_softmax_of_the_kept_entries() -> None:
    x = torch.randn(4, 7, dtype=F64, requires_grad=True)
    mask = torch.rand(4, 7) > 0.4
    mask[0] = False
    mask[1, 0] = True
    p = taylor_softmax(x, 4, mask=mask)
    logp = log_taylor_softmax(x, 4, mask=mask)
    assert (p[~mask] == 0).all() and (p[0] == 0).all()
    assert torch.isneginf(logp[~mask]).all()
    for i in range(1, 4):
        torch.testing.assert_close(p[i, mask[i]], taylor_softmax(x[i, mask[i]], 4))
        torch.testing.assert_close(logp[i, mask[i]], p[i, mask[i]].log())
    (g,) = torch.autograd.grad((p * torch.randn(4, 7, dtype=F64)).sum(), x)
    (gl,) = torch.autograd.grad(logp[mask].sum(), x)
    assert torch.isfinite(g).all() and torch.isfinite(gl).all()
    assert (g[~mask] == 0).all() and (gl[~mask] == 0).all()


def test_mask_broadcasts_and_works_as_attention_softmax_fn() -> None:
    from kexue.transformer._attention_ops import masked_softmax

    scores = torch.randn(2, 3, 4, 6, dtype=F64)  # (B, H, Tq, Tk)
    keys = torch.tensor([[1, 1, 1, 0, 0, 1], [1, 0, 1, 1, 1, 1]], dtype=torch.bool)
    mask = keys[:, None, None, :]  # (B, 1, 1, Tk)
    softmax_fn = functools.partial(taylor_softmax, order=2)
    ours = taylor_softmax(scores, 2, mask=mask)
    torch.testing.assert_close(masked_softmax(scores, mask, softmax_fn), ours)
    torch.testing.assert_close(softmax_fn(scores, dim=-1), taylor_softmax(scores))


def test_half_precision_computed_in_float32() -> None:
    x = 4 * torch.randn(5, 9)
    for dt in (torch.float16, torch.bfloat16):
        xh = x.to(dt)
        p = taylor_softmax(xh, 4)
        assert p.dtype == dt
        torch.testing.assert_close(p, taylor_softmax(xh.float(), 4).to(dt), rtol=0, atol=0)
        assert log_taylor_softmax(xh, 2).dtype == dt
        t = torch.arange(5) % 9
        loss = taylor_cross_entropy(xh, t, 4)
        assert loss.dtype == dt
        torch.testing.assert_close(loss, taylor_cross_entropy(xh.float(), t, 4).to(dt))


def test_monotone_variant() -> None:
    x_star = taylor_minimum(2)[0]
    x = torch.tensor([[-10.0, -2.0, 0.5]], dtype=F64)
    p = taylor_softmax(x, 2)
    assert p[0, 0] > p[0, 1]  # plain Taylor softmax is not monotone left of x* = -1
    pm = taylor_softmax(x, 2, monotone=True)
    assert pm[0, 0] == pm[0, 1]  # both clamped to x*
    y = torch.tensor([[-0.5, 0.0, 2.0]], dtype=F64)  # all >= x*: unchanged
    torch.testing.assert_close(taylor_softmax(y, 2, monotone=True), taylor_softmax(y, 2))
    assert x_star == -1.0


@given(seed=st.integers(0, 2**16), n=EVEN, i=st.integers(0, 5), step=st.floats(0.01, 5))
def test_monotone_variant_is_monotone(seed: int, n: int, i: int, step: float) -> None:
    x = 4 * torch.randn(6, generator=torch.Generator().manual_seed(seed), dtype=F64)
    p0 = taylor_softmax(x, n, monotone=True)
    x1 = x.clone()
    x1[i] += step
    p1 = taylor_softmax(x1, n, monotone=True)
    assert p1[i] >= p0[i] - 1e-15
    others = torch.arange(6) != i
    assert (p1[others] <= p0[others] + 1e-15).all()


# ---------------------------------------------------------------- cross-entropy
def test_cross_entropy_matches_manual_reductions_and_spatial_layout() -> None:
    logits = 2 * torch.randn(6, 4, 3, dtype=F64)  # (N, C, d)
    target = torch.randint(0, 4, (6, 3))
    target[0, 0] = -100
    logp = torch.from_numpy(np.log(p_ref(logits.numpy(), 4, axis=1)))
    nll = -logp.gather(1, target.clamp(min=0)[:, None]).squeeze(1)
    keep = target != -100
    none = taylor_cross_entropy(logits, target, order=4, reduction="none")
    torch.testing.assert_close(none[keep], nll[keep])
    assert none[0, 0] == 0
    loss_sum = taylor_cross_entropy(logits, target, order=4, reduction="sum")
    torch.testing.assert_close(loss_sum, nll[keep].sum())
    mean = taylor_cross_entropy(logits, target, order=4)
    torch.testing.assert_close(mean, nll[keep].mean())
    flat = taylor_cross_entropy(logits.movedim(1, -1).reshape(-1, 4), target.reshape(-1), order=4)
    torch.testing.assert_close(flat, mean)
    module = TaylorCrossEntropyLoss(order=4)
    torch.testing.assert_close(module(logits, target), mean)


def test_cross_entropy_trains_a_linear_classifier() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    lin = torch.nn.Linear(5, 2)
    opt = torch.optim.Adam(lin.parameters(), lr=0.1)
    for _ in range(60):
        loss = taylor_cross_entropy(lin(x), y, order=2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = (taylor_softmax(lin(x), 2).argmax(-1) == y).float().mean()
    assert acc > 0.95


# ---------------------------------------------------------------- modules and bad input
def test_modules_match_functional_and_validate_order() -> None:
    x = torch.randn(3, 4, dtype=F64)
    torch.testing.assert_close(TaylorSoftmax(4, dim=0)(x), taylor_softmax(x, 4, dim=0))
    assert "order=4" in repr(TaylorSoftmax(4))
    with pytest.raises(ValueError, match="order"):
        TaylorSoftmax(3)
    with pytest.raises(TypeError, match="order"):
        TaylorCrossEntropyLoss(order=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reduction"):
        TaylorCrossEntropyLoss(reduction="avg")
    with pytest.raises(TypeError, match="reduction"):
        TaylorCrossEntropyLoss(reduction=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"order": 3}, ValueError, "order"),
        ({"order": 0}, ValueError, "order"),
        ({"order": -2}, ValueError, "order"),
        ({"order": 2.0}, TypeError, "order"),
        ({"order": True}, TypeError, "order"),
        ({"dim": 2}, ValueError, "dim"),
        ({"dim": 0.0}, TypeError, "dim"),
        ({"mask": torch.ones(3, 4)}, TypeError, "mask"),
        ({"mask": torch.ones(4, 3, dtype=torch.bool)}, ValueError, "mask"),
    ],
)
def test_bad_arguments_name_themselves(kwargs: dict[str, object], error: type, name: str) -> None:
    x = torch.randn(3, 4)
    for fn in (taylor_softmax, log_taylor_softmax):
        with pytest.raises(error, match=name):
            fn(x, **kwargs)  # type: ignore[arg-type]


def test_bad_tensors_and_minimum_orders() -> None:
    with pytest.raises(ValueError, match="x"):
        taylor_softmax(torch.tensor([0.0, math.inf]))
    with pytest.raises(TypeError, match="x"):
        taylor_softmax(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="x"):
        taylor_softmax(torch.tensor(1.0))  # 0-d: nothing to normalise
    with pytest.raises(ValueError, match="order"):
        taylor_minimum(5)
    with pytest.raises(TypeError, match="order"):
        taylor_minimum(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target"):
        taylor_cross_entropy(torch.randn(2, 3), torch.tensor([0, 7]))
