"""Tests for kexue.data.ape210k: the shipped valid split."""

from __future__ import annotations

import pytest

from kexue.data.ape210k import load_ape210k


def test_valid_split() -> None:
    problems = load_ape210k()
    assert len(problems) == 5000 == len({p.id for p in problems})
    assert sum(not p.equation.startswith("x=") for p in problems) == 11  # stored as-is, no "x="
    second = problems[1]
    assert second.answer == "(11/20)" and second.equation == "x=1-(1/5)-(1/4)"


def test_only_valid_ships() -> None:
    with pytest.raises(ValueError, match="split"):
        load_ape210k("train")  # type: ignore[arg-type]
