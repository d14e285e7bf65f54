"""Tests for kexue.transformer.attention: exact softmax attention cores and their plug-in conventions."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kexue.transformer._attention_ops import masked_softmax, normalize_mask
from kexue.transformer.attention import Attention, SoftmaxAttention, softmax_attention
from kexue.transformer.attention_scale import entropy_invariant_factor

D64 = torch.float64


def taylor_softmax(x: torch.Tensor, order: int = 2, dim: int = -1) -> torch.Tensor:
    """Local even-order Taylor softmax (ratio form), so these tests do not depend on A6's module."""
    f = sum(x**n / math.factorial(n) for n in range(order + 1))
    return f / f.sum(dim, keepdim=True)


def _qkv(b: int = 2, h: int = 2, tq: int = 3, tk: int = 7, d: int = 4, dtype=D64):
    g = torch.Generator().manual_seed(1)
    q = torch.randn(b, h, tq, d, generator=g, dtype=dtype)
    k = torch.randn(b, h, tk, d, generator=g, dtype=dtype)
    v = torch.randn(b, h, tk, d + 1, generator=g, dtype=dtype)
    return q, k, v


def _lengths_mask(lengths: list[int], tk: int) -> torch.Tensor:
    return torch.arange(tk)[None, :] < torch.tensor(lengths)[:, None]  # (B, Tk)


def _reference(q, k, v, mask, lam):
    """Brute-force loop: softmax over the allowed keys only."""
    b, h, tq, _ = q.shape
    out = torch.zeros(b, h, tq, v.shape[-1], dtype=q.dtype)
    for i in range(b):
        for j in range(h):
            for t in range(tq):
                keep = mask[i] if mask is not None else torch.ones(k.shape[2], dtype=torch.bool)
                lt = lam if isinstance(lam, float) else lam(int(keep.sum()))
                s = torch.stack([lt * (q[i, j, t] @ k[i, j, u]) for u in torch.nonzero(keep)[:, 0]])
                w = torch.exp(s - s.max())
                out[i, j, t] = (w / w.sum()) @ v[i, j][keep]
    return out


