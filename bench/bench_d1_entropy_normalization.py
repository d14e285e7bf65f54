"""D1 benchmark: batched safeguarded Newton vs a scipy ``brentq`` loop over rows (same inputs).

Run: ``.venv/bin/python -m bench.bench_d1_entropy_normalization``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize
import torch

from bench._common import median_time, write_result
from kexue.stats.entropy_normalization import solve_entropy_exponent


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


def main() -> None:
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for n_rows, n in [(5000, 10), (2000, 100), (1000, 1000)]:
        z = torch.randn(n_rows, n, generator=gen, dtype=torch.float64) * 3
        t = torch.rand(n_rows, generator=gen, dtype=torch.float64) * 0.9 * math.log(n) + 0.05
        zn, tn = z.numpy(), t.numpy()
        ours = median_time(lambda z=z, t=t: solve_entropy_exponent(z, t), repeat=5)
        ref = median_time(lambda zn=zn, tn=tn: brentq_rows(zn, tn), repeat=3)
        gap = float(
            np.max(
                np.abs(solve_entropy_exponent(z, t).exponent.numpy() - brentq_rows(zn, tn))
                / np.maximum(1.0, brentq_rows(zn, tn))
            )
        )
        rows.append([n_rows, n, ours * 1e3, ref * 1e3, ref / ours, gap])
    last = rows[1]
    write_result(
        "D1",
        "Entropy normalisation: batched safeguarded Newton vs scipy brentq per row (float64)",
        ["rows", "classes", "kexue ms", "brentq loop ms", "speed-up", "max rel. beta gap"],
        rows,
        f"{last[0]}x{last[1]}: kexue {last[2]:.0f} ms vs brentq loop {last[3]:.0f} ms "
        f"({last[4]:.1f}x); {rows[0][0]}x{rows[0][1]}: {rows[0][4]:.0f}x; {rows[2][0]}x{rows[2][1]}: "
        f"{rows[2][4]:.1f}x (memory-bound); beta agrees to {max(r[5] for r in rows):.1e}",
        ".venv/bin/python -m bench.bench_d1_entropy_normalization",
    )


if __name__ == "__main__":
    main()
