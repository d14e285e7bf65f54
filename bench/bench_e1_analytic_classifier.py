"""E1 benchmark: closed-form softmax regression vs scikit-learn LogisticRegression(lbfgs) fit time.

Same training rows for both, single-threaded (torch and BLAS), accuracy on 20,000 held-out rows.
Synthetic data: ``make_classification`` (50 features, 30 informative, 10 classes, each class a
Gaussian cluster with its own covariance, so the equal-covariance assumption does not hold) at
10^4, 10^5 and 10^6 training rows; plus Fashion-MNIST (60,000 x 784 raw pixels) when the Debian
package ``dataset-fashion-mnist`` is installed.

Fit times come from alternating rounds (``bench._common.alternating_times``: ours, sklearn, floor,
ours, ...), timed in this process's CPU time (``time.process_time``: on a shared machine wall time
of a long call absorbs other processes' slices that a short floor pass mostly escapes), each ratio
the median over the rounds with its min-max spread. The floor, timed in the same rounds, is the
fit's three matrix products at their shapes with the operands ready (float64, as the fit): class
sums ``Y^T X`` (K, N) x (N, d), class means back to the rows ``Y M`` (N, K) x (K, d) and the pooled
Gram matrix ``R^T R`` (d, N) x (N, d) — the machine's matmul rate on the work no closed-form fit
can skip; validation, the Cholesky solve and the conversion from numpy come on top.

Run: ``python bench/bench_e1_analytic_classifier.py [--max-rows N] [--rounds R]``;
``KEXUE_BENCH_TINY=1`` (or ``--tiny``) runs tiny sizes in seconds and writes nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import alternating_times, machine, ratio, share_of_floor, write_result
from kexue.models.analytic_classifier import AnalyticLogisticRegression

TINY = os.environ.get("KEXUE_BENCH_TINY") == "1" or "--tiny" in sys.argv[1:]
TEST_ROWS = 2_000 if TINY else 20_000
SIZES = (2_000, 10_000) if TINY else (10_000, 100_000, 1_000_000)


def _floor(n: int, d: int, k: int) -> Callable[[], None]:
    """The fit's three products at their shapes, operands ready (float64)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.zeros(n, k, dtype=torch.float64)
    y[torch.arange(n), torch.randint(k, (n,), generator=g)] = 1.0
    means = torch.randn(k, d, generator=g, dtype=torch.float64)

    def run() -> None:
        y.mT @ x
        y @ means
        x.mT @ x

    return run


def _compare(
    name: str, xtr: Any, ytr: Any, xte: Any, yte: Any, shrinkage: Any, rounds: int
) -> list[Any]:
    ours = AnalyticLogisticRegression(shrinkage=shrinkage)
    ref = LogisticRegression(C=1.0, solver="lbfgs", max_iter=100)
    n, d = xtr.shape
    k = len(np.unique(ytr))
    ours.fit(xtr, ytr)  # warm-up of ours only: lazy initialisation is not fit time
    t = alternating_times(
        {
            "ours": lambda: ours.fit(xtr, ytr),
            "sklearn": lambda: ref.fit(xtr, ytr),
            "floor": _floor(n, d, k),
        },
        rounds=rounds,
        repeat=1,
        warmup=0,
        clock=time.process_time,
    )
    speed = ratio(t["sklearn"], t["ours"])
    share = share_of_floor(t["floor"], t["ours"])
    floor_s = statistics.median(t["floor"])
    acc_ours, acc_ref = ours.score(xte, yte), ref.score(xte, yte)
    row = [
        name,
        n,
        d,
        statistics.median(t["ours"]),
        statistics.median(t["sklearn"]),
        str(speed),
        floor_s * 1e3,
        2 * n * (2 * k * d + d * d) / floor_s / 1e9,
        f"{share.median:.0%} ({share.low:.0%}-{share.high:.0%})",
        acc_ours,
        acc_ref,
        100 * (acc_ours - acc_ref),
        int(np.max(ref.n_iter_)),
    ]
    print(row, flush=True)
    return row


def _headline(rows: list[list[Any]], rounds: int) -> str:
    syn = [r for r in rows if r[0] == "synthetic"]
    ratios = ", ".join(f"{r[5]} at {r[1]:.0e} rows" for r in syn)
    shares = ", ".join(r[8].split()[0] for r in syn)
    text = (
        f"sklearn LogisticRegression(lbfgs) fit time / closed-form fit time, median (min-max) "
        f"over {rounds} alternating rounds (CPU time): {ratios} (1 thread); ours at {shares} "
        "of the matmul "
        f"floor; accuracy ours - sklearn {min(r[11] for r in syn):+.2f} to "
        f"{max(r[11] for r in syn):+.2f} points"
    )
    for r in rows:
        if r[0] == "fashion-mnist":
            text += (
                f"; Fashion-MNIST 60k x 784: {r[5]}, {r[8].split()[0]} of the floor, "
                f"{r[11]:+.2f} points"
            )
    return text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-rows", type=int, default=1_000_000)
    parser.add_argument("--no-fashion", action="store_true")
    parser.add_argument("--rounds", type=int, default=2 if TINY else 5)
    parser.add_argument("--tiny", action="store_true", help="same as KEXUE_BENCH_TINY=1")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    sizes = [n for n in SIZES if n <= args.max_rows]
    x, y = make_classification(
        n_samples=max(sizes) + TEST_ROWS,
        n_features=50,
        n_informative=30,
        n_redundant=0,
        n_classes=10,
        n_clusters_per_class=1,
        random_state=0,
    )
    xte, yte = x[-TEST_ROWS:], y[-TEST_ROWS:]
    rows = []
    with threadpool_limits(limits=1):
        for n in sizes:
            rows.append(_compare("synthetic", x[:n], y[:n], xte, yte, None, args.rounds))
        from kexue.data.fashion_mnist import available, load_fashion_mnist

        if not (args.no_fashion or TINY) and available():
            a, b = load_fashion_mnist("train")
            c, d = load_fashion_mnist("test")
            a, c = a.reshape(len(a), -1) / 255.0, c.reshape(len(c), -1) / 255.0
            rows.append(_compare("fashion-mnist", a, b, c, d, "auto", args.rounds))
    headline = _headline(rows, args.rounds)
    columns = [
        "data",
        "rows",
        "features",
        "ours s",
        "sklearn lbfgs s",
        "sklearn / ours median (min-max)",
        "floor ms",
        "floor GFLOP/s",
        "% of floor",
        "acc ours",
        "acc sklearn",
        "Δacc points",
        "lbfgs iters",
    ]
    if TINY:  # a smoke run: print, never overwrite the stored table
        print(machine())
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
        print(headline)
        return
    write_result(
        "E1",
        "Analytic softmax regression vs sklearn LogisticRegression(lbfgs): fit time, with the "
        "matmul floor",
        columns,
        rows,
        headline,
        "python bench/bench_e1_analytic_classifier.py",
    )


if __name__ == "__main__":
    main()
