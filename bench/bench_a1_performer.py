"""A1 benchmark: FAVOR+ attention vs ``F.scaled_dot_product_attention`` vs performer-pytorch.

Batch 1, head size 64, m = 256 features, one thread, forward only (``torch.no_grad``). performer-
pytorch's ``FastAttention`` gets the *same* projection matrix as ours. Times come from alternating
rounds (``bench._common.alternating_times``: ours, performer-pytorch, SDPA, floor, ours, ...),
timed in this process's CPU time (``time.process_time``: on a shared machine wall time of a long
call absorbs other processes' slices that a short floor pass mostly escapes); each ratio is the
median over the rounds with its min-max spread. The floor, timed in the same rounds, is FAVOR+'s
four matrix products at their shapes with the operands ready (``q W^T`` and ``k W^T``: (n, d) x (d,
m); ``phi(k)^T v``: (m, n) x (n, d); ``phi(q) (phi(k)^T v)``: (n, m) x (m, d)), i.e. the machine's
matmul rate on this work; the exponentials and normalisers come on top of it. Peak memory is
measured as the rise of the process's peak resident set (``VmHWM``, reset through
``/proc/self/clear_refs``) during one call, in a worker process started with
``MALLOC_MMAP_THRESHOLD_=65536`` so that every large buffer is mmapped and returned on free (RSS
then tracks live memory, including buffers allocated inside ATen kernels, which tracemalloc cannot
see). Inputs exist before the measurement, so the figure is the working memory of the call.

Run: ``.venv/bin/python -m bench.bench_a1_performer`` (needs ``performer-pytorch`` with
``einops``, ``local-attention<1.5`` and ``axial-positional-embedding``, all ``--no-deps``);
``KEXUE_BENCH_TINY=1`` (or ``--tiny``) runs tiny lengths in seconds and writes nothing.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from bench._common import alternating_times, machine, ratio, share_of_floor, write_result
from kexue.transformer.performer import favor_attention
from kexue.transformer.random_features import gaussian_orthogonal_random_matrix

TINY = os.environ.get("KEXUE_BENCH_TINY") == "1" or "--tiny" in sys.argv[1:]
D, M = 64, 256
LENGTHS = [64, 256] if TINY else [512, 1024, 2048, 4096, 8192, 16384]
MULTI_HEAD_LENGTHS = [128] if TINY else [1024, 4096]
CAUSAL_LENGTHS = [128] if TINY else [512, 2048, 8192]
ROUNDS = 2 if TINY else 5


def _inputs(n: int, h: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(n)
    return tuple(torch.randn(1, h, n, D, generator=g) for _ in range(3))  # type: ignore[return-value]


def _impls(causal: bool) -> dict[str, Callable[..., torch.Tensor]]:
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from performer_pytorch.performer_pytorch import FastAttention

    fa = FastAttention(D, nb_features=M, causal=causal)
    w = gaussian_orthogonal_random_matrix(M, D, torch.Generator().manual_seed(0))
    fa.projection_matrix.copy_(w)
    return {
        "ours": lambda q, k, v: favor_attention(q, k, v, w, causal=causal, chunk_size=128),
        "performer-pytorch": lambda q, k, v: fa(q, k, v),
        "SDPA": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
    }


def _hwm_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _memory_worker(spec: list[list[Any]]) -> None:
    """Child process: print {key: peak MiB} for each (impl, n, h, causal)."""
    torch.set_num_threads(1)
    out = {}
    with torch.no_grad():
        for name, n, h, causal in spec:
            fn = _impls(causal)[name]
            q, k, v = _inputs(n, h)
            fn(q, k, v)  # warm-up: lazy initialisation is not working memory
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset the peak RSS to the current RSS
            before = _hwm_kib()
            fn(q, k, v)
            out[f"{name}|{n}|{h}|{causal}"] = (_hwm_kib() - before) / 1024
    print(json.dumps(out))


def _memory(spec: list[list[Any]]) -> dict[str, float]:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    res = subprocess.run(
        [sys.executable, "-m", "bench.bench_a1_performer", "--memory-worker", json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def _floor(n: int, h: int) -> Callable[[], None]:
    """FAVOR+'s four products at their shapes, operands ready: the matmul floor of the call."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, h, n, D, generator=g)
    w = torch.randn(M, D, generator=g)
    phi = torch.rand(1, h, n, M, generator=g)
    kv = torch.randn(1, h, M, D, generator=g)

    def run() -> None:
        torch.matmul(x, w.T)
        torch.matmul(x, w.T)
        torch.matmul(phi.mT, x)
        torch.matmul(phi, kv)

    return run


