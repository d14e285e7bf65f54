"""Multi-task loss weighting (B3, article 8870): gradient identities and invariances, in float64."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import entropy

from kexue.losses.multitask import (
    MultiTaskLoss,
    ce_prior_loss,
    generalized_mean,
    gradient_normalized_sum,
    mse_prior_loss,
    normalized_sum,
    realtime_normalized_sum,
    uncertainty_weighted_sum,
    weighted_sum,
)

D = torch.float64


def _problem() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, dtype=D, generator=g)
    cls = (x[:, 0] + 0.5 * x[:, 1] > 0).long() + (x[:, 2] > 1).long()  # 3 classes
    reg = 40 + 20 * x[:, 3:4] - 10 * x[:, 4:5] ** 2  # offset-dominated regression target
    return x, cls, reg


def _init_params() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    shapes = [(5, 8), (8,), (8, 3), (3,), (8, 1), (1,)]
    return [(0.3 * torch.randn(*s, dtype=D, generator=g)).requires_grad_() for s in shapes]


def _losses(params: list[torch.Tensor]) -> torch.Tensor:
    x, cls, reg = _problem()
    w, b, wa, ba, wb, bb = params
    h = torch.tanh(x @ w + b)
    return torch.stack([F.cross_entropy(h @ wa + ba, cls), F.mse_loss(h @ wb + bb, reg)])


Combine = Callable[[torch.Tensor, list[torch.Tensor]], torch.Tensor]


def _trajectory(
    combine: Combine, scale: float = 1.0, shift: float = 0.0, steps: int = 40, lr: float = 0.05
) -> torch.Tensor:
    params = _init_params()
    for _ in range(steps):
        losses = _losses(params)
        losses = torch.stack([losses[0], scale * losses[1] + shift])
        total = combine(losses, params)
        grads = torch.autograd.grad(total, params)
        with torch.no_grad():
            for p, gr in zip(params, grads, strict=True):
                p -= lr * gr
    return torch.cat([p.detach().flatten() for p in params])


def _initial(losses0: torch.Tensor) -> Combine:
    return lambda losses, _: normalized_sum(losses, losses0)


def _schemes(scale: float, shift: float = 0.0) -> dict[str, Combine]:
    l0 = _losses(_init_params()).detach()
    l0 = torch.stack([l0[0], scale * l0[1] + shift])  # the initial losses of the rescaled task
    _, cls, reg = _problem()
    prior = torch.stack([ce_prior_loss(torch.bincount(cls)), scale * mse_prior_loss(reg) + shift])
    return {
        "initial": _initial(l0),
        "prior": lambda losses, _: normalized_sum(losses, prior),
        "realtime": lambda losses, _: realtime_normalized_sum(losses),
        "gradient_normalized": lambda losses, p: gradient_normalized_sum(losses, p[:2]),
    }


@pytest.mark.parametrize("c", [1e-3, 1e3])
def test_scale_invariant_trajectories(c: float) -> None:
    base, scaled = _schemes(1.0), _schemes(c)
    for name in base:
        diff = (_trajectory(base[name]) - _trajectory(scaled[name], scale=c)).abs().max().item()
        assert diff <= 1e-8, f"{name}: trajectory changed by {diff} under L_B -> {c} L_B"
    ew = (lambda losses, _: weighted_sum(losses), lambda losses, _: weighted_sum(losses))
    diff_ew = (_trajectory(ew[0]) - _trajectory(ew[1], scale=c, lr=1e-4 if c > 1 else 0.05)).abs()
    assert diff_ew.max().item() > 1e-3  # equal weights are not scale invariant


def test_shift_changes_normalisations_but_not_gradient_normalisation() -> None:
    base, shifted = _schemes(1.0), _schemes(1.0, shift=100.0)
    for name in ("initial", "prior", "realtime"):
        diff = (_trajectory(base[name]) - _trajectory(shifted[name], shift=100.0)).abs().max()
        assert diff.item() > 1e-6, name
    gn = base["gradient_normalized"]
    diff = (_trajectory(gn) - _trajectory(gn, shift=100.0)).abs().max().item()
    assert diff <= 1e-10


def test_realtime_gradient_is_gradient_of_sum_log() -> None:
    params = _init_params()
    losses = _losses(params)
    g1 = torch.autograd.grad(realtime_normalized_sum(losses, eps=0.0), params, retain_graph=True)
    g2 = torch.autograd.grad(losses.log().sum(), params)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    assert realtime_normalized_sum(losses, eps=0.0).item() == pytest.approx(2.0, abs=1e-14)


def test_gradient_normalized_direction() -> None:
    params = _init_params()
    losses = _losses(params)
    shared = params[:2]
    per_task = [torch.autograd.grad(losses[i], shared, retain_graph=True) for i in range(2)]
    norms = [torch.sqrt(sum(g.pow(2).sum() for g in gs)) for gs in per_task]
    total = gradient_normalized_sum(losses, shared, eps=0.0)
    got = torch.autograd.grad(total, shared)
    for j in range(2):
        ref = per_task[0][j] / norms[0] + per_task[1][j] / norms[1]
        torch.testing.assert_close(got[j], ref, rtol=1e-12, atol=1e-14)


def test_generalized_mean_limits() -> None:
    t = torch.tensor([0.3, 2.0, 7.0], dtype=D)
    assert generalized_mean(t, 1.0).item() == pytest.approx(t.mean().item(), rel=1e-14)
    geo = t.log().mean().exp().item()
    assert generalized_mean(t, 0.0).item() == pytest.approx(geo, rel=1e-14)
    assert generalized_mean(t, 1e-6).item() == pytest.approx(geo, rel=1e-5)
    assert generalized_mean(t, -1.0).item() == pytest.approx(3 / (1 / t).sum().item(), rel=1e-14)
    assert generalized_mean(t, 50.0).item() == pytest.approx(7.0, rel=0.03)
    assert generalized_mean(t, -50.0).item() == pytest.approx(0.3, rel=0.03)
    assert generalized_mean(t, math.inf).item() == 7.0
    assert generalized_mean(t, -math.inf).item() == 0.3
    # extreme γ stays finite (log-space); tiny γ has no cancellation
    assert math.isfinite(generalized_mean(t, 1e4).item())
    assert generalized_mean(t, 1e-12).item() == pytest.approx(geo, rel=1e-11)
    for gamma in (1e-8, 0.5, -2.0, 40.0):  # both branches of the implementation
        x = t.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda z, g=gamma: generalized_mean(z, g), (x,))


@settings(max_examples=30)
@given(
    st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=5),
    st.floats(-20, 20),
    st.floats(-20, 20),
    st.floats(1e-3, 1e3),
)
def test_generalized_mean_monotone_and_homogeneous(
    values: list[float], g1: float, g2: float, c: float
) -> None:
    t = torch.tensor(values, dtype=D)
    lo, hi = sorted((g1, g2))
    assert generalized_mean(t, lo).item() <= generalized_mean(t, hi).item() * (1 + 1e-12)
    # scaling every loss scales the mean (so the direction, not the step, is scale-invariant)
    assert generalized_mean(c * t, hi).item() == pytest.approx(
        c * generalized_mean(t, hi).item(), rel=1e-10
    )


def test_uncertainty_optimum_is_the_loss() -> None:
    losses = torch.tensor([0.2, 3.0, 150.0], dtype=D)
    s = losses.log().clone().requires_grad_()
    (g,) = torch.autograd.grad(uncertainty_weighted_sum(losses, s), s)
    torch.testing.assert_close(g, torch.zeros_like(g), atol=1e-14, rtol=0)
    # a strict minimum: the objective is convex in s (second derivative ½ e^{-s} L > 0)
    for delta in (-0.1, 0.1):
        assert uncertainty_weighted_sum(losses, s + delta) > uncertainty_weighted_sum(losses, s)
    # the effective weight at the optimum is 1 / (2 L): real-time normalisation up to ½
    (gl,) = torch.autograd.grad(
        uncertainty_weighted_sum(losses.requires_grad_(), s.detach()), losses
    )
    torch.testing.assert_close(gl, 0.5 / losses.detach())


def test_simple_forms_and_batching() -> None:
    t = torch.tensor([[1.0, 4.0, 2.0], [3.0, 0.5, 6.0]], dtype=D)
    w = torch.tensor([0.2, 0.3, 0.5], dtype=D)
    torch.testing.assert_close(weighted_sum(t, w), (t * w).sum(-1))
    torch.testing.assert_close(weighted_sum(t), t.mean(-1))
    torch.testing.assert_close(normalized_sum(t, w), (t / w).sum(-1))
    torch.testing.assert_close(realtime_normalized_sum(t), torch.full((2,), 3.0, dtype=D))
    rows = torch.stack([generalized_mean(t[i], 0.5) for i in range(2)])
    torch.testing.assert_close(generalized_mean(t, 0.5), rows)
    # a sequence of scalars is the same as the stacked tensor
    torch.testing.assert_close(generalized_mean(list(t[0]), 2.0), generalized_mean(t[0], 2.0))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs(dtype: torch.dtype) -> None:
    t = torch.tensor([0.01, 2.0, 3.0e4])
    for fn in (
        lambda z: generalized_mean(z, 1e-3),
        lambda z: generalized_mean(z, -3.0),
        lambda z: realtime_normalized_sum(z),
    ):
        out = fn(t.to(dtype))
        assert out.dtype == dtype
        torch.testing.assert_close(out.float(), fn(t.to(dtype).float()), rtol=1e-2, atol=0)


def test_prior_losses_match_references() -> None:
    counts = torch.tensor([50.0, 30.0, 15.0, 5.0], dtype=D)
    assert ce_prior_loss(counts).item() == pytest.approx(entropy(counts.numpy()), rel=1e-12)
    assert ce_prior_loss(counts.long()).item() == pytest.approx(entropy(counts.numpy()), rel=1e-6)
    y = torch.randn(40, 3, dtype=D) * torch.tensor([1.0, 10.0, 100.0], dtype=D) + 7
    assert mse_prior_loss(y).item() == pytest.approx(np.var(y.numpy(), axis=0).mean(), rel=1e-12)
    # the best constant predictor reaches the prior loss
    assert F.mse_loss(y.mean(0).expand_as(y), y).item() == pytest.approx(mse_prior_loss(y).item())


def test_module_strategies_match_functional() -> None:
    params = _init_params()
    losses = _losses(params)
    scales = torch.tensor([1.1, 500.0], dtype=D)
    cases: dict[str, tuple[MultiTaskLoss, torch.Tensor]] = {
        "equal": (MultiTaskLoss(2, "equal"), weighted_sum(losses)),
        "prior": (MultiTaskLoss(2, "prior", scales=scales), normalized_sum(losses, scales)),
        "realtime": (MultiTaskLoss(2, "realtime"), realtime_normalized_sum(losses)),
        "gm": (MultiTaskLoss(2, "generalized_mean", gamma=0.5), generalized_mean(losses, 0.5)),
        "uw": (MultiTaskLoss(2, "uncertainty"), uncertainty_weighted_sum(losses, torch.zeros(2))),
    }
    for name, (mod, ref) in cases.items():
        torch.testing.assert_close(mod(losses), ref, msg=name)
    init = MultiTaskLoss(2, "initial")
    assert init(losses).item() == pytest.approx(2.0)
    torch.testing.assert_close(init(losses / 2), normalized_sum(losses / 2, losses.detach()))
    init.reset()
    assert init(losses / 2).item() == pytest.approx(2.0)
    uw = MultiTaskLoss(2, "uncertainty")
    assert [n for n, _ in uw.named_parameters()] == ["log_vars"]
    gn = MultiTaskLoss(2, "gradient_normalized")
    torch.testing.assert_close(
        gn(losses, shared_params=params[:2]), gradient_normalized_sum(losses, params[:2])
    )
    with pytest.raises(ValueError, match="shared_params"):
        gn(losses)


def test_bad_inputs_name_the_argument() -> None:
    good = torch.tensor([1.0, 2.0])
    w = torch.ones(2, requires_grad=True)
    cases: list[tuple[type[Exception], str, Callable[[], object]]] = [
        (ValueError, "losses", lambda: realtime_normalized_sum(torch.tensor([1.0, math.nan]))),
        (ValueError, "losses", lambda: realtime_normalized_sum(torch.tensor([1.0, -1.0]))),
        (ValueError, "losses", lambda: weighted_sum(torch.zeros(0))),
        (ValueError, "losses", lambda: weighted_sum([])),
        (TypeError, "losses", lambda: weighted_sum(torch.tensor([1, 2]))),
        (TypeError, "losses", lambda: weighted_sum([1.0, 2.0])),  # type: ignore[list-item]
        (ValueError, "losses", lambda: generalized_mean(torch.tensor([0.0, 1.0]), 0.0)),
        (TypeError, "gamma", lambda: generalized_mean(good, "1")),  # type: ignore[arg-type]
        (ValueError, "weights", lambda: weighted_sum(good, torch.tensor([1.0, -1.0]))),
        (ValueError, "weights", lambda: weighted_sum(good, torch.ones(3))),
        (ValueError, "scales", lambda: normalized_sum(good, torch.tensor([1.0, 0.0]))),
        (ValueError, "log_vars", lambda: uncertainty_weighted_sum(good, torch.zeros(3))),
        (ValueError, "params", lambda: gradient_normalized_sum([w.sum(), w.prod()], [])),
        (ValueError, "losses", lambda: gradient_normalized_sum(torch.ones(2, 2), [w])),
        (ValueError, "class_counts", lambda: ce_prior_loss(torch.tensor([-1.0, 2.0]))),
        (ValueError, "targets", lambda: mse_prior_loss(torch.zeros(0))),
        (ValueError, "strategy", lambda: MultiTaskLoss(2, "dwa")),
        (ValueError, "scales", lambda: MultiTaskLoss(2, "prior")),
        (TypeError, "n_tasks", lambda: MultiTaskLoss(2.0, "equal")),  # type: ignore[arg-type]
    ]
    for err, arg, call in cases:
        with pytest.raises(err, match=arg):
            call()
