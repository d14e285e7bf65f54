"""Each benchmark runs at a tiny size (``KEXUE_BENCH_TINY=1``) so that it cannot rot; no timings are
asserted (benchmarks are never timed tests) and nothing under ``bench/results`` is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_tiny(module: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEXUE_BENCH_TINY": "1"}
    return subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bench_a6_taylor_softmax_tiny() -> None:
    before = (ROOT / "bench" / "results" / "A6.json").read_bytes()
    proc = _run_tiny("bench.bench_a6_taylor_softmax")
    assert proc.returncode == 0, proc.stderr
    assert "% of floor" in proc.stdout
    assert (ROOT / "bench" / "results" / "A6.json").read_bytes() == before


def test_bench_d3_projection_tiny() -> None:
    before = (ROOT / "bench" / "results" / "D3.json").read_bytes()
    proc = _run_tiny("bench.bench_d3_projection")
    assert proc.returncode == 0, proc.stderr
    assert "% of floor" in proc.stdout and "torch.svd_lowrank" in proc.stdout
    assert (ROOT / "bench" / "results" / "D3.json").read_bytes() == before
