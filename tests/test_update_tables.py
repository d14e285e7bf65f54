"""scripts/update_tables.py: the README tables are rendered from results files, markers kept."""

from __future__ import annotations

from typing import Any

import pytest
from scripts.update_tables import (
    benchmark_table,
    benchmarks_doc,
    load_floors,
    long_table,
    replace_section,
    reproduction_table,
)


def _results(size: str) -> dict[str, Any]:
    env = {"size": size, "seed": 0, "cpu_count": 2, "versions": {"torch": "2.13.0"}}
    row = {
        "id": "A2",
        "name": "RealFormer",
        "url": "https://kexue.fm/archives/8005",
        "article_figure": "a | b",
        "summary": "loss 2.3",
        "verdict": "PASS",
        "runtime_s": 61.4,
        "config": {"layers": 4, "lr": 0.002},
    }
    return {
        "environment": {**env, "date": "2026-11-22T00:00:00"},
        "passed": 1,
        "total": 1,
        "techniques": [row],
    }


def test_tables_render_rows_and_escape_pipes() -> None:
    full = reproduction_table(_results("full"))
    assert "full size" in full and "| A2 | RealFormer |" in full and "a \\| b" in full
    long = long_table(_results("long"))
    assert "A2 --long" in long and "layers=4, lr=0.002" in long and "| 61 s |" in long
    default = _results("full")
    default["techniques"][0]["config"] = {"layers": 3, "lr": 0.002}
    assert "| layers=4 |" in long_table(_results("long"), default)  # only what differs


def test_replace_section_keeps_markers_and_requires_them() -> None:
    text = "x\n<!-- t:start -->\nold\n<!-- t:end -->\ny"
    assert replace_section(text, "t", "new") == "x\n<!-- t:start -->\nnew\n<!-- t:end -->\ny"
    empty = "<!-- t:start -->\n<!-- t:end -->"
    assert replace_section(empty, "t", "new") == "<!-- t:start -->\nnew\n<!-- t:end -->"
    with pytest.raises(SystemExit, match="markers"):
        replace_section("no markers", "t", "new")


def _bench() -> dict[str, Any]:
    return {
        "id": "A1",
        "title": "FAVOR+ vs SDPA",
        "machine": "x86_64 2 cores",
        "command": "python -m bench.bench_a1_performer",
        "columns": ["n", "ours / anchor median (min-max)", "% of floor"],
        "rows": [[1024, "1.30x (1.10-1.50)", "40% (35%-44%)"]],
        "headline": "1.30x (1.10-1.50) | spread kept",
    }


def test_floors_come_from_the_bench_readme_lines() -> None:
    text = "intro\n- **A1** — matmul: four products\n- not a floor\n- **D2** - LAPACK: eigvalsh\n"
    assert load_floors(text) == {"A1": "matmul: four products", "D2": "LAPACK: eigvalsh"}
    assert {"A1", "A6", "B1", "D1", "D3", "E1"} <= set(load_floors())  # the shipped README


def test_benchmark_tables_carry_floor_spread_and_escape_pipes() -> None:
    floors = {"A1": "matmul: four products"}
    table = benchmark_table([_bench()], floors)
    assert (
        "| floor |" in table and "| matmul |" in table and "1.30x (1.10-1.50) \\| spread" in table
    )
    assert "| — |" in benchmark_table([{**_bench(), "id": "Z9"}], floors)  # no floor line: a dash
    doc = benchmarks_doc([_bench()], floors)
    assert "Floor: matmul: four products" in doc and "| 1024 | 1.30x (1.10-1.50) |" in doc
    assert benchmark_table([]).startswith("No benchmark results")
