"""Tests for kexue.transformer.bert: the compact BERT encoder on small random configurations."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from kexue.transformer.attention import Attention, SoftmaxAttention, softmax_attention
from kexue.transformer.bert import BertConfig, BertModel

D64 = torch.float64
SMALL = {
    "vocab_size": 50,
    "hidden_size": 12,
    "num_hidden_layers": 3,
    "num_attention_heads": 3,
    "intermediate_size": 20,
    "max_position_embeddings": 16,
}


def _model(pre_norm: bool = False, attention: Any = None, **kw: Any) -> BertModel:
    torch.manual_seed(0)
    cfg = BertConfig(**{**SMALL, **kw}, pre_norm=pre_norm)
    m = BertModel(cfg, attention=attention, add_pooler=True).to(D64).eval()
    with torch.no_grad():  # LayerNorm gains/biases away from 1/0 so they are tested too
        for name, p in m.named_parameters():
            if "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return m


def _ids(b: int = 3, t: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(1, 50, (b, t), generator=g)
    lengths = torch.tensor([t, 5, 2][:b])
    mask = (torch.arange(t)[None] < lengths[:, None]).long()
    return ids * mask, mask


def _reference(m: BertModel, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Independent BERT forward from the state dict, written out with explicit formulas."""
    c, w = m.config, m.state_dict()
    eps, hd = c.layer_norm_eps, c.head_size

    def ln(x: torch.Tensor, p: str) -> torch.Tensor:
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x: torch.Tensor, p: str) -> torch.Tensor:
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    t = ids.shape[1]
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t]
    x = ln(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    bias = (1.0 - mask[:, None, None, :].to(D64)) * -1e30
    for i in range(c.num_hidden_layers):
        p = f"encoder.layer.{i}."

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(y.shape[0], t, -1, hd).transpose(1, 2)

        def attn(h: torch.Tensor, p: str = p) -> torch.Tensor:
            q, k, v = (heads(lin(h, p + "attention.self." + n)) for n in ("query", "key", "value"))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, -1) @ v
            return lin(a.transpose(1, 2).reshape(h.shape), p + "attention.output.dense")

        def ffn(h: torch.Tensor, p: str = p) -> torch.Tensor:
            return lin(F.gelu(lin(h, p + "intermediate.dense")), p + "output.dense")

        if c.pre_norm:
            x = x + attn(ln(x, p + "attention.output.LayerNorm"))
            x = x + ffn(ln(x, p + "output.LayerNorm"))
        else:
            x = ln(x + attn(x), p + "attention.output.LayerNorm")
            x = ln(x + ffn(x), p + "output.LayerNorm")
    return ln(x, "encoder.LayerNorm") if c.pre_norm else x


@pytest.mark.parametrize("pre_norm", [False, True])
def test_matches_explicit_reference(pre_norm: bool) -> None:
    m = _model(pre_norm)
    ids, mask = _ids()
    out = m(ids, mask, output_hidden_states=True)
    real = mask.bool()
    torch.testing.assert_close(out.last_hidden_state[real], _reference(m, ids, mask)[real])
    pooled = torch.tanh(out.last_hidden_state[:, 0] @ m.pooler.dense.weight.T + m.pooler.dense.bias)
    torch.testing.assert_close(out.pooler_output, pooled)
    assert out.hidden_states is not None and len(out.hidden_states) == 4
    torch.testing.assert_close(out.hidden_states[-1], out.last_hidden_state)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_padding_invariance(pre_norm: bool) -> None:
    m = _model(pre_norm)
    ids, mask = _ids()
    out = m(ids, mask).last_hidden_state
    for i, n in enumerate(mask.sum(1).tolist()):
        alone = m(ids[i : i + 1, :n]).last_hidden_state
        torch.testing.assert_close(out[i : i + 1, :n], alone, rtol=1e-10, atol=1e-12)


def test_parameter_names_follow_hf_layout() -> None:
    names = set(_model().state_dict())
    for key in (
        "embeddings.word_embeddings.weight",
        "embeddings.LayerNorm.bias",
        "encoder.layer.2.attention.self.query.weight",
        "encoder.layer.0.attention.output.LayerNorm.weight",
        "encoder.layer.1.intermediate.dense.bias",
        "encoder.layer.1.output.dense.weight",
        "pooler.dense.weight",
    ):
        assert key in names
    assert "encoder.LayerNorm.weight" in set(_model(pre_norm=True).state_dict())


