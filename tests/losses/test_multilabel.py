"""ZLPR multi-label loss: closed form vs pairwise definition, sparse = dense, soft labels, stability."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kexue.losses.multilabel import (
    MultilabelCrossEntropy,
    SparseMultilabelCrossEntropy,
    multilabel_categorical_crossentropy,
    multilabel_predict,
    multilabel_probabilities,
    sparse_multilabel_categorical_crossentropy,
)

mce = multilabel_categorical_crossentropy
smce = sparse_multilabel_categorical_crossentropy


def pairwise_loss(s: list[float], y: list[int]) -> float:
    """log(1 + sum_{-,+} e^{s_i - s_j} + sum_- e^{s_i} + sum_+ e^{-s_j}), in math.fsum."""
    pos = [v for v, t in zip(s, y, strict=True) if t]
    neg = [v for v, t in zip(s, y, strict=True) if not t]
    terms = [1.0] + [math.exp(a - b) for a, b in itertools.product(neg, pos)]
    terms += [math.exp(a) for a in neg] + [math.exp(-b) for b in pos]
    return math.log(math.fsum(terms))


def soft_loss(s: list[float], t: list[float]) -> float:
    """log(1 + sum t e^{-s}) + log(1 + sum (1-t) e^{s})."""
    a = math.fsum([1.0] + [ti * math.exp(-si) for si, ti in zip(s, t, strict=True)])
    b = math.fsum([1.0] + [(1 - ti) * math.exp(si) for si, ti in zip(s, t, strict=True)])
    return math.log(a) + math.log(b)


def to_ids(y: torch.Tensor, width: int, pad: int = -1) -> torch.Tensor:
    """Multi-hot (N, C) -> padded ids (N, width)."""
    out = torch.full((y.shape[0], width), pad, dtype=torch.long)
    for r in range(y.shape[0]):
        nz = torch.nonzero(y[r]).flatten()
        out[r, : len(nz)] = nz
    return out


def test_closed_form_equals_pairwise_definition() -> None:
    g = torch.Generator().manual_seed(1)
    s = torch.randn(20, 7, generator=g, dtype=torch.float64) * 3
    y = torch.rand(20, 7, generator=g) < 0.3
    y[0] = False  # no positives
    y[1] = True  # no negatives
    got = mce(s, y, reduction="none")
    want = torch.tensor(
        [pairwise_loss(s[i].tolist(), y[i].tolist()) for i in range(20)], dtype=torch.float64
    )
    torch.testing.assert_close(got, want.double(), rtol=1e-12, atol=1e-12)


def test_soft_labels_match_formula_and_reduce_to_hard() -> None:
    g = torch.Generator().manual_seed(2)
    s = torch.randn(10, 6, generator=g, dtype=torch.float64)
    t = torch.rand(10, 6, generator=g, dtype=torch.float64)
    t[:, 0] = 0.0
    t[:, 1] = 1.0
    want = torch.tensor(
        [soft_loss(s[i].tolist(), t[i].tolist()) for i in range(10)], dtype=torch.float64
    )
    torch.testing.assert_close(mce(s, t, reduction="none"), want.double(), rtol=1e-12, atol=0)
    y = torch.rand(10, 6, generator=g) < 0.5
    hard = mce(s, y, reduction="none")
    for form in (y.double(), y.long(), y.to(torch.uint8)):
        torch.testing.assert_close(mce(s, form, reduction="none"), hard, rtol=0, atol=0)


@given(st.lists(st.floats(0.01, 0.99), min_size=1, max_size=6))
def test_soft_optimum_is_sigmoid_2s(ts: list[float]) -> None:
    t = torch.tensor([ts], dtype=torch.float64)
    s = (0.5 * torch.logit(t)).requires_grad_()  # t = sigmoid(2 s)
    (grad,) = torch.autograd.grad(mce(s, t), s)
    assert grad.abs().max() < 1e-12
    torch.testing.assert_close(multilabel_probabilities(s.detach()), t, rtol=1e-12, atol=1e-12)
    # moving any score away raises the loss
    bumped = s.detach() + 0.1 * torch.randn_like(t)
    assert float(mce(bumped, t)) > float(mce(s.detach(), t))


@given(
    st.integers(1, 4),
    st.integers(1, 9),
    st.integers(0, 12),
    st.integers(0, 10_000),
)
def test_sparse_equals_dense(n: int, c: int, width: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, c, generator=g, dtype=torch.float64) * 4
    ids = torch.randint(-1, c, (n, width), generator=g)  # -1 pads, repeats allowed
    y = torch.zeros(n, c, dtype=torch.bool)
    for r in range(n):
        for v in ids[r].tolist():
            if v >= 0:
                y[r, v] = True
    s1 = s.clone().requires_grad_()
    s2 = s.clone().requires_grad_()
    a = smce(s1, ids, reduction="none")
    b = mce(s2, y, reduction="none")
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    a.sum().backward()
    b.sum().backward()
    assert s1.grad is not None and s2.grad is not None
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-10, atol=1e-12)


def test_sparse_matches_article_formula_and_handles_leading_dims() -> None:
    g = torch.Generator().manual_seed(3)
    s = torch.randn(2, 3, 50, generator=g, dtype=torch.float64)
    ids = torch.stack([torch.randperm(50, generator=g)[:4] for _ in range(6)]).reshape(2, 3, 4)
    ids[0, 0, 2:] = 7  # a pad_id that is also a class id: ignored
    got = smce(s, ids, pad_id=7, reduction="none")
    assert got.shape == (2, 3)
    # article 8888: a + log(1 - e^{b-a}) plus the positive term, in float64 where it is accurate
    flat_s, flat_i = s.reshape(6, 50), ids.reshape(6, 4)
    want = []
    for r in range(6):
        p = sorted({v for v in flat_i[r].tolist() if v != 7})
        a = torch.logsumexp(torch.cat([flat_s[r], torch.zeros(1, dtype=s.dtype)]), 0)
        b = torch.logsumexp(flat_s[r, p], 0)
        neg = a + torch.log1p(-torch.exp(b - a))
        pos = torch.logsumexp(torch.cat([-flat_s[r, p], torch.zeros(1, dtype=s.dtype)]), 0)
        want.append(float(neg + pos))
    torch.testing.assert_close(
        got.reshape(6), torch.tensor(want, dtype=torch.float64), rtol=1e-10, atol=0
    )


def test_sparse_exact_where_positives_dominate() -> None:
    # positives ~1e4 above the zero class: the article's a + log(1 - e^{b-a}) cancels in float32
    s = torch.tensor([[1e4, 9990.0, -3.0, 1e4 - 1.0], [50.0, -50.0, -60.0, 40.0]])
    ids = torch.tensor([[0, 3], [0, 3]])
    y = torch.zeros(2, 4, dtype=torch.bool)
    y[:, [0, 3]] = True
    want = mce(s.double(), y, reduction="none")
    got = smce(s, ids, reduction="none")
    assert (got >= 0).all()
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-30)
    assert float(got[1]) < 1e-15  # e^{-10}-ish terms, kept (not clipped to a negative number)


@pytest.mark.parametrize("fn", ["dense", "sparse"])
def test_extreme_logits_finite(fn: str) -> None:
    s = torch.tensor([[1e4, -1e4, 1e4, -1e4], [-1e4, 1e4, 0.0, 3.0]], requires_grad=True)
    y = torch.tensor([[1, 0, 0, 1], [1, 0, 0, 0]])
    loss = mce(s, y) if fn == "dense" else smce(s, to_ids(y, 3))
    loss.backward()
    assert torch.isfinite(loss) and s.grad is not None and torch.isfinite(s.grad).all()
    assert float(loss.detach()) == pytest.approx((2e4 + 1e4 + 1e4) / 2, rel=1e-6)


def test_gradcheck_dense_and_sparse() -> None:
    g = torch.Generator().manual_seed(4)
    s = torch.randn(3, 6, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.rand(3, 6, generator=g, dtype=torch.float64)
    ids = torch.tensor([[0, 0, 5], [-1, -1, -1], [1, 2, 3]])
    assert torch.autograd.gradcheck(lambda x: mce(x, t, reduction="sum"), (s,))
    t.requires_grad_()
    mask = torch.tensor([True] * 5 + [False])
    assert torch.autograd.gradcheck(lambda x, u: mce(x, u, mask=mask, reduction="none"), (s, t))
    assert torch.autograd.gradcheck(lambda x: smce(x, ids, reduction="none"), (s,))


def test_masking_by_argument_and_by_minus_inf() -> None:
    g = torch.Generator().manual_seed(5)
    s = torch.randn(4, 5, generator=g, dtype=torch.float64)
    y = torch.rand(4, 5, generator=g) < 0.4
    y[:, 4] = True  # a padded positive, masked away
    mask = torch.tensor([True, True, True, False, False])
    want = mce(s[:, :3], y[:, :3], reduction="none")
    torch.testing.assert_close(mce(s, y, mask=mask, reduction="none"), want)
    s_inf = s.clone().requires_grad_()
    masked = s_inf.masked_fill(~mask, -math.inf)
    dense = mce(masked, y & mask, reduction="sum")
    sparse = smce(masked, to_ids(y[:, :3], 3), reduction="sum")
    torch.testing.assert_close(dense, want.sum())
    torch.testing.assert_close(sparse, want.sum())
    sparse.backward()
    assert s_inf.grad is not None and (s_inf.grad[:, 3:] == 0).all()
    assert torch.isfinite(s_inf.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_computed_in_float32(dtype: torch.dtype) -> None:
    s = (torch.randn(8, 30) * 20).to(dtype)
    y = torch.rand(8, 30) < 0.1
    ids = to_ids(y, 6)
    ref = mce(s.float(), y)
    for out in (mce(s, y), smce(s, ids)):
        assert out.dtype == dtype and torch.isfinite(out)
        torch.testing.assert_close(out.float(), ref, rtol=1e-2, atol=0)


def test_reductions_and_modules() -> None:
    s = torch.randn(2, 3, 4, dtype=torch.float64)
    y = torch.rand(2, 3, 4) < 0.5
    none = mce(s, y, reduction="none")
    assert none.shape == (2, 3)
    torch.testing.assert_close(mce(s, y, reduction="sum"), none.sum())
    torch.testing.assert_close(MultilabelCrossEntropy()(s, y), none.mean())
    ids = torch.where(y, torch.arange(4), -1)
    torch.testing.assert_close(SparseMultilabelCrossEntropy(reduction="sum")(s, ids), none.sum())
    assert "reduction='sum'" in repr(SparseMultilabelCrossEntropy(reduction="sum"))


def test_predict_threshold_zero() -> None:
    s = torch.tensor([[0.3, -0.2, 0.0]])
    assert multilabel_predict(s).tolist() == [[True, False, False]]
    assert multilabel_predict(s, threshold=-0.5).tolist() == [[True, True, True]]


BAD = [
    (lambda: mce(torch.tensor([[math.nan, 0.0]]), torch.zeros(1, 2)), ValueError, "logits"),
    (lambda: mce(torch.tensor([[math.inf, 0.0]]), torch.zeros(1, 2)), ValueError, "logits"),
    (lambda: mce(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2)), TypeError, "logits"),
    (lambda: mce(torch.zeros(1, 2), torch.tensor([[0.5, 1.5]])), ValueError, "targets"),
    (lambda: mce(torch.zeros(1, 2), torch.tensor([[0, 2]])), ValueError, "targets"),
    (lambda: mce(torch.zeros(1, 2), torch.zeros(1, 3)), ValueError, "targets"),
    (lambda: mce(torch.zeros(1, 2), torch.zeros(1, 2), reduction="avg"), ValueError, "reduction"),
    (lambda: mce(torch.zeros(1, 2), torch.zeros(1, 2), mask=torch.ones(1, 2)), TypeError, "mask"),
    (
        lambda: mce(torch.tensor([[-math.inf, 0.0]]), torch.tensor([[1.0, 0.0]])),
        ValueError,
        "targets",
    ),
    (lambda: smce(torch.zeros(1, 3), torch.tensor([[0.0, 1.0]])), TypeError, "positive_ids"),
    (lambda: smce(torch.zeros(1, 3), torch.tensor([[0, 3]])), ValueError, "positive_ids"),
    (lambda: smce(torch.zeros(1, 3), torch.tensor([[0, -2]])), ValueError, "positive_ids"),
    (lambda: smce(torch.zeros(2, 3), torch.tensor([[0, 1]])), ValueError, "positive_ids"),
    (lambda: smce(torch.zeros(1, 3), torch.tensor([[0]]), pad_id=0.5), TypeError, "pad_id"),
    (lambda: smce(torch.tensor([[math.nan, 0.0]]), torch.tensor([[0]])), ValueError, "logits"),
    (lambda: multilabel_predict(torch.tensor([math.nan])), ValueError, "logits"),
    (lambda: MultilabelCrossEntropy(reduction="x"), ValueError, "reduction"),
    (lambda: MultilabelCrossEntropy(reduction=None), TypeError, "reduction"),
]


@pytest.mark.parametrize(("call", "error", "arg"), BAD)
def test_bad_input_names_argument(call: object, error: type[Exception], arg: str) -> None:
    with pytest.raises(error, match=arg):
        call()  # type: ignore[operator]
