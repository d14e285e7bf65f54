r"""A masked LM whose residual connections follow one scheme of A5, for the training comparison.

The model mirrors :func:`kexue.experiments._mlm.tiny_masked_lm` (character-level STS-B masked LM,
RoPE, tied output layer) but is built from :class:`~kexue.transformer.residual.ResidualBlock` sub-layers
(attention, then a GELU FFN of width ``2 * hidden``) so the scheme is a constructor argument:
``"post_norm"`` (BERT), ``"pre_norm"`` (a final LayerNorm added), ``"rezero"`` (α learned) or
``"scheduled"`` (α a buffer raised by :func:`scheduled_alpha` each step; the article's preferred
variant). The α schemes also get a final LayerNorm, since their stream's scale is not normalised.

All projection weights use the second-moment-preserving initialisation of the article: LeCun
variance :math:`1/m` drawn from the TF-style truncated normal with the 1.1368472 correction
(:func:`kexue.nn.init.trunc_normal_`); embeddings use BERT's ``N(0, 0.02)``; biases are zero.

Reference:
    Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kexue.experiments._mlm import rotary
from kexue.transformer.attention import softmax_attention
from kexue.transformer.residual import ResidualBlock, Scheme, set_residual_alpha_

__all__ = ["VARIANTS", "ResidualMaskedLM", "compare_residual_schemes", "scheduled_alpha"]


def _lecun_linear(d_in: int, d_out: int, g: torch.Generator) -> nn.Linear:
    from kexue.nn.init import trunc_normal_

    layer = nn.Linear(d_in, d_out)
    trunc_normal_(layer.weight, std=1 / math.sqrt(d_in), generator=g)
    nn.init.zeros_(layer.bias)
    return layer


class _SelfAttention(nn.Module):
    """Multi-head self-attention with RoPE on ``q``/``k`` and the standard ``1/√d`` scale."""

    def __init__(self, hidden: int, heads: int, g: torch.Generator) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = _lecun_linear(hidden, 3 * hidden, g)
        self.out = _lecun_linear(hidden, hidden, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        a = softmax_attention(rotary(q), rotary(k), v)
        return self.out(a.transpose(1, 2).reshape(b, t, h))


class _FeedForward(nn.Module):
    def __init__(self, hidden: int, g: torch.Generator) -> None:
        super().__init__()
        self.up = _lecun_linear(hidden, 2 * hidden, g)
        self.down = _lecun_linear(2 * hidden, hidden, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class ResidualMaskedLM(nn.Module):
    """Embeddings (+LayerNorm), ``layers`` × (attention, FFN) residual blocks, tied MLM head.

    Args:
        vocab: vocabulary size. hidden: model width. layers: attention+FFN pairs. heads: heads.
        scheme: the residual scheme of every sub-layer (see :mod:`kexue.transformer.residual`).
        seed: seeds the weight initialisation (same seed ⇒ same branch weights for every scheme).
    """

    def __init__(
        self, vocab: int, *, hidden: int, layers: int, heads: int, scheme: Scheme, seed: int
    ) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
        g = torch.Generator().manual_seed(seed)
        self.scheme = scheme
        self.embed = nn.Embedding(vocab, hidden)
        nn.init.normal_(self.embed.weight, std=0.02, generator=g)
        self.embed_norm = nn.LayerNorm(hidden)
        blocks: list[nn.Module] = []
        for _ in range(layers):
            blocks.append(ResidualBlock(_SelfAttention(hidden, heads, g), hidden, scheme=scheme))
            blocks.append(ResidualBlock(_FeedForward(hidden, g), hidden, scheme=scheme))
        self.blocks = nn.Sequential(*blocks)
        self.final_norm: nn.Module = (
            nn.Identity() if scheme == "post_norm" else nn.LayerNorm(hidden)
        )
        self.transform = _lecun_linear(hidden, hidden, g)
        self.head_norm = nn.LayerNorm(hidden)
        self.bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, ids: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """Logits ``(n_selected, V)`` at the positions where ``where`` is True."""
        x = self.final_norm(self.blocks(self.embed_norm(self.embed(ids))))[where]
        x = self.head_norm(F.gelu(self.transform(x)))
        return x @ self.embed.weight.T + self.bias


def scheduled_alpha(model: nn.Module, step: int, warmup_steps: int) -> float:
    """Set every scheduled α of ``model`` to ``min(1, step / warmup_steps)``; return the value.

    The article's variant: α is not learned but raised by a fixed step per iteration until it
    reaches 1, then frozen.
    """
    value = min(1.0, step / warmup_steps) if warmup_steps > 0 else 1.0
    set_residual_alpha_(model, value)
    return value


VARIANTS: tuple[tuple[str, Scheme, float], ...] = (
    ("Post-LN, no warm-up", "post_norm", 0.0),
    ("Post-LN, 10 % warm-up", "post_norm", 0.1),
    ("Pre-LN, no warm-up", "pre_norm", 0.0),
    ("ReZero (learned α), no warm-up", "rezero", 0.0),
    ("scheduled α, no warm-up", "scheduled", 0.0),
)
"""The compared set-ups: (name, residual scheme, warm-up fraction of the learning rate)."""


def compare_residual_schemes(
    *,
    layers: int,
    steps: int,
    alpha_warmup: int,
    seed: int,
    hidden: int = 64,
    heads: int = 4,
    lr: float = 2e-3,
    eval_tokens: int = 16384,
) -> list[dict[str, Any]]:
    """Train every :data:`VARIANTS` set-up from the same initial branch weights and batches.

    The character-level STS-B masked LM of A2 (batch 16 × 64 characters, AdamW, linear decay);
    the scheduled α rises linearly from 0 to 1 over ``alpha_warmup`` steps. Returns one record per
    variant: held-out loss/accuracy, the mean of the last 10 % of training losses, a thinned loss
    curve, whether every loss was finite and the first step whose loss was not (``diverged_at``).
    """
    from kexue.experiments._mlm import evaluate_mlm, stsb_corpus, train_mlm

    corpus = stsb_corpus("char")
    out = []
    for name, scheme, warmup in VARIANTS:
        model = ResidualMaskedLM(
            corpus.vocab_size, hidden=hidden, layers=layers, heads=heads, scheme=scheme, seed=seed
        )
        hook = None
        if scheme == "scheduled":

            def hook(step: int, model: nn.Module = model) -> float:
                return scheduled_alpha(model, step, alpha_warmup)

        losses = train_mlm(
            model,
            corpus.train,
            steps=steps,
            batch=16,
            seq_len=64,
            lr=lr,
            seed=seed,
            warmup=warmup,
            on_step=hook,
        )
        ev = evaluate_mlm(model, corpus.test, seq_len=64, n_tokens=eval_tokens)
        tail = losses[-max(1, steps // 10) :]
        out.append(
            {
                "variant": name,
                "scheme": scheme,
                "warmup": warmup,
                "test_loss": ev["loss"],
                "test_accuracy": ev["accuracy"],
                "train_loss_final": sum(tail) / len(tail),
                "finite": all(math.isfinite(x) for x in losses),
                "diverged_at": next(
                    (i for i, x in enumerate(losses) if not math.isfinite(x)), None
                ),
                "curve_stride": max(1, steps // 50),
                "curve": losses[:: max(1, steps // 50)],
            }
        )
    return out
