"""A6's figure: f_n with its minima, the reliability diagram, and the classifiers' mean scores."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from matplotlib.figure import Figure

from kexue.experiments.a6_taylor_softmax.calibration import MODELS
from kexue.transformer.taylor_softmax import taylor_exp

if TYPE_CHECKING:
    from kexue.experiments.a6_taylor_softmax import Result

__all__ = ["plot"]


def plot(result: Result) -> Figure:
    """f_n curves with their minima, and a reliability diagram of the three classifiers."""
    fig = Figure(figsize=(15, 4.4), layout="tight")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    xs = torch.linspace(-6, 2.5, 600, dtype=torch.float64)
    for r in result.minima:
        if r.n % 2 == 0:
            (line,) = ax1.plot(xs, taylor_exp(xs, r.n), label=f"n={r.n}")
            ax1.plot([r.x_star], [r.f_star], "o", color=line.get_color())
        elif r.n in (3, 5):
            ax1.plot(xs, taylor_exp(xs, r.n), "--", color="grey", lw=0.8)
    ax1.plot(xs, xs.exp(), "k:", label="exp")
    ax1.axhline(0, color="k", lw=0.5)
    ax1.set(ylim=(-0.6, 3), xlabel="x", ylabel="f_n(x)",
            title="f_n(x) (dots: minima x_n*; dashed: odd n=3, 5)")  # fmt: skip
    ax1.legend(fontsize=7, ncol=2)
    ax2.plot([0, 1], [0, 1], "k:", lw=0.8)
    for m in MODELS:
        pts = [b for b in result.reliability if b.model == m]
        ax2.plot([b.confidence for b in pts], [b.accuracy for b in pts], "o-", ms=3, label=m)
    ax2.set(xlabel="confidence (bin mean)", ylabel="accuracy", title="reliability (test, pooled)")
    ax2.legend(fontsize=8)
    keys = ("mean_conf", "test_acc", "ece", "nll")
    width = 0.8 / len(result.mean)
    for i, s in enumerate(result.mean):
        ax3.bar([k + i * width for k in range(len(keys))], [getattr(s, k) for k in keys], width,
                label=s.model)  # fmt: skip
    ax3.set_xticks(
        [k + 0.4 - width / 2 for k in range(len(keys))], ["max-prob", "acc", "ECE", "NLL"]
    )
    ax3.set(title="digits test set, mean over seeds")
    ax3.legend(fontsize=8)
    return fig