def _rounds(n: int, h: int) -> tuple[int, int]:
    """(rounds, repeats per round): fewer repeats where one call takes long."""
    return ROUNDS, 1 if n * h >= 8192 else 3


def main() -> None:
    torch.set_num_threads(1)
    configs = [(n, 1, False) for n in LENGTHS] + [(n, 4, False) for n in MULTI_HEAD_LENGTHS]
    configs += [(n, 1, True) for n in CAUSAL_LENGTHS]
    names = ["ours", "performer-pytorch", "SDPA"]
    mem = _memory([[name, n, h, c] for n, h, c in configs for name in names])
    rows: list[list[Any]] = []
    with torch.no_grad():
        for n, h, causal in configs:
            q, k, v = _inputs(n, h)
            impls = _impls(causal)
            fns: dict[str, Callable[[], Any]] = {nm: partial(f, q, k, v) for nm, f in impls.items()}
            fns["floor"] = _floor(n, h)
            rounds, repeat = _rounds(n, h)
            t = alternating_times(fns, rounds=rounds, repeat=repeat, clock=time.process_time)
            vs_perf = ratio(t["performer-pytorch"], t["ours"])
            vs_sdpa = ratio(t["SDPA"], t["ours"])
            share = share_of_floor(t["floor"], t["ours"])
            flops = 8 * h * n * M * D
            floor_s = statistics.median(t["floor"])
            ms = {nm: statistics.median(ts) * 1e3 for nm, ts in t.items()}
            rows.append(
                [
                    n,
                    h,
                    "causal" if causal else "bidirectional",
                    ms["ours"],
                    ms["performer-pytorch"],
                    ms["SDPA"],
                    ms["floor"],
                    flops / floor_s / 1e9,
                    str(vs_perf),
                    str(vs_sdpa),
                    f"{share.median:.0%} ({share.low:.0%}-{share.high:.0%})",
                    *[mem[f"{nm}|{n}|{h}|{causal}"] for nm in names],
                ]
            )
            print(rows[-1], flush=True)
            rows[-1].append((vs_perf, vs_sdpa))  # kept for the headline, dropped below
    headline = _headline(rows)
    for r in rows:
        r.pop()
    columns = [
        "n",
        "heads",
        "form",
        "ours ms",
        "performer-pytorch ms",
        "SDPA ms",
        "floor ms",
        "floor GFLOP/s",
        "performer-pytorch / ours median (min-max)",
        "SDPA / ours median (min-max)",
        "% of floor",
        "ours peak MiB",
        "performer-pytorch peak MiB",
        "SDPA peak MiB",
    ]
    if TINY:  # a smoke run: print, never overwrite the stored table
        print(machine())
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
        print(headline)
        return
    write_result(
        "A1",
        "Performer FAVOR+ vs SDPA and performer-pytorch (forward, CPU), with the matmul floor",
        columns,
        rows,
        headline,
        ".venv/bin/python -m bench.bench_a1_performer",
    )


def _headline(rows: list[list[Any]]) -> str:
    bi = [r for r in rows if r[1] == 1 and r[2] == "bidirectional"]
    faster = [r[0] for r in bi if r[-1][1].median > 1]
    robust = [r[0] for r in bi if r[-1][1].low > 1]
    cross = (
        f"FAVOR+ faster than SDPA from n = {faster[0]} (every round from n = "
        f"{robust[0] if robust else '-'})"
        if faster
        else f"no crossover up to n = {bi[-1][0]}"
    )
    perf = ", ".join(f"{r[0]}: {r[-1][0]}" for r in bi if r[0] >= 1024 or TINY)
    shares = [r[10].split()[0] for r in bi]
    slope = (
        math.log(bi[-1][11] / bi[-3][11]) / math.log(bi[-1][0] / bi[-3][0]) if len(bi) > 2 else 1
    )
    return (
        f"{cross} (article estimates ~5000; batch 1, 1 head, d=64, m=256, 1 thread); "
        f"performer-pytorch time / ours at equal m, median (min-max) over {ROUNDS} alternating "
        f"rounds (CPU time), by n: {perf} (target >= 1.3x); ours at {shares[0]}-{shares[-1]} "
        "of the matmul "
        f"floor; FAVOR+ peak memory grows as n^{slope:.2f}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--memory-worker":
        _memory_worker(json.loads(sys.argv[2]))
    else:
        main()
