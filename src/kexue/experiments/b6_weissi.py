"""B6 — WEISSI vs L2 on a small ReLU MLP (digits): invariance to weight rescaling, and accuracy.

A 64-H-H-10 ReLU MLP is trained on 300 digits with SGD + momentum, unregularised, with L2 and with
WEISSI (:math:`\\lambda_1\\sum_l\\log\\|W_l\\|_F`). On every trained net (float64 copy), random layer
scales :math:`\\gamma` with :math:`\\prod\\gamma_l=1` are applied with cumulative bias scaling: the output
and WEISSI must not move, L2 must; the article's per-layer bias scaling must change the output (the
correction). Accuracy of WEISSI at small :math:`\\lambda_1` must stay within 1 point of the baseline
(the article claims no gain); the share of L2 that a function-preserving rebalancing would remove is
reported for each regulariser.
"""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from kexue.experiments.base import Check, Experiment, Table, at_least, at_most, num_threads
from kexue.losses.weissi import l2_penalty, layer_weights, rescale_layers, weissi_penalty

__all__ = ["EXPERIMENT", "FULL", "QUICK", "Config", "Regime", "RegimeRow", "Result", "SeedRun"]

log = logging.getLogger(__name__)

D = torch.float64


@dataclass(frozen=True)
class Config:
    """Sizes of the B6 reproduction.

    Attributes:
        regimes: (regulariser, weight) pairs; regulariser ``"none"``, ``"l2"`` or ``"weissi"``.
        n_train: digits training images per seed (stratified; the rest is the test set).
        hidden: width of the two hidden layers.
        steps, batch_size, lr, momentum: SGD with momentum.
        n_seeds: seeds (split, initialisation, batches), starting at ``run``'s seed.
        n_rescalings: random layer scales with product 1 applied to each trained net.
        max_log_gamma: bound of ``|log γ_l|`` for those scales.
    """

    regimes: tuple[tuple[str, float], ...] = (
        ("none", 0.0), ("l2", 1e-3), ("l2", 1e-2),
        ("weissi", 1e-2), ("weissi", 1e-1), ("weissi", 1.0),
    )  # fmt: skip
    n_train: int = 300
    hidden: int = 256
    steps: int = 300
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    n_seeds: int = 4
    n_rescalings: int = 5
    max_log_gamma: float = math.log(4.0)


QUICK = Config(
    regimes=(("none", 0.0), ("l2", 1e-2), ("weissi", 1e-2), ("weissi", 1e-1)),
    hidden=64,
    steps=150,
    n_seeds=1,
    n_rescalings=3,
)
FULL = Config()


@dataclass(frozen=True)
class SeedRun:
    """One trained net: accuracy, layer norms, and how it reacts to weight rescaling.

    Attributes:
        test_acc: test accuracy.
        norms: ‖W_l‖_F per layer.
        l2_removable: share of the L2 penalty that a function-preserving rescaling removes.
        d_out: max relative output change over random γ with Π γ = 1 (cumulative bias scaling).
        d_weissi: max |ΔWEISSI| over the same rescalings.
        d_l2_min: min relative |ΔL2| over the same rescalings.
        d_out_article: relative output change with the article's per-layer bias scaling.
        d_l2_fixed: relative |ΔL2| at the fixed γ = (2, 1/4, 2).
    """

    test_acc: float
    norms: tuple[float, ...]
    l2_removable: float
    d_out: float
    d_weissi: float
    d_l2_min: float
    d_out_article: float
    d_l2_fixed: float


@dataclass(frozen=True)
class Regime:
    """One regulariser and weight, trained over the seeds."""

    regulariser: str
    lam: float
    runs: tuple[SeedRun, ...]

    @property
    def label(self) -> str:
        """``"none"``, or the regulariser and its weight (``"weissi 0.01"``)."""
        return "none" if self.regulariser == "none" else f"{self.regulariser} {self.lam:g}"

    @property
    def test_acc(self) -> float:
        """Mean test accuracy over the seeds."""
        return statistics.fmean(r.test_acc for r in self.runs)

    @property
    def l2_removable(self) -> float:
        """Mean share of L2 removable by rescaling."""
        return statistics.fmean(r.l2_removable for r in self.runs)


@dataclass(frozen=True)
class RegimeRow:
    """One row of the report."""

    regulariser: str
    test_acc: str
    seed_range: str
    norms_seed0: str
    l2_removable: str


@dataclass(frozen=True)
class Result:
    """What the B6 run measured: every regime's trained nets, and the report's table."""

    regimes: tuple[Regime, ...]
    tables: tuple[Table, ...]

    def regime(self, label: str) -> Regime:
        """The regime called ``label``."""
        return next(r for r in self.regimes if r.label == label)

    @property
    def runs(self) -> list[SeedRun]:
        """Every trained net of every regime."""
        return [run for reg in self.regimes for run in reg.runs]


