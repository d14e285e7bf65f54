"""A tiny masked-LM workbench on STS-B text, shared by the A2, A4 and A5 (``--long``) reproductions.

Corpus: every STS-B sentence (train + dev for training, test held out), tokenised with the bundled
MiniLM WordPiece tokenizer, each sentence followed by ``[SEP]``, concatenated into one token stream
per split. The vocabulary is compacted to the most frequent word pieces of the training stream
(the rest map to ``[UNK]``) so the output softmax stays cheap on a CPU. Training windows are random
slices of the training stream; evaluation uses the first ``n_tokens`` of the test stream cut into
windows of the test length, so every length scores the same tokens.

Masking: 15 % of the non-special tokens become ``[MASK]``; the loss is the cross-entropy at masked
positions only. Models are small :class:`~kexue.transformer.bert.BertModel` encoders with a tied
output layer; ``rope=True`` zeroes and freezes the absolute position table and applies rotary
position embeddings (:func:`~kexue.transformer.position.rotary_embedding`) to ``q``/``k`` inside
the attention core (so any test length works).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from kexue.transformer._attention_ops import masked_softmax
from kexue.transformer.attention import Attention, SoftmaxAttention
from kexue.transformer.attention_scale import attention_entropy
from kexue.transformer.bert import AttentionSpec, BertConfig, BertModel
from kexue.transformer.position import rotary_embedding

__all__ = [
    "MASK",
    "PAD",
    "SEP",
    "UNK",
    "AttentionProbe",
    "MaskedLM",
    "MaskedLMScore",
    "RotaryAttention",
    "TokenCorpus",
    "attention_maps",
    "evaluate_mlm",
    "mask_tokens",
    "mean_entropy",
    "stsb_corpus",
    "tiny_masked_lm",
    "train_mlm",
    "unigram_loss",
]

PAD, UNK, SEP, MASK = 0, 1, 2, 3
N_SPECIAL = 4


@dataclass(frozen=True)
class TokenCorpus:
    """Token streams (compact ids) of the STS-B training and test sentences."""

    train: torch.Tensor
    test: torch.Tensor
    vocab_size: int
    unk_rate: float


@lru_cache(maxsize=4)
def stsb_corpus(level: str = "char", max_vocab: int = 4000) -> TokenCorpus:
    """Tokenise STS-B (train+dev -> ``train``, test -> ``test``) into compact-vocabulary streams.

    ``level="char"``: lower-cased characters (those seen at least 20 times; the rest ``[UNK]``).
    ``level="wordpiece"``: the MiniLM WordPiece tokenizer, keeping the ``max_vocab - 4`` most
    frequent pieces. Sentences are separated by ``[SEP]``.
    """
    from kexue.data.stsb import stsb_sentences

    train_s, test_s = stsb_sentences("train", "dev"), stsb_sentences("test")
    if level == "char":
        counts = Counter(ch for s in train_s for ch in s.lower())
        chars = sorted(ch for ch, n in counts.items() if n >= 20)
        table = {ch: N_SPECIAL + i for i, ch in enumerate(chars)}

        def char_stream(sents: list[str]) -> torch.Tensor:
            ids = [t for s in sents for t in (*(table.get(ch, UNK) for ch in s.lower()), SEP)]
            return torch.tensor(ids, dtype=torch.long)

        train, test = char_stream(train_s), char_stream(test_s)
        return TokenCorpus(train, test, N_SPECIAL + len(chars), float((test == UNK).float().mean()))
    if level != "wordpiece":
        raise ValueError(f"level must be 'char' or 'wordpiece', got {level!r}")
    from kexue.transformer.pretrained import BertTokenizer

    tok = BertTokenizer(max_length=None).tokenizer

    def pieces(sentences: list[str]) -> list[list[int]]:
        return [e.ids[1:-1] for e in tok.encode_batch(sentences)]  # drop [CLS]/[SEP]

    train_p, test_p = pieces(train_s), pieces(test_s)
    counts_p = Counter(i for s in train_p for i in s)
    keep = [i for i, _ in counts_p.most_common(max_vocab - N_SPECIAL)]
    lut = torch.full((tok.get_vocab_size(),), UNK, dtype=torch.long)
    lut[torch.tensor(keep)] = torch.arange(N_SPECIAL, N_SPECIAL + len(keep))

    def stream(ps: list[list[int]]) -> torch.Tensor:
        ids = torch.tensor([t for s in ps for t in (*s, -1)], dtype=torch.long)  # -1: [SEP]
        return torch.where(ids < 0, SEP, lut[ids.clamp(min=0)])

    train, test = stream(train_p), stream(test_p)
    return TokenCorpus(train, test, N_SPECIAL + len(keep), float((test == UNK).float().mean()))


def unigram_loss(stream: torch.Tensor) -> float:
    """Cross-entropy (nats) of the context-free predictor on ``stream``'s ordinary tokens: the
    plateau a masked LM sits on before it learns to use context."""
    counts = torch.bincount(stream[stream >= N_SPECIAL]).double()
    prob = counts[counts > 0] / counts.sum()
    return float(-(prob * prob.log()).sum())


def mask_tokens(
    ids: torch.Tensor, rate: float, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace ``rate`` of the ordinary tokens by ``[MASK]``; return (inputs, bool mask of targets)."""
    ordinary = ids >= N_SPECIAL
    chosen = (torch.rand(ids.shape, generator=g) < rate) & ordinary
    return torch.where(chosen, MASK, ids), chosen


