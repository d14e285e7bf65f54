"""Tests for the tiny-MLM workbench shared by the A2 and A4 reproductions (experiments/_mlm.py)."""

from __future__ import annotations

import torch

from kexue.experiments._mlm import (
    MASK,
    SEP,
    AttentionProbe,
    MaskedLM,
    attention_maps,
    mask_tokens,
    rotary,
)
from kexue.nn.attention import SoftmaxAttention
from kexue.nn.realformer import RealFormerAttention
from kexue.nn.transformer import BertConfig

D64 = torch.float64


def test_rotary_scores_depend_only_on_offset() -> None:
    g = torch.Generator().manual_seed(0)
    q1 = torch.randn(1, 1, 1, 8, generator=g, dtype=D64)
    k1 = torch.randn(1, 1, 1, 8, generator=g, dtype=D64)
    seq_q, seq_k = q1.expand(1, 1, 20, 8), k1.expand(1, 1, 20, 8)
    s = rotary(seq_q) @ rotary(seq_k).transpose(-2, -1)  # (1, 1, 20, 20)
    for off in (-5, 0, 3):
        diag = torch.diagonal(s[0, 0], offset=off)
        torch.testing.assert_close(diag, diag[:1].expand_as(diag))
    torch.testing.assert_close(rotary(seq_q).norm(dim=-1), seq_q.norm(dim=-1))


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
