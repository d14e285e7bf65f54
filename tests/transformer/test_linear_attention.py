"""Tests for kexue.transformer.linear_attention: normalised linear attention, bidirectional and causal."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kexue.transformer.linear_attention import linear_attention
from tests.dispatch_probe import MaxNumel

D64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _inputs(
    lead: tuple[int, ...] = (2, 3),
    tq: int = 11,
    tk: int = 11,
    m: int = 5,
    dv: int = 4,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Strictly positive features (``rand + 0.05``) and Gaussian values, float64."""
    g = _gen(seed)
    fq = torch.rand(*lead, tq, m, generator=g, dtype=D64) + 0.05
    fk = torch.rand(*lead, tk, m, generator=g, dtype=D64) + 0.05
    v = torch.randn(*lead, tk, dv, generator=g, dtype=D64)
    return fq, fk, v


def _brute_force(fq: torch.Tensor, fk: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """``o_i = sum_j a_ij v_j / sum_j a_ij`` with ``a_ij = phi(q_i).phi(k_j)``, one query at a time."""
    rows = []
    for i in range(fq.shape[-2]):
        stop = i + 1 if causal else fk.shape[-2]
        a = torch.einsum("...m,...jm->...j", fq[..., i, :], fk[..., :stop, :])
        num = torch.einsum("...j,...jd->...d", a, v[..., :stop, :])
        den = a.sum(-1, keepdim=True)
        rows.append(torch.where(den > 0, num / torch.where(den > 0, den, 1.0), 0.0))
    return torch.stack(rows, dim=-2)


def test_docstring_example() -> None:
    phi = torch.ones(1, 3, 2)
    v = torch.tensor([[[1.0], [2.0], [6.0]]])
    got = linear_attention(phi, phi, v, causal=True).flatten()
    torch.testing.assert_close(got, torch.tensor([1.0, 1.5, 3.0]))
    torch.testing.assert_close(linear_attention(phi, phi, v).flatten(), torch.full((3,), 3.0))


def test_bidirectional_equals_normalised_quadratic_form() -> None:
    fq, fk, v = _inputs(tq=5, tk=9, m=6)
    a = fq @ fk.transpose(-2, -1)  # the n x n matrix the module never forms
    want = (a @ v) / a.sum(-1, keepdim=True)
    got = linear_attention(fq, fk, v)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(got, _brute_force(fq, fk, v, False), rtol=1e-12, atol=1e-14)
    assert got.shape == (2, 3, 5, 4) and got.dtype == D64


@pytest.mark.parametrize("chunk", [1, 2, 5, 16, 37, 40, 128])
def test_causal_prefix_sums_equal_brute_force(chunk: int) -> None:
    fq, fk, v = _inputs(tq=37, tk=37, m=7, dv=3, seed=1)  # 37 is prime: every chunk pads
    want = _brute_force(fq, fk, v, True)
    got = linear_attention(fq, fk, v, causal=True, chunk_size=chunk)
    torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-13)
    a = (fq @ fk.transpose(-2, -1)).tril()
    torch.testing.assert_close(got, (a @ v) / a.sum(-1, keepdim=True), rtol=1e-11, atol=1e-13)
    got32 = linear_attention(fq.float(), fk.float(), v.float(), causal=True, chunk_size=chunk)
    assert got32.dtype == torch.float32
    torch.testing.assert_close(got32.double(), want, rtol=1e-5, atol=1e-5)


def test_causal_output_ignores_the_future() -> None:
    fq, fk, v = _inputs(tq=12, tk=12, seed=2)
    base = linear_attention(fq, fk, v, causal=True, chunk_size=5)
    for t in (0, 4, 5, 11):
        fq2, fk2, v2 = fq.clone(), fk.clone(), v.clone()
        fq2[..., t + 1 :, :] *= 7.0
        fk2[..., t + 1 :, :] = fk2[..., t + 1 :, :].flip(-1) * 3.0
        v2[..., t + 1 :, :] = 1e3
        out = linear_attention(fq2, fk2, v2, causal=True, chunk_size=5)
        torch.testing.assert_close(out[..., : t + 1, :], base[..., : t + 1, :], rtol=0, atol=1e-14)


