"""The report: verdicts (SKIPPED apart from FAIL), counts, threads, offline maths, readable HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kexue import catalogue
from kexue.experiments.base import Check
from kexue.experiments.runner import Outcome
from kexue.report import fix_hint, headline, inline_html, verdict_label, write_report

INSTALL = "apt-get install wordnet-base"


def _outcome(tid: str, **kw: Any) -> Outcome:
    t = catalogue.get(tid)
    base: dict[str, Any] = {"title": "an experiment", "data": "", "notes": "", "config": {"n": 1}}
    return Outcome(t, **{**base, **kw})


def _outcomes() -> list[Outcome]:
    ok = Check("error", 1e-12, "<= 1e-10", True, "exact")
    bad = Check("gap", 0.5, ">= 1", False)
    return [
        _outcome(
            "A1",
            checks=[ok],
            threads=2,
            notes="Scale: tiny (``--long``: bigger).",
            metrics={"table": {"columns": ["n", "err"], "rows": [[1, 0.25], [2, 0.125]]}},
        ),
        _outcome(
            "B1",
            checks=[ok, bad],
            threads=1,
            metrics={
                "table": [
                    {"title": "first", "columns": ["a"], "rows": [[1]]},
                    {"title": "second", "columns": ["b", "c"], "rows": [{"b": 2, "c": "x"}]},
                ]
            },
        ),
        _outcome("D2", error="ValueError: bad size\nsecond line", threads=2),
        _outcome("A7", skipped=f"missing data: {INSTALL}", threads=2),
    ]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("report")
    return write_report(_outcomes(), out, seed=0, size="quick"), out


def test_counts_and_threads_in_results(report: tuple[dict[str, Any], Path]) -> None:
    results, out = report
    on_disk = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert on_disk == results
    assert {k: results[k] for k in ("total", "passed", "failed", "errors", "skipped")} == {
        "total": 4,
        "passed": 1,
        "failed": 1,
        "errors": 1,
        "skipped": 1,
    }
    by_id = {r["id"]: r for r in results["techniques"]}
    assert [by_id[i]["verdict"] for i in ("A1", "B1", "D2", "A7")] == [
        "PASS",
        "FAIL",
        "ERROR",
        "SKIPPED",
    ]
    assert by_id["B1"]["threads"] == 1 and by_id["A1"]["threads"] == 2
    assert (
        headline(results) == "1/4 claims reproduced, 1 skipped (missing data), 1 failed, 1 errors"
    )


def test_skipped_is_one_line_naming_the_install_command(
    report: tuple[dict[str, Any], Path],
) -> None:
    results, out = report
    entry = next(r for r in results["techniques"] if r["id"] == "A7")
    assert verdict_label(entry) == f"SKIPPED (missing data: {INSTALL})"
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"| SKIPPED (missing data: {INSTALL}) |" in md
    assert f"SKIPPED (missing data: <code>{INSTALL}</code>)" in page
    assert "Traceback" not in md and "Traceback" not in page


def test_error_says_how_to_fix(report: tuple[dict[str, Any], Path]) -> None:
    results, out = report
    entry = next(r for r in results["techniques"] if r["id"] == "D2")
    hint = fix_hint(entry)
    assert "reproduce.log" in hint and "kexue reproduce D2 -v" in hint
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "How to fix." in page and "class='error ERROR'" in page
    assert re.search(r"\.error\{[^}]*white-space:pre-wrap", page)
    missing = {"id": "B4", "verdict": "ERROR", "error": "ModuleNotFoundError: No module named 'ot'"}
    assert 'pip install "kexue[all]"' in fix_hint(missing)
    assert fix_hint({"id": "B4", "verdict": "PASS", "error": None}) == ""


def test_html_renders_maths_and_code_offline(report: tuple[dict[str, Any], Path]) -> None:
    pytest.importorskip("latex2mathml")
    _, out = report
    page = (out / "report.html").read_text(encoding="utf-8")
    claims = [catalogue.get(i).claim for i in ("A1", "B1", "D2", "A7")]
    n_formulas = sum(len(re.findall(r"\$[^$]+\$", c)) for c in claims)
    assert n_formulas > 0
    assert page.count("<math ") == n_formulas
    assert not re.search(r"\$[^$<]*\\[a-z]+", page)  # no raw TeX left in the page
    assert "<code>--long</code>" in page and "``" not in page
    assert "src='http" not in page and "<script" not in page  # nothing loaded from the network


def test_html_is_readable_on_phones_and_in_chinese(report: tuple[dict[str, Any], Path]) -> None:
    _, out = report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<html lang='en'>" in page
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in page
    assert f"lang='zh'>{catalogue.get('A1').article}</a>" in page
    assert ":lang(zh){font-family:" in page and "Noto Sans CJK SC" in page
    n_tables = page.count("<table>")
    assert n_tables == page.count("<div class='scroll'><table>") == 1 + 1 + 2  # summary + 3


def test_tables_dict_list_and_dict_rows(report: tuple[dict[str, Any], Path]) -> None:
    _, out = report
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| n | err |" in md and "| 2 | 0.125 |" in md
    assert "*first*" in md and "*second*" in md and "| 2 | x |" in md
    assert "`--long`" in md and "``--long``" not in md


def test_inline_html() -> None:
    assert inline_html("a < b") == "a &lt; b"
    assert inline_html("costs $5 and $6") == "costs $5 and $6"  # not maths
    assert inline_html("set $KEXUE_DATA_DIR") == "set $KEXUE_DATA_DIR"
    assert inline_html("``x<y``") == "<code>x&lt;y</code>"
    assert inline_html("matches `BertModel`") == "matches <code>BertModel</code>"
    assert inline_html("科学空间 (kexue)") == "<span lang='zh'>科学空间</span> (kexue)"


def test_styled_letters_are_unicode() -> None:
    pytest.importorskip("latex2mathml")
    page = inline_html(r"$k\,\mathbb E\|x\| + \mathcal N(0,I)$")
    assert "<mi>𝔼</mi>" in page and "<mi>𝒩</mi>" in page and "mathvariant=" not in page


def test_maths_without_latex2mathml_stays_tex(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "latex2mathml", None)
    monkeypatch.setitem(sys.modules, "latex2mathml.converter", None)
    assert inline_html("$e^x$") == "<code class='tex'>$e^x$</code>"


def test_update_keeps_other_techniques(tmp_path: Path) -> None:
    outcomes = _outcomes()
    write_report(outcomes[:2], tmp_path, seed=0, size="quick")
    results = write_report(outcomes[2:], tmp_path, seed=0, size="quick", update=True)
    assert results["total"] == 4 and results["skipped"] == 1
    with pytest.raises(ValueError, match="same seed and size"):
        write_report(outcomes[:1], tmp_path, seed=1, size="quick", update=True)


def test_empty_cells_show_a_dash_not_none() -> None:
    from kexue.report import _cells

    table = {"columns": ["a", "b"], "rows": [[None, 1.5], {"a": 2, "b": None}]}
    assert _cells(table) == [["—", "1.5"], ["2", "—"]]
