"""Run every side-by-side benchmark (``bench/bench_*.py``) one after another, then refresh the tables.

Usage: ``python bench/run_all.py [NAME_SUBSTRING ...]`` (what ``make bench`` runs). Benchmarks run one
at a time, each in its own process, so timings do not disturb each other; each writes
``bench/results/<ID>.json`` (ratios with their spread over alternating rounds, the floor and the
share of it), and ``scripts/update_tables.py`` then regenerates ``docs/benchmarks.md`` and the
README's benchmark table from those files and the floor lines of ``bench/README.md``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.name for a in argv)]
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        cmd = [sys.executable, "-m", f"bench.{script.stem}"]
        if subprocess.run(cmd, cwd=HERE.parent, check=False).returncode != 0:
            failed.append(script.name)
    tables = [sys.executable, str(HERE.parent / "scripts" / "update_tables.py")]
    if subprocess.run(tables, cwd=HERE.parent, check=False).returncode != 0:
        failed.append("scripts/update_tables.py")
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
