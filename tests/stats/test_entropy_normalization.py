"""Entropy normalisation (D1): target hit, order, brentq agreement, clamping, gradients, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
import torch
from hypothesis import given
from hypothesis import strategies as st

from kexue.stats.entropy_normalization import (
    EntropyNormalization,
    entropy,
    entropy_invariant_scale,
    entropy_normalize,
    solve_entropy_exponent,
)

F64 = torch.float64


def _brentq_beta(z: np.ndarray, target: float) -> float:
    z = z - z.max()

    def h(beta: float) -> float:
        u = beta * z
        lse = np.log(np.exp(u).sum())
        q = np.exp(u - lse)
        return float(lse - (q * u).sum()) - target

    hi = 1.0
    while h(hi) > 0:
        hi *= 2
    return float(scipy.optimize.brentq(h, 0.0, hi, xtol=1e-15, rtol=1e-14))


def test_entropy_matches_scipy() -> None:
    p = torch.softmax(torch.randn(5, 9, dtype=F64), -1)
    p[0, 3] = 0.0
    p = p / p.sum(-1, keepdim=True)
    ref = scipy.stats.entropy(p.numpy(), axis=-1)
    torch.testing.assert_close(entropy(p), torch.from_numpy(ref), rtol=0, atol=1e-13)
    assert entropy(p.T, dim=0, keepdim=True).shape == (1, 5)


@given(
    n=st.integers(2, 1000),
    scale=st.floats(0.05, 20.0),
    frac=st.floats(0.02, 0.98),
    seed=st.integers(0, 2**31 - 1),
)
def test_hits_target_and_preserves_order(n: int, scale: float, frac: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(3, n, generator=g, dtype=F64) * scale
    target = frac * math.log(n)  # max is unique almost surely: feasible range (0, log n)
    out, gamma = entropy_normalize(logits=z, target_entropy=target, return_exponent=True)
    assert (entropy(out) - target).abs().max() < 1e-8
    assert solve_entropy_exponent(z, target).iterations.max() <= 20
    assert bool((gamma > 0).all())
    # order preserved: sorting by z sorts the output (ties only where values underflow to 0)
    order = z.argsort(-1)
    assert bool((out.gather(-1, order).diff(dim=-1) >= 0).all())
    torch.testing.assert_close(out.sum(-1), torch.ones(3, dtype=F64))


def test_targets_across_range_to_1e_minus_6() -> None:
    z = torch.randn(1, 300, dtype=F64) * 3
    targets = torch.linspace(1e-3, math.log(300) - 1e-3, 40, dtype=F64)
    out = entropy_normalize(logits=z.expand(40, 300), target_entropy=targets)
    assert (entropy(out) - targets).abs().max() < 1e-6


def test_target_equal_to_own_entropy_returns_input() -> None:
    p = torch.softmax(torch.randn(4, 50, dtype=F64), -1)
    out, gamma = entropy_normalize(p, target_entropy=entropy(p), return_exponent=True)
    # the solver starts from a data-derived beta (not beta = 1) and stops at |H - H*| <= 1e-10,
    # so gamma = 1 is reached to the solver's tolerance rather than bit for bit
    torch.testing.assert_close(out, p, rtol=1e-9, atol=1e-15)
    torch.testing.assert_close(gamma, torch.ones(4, dtype=F64), rtol=1e-9, atol=0)


def test_beta_agrees_with_brentq_and_is_monotone() -> None:
    z = torch.randn(200, dtype=F64) * 2
    targets = np.linspace(0.3, math.log(200) - 0.05, 12)
    betas = [solve_entropy_exponent(z, float(t)).exponent.item() for t in targets]
    for t, b in zip(targets, betas, strict=True):
        ref = _brentq_beta(z.numpy(), float(t))
        assert abs(b - ref) <= 1e-8 * max(1.0, ref)
    assert all(b1 > b2 for b1, b2 in itertools.pairwise(betas))


def test_zero_entries_stay_zero_and_probs_equals_logits_path() -> None:
    p = torch.tensor([0.4, 0.0, 0.3, 0.2, 0.0, 0.1], dtype=F64)
    out = entropy_normalize(p, target_entropy=1.0)
    assert out[1] == 0 and out[4] == 0
    assert abs(entropy(out).item() - 1.0) < 1e-10
    masked = entropy_normalize(logits=p.clamp_min(1e-300).log(), target_entropy=1.0, mask=p > 0)
    torch.testing.assert_close(out, masked)


def test_mask_equals_dropping_entries_and_dim_batching() -> None:
    z = torch.randn(2, 7, 4, dtype=F64)
    mask = torch.ones(2, 7, 4, dtype=torch.bool)
    mask[0, 5:, 1] = False
    out = entropy_normalize(logits=z, target_entropy=0.9, dim=1, mask=mask)
    assert out.shape == z.shape and bool((out[0, 5:, 1] == 0).all())
    for b in range(2):
        for c in range(4):
            keep = mask[b, :, c]
            ref = entropy_normalize(logits=z[b, keep, c], target_entropy=0.9)
            torch.testing.assert_close(out[b, keep, c], ref, rtol=1e-12, atol=1e-14)
    neg_inf = z.masked_fill(~mask, -math.inf)
    torch.testing.assert_close(entropy_normalize(logits=neg_inf, target_entropy=0.9, dim=1), out)


def test_clamp_limits_with_ties() -> None:
    z = torch.tensor([[2.0, 2.0, 1.0, -1.0], [0.5, 0.1, 0.1, -3.0]], dtype=F64)
    low, g_low = entropy_normalize(logits=z, target_entropy=0.0, clamp=True, return_exponent=True)
    torch.testing.assert_close(low[0], torch.tensor([0.5, 0.5, 0, 0], dtype=F64))
    torch.testing.assert_close(low[1], torch.tensor([1.0, 0, 0, 0], dtype=F64))
    assert bool(torch.isinf(g_low).all())
    high, g_high = entropy_normalize(logits=z, target_entropy=5.0, clamp=True, return_exponent=True)
    torch.testing.assert_close(high, torch.full((2, 4), 0.25, dtype=F64))
    assert bool((g_high == 0).all())
    # log m is the floor with ties: a target just above log 2 is reachable
    out = entropy_normalize(logits=z[0], target_entropy=math.log(2) + 1e-3)
    assert abs(entropy(out).item() - math.log(2) - 1e-3) < 1e-9


def test_gradcheck_implicit_gradient() -> None:
    z = torch.randn(3, 6, dtype=F64, requires_grad=True)
    t = torch.tensor([0.5, 1.0, 1.5], dtype=F64, requires_grad=True)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[1, 4:] = False
    assert torch.autograd.gradcheck(
        lambda z, t: entropy_normalize(logits=z, target_entropy=t, mask=mask), (z, t)
    )
    assert torch.autograd.gradcheck(lambda z, t: solve_entropy_exponent(z, t).exponent, (z, t))
    p = torch.softmax(torch.randn(2, 5, dtype=F64), -1).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: entropy_normalize(p, target_entropy=1.2), (p,))


def test_implicit_gradient_matches_brentq_finite_difference() -> None:
    z = torch.randn(40, dtype=F64)
    beta = solve_entropy_exponent(z, 2.0).exponent
    h = 1e-6
    fd = (_brentq_beta(z.numpy(), 2.0 + h) - _brentq_beta(z.numpy(), 2.0 - h)) / (2 * h)
    t = torch.tensor(2.0, dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(solve_entropy_exponent(z, t).exponent, t)
    assert abs(grad.item() - fd) < 1e-5 * abs(fd) and beta.item() > 0


def test_logit_scale_from_1e_minus20_to_1e20() -> None:
    """The bracket used to grow by 4x from beta = 1: 1e20 logits took ~40 evaluations, 1e-20 failed."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(16, 60, generator=g, dtype=F64)
    t = torch.rand(16, generator=g, dtype=F64) * 0.9 * math.log(60) + 0.05
    base = solve_entropy_exponent(z, t)
    want = entropy_normalize(logits=z, target_entropy=t)
    assert int(base.iterations.max()) <= 12
    for k in range(-20, 21, 5):
        s = 10.0**k
        res = solve_entropy_exponent(z * s, t)
        assert int(res.iterations.max()) <= 12, k
        torch.testing.assert_close(res.exponent * s, base.exponent, rtol=1e-9, atol=0)
        out = entropy_normalize(logits=z * s, target_entropy=t)
        torch.testing.assert_close(out, want, rtol=1e-8, atol=1e-12)
        assert (entropy(out) - t).abs().max() <= 1e-9
        assert torch.isfinite(out).all() and torch.isfinite(res.exponent).all()
    for s in (1e-20, 1e20):  # float32: beta and Var[z] would under/overflow in unscaled units
        res32 = solve_entropy_exponent((z * s).float(), t.float())
        assert int(res32.iterations.max()) <= 12
        rel = (res32.exponent.double() * s / base.exponent - 1).abs().max()
        assert rel < 1e-3
        out32 = entropy_normalize(logits=(z * s).float(), target_entropy=t.float())
        assert (entropy(out32).double() - t).abs().max() < 5e-5