class RotaryAttention(Attention):
    """Apply RoPE to ``q`` and ``k``, then call the wrapped core."""

    def __init__(self, inner: Attention) -> None:
        super().__init__()
        self.inner = inner

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        state: Any = None,
    ) -> tuple[torch.Tensor, Any]:
        q, k = rotary_embedding(q), rotary_embedding(k)
        out: tuple[torch.Tensor, Any] = self.inner(q, k, v, mask, state)
        return out


class AttentionProbe(Attention):
    """Wrap a core and record its attention probabilities (explicitly recomputed) on each call.

    Works for :class:`SoftmaxAttention` (any scale) and RealFormer (from the returned running sum).
    ``records`` holds one ``(B, H, Tq, Tk)`` tensor per call while ``keep`` is True.
    """

    def __init__(self, inner: Attention) -> None:
        super().__init__()
        self.inner = inner
        self.records: list[torch.Tensor] = []
        self.keep = True

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        state: Any = None,
    ) -> tuple[torch.Tensor, Any]:
        from kexue.transformer._attention_ops import normalize_mask
        from kexue.transformer.attention_scale import entropy_invariant_factor
        from kexue.transformer.realformer import RealFormerAttention

        out, new_state = self.inner(q, k, v, mask, state)
        if self.keep:
            m = normalize_mask(mask, q, k)
            inner = self.inner
            if isinstance(inner, RealFormerAttention):
                logits = new_state.scores / (new_state.layers if inner.running_mean else 1)
            else:
                scale = getattr(inner, "scale", "standard")
                lam: Any = 1.0 / math.sqrt(q.shape[-1])
                if scale == "entropy_invariant":
                    lam = lam * entropy_invariant_factor(m, k.shape[2], dtype=q.dtype)
                elif isinstance(scale, float):
                    lam = scale
                logits = (q @ k.transpose(-2, -1)) * lam
            self.records.append(masked_softmax(logits, m).detach())
        return out, new_state


class _NoPositions(nn.Module):
    """Stands in for the absolute position table of a RoPE model: adds zeros."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros((*ids.shape, self.hidden), device=ids.device)


class MaskedLM(nn.Module):
    """A small BERT encoder with a tied MLM output layer; logits only at the requested positions."""

    def __init__(
        self, config: BertConfig, attention: AttentionSpec = None, *, rope: bool = False
    ) -> None:
        super().__init__()
        self.rope = rope
        if rope:
            inner = attention

            def factory(i: int) -> Attention:
                core = inner(i) if callable(inner) and not isinstance(inner, Attention) else inner
                return RotaryAttention(core if core is not None else SoftmaxAttention())

            attention = factory
        self.bert = BertModel(config, attention)
        if rope:  # positions come from RoPE only: no absolute table, any length
            emb = cast(Any, self.bert.embeddings)
            emb.position_embeddings = _NoPositions(config.hidden_size)
            emb.max_positions = 1 << 20
        h = config.hidden_size
        self.transform = nn.Linear(h, h)
        self.norm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        for mod in self.modules():  # BERT init: N(0, 0.02) weights, zero biases
            if isinstance(mod, nn.Embedding):
                nn.init.normal_(mod.weight, std=0.02)
            if isinstance(mod, nn.Linear) and mod.bias is not None:
                nn.init.zeros_(mod.bias)

    def forward(self, ids: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """Logits ``(n_selected, V)`` at the positions where ``where`` is True."""
        x = self.bert(ids).last_hidden_state[where]
        x = self.norm(F.gelu(self.transform(x)))
        return x @ self.bert.embeddings.word_embeddings.weight.T + self.bias

    def self_attentions(self) -> list[Any]:
        """Each layer's projections + core module (its ``core`` attribute can be swapped)."""
        return [cast(Any, layer).attention.qkv for layer in self.bert.encoder.layer]


