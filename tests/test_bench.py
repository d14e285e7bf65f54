"""Each benchmark runs at a tiny size (``KEXUE_BENCH_TINY=1``) so that it cannot rot; no timings are
asserted (benchmarks are never timed tests) and nothing under ``bench/results`` is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def _assert_tiny(module: str, result: str, *words: str) -> None:
    """Run ``module`` tiny: it exits 0, prints its floor share and ``words``, writes nothing."""
    path = ROOT / "bench" / "results" / f"{result}.json"
    before = path.read_bytes() if path.exists() else None
    proc = _run_tiny(module)
    assert proc.returncode == 0, proc.stderr
    for word in ("% of", "min-max", *words):
        assert word in proc.stdout, word
    assert (path.read_bytes() if path.exists() else None) == before


def test_bench_a1_performer_tiny() -> None:
    pytest.importorskip("performer_pytorch")
    _assert_tiny("bench.bench_a1_performer", "A1", "floor GFLOP/s", "SDPA")


def test_bench_b1_sparse_multilabel_tiny() -> None:
    _assert_tiny("bench.bench_b1_sparse_multilabel", "B1", "floor: logits * 1.0")


def test_bench_d1_entropy_normalization_tiny() -> None:
    _assert_tiny("bench.bench_d1_entropy_normalization", "D1", "memory bound", "exp floor")


def test_bench_e1_analytic_classifier_tiny() -> None:
    pytest.importorskip("sklearn")
    _assert_tiny("bench.bench_e1_analytic_classifier", "E1", "floor GFLOP/s", "lbfgs")


def test_bench_c1_soft_batch_tiny() -> None:
    _assert_tiny("bench.bench_c1_soft_batch", "C1", "wrapper overhead per update", "Lookahead")


def test_bench_d2_gaussian_tiny() -> None:
    _assert_tiny("bench.bench_d2_gaussian", "D2", "cholesky + eigvalsh", "POT", "scipy")


def test_bench_d4_word_rotators_distance_tiny() -> None:
    pytest.importorskip("ot")
    _assert_tiny("bench.bench_d4_word_rotators_distance", "D4", "POT loop", "same top-k")


def test_bench_e3_ode_parameter_fit_tiny() -> None:
    path = ROOT / "bench" / "results" / "E3.json"
    before = path.read_bytes() if path.exists() else None
    proc = _run_tiny("bench.bench_e3_ode_parameter_fit")
    assert proc.returncode == 0, proc.stderr
    for word in ("kexue fit_ode", "scipy least_squares", "their time / ours"):
        assert word in proc.stdout, word
    assert (path.read_bytes() if path.exists() else None) == before
