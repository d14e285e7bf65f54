"""Catalogue-wide conformance: every implemented technique meets the same bar and the same layout.

The layout rules (the catalogue names modules; everything else is found by convention):

- every public module of a component package belongs to exactly one technique, and every name in
  its ``__all__`` is defined there (one import path per name) and re-exported flat by its package;
- a technique's family is the folder of its primary module; each module has its mirrored test file
  (``kexue/geometry/gaussian.py`` → ``tests/geometry/test_gaussian.py``); the experiment is
  ``experiments/<id>_*``; a benchmark, where there is one, is ``bench/bench_<id>_*.py``;
- the article's figures are stated once, in the catalogue: not repeated in the claim nor typed into
  the experiment's source.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from kexue import catalogue
from kexue.experiments.base import Check, Experiment
from kexue.experiments.runner import load_experiment, run_one

from .conformance.case import Case

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "kexue"
COMPONENT_PACKAGES = ("nn", "transformer", "losses", "optim", "geometry", "stats", "models")
IMPLEMENTED = catalogue.implemented()
IDS = [t.id for t in IMPLEMENTED]


def _public_modules() -> list[str]:
    out = []
    for pkg in COMPONENT_PACKAGES:
        if not (SRC / pkg / "__init__.py").exists():
            continue
        for info in pkgutil.iter_modules([str(SRC / pkg)]):
            if not info.name.startswith("_"):
                out.append(f"kexue.{pkg}.{info.name}")
    return sorted(out)


def _cases(tid: str) -> list[Case]:
    mod = importlib.import_module(f"tests.conformance.case_{tid.lower()}")
    cases = mod.CASES
    assert cases, f"tests/conformance/case_{tid.lower()}.py declares no CASES"
    return list(cases)


def test_catalogue_ids_unique_and_well_formed() -> None:
    ids = [t.id for t in catalogue.TECHNIQUES]
    assert len(ids) == len(set(ids))
    for t in catalogue.TECHNIQUES:
        assert re.fullmatch(r"[A-F]\d", t.id)
        assert t.name and t.claim and t.article


def test_unknown_id_lists_valid_ones() -> None:
    with pytest.raises(KeyError, match="valid ids: A1"):
        catalogue.get("Z9")


def test_something_is_implemented() -> None:
    assert IMPLEMENTED, "no technique is implemented"


def test_every_public_module_belongs_to_exactly_one_technique() -> None:
    owners: dict[str, list[str]] = {}
    for t in catalogue.TECHNIQUES:
        for m in t.modules:
            owners.setdefault(m, []).append(t.id)
    modules = _public_modules()
    orphans = [m for m in modules if m not in owners]
    shared = {m: ids for m, ids in owners.items() if len(ids) > 1}
    unknown = [m for m in owners if m not in modules]
    assert not orphans, f"public modules that no technique names: {orphans}"
    assert not shared, f"modules named by two techniques: {shared}"
    assert not unknown, f"catalogue names modules that do not exist: {unknown}"


@pytest.mark.parametrize("module", _public_modules())
def test_public_names_defined_in_their_module_and_reexported_flat(module: str) -> None:
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    assert names, f"{module} has no __all__"
    assert tuple(names) == catalogue.module_all(module)
    package = importlib.import_module(module.rsplit(".", 1)[0])
    for name in names:
        obj = getattr(mod, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__ == module, f"{module}.{name} is defined in {obj.__module__}"
        assert getattr(package, name, None) is obj, f"{package.__name__} does not re-export {name}"
        assert name in package.__all__, f"{package.__name__}.__all__ lacks {name}"


def test_each_public_name_has_one_home() -> None:
    homes: dict[str, list[str]] = {}
    for module in _public_modules():
        for name in catalogue.module_all(module):
            homes.setdefault(name, []).append(module)
    twice = {n: ms for n, ms in homes.items() if len(ms) > 1}
    assert not twice, f"public names exported by two modules: {twice}"


@pytest.mark.parametrize("tid", IDS)
def test_layout_follows_the_naming(tid: str) -> None:
    t = catalogue.get(tid)
    assert t.family in COMPONENT_PACKAGES
    for module in t.modules:
        _, pkg, name = module.split(".")
        assert (ROOT / "tests" / pkg / f"test_{name}.py").is_file(), f"{module} has no test file"
    assert t.experiment and t.experiment.startswith(f"kexue.experiments.{tid.lower()}_")
    benches = sorted((ROOT / "bench").glob(f"bench_{tid.lower()}_*.py"))
    assert len(benches) <= 1, f"{tid} has several benchmarks: {benches}"


def test_every_benchmark_and_experiment_names_a_technique() -> None:
    ids = {t.id.lower() for t in catalogue.TECHNIQUES}
    for path in (ROOT / "bench").glob("bench_*.py"):
        assert path.name.split("_")[1] in ids, f"{path.name} names no technique"
    for info in pkgutil.iter_modules([str(SRC / "experiments")]):
        if not info.name.startswith("_") and info.name not in ("base", "runner"):
            assert info.name.split("_")[0] in ids, f"experiments/{info.name} names no technique"


def test_tests_mirror_the_source_tree() -> None:
    missing = []
    for pkg in (*COMPONENT_PACKAGES, "data"):
        for path in sorted((SRC / pkg).glob("[!_]*.py")) if (SRC / pkg).is_dir() else []:
            if not (ROOT / "tests" / pkg / f"test_{path.stem}.py").is_file():
                missing.append(f"{pkg}/{path.name}")
    stray = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").glob("*/test_*.py")
        if p.parent.name not in (*COMPONENT_PACKAGES, "data", "experiments")
    ]
    assert not missing, f"source modules without a mirrored test file: {missing}"
    assert not stray, f"test folders with no source twin: {stray}"


_FIGURE = re.compile(r"(?<![\w.])\d+\.\d{2,}(?![\w])|(?<![\w.])\d{3,}(?:,\d{3})+(?![\w])")


def _figures(text: str) -> set[str]:
    """Numbers with two or more decimals (or thousands separators): the article's own figures."""
    return set(_FIGURE.findall(text))