def _linear(d_in: int, d_out: int, gen: torch.Generator) -> nn.Linear:
    """``nn.Linear`` with its default initialisation, drawn from ``gen`` (not the global RNG)."""
    lin = nn.utils.skip_init(nn.Linear, d_in, d_out)
    nn.init.kaiming_uniform_(lin.weight, a=math.sqrt(5), generator=gen)
    bound = 1 / math.sqrt(d_in)
    nn.init.uniform_(lin.bias, -bound, bound, generator=gen)
    return lin


def _invariance(net: nn.Module, x: torch.Tensor, cfg: Config, seed: int) -> dict[str, float]:
    """Max changes over random gamma with prod = 1 (float64 copy of the trained net)."""
    net = net.to(D)
    x = x.to(D)
    g = torch.Generator().manual_seed(seed)
    n = len(layer_weights(net))
    with torch.no_grad():
        y0 = net(x)
        w0, l0 = float(weissi_penalty(net)), float(l2_penalty(net))
        out = {"d_out": 0.0, "d_weissi": 0.0, "d_l2_min": math.inf}
        for _ in range(cfg.n_rescalings):
            u = (2 * torch.rand(n - 1, generator=g, dtype=D) - 1) * cfg.max_log_gamma
            gam = torch.cat([u, -u.sum(0, keepdim=True)]).exp().tolist()  # prod = 1
            cum = rescale_layers(net, gam)
            scale = float(y0.abs().max())
            out["d_out"] = max(out["d_out"], float((cum(x) - y0).abs().max()) / scale)
            out["d_weissi"] = max(out["d_weissi"], abs(float(weissi_penalty(cum)) - w0))
            out["d_l2_min"] = min(out["d_l2_min"], abs(float(l2_penalty(cum)) - l0) / l0)
        # the article's per-layer bias scaling, at the reference run's gamma = (2, 1/4, 2)
        gam = [2.0, 0.25, 2.0] if n == 3 else [2.0] * (n - 1) + [2.0 ** (1 - n)]
        art = rescale_layers(net, gam, bias_scaling="per_layer")
        out["d_out_article"] = float((art(x) - y0).abs().max() / y0.abs().max())
        out["d_l2_fixed"] = abs(float(l2_penalty(rescale_layers(net, gam))) - l0) / l0
    return out


def _train(cfg: Config, reg: str, lam: float, seed: int) -> SeedRun:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(
        x, y, train_size=cfg.n_train, random_state=seed, stratify=y
    )
    mu, sd = xtr.mean(0), xtr.std(0)
    sd[sd == 0] = 1.0
    xtr_t = torch.tensor((xtr - mu) / sd, dtype=torch.float32)
    xte_t = torch.tensor((xte - mu) / sd, dtype=torch.float32)
    ytr_t, yte_t = torch.tensor(ytr), torch.tensor(yte)
    init = torch.Generator().manual_seed(seed)  # same initialisation for every regulariser
    h = cfg.hidden
    net = nn.Sequential(
        _linear(64, h, init), nn.ReLU(), _linear(h, h, init), nn.ReLU(), _linear(h, 10, init)
    )
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    gen = torch.Generator().manual_seed(seed)  # same batches for every regulariser
    for _ in range(cfg.steps):
        i = torch.randint(0, cfg.n_train, (cfg.batch_size,), generator=gen)
        loss = F.cross_entropy(net(xtr_t[i]), ytr_t[i])
        if reg == "l2":
            loss = loss + lam * l2_penalty(net)
        elif reg == "weissi":
            loss = loss + weissi_penalty(net, lambda1=lam)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = float((net(xte_t).argmax(-1) == yte_t).double().mean())
        norms = [float(w.norm()) for w in layer_weights(net)]
    l2 = sum(v * v for v in norms)
    balanced = len(norms) * math.prod(norms) ** (2 / len(norms))  # min over rescalings, prod = 1
    return SeedRun(
        test_acc=acc,
        norms=tuple(norms),
        l2_removable=1 - balanced / l2,
        **_invariance(net, xte_t[:200], cfg, seed),
    )


def _row(reg: Regime) -> RegimeRow:
    accs = [r.test_acc for r in reg.runs]
    return RegimeRow(
        regulariser=reg.label,
        test_acc=f"{100 * reg.test_acc:.1f}%",
        seed_range=f"{100 * min(accs):.1f}–{100 * max(accs):.1f}%",
        norms_seed0=" / ".join(f"{x:.2f}" for x in reg.runs[0].norms),
        l2_removable=f"{100 * reg.l2_removable:.1f}%",
    )


def run(config: Config, seed: int) -> Result:
    """Train every regime over ``n_seeds`` seeds and measure invariance on each trained net."""
    regimes = []
    with num_threads(1):  # a small MLP: one thread is faster; the figures were measured so
        for reg, lam in config.regimes:
            log.info("B6: %s %g, %d seeds", reg, lam, config.n_seeds)
            runs = tuple(_train(config, reg, lam, s) for s in range(seed, seed + config.n_seeds))
            regimes.append(Regime(reg, lam, runs))
    headers = ("regulariser", "test acc (mean)", "seed range", "‖W_l‖ (seed 0)",
               "L2 removable by rescaling")  # fmt: skip
    table = Table("", tuple(_row(r) for r in regimes), headers)
    return Result(tuple(regimes), tables=(table,))


