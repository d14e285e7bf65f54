"""Refresh the README's reproduction and benchmark tables from what the code measured.

Reads ``report/results.json`` (written by ``kexue reproduce``), ``report-long/results.json`` (written
by ``kexue reproduce ... --long --out report-long``) and ``bench/results/*.json`` (written by the
benchmarks), rewrites the README sections between the ``<!-- ...:start -->`` / ``<!-- ...:end -->``
markers and regenerates ``docs/benchmarks.md``. Each benchmark's floor (what "% of floor" is measured
against) comes from its one line in ``bench/README.md`` (``- **ID** — ...``). Usage::

    python scripts/update_tables.py [--report report/results.json] [--long-report PATH]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def reproduction_table(results: dict[str, Any]) -> str:
    env = results["environment"]
    lines = [
        f"Measured by `kexue reproduce` ({env['size']} size, seed {env['seed']}, "
        f"{env['cpu_count']} CPU cores, torch {env['versions'].get('torch', '?')}, {env['date'][:10]}): "
        f"**{results['passed']} / {results['total']} claims reproduced** in "
        f"{sum(r['runtime_s'] for r in results['techniques']) / 60:.0f} min of experiment time.",
        "",
        "| id | technique | article | article's figure | our figure | verdict | time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["techniques"]:
        art = f"[{r['url'].rsplit('/', 1)[-1]}]({r['url']})" if r["url"] else "—"
        lines.append(
            f"| {r['id']} | {_cell(r['name'])} | {art} | {_cell(r['article_figure'])} | "
            f"{_cell(r['summary'])} | {r['verdict']} | {r['runtime_s']:.0f} s |"
        )
    return "\n".join(lines)


def long_table(results: dict[str, Any], default: dict[str, Any] | None = None) -> str:
    """The ``--long`` runs; with the default run's results, only the settings that differ."""
    env = results["environment"]
    base = {r["id"]: r["config"] for r in (default or {}).get("techniques", [])}
    lines = [
        f"Measured by `kexue reproduce {' '.join(r['id'] for r in results['techniques'])} --long` "
        f"(seed {env['seed']}, {env['cpu_count']} CPU cores, torch "
        f"{env['versions'].get('torch', '?')}, {env['date'][:10]}).",
        "",
        "| id | long configuration (what differs from the default) | our figure | verdict | time |",
        "|---|---|---|---|---|",
    ]
    for r in results["techniques"]:
        full = base.get(r["id"], {})
        cfg = ", ".join(f"{k}={_fmt(v)}" for k, v in r["config"].items() if full.get(k) != v)
        lines.append(
            f"| {r['id']} | {_cell(cfg)} | {_cell(r['summary'])} | {r['verdict']} | "
            f"{r['runtime_s']:.0f} s |"
        )
    return "\n".join(lines)


def load_benchmarks() -> list[dict[str, Any]]:
    files = sorted((ROOT / "bench" / "results").glob("*.json"))
    return [json.loads(f.read_text()) for f in files]


_FLOOR_LINE = re.compile(r"^- \*\*([A-Z]\d+)\*\*\s*[—-]+\s*(.+)$")


def load_floors(text: str | None = None) -> dict[str, str]:
    """``{id: one-line floor}`` from the ``- **ID** — floor`` lines of ``bench/README.md``."""
    if text is None:
        path = ROOT / "bench" / "README.md"
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    return {m[1]: m[2].strip() for line in text.splitlines() if (m := _FLOOR_LINE.match(line))}


def benchmark_table(benches: list[dict[str, Any]], floors: dict[str, str] | None = None) -> str:
    if not benches:
        return "No benchmark results yet: run `make bench`."
    floors = floors or {}
    lines = [
        "| id | benchmark | headline (ratios: median (min-max) over alternating rounds) | floor | "
        "command |",
        "|---|---|---|---|---|",
    ]
    for b in benches:
        floor = floors.get(b["id"], "—").split(":")[0]  # the kind: matmul, memory, LAPACK
        lines.append(
            f"| {b['id']} | {_cell(b['title'])} | {_cell(b['headline'])} | {_cell(floor)} | "
            f"`{b['command']}` |"
        )
    lines += [
        "",
        f"Machine: {benches[0]['machine']}. Full tables, with each floor and the spread of every "
        "ratio: [docs/benchmarks.md](docs/benchmarks.md); what each floor is: "
        "[bench/README.md](bench/README.md).",
    ]
    return "\n".join(lines)


def benchmarks_doc(benches: list[dict[str, Any]], floors: dict[str, str] | None = None) -> str:
    floors = floors or {}
    out = [
        "# Benchmarks",
        "",
        "Each benchmark runs kexue and the anchor library on identical inputs in one process, in",
        "alternating rounds, and reports medians and ratios (median and min-max spread over the",
        "rounds) and, timed in the same rounds, the floor: the best this machine does on the same",
        'work ("% of floor" = floor time / our time). Regenerate everything with `make bench`',
        "(`python bench/run_all.py`, which ends with `python scripts/update_tables.py`).",
    ]
    for b in benches:
        out += [
            "",
            f"## {b['id']} — {b['title']}",
            "",
            f"Machine: {b['machine']}  ",
            f"Command: `{b['command']}`  ",
            f"Floor: {floors.get(b['id'], '—')}",
            "",
        ]
        out.append("| " + " | ".join(b["columns"]) + " |")
        out.append("|" + "---|" * len(b["columns"]))
        for row in b["rows"]:
            out.append("| " + " | ".join(_cell(_fmt(v)) for v in row) + " |")
        out += ["", f"**{b['headline']}**"]
    return "\n".join(out) + "\n"


def replace_section(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> markers")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--report", type=Path, default=ROOT / "report" / "results.json")
    parser.add_argument(
        "--long-report", type=Path, default=ROOT / "report-long" / "results.json",
        help="results.json of a `kexue reproduce ... --long --out report-long` run",
    )  # fmt: skip
    args = parser.parse_args()
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    default = json.loads(args.report.read_text()) if args.report.exists() else None
    if default is not None:
        text = replace_section(text, "repro-table", reproduction_table(default))
    else:
        print(f"{args.report} not found: run `kexue reproduce` first; reproduction table unchanged")
    if args.long_report.exists():
        long = json.loads(args.long_report.read_text())
        if long["environment"].get("size") != "long":
            raise SystemExit(f"{args.long_report} is not a --long run")
        text = replace_section(text, "repro-long-table", long_table(long, default))
    else:
        print(f"{args.long_report} not found: long-run table unchanged")
    benches, floors = load_benchmarks(), load_floors()
    text = replace_section(text, "bench-table", benchmark_table(benches, floors))
    readme.write_text(text, encoding="utf-8")
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "benchmarks.md").write_text(benchmarks_doc(benches, floors), encoding="utf-8")
    print(f"updated {readme} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
