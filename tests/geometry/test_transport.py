"""EMD / WMD / WRD: POT agreement, Sinkhorn limit, WRD laws, lower bounds, gensim, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue.geometry.transport import (
    earth_movers_distance,
    idf_weights,
    relaxed_transport_bound,
    token_masses,
    transport_cost_matrix,
    transport_distance,
    word_centroid_distance,
    word_mover_distance,
    word_rotator_distance,
    wrd_centroid_bound,
)

ot = pytest.importorskip("ot")
F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _batch(seed: int, b: int = 6, n: int = 7, m: int = 5, d: int = 4) -> tuple[torch.Tensor, ...]:
    g = _gen(seed)
    x = torch.randn(b, n, d, dtype=F64, generator=g)
    y = torch.randn(b, m, d, dtype=F64, generator=g)
    xm = torch.rand(b, n, generator=g) < 0.7
    ym = torch.rand(b, m, generator=g) < 0.7
    xm[:, 0] = ym[:, 0] = True
    return x, y, xm, ym


def test_emd_equals_pot_emd2_on_random_problems() -> None:
    g = _gen(0)
    for trial in range(20):
        n, m = (
            int(torch.randint(1, 12, (1,), generator=g)),
            int(torch.randint(1, 12, (1,), generator=g)),
        )
        c = torch.rand(n, m, dtype=F64, generator=g) * 3
        p, q = torch.rand(n, dtype=F64, generator=g), torch.rand(m, dtype=F64, generator=g)
        ours = float(earth_movers_distance(c, p, q))
        ref = ot.emd2((p / p.sum()).numpy(), (q / q.sum()).numpy(), c.numpy())
        assert ours == pytest.approx(ref, abs=1e-9), trial


@pytest.mark.parametrize(("cost", "mass"), [("euclidean", "uniform"), ("cosine", "norm")])
def test_batched_with_padding_equals_pot_per_pair(cost: str, mass: str) -> None:
    x, y, xm, ym = _batch(1)
    ours = transport_distance(x, y, xm, ym, cost=cost, mass=mass)  # type: ignore[arg-type]
    for b in range(len(x)):
        xx, yy = x[b][xm[b]].numpy(), y[b][ym[b]].numpy()
        if cost == "euclidean":
            a, w = np.full(len(xx), 1 / len(xx)), np.full(len(yy), 1 / len(yy))
            c = ot.dist(xx, yy, metric="euclidean")
        else:
            a = np.linalg.norm(xx, axis=1) / np.linalg.norm(xx, axis=1).sum()
            w = np.linalg.norm(yy, axis=1) / np.linalg.norm(yy, axis=1).sum()
            c = (
                1
                - (xx / np.linalg.norm(xx, axis=1, keepdims=True))
                @ (yy / np.linalg.norm(yy, axis=1, keepdims=True)).T
            )
        assert float(ours[b]) == pytest.approx(ot.emd2(a, w, c), abs=1e-9)


def test_single_query_broadcasts_against_batch() -> None:
    x, y, _, ym = _batch(2)
    batched = word_rotator_distance(x[0], y, y_mask=ym)
    loop = torch.stack([word_rotator_distance(x[0], y[b][ym[b]]) for b in range(len(y))])
    torch.testing.assert_close(batched, loop, rtol=0, atol=1e-12)


def test_sinkhorn_tends_to_exact_as_eps_shrinks() -> None:
    x, y, xm, ym = _batch(3, b=4)
    exact = word_rotator_distance(x, y, xm, ym)
    errors = [
        float(
            (
                word_rotator_distance(x, y, xm, ym, method="sinkhorn", eps=eps, max_iter=50_000)
                - exact
            )
            .abs()
            .max()
        )
        for eps in (0.1, 0.03, 0.01, 0.002)
    ]
    assert errors == sorted(errors, reverse=True), errors
    assert errors[-1] < 1e-3 and errors[0] > errors[-1] * 10


def test_sinkhorn_raises_when_not_converged() -> None:
    x, y, _, _ = _batch(4, b=1)
    with pytest.raises(RuntimeError, match="max_iter"):
        word_rotator_distance(x, y, method="sinkhorn", eps=1e-4, max_iter=10)


vectors = st.integers(0, 2**31 - 1)


@settings(max_examples=30, deadline=None)
@given(seed=vectors, scale=st.floats(0.01, 100.0), n=st.integers(1, 8), m=st.integers(1, 8))
def test_wrd_laws(seed: int, scale: float, n: int, m: int) -> None:
    g = _gen(seed)
    x = torch.randn(n, 5, dtype=F64, generator=g)
    y = torch.randn(m, 5, dtype=F64, generator=g)
    w = float(word_rotator_distance(x, y))
    assert -1e-12 <= w <= 2 + 1e-12
    assert float(word_rotator_distance(scale * x, y)) == pytest.approx(w, abs=1e-9)
    assert float(word_rotator_distance(x, x)) == pytest.approx(0.0, abs=1e-12)
    perm_x, perm_y = torch.randperm(n, generator=g), torch.randperm(m, generator=g)
    assert float(word_rotator_distance(x[perm_x], y[perm_y])) == pytest.approx(w, abs=1e-9)
    assert float(word_rotator_distance(y, x)) == pytest.approx(w, abs=1e-9)


def test_wrd_reaches_two_for_opposite_sequences() -> None:
    x = torch.randn(1, 3, dtype=F64).expand(4, 3) * torch.arange(1, 5, dtype=F64)[:, None]
    assert float(word_rotator_distance(x, -x)) == pytest.approx(2.0, abs=1e-12)


def test_lower_bounds_hold_on_1000_random_pairs() -> None:
    g = _gen(5)
    b, n, m, d = 1000, 6, 5, 3
    shift = torch.randn(b, 1, d, dtype=F64, generator=g)
    x = torch.randn(b, n, d, dtype=F64, generator=g) + shift
    y = torch.randn(b, m, d, dtype=F64, generator=g) + 0.5 * shift
    xm = torch.rand(b, n, generator=g) < 0.8
    xm[:, 0] = True
    wmd = word_mover_distance(x, y, xm)
    wrd = word_rotator_distance(x, y, xm)
    slack = 1e-12
    assert bool((word_centroid_distance(x, y, xm) <= wmd + slack).all())
    assert bool((relaxed_transport_bound(x, y, xm) <= wmd + slack).all())
    assert bool((wrd_centroid_bound(x, y, xm) <= wrd + slack).all())
    rw = relaxed_transport_bound(x, y, xm, cost="cosine", mass="norm")
    assert bool((rw <= wrd + slack).all())
    assert bool((rw >= wrd_centroid_bound(x, y, xm) - 0.5).all())  # sanity: not vacuous
    # the bounds are informative: RWMD is tighter than WCD on most pairs
    assert (
        float(
            (relaxed_transport_bound(x, y, xm) >= word_centroid_distance(x, y, xm)).double().mean()
        )
        > 0.5
    )


def test_article_form_of_the_jensen_bound() -> None:
    x, y, _, _ = _batch(6, b=1)
    lhs = (
        0.5
        * (x[0].sum(0) / x[0].norm(dim=1).sum() - y[0].sum(0) / y[0].norm(dim=1).sum()).pow(2).sum()
    )
    assert float(wrd_centroid_bound(x[0], y[0])) == pytest.approx(float(lhs), abs=1e-14)


def test_token_masses_and_idf() -> None:
    x = torch.tensor([[3.0, 4.0], [0.0, 1.0], [9.0, 9.0]], dtype=F64)
    mask = torch.tensor([True, True, False])
    torch.testing.assert_close(
        token_masses(x, mask, mass="norm"), torch.tensor([5 / 6, 1 / 6, 0], dtype=F64)
    )
    torch.testing.assert_close(token_masses(x, mask), torch.tensor([0.5, 0.5, 0], dtype=F64))
    w = torch.tensor([1.0, 3.0, 1.0], dtype=F64)
    torch.testing.assert_close(
        token_masses(x, mask, weights=w), torch.tensor([0.25, 0.75, 0], dtype=F64)
    )
    idf = idf_weights([["a", "b"], ["a"], ["a", "c", "c"]])
    assert idf["a"] == 0.0 and idf["b"] == pytest.approx(math.log(3))


def test_cost_matrix() -> None:
    x, y, _, _ = _batch(7, b=1)
    torch.testing.assert_close(transport_cost_matrix(x, y), torch.cdist(x, y), rtol=0, atol=1e-12)
    cos = transport_cost_matrix(x, y, "cosine")
    assert cos.shape == (1, 7, 5) and bool(((cos >= 0) & (cos <= 2)).all())


def test_gradcheck_exact_through_plan_and_duals() -> None:
    x, y, _, _ = _batch(8, b=2, n=4, m=3)
    w = torch.rand(2, 4, dtype=F64, generator=_gen(9)) + 0.5
    x, y, w = (t.clone().requires_grad_() for t in (x, y, w))
    assert torch.autograd.gradcheck(
        lambda a, b, c: word_rotator_distance(a, b, x_weights=c), (x, y, w)
    )
    assert torch.autograd.gradcheck(lambda a, b: word_mover_distance(a, b), (x, y))
    c = torch.rand(2, 4, 3, dtype=F64, generator=_gen(10), requires_grad=True)
    p = (torch.rand(2, 4, dtype=F64, generator=_gen(11)) + 0.5).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda c_, p_: earth_movers_distance(c_, p_, torch.ones(3, dtype=F64)), (c, p)
    )


def test_sinkhorn_gradient_is_its_plan() -> None:
    g = _gen(12)
    c = torch.rand(4, 3, dtype=F64, generator=g, requires_grad=True)
    p, q = torch.full((4,), 0.25, dtype=F64), torch.full((3,), 1 / 3, dtype=F64)
    value = earth_movers_distance(c, p, q, method="sinkhorn", eps=0.05)
    (grad,) = torch.autograd.grad(value, c)
    torch.testing.assert_close(grad.sum(1), p, rtol=0, atol=1e-8)  # a transport plan
    assert float((grad * c.detach()).sum()) == pytest.approx(float(value.detach()), abs=1e-12)


def test_float32_inputs_give_float32() -> None:
    x, y, xm, ym = _batch(13)
    out = word_rotator_distance(x.float(), y.float(), xm, ym)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), word_rotator_distance(x, y, xm, ym), rtol=0, atol=1e-5)


def test_gensim_wmdistance_on_its_own_lee_data() -> None:
    gensim = pytest.importorskip("gensim")
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath
    from gensim.utils import simple_preprocess

    kv = KeyedVectors.load_word2vec_format(datapath("lee_fasttext.vec"))
    with open(datapath("lee.cor"), encoding="utf-8", errors="replace") as fh:
        docs = [[t for t in simple_preprocess(line) if t in kv] for line in fh][:6]
    assert gensim.__version__
    for a, b in [(docs[0], docs[1]), (docs[2], docs[5]), (docs[3], docs[3][:7])]:
        ref = kv.wmdistance(a, b)  # norm=True: unit vectors, nBOW masses
        x = torch.from_numpy(np.stack([kv[t] for t in a])).double()
        y = torch.from_numpy(np.stack([kv[t] for t in b])).double()
        ours = float(word_mover_distance(x, y, normalize=True))
        assert ours == pytest.approx(ref, abs=1e-6)  # gensim's vectors are float32
        raw = kv.wmdistance(a, b, norm=False)
        assert float(word_mover_distance(x, y)) == pytest.approx(raw, rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"x": torch.zeros(0, 3, dtype=F64)}, ValueError, "x"),
        ({"y": torch.zeros(2, 0, 3, dtype=F64)}, ValueError, "y"),
        ({"x": torch.full((2, 3), float("nan"), dtype=F64)}, ValueError, "x"),
        ({"y": torch.ones(2, 4, dtype=F64)}, ValueError, "y"),
        ({"x": torch.ones(2, 3, dtype=torch.long)}, TypeError, "x"),
        ({"x_weights": torch.zeros(2, dtype=F64)}, ValueError, "x_weights"),
        ({"y_weights": -torch.ones(2, dtype=F64)}, ValueError, "y_weights"),
        ({"x": torch.zeros(2, 3, dtype=F64), "mass": "norm"}, ValueError, "x"),
        ({"x_mask": torch.zeros(2, dtype=torch.bool)}, ValueError, "x_mask"),
        ({"x_mask": torch.ones(3, dtype=torch.bool)}, ValueError, "x_mask"),
        ({"cost": "manhattan"}, ValueError, "cost"),
        ({"mass": "idf"}, ValueError, "mass"),
        ({"method": "simplex"}, ValueError, "method"),
        ({"eps": 0.0, "method": "sinkhorn"}, ValueError, "eps"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict, error: type, name: str) -> None:
    args = {"x": torch.ones(2, 3, dtype=F64), "y": torch.ones(2, 3, dtype=F64), **kwargs}
    with pytest.raises(error, match=name):
        transport_distance(**args)


def test_bad_masses_of_emd() -> None:
    c = torch.ones(2, 2, dtype=F64)
    with pytest.raises(ValueError, match="p"):
        earth_movers_distance(c, torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64))
    with pytest.raises(ValueError, match="cost"):
        earth_movers_distance(c, torch.ones(3, dtype=F64), torch.ones(2, dtype=F64))
    with pytest.raises(ValueError, match="documents"):
        idf_weights([])


def test_public_ot_emd_fallback_gives_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from kexue.geometry import _ot_solvers

    x, y, xm, ym = _batch(14)
    fast = word_rotator_distance(x, y, xm, ym)
    monkeypatch.setattr(_ot_solvers, "_network_simplex", lambda: None)  # POT without emd_wrap
    torch.testing.assert_close(word_rotator_distance(x, y, xm, ym), fast, rtol=0, atol=1e-12)