def check(result: Result, config: Config) -> list[Check]:
    """Invariance (float64) on every trained net; WEISSI accuracy within 1 point of the baseline."""
    runs = result.runs
    base = result.regime("none").test_acc
    checks = [
        at_most("max relative output change, cumulative bias scaling", max(r.d_out for r in runs),
                1e-12, article="function unchanged when prod γ = 1"),
        at_most("max |ΔWEISSI| under prod γ = 1", max(r.d_weissi for r in runs), 1e-12,
                article="Σ log‖W‖ changes by log Π γ = 0"),
        at_least("min relative |ΔL2| at γ = (2, 1/4, 2)", min(r.d_l2_fixed for r in runs), 0.1,
                 article="L2 is not invariant (reference run ΔL2: see the catalogue)"),
        at_least("min relative output change, article's per-layer bias scaling, γ = (2, 1/4, 2)",
                 min(r.d_out_article for r in runs), 1e-3,
                 article="b_l = γ_l b̃_l (correct only for layer 1)"),
    ]  # fmt: skip
    for reg in result.regimes:
        if reg.regulariser == "weissi" and reg.lam <= 0.1:
            checks.append(
                at_most(f"|acc({reg.label}) − acc(none)| (points, mean over seeds)",
                        100 * abs(reg.test_acc - base), 1.0,
                        article="no guaranteed gain (reference run: see the catalogue)")
            )  # fmt: skip
            checks.append(at_least(f"acc({reg.label}) (no collapse)", reg.test_acc, 0.9))
    return checks


def plot(result: Result) -> Figure:
    """Accuracy per regulariser, layer norms, and the share of L2 removable by rescaling."""
    regimes = result.regimes
    names = [r.label for r in regimes]
    fig = Figure(figsize=(15, 4.2), layout="tight")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    lo = 85.0
    for i, reg in enumerate(regimes):
        accs = [100 * r.test_acc for r in reg.runs]
        ax1.plot([i] * len(accs), accs, "o", color="grey", ms=4)
        mean = statistics.fmean(accs)
        ax1.plot([i], [max(mean, lo + 0.5)], "v" if mean < lo else "D", color="tab:red")
        if mean < lo:  # collapsed: off the scale
            ax1.annotate(f"{mean:.0f}% (collapse)", (i, lo + 1.2), ha="center", fontsize=8)
    ax1.axhline(100 * result.regime("none").test_acc, color="k", ls=":", lw=1)
    ax1.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
    ax1.set(ylabel="test accuracy (%)", title="digits, 300 training samples", ylim=(lo, 100))
    n_layers = len(regimes[0].runs[0].norms)
    width = 0.8 / n_layers
    for j in range(n_layers):
        vals = [statistics.fmean(r.norms[j] for r in reg.runs) for reg in regimes]
        ax2.bar([i + j * width for i in range(len(names))], vals, width, label=f"‖W_{j + 1}‖_F")
    ax2.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=30, fontsize=8)
    ax2.set(title="layer norms (L2 equalises them)")
    ax2.legend(fontsize=8)
    ax3.bar(names, [100 * reg.l2_removable for reg in regimes], color="tab:green")
    ax3.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
    ax3.set(title="share of L2 removable by a function-preserving rescaling", ylabel="%")
    return fig


def summary(result: Result) -> str:
    """Headline: accuracies, and the worst invariance error."""
    runs = result.runs
    accs = ", ".join(f"{reg.label} {100 * reg.test_acc:.1f}%" for reg in result.regimes)
    return (
        f"acc: {accs}; under prod γ=1 output Δ {max(r.d_out for r in runs):.1e}, "
        f"WEISSI Δ {max(r.d_weissi for r in runs):.1e}, L2 rel. Δ ≥ "
        f"{min(r.d_l2_min for r in runs):.3f}"
    )


EXPERIMENT = Experiment(
    id="B6",
    title="WEISSI vs L2 on a ReLU MLP (digits): invariance to weight-scale shifts, accuracy",
    quick=QUICK,
    full=FULL,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data="scikit-learn load_digits: 300 stratified training samples per seed, the rest for test",
    notes=(
        "Correction to the article: it rescales biases as b_l = γ_l b̃_l, which preserves the "
        "function only for the first layer; we use the cumulative product Π_{k≤l} γ_k (the "
        "'per_layer' option of rescale_layers reproduces the article's form, and the check shows "
        "it changes the output). Only the λ1 Σ log‖W_l‖_F part of the paper's regulariser is "
        "trained (λ2 = 0), per layer (not per unit), biases excluded. We do not gate on an "
        "accuracy gain (the article claims none); λ1 = 1 shows the documented collapse (the "
        "penalty is unbounded below) and is reported, not gated. 'Robustness to rescaling' is "
        "measured as invariance of the function and of the penalty, and as the share of the L2 "
        "penalty that a function-preserving rescaling removes (L2 spends effort balancing norms)."
    ),
)
