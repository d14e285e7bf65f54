"""Tests for kexue.transformer.realformer: residual attention scores (running sum of pre-softmax logits)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kexue.transformer.attention import SoftmaxAttention, softmax_attention
from kexue.transformer.bert import BertConfig, BertModel
from kexue.transformer.realformer import RealFormerAttention, RealFormerState, realformer_attention

D64 = torch.float64


def _qkv(b: int = 2, h: int = 3, tq: int = 4, tk: int = 5, d: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, h, tq, d, generator=g, dtype=D64)
    k = torch.randn(b, h, tk, d, generator=g, dtype=D64)
    v = torch.randn(b, h, tk, 3, generator=g, dtype=D64)
    return q, k, v


def _pad_mask(lengths: list[int], tk: int) -> torch.Tensor:
    return torch.arange(tk)[None, :] < torch.tensor(lengths)[:, None]


def _softmax_ref(logits: torch.Tensor, mask: torch.Tensor | None, v: torch.Tensor) -> torch.Tensor:
    """Hand-written masked softmax attention: -inf on masked keys."""
    if mask is not None:
        logits = logits.masked_fill(~mask[:, None, None, :], -math.inf)
    return torch.softmax(logits, -1) @ v


@pytest.mark.parametrize("scale", ["standard", "entropy_invariant", 0.7])
def test_first_layer_equals_standard_attention(scale: object) -> None:
    q, k, v = _qkv()
    mask = _pad_mask([5, 3], 5)
    out, scores = realformer_attention(q, k, v, mask, scale=scale)  # type: ignore[arg-type]
    ref = softmax_attention(q, k, v, mask, scale=scale)  # type: ignore[arg-type]
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    if scale == "standard":
        torch.testing.assert_close(scores, q @ k.transpose(-2, -1) / 2.0)  # 1/sqrt(4)


def test_running_sum_equals_explicit_accumulation() -> None:
    """Five layers with different q, k: layer n attends with softmax(sum_{m<=n} S_m + mask)."""
    mask = _pad_mask([5, 2], 5)
    core = RealFormerAttention()
    state = None
    total = torch.zeros(2, 3, 4, 5, dtype=D64)
    for layer in range(5):
        q, k, v = _qkv(seed=layer + 1)
        out, state = core(q, k, v, mask, state)
        total = total + q @ k.transpose(-2, -1) / 2.0
        torch.testing.assert_close(out, _softmax_ref(total, mask, v), rtol=1e-12, atol=1e-12)
        assert isinstance(state, RealFormerState) and state.layers == layer + 1
        torch.testing.assert_close(state.scores, total, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("running_mean", [False, True])
def test_identical_layers_scale_logits(running_mean: bool) -> None:
    """Same q, k in every layer: logits are n x layer 1 (sum) or equal to layer 1 (mean)."""
    q, k, v = _qkv()
    core = RealFormerAttention(running_mean=running_mean)
    s1 = q @ k.transpose(-2, -1) / 2.0
    state = None
    for n in range(1, 5):
        out, state = core(q, k, v, None, state)
        torch.testing.assert_close(state.scores, n * s1, rtol=1e-12, atol=1e-12)
        want = _softmax_ref(s1 if running_mean else n * s1, None, v)
        torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)


def test_mask_never_accumulates() -> None:
    """A mask in layer 1 leaves no trace: scores equal the unmasked run, layer 2 sees no mask."""
    q, k, v = _qkv()
    mask = _pad_mask([5, 1], 5)
    core = RealFormerAttention()
    _, masked_state = core(q, k, v, mask)
    _, plain_state = core(q, k, v)
    assert torch.equal(masked_state.scores, plain_state.scores)
    assert torch.isfinite(masked_state.scores).all()
    out2, _ = core(q, k, v, None, masked_state)
    torch.testing.assert_close(out2, _softmax_ref(2 * plain_state.scores, None, v))
    # masked keys get exactly zero weight at every layer, even after many layers
    state = None
    for _ in range(4):
        _, state = core(q, k, v.clone(), mask, state)
    v_poison = v.clone()
    v_poison[1, :, 1:] = 1e6
    out_p, _ = realformer_attention(q, k, v_poison, mask, state.scores, n_prev=state.layers)
    out_c, _ = realformer_attention(q, k, v, mask, state.scores, n_prev=state.layers)
    torch.testing.assert_close(out_p, out_c, rtol=0, atol=0)


def test_fully_masked_row_gives_zeros_not_nan() -> None:
    q, k, v = _qkv()
    mask = torch.zeros(2, 5, dtype=torch.bool)
    out, scores = realformer_attention(q, k, v, mask)
    assert torch.equal(out, torch.zeros_like(out)) and torch.isfinite(scores).all()


def test_gradcheck_through_two_layers() -> None:
    q1, k1, v1 = (t.requires_grad_() for t in _qkv(1, 2, 3, 4, 2, seed=1))
    q2, k2, v2 = (t.requires_grad_() for t in _qkv(1, 2, 3, 4, 2, seed=2))
    mask = _pad_mask([3], 4)

    def f(q1, k1, v1, q2, k2, v2):  # type: ignore[no-untyped-def]
        o1, s1 = realformer_attention(q1, k1, v1, mask)
        o2, s2 = realformer_attention(q2, k2, v2, mask, s1, n_prev=1, running_mean=True)
        return o1, o2, s2

    assert torch.autograd.gradcheck(f, (q1, k1, v1, q2, k2, v2))


def _cfg(layers: int = 3) -> BertConfig:
    return BertConfig(
        vocab_size=20,
        hidden_size=8,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=16,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


def test_one_layer_realformer_model_equals_post_ln_bert() -> None:
    """With a single layer there is nothing to carry: identical to the vanilla Post-LN encoder."""
    torch.manual_seed(0)
    base = BertModel(_cfg(1)).double().eval()
    real = BertModel(_cfg(1), attention=RealFormerAttention()).double().eval()
    real.load_state_dict(base.state_dict())
    ids = torch.tensor([[1, 4, 7, 2, 0], [3, 3, 9, 0, 0]])
    am = (ids > 0).long()
    torch.testing.assert_close(
        real(ids, am).last_hidden_state, base(ids, am).last_hidden_state, rtol=1e-12, atol=1e-12
    )


def test_multi_layer_model_differs_and_matches_hand_loop() -> None:
    """Three layers: the encoder threads the state; equals a loop that adds scores by hand."""
    torch.manual_seed(1)
    real = BertModel(_cfg(3), attention=RealFormerAttention()).double().eval()
    base = BertModel(_cfg(3)).double().eval()
    base.load_state_dict(real.state_dict())
    ids = torch.tensor([[1, 4, 7, 2, 5]])
    got = real(ids).last_hidden_state
    assert not torch.allclose(got, base(ids).last_hidden_state)

    class HandCore(SoftmaxAttention):  # adds the previous layers' scores through a closure
        total: torch.Tensor | None = None

        def forward(self, q, k, v, mask=None, state=None):  # type: ignore[no-untyped-def]
            s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
            HandCore.total = s if HandCore.total is None else HandCore.total + s
            return torch.softmax(HandCore.total, -1) @ v, state

    base.set_attention(HandCore())
    torch.testing.assert_close(got, base(ids).last_hidden_state, rtol=1e-12, atol=1e-12)


@given(n=st.integers(1, 6), seed=st.integers(0, 1000))
def test_running_mean_is_sum_over_n(n: int, seed: int) -> None:
    q, k, v = _qkv(1, 1, 3, 4, 2, seed=seed)
    prev = torch.randn(1, 1, 3, 4, dtype=D64, generator=torch.Generator().manual_seed(seed))
    out_mean, s_mean = realformer_attention(q, k, v, None, prev, n_prev=n, running_mean=True)
    out_sum, s_sum = realformer_attention(
        q / math.sqrt(n + 1), k / math.sqrt(n + 1), v, None, prev / (n + 1), n_prev=n
    )
    torch.testing.assert_close(s_mean, s_sum * (n + 1))
    torch.testing.assert_close(out_mean, out_sum)


def test_half_inputs_keep_float32_scores() -> None:
    q, k, v = (t.to(torch.bfloat16) for t in _qkv())
    out, scores = realformer_attention(q, k, v)
    assert out.dtype == torch.bfloat16 and scores.dtype == torch.float32
    out2, _ = realformer_attention(q, k, v, None, scores, n_prev=1)
    assert out2.dtype == torch.bfloat16


def test_bad_inputs_name_the_argument() -> None:
    q, k, v = _qkv()
    s = torch.zeros(2, 3, 4, 5, dtype=D64)
    with pytest.raises(ValueError, match="prev_scores"):
        realformer_attention(q, k, v, None, s[..., :4], n_prev=1)
    with pytest.raises(ValueError, match="prev_scores"):
        realformer_attention(q, k, v, None, s.fill_(math.nan), n_prev=1)
    with pytest.raises(TypeError, match="prev_scores"):
        realformer_attention(q, k, v, None, torch.zeros(2, 3, 4, 5), n_prev=1)
    with pytest.raises(ValueError, match="n_prev"):
        realformer_attention(q, k, v, None, torch.zeros(2, 3, 4, 5, dtype=D64), n_prev=0)
    with pytest.raises(ValueError, match="n_prev"):
        realformer_attention(q, k, v, n_prev=2)
    with pytest.raises(TypeError, match="n_prev"):
        realformer_attention(q, k, v, n_prev=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale"):
        realformer_attention(q, k, v, scale="log")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale"):
        RealFormerAttention(scale=-1.0)
    with pytest.raises(TypeError, match="state"):
        RealFormerAttention()(q, k, v, None, (s, 1))
    with pytest.raises(TypeError, match="q"):
        realformer_attention(q.long(), k, v)
