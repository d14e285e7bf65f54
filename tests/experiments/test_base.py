"""The experiment contract helpers: gates and JSON conversion."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from kexue.experiments.base import at_least, at_most, jsonable, within


def test_gates() -> None:
    assert at_most("err", 1e-12, 1e-10).passed
    assert not at_most("err", 1e-9, 1e-10).passed
    assert at_least("acc", 0.9, 0.8).passed and not at_least("acc", 0.7, 0.8).passed
    assert within("x", 0.5, 0.0, 1.0).passed and not within("x", 1.5, 0.0, 1.0).passed
    assert not at_most("nan", math.nan, 1.0).passed
    assert not at_least("nan", math.nan, 0.0).passed
    assert "article: 38 %" in str(at_least("acc", 0.4, 0.3, article="38 %"))


def test_jsonable_roundtrip() -> None:
    @dataclass
    class C:
        a: int
        b: tuple[float, ...]

    obj = {
        "t": torch.tensor([1.0, 2.0]),
        "n": np.float64(3.5),
        "a": np.arange(3),
        "c": C(1, (2.0,)),
        "inf": math.inf,
    }
    out = json.loads(json.dumps(jsonable(obj)))
    assert out == {
        "t": [1.0, 2.0],
        "n": 3.5,
        "a": [0, 1, 2],
        "c": {"a": 1, "b": [2.0]},
        "inf": "inf",
    }


def test_config_sizes() -> None:
    from kexue.experiments.base import SIZES, Experiment

    @dataclass(frozen=True)
    class Cfg:
        n: int

    def noop(*_: object) -> None:
        return None

    kw = {"run": noop, "check": noop, "plot": noop, "summary": noop}
    exp = Experiment("X", "t", quick=Cfg(1), full=Cfg(2), **kw)  # type: ignore[arg-type]
    assert [exp.config(s).n for s in SIZES] == [1, 2, 2]  # no LONG: --long runs FULL
    longer = Experiment("X", "t", quick=Cfg(1), full=Cfg(2), long=Cfg(3), **kw)  # type: ignore[arg-type]
    assert [longer.config(s).n for s in SIZES] == [1, 2, 3]
    with pytest.raises(ValueError, match="size must be one of"):
        exp.config("huge")