@pytest.mark.parametrize("tid", IDS)
def test_article_figures_are_stated_once(tid: str) -> None:
    t = catalogue.get(tid)
    figures = _figures(t.article_figure)
    in_claim = figures & _figures(t.claim)
    assert not in_claim, f"{tid}: the claim repeats the article's figures {sorted(in_claim)}"
    source = Path(importlib.import_module(t.experiment or "").__file__ or "")
    files = sorted(source.parent.glob("*.py")) if source.name == "__init__.py" else [source]
    typed = set().union(*(_figures(f.read_text(encoding="utf-8")) for f in files)) & figures
    assert not typed, f"{tid}: the experiment types the article's figures {sorted(typed)} again"


@pytest.mark.parametrize("tid", IDS)
def test_public_api_documented_with_reference(tid: str) -> None:
    for path in catalogue.get(tid).api:
        module, _, name = path.rpartition(".")
        obj = getattr(importlib.import_module(module), name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        doc = inspect.getdoc(obj) or ""
        assert doc, f"{path} has no docstring"
        assert "Reference:" in doc or "References:" in doc or "kexue.fm" in doc, (
            f"{path} docstring lacks Reference:"
        )


@pytest.mark.parametrize("tid", IDS)
def test_experiment_contract(tid: str) -> None:
    exp = load_experiment(catalogue.get(tid))
    assert isinstance(exp, Experiment)
    assert is_dataclass(exp.quick) and is_dataclass(exp.full)
    assert type(exp.quick) is type(exp.full)
    if exp.long is not None:  # --long: same Config type, a different (longer) setting
        assert type(exp.long) is type(exp.full) and exp.long != exp.full
    for f in fields(exp.quick):  # frozen configs
        with pytest.raises(AttributeError):
            setattr(exp.quick, f.name, getattr(exp.quick, f.name))
    assert exp.title and catalogue.get(tid).article_figure


@pytest.mark.parametrize("tid", IDS)
def test_experiment_passes_in_quick_mode(tid: str, tmp_path: Any) -> None:
    outcome = run_one(catalogue.get(tid), size="quick", seed=0, figure_dir=tmp_path)
    assert outcome.error is None, outcome.error
    assert outcome.checks and all(isinstance(c, Check) for c in outcome.checks)
    failed = [str(c) for c in outcome.checks if not c.passed]
    assert not failed, failed
    assert (tmp_path / f"{tid}.png").stat().st_size > 1000
    assert outcome.summary


def _tensors(x: Any) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, tuple | list):
        return [t for item in x for t in _tensors(item)]
    if isinstance(x, dict):
        return [t for item in x.values() for t in _tensors(item)]
    return []


def _all_cases() -> list[Any]:
    return [pytest.param(c, id=f"{tid}-{c.name}") for tid in IDS for c in _cases(tid)]


@pytest.mark.parametrize("case", _all_cases())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_follow_inputs(case: Case, dtype: torch.dtype) -> None:
    args, kwargs = case.make_args(dtype)
    out = case.output(case.fn(*args, **kwargs))
    outs = [t for t in _tensors(out) if t.is_floating_point()]
    assert outs, f"{case.name} returned no floating tensor"
    for t in outs:
        assert t.device == torch.device("cpu")
        if case.dtype_follows:
            assert t.dtype == dtype, f"{case.name}: output {t.dtype} for {dtype} input"
        assert torch.isfinite(t).all()


@pytest.mark.parametrize("case", [c for c in _all_cases() if c.values[0].module is not None])
def test_module_matches_functional(case: Case) -> None:
    assert case.module is not None
    args, kwargs = case.make_args(torch.float64)
    expected = _tensors(case.output(case.fn(*args, **kwargs)))
    got = _tensors(case.output(case.module()(*args, **kwargs)))
    assert len(expected) == len(got)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


def _bad_params() -> list[Any]:
    return [
        pytest.param(c, b, id=f"{tid}-{c.name}-{b.label}")
        for tid in IDS
        for c in _cases(tid)
        for b in c.bad
    ]


@pytest.mark.parametrize(("case", "bad"), _bad_params())
def test_bad_input_raises_naming_argument(case: Case, bad: Any) -> None:
    with pytest.raises(bad.error) as info:
        case.fn(*bad.args, **bad.kwargs)
    assert bad.arg in str(info.value), f"message {info.value!s} does not name {bad.arg!r}"


@pytest.mark.parametrize("tid", IDS)
def test_each_case_declares_bad_inputs(tid: str) -> None:
    kinds = {b.error for c in _cases(tid) for b in c.bad}
    assert ValueError in kinds and TypeError in kinds, (
        f"{tid}: conformance cases must cover a ValueError (shape/NaN/empty) and a TypeError"
    )
