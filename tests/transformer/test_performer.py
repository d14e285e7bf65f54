"""Tests for kexue.transformer.performer (FAVOR+ attention and its BERT core).

The pieces it is built from have their own files: tests/transformer/test_random_features.py
(projections, features, the unbiased estimator) and tests/transformer/test_linear_attention.py.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from functools import partial

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kexue.transformer.attention import softmax_attention
from kexue.transformer.bert import BertConfig, BertModel
from kexue.transformer.linear_attention import linear_attention
from kexue.transformer.performer import PerformerAttention, favor_attention
from kexue.transformer.random_features import (
    gaussian_orthogonal_random_matrix,
    positive_random_features,
)
from tests.dispatch_probe import MaxNumel

D64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _qkv(b=2, h=2, n=20, d=8, dv=3, scale=0.6, seed=0):
    g = _gen(seed)
    q = torch.randn(b, h, n, d, generator=g, dtype=D64) * scale
    k = torch.randn(b, h, n, d, generator=g, dtype=D64) * scale
    v = torch.randn(b, h, n, dv, generator=g, dtype=D64)
    return q, k, v


# ---------------------------------------------------------------- stabilisers


def test_stabilisers_cancel_in_attention() -> None:
    q, k, v = _qkv(n=12, scale=2.0)
    w = gaussian_orthogonal_random_matrix(32, 8, _gen(0), dtype=D64)
    raw = [
        positive_random_features(x, w, iq, stabilize=False, eps=0.0) for x, iq in ((q, 1), (k, 0))
    ]
    got = favor_attention(q, k, v, w, eps=0.0)
    torch.testing.assert_close(got, linear_attention(raw[0], raw[1], v), rtol=1e-10, atol=1e-12)


def test_features_never_overflow_for_large_inputs() -> None:
    q, k, v = _qkv(n=16, scale=30.0)
    w = gaussian_orthogonal_random_matrix(64, 8, _gen(0))
    out = favor_attention(q.float(), k.float(), v.float(), w)
    assert torch.isfinite(out).all()


# ---------------------------------------------------------------- attention


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the anchor imports distutils
def test_matches_performer_pytorch_with_same_projection() -> None:
    if importlib.util.find_spec("performer_pytorch") is None:
        pytest.skip("performer-pytorch (benchmark anchor) not installed")
    from performer_pytorch.performer_pytorch import FastAttention

    q, k, v = _qkv(d=16, dv=16)
    from performer_pytorch.performer_pytorch import linear_attention as pp_linear
    from performer_pytorch.performer_pytorch import softmax_kernel

    q, k, v = _qkv(d=16, dv=16)
    fa = FastAttention(16, nb_features=48).double()
    w = fa.projection_matrix
    # eps = 0: the two stabilisers differ by constants that cancel exactly
    fq, fk = (
        softmax_kernel(x, projection_matrix=w, is_query=iq, eps=0.0) for x, iq in ((q, 1), (k, 0))
    )
    torch.testing.assert_close(favor_attention(q, k, v, w, eps=0.0), pp_linear(fq, fk, v))
    assert float((favor_attention(q, k, v, w) - fa(q, k, v)).abs().max()) < 0.05  # defaults


def test_eps_floor_relative_to_largest_feature() -> None:
    """Large |q| (pretrained models): subtracting only max(sWx), as the reference code does,
    pushes every query feature below eps, so the output no longer depends on the query."""
    q, k, v = _qkv(n=16)
    q = torch.nn.functional.normalize(q, dim=-1) * 10.6  # s^2 |q|^2 / 2 ~ 20 >> log(1e4)
    w = gaussian_orthogonal_random_matrix(64, 8, _gen(0), dtype=D64)
    ideal = favor_attention(q, k, v, w, eps=0.0)
    ours = favor_attention(q, k, v, w)
    s = 8**-0.25
    ref = []
    for x, is_q in ((q, True), (k, False)):
        z = s * x @ w.T
        c = z.amax(-1, keepdim=True) if is_q else z.amax((-2, -1), keepdim=True)
        ref.append(torch.exp(z - (x * x).sum(-1, keepdim=True) * s * s / 2 - c) + 1e-4)
    theirs = linear_attention(ref[0], ref[1], v)
    err_ours, err_theirs = float((ours - ideal).abs().max()), float((theirs - ideal).abs().max())
    assert float((theirs - theirs[..., :1, :]).abs().max()) < 1e-3  # ignores the query
    assert err_ours < 0.05 < 0.2 < err_theirs, (err_ours, err_theirs)


def test_error_shrinks_like_inverse_sqrt_m() -> None:
    g = _gen(11)
    n, d = 256, 32
    q = torch.nn.functional.normalize(torch.randn(2, 2, n, d, generator=g, dtype=D64), dim=-1) * 3
    k = torch.nn.functional.normalize(torch.randn(2, 2, n, d, generator=g, dtype=D64), dim=-1) * 3
    v = torch.randn(2, 2, n, 8, generator=g, dtype=D64)
    exact = softmax_attention(q, k, v)
    ms = [32, 64, 128, 256, 512]
    errs = []
    for m in ms:
        e = [
            float(
                (favor_attention(q, k, v, gaussian_orthogonal_random_matrix(m, d, g)) - exact)
                .abs()
                .mean()
            )
            for _ in range(4)
        ]
        errs.append(sum(e) / len(e))
    slope = (math.log(errs[-1]) - math.log(errs[0])) / (math.log(ms[-1]) - math.log(ms[0]))
    assert -0.8 < slope < -0.3, (errs, slope)
    assert all(b < a for a, b in itertools.pairwise(errs)), errs


@pytest.mark.parametrize("chunk", [1, 5, 16, 40, 128])
def test_causal_prefix_sum_equals_quadratic_form(chunk: int) -> None:
    q, k, v = _qkv(n=37)
    w = gaussian_orthogonal_random_matrix(24, 8, _gen(2), dtype=D64)
    fq = positive_random_features(q, w, True)
    fk = positive_random_features(k, w, False)
    a = (fq @ fk.transpose(-2, -1)).tril()
    want = (a @ v) / a.sum(-1, keepdim=True)
    got = favor_attention(q, k, v, w, causal=True, chunk_size=chunk)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_padding_equals_dropping_keys_even_with_garbage() -> None:
    q, k, v = _qkv(b=3, n=14)
    lengths = [14, 9, 3]
    mask = torch.arange(14)[None] < torch.tensor(lengths)[:, None]
    k, v = k.clone(), v.clone()
    k[~mask[:, None, :, None].expand_as(k)] = 50.0  # huge padded keys must not leak via the max
    v[~mask[:, None, :, None].expand_as(v)] = 1e6
    w = gaussian_orthogonal_random_matrix(32, 8, _gen(4), dtype=D64)
    for causal in (False, True):
        out = favor_attention(q, k, v, w, mask, causal=causal, chunk_size=4)
        for i, n in enumerate(lengths):
            alone = favor_attention(
                q[i : i + 1, :, :n], k[i : i + 1, :, :n], v[i : i + 1, :, :n], w, causal=causal
            )
            torch.testing.assert_close(out[i, :, :n], alone[0], rtol=1e-10, atol=1e-12)
            if not causal:  # queries on padding still see only the real keys
                full = favor_attention(q[i : i + 1], k[i : i + 1, :, :n], v[i : i + 1, :, :n], w)
                torch.testing.assert_close(out[i], full[0], rtol=1e-10, atol=1e-12)


def test_mask_matches_exact_attention_on_padded_batch_and_beats_v_masking() -> None:
    q, k, v = _qkv(b=2, h=1, n=24, d=8, scale=0.5)
    mask = torch.ones(2, 24, dtype=torch.bool)
    mask[1, 10:] = False
    exact = softmax_attention(q, k, v, mask)
    w = gaussian_orthogonal_random_matrix(4096, 8, _gen(5), dtype=D64)
    ours = favor_attention(q, k, v, w, mask)
    v_only = favor_attention(q, k, v * mask[:, None, :, None], w)  # performer-pytorch's way
    err, err_v = float((ours - exact).abs().max()), float((v_only - exact)[1].abs().max())
    assert err < 0.05 and err_v > 5 * err, (err, err_v)


def test_fully_masked_row_gives_zeros_not_nan() -> None:
    q, k, v = _qkv(b=2, n=6)
    mask = torch.tensor([[True] * 6, [False] * 6])
    w = gaussian_orthogonal_random_matrix(16, 8, _gen(0), dtype=D64)
    out = favor_attention(q, k, v, w, mask)
    assert torch.isfinite(out).all() and bool((out[1] == 0).all())


def test_gradcheck() -> None:
    q, k, v = _qkv(b=1, h=1, n=5, d=4, dv=2)
    w = gaussian_orthogonal_random_matrix(8, 4, _gen(0), dtype=D64)
    for causal in (False, True):  # eps=0: the detached stabilisers then cancel exactly
        fn = partial(favor_attention, features=w, causal=causal, chunk_size=2, eps=0.0)
        args = tuple(t.clone().requires_grad_() for t in (q, k, v))
        assert torch.autograd.gradcheck(fn, args)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs(dtype: torch.dtype) -> None:
    q, k, v = _qkv(n=10)
    w = gaussian_orthogonal_random_matrix(32, 8, _gen(0))
    out = favor_attention(q.to(dtype), k.to(dtype), v.to(dtype), w)
    ref = favor_attention(q.float(), k.float(), v.float(), w)
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), ref, atol=0.05, rtol=0.05)


@pytest.mark.parametrize("causal", [False, True])
def test_never_materialises_n_by_n(causal: bool) -> None:
    n, m, d = 2048, 64, 16
    q, k, v = (torch.randn(1, 1, n, d) for _ in range(3))
    w = gaussian_orthogonal_random_matrix(m, d)
    with MaxNumel() as probe:
        favor_attention(q, k, v, w, causal=causal, chunk_size=64)
    assert probe.max_numel <= 2 * n * m < n * n // 4, probe.max_numel


@given(
    n=st.integers(1, 12),
    dv=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    causal=st.booleans(),
)
def test_outputs_are_convex_combinations_of_values(
    n: int, dv: int, seed: int, causal: bool
) -> None:
    q, k, v = _qkv(b=1, h=1, n=n, d=4, dv=dv, scale=1.0, seed=seed)
    w = gaussian_orthogonal_random_matrix(8, 4, _gen(seed), dtype=D64)
    out = favor_attention(q, k, v, w, causal=causal, chunk_size=3)
    lo, hi = v.amin(-2, keepdim=True), v.amax(-2, keepdim=True)
    assert bool((out >= lo - 1e-9).all()) and bool((out <= hi + 1e-9).all())
    if not causal:  # permuting the keys (with their values) changes nothing
        p = torch.randperm(n, generator=_gen(seed))
        torch.testing.assert_close(favor_attention(q, k[..., p, :], v[..., p, :], w), out)


# ---------------------------------------------------------------- module


def test_module_buffer_seed_and_redraw() -> None:
    a = PerformerAttention(8, 24, generator=_gen(7))
    b = PerformerAttention(8, 24, generator=_gen(7))
    assert torch.equal(a.features, b.features)
    assert "features" not in a.state_dict()
    q, k, v = _qkv(n=6)
    out, state = a(q, k, v, None, "s")
    assert state == "s"
    torch.testing.assert_close(out, favor_attention(q, k, v, a.features))
    c = PerformerAttention(8, 24, redraw_interval=2, generator=_gen(7))
    c.eval()
    first = c.features.clone()
    for _ in range(5):
        c(q, k, v)
    assert torch.equal(c.features, first)  # eval: fixed
    c.train()
    seen = []
    for _ in range(5):
        c(q, k, v)
        seen.append(c.features.clone())
    assert torch.equal(seen[0], first) and torch.equal(seen[1], first)
    assert not torch.equal(seen[2], first) and torch.equal(seen[2], seen[3])
    c.double()
    assert c.features.dtype == D64


@torch.no_grad()
def test_in_bert_model_close_to_exact_with_many_features() -> None:
    cfg = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    exact = BertModel(cfg).eval()
    ids = torch.randint(1, 50, (2, 9))
    am = torch.ones(2, 9, dtype=torch.long)
    am[1, 5:] = 0
    want = exact(ids, am).last_hidden_state
    perf = BertModel(cfg, attention=lambda i: PerformerAttention(8, 2048, generator=_gen(i)))
    perf.load_state_dict(exact.state_dict())
    got = perf.eval()(ids, am).last_hidden_state
    err = float((got - want)[am.bool()].abs().max())
    small = exact.set_attention(PerformerAttention(8, 8, generator=_gen(0)))(ids, am)
    err_small = float((small.last_hidden_state - want)[am.bool()].abs().max())
    assert err < 0.1 and err < err_small, (err, err_small)


def test_bad_inputs_name_the_argument() -> None:
    q, k, v = _qkv(n=4)
    w = gaussian_orthogonal_random_matrix(8, 8, dtype=D64)
    with pytest.raises(ValueError, match="features"):
        favor_attention(q, k, v, w[:, :4])
    with pytest.raises(ValueError, match="features"):
        favor_attention(q, k, v, w.clone().fill_(math.nan))
    with pytest.raises(TypeError, match="q"):
        favor_attention(q.long(), k, v, w)
    with pytest.raises(ValueError, match="mask"):
        favor_attention(q, k, v, w, torch.ones(2, 1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="k"):
        favor_attention(q, k[:, :, :3], v[:, :, :3], w, causal=True)
    with pytest.raises(ValueError, match="chunk_size"):
        favor_attention(q, k, v, w, chunk_size=0)
    with pytest.raises(ValueError, match="num_features"):
        PerformerAttention(8, 0)
    with pytest.raises(TypeError, match="redraw_interval"):
        PerformerAttention(8, 4, redraw_interval=1.5)  # type: ignore[arg-type]
