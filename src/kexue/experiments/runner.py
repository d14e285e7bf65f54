"""Run registered reproductions in isolation and collect their outcomes.

Each run starts from the same process state and leaves none changed: the runner seeds Python, NumPy
and torch, and afterwards restores torch's thread count, default dtype and grad mode, every global
RNG state and the environment variables (experiments may set ``HF_HUB_OFFLINE`` and the like). A
source missing from this machine (:class:`kexue.data.MissingDataError`) makes the outcome SKIPPED,
not FAILED; its traceback goes to the log.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from kexue.catalogue import Technique
from kexue.experiments.base import Check, Experiment, Table, jsonable

__all__ = ["Outcome", "isolated", "load_experiment", "run_one", "seed_everything"]

log = logging.getLogger(__name__)

FIGURE_DPI = 110


@dataclass
class Outcome:
    """What one reproduction produced."""

    technique: Technique
    title: str
    data: str
    notes: str
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    summary: str = ""
    figure: str | None = None
    runtime_s: float = 0.0
    error: str | None = None
    skipped: str | None = None
    threads: int = 0

    @property
    def article_figure(self) -> str:
        """The article's own figures, from the catalogue."""
        return self.technique.article_figure

    @property
    def passed(self) -> bool:
        """True when the run finished and every check passed."""
        return (
            self.error is None
            and self.skipped is None
            and bool(self.checks)
            and all(c.passed for c in self.checks)
        )

    @property
    def verdict(self) -> str:
        if self.skipped is not None:
            return "SKIPPED"
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
            "threads": self.threads,
            "error": self.error,
            "skipped": self.skipped,
        }


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch global generators."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - code that uses the legacy global RNG
    torch.manual_seed(seed)


@contextlib.contextmanager
def isolated() -> Iterator[None]:
    """Restore torch's settings, the global RNG states and ``os.environ`` on exit.

    Restored: torch's intra-op thread count, default dtype and grad mode; the Python, NumPy, torch
    (and, once initialised, CUDA) generators; every environment variable (added ones removed).
    torch's inter-op thread count can be set only once per process, so there is nothing to restore.
    """
    import numpy as np
    import torch

    threads = torch.get_num_threads()
    dtype, grad = torch.get_default_dtype(), torch.is_grad_enabled()
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    torch_state = torch.random.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    environ = dict(os.environ)
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            log.debug("restoring torch threads %d -> %d", torch.get_num_threads(), threads)
            torch.set_num_threads(threads)
        torch.set_default_dtype(dtype)
        torch.set_grad_enabled(grad)
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002
        torch.random.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        for key in set(os.environ) - set(environ):
            del os.environ[key]
        os.environ.update(environ)


def load_experiment(technique: Technique) -> Experiment[Any]:
    """Import the experiment module found for ``technique`` and return its ``EXPERIMENT``."""
    name = technique.experiment
    if name is None:
        raise ValueError(f"technique {technique.id} has no experiment yet (planned)")
    module = importlib.import_module(name)
    exp = getattr(module, "EXPERIMENT", None)
    if not isinstance(exp, Experiment):
        raise TypeError(f"{name} must define EXPERIMENT = Experiment(...)")
    if exp.id != technique.id:
        raise ValueError(f"{name}.EXPERIMENT.id is {exp.id!r}, not {technique.id!r}")
    return exp


def _metrics(result: Any) -> dict[str, Any]:
    """The JSON form of a typed result, its tables under ``"table"`` for the report."""
    if not is_dataclass(result) or isinstance(result, type):
        raise TypeError(f"run must return a Result dataclass, got {type(result).__name__}")
    if not type(result).__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(
            f"run must return a frozen dataclass; {type(result).__name__} is not frozen"
        )
    metrics = jsonable(result)
    tables = getattr(result, "tables", ())
    if tables:
        metrics["table"] = [t.to_json() for t in tables if isinstance(t, Table)]
    metrics.pop("tables", None)
    return metrics


def _save_figure(exp: Experiment[Any], result: Any, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = exp.plot(result)
    if not isinstance(fig, Figure):
        raise TypeError(f"plot must return a matplotlib Figure, got {type(fig).__name__}")
    fig.savefig(path, dpi=FIGURE_DPI)


def run_one(
    technique: Technique, *, size: str = "full", seed: int = 0, figure_dir: Path | None = None
) -> Outcome:
    """Run, check and plot one reproduction in isolation; failures are captured in the outcome."""
    from kexue.data.locate import MissingDataError

    try:
        exp = load_experiment(technique)
        config = exp.config(size)
    except Exception as exc:  # a broken experiment module must not stop the others either
        log.error("experiment %s failed to load: %s", technique.id, exc, exc_info=True)
        return Outcome(technique, technique.name, "", "", {}, error=f"{type(exc).__name__}: {exc}")
    outcome = Outcome(
        technique=technique,
        title=exp.title,
        data=exp.data,
        notes=exp.notes if isinstance(exp.notes, str) else "",
        config=asdict(config),
    )
    import torch

    with isolated():
        seed_everything(seed)
        outcome.threads = torch.get_num_threads()
        start = time.perf_counter()
        try:
            result = exp.run(config, seed)
            outcome.runtime_s = time.perf_counter() - start
            outcome.metrics = _metrics(result)
            outcome.checks = exp.check(result, config)
            outcome.summary = exp.summary(result)
            outcome.notes = exp.notes_for(result)
            if figure_dir is not None:
                figure_dir.mkdir(parents=True, exist_ok=True)
                path = figure_dir / f"{technique.id}.png"
                _save_figure(exp, result, path)
                outcome.figure = f"{figure_dir.name}/{path.name}"
        except MissingDataError as exc:
            outcome.runtime_s = time.perf_counter() - start
            outcome.skipped = f"missing data: {exc.install}"
            log.info("experiment %s skipped (%s)", technique.id, outcome.skipped, exc_info=True)
        except Exception as exc:  # a failing experiment must not stop the others
            outcome.runtime_s = time.perf_counter() - start
            outcome.error = f"{type(exc).__name__}: {exc}"
            log.error("experiment %s failed: %s", technique.id, outcome.error, exc_info=True)
    return outcome