def test_gradient_scales_with_the_logits() -> None:
    """beta*(s z) = beta*(z)/s, so d beta*/dz scales by 1/s^2 and d beta*/dH* by 1/s."""
    z = torch.randn(2, 12, dtype=F64, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([0.8, 1.6], dtype=F64)

    def grads(scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        zs = (z * scale).requires_grad_()
        ts = t.clone().requires_grad_()
        return torch.autograd.grad(solve_entropy_exponent(zs, ts).exponent.sum(), (zs, ts))

    gz, gt = grads(1.0)
    for scale in (1e-15, 1e15):
        gzs, gts = grads(scale)
        torch.testing.assert_close(gzs * scale**2, gz, rtol=1e-8, atol=0)
        torch.testing.assert_close(gts * scale, gt, rtol=1e-8, atol=0)
    zs = (z * 1e6).requires_grad_()
    assert torch.autograd.gradcheck(lambda u: solve_entropy_exponent(u, t).exponent, (zs,))


def test_float32_and_half() -> None:
    z = torch.randn(64, 500) * 4
    res = solve_entropy_exponent(z, 3.0)
    assert res.exponent.dtype == torch.float32 and res.residual.max() <= 1e-5
    # large gamma (sharpening to 0.05-0.4 nats): the output must stay accurate in float32
    z3 = torch.randn(256, 1000) * 3
    t3 = torch.linspace(0.05, 0.4, 256)
    assert (entropy(entropy_normalize(logits=z3, target_entropy=t3)) - t3).abs().max() < 3e-5
    out = entropy_normalize(logits=z.half(), target_entropy=3.0)
    assert out.dtype == torch.float16
    assert (entropy(out.float()) - 3.0).abs().max() < 2e-2  # half rounding of the output


def test_module_matches_functional() -> None:
    z = torch.randn(4, 10, dtype=F64)
    layer = EntropyNormalization(1.3)
    torch.testing.assert_close(layer(z), entropy_normalize(logits=z, target_entropy=1.3))
    p = torch.softmax(z, -1)
    layer_p = EntropyNormalization(1.3, from_logits=False)
    torch.testing.assert_close(layer_p(p), entropy_normalize(p, target_entropy=1.3))
    assert "target_entropy=1.3" in repr(layer)


def test_entropy_invariant_scale() -> None:
    assert entropy_invariant_scale(512, 64) == pytest.approx(1 / 8)
    n = torch.tensor([16.0, 512.0, 4096.0], dtype=F64)
    s = entropy_invariant_scale(n, 16)
    assert isinstance(s, torch.Tensor) and s.dtype == F64
    torch.testing.assert_close(s, torch.log(n) / math.log(512) / 4)
    with pytest.raises(ValueError, match="n"):
        entropy_invariant_scale(0.5, 64)
    with pytest.raises(ValueError, match="head_dim"):
        entropy_invariant_scale(10, 0)
    with pytest.raises(ValueError, match="base"):
        entropy_invariant_scale(10, 8, base=1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"logits": torch.randn(2, 3), "target_entropy": 2.0}, ValueError, "target_entropy"),
        ({"logits": torch.randn(2, 3), "target_entropy": -0.1}, ValueError, "target_entropy"),
        ({"logits": torch.randn(2, 3), "target_entropy": math.nan}, ValueError, "target_entropy"),
        ({"probs": torch.tensor([1.0, 0.0, 0.0]), "target_entropy": 0.5}, ValueError, "one-hot"),
        ({"logits": torch.zeros(2, 3), "target_entropy": 0.5}, ValueError, "constant"),
        ({"probs": torch.tensor([0.5, -0.1, 0.6]), "target_entropy": 0.5}, ValueError, "probs"),
        ({"logits": torch.tensor([0.0, math.nan]), "target_entropy": 0.5}, ValueError, "logits"),
        ({"target_entropy": 0.5}, ValueError, "logits"),
        ({"logits": torch.zeros(3, dtype=torch.long), "target_entropy": 0.5}, TypeError, "logits"),
        (
            {"logits": torch.randn(3), "target_entropy": 0.5, "mask": torch.ones(3)},
            TypeError,
            "mask",
        ),
        (
            {
                "logits": torch.randn(3),
                "target_entropy": 0.5,
                "mask": torch.ones(4, dtype=torch.bool),
            },
            ValueError,
            "mask",
        ),
        (
            {
                "logits": torch.randn(3),
                "target_entropy": 0.5,
                "mask": torch.zeros(3, dtype=torch.bool),
            },
            ValueError,
            "mask",
        ),
        ({"logits": torch.randn(3), "target_entropy": 0.5, "max_iter": 0}, ValueError, "max_iter"),
        ({"logits": torch.randn(3), "target_entropy": 0.5, "tol": 0.0}, ValueError, "tol"),
        ({"logits": torch.randn(3), "target_entropy": "x"}, TypeError, "target_entropy"),
    ],
)
def test_bad_input(kwargs: dict[str, object], error: type[Exception], word: str) -> None:
    with pytest.raises(error, match=word):
        entropy_normalize(**kwargs)  # type: ignore[arg-type]


def test_no_convergence_raises() -> None:
    z = torch.randn(8, 100, dtype=F64) * 5
    with pytest.raises(RuntimeError, match="max_iter"):
        entropy_normalize(logits=z, target_entropy=0.01, max_iter=2)
