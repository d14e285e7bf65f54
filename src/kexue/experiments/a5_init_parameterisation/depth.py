r"""A5 study 4: activations and gradients through residual stacks of depth 12–48 at initialisation.

Residual sub-layers alternate attention and FFN (:class:`~kexue.transformer.residual.AttentionBranch`
and :class:`~kexue.transformer.residual.FeedForwardBranch`, width 64, 4 heads, FFN 256 with ReLU,
second-moment-preserving init) under Post-Norm, Pre-Norm and ReZero, fed with scikit-learn's digits
(64 features = the width; 16 digits form one sequence). Measured per stack: the exact coefficient of
:math:`x_0` on the skip path (the product of :math:`1/\sigma` of each LayerNorm; the article's
:math:`2^{-l/2}` for Post-Norm), the output RMS, and per-layer gradient norms under a fixed random
linear read-out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kexue.transformer.residual import ResidualBlock, Scheme

__all__ = [
    "SCHEMES",
    "DepthRow",
    "GradientProfile",
    "StackRun",
    "depth_sweep",
    "digits_sequences",
    "residual_stack",
]

WIDTH, HEADS, TOKENS = 64, 4, 16
SCHEMES: tuple[Scheme, ...] = ("post_norm", "pre_norm", "rezero")


@dataclass(frozen=True)
class StackRun:
    """One stack from one seed.

    Attributes:
        log2_coef_x0: :math:`\\log_2` of the skip-path coefficient on the input.
        rms_out: RMS of the stack's output (before Pre-Norm's final LayerNorm).
        grad_norms: gradient norm of each layer (attention + FFN pair), first to last; ReZero's
            branch weights get none at :math:`\\alpha = 0`, so its entry is the gradient of α.
        identity: for ReZero, whether the stack is exactly the identity (``None`` otherwise).
    """

    log2_coef_x0: float
    rms_out: float
    grad_norms: tuple[float, ...]
    identity: bool | None


@dataclass(frozen=True)
class DepthRow:
    """A scheme at a depth, over seeds: mean log2 coefficient and RMS, geometric-mean grad ratio."""

    scheme: str
    depth: int
    log2_coef_x0: float
    rms_out: float
    grad_ratio_last_first: float


@dataclass(frozen=True)
class GradientProfile:
    """The per-layer gradient norms of a scheme at a depth (first seed), for the figure."""

    scheme: str
    depth: int
    grad_norms: tuple[float, ...]


def digits_sequences(n_seq: int) -> torch.Tensor:
    """``(n_seq, 16, 64)`` standardised digits with unit second moment (the stacks' input)."""
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().data, dtype=torch.float64)
    x = (x - x.mean(0)) / x.std(0).clamp(min=1e-6)
    x = x[: n_seq * TOKENS]
    return (x / x.pow(2).mean().sqrt()).view(n_seq, TOKENS, WIDTH)  # unit second moment


def residual_stack(depth: int, scheme: Scheme, g: torch.Generator) -> list[ResidualBlock]:
    """``depth`` float64 residual sub-layers, attention first, alternating with the FFN."""
    from kexue.transformer.residual import AttentionBranch, FeedForwardBranch

    d64 = torch.float64

    def branch(i: int) -> torch.nn.Module:
        if i % 2 == 0:
            return AttentionBranch(WIDTH, HEADS, generator=g, dtype=d64)
        return FeedForwardBranch(WIDTH, 4 * WIDTH, activation="relu", generator=g, dtype=d64)

    return [ResidualBlock(branch(i), WIDTH, scheme=scheme).double() for i in range(depth)]


def _stack(x0: torch.Tensor, depth: int, scheme: Scheme, seed: int) -> StackRun:
    """Forward + backward through ``depth`` residual sub-layers; identity-path coefficient on x0."""
    g = torch.Generator().manual_seed(seed)
    blocks = residual_stack(depth, scheme, g)
    log2c = 0.0  # the skip path through LayerNorm(y) is y / sigma(y) per token
    x = x0
    for blk in blocks:
        if scheme == "post_norm":
            with torch.no_grad():
                y = x + blk.branch(x)
            log2c -= float(torch.log2(y.var(-1, unbiased=False) + 1e-5).mean()) / 2
        x = blk(x)
    rms = float(x.detach().pow(2).mean().sqrt())
    if scheme == "pre_norm":  # the final norm a Pre-Norm stack needs
        log2c -= float(torch.log2(x.detach().var(-1, unbiased=False) + 1e-5).mean()) / 2
        x = F.layer_norm(x, (WIDTH,))
    readout = torch.randn(x.shape, generator=g, dtype=torch.float64)
    ((x * readout).sum() / x.shape[0]).backward()

    def sq(t: torch.Tensor | None) -> float:
        return 0.0 if t is None else float(t.pow(2).sum())

    grads = []
    for i in range(0, depth, 2):  # one "layer" = attention + FFN sub-layers
        pair = blocks[i : i + 2]
        if scheme == "rezero":  # branch weights get no gradient while alpha = 0
            grads.append(math.sqrt(sum(sq(b.alpha.grad) for b in pair)))
        else:
            grads.append(math.sqrt(sum(sq(p.grad) for b in pair for p in b.branch.parameters())))
    identity = bool(torch.equal(x, x0)) if scheme == "rezero" else None
    return StackRun(log2c, rms, tuple(grads), identity)


def depth_sweep(
    x0: torch.Tensor, depths: tuple[int, ...], seeds: int, seed: int
) -> tuple[tuple[DepthRow, ...], tuple[GradientProfile, ...], bool]:
    """Every scheme at every depth over ``seeds`` seeds: the table rows, the gradient profiles
    and whether every ReZero stack was exactly the identity."""
    rows, profiles, identity = [], [], True
    for scheme in SCHEMES:
        for depth in depths:
            runs = [_stack(x0, depth, scheme, seed * 1000 + s) for s in range(seeds)]
            ratios = [r.grad_norms[-1] / r.grad_norms[0] for r in runs]
            rows.append(
                DepthRow(
                    scheme,
                    depth,
                    log2_coef_x0=sum(r.log2_coef_x0 for r in runs) / len(runs),
                    rms_out=sum(r.rms_out for r in runs) / len(runs),
                    grad_ratio_last_first=math.exp(sum(map(math.log, ratios)) / len(ratios)),
                )
            )
            profiles.append(GradientProfile(scheme, depth, runs[0].grad_norms))
            if scheme == "rezero":
                identity = identity and all(bool(r.identity) for r in runs)
    return tuple(rows), tuple(profiles), identity
