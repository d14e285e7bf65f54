"""Run registered reproductions and collect their outcomes."""

from __future__ import annotations

import importlib
import logging
import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kexue.experiments.base import Check, Experiment, jsonable
from kexue.registry import Technique

__all__ = ["Outcome", "load_experiment", "run_one", "seed_everything"]

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one reproduction produced."""

    technique: Technique
    title: str
    article_figure: str
    data: str
    notes: str
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    summary: str = ""
    figure: str | None = None
    runtime_s: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        """True when the run finished and every check passed."""
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "ERROR"
        return "PASS" if self.passed else "FAIL"

    def to_json(self) -> dict[str, Any]:
        t = self.technique
        return {
            "id": t.id,
            "name": t.name,
            "family": t.family,
            "article": t.article,
            "url": t.url,
            "claim": t.claim,
            "title": self.title,
            "article_figure": self.article_figure,
            "data": self.data,
            "notes": self.notes,
            "config": jsonable(self.config),
            "summary": self.summary,
            "verdict": self.verdict,
            "checks": [jsonable(c) for c in self.checks],
            "metrics": jsonable(self.metrics),
            "figure": self.figure,
            "runtime_s": round(self.runtime_s, 3),
            "error": self.error,
        }


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch global generators."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - code that uses the legacy global RNG
    torch.manual_seed(seed)


def load_experiment(technique: Technique) -> Experiment[Any]:
    """Import the experiment module named by ``technique`` and return its ``EXPERIMENT``."""
    if technique.experiment is None:
        raise ValueError(f"technique {technique.id} has no registered experiment yet (planned)")
    module = importlib.import_module(technique.experiment)
    exp = getattr(module, "EXPERIMENT", None)
    if not isinstance(exp, Experiment):
        raise TypeError(f"{technique.experiment} must define EXPERIMENT = Experiment(...)")
    if exp.id != technique.id:
        raise ValueError(
            f"{technique.experiment}.EXPERIMENT.id is {exp.id!r}, not {technique.id!r}"
        )
    return exp


def run_one(
    technique: Technique, *, size: str = "full", seed: int = 0, figure_dir: Path | None = None
) -> Outcome:
    """Run, check and plot one reproduction; failures are captured in ``Outcome.error``."""
    from dataclasses import asdict

    try:
        exp = load_experiment(technique)
        config = exp.config(size)
    except Exception as exc:  # a broken experiment module must not stop the others either
        log.error("experiment %s failed to load:\n%s", technique.id, traceback.format_exc())
        return Outcome(
            technique, technique.name, "", "", "", {}, error=f"{type(exc).__name__}: {exc}"
        )
    outcome = Outcome(
        technique=technique,
        title=exp.title,
        article_figure=exp.article_figure,
        data=exp.data,
        notes=exp.notes,
        config=asdict(config),
    )
    seed_everything(seed)
    start = time.perf_counter()
    try:
        outcome.metrics = exp.run(config, seed)
        outcome.runtime_s = time.perf_counter() - start
        outcome.checks = exp.check(outcome.metrics, config)
        outcome.summary = exp.summary(outcome.metrics)
        if figure_dir is not None:
            figure_dir.mkdir(parents=True, exist_ok=True)
            path = figure_dir / f"{technique.id}.png"
            exp.plot(outcome.metrics, path)
            outcome.figure = f"{figure_dir.name}/{path.name}"
    except Exception as exc:  # a failing experiment must not stop the others
        outcome.runtime_s = time.perf_counter() - start
        outcome.error = f"{type(exc).__name__}: {exc}"
        log.error("experiment %s failed:\n%s", technique.id, traceback.format_exc())
    return outcome
