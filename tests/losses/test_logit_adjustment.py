"""Logit adjustment (B2, article 7615): loss = CE on shifted logits = the (π_i/π_y)^τ form."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from kexue.losses.logit_adjustment import (
    LogitAdjustedCrossEntropy,
    log_prior,
    logit_adjust,
    logit_adjusted_cross_entropy,
)

D = torch.float64


def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(6, 5, 4, dtype=D, generator=g)
    t = torch.randint(0, 4, (6, 5), generator=g)
    counts = torch.tensor([500.0, 120.0, 20.0, 5.0], dtype=D)
    return x, t, counts


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
def test_equals_ce_on_shifted_logits_and_ratio_form(tau: float) -> None:
    x, t, counts = _data()
    pi = counts / counts.sum()
    ours = logit_adjusted_cross_entropy(x, t, counts, tau=tau, reduction="none")
    ce = F.cross_entropy((x + tau * pi.log()).movedim(-1, 1), t, reduction="none")
    torch.testing.assert_close(ours, ce, rtol=1e-12, atol=1e-12)
    # log[1 + Σ_{i≠y} (π_i/π_y)^τ e^{f_i - f_y}]
    f_y = x.gather(-1, t.unsqueeze(-1))
    ratio = (pi / pi[t].unsqueeze(-1)) ** tau * torch.exp(x - f_y)
    ratio = ratio.scatter(-1, t.unsqueeze(-1), 0.0)
    torch.testing.assert_close(ours, torch.log1p(ratio.sum(-1)), rtol=1e-10, atol=1e-12)


def test_weight_ignore_index_and_reductions_follow_cross_entropy() -> None:
    x, t, counts = _data()
    t[0] = -100
    w = torch.tensor([0.1, 1.0, 2.0, 5.0], dtype=D)
    shifted = (x + log_prior(counts)).movedim(-1, 1)
    for red in ("mean", "sum", "none"):
        torch.testing.assert_close(
            logit_adjusted_cross_entropy(x, t, counts, weight=w, reduction=red),
            F.cross_entropy(shifted, t, weight=w, reduction=red),
            rtol=1e-12,
            atol=1e-12,
        )


@given(st.floats(1e-3, 1e3), st.floats(0.0, 3.0))
def test_prior_scale_is_irrelevant_and_post_hoc_is_the_opposite_shift(
    scale: float, tau: float
) -> None:
    x, t, counts = _data()
    torch.testing.assert_close(
        logit_adjusted_cross_entropy(x, t, counts * scale, tau=tau),
        logit_adjusted_cross_entropy(x, t, counts, tau=tau),
    )
    adjusted = logit_adjust(x, counts * scale, tau)
    torch.testing.assert_close(adjusted, x - tau * torch.log(counts / counts.sum()))
    # post-hoc adjustment undoes the train-time shift exactly
    la = logit_adjusted_cross_entropy(logit_adjust(x, counts, tau), t, counts, tau=tau)
    torch.testing.assert_close(la, F.cross_entropy(x.movedim(-1, 1), t))


def test_gradcheck() -> None:
    x, t, counts = _data()
    x = x[:2, :2].clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda z: logit_adjusted_cross_entropy(z, t[:2, :2], counts, tau=1.0, reduction="none"),
        (x,),
    )


def test_half_precision_follows_input_dtype() -> None:
    x, t, counts = _data()
    out = logit_adjusted_cross_entropy(x.half(), t, counts.half())
    assert out.dtype == torch.float16
    ref = logit_adjusted_cross_entropy(x.half().double(), t, counts)
    assert out.item() == pytest.approx(ref.item(), rel=2e-3)


def test_module_matches_functional_and_adjusts() -> None:
    x, t, counts = _data()
    crit = LogitAdjustedCrossEntropy(counts, tau=0.7)
    torch.testing.assert_close(crit(x, t), logit_adjusted_cross_entropy(x, t, counts, tau=0.7))
    torch.testing.assert_close(crit.adjust(x), logit_adjust(x, counts, 0.7))


def test_bad_inputs_name_the_argument() -> None:
    x, t, counts = _data()
    cases: list[tuple[type[Exception], str, object]] = [
        (ValueError, "class_prior", lambda: logit_adjust(x, torch.tensor([1.0, 0, 1, 1]))),
        (ValueError, "class_prior", lambda: logit_adjust(x, counts[:3])),
        (ValueError, "class_prior", lambda: logit_adjust(x, counts.reshape(2, 2))),
        (TypeError, "class_prior", lambda: logit_adjust(x, counts.long())),
        (ValueError, "tau", lambda: logit_adjust(x, counts, -1.0)),
        (ValueError, "logits", lambda: logit_adjust(x.clone().fill_(math.nan), counts)),
        (ValueError, "logits", lambda: logit_adjusted_cross_entropy(x[:0], t[:0], counts)),
        (ValueError, "target", lambda: logit_adjusted_cross_entropy(x, t + 10, counts)),
        (ValueError, "target", lambda: logit_adjusted_cross_entropy(x, t[:2], counts)),
        (ValueError, "weight", lambda: logit_adjusted_cross_entropy(x, t, counts, weight=-counts)),
    ]
    for err, arg, call in cases:
        with pytest.raises(err, match=arg):
            call()  # type: ignore[operator]
