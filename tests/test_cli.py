"""The command-line interface: list/info are instant and torch-free; reproduce writes a report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kexue import catalogue
from kexue.cli import build_parser, main


def test_list_shows_implemented(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for t in catalogue.implemented():
        assert t.id in out and t.name in out


def test_list_all_marks_planned(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--all"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") >= len(catalogue.TECHNIQUES)
    planned = [t for t in catalogue.TECHNIQUES if not t.implemented]
    if planned:
        assert "(planned)" in out


def test_list_does_not_import_torch() -> None:
    code = "import sys; from kexue.cli import main; main(['list']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_info_prints_article_and_claim(capsys: pytest.CaptureFixture[str]) -> None:
    t = catalogue.TECHNIQUES[0]
    assert main(["info", t.id.lower()]) == 0
    out = capsys.readouterr().out
    assert t.article in out and t.url in out and "shared/" not in out


def test_unknown_id_lists_valid_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "Q7"]) == 2
    err = capsys.readouterr().err
    assert "unknown technique id 'Q7'" in err and "A1" in err
    assert main(["reproduce", "Q7"]) == 2


def test_reproduce_planned_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    planned = [t for t in catalogue.TECHNIQUES if not t.implemented]
    if not planned:
        pytest.skip("every technique is implemented")
    assert main(["reproduce", planned[0].id, "--quick"]) == 2
    assert "not implemented yet" in capsys.readouterr().err


def test_help_mentions_commands() -> None:
    text = build_parser().format_help()
    for word in ("list", "info", "reproduce"):
        assert word in text


def test_reproduce_writes_report(tmp_path: Path) -> None:
    tid = catalogue.implemented()[0].id
    code = main(["reproduce", tid, "--quick", "--no-progress", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["total"] == 1 and results["techniques"][0]["id"] == tid
    assert code == (0 if results["passed"] == 1 else 1)
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and tid in html
    md = (tmp_path / "report.md").read_text()
    assert f"## {tid}" in md and "Environment" in md
    assert (tmp_path / "figures" / f"{tid}.png").exists()
    env = results["environment"]
    assert env["seed"] == 0 and env["size"] == "quick" and "torch" in env["versions"]


def test_python_dash_m_kexue() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kexue", "list", "--all"], capture_output=True, text=True, check=True
    )
    assert "D2" in out.stdout


def test_reproduce_update_merges_reports(tmp_path: Path) -> None:
    done = catalogue.implemented()
    if len(done) < 2:
        pytest.skip("needs two implemented techniques")
    first, second = done[0].id, done[1].id
    quiet = ["--quick", "--no-progress", "--out", str(tmp_path)]
    main(["reproduce", first, *quiet])
    main(["reproduce", second, *quiet, "--update"])
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["id"] for r in results["techniques"]] == [first, second]
    assert results["total"] == 2
    main(["reproduce", second, *quiet])  # without --update the report holds only this run
    assert json.loads((tmp_path / "results.json").read_text())["total"] == 1
    assert main(["reproduce", second, "--seed", "3", *quiet, "--update"]) == 2  # seed mismatch


def test_quick_and_long_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["reproduce", "D2", "--quick", "--long"])
    assert "not allowed with" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    assert "--long" in capsys.readouterr().out


def test_broken_experiment_module_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kexue.experiments.runner import run_one

    monkeypatch.setattr(catalogue, "experiment_module", lambda _id: "kexue.experiments._no_such")
    outcome = run_one(catalogue.get("D2"), size="quick", figure_dir=tmp_path)
    assert outcome.verdict == "ERROR" and "ModuleNotFoundError" in (outcome.error or "")


def test_reproduce_long_without_long_config_runs_full(tmp_path: Path) -> None:
    from dataclasses import asdict

    from kexue.experiments.runner import load_experiment

    exp = load_experiment(catalogue.get("D2"))
    assert exp.long is None  # D2 has no LONG size: --long runs FULL and records size "long"
    main(["reproduce", "D2", "--long", "--no-progress", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["environment"]["size"] == "long"
    assert results["techniques"][0]["config"] == json.loads(json.dumps(asdict(exp.full)))
