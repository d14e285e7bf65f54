"""Write the reproduction report: ``results.json``, ``report.md`` and a self-contained ``report.html``."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from kexue.experiments.runner import Outcome

__all__ = ["environment", "write_report"]

_PACKAGES = ("kexue", "torch", "numpy", "scipy", "scikit-learn", "pot", "matplotlib")


def environment(seed: int, size: str) -> dict[str, Any]:
    """Versions, threads and run settings recorded with every report."""
    import torch

    versions: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": versions,
        "seed": seed,
        "size": size,
    }


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _tables(metrics: Any) -> list[dict[str, Any]]:
    """``metrics["table"]``: one table or a list of them (each ``columns``, ``rows``, ``title``?)."""
    table = metrics.get("table") if isinstance(metrics, dict) else None
    tables = table if isinstance(table, list) else [table] if table else []
    return [t for t in tables if isinstance(t, dict) and t.get("columns")]


def _table_md(table: dict[str, Any]) -> list[str]:
    cols = [str(c) for c in table.get("columns", [])]
    rows = table.get("rows", [])
    if not cols:
        return []
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        lines.append("| " + " | ".join(_md_escape(_fmt(v)) for v in row) + " |")
    return lines


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _render_md(results: dict[str, Any]) -> str:
    env = results["environment"]
    out = [
        "# kexue reproduction report",
        "",
        f"{results['passed']} of {results['total']} reproductions pass "
        f"({env['size']} size, seed {env['seed']}, {env['date']}).",
        "",
        "| id | technique | article's figure | our figure | verdict | runtime |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["techniques"]:
        out.append(
            f"| {r['id']} | {_md_escape(r['name'])} | {_md_escape(r['article_figure'])} | "
            f"{_md_escape(r['summary'])} | {r['verdict']} | {r['runtime_s']:.1f} s |"
        )
    for r in results["techniques"]:
        out += ["", f"## {r['id']} — {r['name']}", ""]
        out.append(f"Article: [{r['article']}]({r['url']})" if r["url"] else "Article: none")
        out += ["", f"**Claim.** {r['claim']}", "", f"**Experiment.** {r['title']}"]
        if r["data"]:
            out.append(f"Data: {r['data']}.")
        if r["notes"]:
            out += ["", f"**Differences from the article.** {r['notes']}"]
        out += ["", f"**Verdict: {r['verdict']}** in {r['runtime_s']:.1f} s.", ""]
        if r["error"]:
            out += ["```", r["error"], "```", ""]
        for c in r["checks"]:
            mark = "PASS" if c["passed"] else "FAIL"
            art = f" — article: {c['article']}" if c["article"] else ""
            out.append(f"- [{mark}] {c['name']}: {_fmt(c['measured'])} (target {c['target']}){art}")
        for table in _tables(r["metrics"]):
            title = [f"*{table['title']}*", ""] if table.get("title") else []
            out += ["", *title, *_table_md(table)]
        if r["figure"]:
            out += ["", f"![{r['id']}]({r['figure']})"]
    out += ["", "## Environment", "", "```", json.dumps(env, indent=2), "```", ""]
    return "\n".join(out)


def _render_html(results: dict[str, Any], out_dir: Path) -> str:
    e = html.escape
    env = results["environment"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>kexue reproduction report</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;line-height:1.45}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;font-size:90%}"
        ".PASS{color:#070}.FAIL,.ERROR{color:#b00}img{max-width:100%}code,pre{background:#f4f4f4}"
        "</style></head><body>",
        "<h1>kexue reproduction report</h1>",
        f"<p>{results['passed']} of {results['total']} reproductions pass ({e(env['size'])} size, "
        f"seed {env['seed']}, {e(env['date'])}).</p>",
        "<table><tr><th>id</th><th>technique</th><th>article's figure</th><th>our figure</th>"
        "<th>verdict</th><th>runtime</th></tr>",
    ]
    for r in results["techniques"]:
        parts.append(
            f"<tr><td><a href='#{r['id']}'>{r['id']}</a></td><td>{e(r['name'])}</td>"
            f"<td>{e(r['article_figure'])}</td><td>{e(r['summary'])}</td>"
            f"<td class='{r['verdict']}'>{r['verdict']}</td><td>{r['runtime_s']:.1f} s</td></tr>"
        )
    parts.append("</table>")
    for r in results["techniques"]:
        parts.append(f"<h2 id='{r['id']}'>{r['id']} — {e(r['name'])}</h2>")
        if r["url"]:
            parts.append(f"<p>Article: <a href='{e(r['url'])}'>{e(r['article'])}</a></p>")
        parts.append(f"<p><b>Claim.</b> {e(r['claim'])}</p><p><b>Experiment.</b> {e(r['title'])}")
        if r["data"]:
            parts.append(f" Data: {e(r['data'])}.")
        parts.append("</p>")
        if r["notes"]:
            parts.append(f"<p><b>Differences from the article.</b> {e(r['notes'])}</p>")
        parts.append(
            f"<p><b class='{r['verdict']}'>Verdict: {r['verdict']}</b> in {r['runtime_s']:.1f} s</p>"
        )
        if r["error"]:
            parts.append(f"<pre>{e(r['error'])}</pre>")
        parts.append("<ul>")
        for c in r["checks"]:
            mark = "PASS" if c["passed"] else "FAIL"
            art = f" — article: {e(c['article'])}" if c["article"] else ""
            parts.append(
                f"<li><span class='{mark}'>[{mark}]</span> {e(c['name'])}: "
                f"{e(_fmt(c['measured']))} (target {e(c['target'])}){art}</li>"
            )
        parts.append("</ul>")
        for table in _tables(r["metrics"]):
            if table.get("title"):
                parts.append(f"<p><em>{e(str(table['title']))}</em></p>")
            parts.append("<table><tr>" + "".join(f"<th>{e(str(c))}</th>" for c in table["columns"]))
            for row in table.get("rows", []):
                parts.append("<tr>" + "".join(f"<td>{e(_fmt(v))}</td>" for v in row) + "</tr>")
            parts.append("</table>")
        if r["figure"]:
            png = (out_dir / r["figure"]).read_bytes()
            data = base64.b64encode(png).decode("ascii")
            parts.append(f"<p><img alt='{r['id']}' src='data:image/png;base64,{data}'></p>")
    parts.append(f"<h2>Environment</h2><pre>{e(json.dumps(env, indent=2))}</pre></body></html>")
    return "\n".join(parts)


def _previous(out_dir: Path, seed: int, size: str) -> list[dict[str, Any]]:
    """Technique entries of an earlier ``results.json`` in ``out_dir`` with the same seed and size."""
    path = out_dir / "results.json"
    if not path.exists():
        return []
    old = json.loads(path.read_text(encoding="utf-8"))
    env = old.get("environment", {})
    if env.get("seed") != seed or env.get("size") != size:
        raise ValueError(
            f"{path} was written with seed {env.get('seed')} and size {env.get('size')}; "
            "--update only merges runs of the same seed and size (use another --out)"
        )
    return list(old.get("techniques", []))


def write_report(
    outcomes: Sequence[Outcome], out_dir: Path, *, seed: int, size: str, update: bool = False
) -> dict[str, Any]:
    """Write ``results.json``, ``report.md`` and ``report.html`` into ``out_dir``; return the results.

    With ``update=True`` the techniques of an existing ``results.json`` (same seed and size) that
    were not re-run are kept, so techniques can be re-run one at a time into one report.
    """
    from kexue import catalogue

    out_dir.mkdir(parents=True, exist_ok=True)
    entries = {o.technique.id: o.to_json() for o in outcomes}
    if update:
        for old in _previous(out_dir, seed, size):
            entries.setdefault(old["id"], old)
    order = {t.id: i for i, t in enumerate(catalogue.TECHNIQUES)}
    techniques = sorted(entries.values(), key=lambda r: order.get(r["id"], len(order)))
    results: dict[str, Any] = {
        "environment": environment(seed, size),
        "total": len(techniques),
        "passed": sum(r["verdict"] == "PASS" for r in techniques),
        "techniques": techniques,
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out_dir / "report.md").write_text(_render_md(results), encoding="utf-8")
    (out_dir / "report.html").write_text(_render_html(results, out_dir), encoding="utf-8")
    return results
