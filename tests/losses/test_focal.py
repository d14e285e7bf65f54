"""Focal loss family (B2, article 4733) against torchvision's formula and torch's cross-entropy."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from kexue.losses.focal import (
    HardTruncationLoss,
    SigmoidFocalLoss,
    SoftenedTruncationLoss,
    SoftmaxFocalLoss,
    hard_truncation_loss,
    sigmoid_focal_loss,
    softened_truncation_loss,
    softmax_focal_loss,
)

D = torch.float64


def torchvision_sigmoid_focal(
    inputs: torch.Tensor, targets: torch.Tensor, alpha: float, gamma: float
) -> torch.Tensor:
    """torchvision.ops.sigmoid_focal_loss(reduction='none'), re-implemented from its formula."""
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def _binary_data(n: int = 64, soft: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = 4 * torch.randn(n, dtype=D, generator=g)
    x[:4] = torch.tensor([100.0, -100.0, 100.0, -100.0], dtype=D)
    y = torch.rand(n, dtype=D, generator=g) if soft else (torch.rand(n, generator=g) < 0.3).to(D)
    y[:4] = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=D)
    return x, y


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 3.5])
@pytest.mark.parametrize("alpha", [None, 0.25, 0.5])
@pytest.mark.parametrize("soft", [False, True])
def test_sigmoid_focal_matches_torchvision_formula(
    gamma: float, alpha: float | None, soft: bool
) -> None:
    x, y = _binary_data(soft=soft)
    ours = sigmoid_focal_loss(x, y, gamma=gamma, alpha=alpha, reduction="none")
    ref = torchvision_sigmoid_focal(x, y, -1.0 if alpha is None else alpha, gamma)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, ref, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(
        sigmoid_focal_loss(x, y, gamma=gamma, alpha=alpha, reduction="sum"), ref.sum()
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sigmoid_gamma_zero_is_bce(reduction: str) -> None:
    x, y = _binary_data()
    x, y = x.reshape(16, 4), y.reshape(16, 4)
    w = torch.tensor([0.5, 1.0, 2.0, 0.0], dtype=D)
    ours = sigmoid_focal_loss(x, y, gamma=0.0, weight=w, reduction=reduction)
    ref = F.binary_cross_entropy_with_logits(x, y, weight=w, reduction=reduction)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_softened_truncation_with_k1_equals_focal_gamma1() -> None:
    x, y = _binary_data()  # hard labels (for soft ones focal modulates the mixture p_t)
    torch.testing.assert_close(
        softened_truncation_loss(x, y, k=1.0, reduction="none"),
        sigmoid_focal_loss(x, y, gamma=1.0, reduction="none"),
        rtol=1e-12,
        atol=1e-12,
    )
    # K != γ differ
    assert not torch.allclose(
        softened_truncation_loss(x, y, k=3.0), sigmoid_focal_loss(x, y, gamma=1.0)
    )


def test_softened_has_gradient_where_hard_truncation_has_none() -> None:
    x = torch.tensor([2.0, -2.0], dtype=D, requires_grad=True)  # both on the right side
    y = torch.tensor([1.0, 0.0], dtype=D)
    (g_hard,) = torch.autograd.grad(hard_truncation_loss(x, y, reduction="sum"), x)
    assert torch.equal(g_hard, torch.zeros_like(g_hard))
    (g_soft,) = torch.autograd.grad(softened_truncation_loss(x, y, k=1.0, reduction="sum"), x)
    assert (g_soft.abs() > 1e-3).all()
    assert g_soft[0] < 0 < g_soft[1]  # still pushes towards the right side


def test_hard_truncation_is_ce_on_wrong_side_and_margin() -> None:
    x = torch.tensor([-1.0, 0.3, 1.0, 0.3], dtype=D)
    y = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=D)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    got = hard_truncation_loss(x, y, reduction="none")
    torch.testing.assert_close(got, ce * torch.tensor([1, 0, 1, 1], dtype=D))
    # with m = 0.6, σ(0.3) = 0.574 < 0.6 is no longer "right" for the positive
    got6 = hard_truncation_loss(x, y, margin=0.6, reduction="none")
    torch.testing.assert_close(got6, ce)


def _multiclass_data(
    shape: tuple[int, ...] = (5, 7), c: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    x = 3 * torch.randn(*shape, c, dtype=D, generator=g)
    x.view(-1, c)[0] = torch.tensor([100.0, -100.0, 0.0, 5.0], dtype=D)[:c]
    t = torch.randint(0, c, shape, generator=g)
    return x, t


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_gamma_zero_is_cross_entropy(reduction: str) -> None:
    x, t = _multiclass_data()
    t[0, :3] = -100
    w = torch.tensor([0.2, 1.0, 3.0, 0.5], dtype=D)
    ours = softmax_focal_loss(x, t, gamma=0.0, weight=w, reduction=reduction)
    ref = F.cross_entropy(x.movedim(-1, 1), t, weight=w, ignore_index=-100, reduction=reduction)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_softmax_focal_brute_force(gamma: float) -> None:
    x, t = _multiclass_data()
    p = torch.softmax(x, -1).gather(-1, t.unsqueeze(-1)).squeeze(-1)
    ref = -((1 - p) ** gamma) * torch.log(p)
    ours = softmax_focal_loss(x, t, gamma=gamma, reduction="none")
    torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-12)


def test_softmax_focal_two_classes_is_sigmoid_focal() -> None:
    g = torch.Generator().manual_seed(3)
    x = 3 * torch.randn(50, 2, dtype=D, generator=g)
    t = torch.randint(0, 2, (50,), generator=g)
    ours = softmax_focal_loss(x, t, gamma=2.0, reduction="none")
    ref = sigmoid_focal_loss(x[:, 1] - x[:, 0], t.to(D), gamma=2.0, reduction="none")
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)


def test_gradcheck() -> None:
    x, t = _multiclass_data((3,), 4)
    x = (x / 10).requires_grad_()  # keep away from saturation so finite differences are exact
    w = torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=D)
    assert torch.autograd.gradcheck(
        lambda z: softmax_focal_loss(z, t, gamma=0.5, weight=w, reduction="none"), (x,)
    )
    xb, yb = _binary_data(6, soft=True)
    xb = (xb[4:] / 4).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda z: sigmoid_focal_loss(z, yb[4:], gamma=0.5, alpha=0.25), (xb,)
    )
    assert torch.autograd.gradcheck(lambda z: softened_truncation_loss(z, yb[4:], k=2.0), (xb,))


def test_small_gamma_gradient_stays_finite_at_saturation() -> None:
    # (1 - p_t)^γ with γ < 1 has an infinite derivative at p_t = 1 if computed from probabilities
    x = torch.tensor([[60.0, -60.0, -60.0]], dtype=torch.float32, requires_grad=True)
    softmax_focal_loss(x, torch.tensor([0]), gamma=0.3).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    xb = torch.tensor([60.0, -60.0], requires_grad=True)
    sigmoid_focal_loss(xb, torch.tensor([1.0, 0.0]), gamma=0.3).backward()
    assert xb.grad is not None and torch.isfinite(xb.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_are_computed_in_float32(dtype: torch.dtype) -> None:
    x, t = _multiclass_data()
    x = x.clamp(-20, 20)
    xh = x.to(dtype)
    out = softmax_focal_loss(xh, t, gamma=2.0, reduction="sum")
    assert out.dtype == dtype
    ref = softmax_focal_loss(xh.to(D), t, gamma=2.0, reduction="sum")
    torch.testing.assert_close(out.to(D), ref, rtol=1e-2, atol=1e-2)
    xb, yb = _binary_data()
    outb = sigmoid_focal_loss(xb.to(dtype), yb.to(dtype), gamma=2.0)
    assert outb.dtype == dtype and torch.isfinite(outb)


def test_all_ignored_gives_zero_not_nan() -> None:
    x, t = _multiclass_data()
    out = softmax_focal_loss(x, torch.full_like(t, -1), ignore_index=-1)
    assert out.item() == 0.0


@given(
    st.lists(st.floats(-30, 30), min_size=3, max_size=3),
    st.integers(0, 2),
    st.floats(0.0, 4.0),
    st.floats(0.0, 4.0),
)
def test_focal_is_below_ce_and_decreasing_in_gamma(
    logits: list[float], target: int, g1: float, g2: float
) -> None:
    x = torch.tensor([logits], dtype=D)
    t = torch.tensor([target])
    lo, hi = sorted((g1, g2))
    ce = softmax_focal_loss(x, t, gamma=0.0)
    f_lo = softmax_focal_loss(x, t, gamma=lo)
    f_hi = softmax_focal_loss(x, t, gamma=hi)
    assert f_hi <= f_lo * (1 + 1e-12) + 1e-300 and f_lo <= ce * (1 + 1e-12) + 1e-300


def test_modules_match_functional() -> None:
    x, t = _multiclass_data()
    w = torch.tensor([0.2, 1.0, 3.0, 0.5], dtype=D)
    torch.testing.assert_close(
        SoftmaxFocalLoss(gamma=1.5, weight=w)(x, t), softmax_focal_loss(x, t, gamma=1.5, weight=w)
    )
    xb, yb = _binary_data()
    torch.testing.assert_close(
        SigmoidFocalLoss(gamma=2.0, alpha=0.25)(xb, yb),
        sigmoid_focal_loss(xb, yb, gamma=2.0, alpha=0.25),
    )
    torch.testing.assert_close(
        SoftenedTruncationLoss(k=2.0)(xb, yb), softened_truncation_loss(xb, yb, k=2.0)
    )
    torch.testing.assert_close(HardTruncationLoss()(xb, yb), hard_truncation_loss(xb, yb))


def test_bad_inputs_name_the_argument() -> None:
    x, t = _multiclass_data()
    xb, yb = _binary_data()
    cases: list[tuple[type[Exception], str, object]] = [
        (ValueError, "logits", lambda: softmax_focal_loss(x.clone().fill_(math.nan), t)),
        (ValueError, "logits", lambda: softmax_focal_loss(x[:0], t[:0])),
        (ValueError, "logits", lambda: softmax_focal_loss(x[..., :1], t)),
        (TypeError, "logits", lambda: softmax_focal_loss(t, t)),
        (ValueError, "target", lambda: softmax_focal_loss(x, t + 4)),
        (ValueError, "target", lambda: softmax_focal_loss(x, t[:, :3])),
        (TypeError, "target", lambda: softmax_focal_loss(x, t.to(D))),
        (ValueError, "gamma", lambda: softmax_focal_loss(x, t, gamma=-1.0)),
        (TypeError, "gamma", lambda: softmax_focal_loss(x, t, gamma="2")),
        (ValueError, "weight", lambda: softmax_focal_loss(x, t, weight=-torch.ones(4, dtype=D))),
        (ValueError, "weight", lambda: softmax_focal_loss(x, t, weight=torch.ones(3, dtype=D))),
        (ValueError, "reduction", lambda: softmax_focal_loss(x, t, reduction="avg")),
        (TypeError, "reduction", lambda: softmax_focal_loss(x, t, reduction=None)),
        (ValueError, "logits", lambda: sigmoid_focal_loss(xb.clone().fill_(math.inf), yb)),
        (ValueError, "target", lambda: sigmoid_focal_loss(xb, yb + 1)),
        (ValueError, "target", lambda: sigmoid_focal_loss(xb, yb[:3])),
        (ValueError, "alpha", lambda: sigmoid_focal_loss(xb, yb, alpha=1.5)),
        (ValueError, "weight", lambda: sigmoid_focal_loss(xb, yb, weight=-torch.ones(64))),
        (ValueError, "k", lambda: softened_truncation_loss(xb, yb, k=0.0)),
        (ValueError, "margin", lambda: hard_truncation_loss(xb, yb, margin=0.3)),
    ]
    for err, arg, call in cases:
        with pytest.raises(err, match=arg):
            call()  # type: ignore[operator]
