"""A6 benchmark: Taylor softmax as a drop-in for softmax — cost against torch.softmax and the anchor.

Run: ``.venv/bin/python -m bench.bench_a6_taylor_softmax`` (``KEXUE_BENCH_TINY=1``: tiny shapes and
rounds, nothing written — the test suite runs it so that it cannot rot).

Same float32 logits and upstream gradient for every variant; time is forward + backward
(``x.grad`` reset each call, as ``zero_grad(set_to_none=True)`` does), from alternating rounds.
Contenders:

- ``torch.softmax``: what Taylor softmax replaces (one fused kernel each way).
- the anchor: the formula of ``pytorch-loss``'s ``taylor_softmax_v1`` written inline (a Python
  loop accumulating ``x**k / k!`` with ``pow`` and factorials, then dividing by the row sum; it is
  not on PyPI), differentiated by autograd.
- the floor: ``x * 1.0`` forward + backward over the same tensors — one elementwise pass each way,
  the memory traffic below which no forward + backward over ``x`` can go on this machine.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable

import torch

from bench._common import alternating_times, machine, ratio, share_of_floor, write_result
from kexue.transformer.taylor_softmax import taylor_softmax

TINY = os.environ.get("KEXUE_BENCH_TINY") == "1"
SHAPES = ((64, 16), (8, 128)) if TINY else ((4096, 128), (1024, 1024), (256, 8192))
ORDERS = (2, 4)
ROUNDS, REPEAT = (2, 1) if TINY else (7, 5)


def anchor_taylor_softmax(x: torch.Tensor, order: int, dim: int = -1) -> torch.Tensor:
    """The anchor's formula: sum of powers over factorials, normalised by the row sum."""
    fn = torch.ones_like(x)
    for k in range(1, order + 1):
        fn = fn + x.pow(k) / math.factorial(k)
    return fn / fn.sum(dim=dim, keepdim=True)


def _fwd_bwd(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, grad: torch.Tensor
) -> Callable[[], None]:
    def step() -> None:
        x.grad = None
        fn(x).backward(grad)

    return step


def _ms(times: list[float]) -> float:
    return statistics.median(times) * 1e3


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for n_rows, n_cols in SHAPES:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(n_rows, n_cols, generator=gen).requires_grad_(True)
        grad = torch.randn(n_rows, n_cols, generator=gen)
        for order in ORDERS:
            times = alternating_times(
                {
                    "kexue": _fwd_bwd(lambda t, o=order: taylor_softmax(t, o), x, grad),
                    "softmax": _fwd_bwd(lambda t: torch.softmax(t, -1), x, grad),
                    "anchor": _fwd_bwd(lambda t, o=order: anchor_taylor_softmax(t, o), x, grad),
                    "floor": _fwd_bwd(lambda t: t * 1.0, x, grad),
                },
                rounds=ROUNDS,
                repeat=REPEAT,
            )
            ours = times["kexue"]
            vs_softmax = ratio(ours, times["softmax"])  # cost: kexue time / softmax time
            vs_anchor = ratio(times["anchor"], ours)  # speed-up over the plain formula
            floor = share_of_floor(times["floor"], ours)
            with torch.no_grad():
                err = float(
                    (taylor_softmax(x, order) - anchor_taylor_softmax(x, order)).abs().max()
                )
            rows.append(
                [
                    f"{n_rows}x{n_cols}",
                    order,
                    _ms(ours),
                    _ms(times["softmax"]),
                    _ms(times["anchor"]),
                    _ms(times["floor"]),
                    vs_softmax.median,
                    f"{vs_softmax.low:.2f}-{vs_softmax.high:.2f}",
                    vs_anchor.median,
                    f"{vs_anchor.low:.2f}-{vs_anchor.high:.2f}",
                    100 * floor.median,
                    err,
                ]
            )
    cost = [r[6] for r in rows]
    spread_lo = min(float(r[7].split("-")[0]) for r in rows)
    spread_hi = max(float(r[7].split("-")[1]) for r in rows)
    speed = [r[8] for r in rows]
    share = [r[10] for r in rows]
    headline = (
        f"kexue costs {min(cost):.2f}-{max(cost):.2f}x torch.softmax (median over "
        f"{ROUNDS} alternating rounds per shape; every round within {spread_lo:.2f}-"
        f"{spread_hi:.2f}x), is {min(speed):.2f}-{max(speed):.2f}x the plain formula's speed and "
        f"runs at {min(share):.0f}-{max(share):.0f}% of the elementwise floor (1 thread, "
        f"forward+backward, float32); outputs agree with the formula to "
        f"{max(r[11] for r in rows):.1e}"
    )
    columns = [
        "shape",
        "order",
        "kexue ms",
        "torch.softmax ms",
        "anchor ms",
        "floor ms",
        "kexue / softmax (time)",
        "kexue / softmax min-max",
        "anchor / kexue",
        "anchor / kexue min-max",
        "% of floor",
        "max |diff| vs anchor",
    ]
    if TINY:  # a smoke run: print, never overwrite the stored table
        print(machine())
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
        print(headline)
        return
    write_result(
        "A6",
        "Taylor softmax (fwd+bwd, float32) vs torch.softmax, the pytorch-loss formula and the "
        "elementwise floor",
        columns,
        rows,
        headline,
        "python -m bench.bench_a6_taylor_softmax",
    )


if __name__ == "__main__":
    main()
