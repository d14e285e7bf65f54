"""E1 benchmark: closed-form softmax regression vs scikit-learn LogisticRegression(lbfgs) fit time.

Same training rows for both, single-threaded (torch and BLAS), accuracy on 20,000 held-out rows.
Synthetic data: ``make_classification`` (50 features, 30 informative, 10 classes, each class a
Gaussian cluster with its own covariance, so the equal-covariance assumption does not hold) at
10^4, 10^5 and 10^6 training rows; plus Fashion-MNIST (60,000 x 784 raw pixels) when the Debian
package ``dataset-fashion-mnist`` is installed.

Run: ``python bench/bench_e1_analytic_classifier.py [--max-rows N]``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import median_time, write_result
from kexue.models.analytic_classifier import AnalyticLogisticRegression

TEST_ROWS = 20_000


def _compare(name: str, xtr: Any, ytr: Any, xte: Any, yte: Any, shrinkage: Any) -> list[Any]:
    repeat = 5 if len(xtr) <= 10_000 else 3 if len(xtr) <= 100_000 else 1
    ours = AnalyticLogisticRegression(shrinkage=shrinkage)
    ref = LogisticRegression(C=1.0, solver="lbfgs", max_iter=100)
    t_ours = median_time(lambda: ours.fit(xtr, ytr), repeat=repeat, warmup=1)
    t_ref = median_time(lambda: ref.fit(xtr, ytr), repeat=repeat, warmup=0 if repeat == 1 else 1)
    acc_ours, acc_ref = ours.score(xte, yte), ref.score(xte, yte)
    row = [
        name,
        len(xtr),
        xtr.shape[1],
        t_ours,
        t_ref,
        t_ref / t_ours,
        acc_ours,
        acc_ref,
        100 * (acc_ours - acc_ref),
        int(np.max(ref.n_iter_)),
    ]
    print(row, flush=True)
    return row


def _headline(rows: list[list[Any]]) -> str:
    syn = [r for r in rows if r[0] == "synthetic"]
    ratios = ", ".join(f"{r[5]:.0f}x at {r[1]:.0e} rows" for r in syn)
    text = (
        f"closed-form fit {ratios} faster than LogisticRegression(lbfgs), 1 thread; accuracy "
        f"ours - sklearn {min(r[8] for r in syn):+.2f} to {max(r[8] for r in syn):+.2f} points"
    )
    for r in rows:
        if r[0] == "fashion-mnist":
            text += f"; Fashion-MNIST 60k x 784: {r[5]:.1f}x faster, {r[8]:+.2f} points"
    return text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-rows", type=int, default=1_000_000)
    parser.add_argument("--no-fashion", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    sizes = [n for n in (10_000, 100_000, 1_000_000) if n <= args.max_rows]
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
            rows.append(_compare("synthetic", x[:n], y[:n], xte, yte, None))
        from kexue.data.fashion_mnist import available, load_fashion_mnist

        if not args.no_fashion and available():
            a, b = load_fashion_mnist("train")
            c, d = load_fashion_mnist("test")
            a, c = a.reshape(len(a), -1) / 255.0, c.reshape(len(c), -1) / 255.0
            rows.append(_compare("fashion-mnist", a, b, c, d, "auto"))
    headline = _headline(rows)
    write_result(
        "E1",
        "Analytic softmax regression vs sklearn LogisticRegression(lbfgs): fit time",
        [
            "data",
            "rows",
            "features",
            "ours s",
            "sklearn lbfgs s",
            "speed-up",
            "acc ours",
            "acc sklearn",
            "Δacc points",
            "lbfgs iters",
        ],
        rows,
        headline,
        "python bench/bench_e1_analytic_classifier.py",
    )


if __name__ == "__main__":
    main()
