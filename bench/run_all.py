"""Run every side-by-side benchmark (``bench/bench_*.py``) one after another, then refresh the tables.

Usage: ``python bench/run_all.py [NAME_SUBSTRING ...]``. Benchmarks run one at a time, each in its own
process, so timings do not disturb each other.
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
    subprocess.run([sys.executable, str(HERE.parent / "scripts" / "update_tables.py")], check=False)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
