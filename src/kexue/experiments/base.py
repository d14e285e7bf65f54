"""The contract every reproduction follows.

An experiment module ``kexue.experiments.<id>_<slug>`` defines a frozen ``Config`` dataclass with a
``QUICK`` size (seconds, used by the tests), a ``FULL`` size (the default of ``kexue reproduce``,
minutes at most) and, where a longer run says more, an optional ``LONG`` size (``kexue reproduce
--long``), three functions and one module-level ``EXPERIMENT`` object::

    def run(config: Config, seed: int) -> dict[str, Any]        # the measured numbers, JSON-able
    def check(metrics: dict[str, Any], config: Config) -> list[Check]   # the article's claim, gated
    def plot(metrics: dict[str, Any], path: Path) -> None      # one PNG figure
    def summary(metrics: dict[str, Any]) -> str                # one line: our headline figure

``run`` must be deterministic given ``seed`` and must use only bundled or generated data.
Optional key ``metrics["table"] = {"columns": [...], "rows": [[...], ...]}`` (or a list of such
tables, each with an optional ``"title"``) is rendered in the report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

__all__ = ["SIZES", "Check", "Experiment", "at_least", "at_most", "jsonable", "within"]

C = TypeVar("C")

SIZES = ("quick", "full", "long")
"""The run sizes, smallest first: tests, the default ``kexue reproduce``, ``--long``."""


@dataclass(frozen=True)
class Check:
    """One gated comparison of a measured number with the article's claim.

    Attributes:
        name: what is compared, in words.
        measured: the number the code measured.
        target: the acceptance rule in words, e.g. ``"<= 1e-10"``.
        passed: whether ``measured`` satisfies ``target``.
        article: the article's own figure for this quantity, when it gives one.
    """

    name: str
    measured: float
    target: str
    passed: bool
    article: str = ""

    def __str__(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        art = f" (article: {self.article})" if self.article else ""
        return f"[{mark}] {self.name}: {self.measured:.6g} (target {self.target}){art}"


def _finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def at_most(name: str, measured: float, bound: float, article: str = "") -> Check:
    """Pass when ``measured <= bound`` (NaN fails)."""
    m = float(measured)
    return Check(name, m, f"<= {bound:.4g}", _finite(m) and m <= bound, article)


def at_least(name: str, measured: float, bound: float, article: str = "") -> Check:
    """Pass when ``measured >= bound`` (NaN fails)."""
    m = float(measured)
    return Check(name, m, f">= {bound:.4g}", _finite(m) and m >= bound, article)


def within(name: str, measured: float, low: float, high: float, article: str = "") -> Check:
    """Pass when ``low <= measured <= high`` (NaN fails)."""
    m = float(measured)
    return Check(name, m, f"in [{low:.4g}, {high:.4g}]", _finite(m) and low <= m <= high, article)


@dataclass(frozen=True)
class Experiment(Generic[C]):
    """A registered reproduction of one article's claim.

    Attributes:
        id: the technique id (``"D2"``).
        title: what the experiment does, one line.
        article_figure: the article's own figure(s) for the claim, in words ("no experiments" if none).
        quick: the small configuration (seconds; used by tests and ``--quick``).
        full: the default configuration of ``kexue reproduce``.
        long: a longer configuration for ``kexue reproduce --long`` (``None``: same as ``full``).
        run, check, plot, summary: see the module docstring.
        data: the data the experiment uses, in words (for the report).
        notes: where the implementation departs from the article, and why.
    """

    id: str
    title: str
    article_figure: str
    quick: C
    full: C
    run: Callable[[C, int], dict[str, Any]]
    check: Callable[[dict[str, Any], C], list[Check]]
    plot: Callable[[dict[str, Any], Path], None]
    summary: Callable[[dict[str, Any]], str]
    data: str = ""
    notes: str = field(default="")
    long: C | None = None

    def config(self, size: str) -> C:
        """The configuration of ``size`` (one of :data:`SIZES`)."""
        if size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
        if size == "quick":
            return self.quick
        if size == "long" and self.long is not None:
            return self.long
        return self.full


def jsonable(obj: Any) -> Any:
    """Convert tensors, arrays, numpy scalars and dataclasses into JSON-serialisable values."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    if hasattr(obj, "tolist"):  # torch.Tensor, numpy arrays and scalars
        return jsonable(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} into results.json")