class _CountingCore(Attention):
    """Stateful toy core: exact attention, records the state it received, returns state + 1."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []

    def forward(self, q, k, v, mask=None, state=None):  # type: ignore[override]
        self.seen.append(state)
        return softmax_attention(q, k, v, mask), (0 if state is None else state) + 1


def test_state_threads_through_layers_and_plug_in_is_exact() -> None:
    core = _CountingCore()
    m = _model(attention=core)
    ids, mask = _ids()
    out = m(ids, mask).last_hidden_state
    assert core.seen == [None, 1, 2]
    ref = _model()(ids, mask).last_hidden_state
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_factory_and_set_attention() -> None:
    made: list[int] = []

    def factory(i: int) -> Attention:
        made.append(i)
        return SoftmaxAttention(scale="entropy_invariant")

    m = _model(attention=factory)
    assert made == [0, 1, 2]
    ids, mask = _ids()
    e = m(ids, mask).last_hidden_state
    m.set_attention(None)
    s = m(ids, mask).last_hidden_state
    assert not torch.allclose(e, s)  # 9 keys: factor log_512(16) < 1 flattens attention
    assert not m.encoder.layer[0].attention.self.core.training  # follows the model's mode
    torch.testing.assert_close(s, _reference(m, ids, mask), rtol=1e-10, atol=1e-10)
    with pytest.raises(TypeError, match="attention"):
        BertModel(BertConfig(**SMALL), attention="softmax")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="attention factory"):
        BertModel(BertConfig(**SMALL), attention=lambda i: None)  # type: ignore[arg-type,return-value]


def test_gradients_flow_and_dropout_only_in_training() -> None:
    m = _model()
    ids, mask = _ids()
    out = m(ids, mask)
    (out.last_hidden_state.sum() + out.pooler_output.sum()).backward()
    grads = [p.grad for p in m.parameters()]
    assert all(g is not None for g in grads)
    m.train()
    a, b = m(ids, mask).last_hidden_state, m(ids, mask).last_hidden_state
    assert not torch.allclose(a, b)
    m.eval()
    torch.testing.assert_close(m(ids, mask).last_hidden_state, m(ids, mask).last_hidden_state)


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="num_attention_heads"):
        BertConfig(hidden_size=10, num_attention_heads=3)
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig(hidden_act="mish")
    with pytest.raises(ValueError, match="position_embedding_type"):
        BertConfig.from_dict({"position_embedding_type": "relative_key"})
    with pytest.raises(ValueError, match="hidden_size"):
        BertConfig(hidden_size=-4)
    with pytest.raises(TypeError, match="config"):
        BertModel({"hidden_size": 8})  # type: ignore[arg-type]
    cfg = BertConfig.from_dict({"hidden_size": 8, "num_attention_heads": 2, "foo": 1})
    assert cfg.head_size == 4


@pytest.mark.parametrize(
    ("make", "error", "arg"),
    [
        (lambda ids, mask: (ids.float(), mask), TypeError, "input_ids"),
        (lambda ids, mask: (ids[0], mask), ValueError, "input_ids"),
        (lambda ids, mask: (ids + 100, mask), ValueError, "input_ids"),
        (lambda ids, mask: (ids, mask[:, :5]), ValueError, "attention_mask"),
        (lambda ids, mask: (ids, mask.float()), TypeError, "attention_mask"),
        (lambda ids, mask: (torch.ones(1, 17, dtype=torch.long), None), ValueError, "17"),
    ],
)
def test_bad_input(make: Any, error: type[Exception], arg: str) -> None:
    m = _model()
    ids, mask = _ids()
    with pytest.raises(error, match=arg):
        m(*make(ids, mask))


def test_full_table_length_runs() -> None:
    m = _model()
    assert m(torch.ones(1, 16, dtype=torch.long)).last_hidden_state.shape == (1, 16, 12)


def test_nan_query_propagates_to_the_output() -> None:
    """A NaN query bias used to give a finite output: the fused kernel zeroed the NaN query rows."""
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=20,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    m = BertModel(cfg).eval()
    with torch.no_grad():
        m.encoder.layer[0].attention.self.query.bias[0] = math.nan
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    for mask in (None, torch.ones_like(ids)):
        out = m(ids, attention_mask=mask).last_hidden_state
        assert out.isnan().all()


@pytest.mark.parametrize(
    ("make", "error", "pattern"),
    [
        # input_ids: the message names the offending id, not the maximum
        (
            lambda ids: {
                "input_ids": ids.index_put_((torch.tensor(1), torch.tensor(2)), torch.tensor(-3))
            },
            ValueError,
            r"input_ids .*got id -3 at position \(1, 2\)",
        ),
        (
            lambda ids: {
                "input_ids": ids.index_put_((torch.tensor(0), torch.tensor(4)), torch.tensor(57))
            },
            ValueError,
            r"input_ids .*\[0, 50\).*got id 57 at position \(0, 4\)",
        ),
        (lambda ids: {"input_ids": ids.bool()}, TypeError, "input_ids"),
        # token_type_ids: range, dtype, type and shape
        (
            lambda ids: {"input_ids": ids, "token_type_ids": torch.full_like(ids, 2)},
            ValueError,
            r"token_type_ids .*\[0, 2\).*type_vocab_size.*got id 2",
        ),
        (
            lambda ids: {"input_ids": ids, "token_type_ids": -torch.ones_like(ids)},
            ValueError,
            r"token_type_ids .*got id -1 at position \(0, 0\)",
        ),
        (
            lambda ids: {"input_ids": ids, "token_type_ids": torch.zeros(ids.shape)},
            TypeError,
            "token_type_ids must be an integer tensor",
        ),
        (
            lambda ids: {
                "input_ids": ids,
                "token_type_ids": torch.zeros_like(ids, dtype=torch.bool),
            },
            TypeError,
            "token_type_ids",
        ),
        (
            lambda ids: {"input_ids": ids, "token_type_ids": ids.tolist()},
            TypeError,
            "token_type_ids",
        ),
        (
            lambda ids: {"input_ids": ids, "token_type_ids": torch.zeros_like(ids[:, :4])},
            ValueError,
            "token_type_ids",
        ),
    ],
)
def test_ids_are_validated_and_named(make: Any, error: type[Exception], pattern: str) -> None:
    m = _model()
    ids, _ = _ids()
    with pytest.raises(error, match=pattern):
        m(**make(ids.clone()))
    ok = m(ids, token_type_ids=torch.ones_like(ids)).last_hidden_state  # id 1 < type_vocab_size
    assert torch.isfinite(ok).all()
