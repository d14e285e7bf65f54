"""The command-line interface: list/info are instant and torch-free; reproduce writes a report."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
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
    assert t.article in out and t.url in out


@pytest.mark.parametrize("tid", [t.id for t in catalogue.TECHNIQUES])
def test_info_shows_only_what_a_user_has(tid: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", tid]) == 0
    out = capsys.readouterr().out
    for local in ("shared/", "/work/", "../", ".md"):
        assert local not in out, f"kexue info {tid} mentions {local!r}"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from kexue import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"kexue {__version__}"


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


def _fake_outcomes(monkeypatch: pytest.MonkeyPatch, verdicts: dict[str, str]) -> None:
    """Make ``run_one`` return an outcome of the given verdict for each technique id."""
    from kexue.experiments import runner
    from kexue.experiments.base import Check

    def run_one(t: catalogue.Technique, **_: object) -> runner.Outcome:
        verdict = verdicts[t.id]
        logging.getLogger("kexue.experiments.fake").info("%s: stage 1/1", t.id)
        logging.getLogger("kexue.experiments.fake").debug("%s: debug detail", t.id)
        logging.getLogger("matplotlib.font_manager").debug("findfont: score(...)")
        logging.getLogger("some.library").info("library chatter")
        outcome = runner.Outcome(t, "fake", "", "", {}, threads=1)
        if verdict == "SKIPPED":
            outcome.skipped = "missing data: apt-get install wordnet-base"
        elif verdict == "ERROR":
            try:
                raise ValueError("bad size")
            except ValueError:
                logging.getLogger("kexue.experiments.runner").error(
                    "experiment %s failed: ValueError: bad size", t.id, exc_info=True
                )
            outcome.error = "ValueError: bad size"
        else:
            outcome.checks = [Check("x", 1.0, ">= 0", verdict == "PASS")]
        return outcome

    monkeypatch.setattr(runner, "run_one", run_one)


@pytest.mark.parametrize(
    ("verdicts", "code", "line"),
    [
        ({"D2": "PASS", "A7": "SKIPPED"}, 0, "1/2 claims reproduced, 1 skipped (missing data)"),
        ({"D2": "PASS", "B1": "PASS"}, 0, "2/2 claims reproduced, 0 skipped (missing data)"),
        (
            {"D2": "PASS", "B1": "FAIL"},
            1,
            "1/2 claims reproduced, 0 skipped (missing data), 1 failed",
        ),
        (
            {"D2": "ERROR", "A7": "SKIPPED"},
            1,
            "0/2 claims reproduced, 1 skipped (missing data), 1 errors",
        ),
    ],
)
def test_exit_code_counts_skipped_as_success(
    verdicts: dict[str, str],
    code: int,
    line: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fake_outcomes(monkeypatch, verdicts)
    assert main(["reproduce", *verdicts, "--no-progress", "--out", str(tmp_path)]) == code
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith(line + ";")
    if "SKIPPED" in verdicts.values():
        assert "SKIPPED (missing data: apt-get install wordnet-base)" in out


def test_logging_shows_kexue_info_not_other_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_outcomes(monkeypatch, {"D2": "ERROR"})
    root, ours = logging.getLogger(), logging.getLogger("kexue")
    before = (root.level, list(root.handlers), ours.level, warnings.showwarning)
    main(["reproduce", "D2", "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert "D2: stage 1/1" in err and "failed: ValueError: bad size" in err
    assert "debug detail" not in err and "Traceback" not in err
    assert "findfont" not in err and "library chatter" not in err
    log = (tmp_path / "reproduce.log").read_text(encoding="utf-8")
    assert "D2: stage 1/1" in log and "debug detail" in log
    assert "Traceback (most recent call last)" in log and "findfont" not in log
    assert (root.level, list(root.handlers), ours.level, warnings.showwarning) == before


def test_verbose_shows_kexue_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_outcomes(monkeypatch, {"D2": "PASS"})
    main(["reproduce", "D2", "-v", "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert "D2: debug detail" in err and "findfont" not in err and "library chatter" not in err
    main(["-v", "reproduce", "D2", "--no-progress", "--out", str(tmp_path)])
    assert "D2: debug detail" in capsys.readouterr().err


def test_log_lines_go_through_tqdm_write(monkeypatch: pytest.MonkeyPatch) -> None:
    from kexue import cli

    written: list[str] = []
    monkeypatch.setattr(
        cli.tqdm, "write", lambda s, file=None, end="\n", nolock=False: written.append(s)
    )
    handler = cli.TqdmHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    handler.emit(
        logging.LogRecord("kexue.x", logging.INFO, __file__, 1, "hello %s", ("bar",), None)
    )
    assert written == ["kexue.x: hello bar"]
