"""Registry-wide conformance: every implemented technique meets the same bar."""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import fields, is_dataclass
from typing import Any

import pytest
import torch

from kexue import registry
from kexue.experiments.base import Check, Experiment
from kexue.experiments.runner import load_experiment, run_one

from .conformance.case import Case

IMPLEMENTED = registry.implemented()
IDS = [t.id for t in IMPLEMENTED]


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _cases(tid: str) -> list[Case]:
    mod = importlib.import_module(f"tests.conformance.case_{tid.lower()}")
    cases = mod.CASES
    assert cases, f"tests/conformance/case_{tid.lower()}.py declares no CASES"
    return list(cases)


def test_registry_ids_unique_and_well_formed() -> None:
    ids = [t.id for t in registry.TECHNIQUES]
    assert len(ids) == len(set(ids))
    for t in registry.TECHNIQUES:
        assert re.fullmatch(r"[A-F]\d", t.id)
        assert t.name and t.claim and t.spec.startswith("spec/")


def test_unknown_id_lists_valid_ones() -> None:
    with pytest.raises(KeyError, match="valid ids: A1"):
        registry.get("Z9")


def test_something_is_implemented() -> None:
    assert IMPLEMENTED, "no technique is implemented"


@pytest.mark.parametrize("tid", IDS)
def test_callables_documented_with_reference(tid: str) -> None:
    for target in registry.get(tid).callables:
        obj = _resolve(target)
        doc = inspect.getdoc(obj) or ""
        assert doc, f"{target} has no docstring"
        assert "Reference:" in doc or "References:" in doc, f"{target} docstring lacks Reference:"
        assert "kexue.fm" in doc, f"{target} docstring does not cite the kexue.fm article"


@pytest.mark.parametrize("tid", IDS)
def test_experiment_contract(tid: str) -> None:
    exp = load_experiment(registry.get(tid))
    assert isinstance(exp, Experiment)
    assert is_dataclass(exp.quick) and is_dataclass(exp.full)
    assert type(exp.quick) is type(exp.full)
    if exp.long is not None:  # --long: same Config type, a different (longer) setting
        assert type(exp.long) is type(exp.full) and exp.long != exp.full
    for f in fields(exp.quick):  # frozen configs
        with pytest.raises(AttributeError):
            setattr(exp.quick, f.name, getattr(exp.quick, f.name))
    assert exp.article_figure and exp.title


@pytest.mark.parametrize("tid", IDS)
def test_experiment_passes_in_quick_mode(tid: str, tmp_path: Any) -> None:
    outcome = run_one(registry.get(tid), size="quick", seed=0, figure_dir=tmp_path)
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
