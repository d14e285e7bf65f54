r"""A compact BERT encoder (Post-LN or Pre-LN) with pluggable attention, HF-weight compatible.

Embeddings (word + absolute position + token type, LayerNorm), ``L`` encoder layers, optional
pooler. Parameter names follow the Hugging Face BERT layout (``embeddings.word_embeddings.weight``,
``encoder.layer.{i}.attention.self.query.weight``, ...), so a ``model.safetensors`` of a
``BertModel`` loads without renaming (see :mod:`kexue.transformer.pretrained`). Each layer's attention core
(:mod:`kexue.transformer.attention`) lives at ``encoder.layer.{i}.attention.self.core`` and is not part of
the weight file.

Post-LN (BERT): :math:`x \leftarrow \mathrm{LN}(x + \mathrm{Attn}(x))`,
:math:`x \leftarrow \mathrm{LN}(x + \mathrm{FFN}(x))`. Pre-LN: :math:`x \leftarrow x +
\mathrm{Attn}(\mathrm{LN}(x))`, :math:`x \leftarrow x + \mathrm{FFN}(\mathrm{LN}(x))`, plus a
final LayerNorm (``encoder.LayerNorm``), since the residual stream's variance grows with depth.

Reference:
    Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620 ;
    Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers", NAACL 2019.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import nn

from kexue._validate import check_ndim, check_nonempty, check_tensor
from kexue.transformer.attention import Attention, SoftmaxAttention

__all__ = ["BertConfig", "BertModel", "BertOutput"]

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}

AttentionSpec = Attention | Callable[[int], Attention] | None


@dataclass(frozen=True)
class BertConfig:
    """Sizes and options of a BERT encoder (the fields of a HF ``config.json`` that matter).

    Reference:
        Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620

    Example:
        >>> BertConfig(hidden_size=8, num_attention_heads=2).head_size
        4
    """

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    hidden_act: str = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int = 0
    pre_norm: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            val = getattr(self, f.name)
            if f.type == "int" and (isinstance(val, bool) or not isinstance(val, int) or val < 0):
                raise ValueError(f"config {f.name} must be a non-negative int, got {val!r}")
        if self.hidden_size % max(self.num_attention_heads, 1) or self.num_attention_heads < 1:
            raise ValueError(
                f"config num_attention_heads={self.num_attention_heads} does not divide "
                f"hidden_size={self.hidden_size}: mismatched head dims"
            )
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(f"config hidden_act {self.hidden_act!r} not in {sorted(_ACTIVATIONS)}")

    @property
    def head_size(self) -> int:
        """Per-head dimension ``hidden_size // num_attention_heads``."""
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BertConfig:
        """Build from a ``config.json`` dict; unknown keys are ignored, unsupported values raise."""
        pet = d.get("position_embedding_type", "absolute")
        if pet != "absolute":
            raise ValueError(f"config position_embedding_type {pet!r} is not supported (absolute)")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def from_json(cls, path: str | Path) -> BertConfig:
        """Read a HF ``config.json``."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file {p} does not exist")
        return cls.from_dict(json.loads(p.read_text(encoding="utf-8")))


class BertOutput(NamedTuple):
    """``last_hidden_state`` (B, T, H); ``pooler_output`` (B, H) or None; all ``hidden_states``.

    Reference:
        Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers", NAACL 2019.
    """

    last_hidden_state: torch.Tensor
    pooler_output: torch.Tensor | None
    hidden_states: tuple[torch.Tensor, ...] | None


class _Embeddings(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        self.max_positions = c.max_position_embeddings  # A3 may raise it with its own table

    def forward(self, ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(pos)[None]
        x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class _SelfAttention(nn.Module):
    def __init__(self, c: BertConfig, core: Attention) -> None:
        super().__init__()
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.core = core
        self.heads = c.num_attention_heads

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, state: Any) -> tuple[Any, Any]:
        b, t, _ = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, -1).transpose(1, 2)  # (B, H, T, D)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        out, state = self.core(q, k, v, mask, state)
        return out.transpose(1, 2).reshape(b, t, -1), state  # (B, T, H*D)


class _DenseNorm(nn.Module):
    """``dense`` + dropout, and the ``LayerNorm`` of the residual (used before or after it)."""

    def __init__(self, c: BertConfig, d_in: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)


class _AttentionBlock(nn.Module):
    def __init__(self, c: BertConfig, core: Attention) -> None:
        super().__init__()
        self.add_module("self", _SelfAttention(c, core))  # HF name: attention.self.query, ...
        self.output = _DenseNorm(c, c.hidden_size)

    @property
    def qkv(self) -> _SelfAttention:
        """The projections + core (registered under the HF name ``self``)."""
        return cast(_SelfAttention, self._modules["self"])


class _Dense(nn.Module):
    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)


class BertLayer(nn.Module):
    """One encoder layer; Post-LN unless ``config.pre_norm``."""

    def __init__(self, c: BertConfig, core: Attention) -> None:
        super().__init__()
        self.attention = _AttentionBlock(c, core)
        self.intermediate = _Dense(c.hidden_size, c.intermediate_size)
        self.output = _DenseNorm(c, c.intermediate_size)
        self.act = _ACTIVATIONS[c.hidden_act]
        self.pre_norm = c.pre_norm

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        o = self.output
        return o.dropout(o.dense(self.act(self.intermediate.dense(x))))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, state: Any) -> tuple[Any, Any]:
        sa, ao = self.attention.qkv, self.attention.output
        if self.pre_norm:
            a, state = sa(ao.LayerNorm(x), mask, state)
            x = x + ao.dropout(ao.dense(a))
            return x + self._ffn(self.output.LayerNorm(x)), state
        a, state = sa(x, mask, state)
        x = ao.LayerNorm(x + ao.dropout(ao.dense(a)))
        return self.output.LayerNorm(x + self._ffn(x)), state


class _Encoder(nn.Module):
    def __init__(self, c: BertConfig, cores: list[Attention]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(c, core) for core in cores)
        if c.pre_norm:
            self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)


def _check_ids(t: torch.Tensor, name: str, size: int, field: str) -> None:
    """Integer ids in ``[0, size)``; the message names ``name`` and the first offending id."""
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got {t.dtype}")
    bad = (t < 0) | (t >= size)
    if bool(bad.any()):
        pos = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{name} must lie in [0, {size}) ({field}={size}), got id {int(t[pos])} at position "
            f"{pos} ({int(bad.sum())} id(s) out of range)"
        )


def _cores(c: BertConfig, attention: AttentionSpec) -> list[Attention]:
    if attention is None:
        return [SoftmaxAttention(dropout=c.attention_probs_dropout_prob)] * c.num_hidden_layers
    if isinstance(attention, Attention):
        return [attention] * c.num_hidden_layers  # one shared (stateless) object
    if callable(attention):
        cores = [attention(i) for i in range(c.num_hidden_layers)]
        bad = [type(x).__name__ for x in cores if not isinstance(x, Attention)]
        if bad:
            raise TypeError(f"attention factory must return Attention objects, got {bad[0]}")
        return cores
    raise TypeError(
        f"attention must be an Attention, a factory layer -> Attention, or None; "
        f"got {type(attention).__name__}"
    )


class BertModel(nn.Module):
    r"""BERT encoder with pluggable attention: ``model(input_ids, attention_mask) -> BertOutput``.

    Args:
        config: the sizes (:class:`BertConfig`); ``config.pre_norm`` picks Pre-LN.
        attention: the attention core — ``None`` (exact softmax, :math:`1/\sqrt d`), one
            :class:`~kexue.transformer.attention.Attention` shared by every layer, or a factory
            ``layer_index -> Attention``. Swap later with :meth:`set_attention`.
        add_pooler: build the ``pooler`` (dense + tanh on the first token).

    Reference:
        Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620 ;
        Devlin et al., "BERT", NAACL 2019.

    Example:
        >>> cfg = BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1,
        ...                  num_attention_heads=2, intermediate_size=16)
        >>> BertModel(cfg).eval()(torch.tensor([[1, 2, 3]])).last_hidden_state.shape
        torch.Size([1, 3, 8])
    """

    def __init__(
        self, config: BertConfig, attention: AttentionSpec = None, add_pooler: bool = False
    ) -> None:
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"config must be a BertConfig, got {type(config).__name__}")
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config, _cores(config, attention))
        if add_pooler:
            self.pooler = _Dense(config.hidden_size, config.hidden_size)

    def set_attention(self, attention: AttentionSpec) -> BertModel:
        """Replace every layer's attention core (weights untouched); returns ``self``."""
        for layer, core in zip(self.encoder.layer, _cores(self.config, attention), strict=True):
            sa = cast(BertLayer, layer).attention.qkv
            p = next(sa.parameters())
            sa.core = core.to(device=p.device).train(self.training)
        return self

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> BertOutput:
        """Encode ``input_ids`` (B, T) with ``attention_mask`` (B, T) of 1/True = real token.

        Raises:
            TypeError: non-integer ``input_ids``/``token_type_ids``, floating ``attention_mask``.
            ValueError: shapes, length beyond the position table, or an id outside
                ``[0, vocab_size)`` / ``[0, type_vocab_size)`` (the message names the argument and
                the first offending id and its position).
        """
        ids = check_nonempty(
            check_ndim(check_tensor(input_ids, "input_ids"), "input_ids", 2, 2), "input_ids"
        )
        _check_ids(ids, "input_ids", self.config.vocab_size, "vocab_size")
        c, t = self.config, ids.shape[1]
        if t > self.embeddings.max_positions:
            raise ValueError(
                f"input_ids has length {t} > {self.embeddings.max_positions} positions "
                "(max_position_embeddings); truncate the input or extend the position table"
            )
        mask = None
        if attention_mask is not None:
            am = check_tensor(attention_mask, "attention_mask")
            if am.shape != ids.shape:
                raise ValueError(
                    f"attention_mask of shape {tuple(am.shape)} must match input_ids "
                    f"{tuple(ids.shape)}"
                )
            if am.is_floating_point():
                raise TypeError(f"attention_mask must be bool or integer 0/1, got {am.dtype}")
            mask = am.bool()[:, None, None, :]  # (B, 1, 1, T)
        if token_type_ids is None:
            tt = torch.zeros_like(ids)
        else:
            tt = check_tensor(token_type_ids, "token_type_ids")
            if tt.shape != ids.shape:
                raise ValueError(
                    f"token_type_ids of shape {tuple(tt.shape)} must match input_ids "
                    f"{tuple(ids.shape)}"
                )
            _check_ids(tt, "token_type_ids", c.type_vocab_size, "type_vocab_size")
        x = self.embeddings(ids, tt)
        states = [x]
        state: Any = None
        for layer in self.encoder.layer:
            x, state = layer(x, mask, state)
            states.append(x)
        if c.pre_norm:
            x = self.encoder.LayerNorm(x)
            states[-1] = x
        pooled = None
        if hasattr(self, "pooler"):
            pooled = torch.tanh(self.pooler.dense(x[:, 0]))
        return BertOutput(x, pooled, tuple(states) if output_hidden_states else None)
