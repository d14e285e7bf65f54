"""Write the reproduction report: ``results.json``, ``report.md`` and a self-contained ``report.html``.

The HTML page needs nothing from the network: figures are embedded as PNG data, formulas written as
``$…$`` in the catalogue's claims become MathML on the server side (``latex2mathml``, in the
``report`` extra; without it they stay as TeX source in ``<code>``), and RST double backticks become
``<code>``. Chinese text is marked ``lang="zh"`` and has a CJK font fallback; tables scroll sideways
on narrow screens.

Verdicts: PASS (every check passed), FAIL (a check failed), ERROR (the run raised; the page says how
to fix it, the traceback is in the log) and SKIPPED (a data source that ships in another package is
not installed; the page names the command that installs it).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import logging
import os
import platform
import re
import sys
import unicodedata
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from kexue.experiments.runner import Outcome

__all__ = [
    "LOG_NAME",
    "environment",
    "fix_hint",
    "headline",
    "inline_html",
    "verdict_label",
    "write_report",
]

log = logging.getLogger(__name__)

LOG_NAME = "reproduce.log"
"""The log file ``kexue reproduce`` writes beside the report (tracebacks included)."""

_PACKAGES = ("kexue", "torch", "numpy", "scipy", "scikit-learn", "pot", "matplotlib")

# ``code`` (RST double backticks) or `code`, $math$ (no space just inside the dollars, so "$5 and $6" is
# not maths), or a run of CJK characters and full-width punctuation.
_INLINE = re.compile(
    r"``(?P<code>[^`]+?)``|`(?P<code1>[^`\n]+)`"
    r"|(?<![\w$])\$(?P<math>[^\s$](?:[^$\n]*[^\s$])?)\$(?![\w$])"
    r"|(?P<cjk>[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+)"
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",
"Source Han Sans SC","PingFang SC","Hiragino Sans GB","Microsoft YaHei",sans-serif;
max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.5;color:#222}
:lang(zh){font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Hiragino Sans GB",
"Microsoft YaHei","WenQuanYi Micro Hei",sans-serif}
math{font-family:"Latin Modern Math","STIX Two Math","Cambria Math",math;font-size:1.05em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:4px 8px;font-size:90%;vertical-align:top}
th{background:#f4f4f4;text-align:left}
code,pre{background:#f4f4f4;border-radius:3px;padding:0 .2em}
pre,.error{white-space:pre-wrap;overflow-wrap:anywhere}
.PASS{color:#070}.FAIL,.ERROR{color:#b00}.SKIPPED{color:#8a5a00}
img{max-width:100%;height:auto}
"""


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


def verdict_label(entry: dict[str, Any]) -> str:
    """One line: ``PASS``, ``FAIL``, ``ERROR`` or ``SKIPPED (missing data: <install command>)``."""
    if entry["verdict"] == "SKIPPED":
        return f"SKIPPED ({entry.get('skipped') or 'missing data'})"
    return str(entry["verdict"])


def fix_hint(entry: dict[str, Any]) -> str:
    """How to fix an ERROR, in words (empty for the other verdicts)."""
    error = entry.get("error") or ""
    if entry["verdict"] != "ERROR":
        return ""
    if error.startswith(("ModuleNotFoundError", "ImportError")):
        first = (
            "Install the extra the message names."
            if "kexue[" in error
            else 'Install the dependencies of the reproductions: ``pip install "kexue[all]"``.'
        )
    elif error.startswith(("DataNotFoundError", "FileNotFoundError")):
        first = "Follow the message above: it names the missing file and where it was looked for."
    else:
        first = "This is a bug in the experiment or the component."
    return (
        f"{first} The traceback is in ``{LOG_NAME}`` beside this report; re-run this technique "
        f"alone with ``kexue reproduce {entry['id']} -v``."
    )


# Chromium's MathML ignores mathvariant other than "normal": write 𝔼, 𝒩, ... as letters instead.
_MATHVARIANT = re.compile(r'<mi mathvariant="(double-struck|script|fraktur|bold)">([A-Za-z])</mi>')
_STYLE_NAMES = {
    "double-struck": "DOUBLE-STRUCK",
    "script": "SCRIPT",
    "fraktur": "FRAKTUR",
    "bold": "BOLD",
}
_LETTERLIKE = {"FRAKTUR": "BLACK-LETTER"}  # the letters Unicode put in Letterlike Symbols


def _styled_letter(m: re.Match[str]) -> str:
    style, letter = _STYLE_NAMES[m[1]], m[2]
    case = "CAPITAL" if letter.isupper() else "SMALL"
    for name in (
        f"MATHEMATICAL {style} {case} {letter.upper()}",
        f"{_LETTERLIKE.get(style, style)} {case} {letter.upper()}",
    ):
        try:
            return f"<mi>{unicodedata.lookup(name)}</mi>"
        except KeyError:
            continue
    return m[0]