@pytest.mark.parametrize("explicit", [False, True])
def test_standard_scale_matches_brute_force(explicit: bool) -> None:
    q, k, v = _qkv()
    mask = _lengths_mask([7, 4], 7)
    fn = torch.softmax if explicit else None
    got = softmax_attention(q, k, v, mask, softmax_fn=fn)
    want = _reference(q, k, v, mask, 1 / math.sqrt(4))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    got2 = softmax_attention(q, k, v, mask, scale=0.3, softmax_fn=fn)
    torch.testing.assert_close(got2, _reference(q, k, v, mask, 0.3), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("explicit", [False, True])
def test_entropy_invariant_uses_valid_key_count(explicit: bool) -> None:
    q, k, v = _qkv(tk=40)
    mask = _lengths_mask([40, 25], 40)
    fn = torch.softmax if explicit else None
    got = softmax_attention(q, k, v, mask, scale="entropy_invariant", softmax_fn=fn)

    def lam(n: int) -> float:
        return math.log(max(n, 16)) / math.log(512) / 2.0  # d = 4

    torch.testing.assert_close(got, _reference(q, k, v, mask, lam), rtol=1e-12, atol=1e-12)
    # padded batch == each example alone, unpadded (A4 acceptance check 2)
    alone = softmax_attention(q[1:], k[1:, :, :25], v[1:, :, :25], scale="entropy_invariant")
    torch.testing.assert_close(got[1:], alone, rtol=1e-12, atol=1e-12)


def test_entropy_invariant_equals_standard_at_512_keys_and_clips_short() -> None:
    q, k, v = _qkv(b=1, h=1, tq=2, tk=512)
    torch.testing.assert_close(
        softmax_attention(q, k, v, scale="entropy_invariant"), softmax_attention(q, k, v)
    )
    assert entropy_invariant_factor(None, 512).item() == pytest.approx(1.0)
    assert entropy_invariant_factor(None, 3).item() == pytest.approx(math.log(16) / math.log(512))
    m = torch.ones(1, 1, 1, 100, dtype=torch.bool)
    m[..., 50:] = False
    assert entropy_invariant_factor(m, 100).item() == pytest.approx(math.log(50) / math.log(512))
    # a per-query (causal) mask gives a per-row factor with n_i = i + 1
    causal = torch.ones(64, 64, dtype=torch.bool).tril()[None, None]
    f = entropy_invariant_factor(causal, 64, min_keys=1).flatten()
    want = torch.log(torch.arange(1, 65, dtype=torch.float32)) / math.log(512)
    torch.testing.assert_close(f, want)


@given(
    lengths=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    order=st.sampled_from([None, 2, 4]),
)
def test_padding_equals_dropping_keys(lengths: list[int], order: int | None) -> None:
    """Law: padded keys never change the output, for softmax and Taylor-softmax normalisers."""
    fn = None if order is None else partial(taylor_softmax, order=order)
    q, k, v = _qkv(b=len(lengths), h=2, tq=3, tk=9)
    k = k + 20.0 * (torch.arange(9) >= max(lengths)).to(D64)[:, None]  # junk in padding
    out = softmax_attention(q, k, v, _lengths_mask(lengths, 9), softmax_fn=fn)
    for i, n in enumerate(lengths):
        alone = softmax_attention(
            q[i : i + 1], k[i : i + 1, :, :n], v[i : i + 1, :, :n], softmax_fn=fn
        )
        torch.testing.assert_close(out[i : i + 1], alone, rtol=1e-10, atol=1e-12)


def test_taylor_softmax_plug_in_matches_manual() -> None:
    a6 = pytest.importorskip(
        "kexue.transformer.taylor_softmax", reason="A6 Taylor softmax not present"
    )
    q, k, v = _qkv()
    fn = partial(a6.taylor_softmax, order=2)
    got = softmax_attention(q, k, v, softmax_fn=fn)
    s = q @ k.transpose(-2, -1) / 2.0
    f = 1 + s + s**2 / 2
    torch.testing.assert_close(got, (f / f.sum(-1, keepdim=True)) @ v, rtol=1e-12, atol=1e-12)


def test_masked_softmax_zeroes_masked_and_handles_extremes() -> None:
    s = torch.tensor([[-1000.0, -1001.0, 5.0], [1.0, 2.0, 3.0]], dtype=D64)
    m = torch.tensor([[True, True, False], [False, False, False]])
    p = masked_softmax(s, m)
    torch.testing.assert_close(p[0, :2], torch.softmax(s[0, :2], -1))  # no underflow to 0/0
    assert p[0, 2] == 0 and (p[1] == 0).all()  # fully masked row -> zeros, not NaN
    h = masked_softmax(s.half(), m)
    assert h.dtype == torch.float16 and torch.isfinite(h).all()


def test_fully_masked_row_is_finite_on_sdpa_path() -> None:
    q, k, v = _qkv(b=1)
    out = softmax_attention(q, k, v, torch.zeros(1, 7, dtype=torch.bool))
    assert torch.isfinite(out).all()


def test_gradcheck_both_paths() -> None:
    q = _qkv()[0][:1, :1, :2].clone().requires_grad_()
    mask = torch.tensor([[True, True, False, True]])
    kk = torch.randn(1, 1, 4, 4, dtype=D64, requires_grad=True)
    vv = torch.randn(1, 1, 4, 2, dtype=D64, requires_grad=True)
    for fn, scale in [
        (None, "standard"),
        (None, "entropy_invariant"),
        (torch.softmax, "entropy_invariant"),
        (partial(taylor_softmax, order=4), "standard"),
    ]:
        assert torch.autograd.gradcheck(
            lambda a, b, c, fn=fn, sc=scale: softmax_attention(
                a, b, c, mask, scale=sc, softmax_fn=fn
            ),
            (q, kk, vv),
        )


def test_half_inputs_follow_dtype_and_match_float32() -> None:
    q, k, v = _qkv(dtype=torch.float32)
    for fn in (None, torch.softmax):
        out = softmax_attention(q.half(), k.half(), v.half(), softmax_fn=fn)
        assert out.dtype == torch.float16
        ref = softmax_attention(q.half().float(), k.half().float(), v.half().float())
        torch.testing.assert_close(out.float(), ref, atol=2e-3, rtol=2e-3)


def test_module_form_dropout_and_state() -> None:
    q, k, v = _qkv()
    core = SoftmaxAttention(scale="entropy_invariant", dropout=0.5).eval()
    out, state = core(q, k, v, None, {"x": 1})
    assert state == {"x": 1}
    torch.testing.assert_close(out, softmax_attention(q, k, v, scale="entropy_invariant"))
    core.train()
    torch.manual_seed(0)
    out_train, _ = core(q, k, v)
    assert not torch.allclose(out_train, out)
    assert isinstance(core, Attention)
    with pytest.raises(NotImplementedError):
        Attention()(q, k, v)
    with pytest.raises(ValueError, match="dropout"):
        SoftmaxAttention(dropout=1.0)


def test_normalize_mask_shapes() -> None:
    q, k, _ = _qkv()
    assert normalize_mask(None, q, k) is None
    assert normalize_mask(torch.ones(2, 7, dtype=torch.bool), q, k).shape == (2, 1, 1, 7)
    assert normalize_mask(torch.ones(1, 2, 3, 7, dtype=torch.bool), q, k).shape == (1, 2, 3, 7)


@pytest.mark.parametrize(
    ("call", "error", "arg"),
    [
        (lambda q, k, v: softmax_attention(q, k[..., :3], v), ValueError, "k"),
        (lambda q, k, v: softmax_attention(q, k, v[:, :, :4]), ValueError, "v"),
        (lambda q, k, v: softmax_attention(q[0], k, v), ValueError, "q"),
        (lambda q, k, v: softmax_attention(q.long(), k, v), TypeError, "q"),
        (
            lambda q, k, v: softmax_attention(q, k, v, torch.ones(2, 6, dtype=torch.bool)),
            ValueError,
            "mask",
        ),
        (lambda q, k, v: softmax_attention(q, k, v, torch.ones(2, 7)), TypeError, "mask"),
        (lambda q, k, v: softmax_attention(q, k, v, scale="log"), ValueError, "scale"),
        (lambda q, k, v: softmax_attention(q, k, v, scale=-1.0), ValueError, "scale"),
        (lambda q, k, v: softmax_attention(q.float(), k, v), TypeError, "dtype"),
        (
            lambda q, k, v: masked_softmax(torch.ones(2, 3, dtype=torch.long), None),
            TypeError,
            "scores",
        ),
        (
            lambda q, k, v: masked_softmax(torch.ones(2, 3), torch.ones(2, 4, dtype=torch.bool)),
            ValueError,
            "mask",
        ),
        (lambda q, k, v: entropy_invariant_factor(None, 0), ValueError, "n_keys"),
        (lambda q, k, v: entropy_invariant_factor(None, 8, base=1.0), ValueError, "base"),
        (lambda q, k, v: entropy_invariant_factor(torch.ones(1, 1, 1, 8), 8), TypeError, "mask"),
    ],
)
def test_bad_input(call, error: type[Exception], arg: str) -> None:
    q, k, v = _qkv()
    with pytest.raises(error, match=arg):
        call(q, k, v)


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_nan_query_row_gives_nan_output_row(
    explicit: bool, masked: bool, dtype: torch.dtype
) -> None:
    """PyTorch's fused CPU kernel returned a zero row for an all-NaN query (B=2, T=3, no mask)."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 3, 8, generator=g).to(dtype) for _ in range(3))
    q[0, 1, 1, :] = math.nan  # the whole query row
    q[1, 0, 2, 3] = math.nan  # a single entry
    mask = torch.tensor([[True, True, False], [True, True, True]]) if masked else None
    fn = torch.softmax if explicit else None
    for scale in ("standard", "entropy_invariant", 0.3):
        out = softmax_attention(q, k, v, mask, scale=scale, softmax_fn=fn)
        bad = torch.zeros(2, 2, 3, dtype=torch.bool)
        bad[0, 1, 1] = bad[1, 0, 2] = True
        assert out[bad].isnan().all()  # NaN propagates (torch convention), never a finite zero
        assert torch.isfinite(out[~bad]).all()  # and only into those rows
        out_m, _ = SoftmaxAttention(scale=scale, softmax_fn=fn)(q, k, v, mask)
        torch.testing.assert_close(out_m, out, equal_nan=True)


@pytest.mark.parametrize("scale", ["bogus", -1.0, 0.0, math.inf, math.nan, True, None])
def test_module_validates_scale_in_constructor(scale: object) -> None:
    """SoftmaxAttention(scale="bogus") used to fail only on the first call."""
    with pytest.raises(ValueError, match="scale"):
        SoftmaxAttention(scale=scale)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="softmax_fn"):
        SoftmaxAttention(softmax_fn="softmax")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dropout"):
        SoftmaxAttention(dropout="0.1")  # type: ignore[arg-type]
    assert SoftmaxAttention(scale=2).scale == 2.0
