"""D1 benchmark: batched safeguarded Newton vs a scipy ``brentq`` loop over rows, and the floor.

Run: ``.venv/bin/python -m bench.bench_d1_entropy_normalization``; ``KEXUE_BENCH_TINY=1`` (or
``--tiny``) runs every row at a tiny size in seconds and writes nothing (the test suite uses it).

Same float64 logits and targets for both, one thread, alternating rounds
(``bench._common.alternating_times``), timed in this process's CPU time (``time.process_time``): on
a shared machine the wall time of a call of a few hundred ms absorbs the slices other processes
get, which a pass of 2 ms mostly escapes, so wall-time floors of short passes read too fast.
Floors, measured in the same rounds: every entropy evaluation must exponentiate its row once, so
the solve cannot beat *evaluations per row x one pass over the (rows, classes) tensor*. Two such
passes are timed: ``torch.mul(z, 1.0, out=buf)`` (one read + one write at the machine's bandwidth:
the **memory bound**) and ``torch.exp(z, out=buf)`` (the same traffic plus the exponential: the
**exp floor**). On the 100k-row shape the brentq loop is timed on its first 1000 rows and scaled by
the row count (a per-row loop is linear in rows; the full loop would take about a minute per call).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import scipy.optimize
import torch

from bench._common import alternating_times, machine, ratio, share_of_floor, write_result
from kexue.stats.entropy_normalization import solve_entropy_exponent

TINY = os.environ.get("KEXUE_BENCH_TINY") == "1" or "--tiny" in sys.argv[1:]
SHAPES = (
    ((500, 10), (100, 100), (20, 1000), (200, 1000))
    if TINY
    else ((5000, 10), (2000, 100), (1000, 1000), (100_000, 1000))
)
ROUNDS, REPEAT = (2, 1) if TINY else (5, 1)
ANCHOR_ROWS = 50 if TINY else 1000  # the brentq loop runs on at most this many rows, then scales


def brentq_rows(z: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The anchor: scipy.optimize.brentq on beta -> H(softmax(beta z)) - H*, one row at a time."""
    out = np.empty(len(z))
    for i, (row, t) in enumerate(zip(z, target, strict=True)):
        zc = row - row.max()

        def h(beta: float, zc: np.ndarray = zc, t: float = t) -> float:
            u = beta * zc
            e = np.exp(u)
            s = e.sum()
            return float(np.log(s) - (e * u).sum() / s) - t

        hi = 1.0
        while h(hi) > 0:
            hi *= 2
        out[i] = scipy.optimize.brentq(h, 0.0, hi, xtol=1e-12, rtol=1e-12)
    return out


def _pct(r: Any) -> str:
    return f"{r.median:.0%} ({r.low:.0%}-{r.high:.0%})"


def main() -> None:
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    rows: list[list[Any]] = []
    for n_rows, n in SHAPES:
        z = torch.randn(n_rows, n, generator=gen, dtype=torch.float64) * 3
        t = torch.rand(n_rows, generator=gen, dtype=torch.float64) * 0.9 * math.log(n) + 0.05
        k = min(n_rows, ANCHOR_ROWS)
        zn, tn = z[:k].numpy(), t[:k].numpy()
        buf = torch.empty_like(z)
        res = solve_entropy_exponent(z, t)
        evals = float(res.iterations.double().mean())
        fns: dict[str, Callable[[], Any]] = {
            "kexue": partial(solve_entropy_exponent, z, t),
            "brentq": partial(brentq_rows, zn, tn),
            "exp pass": partial(torch.exp, z, out=buf),
            "memory pass": partial(torch.mul, z, 1.0, out=buf),
        }
        times = alternating_times(fns, rounds=ROUNDS, repeat=REPEAT, clock=time.process_time)
        brentq = [s * n_rows / k for s in times["brentq"]]  # per-row loop: linear in rows
        ours = times["kexue"]
        exp_floor = [evals * s for s in times["exp pass"]]
        mem_bound = [evals * s for s in times["memory pass"]]
        speed = ratio(brentq, ours)
        ref = brentq_rows(zn, tn)
        gap = float(np.max(np.abs(res.exponent[:k].numpy() - ref) / np.maximum(1.0, ref)))
        mem_s = statistics.median(times["memory pass"])
        rows.append(
            [
                n_rows,
                n,
                statistics.median(ours) * 1e3,
                statistics.median(brentq) * 1e3,
                str(speed),
                evals,
                statistics.median(times["exp pass"]) * 1e3,
                mem_s * 1e3,
                2 * z.numel() * z.element_size() / mem_s / 1e9,
                _pct(share_of_floor(exp_floor, ours)),
                _pct(share_of_floor(mem_bound, ours)),
                gap,
            ]
        )
    big = {(r[0], r[1]): r for r in rows}
    parts = [
        f"{r[0]}x{r[1]}: {r[4]} brentq, {r[10].split()[0]} of the memory bound, "
        f"{r[9].split()[0]} of the exp floor"
        for key, r in big.items()
        if key[1] == 1000
    ]
    headline = (
        f"median (min-max) over {ROUNDS} alternating rounds (CPU time), brentq loop time / kexue "
        "time: "
        + "; ".join(parts)
        + f"; 5000x10: {rows[0][4]}, 2000x100: {rows[1][4]} (float64, 1 thread); beta agrees with "
        f"brentq to {max(r[11] for r in rows):.1e}"
    )
    columns = [
        "rows",
        "classes",
        "kexue ms (CPU)",
        "brentq loop ms (CPU)",
        "brentq / kexue median (min-max)",
        "evaluations per row",
        "exp pass ms",
        "memory pass ms",
        "memory pass GB/s",
        "% of exp floor",
        "% of memory bound",
        "max rel. beta gap",
    ]
    if TINY:  # a smoke run: print, never overwrite the stored table
        print(machine())
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
        print(headline)
        return
    write_result(
        "D1",
        "Entropy normalisation: batched safeguarded Newton vs scipy brentq per row, and the "
        "memory bound (float64)",
        columns,
        rows,
        headline,
        ".venv/bin/python -m bench.bench_d1_entropy_normalization",
    )


if __name__ == "__main__":
    main()
