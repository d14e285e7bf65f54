"""B1 benchmark: sparse vs dense multi-label ZLPR loss for many classes, and against the anchors.

Run: ``.venv/bin/python -m bench.bench_b1_sparse_multilabel``; ``KEXUE_BENCH_TINY=1`` (or
``--tiny``) runs tiny sizes in seconds and writes nothing (the test suite uses it).

Same logits and positive ids for every variant; time is forward + backward, from alternating rounds
(``bench._common.alternating_times``), timed in this process's CPU time (``time.process_time``: on
a shared machine wall time of a long call absorbs other processes' slices that a short floor pass
mostly escapes), each ratio the median over the rounds with its min-max spread. The floor, timed in
the same rounds, is ``logits * 1.0`` forward + backward: one elementwise pass over the logits each
way (read them, write the gradient), the memory traffic below which no loss over every logit can go
on this machine. The dense variants include building the multi-hot target from the ids, which is
what the sparse form saves.
"Held MiB" is what a training step keeps alive between forward and backward beyond the logits:
the label tensor plus every tensor autograd saves (counted with ``saved_tensors_hooks``, one count
per storage), a CPU-measurable proxy for the training-memory saving the article describes.

Anchors, written inline from the formulas: the bert4torch-style dense loss (``(1-2y)*s`` with
``1e12`` masking and appended zero columns), the article's sparse form ``a + log(1 - e^{b-a})``
with the positive ids gathered and ``1 - e^{b-a}`` clipped to ``[1e-7, 1]``, and torch's
``MultiLabelSoftMarginLoss`` (per-class sigmoid BCE) as a cost reference.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from bench._common import alternating_times, machine, ratio, share_of_floor, write_result
from kexue.losses.multilabel import (
    multilabel_categorical_crossentropy,
    sparse_multilabel_categorical_crossentropy,
)


def dense_anchor(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """bert4torch-style dense ZLPR: sign flip, 1e12 masking, zero column, logsumexp."""
    s = (1 - 2 * y) * s
    s_neg = s - y * 1e12
    s_pos = s - (1 - y) * 1e12
    zeros = torch.zeros_like(s[..., :1])
    neg = torch.logsumexp(torch.cat([s_neg, zeros], -1), -1)
    pos = torch.logsumexp(torch.cat([s_pos, zeros], -1), -1)
    return (neg + pos).mean()


def sparse_anchor(s: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The article's sparse form (8888): a + log(clip(1 - e^{b-a})) for the negatives."""
    zeros = torch.zeros_like(s[..., :1])
    s_pos = s.gather(-1, ids)
    pos = torch.logsumexp(torch.cat([-s_pos, zeros], -1), -1)
    a = torch.logsumexp(torch.cat([s, zeros], -1), -1)
    b = torch.logsumexp(s_pos, -1)
    neg = a + torch.log(torch.clamp(1 - torch.exp(b - a), 1e-7, 1))
    return (neg + pos).mean()


TINY = os.environ.get("KEXUE_BENCH_TINY") == "1" or "--tiny" in sys.argv[1:]
CLASSES = (1000, 5000) if TINY else (10_000, 100_000, 1_000_000)
ROUNDS, REPEAT = (2, 1) if TINY else (5, 1)

_LABELS: list[torch.Tensor] = []


def multi_hot(ids: torch.Tensor, c: int) -> torch.Tensor:
    y = torch.zeros(ids.shape[0], c).scatter_(-1, ids, 1.0)
    _LABELS.append(y)
    return y


def held_bytes(fn: Callable[[], torch.Tensor], logits: torch.Tensor, ids: torch.Tensor) -> int:
    """Bytes alive between forward and backward beyond the logits: labels + saved tensors."""
    seen = {logits.untyped_storage().data_ptr()}
    total = 0
    _LABELS.clear()

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        ptr = t.untyped_storage().data_ptr()
        if ptr not in seen:
            seen.add(ptr)
            total += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    for label in [ids, *_LABELS]:  # the batch's labels live through the step
        pack(label)
    _LABELS.clear()
    return total


