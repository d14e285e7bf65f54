"""The runner: each run is isolated (threads, RNG, environment) and missing data means SKIPPED."""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from kexue import catalogue
from kexue.data import MissingDataError
from kexue.experiments import runner
from kexue.experiments.base import Check, Experiment, Table, num_threads
from kexue.experiments.runner import Outcome, isolated, run_one, seed_everything

ENV_SET = "KEXUE_TEST_RUNNER_SET"
ENV_REMOVED = "KEXUE_TEST_RUNNER_REMOVED"


@dataclass(frozen=True)
class Config:
    n: int = 3


@dataclass(frozen=True)
class Row:
    name: str
    value: float


@dataclass(frozen=True)
class Result:
    draws: tuple[float, ...]
    tables: tuple[Table, ...] = ()


def _check(result: Result, config: Config) -> list[Check]:
    return [
        Check("draws", float(len(result.draws)), f"== {config.n}", len(result.draws) == config.n)
    ]


def _plot(result: Result) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.subplots().plot(result.draws)
    return fig


def _fake(run: Any) -> Experiment[Config]:
    return Experiment(
        id="D2",
        title="fake experiment",
        quick=Config(),
        full=Config(),
        run=run,
        check=_check,
        plot=_plot,
        summary=lambda r: f"{len(r.draws)} draws",
    )


def _use(monkeypatch: pytest.MonkeyPatch, run: Any) -> None:
    monkeypatch.setattr(runner, "load_experiment", lambda _t: _fake(run))


def _careless_run(config: Config, seed: int) -> Result:
    """What a careless experiment does to the process: every change must be undone by the runner."""
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    torch.set_grad_enabled(False)
    os.environ[ENV_SET] = "1"
    os.environ.pop(ENV_REMOVED, None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    draws = [random.random(), float(np.random.rand()), float(torch.rand(()))]  # noqa: NPY002
    return Result(tuple(draws[: config.n]), (Table("rows", [Row("a", 1.0)]),))


def _process_state() -> dict[str, Any]:
    return {
        "threads": torch.get_num_threads(),
        "dtype": torch.get_default_dtype(),
        "grad": torch.is_grad_enabled(),
        "environ": dict(os.environ),
        "python": random.getstate(),
        "numpy": np.random.get_state()[1].tolist(),  # noqa: NPY002
        "torch": torch.random.get_rng_state().tolist(),
    }


def test_run_leaves_process_state_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, _careless_run)
    monkeypatch.setenv(ENV_REMOVED, "keep me")
    monkeypatch.delenv(ENV_SET, raising=False)
    with num_threads(2):
        before = _process_state()
        outcome = run_one(catalogue.get("D2"), size="quick")
        after = _process_state()
    assert outcome.verdict == "PASS", outcome.error
    assert outcome.threads == 2  # the count the run started with, not the one it left behind
    assert after == before
    assert os.environ[ENV_REMOVED] == "keep me" and ENV_SET not in os.environ


def test_runs_are_seeded_identically(monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, _careless_run)
    first = run_one(catalogue.get("D2"), size="quick", seed=5)
    random.random()  # the caller's own draws do not leak into the next run
    second = run_one(catalogue.get("D2"), size="quick", seed=5)
    assert first.metrics["draws"] == second.metrics["draws"]
    assert first.metrics["table"] == [
        {"title": "rows", "columns": ["name", "value"], "rows": [["a", 1.0]]}
    ]


def test_isolated_restores_after_an_exception() -> None:
    state = _process_state()
    with pytest.raises(RuntimeError), isolated():
        seed_everything(1)
        os.environ[ENV_SET] = "1"
        raise RuntimeError("boom")
    assert _process_state() == state


def test_missing_data_is_skipped_not_failed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    install = "apt-get install wordnet-base"

    def run(config: Config, seed: int) -> Result:
        raise MissingDataError("/usr/share/wordnet/data.noun is missing", install)

    _use(monkeypatch, run)
    with caplog.at_level(logging.DEBUG, logger="kexue"):
        outcome = run_one(catalogue.get("D2"), size="quick")
    assert outcome.verdict == "SKIPPED" and not outcome.passed
    assert outcome.skipped == f"missing data: {install}" and outcome.error is None
    assert outcome.to_json()["skipped"] == f"missing data: {install}"
    record = next(r for r in caplog.records if "skipped" in r.getMessage())
    assert record.exc_info is not None  # the traceback goes to the log, not into the outcome


def test_failure_is_an_error_with_traceback_in_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def run(config: Config, seed: int) -> Result:
        raise ValueError("bad size")

    _use(monkeypatch, run)
    with caplog.at_level(logging.ERROR, logger="kexue"):
        outcome = run_one(catalogue.get("D2"), size="quick")
    assert outcome.verdict == "ERROR" and outcome.error == "ValueError: bad size"
    assert "\n" not in outcome.error
    assert any(r.exc_info for r in caplog.records)


def test_figure_is_saved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    _use(monkeypatch, _careless_run)
    outcome = run_one(catalogue.get("D2"), size="quick", figure_dir=tmp_path / "figures")
    assert outcome.figure == "figures/D2.png"
    assert (tmp_path / "figures" / "D2.png").read_bytes().startswith(b"\x89PNG")


def test_outcome_verdicts() -> None:
    t = catalogue.get("D2")
    ok = Check("x", 1.0, ">= 0", True)
    bad = Check("x", -1.0, ">= 0", False)
    assert Outcome(t, "", "", "", {}, checks=[ok]).verdict == "PASS"
    assert Outcome(t, "", "", "", {}, checks=[ok, bad]).verdict == "FAIL"
    assert Outcome(t, "", "", "", {}).verdict == "FAIL"  # no check proves nothing
    assert Outcome(t, "", "", "", {}, error="E: x").verdict == "ERROR"
    assert Outcome(t, "", "", "", {}, skipped="missing data: x").verdict == "SKIPPED"


@dataclass
class _MutableResult:
    draws: tuple[float, ...]


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (lambda c, s: {"draws": [1.0, 2.0, 3.0]}, "Result dataclass"),
        (lambda c, s: _MutableResult((1.0, 2.0, 3.0)), "frozen"),
    ],
    ids=["dict", "mutable"],
)
def test_contract_violations_are_errors(
    monkeypatch: pytest.MonkeyPatch, run: Any, message: str
) -> None:
    _use(monkeypatch, run)
    outcome = run_one(catalogue.get("D2"), size="quick")
    assert outcome.verdict == "ERROR" and message in (outcome.error or "")


def test_plot_must_return_a_figure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    exp = _fake(lambda c, s: Result((1.0, 2.0, 3.0)))
    monkeypatch.setattr(
        runner, "load_experiment", lambda _t: Experiment(**{**exp.__dict__, "plot": lambda r: None})
    )
    outcome = run_one(catalogue.get("D2"), size="quick", figure_dir=tmp_path)
    assert outcome.verdict == "ERROR" and "matplotlib Figure" in (outcome.error or "")