def test_zero_feature_keys_drop_out_as_padding() -> None:
    fq, fk, v = _inputs(lead=(3,), tq=10, tk=10, seed=3)
    lengths = [10, 6, 2]
    mask = torch.arange(10)[None] < torch.tensor(lengths)[:, None]
    fk = fk * mask[..., None]  # padding keys: all-zero features
    v = v.masked_fill(~mask[..., None], 1e6)  # garbage values must not leak
    for causal in (False, True):
        out = linear_attention(fq, fk, v, causal=causal, chunk_size=4)
        for i, n in enumerate(lengths):
            alone = linear_attention(fq[i, :n], fk[i, :n], v[i, :n], causal=causal)
            torch.testing.assert_close(out[i, :n], alone, rtol=1e-12, atol=1e-12)
            if not causal:  # queries at padded positions still see only the real keys
                full = linear_attention(fq[i], fk[i, :n], v[i, :n])
                torch.testing.assert_close(out[i], full, rtol=1e-12, atol=1e-12)
        assert float(out.abs().max()) < 10


def test_query_without_attendable_key_gets_zero_not_nan() -> None:
    fq, fk, v = _inputs(lead=(2,), tq=6, tk=6, seed=4)
    fk[1] = 0.0  # no key at all in the second sequence
    out = linear_attention(fq, fk, v)
    assert bool(torch.isfinite(out).all()) and bool((out[1] == 0).all())
    fk = _inputs(lead=(2,), tq=6, tk=6, seed=4)[1]
    fk[:, :2] = 0.0  # causal: the first two queries have nothing to attend to yet
    out = linear_attention(fq, fk, v, causal=True, chunk_size=4)
    assert bool(torch.isfinite(out).all()) and bool((out[:, :2] == 0).all())
    torch.testing.assert_close(out, _brute_force(fq, fk, v, True), rtol=1e-12, atol=1e-14)
    fq0 = fq.clone()
    fq0[0, 3] = 0.0  # a zero query row: zero similarity to every key
    assert bool((linear_attention(fq0, fk, v)[0, 3] == 0).all())


def test_gradcheck_both_forms() -> None:
    fq, fk, v = _inputs(lead=(1,), tq=5, tk=5, m=3, dv=2, seed=5)
    for causal in (False, True):
        args = tuple(t.clone().requires_grad_() for t in (fq, fk, v))

        def fn(q: torch.Tensor, k: torch.Tensor, vv: torch.Tensor, causal: bool = causal):
            return linear_attention(q, k, vv, causal=causal, chunk_size=2)

        assert torch.autograd.gradcheck(fn, args)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("causal", [False, True])
def test_half_inputs_computed_in_float32(dtype: torch.dtype, causal: bool) -> None:
    fq, fk, v = (t.to(dtype) for t in _inputs(tq=9, tk=9, seed=6))
    out = linear_attention(fq, fk, v, causal=causal, chunk_size=4)
    assert out.dtype == dtype
    ref = linear_attention(fq.float(), fk.float(), v.float(), causal=causal, chunk_size=4)
    torch.testing.assert_close(out, ref.to(dtype), rtol=0, atol=0)