def _math_html(tex: str) -> str:
    try:
        from latex2mathml.converter import convert
    except ImportError:  # the report extra is not installed: show the TeX source
        return f"<code class='tex'>${html.escape(tex)}$</code>"
    try:
        mathml = convert(tex)
    except Exception:  # a formula the converter does not know stays readable as TeX
        log.debug("cannot convert %r to MathML", tex, exc_info=True)
        return f"<code class='tex'>${html.escape(tex)}$</code>"
    mathml = _MATHVARIANT.sub(_styled_letter, mathml)
    return f"<span class='math' title='{html.escape(tex, quote=True)}'>{mathml}</span>"


def _verdict_html(entry: dict[str, Any]) -> str:
    """:func:`verdict_label` in HTML, the install command of a SKIPPED technique as code."""
    skipped = entry.get("skipped") or ""
    prefix = "missing data: "
    if entry["verdict"] == "SKIPPED" and skipped.startswith(prefix):
        command = html.escape(skipped.removeprefix(prefix))
        return f"SKIPPED ({prefix}<code>{command}</code>)"
    return html.escape(verdict_label(entry))


def inline_html(text: str) -> str:
    """Escape ``text`` for HTML, rendering ``code``, ``$maths$`` and marking Chinese ``lang="zh"``."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        if m["code"] is not None or m["code1"] is not None:
            out.append(f"<code>{html.escape(m['code'] or m['code1'])}</code>")
        elif m["math"] is not None:
            out.append(_math_html(m["math"]))
        else:
            out.append(f"<span lang='zh'>{html.escape(m['cjk'])}</span>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _md_inline(text: str) -> str:
    """Markdown cell text: RST ``code`` becomes `code`; pipes escaped; one line."""
    text = re.sub(r"``([^`]+?)``", r"`\1`", text)
    return text.replace("|", "\\|").replace("\n", " ")


def _sentence(text: str) -> str:
    """``text`` ending with a full stop (titles are written without one)."""
    return text if not text or text[-1] in ".!?" else text + "."


def _fmt(v: Any) -> str:
    if v is None:  # a record field with no value (e.g. "diverged at step" for a run that did not)
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _tables(metrics: Any) -> list[dict[str, Any]]:
    """``metrics["table"]``: one table or a list of them (each ``columns``, ``rows``, ``title``?)."""
    table = metrics.get("table") if isinstance(metrics, dict) else None
    tables = table if isinstance(table, list) else [table] if table else []
    return [t for t in tables if isinstance(t, dict) and t.get("columns")]


def _cells(table: dict[str, Any]) -> list[list[str]]:
    """Rows as formatted cells; a row may be a list (column order) or a dict keyed by column."""
    cols = [str(c) for c in table["columns"]]
    rows = table.get("rows", [])
    return [
        [_fmt(row.get(c, "")) for c in cols] if isinstance(row, dict) else [_fmt(v) for v in row]
        for row in rows
    ]


def _counts(techniques: Sequence[dict[str, Any]]) -> dict[str, int]:
    verdicts = [r["verdict"] for r in techniques]
    return {
        "total": len(verdicts),
        "passed": verdicts.count("PASS"),
        "failed": verdicts.count("FAIL"),
        "errors": verdicts.count("ERROR"),
        "skipped": verdicts.count("SKIPPED"),
    }


def headline(results: dict[str, Any]) -> str:
    """``"N/M claims reproduced, K skipped (missing data)"`` (plus failures and errors, if any)."""
    text = f"{results['passed']}/{results['total']} claims reproduced, {results['skipped']} skipped"
    text += " (missing data)"
    if results["failed"]:
        text += f", {results['failed']} failed"
    if results["errors"]:
        text += f", {results['errors']} errors"
    return text


def _render_md(results: dict[str, Any]) -> str:
    env = results["environment"]
    out = [
        "# kexue reproduction report",
        "",
        f"{headline(results)} ({env['size']} size, seed {env['seed']}, {env['date']}).",
        "",
        "| id | technique | article's figure | our figure | verdict | runtime | threads |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["techniques"]:
        out.append(
            f"| {r['id']} | {_md_inline(r['name'])} | {_md_inline(r['article_figure'])} | "
            f"{_md_inline(r['summary'])} | {_md_inline(verdict_label(r))} | "
            f"{r['runtime_s']:.1f} s | {r.get('threads', '')} |"
        )
    for r in results["techniques"]:
        out += ["", f"## {r['id']} — {r['name']}", ""]
        out.append(f"Article: [{r['article']}]({r['url']})" if r["url"] else "Article: none")
        out += ["", f"**Claim.** {_md_inline(r['claim'])}", ""]
        out.append(f"**Experiment.** {_md_inline(_sentence(r['title']))}")
        if r["data"]:
            out.append(f"Data: {_md_inline(r['data'])}.")
        if r["notes"]:
            out += ["", f"**Differences from the article.** {_md_inline(r['notes'])}"]
        threads = f" on {r['threads']} threads" if r.get("threads") else ""
        out += ["", f"**Verdict: {verdict_label(r)}** in {r['runtime_s']:.1f} s{threads}.", ""]
        if r["error"]:
            out += ["```text", r["error"], "```", "", f"**How to fix.** {_md_inline(fix_hint(r))}"]
        for c in r["checks"]:
            mark = "PASS" if c["passed"] else "FAIL"
            art = f" — article: {c['article']}" if c["article"] else ""
            out.append(f"- [{mark}] {c['name']}: {_fmt(c['measured'])} (target {c['target']}){art}")
        for table in _tables(r["metrics"]):
            cols = [_md_inline(str(c)) for c in table["columns"]]
            out += ["", f"*{_md_inline(str(table['title']))}*", ""] if table.get("title") else [""]
            out += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            out += ["| " + " | ".join(_md_inline(v) for v in row) + " |" for row in _cells(table)]
        if r["figure"]:
            out += ["", f"![{r['id']}]({r['figure']})"]
    out += ["", "## Environment", "", "```json", json.dumps(env, indent=2), "```", ""]
    return "\n".join(out)


def _table_html(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _technique_html(r: dict[str, Any], out_dir: Path) -> list[str]:
    e, inline, verdict = html.escape, inline_html, r["verdict"]
    parts = [f"<section id='{e(r['id'])}'><h2>{e(r['id'])} — {inline(r['name'])}</h2>"]
    if r["url"]:
        link = f"<a href='{e(r['url'])}' lang='zh'>{e(r['article'])}</a>"
        parts.append(f"<p>Article: {link}</p>")
    parts.append(f"<p><b>Claim.</b> {inline(r['claim'])}</p>")
    data = f" Data: {inline(r['data'])}." if r["data"] else ""
    parts.append(f"<p><b>Experiment.</b> {inline(_sentence(r['title']))}{data}</p>")
    if r["notes"]:
        parts.append(f"<p><b>Differences from the article.</b> {inline(r['notes'])}</p>")
    threads = f" on {r['threads']} threads" if r.get("threads") else ""
    parts.append(
        f"<p><b class='{e(verdict)}'>Verdict: {_verdict_html(r)}</b> in "
        f"{r['runtime_s']:.1f} s{threads}</p>"
    )
    if r["error"]:
        parts.append(f"<p class='error ERROR'><code>{e(r['error'])}</code></p>")
        parts.append(f"<p class='error'><b>How to fix.</b> {inline(fix_hint(r))}</p>")
    if r["checks"]:
        parts.append("<ul>")
        for c in r["checks"]:
            mark = "PASS" if c["passed"] else "FAIL"
            art = f" — article: {inline(c['article'])}" if c["article"] else ""
            parts.append(
                f"<li><span class='{mark}'>[{mark}]</span> {inline(c['name'])}: "
                f"{e(_fmt(c['measured']))} (target {e(c['target'])}){art}</li>"
            )
        parts.append("</ul>")
    for table in _tables(r["metrics"]):
        if table.get("title"):
            parts.append(f"<p><em>{inline(str(table['title']))}</em></p>")
        columns = [inline(str(c)) for c in table["columns"]]
        parts.append(_table_html(columns, [[inline(v) for v in row] for row in _cells(table)]))
    if r["figure"] and (out_dir / r["figure"]).is_file():
        data64 = base64.b64encode((out_dir / r["figure"]).read_bytes()).decode("ascii")
        parts.append(
            f"<p><img alt='figure of {e(r['id'])}' src='data:image/png;base64,{data64}'></p>"
        )
    parts.append("</section>")
    return parts


def _render_html(results: dict[str, Any], out_dir: Path) -> str:
    e, inline = html.escape, inline_html
    env = results["environment"]
    summary_rows = [
        [
            f"<a href='#{e(r['id'])}'>{e(r['id'])}</a>",
            inline(r["name"]),
            inline(r["article_figure"]),
            inline(r["summary"]),
            f"<span class='{e(r['verdict'])}'>{_verdict_html(r)}</span>",
            f"{r['runtime_s']:.1f}&nbsp;s",
            e(str(r.get("threads", ""))),
        ]
        for r in results["techniques"]
    ]
    columns = ["id", "technique", "article's figure", "our figure", "verdict", "runtime", "threads"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>kexue reproduction report</title><style>{_CSS}</style></head><body>",
        "<h1>kexue reproduction report</h1>",
        f"<p>{e(headline(results))} ({e(env['size'])} size, seed {env['seed']}, "
        f"{e(env['date'])}).</p>",
        _table_html(columns, summary_rows),
    ]
    for r in results["techniques"]:
        parts += _technique_html(r, out_dir)
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

    The results hold ``total``, ``passed``, ``failed``, ``errors`` and ``skipped`` counts, the
    environment and one entry per technique (its verdict, checks, metrics and the torch thread
    count it ran with). With ``update=True`` the techniques of an existing ``results.json`` (same
    seed and size) that were not re-run are kept, so techniques can be re-run one at a time into
    one report.
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
        **_counts(techniques),
        "techniques": techniques,
    }
    text = json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    (out_dir / "results.json").write_text(text, encoding="utf-8")
    (out_dir / "report.md").write_text(_render_md(results), encoding="utf-8")
    (out_dir / "report.html").write_text(_render_html(results, out_dir), encoding="utf-8")
    return results
