"""Shared helpers for the side-by-side benchmarks in ``bench/``.

Each ``bench/bench_<id>_<slug>.py`` runs our implementation and the anchor on the same inputs in one
process, then calls :func:`write_result` to store ``bench/results/<ID>.json``; ``bench/run_all.py``
turns those files into ``docs/benchmarks.md`` and the README table. Benchmarks are never tests.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """One line describing where the numbers were taken."""
    return (
        f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.python_version()}"
    )


def median_time(
    fn: Callable[[], Any],
    *,
    repeat: int = 7,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median time of ``fn()`` in seconds over ``repeat`` runs after ``warmup`` runs.

    ``clock`` is wall time by default; ``time.process_time`` (this process's CPU time) keeps the
    slices a shared machine gives other processes out of long calls as well as short ones.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


@dataclass(frozen=True)
class Ratio:
    """A speed ratio from alternating rounds: ``median`` and its spread ``low``–``high``.

    ``ratio = time(anchor) / time(ours)`` per round, so > 1 means ours is faster.
    """

    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.median:.2f}x ({self.low:.2f}-{self.high:.2f})"


def alternating_times(
    fns: dict[str, Callable[[], Any]],
    *,
    rounds: int = 5,
    repeat: int = 3,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Per-round median times (s) of each function, the rounds interleaved (a, b, a, b, ...).

    Interleaving spreads slow phases of a shared machine over every contender alike; ``clock`` as
    in :func:`median_time`.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            out[name].append(median_time(fn, repeat=repeat, warmup=0, clock=clock))
    return out


def ratio(anchor: list[float], ours: list[float]) -> Ratio:
    """Median and min–max of ``anchor[i] / ours[i]`` over rounds."""
    r = [a / o for a, o in zip(anchor, ours, strict=True)]
    return Ratio(statistics.median(r), min(r), max(r))


def share_of_floor(floor: list[float], ours: list[float]) -> Ratio:
    """Median and min–max of ``floor[i] / ours[i]``: 1.0 means ours runs at the machine's floor."""
    return ratio(floor, ours)


def write_result(
    technique_id: str,
    title: str,
    columns: list[str],
    rows: list[list[Any]],
    headline: str,
    command: str,
) -> Path:
    """Store one benchmark's table as ``bench/results/<ID>.json`` and print it.

    ``command`` is normalised to ``python -m bench.<script>``, the form ``bench/run_all.py`` uses.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    script = Path(sys.argv[0]).stem
    if script.startswith("bench_"):
        command = f"python -m bench.{script}"
    payload = {
        "id": technique_id,
        "title": title,
        "machine": machine(),
        "command": command,
        "columns": columns,
        "rows": rows,
        "headline": headline,
    }
    path = RESULTS / f"{technique_id}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"{technique_id}: {title}\n{machine()}")
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    print(headline)
    return path
