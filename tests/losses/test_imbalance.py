"""Smooth accuracy / smooth F1 / class weights (B2, article 7708): the gradient identities."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import f1_score
from sklearn.utils.class_weight import compute_class_weight

from kexue.losses.imbalance import (
    F1WeightedCrossEntropy,
    class_balanced_weights,
    f1_weighted_cross_entropy,
    smooth_accuracy,
    smooth_f1,
)

D = torch.float64


def _data(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = 2 * torch.randn(n, dtype=D, generator=g)
    y = (torch.rand(n, generator=g) < 0.25).to(D)
    return x, y


def test_ce_is_smooth_accuracy_with_log_gradient() -> None:
    # ∇(-ACC_s) per sample = -p_t(1-p_t)∇x·sign; CE's is that divided by p_t (∇p → ∇log p)
    x, y = _data()
    x.requires_grad_()
    (g_acc,) = torch.autograd.grad(-smooth_accuracy(x, y) * x.numel(), x)
    (g_ce,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(x, y, reduction="sum"), x)
    p = torch.sigmoid(x.detach())
    p_t = y * p + (1 - y) * (1 - p)
    torch.testing.assert_close(g_ce, g_acc / p_t, rtol=1e-12, atol=1e-14)


def test_f1_weighted_ce_is_smooth_f1_with_log_gradient() -> None:
    x, y = _data()
    x.requires_grad_()
    f1 = smooth_f1(x, y, eps=0.0)
    (g_f1,) = torch.autograd.grad(f1, x)
    (g_wce,) = torch.autograd.grad(
        f1_weighted_cross_entropy(x, y, f1=f1.detach(), reduction="sum"), x
    )
    p = torch.sigmoid(x.detach())
    p_t = y * p + (1 - y) * (1 - p)
    half_b = (y + p).sum() / 2  # the global factor 2 / E[y + p] of the article
    torch.testing.assert_close(g_wce, -half_b * g_f1 / p_t, rtol=1e-10, atol=1e-14)


def test_f1_weights_and_batch_estimate() -> None:
    x, y = _data()
    f = smooth_f1(x, y).item()
    ce_pos = F.softplus(-x)
    ce_neg = F.softplus(x)
    ref = (1 - f / 2) * y * ce_pos + f / 2 * (1 - y) * ce_neg
    torch.testing.assert_close(f1_weighted_cross_entropy(x, y, reduction="none"), ref)
    torch.testing.assert_close(f1_weighted_cross_entropy(x, y, f1=f), ref.mean())
    # F1 = 0 → only positives count; F1 = 1 → CE / 2
    torch.testing.assert_close(
        f1_weighted_cross_entropy(x, y, f1=0.0, reduction="sum"), (y * ce_pos).sum()
    )
    torch.testing.assert_close(
        f1_weighted_cross_entropy(x, y, f1=1.0),
        F.binary_cross_entropy_with_logits(x, y) / 2,
    )


def test_grouped_f1_equals_per_group_calls() -> None:
    x, y = _data(120)
    x, y = x.reshape(3, 40), y.reshape(3, 40)
    f = smooth_f1(x, y, dim=-1)
    assert f.shape == (3,)
    got = f1_weighted_cross_entropy(x, y, f1=f[:, None], reduction="none")
    ref = torch.stack([f1_weighted_cross_entropy(x[i], y[i], reduction="none") for i in range(3)])
    torch.testing.assert_close(got, ref)


def test_smooth_f1_tends_to_f1_for_confident_logits() -> None:
    x, y = _data(200)
    hard = (x > 0).to(D)
    got = smooth_f1(50 * torch.where(hard > 0, 1.0, -1.0).to(D), y).item()
    ref = f1_score(y.numpy(), hard.numpy())
    assert got == pytest.approx(ref, abs=1e-12)
    acc = smooth_accuracy(50 * (2 * hard - 1), y).item()
    assert acc == pytest.approx(float((hard == y).to(D).mean()), abs=1e-12)


def test_module_keeps_an_ema() -> None:
    crit = F1WeightedCrossEntropy(momentum=0.5)
    x, y = _data()
    out1 = crit(x, y)
    f1a = smooth_f1(x, y).item()
    torch.testing.assert_close(out1, f1_weighted_cross_entropy(x, y))
    out2 = crit(-x, y)
    f1b = smooth_f1(-x, y).item()
    assert crit.f1_ema.item() == pytest.approx(0.5 * f1a + 0.5 * f1b, rel=1e-6)
    torch.testing.assert_close(
        out2, f1_weighted_cross_entropy(-x, y, f1=crit.f1_ema.item()), rtol=1e-6, atol=1e-7
    )
    crit.eval()
    before = crit.f1_ema.clone()
    crit(x, y)
    assert torch.equal(crit.f1_ema, before)


def test_class_balanced_weights_match_sklearn() -> None:
    labels = np.repeat(np.arange(5), [100, 40, 16, 6, 2])
    counts = torch.bincount(torch.from_numpy(labels)).to(D)
    ref = compute_class_weight("balanced", classes=np.arange(5), y=labels)
    torch.testing.assert_close(class_balanced_weights(counts), torch.from_numpy(ref))
    # integer counts give the default dtype
    assert class_balanced_weights(counts.long()).dtype == torch.get_default_dtype()


@given(st.lists(st.integers(1, 10_000), min_size=2, max_size=8), st.floats(0.0, 0.9999))
def test_effective_number_weights_sum_to_c_and_interpolate(counts: list[int], beta: float) -> None:
    c = torch.tensor(counts, dtype=D)
    w = class_balanced_weights(c, beta=beta)
    assert w.sum().item() == pytest.approx(len(counts), rel=1e-10)
    # rarer classes never get smaller weights
    order = torch.argsort(c)
    assert (w[order].diff() <= 1e-12).all()
    torch.testing.assert_close(class_balanced_weights(c, beta=0.0), torch.ones_like(c))


def test_effective_number_tends_to_inverse_frequency() -> None:
    c = torch.tensor([500.0, 50.0, 5.0], dtype=D)
    w = class_balanced_weights(c, beta=1 - 1e-9)
    inv = (1 / c) * 3 / (1 / c).sum()
    torch.testing.assert_close(w, inv, rtol=1e-5, atol=0)


def test_bad_inputs_name_the_argument() -> None:
    x, y = _data()
    cases: list[tuple[type[Exception], str, object]] = [
        (ValueError, "logits", lambda: f1_weighted_cross_entropy(x.clone().fill_(math.nan), y)),
        (ValueError, "logits", lambda: smooth_f1(x[:0], y[:0])),
        (TypeError, "logits", lambda: smooth_accuracy(y.long(), y)),
        (ValueError, "target", lambda: f1_weighted_cross_entropy(x, y * 2)),
        (ValueError, "target", lambda: smooth_accuracy(x, y[:5])),
        (ValueError, "f1", lambda: f1_weighted_cross_entropy(x, y, f1=1.5)),
        (ValueError, "f1", lambda: f1_weighted_cross_entropy(x, y, f1=torch.ones(2))),
        (ValueError, "f1", lambda: f1_weighted_cross_entropy(x, y, f1=torch.full((40,), 2.0))),
        (ValueError, "counts", lambda: class_balanced_weights(torch.tensor([3.0, 0.0]))),
        (ValueError, "counts", lambda: class_balanced_weights(torch.ones(2, 2))),
        (TypeError, "counts", lambda: class_balanced_weights([1, 2])),
        (ValueError, "beta", lambda: class_balanced_weights(torch.ones(3), beta=1.0)),
        (ValueError, "momentum", lambda: F1WeightedCrossEntropy(momentum=1.0)),
    ]
    for err, arg, call in cases:
        with pytest.raises(err, match=arg):
            call()  # type: ignore[operator]
