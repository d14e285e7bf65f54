"""A6 benchmark: Taylor softmax as a drop-in for softmax — cost against torch.softmax and the anchor.

Run: ``.venv/bin/python -m bench.bench_a6_taylor_softmax``.

Same float32 logits for every variant; time is forward + backward (median). The anchor is the
formula of ``pytorch-loss``'s ``taylor_softmax_v1`` written inline (a Python loop accumulating
``x**k / k!`` with ``pow`` and factorials, then dividing by the row sum): it is not on PyPI.
``torch.softmax`` is what Taylor softmax replaces.
"""

from __future__ import annotations

import math

import torch

from bench._common import median_time, write_result
from kexue.transformer.taylor_softmax import taylor_softmax


def anchor_taylor_softmax(x: torch.Tensor, order: int, dim: int = -1) -> torch.Tensor:
    """The anchor's formula: sum of powers over factorials, normalised by the row sum."""
    fn = torch.ones_like(x)
    for k in range(1, order + 1):
        fn = fn + x.pow(k) / math.factorial(k)
    return fn / fn.sum(dim=dim, keepdim=True)


def _fwd_bwd(fn: object, x: torch.Tensor) -> None:
    y = fn(x)  # type: ignore[operator]
    y.backward(torch.ones_like(y))


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for n_rows, n_cols in ((4096, 128), (1024, 1024), (256, 8192)):
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(n_rows, n_cols, generator=gen).requires_grad_(True)
        for order in (2, 4):
            ours = median_time(lambda o=order, x=x: _fwd_bwd(lambda t: taylor_softmax(t, o), x))
            anchor = median_time(
                lambda o=order, x=x: _fwd_bwd(lambda t: anchor_taylor_softmax(t, o), x)
            )
            soft = median_time(lambda x=x: _fwd_bwd(lambda t: torch.softmax(t, -1), x))
            with torch.no_grad():
                err = float(
                    (taylor_softmax(x, order) - anchor_taylor_softmax(x, order)).abs().max()
                )
            rows.append(
                [
                    f"{n_rows}x{n_cols}",
                    order,
                    ours * 1e3,
                    anchor * 1e3,
                    soft * 1e3,
                    anchor / ours,
                    ours / soft,
                    err,
                ]
            )
    ratios = [r[5] for r in rows]
    cost = [r[6] for r in rows]
    write_result(
        "A6",
        "Taylor softmax (fwd+bwd, float32) vs the pytorch-loss formula and torch.softmax",
        [
            "shape",
            "order",
            "kexue ms",
            "anchor ms",
            "torch.softmax ms",
            "anchor / kexue",
            "kexue / softmax",
            "max |diff| vs anchor",
        ],
        rows,
        f"kexue is {min(ratios):.2f}-{max(ratios):.2f}x the anchor formula's speed and costs "
        f"{min(cost):.1f}-{max(cost):.1f}x torch.softmax (1 thread, forward+backward); "
        f"outputs agree to {max(r[7] for r in rows):.1e}",
        "python -m bench.bench_a6_taylor_softmax",
    )


if __name__ == "__main__":
    main()
