"""A6 reproduction: even-order Taylor polynomials of exp are positive; Taylor softmax on digits.

The article (https://kexue.fm/archives/7919) proves that :math:`f_n(x)=\\sum_{k\\le n} x^k/k!` is
positive for even :math:`n` (its minimum sits at the real root :math:`x_n^*` of :math:`f_{n-1}`, where
:math:`f_n = (x_n^*)^n/n!`) and tabulates the minima for n = 2…10; it then points to Taylor softmax
(Banerjee et al. 2020) as a softmax replacement whose polynomial growth should make a classifier less
over-confident. Part 1 recomputes the minima for n = 2…12 (bracketed Newton, a dense grid on
[−50, 50] and numpy's roots of :math:`f_{n-1}`) and shows odd orders go negative. Part 2 trains the
same MLP 64→128→10 on scikit-learn's digits to ~100 % train accuracy with softmax cross-entropy and
with Taylor cross-entropy (n = 2, 4) over several seeds, and compares test accuracy, mean max
probability, ECE and NLL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from kexue.experiments.base import Check, Experiment, at_least, at_most, jsonable
from kexue.transformer.taylor_softmax import (
    taylor_cross_entropy,
    taylor_exp,
    taylor_minimum,
    taylor_softmax,
)

# The article's table (x_n^*, f_n(x_n^*)), digits as printed.
ARTICLE_MINIMA = {
    2: (-1.0, 0.5),
    4: (-1.59607, 0.270395),
    6: (-2.18061, 0.149325),
    8: (-2.759, 0.0832715),
    10: (-3.33355, 0.0466991),
}
MODELS = ("softmax", "taylor2", "taylor4")


@dataclass(frozen=True)
class Config:
    """Sizes of the two parts.

    Attributes:
        max_order: the minima table covers n = 2 … max_order.
        grid_points: points of the dense float64 grid on [-grid_radius, grid_radius].
        grid_radius: half-width of the grid.
        n_seeds: training seeds (split, initialisation and batches), starting at ``run``'s seed.
        steps: Adam steps per model.
        batch_size: mini-batch size.
        lr: Adam learning rate.
        hidden: width of the MLP's hidden layer.
        test_size: held-out fraction of the 1,797 digits (stratified).
        bins: equal-width confidence bins for ECE and the reliability diagram.
    """

    max_order: int = 12
    grid_points: int = 2_000_001
    grid_radius: float = 50.0
    n_seeds: int = 3
    steps: int = 1000
    batch_size: int = 128
    lr: float = 2e-3
    hidden: int = 128
    test_size: float = 0.3
    bins: int = 15


QUICK = Config(grid_points=100_001, n_seeds=1, steps=300)
FULL = Config()


def _minima(cfg: Config) -> dict[str, Any]:
    import numpy as np

    grid = torch.linspace(-cfg.grid_radius, cfg.grid_radius, cfg.grid_points, dtype=torch.float64)
    rows = []
    for n in range(2, cfg.max_order + 1):
        grid_min = float(taylor_exp(grid, n).min())
        coef = [1.0 / math.factorial(k) for k in range(n - 1, -1, -1)]  # f_{n-1}, highest first
        roots = np.roots(coef) if n > 1 else np.array([])
        real = torch.tensor(roots[np.abs(roots.imag) < 1e-7].real, dtype=torch.float64)
        at_roots = float(taylor_exp(real, n).min()) if real.numel() else float("nan")
        row: dict[str, Any] = {"n": n, "grid_min": grid_min, "min_at_critical": at_roots}
        if n % 2 == 0:
            x_star, f_star = taylor_minimum(n)
            art = ARTICLE_MINIMA.get(n)
            row |= {
                "x_star": x_star,
                "f_star": f_star,
                "f_star_horner": float(taylor_exp(torch.tensor(x_star, dtype=torch.float64), n)),
                "article_x": art[0] if art else None,
                "article_f": art[1] if art else None,
            }
        rows.append(row)
    return {"rows": rows}


def _ece(conf: torch.Tensor, correct: torch.Tensor, bins: int) -> tuple[float, list[list[float]]]:
    idx = (conf * bins).ceil().clamp(1, bins).long() - 1  # bin (k/B, (k+1)/B]
    ece, per_bin = 0.0, []
    for b in range(bins):
        sel = idx == b
        cnt = int(sel.sum())
        if cnt:
            c, a = float(conf[sel].mean()), float(correct[sel].mean())
            ece += cnt / conf.numel() * abs(a - c)
            per_bin.append([b, cnt, c, a])
    return ece, per_bin


def _train_eval(cfg: Config, seed: int) -> dict[str, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=cfg.test_size, random_state=seed, stratify=y
    )
    mu, sd = xtr.mean(0), xtr.std(0)
    sd[sd == 0] = 1.0
    xtr_t = torch.tensor((xtr - mu) / sd, dtype=torch.float32)
    xte_t = torch.tensor((xte - mu) / sd, dtype=torch.float32)
    ytr_t, yte_t = torch.tensor(ytr), torch.tensor(yte)
    out: dict[str, Any] = {}
    for name in MODELS:
        order = 0 if name == "softmax" else int(name[-1])

        def probs(z: torch.Tensor, order: int = order) -> torch.Tensor:
            return z.softmax(-1) if order == 0 else taylor_softmax(z, order)

        torch.manual_seed(seed)  # same initialisation for every loss
        net = torch.nn.Sequential(
            torch.nn.Linear(64, cfg.hidden), torch.nn.ReLU(), torch.nn.Linear(cfg.hidden, 10)
        )
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(cfg.steps):
            i = torch.randint(0, len(ytr_t), (cfg.batch_size,), generator=gen)
            z = net(xtr_t[i])
            loss = (
                F.cross_entropy(z, ytr_t[i])
                if order == 0
                else taylor_cross_entropy(z, ytr_t[i], order=order)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            p_tr, p_te = probs(net(xtr_t)).double(), probs(net(xte_t)).double()
        conf, pred = p_te.max(-1)
        correct = (pred == yte_t).double()
        ece, per_bin = _ece(conf, correct, cfg.bins)
        out[name] = {
            "train_acc": float((p_tr.argmax(-1) == ytr_t).double().mean()),
            "test_acc": float(correct.mean()),
            "mean_conf": float(conf.mean()),
            "ece": ece,
            "nll": float(-p_te.gather(1, yte_t[:, None]).clamp_min(1e-300).log().mean()),
            "bins": per_bin,
        }
    return out


def run(config: Config, seed: int) -> dict[str, Any]:
    """Recompute the minima table and train the three classifiers over ``config.n_seeds`` seeds."""
    torch.set_num_threads(1)
    minima = _minima(config)
    per_seed = [_train_eval(config, seed + s) for s in range(config.n_seeds)]
    keys = ("train_acc", "test_acc", "mean_conf", "ece", "nll")
    mean = {m: {k: sum(r[m][k] for r in per_seed) / len(per_seed) for k in keys} for m in MODELS}
    pooled: dict[str, list[list[float]]] = {}
    for m in MODELS:  # reliability diagram pooled over seeds: [bin, count, conf, acc]
        acc: dict[int, list[float]] = {}
        for r in per_seed:
            for b, cnt, c, a in r[m]["bins"]:
                s = acc.setdefault(int(b), [0.0, 0.0, 0.0])
                s[0], s[1], s[2] = s[0] + cnt, s[1] + cnt * c, s[2] + cnt * a
        pooled[m] = [[b, v[0], v[1] / v[0], v[2] / v[0]] for b, v in sorted(acc.items())]
    rows: list[list[Any]] = []
    for r in minima["rows"]:
        if r["n"] % 2 == 0:
            art = "—" if r["article_x"] is None else f"{r['article_x']}, {r['article_f']}"
            rows.append([f"n={r['n']}: x_n*, f_n(x_n*)", f"{r['x_star']:.7f}, {r['f_star']:.8f}",
                         art, f"grid min {r['grid_min']:.8f}"])  # fmt: skip
    odd_min = max(r["grid_min"] for r in minima["rows"] if r["n"] % 2)
    rows.append(["odd n=3…11: min f_n on [-50, 50]", f"<= {odd_min:.3g}", "< 0", ""])
    claims = {
        "test_acc": "comparable",
        "mean_conf": "Taylor lower",
        "ece": "Taylor lower (spec)",
        "nll": "Taylor lower (spec)",
        "train_acc": "~100 %",
    }
    for k, art in claims.items():
        ours = " / ".join(f"{mean[m][k]:.4f}" for m in MODELS)
        lo_hi = " / ".join(
            f"{min(r[m][k] for r in per_seed):.3f}–{max(r[m][k] for r in per_seed):.3f}"
            for m in MODELS
        )
        rows.append([f"{k}: softmax / taylor2 / taylor4", ours, art, f"seed range {lo_hi}"])
    table = {"columns": ["quantity", "ours", "article / spec", "cross-check"], "rows": rows}
    return jsonable(
        {
            "minima": minima["rows"],
            "per_seed": [{m: {k: r[m][k] for k in keys} for m in MODELS} for r in per_seed],
            "mean": mean,
            "reliability": pooled,
            "table": table,
        }
    )


def check(metrics: dict[str, Any], config: Config) -> list[Check]:
    """Gate the minima table and the claims of comparable accuracy and lower confidence."""
    even = [r for r in metrics["minima"] if r["n"] % 2 == 0]
    odd = [r for r in metrics["minima"] if r["n"] % 2 == 1]
    art = [r for r in even if r["article_x"] is not None]
    mean = metrics["mean"]
    spacing = 2 * config.grid_radius / (config.grid_points - 1)
    checks = [
        at_most("max |x_n* - article| over n=2..10",
                max(abs(r["x_star"] - r["article_x"]) for r in art), 1e-5,
                article="x* = -1, -1.59607, -2.18061, -2.759, -3.33355"),
        at_most("max |f_n(x_n*) - article| over n=2..10",
                max(abs(r["f_star"] - r["article_f"]) for r in art), 1e-6,
                article="f* = 0.5, 0.270395, 0.149325, 0.0832715, 0.0466991"),
        at_least("min over even n<=12 of f_n on the [-50, 50] grid",
                 min(r["grid_min"] for r in even), 1e-3, article="> 0 for every even n"),
        at_least("min over even n of f_n at all real roots of f_{n-1}",
                 min(r["min_at_critical"] for r in even), 1e-3, article="> 0 (= x^n/n!)"),
        at_least("min over even n of grid min - f_n(x_n*) (nothing below the computed minimum)",
                 min(r["grid_min"] - r["f_star"] for r in even), -1e-12),
        at_most("max over even n of grid min - f_n(x_n*) (grid spacing h: <= h^2)",
                max(r["grid_min"] - r["f_star"] for r in even), spacing**2),
        at_most("max over odd n of min f_n on the grid", max(r["grid_min"] for r in odd), -1.0,
                article="odd n: f_n -> -inf, so negative values exist"),
        at_least("min train accuracy over models (trained to ~100 %)",
                 min(mean[m]["train_acc"] for m in MODELS), 0.99),
    ]  # fmt: skip
    for m in MODELS[1:]:
        gap = 100 * abs(mean[m]["test_acc"] - mean["softmax"]["test_acc"])
        checks.append(
            at_most(f"|test acc {m} - softmax| (points, mean over seeds)", gap, 1.5,
                    article="comparable accuracy (paper: Taylor ≥ softmax)")
        )  # fmt: skip
        checks.append(
            at_most(f"mean max-prob {m} - softmax (test)",
                    mean[m]["mean_conf"] - mean["softmax"]["mean_conf"], 0.0,
                    article="polynomial growth → less over-confident")
        )  # fmt: skip
    return checks


def plot(metrics: dict[str, Any], path: Path) -> None:
    """f_n curves with their minima, and a reliability diagram of the three classifiers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.4))
    xs = torch.linspace(-6, 2.5, 600, dtype=torch.float64)
    for r in metrics["minima"]:
        n = r["n"]
        if n % 2 == 0:
            (line,) = ax1.plot(xs, taylor_exp(xs, n), label=f"n={n}")
            ax1.plot([r["x_star"]], [r["f_star"]], "o", color=line.get_color())
        elif n in (3, 5):
            ax1.plot(xs, taylor_exp(xs, n), "--", color="grey", lw=0.8)
    ax1.plot(xs, xs.exp(), "k:", label="exp")
    ax1.axhline(0, color="k", lw=0.5)
    ax1.set(ylim=(-0.6, 3), xlabel="x", ylabel="f_n(x)",
            title="f_n(x) (dots: minima x_n*; dashed: odd n=3, 5)")  # fmt: skip
    ax1.legend(fontsize=7, ncol=2)
    ax2.plot([0, 1], [0, 1], "k:", lw=0.8)
    for m, pts in metrics["reliability"].items():
        ax2.plot([p[2] for p in pts], [p[3] for p in pts], "o-", ms=3, label=m)
    ax2.set(xlabel="confidence (bin mean)", ylabel="accuracy", title="reliability (test, pooled)")
    ax2.legend(fontsize=8)
    mean = metrics["mean"]
    names, keys = list(mean), ("mean_conf", "test_acc", "ece", "nll")
    width = 0.8 / len(names)
    for i, m in enumerate(names):
        ax3.bar([k + i * width for k in range(len(keys))], [mean[m][k] for k in keys], width,
                label=m)  # fmt: skip
    ax3.set_xticks(
        [k + 0.4 - width / 2 for k in range(len(keys))], ["max-prob", "acc", "ECE", "NLL"]
    )
    ax3.set(title="digits test set, mean over seeds")
    ax3.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(metrics: dict[str, Any]) -> str:
    """Headline: the n=4 minimum, then accuracy / confidence / ECE of the three classifiers."""
    r4 = next(r for r in metrics["minima"] if r["n"] == 4)
    parts = [
        f"{m}: acc {100 * v['test_acc']:.1f}%, max-prob {v['mean_conf']:.3f}, ECE {v['ece']:.3f}"
        for m, v in metrics["mean"].items()
    ]
    return f"x_4*={r4['x_star']:.5f}, f_4*={r4['f_star']:.6f}; " + "; ".join(parts)


EXPERIMENT = Experiment(
    id="A6",
    title="Minima of even-order Taylor polynomials of exp; Taylor vs softmax cross-entropy on digits",
    quick=QUICK,
    full=FULL,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data="scikit-learn load_digits (1,797 8×8 images, 10 classes), stratified 70/30 split per seed",
    notes=(
        "The minima are computed (bracketed Newton on f_{n-1}), not tabulated, and cross-checked on "
        "a dense grid and at numpy's roots of f_{n-1}; n=12 extends the article's table. The paper's "
        "own experiments (Banerjee et al.) are not reproduced; instead the spec's calibration check "
        "on digits. Gated: accuracy within 1.5 points and lower mean max-probability (the article's "
        "'less over-confident'). Not gated, reported: ECE and NLL. On digits softmax-CE is already "
        "well calibrated (ECE ≈ 0.015), and Taylor-CE is *under*-confident, so its ECE is higher "
        "(n=2 ≈ 0.08, n=4 ≈ 0.025); NLL is lower for n=4 but not for n=2. So 'lower confidence' "
        "holds, 'better calibrated' does not on this data. Predictions are the argmax of the "
        "Taylor probabilities (Taylor softmax is not monotone in the logits)."
    ),
)
