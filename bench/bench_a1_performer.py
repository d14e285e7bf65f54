"""A1 benchmark: FAVOR+ attention vs ``F.scaled_dot_product_attention`` vs performer-pytorch.

Batch 1, head size 64, m = 256 features, one thread, forward only (``torch.no_grad``). performer-
pytorch's ``FastAttention`` gets the *same* projection matrix as ours. Times are medians of
``bench._common.median_time``. Peak memory is measured as the rise of the process's peak resident
set (``VmHWM``, reset through ``/proc/self/clear_refs``) during one call, in a worker process started
with ``MALLOC_MMAP_THRESHOLD_=65536`` so that every large buffer is mmapped and returned on free (RSS
then tracks live memory, including buffers allocated inside ATen kernels, which tracemalloc cannot
see). Inputs exist before the measurement, so the figure is the working memory of the call.

Run: ``.venv/bin/python -m bench.bench_a1_performer`` (needs ``performer-pytorch`` with
``einops``, ``local-attention<1.5`` and ``axial-positional-embedding``, all ``--no-deps``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from bench._common import median_time, write_result
from kexue.transformer.performer import favor_attention
from kexue.transformer.random_features import gaussian_orthogonal_random_matrix

D, M = 64, 256
LENGTHS = [512, 1024, 2048, 4096, 8192, 16384]
CAUSAL_LENGTHS = [512, 2048, 8192]


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


def main() -> None:
    torch.set_num_threads(1)
    configs = [(n, 1, False) for n in LENGTHS] + [(n, 4, False) for n in (1024, 4096)]
    configs += [(n, 1, True) for n in CAUSAL_LENGTHS]
    names = ["ours", "performer-pytorch", "SDPA"]
    mem = _memory([[name, n, h, c] for n, h, c in configs for name in names])
    rows: list[list[Any]] = []
    with torch.no_grad():
        for n, h, causal in configs:
            q, k, v = _inputs(n, h)
            impls = _impls(causal)
            rep = 3 if n * h >= 8192 else 7
            t: dict[str, float] = {}
            for nm, f in impls.items():
                t[nm] = median_time(partial(f, q, k, v), repeat=rep) * 1e3
            mb = [mem[f"{nm}|{n}|{h}|{causal}"] for nm in names]
            rows.append(
                [
                    n,
                    h,
                    "causal" if causal else "bidirectional",
                    t["ours"],
                    t["performer-pytorch"],
                    t["SDPA"],
                    t["performer-pytorch"] / t["ours"],
                    t["SDPA"] / t["ours"],
                    *mb,
                ]
            )
            print(rows[-1], flush=True)
    bi = [r for r in rows if r[1] == 1 and r[2] == "bidirectional"]
    faster = [r[0] for r in bi if r[7] > 1]
    cross = f"FAVOR+ faster than SDPA from n = {faster[0]}" if faster else "no crossover up to 16k"
    ratios = [r[6] for r in rows if r[2] == "bidirectional"]
    geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
    slope = math.log(bi[-1][8] / bi[-3][8]) / math.log(bi[-1][0] / bi[-3][0])
    headline = (
        f"{cross} (article estimates ~5000; batch 1, 1 head, d=64, m=256, 1 thread); "
        f"vs performer-pytorch at equal m: {geo:.2f}x faster (geometric mean, bidirectional; "
        f"target >= 1.3x); FAVOR+ peak memory grows as n^{slope:.2f} (4k->16k)"
    )
    write_result(
        "A1",
        "Performer FAVOR+ vs SDPA and performer-pytorch (forward, CPU)",
        [
            "n",
            "heads",
            "form",
            "ours ms",
            "performer-pytorch ms",
            "SDPA ms",
            "performer-pytorch / ours",
            "SDPA / ours",
            "ours peak MiB",
            "performer-pytorch peak MiB",
            "SDPA peak MiB",
        ],
        rows,
        headline,
        ".venv/bin/python -m bench.bench_a1_performer",
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--memory-worker":
        _memory_worker(json.loads(sys.argv[2]))
    else:
        main()