def train_mlm(
    model: nn.Module,
    stream: torch.Tensor,
    *,
    steps: int,
    batch: int,
    seq_len: int,
    lr: float,
    seed: int,
    warmup: float = 0.05,
    mask_rate: float = 0.15,
    clip: float = 1.0,
    on_step: Callable[[int], object] | None = None,
) -> list[float]:
    """AdamW with linear warm-up (``warmup`` of the steps; 0 = none) and linear decay.

    ``model(ids, where)`` returns the logits at the masked positions (:class:`MaskedLM`'s
    contract); ``on_step(step)`` runs before each step (e.g. an α schedule). Returns the training
    loss of every step.
    """
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=lr,
        betas=(0.9, 0.98),
        weight_decay=0.01,
        foreach=True,
    )
    n_warm = max(1, int(warmup * steps)) if warmup > 0 else 0

    def factor(step: int) -> float:
        return (step + 1) / n_warm if step < n_warm else max(0.0, (steps - step) / (steps - n_warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    model.train()
    losses: list[float] = []
    for step in range(steps):
        if on_step is not None:
            on_step(step)
        start = torch.randint(0, len(stream) - seq_len, (batch,), generator=g)
        ids = stream[start[:, None] + torch.arange(seq_len)[None]]
        inp, tgt = mask_tokens(ids, mask_rate, g)
        loss = F.cross_entropy(model(inp, tgt), ids[tgt])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return losses


@dataclass(frozen=True)
class MaskedLMScore:
    """Held-out masked-token cross-entropy (nats), accuracy (fraction) and the tokens scored."""

    loss: float
    accuracy: float
    n_masked: int


@torch.no_grad()
def evaluate_mlm(
    model: nn.Module,
    stream: torch.Tensor,
    *,
    seq_len: int,
    n_tokens: int,
    seed: int = 1234,
    mask_rate: float = 0.15,
    batch: int = 16,
) -> MaskedLMScore:
    """Masked-token loss and accuracy on the first ``n_tokens`` of ``stream`` in windows of ``seq_len``.

    The mask is drawn once over the ``n_tokens`` (same seed for every ``seq_len``), so different
    lengths score exactly the same masked tokens.
    """
    model.eval()
    n_win = max(1, n_tokens // seq_len)
    flat = stream[: n_win * seq_len]
    inp, tgt = mask_tokens(flat, mask_rate, torch.Generator().manual_seed(seed))
    inp, tgt, ids = (t.view(n_win, seq_len) for t in (inp, tgt, flat))
    total, correct, count = 0.0, 0, 0
    for s in range(0, n_win, batch):
        sl = slice(s, s + batch)
        logits = model(inp[sl], tgt[sl])
        y = ids[sl][tgt[sl]]
        total += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(-1) == y).sum())
        count += len(y)
    return MaskedLMScore(total / max(count, 1), correct / max(count, 1), count)


def attention_maps(model: MaskedLM, ids: torch.Tensor) -> list[torch.Tensor]:
    """Per-layer attention probabilities ``(B, H, T, T)`` of ``model`` on ``ids`` (eval mode).

    Each core is wrapped in an :class:`AttentionProbe` (inside the RoPE wrapper, so the probe sees
    rotated ``q``/``k``) for one forward pass, then restored.
    """
    probes: list[AttentionProbe] = []
    for sa in model.self_attentions():
        if isinstance(sa.core, RotaryAttention):
            probe = AttentionProbe(sa.core.inner)
            sa.core.inner = probe
        else:
            probe = AttentionProbe(sa.core)
            sa.core = probe
        probes.append(probe)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model.bert(ids)
    finally:
        for sa, probe in zip(model.self_attentions(), probes, strict=True):
            if isinstance(sa.core, RotaryAttention):
                sa.core.inner = probe.inner
            else:
                sa.core = probe.inner
        model.train(was_training)
    return [p.records[0] for p in probes]


def mean_entropy(probs: torch.Tensor) -> float:
    """Mean attention entropy (nats) over batch, heads and queries."""
    return float(attention_entropy(probs).mean())


def tiny_masked_lm(
    vocab: int,
    *,
    hidden: int,
    layers: int,
    heads: int,
    max_len: int,
    attention: AttentionSpec = None,
    pre_norm: bool = False,
    seed: int,
) -> MaskedLM:
    """The experiments' small dropout-free RoPE masked LM (FFN width ``2 * hidden``).

    ``seed`` fixes the initial weights: the same seed gives the same weights for every variant
    with the same parameters (Post-LN and RealFormer, say). The encoder draws them from torch's
    global generator, so they are drawn inside :func:`torch.random.fork_rng`, which restores the
    caller's generator state afterwards.
    """
    cfg = BertConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=max_len,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        pre_norm=pre_norm,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MaskedLM(cfg, attention, rope=True)
