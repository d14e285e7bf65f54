"""A4's figure: accuracy vs test length (ours and the article's), attention entropy vs n."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from kexue.experiments.a4_entropy_invariant_scale.article import article_accuracy
from kexue.experiments.a4_entropy_invariant_scale.length import LABEL, SCALES

if TYPE_CHECKING:
    from kexue.experiments.a4_entropy_invariant_scale import Result

__all__ = ["plot"]


def plot(result: Result) -> Figure:
    """Left: accuracy vs test length (ours and the article's); right: entropy vs n."""
    fig = Figure(figsize=(10, 4.2), layout="tight")
    ax1, ax2 = fig.subplots(1, 2)
    lens = list(result.config.test_lens)
    article = article_accuracy()
    for s, c in zip(SCALES, ("C0", "C1"), strict=True):
        ax1.plot(lens, result.curve(s, "accuracy"), "o-", color=c, label=f"{LABEL[s]} ours")
        art = [n for n in lens if n in article[s]]
        ax1.plot(art, [article[s][n] for n in art], "s:", color=c, alpha=0.6, label="article")
        ax2.plot(lens, result.curve(s, "entropy"), "o-", color=c, label=f"{LABEL[s]} trained")
    ns = [s.n for s in result.sphere]
    for name, ls in (("standard", "--"), ("entropy_invariant", "--"), ("laplace", "-.")):
        ys = [getattr(s, name) for s in result.sphere]
        ax2.plot(ns, ys, ls, label=f"sphere, {name}", alpha=0.7)
    ax2.plot(ns, [math.log(n) for n in ns], ":", color="grey", label="log n (uniform)")
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length n")
        ax.legend(fontsize=7)
    ax1.axvline(result.config.train_len, color="grey", lw=0.5)
    ax1.set_ylabel("masked-LM accuracy (%)")
    ax1.set_title(f"trained at {result.config.train_len}, tested at n", fontsize=9)
    ax2.set_ylabel("mean attention entropy (nats)")
    ax2.set_title("attention entropy vs n", fontsize=9)
    return fig