@given(
    n=st.integers(1, 14),
    m=st.integers(1, 5),
    dv=st.integers(1, 3),
    chunk=st.integers(1, 16),
    causal=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_laws(n: int, m: int, dv: int, chunk: int, causal: bool, seed: int) -> None:
    fq, fk, v = _inputs(lead=(2,), tq=n, tk=n, m=m, dv=dv, seed=seed)
    out = linear_attention(fq, fk, v, causal=causal, chunk_size=chunk)
    # exact for every chunk size, not an approximation of the prefix sums
    torch.testing.assert_close(out, _brute_force(fq, fk, v, causal), rtol=1e-10, atol=1e-12)
    # convex combinations of the (attended) values
    lo, hi = v.amin(-2, keepdim=True), v.amax(-2, keepdim=True)
    assert bool((out >= lo - 1e-9).all()) and bool((out <= hi + 1e-9).all())
    # the normalisation cancels a positive constant per query row and one per sequence of keys
    g = _gen(seed + 1)
    row = torch.rand(2, n, 1, generator=g, dtype=D64) * 10 + 0.1
    glob = torch.rand(2, 1, 1, generator=g, dtype=D64) * 10 + 0.1
    scaled = linear_attention(fq * row, fk * glob, v, causal=causal, chunk_size=chunk)
    torch.testing.assert_close(scaled, out, rtol=1e-10, atol=1e-12)
    # linear in v
    v2 = torch.randn(v.shape, generator=g, dtype=D64)
    mix = linear_attention(fq, fk, 2.0 * v - 3.0 * v2, causal=causal, chunk_size=chunk)
    other = linear_attention(fq, fk, v2, causal=causal, chunk_size=chunk)
    torch.testing.assert_close(mix, 2.0 * out - 3.0 * other, rtol=1e-10, atol=1e-10)
    if not causal:  # permuting the keys (with their values) changes nothing
        p = torch.randperm(n, generator=g)
        perm = linear_attention(fq, fk[:, p], v[:, p])
        torch.testing.assert_close(perm, out, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_never_materialises_n_by_n(causal: bool) -> None:
    n, m, dv, chunk = 2048, 16, 8, 32
    fq, fk = torch.rand(1, n, m), torch.rand(1, n, m)
    v = torch.randn(1, n, dv)
    with MaxNumel() as probe:
        linear_attention(fq, fk, v, causal=causal, chunk_size=chunk)
    bound = max(n * chunk, n * m, n * (dv + 1), (n // chunk) * m * (dv + 1))
    assert probe.max_numel <= bound < n * n // 32, probe.max_numel


def test_bad_inputs_name_the_argument() -> None:
    fq, fk, v = (t.float() for t in _inputs(lead=(1,), tq=4, tk=4))
    with pytest.raises(TypeError, match="phi_q"):
        linear_attention(fq.long(), fk, v)
    with pytest.raises(TypeError, match="v"):
        linear_attention(fq, fk, v.tolist())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dtype"):
        linear_attention(fq, fk.double(), v)
    with pytest.raises(ValueError, match="phi_q"):
        linear_attention(fq[0, 0], fk, v)
    with pytest.raises(ValueError, match="phi_k"):
        linear_attention(fq, fk[..., :0, :], v[..., :0, :])
    with pytest.raises(ValueError, match="phi_k"):
        linear_attention(fq, fk[..., :3], v)
    with pytest.raises(ValueError, match="phi_k"):
        linear_attention(fq, fk.expand(2, 4, 5), v)
    with pytest.raises(ValueError, match="v"):
        linear_attention(fq, fk, v[:, :3])
    with pytest.raises(ValueError, match="v"):
        linear_attention(fq, fk, v.clone().fill_(math.nan))
    with pytest.raises(ValueError, match="phi_q"):
        linear_attention(-torch.ones(1, 3, 2), torch.ones(1, 3, 2), torch.ones(1, 3, 1))
    with pytest.raises(ValueError, match="phi_k"):
        linear_attention(torch.ones(1, 3, 2), -torch.ones(1, 3, 2), torch.ones(1, 3, 1))
    with pytest.raises(ValueError, match="causal"):
        linear_attention(fq[:, :3], fk, v, causal=True)
    with pytest.raises(ValueError, match="chunk_size"):
        linear_attention(fq, fk, v, causal=True, chunk_size=0)
    with pytest.raises(TypeError, match="chunk_size"):
        linear_attention(fq, fk, v, chunk_size=2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="chunk_size"):
        linear_attention(fq, fk, v, chunk_size=True)
