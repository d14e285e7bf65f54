"""D2 benchmark: batched Gaussian W2 / KL / Bhattacharyya against the LAPACK floor, scipy and POT.

For d = 16 and 64, float64 and float32, one thread everywhere (torch and the BLAS behind numpy):

* floor, measured in the same run: one batched ``torch.linalg.cholesky`` plus one batched
  ``torch.linalg.eigvalsh`` of the same batch and size — the least LAPACK work W2 needs (a
  factor of one covariance and the eigenvalues of a d x d symmetric matrix per pair);
* ours: ``wasserstein2_gaussian`` (default ``method="auto"``: eigvalsh on CPU), KL,
  Bhattacharyya, the three at once by ``gaussian_distances`` (one Cholesky per covariance) against
  three separate calls, and ``pairwise_gaussian_distances`` on two sets of sqrt(pairs) Gaussians;
* anchors: the scipy loop of pytorch-fid (``sqrtm(C_p @ C_q)`` per pair) and POT's batched
  ``bures_wasserstein_distance`` (a numpy einsum, O(d^4) per pair), timed on fewer pairs and
  scaled per pair.

Every contender runs in alternating rounds (``bench._common.alternating_times``); each ratio is
the median over rounds with its min-max spread. "% of floor" is floor time / our time (100 %: at
the floor; the target is W2 within 1.3x, i.e. >= 77 %).

Run: ``.venv/bin/python -m bench.bench_d2_gaussian``; ``KEXUE_BENCH_TINY=1`` (or ``--tiny``) runs
every row at a tiny size in seconds and writes nothing (the test suite uses it so the script
cannot rot).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/torch load their BLAS
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import math
import statistics
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import ot
import scipy.linalg
import torch
from threadpoolctl import threadpool_limits

from bench._common import Ratio, alternating_times, ratio, share_of_floor, write_result
from kexue.geometry.gaussian import (
    bhattacharyya_distance_gaussian,
    kl_divergence_gaussian,
    wasserstein2_gaussian,
)
from kexue.geometry.gaussian_pairwise import gaussian_distances, pairwise_gaussian_distances

TINY = os.environ.get("KEXUE_BENCH_TINY") == "1" or "--tiny" in sys.argv[1:]
ROUNDS = 2 if TINY else 7
# d -> (pairs, scipy loop pairs, POT pairs, repeats per round)
SIZES = (
    {16: (64, 8, 8, 1), 64: (16, 4, 2, 1)}
    if TINY
    else {16: (4096, 256, 256, 3), 64: (512, 32, 8, 2)}
)
DTYPES = (torch.float64, torch.float32)


def make_pairs(n: int, d: int, dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(2, n, d, d, generator=g, dtype=torch.float64)
    covs = a @ a.mT / d + 0.1 * torch.eye(d, dtype=torch.float64)
    means = torch.randn(2, n, d, generator=g, dtype=torch.float64)
    return tuple(t.to(dtype) for t in (means[0], covs[0], means[1], covs[1]))


def scipy_w2_loop(mp: np.ndarray, cp: np.ndarray, mq: np.ndarray, cq: np.ndarray) -> np.ndarray:
    """Squared W2 per pair, the pytorch-fid recipe: ``sqrtm(C_p C_q)``."""
    out = np.empty(len(mp))
    for i in range(len(mp)):
        covmean = scipy.linalg.sqrtm(cp[i] @ cq[i]).real
        diff = mp[i] - mq[i]
        out[i] = diff @ diff + np.trace(cp[i]) + np.trace(cq[i]) - 2 * np.trace(covmean)
    return out


def _us(times: list[float], pairs: int) -> float:
    return statistics.median(times) / pairs * 1e6


def _pct(r: Ratio) -> str:
    return f"{r.median:.0%} ({r.low:.0%}-{r.high:.0%})"


def bench_row(d: int, dtype: torch.dtype) -> tuple[list[Any], dict[str, Ratio]]:
    pairs, loop_pairs, pot_pairs, repeat = SIZES[d]
    mp, cp, mq, cq = make_pairs(pairs, d, dtype)
    npy = [t.numpy() for t in (mp, cp, mq, cq)]
    loop_args = [a[:loop_pairs] for a in npy]
    pot_args = [a[:pot_pairs] for a in npy]
    side = math.isqrt(pairs)  # pairwise: side x side pairs from two sets of `side` Gaussians
    sets = [t[:side] for t in (mp, cp, mq, cq)]

    fns: dict[str, Callable[[], Any]] = {
        "floor": lambda: (torch.linalg.cholesky(cp), torch.linalg.eigvalsh(cq)),
        "w2": lambda: wasserstein2_gaussian(mp, cp, mq, cq, squared=True),
        "kl": lambda: kl_divergence_gaussian(mp, cp, mq, cq),
        "bd": lambda: bhattacharyya_distance_gaussian(mp, cp, mq, cq),
        "all three": lambda: gaussian_distances(mp, cp, mq, cq, squared=True),
        "pairwise": lambda: pairwise_gaussian_distances(*sets, squared=True),
        "scipy": lambda: scipy_w2_loop(*loop_args),
        "pot": lambda: ot.gaussian.bures_wasserstein_distance(
            pot_args[0], pot_args[2], pot_args[1], pot_args[3], paired=True
        ),
    }
    t = alternating_times(fns, rounds=ROUNDS, repeat=repeat)
    per_pair = {"scipy": loop_pairs, "pot": pot_pairs, "pairwise": side * side}
    t = {k: [x / per_pair.get(k, pairs) for x in v] for k, v in t.items()}  # s per pair
    separate = [a + b + c for a, b, c in zip(t["w2"], t["kl"], t["bd"], strict=True)]

    w2 = wasserstein2_gaussian(mp, cp, mq, cq, squared=True).double().numpy()
    ref = scipy_w2_loop(*(a.astype(np.float64) for a in loop_args))
    err = float(np.max(np.abs(w2[:loop_pairs] - ref) / np.abs(ref)))
    r = {
        "w2/floor": ratio(t["w2"], t["floor"]),
        "kl/floor": ratio(t["kl"], t["floor"]),
        "bd/floor": ratio(t["bd"], t["floor"]),
        "scipy": ratio(t["scipy"], t["w2"]),
        "pot": ratio(t["pot"], t["w2"]),
        "shared": ratio(separate, t["all three"]),
    }
    row = [
        d,
        str(dtype).removeprefix("torch."),
        pairs,
        _us(t["floor"], 1),
        _us(t["w2"], 1),
        str(r["w2/floor"]),
        _pct(share_of_floor(t["floor"], t["w2"])),
        str(r["scipy"]),
        str(r["pot"]),
        _us(t["kl"], 1),
        str(r["kl/floor"]),
        _us(t["bd"], 1),
        str(r["bd/floor"]),
        _us(t["all three"], 1),
        str(r["shared"]),
        _us(t["pairwise"], 1),
        f"{err:.1e}",
    ]
    return row, r


def main() -> None:
    torch.set_num_threads(1)
    with threadpool_limits(1):
        results = [bench_row(d, dtype) for d in SIZES for dtype in DTYPES]
    rows = [row for row, _ in results]
    columns = [
        "d",
        "dtype",
        "pairs",
        "floor µs/pair (cholesky + eigvalsh)",
        "ours W2 µs/pair",
        "W2 / floor median (min-max)",
        "W2 % of floor",
        "scipy sqrtm loop / ours W2",
        "POT / ours W2",
        "ours KL µs/pair",
        "KL / floor",
        "ours Bhattacharyya µs/pair",
        "Bhattacharyya / floor",
        "all three, gaussian_distances µs/pair",
        "three separate calls / gaussian_distances",
        "pairwise_gaussian_distances W2 µs/pair",
        "max rel. diff W2² vs scipy (float64)",
    ]
    parts = [
        f"d={row[0]} {row[1]}: W2 {r['w2/floor']} the floor, {r['scipy']} scipy loop, "
        f"{r['pot']} POT"
        for row, r in results
    ]
    headline = (
        f"W2 time / floor (batched cholesky + eigvalsh of the same batch), median (min-max) of "
        f"{ROUNDS} alternating rounds, 1 thread: "
        + "; ".join(parts)
        + " (target <= 1.3x the floor)"
    )
    if TINY:  # print only: tiny shapes say nothing about speed
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
        print(headline)
        return
    write_result(
        "D2",
        "Gaussian W2 / KL / Bhattacharyya: batched closed forms vs the LAPACK floor, scipy and POT",
        columns,
        rows,
        headline,
        ".venv/bin/python -m bench.bench_d2_gaussian",
    )


if __name__ == "__main__":
    main()
