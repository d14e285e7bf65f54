"""The contract every reproduction follows.

An experiment module ``kexue.experiments.<id>_<slug>`` (or a package of studies with the same name)
defines a frozen ``Config`` dataclass with a ``QUICK`` size (seconds, used by the tests), a ``FULL``
size (the default of ``kexue reproduce``, minutes at most) and, where a longer run says more, an
optional ``LONG`` size (``kexue reproduce --long``); a frozen ``Result`` dataclass (what ``run``
measured: named fields, table rows as named records); four functions and one module-level
``EXPERIMENT`` object::

    def run(config: Config, seed: int) -> Result                  # deterministic given seed
    def check(result: Result, config: Config) -> list[Check]      # the article's claim, gated
    def plot(result: Result) -> matplotlib.figure.Figure         # one figure, no pyplot
    def summary(result: Result) -> str                            # one line: our headline figure

``notes`` may be a function of the result, so that no measured number is typed into prose. A
``Result`` may carry ``tables: tuple[Table, ...]``; the report renders each. The article's own
figures live in the catalogue (:mod:`kexue.catalogue`), stated once. ``run`` must use only shipped or
generated data and must leave no process-wide state changed (the runner restores threads, RNG and
environment variables regardless; use :func:`num_threads` for a timing that needs one thread).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

__all__ = [
    "SIZES",
    "Check",
    "Experiment",
    "Table",
    "at_least",
    "at_most",
    "jsonable",
    "num_threads",
    "within",
]

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
class Table:
    """A table for the report: rows are records of one frozen dataclass; columns are its fields.

    Attributes:
        title: what the table shows (may be empty).
        rows: the records, in display order.
        headers: column headers, one per field (default: the field names).
    """

    title: str
    rows: Sequence[Any]
    headers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError("rows must hold at least one record")
        kinds = {type(r) for r in self.rows}
        if len(kinds) != 1 or not is_dataclass(self.rows[0]):
            raise TypeError("rows must be records of one dataclass type")
        if self.headers and len(self.headers) != len(fields(self.rows[0])):
            raise ValueError("headers must name every field of the row records")

    @property
    def columns(self) -> tuple[str, ...]:
        """The column headers."""
        return self.headers or tuple(f.name for f in fields(self.rows[0]))

    def to_json(self) -> dict[str, Any]:
        """``{"title", "columns", "rows"}`` with rows as lists, in field order (for the report)."""
        rows = [[jsonable(getattr(r, f.name)) for f in fields(r)] for r in self.rows]
        return {"title": self.title, "columns": list(self.columns), "rows": rows}


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(n)`` and restore the previous count afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Experiment(Generic[C]):
    """A registered reproduction of one article's claim.

    Attributes:
        id: the technique id (``"D2"``).
        title: what the experiment does, one line.
        quick: the small configuration (seconds; used by tests and ``--quick``).
        full: the default configuration of ``kexue reproduce``.
        long: a longer configuration for ``kexue reproduce --long`` (``None``: same as ``full``).
        run, check, plot, summary: see the module docstring.
        data: the data the experiment uses, in words (for the report).
        notes: where the implementation departs from the article, and why: text, or a function of
            the result (so measured numbers come from the run, not typed into prose).
    """

    id: str
    title: str
    quick: C
    full: C
    run: Callable[[C, int], Any]
    check: Callable[[Any, C], list[Check]]
    plot: Callable[..., Any]
    summary: Callable[[Any], str]
    data: str = ""
    notes: str | Callable[[Any], str] = field(default="")
    long: C | None = None

    def notes_for(self, result: Any) -> str:
        """The notes, generated from ``result`` when :attr:`notes` is a function."""
        return self.notes(result) if callable(self.notes) else self.notes

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
    if isinstance(obj, Table):
        return obj.to_json()
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in fields(obj)}
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
