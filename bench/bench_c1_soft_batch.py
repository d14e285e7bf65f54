"""C1 benchmark: per-update overhead of the optimiser wrappers vs the bare torch optimiser.

Run: ``.venv/bin/python -m bench.bench_c1_soft_batch``; ``KEXUE_BENCH_TINY=1`` (or ``--tiny``) runs a
tiny model in seconds and writes nothing (the test suite uses it).

A ~10M-parameter MLP (three 1,800 × 1,800 linear layers) with fixed random gradients; each variant
times one *update*: ``AdamW.step(); zero_grad()`` bare, and through ``GradientAccumulation``
(k = 1: the finiteness check, or none with ``nonfinite='off'``; k = 4: also the division of the
summed gradients by k, the k − 1 counting calls included), ``Lookahead`` (k = 5, α = 0.5: the sync amortised over 5 steps) and both composed.
Each update first restores the same gradients (what backward would leave), in every variant.
Alternating rounds timed in thread CPU time (:func:`cpu_times`: the box is shared); overhead = time / bare − 1, median over
rounds with its min-max spread; the floor is the bare update (a wrapper cannot beat it).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bench._common import machine, ratio, write_result
from kexue.optim import GradientAccumulation, Lookahead

TINY = os.environ.get("KEXUE_BENCH_TINY") == "1" or "--tiny" in sys.argv[1:]
WIDTH = 64 if TINY else 1800
ROUNDS, REPEAT = (2, 1) if TINY else (7, 5)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(*[nn.Linear(WIDTH, WIDTH) for _ in range(3)])


def _variant(make: Callable[[Any], torch.optim.Optimizer], calls: int) -> Callable[[], None]:
    model = _model()
    params = list(model.parameters())
    grads = [torch.randn_like(p) * 1e-3 for p in params]
    opt = make(torch.optim.AdamW(params, lr=1e-4, foreach=True))

    def update() -> None:
        for p, g in zip(params, grads, strict=True):  # what backward would leave (every variant)
            p.grad = g.clone()
        for _ in range(calls):  # k − 1 counting micro-steps, then the update
            opt.step()
        opt.zero_grad()

    return update


def cpu_times(
    fns: dict[str, Callable[[], None]], *, rounds: int, repeat: int
) -> dict[str, list[float]]:
    """Per-round median *thread CPU* times (s), rounds interleaved (a, b, a, b, ...).

    ``bench._common.alternating_times`` with ``time.thread_time`` instead of wall time: on a
    shared machine a single-threaded step's CPU time does not count the time other processes
    hold the core, which wall time does.
    """
    for fn in fns.values():
        fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            ts = []
            for _ in range(repeat):
                start = time.thread_time()
                fn()
                ts.append(time.thread_time() - start)
            out[name].append(statistics.median(ts))
    return out


def main() -> None:
    torch.set_num_threads(1)
    n = sum(p.numel() for p in _model().parameters())
    fns = {
        "bare AdamW": _variant(lambda o: o, 1),
        "GradientAccumulation k=1": _variant(lambda o: GradientAccumulation(o, 1), 1),
        "GradientAccumulation k=1, nonfinite='off'": _variant(
            lambda o: GradientAccumulation(o, 1, nonfinite="off"), 1
        ),
        "GradientAccumulation k=4": _variant(lambda o: GradientAccumulation(o, 4), 4),
        "Lookahead k=5": _variant(lambda o: Lookahead(o, 5), 1),
        "GradientAccumulation(Lookahead) k=4": _variant(
            lambda o: GradientAccumulation(Lookahead(o, 5), 4), 4
        ),
    }
    times = cpu_times(fns, rounds=ROUNDS, repeat=REPEAT)
    bare = times["bare AdamW"]
    rows: list[list[Any]] = []
    for name, ts in times.items():
        r = ratio(ts, bare)
        rows.append([name, 1e3 * sorted(ts)[len(ts) // 2], f"{100 * (r.median - 1):+.1f} %",
                     f"{100 * (r.low - 1):+.1f}..{100 * (r.high - 1):+.1f} %",
                     f"{100 / r.median:.0f} %"])  # fmt: skip
    worst = max(float(r[2].split()[0]) for r in rows[1:])
    headline = (f"{n / 1e6:.1f}M parameters, AdamW: wrapper overhead per update at most "
                f"{worst:+.1f} % (target <= 5 %); floor = the bare AdamW update, "
                "% of floor = its time / the variant's, spreads min-max over rounds")  # fmt: skip
    if TINY:
        print(machine(), *rows, headline, sep="\n")
        return
    write_result("C1", "Optimiser-wrapper overhead per update (AdamW, 10M parameters)",
                 ["variant", "CPU ms per update", "overhead (median)", "spread (min-max)",
                  "% of floor"], rows, headline,
                 "python -m bench.bench_c1_soft_batch")  # fmt: skip


if __name__ == "__main__":
    main()
