"""Tests for kexue.optim.clipping: hard and soft gradient clipping (technique C2)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue.optim.clipping import GradientClipper, clip_coefficient, clip_grad_norm_, clip_gradients

F64 = torch.float64


def _grads(seed: int = 0, scale: float = 3.0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(*s, generator=g, dtype=F64) for s in ((4, 3), (5,), (2, 2, 2))]


def _params(grads: list[torch.Tensor]) -> list[torch.nn.Parameter]:
    ps = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(ps, grads, strict=True):
        p.grad = g.clone()
    return ps


@settings(max_examples=300, deadline=None)
@given(
    norm=st.floats(0.0, 1e6, allow_nan=False),
    gamma=st.floats(1e-4, 1e4, allow_nan=False),
)
def test_sandwich_half_hard_le_soft_le_hard(norm: float, gamma: float) -> None:
    n = torch.tensor(norm, dtype=F64)
    hard = float(clip_coefficient(n, gamma, "hard", eps=0.0))
    soft = float(clip_coefficient(n, gamma, "soft"))
    assert 0.5 * hard <= soft * (1 + 1e-12)
    assert soft <= hard * (1 + 1e-12)
    assert 0 < soft <= 1 and 0 < hard <= 1


@settings(max_examples=100, deadline=None)
@given(norm=st.floats(0.0, 1e6), gamma=st.floats(1e-3, 1e3))
def test_sandwich_holds_with_torch_eps(norm: float, gamma: float) -> None:
    n = torch.tensor(norm, dtype=F64)
    hard = float(clip_coefficient(n, gamma, "hard"))
    soft = float(clip_coefficient(n, gamma, "soft"))
    assert 0.5 * hard <= soft * (1 + 1e-12) and soft <= hard * (1 + 1e-12)


@pytest.mark.parametrize("gamma", [0.1, 1.0, 5.0, 1e3])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_hard_equals_torch_clip_grad_norm(gamma: float, dtype: torch.dtype) -> None:
    grads = [g.to(dtype) for g in _grads()]
    ours, theirs = _params(grads), _params(grads)
    n_ours = clip_grad_norm_(ours, gamma, "hard")
    n_torch = torch.nn.utils.clip_grad_norm_(theirs, gamma)
    torch.testing.assert_close(n_ours.to(dtype), n_torch, rtol=1e-7, atol=0)
    for a, b in zip(ours, theirs, strict=True):
        assert a.grad is not None and b.grad is not None
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-7, atol=1e-12)
    clipped, _ = clip_gradients(grads, gamma, "hard")
    for c, b in zip(clipped, theirs, strict=True):
        assert b.grad is not None
        torch.testing.assert_close(c, b.grad, rtol=1e-7, atol=1e-12)


def test_soft_scales_by_gamma_over_norm_plus_gamma() -> None:
    grads = _grads()
    total = math.sqrt(sum(float(g.pow(2).sum()) for g in grads))
    clipped, n = clip_gradients(grads, 2.0, "soft")
    assert float(n) == pytest.approx(total, rel=1e-14)
    for c, g in zip(clipped, grads, strict=True):
        torch.testing.assert_close(c, g * (2.0 / (total + 2.0)), rtol=1e-14, atol=0)
    new_norm = math.sqrt(sum(float(c.pow(2).sum()) for c in clipped))
    assert new_norm < 2.0  # soft clipping keeps the norm strictly below gamma


def test_per_parameter_clips_each_tensor_by_its_own_norm() -> None:
    grads = _grads()
    clipped, _ = clip_gradients(grads, 1.0, "hard", per_parameter=True, eps=0.0)
    for c, g in zip(clipped, grads, strict=True):
        assert float(c.norm()) == pytest.approx(min(1.0, float(g.norm())), rel=1e-12)
    ps = _params(grads)
    clip_grad_norm_(ps, 1.0, "soft", per_parameter=True)
    for p, g in zip(ps, grads, strict=True):
        n = float(g.norm())
        assert p.grad is not None
        torch.testing.assert_close(p.grad, g * (1.0 / (n + 1.0)), rtol=1e-14, atol=0)


def test_small_gradients_untouched_by_hard_clipping() -> None:
    grads = _grads(scale=1e-3)
    clipped, _ = clip_gradients(grads, 1.0, "hard")
    for c, g in zip(clipped, grads, strict=True):
        torch.testing.assert_close(c, g, rtol=0, atol=0)


def test_half_precision_norm_in_float32_and_dtype_kept() -> None:
    g = torch.full((4096,), 300.0, dtype=torch.float16)  # sum of squares overflows float16
    (c,), n = clip_gradients([g], 1.0, "hard")
    assert n.dtype == torch.float32 and math.isfinite(float(n))
    assert c.dtype == torch.float16 and float(c.float().norm()) == pytest.approx(1.0, rel=1e-2)


@pytest.mark.parametrize("gamma", [0.0, -1.0, float("nan")])
def test_nonpositive_gamma_names_gamma(gamma: float) -> None:
    with pytest.raises(ValueError, match="gamma"):
        clip_gradients(_grads(), gamma)
    with pytest.raises(ValueError, match="gamma"):
        clip_grad_norm_(_params(_grads()), gamma)
    with pytest.raises(ValueError, match="gamma"):
        GradientClipper(gamma)


def test_bad_mode_and_types() -> None:
    with pytest.raises(ValueError, match="mode"):
        clip_gradients(_grads(), 1.0, "medium")
    with pytest.raises(TypeError, match="grads"):
        clip_gradients([torch.ones(3, dtype=torch.long)], 1.0)
    with pytest.raises(TypeError, match="parameters"):
        clip_grad_norm_([1.0], 1.0)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="nonfinite"):
        GradientClipper(1.0, nonfinite="ignore")
    with pytest.raises(TypeError, match="optimizer"):
        GradientClipper(1.0).step(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_raises_or_is_skipped_never_finite(bad: float) -> None:
    grads = _grads()
    grads[1][2] = bad
    with pytest.raises(ValueError, match="non-finite"):
        clip_gradients(grads, 1.0)
    ps = _params(grads)
    with pytest.raises(ValueError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, "soft")
    n = clip_grad_norm_(ps, 1.0, "soft", error_if_nonfinite=False)
    assert not math.isfinite(float(n))
    for p, g in zip(ps, grads, strict=True):  # left untouched, not scaled to a finite value
        assert p.grad is not None
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0, equal_nan=True)
    clipped, n2 = clip_gradients(grads, 1.0, error_if_nonfinite=False)
    assert not math.isfinite(float(n2)) and not torch.isfinite(clipped[1]).all()


def test_clipper_skips_and_counts_nonfinite_steps() -> None:
    w = torch.nn.Parameter(torch.ones(3, dtype=F64))
    opt = torch.optim.SGD([w], lr=0.5)
    clipper = GradientClipper(1.0, "soft", nonfinite="skip")
    w.grad = torch.tensor([3.0, 0.0, 4.0], dtype=F64)
    assert clipper.step(opt)
    torch.testing.assert_close(w.detach(), 1 - 0.5 * torch.tensor([3.0, 0, 4.0], dtype=F64) / 6)
    before = w.detach().clone()
    w.grad = torch.tensor([float("inf"), 0.0, 0.0], dtype=F64)
    assert not clipper.step(opt)
    assert clipper.skipped_steps == 1 and not math.isfinite(float(clipper.last_norm))  # type: ignore[arg-type]
    torch.testing.assert_close(w.detach(), before, rtol=0, atol=0)
    state = clipper.state_dict()
    other = GradientClipper(1.0, "soft", nonfinite="skip")
    other.load_state_dict(state)
    assert other.skipped_steps == 1
    with pytest.raises(ValueError, match="non-finite"):
        GradientClipper(1.0).step(opt)


def test_clipped_gd_converges_on_quartic_where_fixed_step_diverges() -> None:
    # f = ||θ||^4 / 4 is not L-smooth but (L0, L1)-smooth: a fixed step tuned near the optimum
    # diverges from far away, soft clipping (γ = L0/L1 = 1, base step 1/L0) converges.
    def grad(t: torch.Tensor) -> torch.Tensor:
        return t.pow(2).sum() * t

    for r0 in (5.0, 10.0):
        fixed = torch.full((2,), r0 / math.sqrt(2), dtype=F64)
        soft = fixed.clone()
        for _ in range(2000):
            if torch.isfinite(fixed).all() and float(fixed.norm()) < 1e10:
                fixed = fixed - 0.3 * grad(fixed)
            (g,), _ = clip_gradients([grad(soft)], 1.0, "soft")
            soft = soft - g / 3.0
        assert not (float(fixed.norm()) < 1.0)  # diverged (or blew up)
        assert float(grad(soft).norm()) < 1e-3
