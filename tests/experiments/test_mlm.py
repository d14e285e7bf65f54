"""Tests for the tiny-MLM workbench shared by the A2, A4 and A5 reproductions (experiments/_mlm.py).

RoPE itself is tested with the library (tests/transformer/test_position.py)."""

from __future__ import annotations

import pytest
import torch

from kexue.experiments._mlm import (
    MASK,
    SEP,
    AttentionProbe,
    MaskedLM,
    attention_maps,
    mask_tokens,
)
from kexue.transformer.attention import SoftmaxAttention
from kexue.transformer.bert import BertConfig
from kexue.transformer.realformer import RealFormerAttention

D64 = torch.float64


def test_mask_tokens_only_ordinary_tokens() -> None:
    ids = torch.tensor([[5, 6, SEP, 7, 8, 9, SEP, 10] * 50])
    inp, tgt = mask_tokens(ids, 0.5, torch.Generator().manual_seed(0))
    assert not bool(tgt[ids == SEP].any())
    assert bool((inp[tgt] == MASK).all()) and torch.equal(inp[~tgt], ids[~tgt])
    assert 0.3 < float(tgt.float().mean()) < 0.5


def _cfg(layers: int = 2) -> BertConfig:
    return BertConfig(
        vocab_size=16,
        hidden_size=8,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=8,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


def test_probe_reproduces_core_output() -> None:
    """The recorded probabilities times v give the core's own output (any scale, RealFormer)."""
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 2, 5, 4, generator=g, dtype=D64) for _ in range(3))
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    for core in (SoftmaxAttention(), SoftmaxAttention(scale="entropy_invariant")):
        probe = AttentionProbe(core)
        out, _ = probe(q, k, v, mask)
        torch.testing.assert_close(probe.records[0] @ v, out)
    probe = AttentionProbe(RealFormerAttention(running_mean=True))
    _, state = probe(q, k, v, mask)
    out, _ = probe(q, k, v, mask, state)
    torch.testing.assert_close(probe.records[1] @ v, out)


def test_rope_model_runs_at_any_length_and_probes_restore() -> None:
    torch.manual_seed(0)
    model = MaskedLM(_cfg(), SoftmaxAttention(scale="entropy_invariant"), rope=True)
    ids = torch.randint(4, 16, (2, 40))  # 5x the configured table size
    where = torch.zeros(2, 40, dtype=torch.bool)
    where[:, ::7] = True
    assert model(ids, where).shape == (int(where.sum()), 16)
    maps = attention_maps(model, ids)
    assert len(maps) == 2 and maps[0].shape == (2, 2, 40, 40)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 2, 40))
    assert not any(isinstance(sa.core.inner, AttentionProbe) for sa in model.self_attentions())


def test_unigram_loss_is_entropy_of_ordinary_tokens() -> None:
    from kexue.experiments._mlm import unigram_loss

    stream = torch.tensor([SEP, 4, 4, 5, 6, SEP, 4, 5])  # ordinary: 4 x3, 5 x2, 6 x1
    p = torch.tensor([3, 2, 1], dtype=D64) / 6
    assert abs(unigram_loss(stream) - float(-(p * p.log()).sum())) < 1e-12


def test_train_mlm_without_warmup_calls_hook_each_step() -> None:
    from kexue.experiments._mlm import train_mlm
    from kexue.experiments.a5_init_parameterisation.training import (
        ResidualMaskedLM,
        scheduled_alpha,
    )

    model = ResidualMaskedLM(12, hidden=16, layers=2, heads=2, scheme="scheduled", seed=0)
    seen: list[float] = []
    stream = torch.randint(4, 12, (500,), generator=torch.Generator().manual_seed(0))
    losses = train_mlm(
        model,
        stream,
        steps=5,
        batch=2,
        seq_len=16,
        lr=1e-3,
        seed=0,
        warmup=0.0,
        on_step=lambda s: seen.append(scheduled_alpha(model, s, 4)),
    )
    assert seen == [0.0, 0.25, 0.5, 0.75, 1.0] and len(losses) == 5
    alphas = {float(m.alpha) for m in model.modules() if hasattr(m, "alpha")}
    assert alphas == {1.0}


def test_residual_mlm_alpha_zero_is_identity_and_schemes_share_weights() -> None:
    from kexue.experiments.a5_init_parameterisation.training import ResidualMaskedLM

    ids = torch.randint(4, 20, (2, 9), generator=torch.Generator().manual_seed(0))
    sched = ResidualMaskedLM(20, hidden=16, layers=3, heads=4, scheme="scheduled", seed=3)
    x0 = sched.embed_norm(sched.embed(ids))
    torch.testing.assert_close(sched.blocks(x0), x0)  # α = 0: every block is the identity
    post = ResidualMaskedLM(20, hidden=16, layers=3, heads=4, scheme="post_norm", seed=3)
    torch.testing.assert_close(post.blocks[0].branch.qkv.weight, sched.blocks[0].branch.qkv.weight)
    logits = post(ids, ids > 10)
    assert logits.shape == (int((ids > 10).sum()), 20) and bool(torch.isfinite(logits).all())
    with pytest.raises(ValueError, match="divisible"):
        ResidualMaskedLM(20, hidden=10, layers=1, heads=4, scheme="pre_norm", seed=0)
