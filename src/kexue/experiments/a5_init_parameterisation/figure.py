"""A5's figure: gradient norms through the deepest stacks, attention max-probability vs head size,
and (when run) the training curves of the residual schemes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from kexue.experiments.a5_init_parameterisation.depth import SCHEMES
from kexue.experiments.a5_init_parameterisation.saturation import INITS

if TYPE_CHECKING:
    from kexue.experiments.a5_init_parameterisation import Result

__all__ = ["plot"]


def plot(result: Result) -> Figure:
    """Per-layer gradient norms through the deepest stack, attention max-prob vs d, and the
    training curves (``--long``)."""
    dmax = max(result.config.depths)
    training = result.training
    fig = Figure(figsize=(15 if training else 10, 4), layout="tight")
    axes = fig.subplots(1, 3 if training else 2)
    a1, a2 = axes[0], axes[1]
    for scheme in SCHEMES:
        gn = next(
            p.grad_norms for p in result.gradient_profiles if p.scheme == scheme and p.depth == dmax
        )
        label = scheme + (" (grad of alpha)" if scheme == "rezero" else "")
        a1.semilogy(range(1, len(gn) + 1), gn, marker=".", label=label)
    a1.set_xlabel(f"layer (attention + FFN), {dmax} sub-layers")
    a1.set_ylabel("gradient norm at init")
    a1.legend(fontsize=8)
    for setup in INITS:
        rows = [r for r in result.saturation if r.setup == setup]
        a2.plot([r.head_size for r in rows], [r.max_prob for r in rows], marker="o", label=setup)
    a2.set_xscale("log", base=2)
    a2.set_xlabel("head size d")
    a2.set_ylabel("mean max attention probability (64 keys)")
    a2.legend(fontsize=8)
    if training:
        a3 = axes[2]
        for r in training:
            steps = [i * r.curve_stride for i in range(len(r.curve))]
            (line,) = a3.plot(steps, r.curve, lw=1, label=r.variant)
            if r.diverged_at is not None:  # mark where the loss stopped being finite
                finite = [x for x in r.curve if math.isfinite(x)]
                a3.plot(r.diverged_at, finite[-1] if finite else 3.0, "x", ms=9, mew=2,
                        color=line.get_color())  # fmt: skip
        if result.training_unigram_loss is not None:
            a3.axhline(result.training_unigram_loss, color="grey", ls=":", label="unigram (test)")
        a3.set_xlabel("training step")
        a3.set_ylabel("masked-LM training loss (nats)")
        a3.legend(fontsize=7)
    return fig