def main() -> None:
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    batch, k = 16, 8
    rows: list[list[Any]] = []
    ratios: dict[tuple[int, str], Any] = {}
    for c in CLASSES:
        logits = torch.randn(batch, c, generator=gen).requires_grad_()
        ids = torch.stack([torch.randperm(c, generator=gen)[:k] for _ in range(batch)])
        ones = torch.ones(batch, c)

        def ours_sparse(logits: torch.Tensor = logits, ids: torch.Tensor = ids) -> torch.Tensor:
            return sparse_multilabel_categorical_crossentropy(logits, ids)

        def ours_dense(logits: torch.Tensor = logits, ids: torch.Tensor = ids) -> torch.Tensor:
            return multilabel_categorical_crossentropy(logits, multi_hot(ids, logits.shape[-1]))

        def anchor_dense(logits: torch.Tensor = logits, ids: torch.Tensor = ids) -> torch.Tensor:
            return dense_anchor(logits, multi_hot(ids, logits.shape[-1]))

        def anchor_sparse(logits: torch.Tensor = logits, ids: torch.Tensor = ids) -> torch.Tensor:
            return sparse_anchor(logits, ids)

        def soft_margin(logits: torch.Tensor = logits, ids: torch.Tensor = ids) -> torch.Tensor:
            y = multi_hot(ids, logits.shape[-1])
            return torch.nn.functional.multilabel_soft_margin_loss(logits, y)

        variants = {
            "ours sparse": ours_sparse,
            "ours dense": ours_dense,
            "anchor dense (1e12 mask)": anchor_dense,
            "anchor sparse (a+log(1-e^(b-a)))": anchor_sparse,
            "torch MultiLabelSoftMargin (BCE)": soft_margin,
        }
        ref = float(ours_dense().detach())

        def step(
            fn: Callable[[], torch.Tensor], logits: torch.Tensor = logits
        ) -> Callable[[], None]:
            def run() -> None:
                logits.grad = None
                fn().backward()
                _LABELS.clear()

            return run

        def floor(logits: torch.Tensor = logits, ones: torch.Tensor = ones) -> None:
            logits.grad = None
            (logits * 1.0).backward(ones)

        fns = {name: step(fn) for name, fn in variants.items()}
        fns["floor"] = floor
        times = alternating_times(fns, rounds=ROUNDS, repeat=REPEAT, clock=time.process_time)
        ours = times["ours sparse"]
        for name, fn in variants.items():
            held = held_bytes(fn, logits, ids) / 2**20
            gap = abs(float(fn().detach()) - ref) if "BCE" not in name else float("nan")
            vs = ratio(times[name], ours)  # time / ours sparse: > 1 means ours sparse is faster
            share = share_of_floor(times["floor"], times[name])
            ratios[(c, name)] = vs
            rows.append(
                [
                    c,
                    name,
                    statistics.median(times[name]) * 1e3,
                    "1 (reference)" if name == "ours sparse" else str(vs),
                    f"{share.median:.0%} ({share.low:.0%}-{share.high:.0%})",
                    held,
                    gap,
                ]
            )
        floor_s = statistics.median(times["floor"])
        gbps = 4 * logits.numel() * logits.element_size() / floor_s / 1e9  # 2 reads + 2 writes
        rows.append(
            [
                c,
                f"floor: logits * 1.0 fwd+bwd ({gbps:.1f} GB/s)",
                floor_s * 1e3,
                "-",
                "100%",
                0.0,
                0.0,
            ]
        )

    # float32 accuracy where positives dominate (trained-model regime): error vs float64 truth
    s = torch.tensor([[12.0, -3.0, 0.0, 11.0] + [-5.0] * 96, [50.0, -50.0, 40.0] + [-60.0] * 97])
    pid = torch.tensor([[0, 3], [0, 2]])
    truth = multilabel_categorical_crossentropy(s.double(), multi_hot(pid, 100).double())
    err_ours = abs(float(sparse_multilabel_categorical_crossentropy(s, pid)) - float(truth))
    err_anchor = abs(float(sparse_anchor(s, pid)) - float(truth))
    for name, err in (("ours sparse", err_ours), ("anchor sparse", err_anchor)):
        rows.append(
            ["100 (pos. dominate)", f"{name}: |err| vs float64", float("nan"), "-", "-", 0.0, err]
        )

    c_big = CLASSES[-1]
    dense_ratio = ratios[(c_big, "ours dense")]
    anchor_ratio = ratios[(c_big, "anchor dense (1e12 mask)")]
    sparse_ratio = ratios[(c_big, "anchor sparse (a+log(1-e^(b-a)))")]
    share = next(r[4] for r in rows if r[0] == c_big and r[1] == "ours sparse")
    headline = (
        f"{c_big:,} classes x {batch}, {k} positives, time / ours sparse, median (min-max) over "
        f"{ROUNDS} alternating rounds (CPU time): ours dense {dense_ratio}, 1e12-mask dense anchor "
        f"{anchor_ratio}, article's sparse formula {sparse_ratio} (fwd+bwd, CPU, 1 thread; "
        f"article: 1.5x on a 3090 GPU); ours sparse at {share} of the memory floor; float32 error "
        f"where positives dominate: ours {err_ours:.1e} vs the article's sparse formula "
        f"{err_anchor:.1e}"
    )
    columns = [
        "classes",
        "variant",
        "ms",
        "time / ours sparse median (min-max)",
        "% of floor",
        "held MiB",
        "|loss - ours dense|",
    ]
    if TINY:  # a smoke run: print, never overwrite the stored table
        print(machine())
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
        print(headline)
        return
    write_result(
        "B1",
        "Sparse vs dense multi-label ZLPR loss (fwd+bwd) vs anchors and the memory floor",
        columns,
        rows,
        headline,
        "python -m bench.bench_b1_sparse_multilabel",
    )


if __name__ == "__main__":
    main()
