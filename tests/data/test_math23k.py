"""Tests for kexue.data.math23k: concatenated JSON objects and the standard split."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kexue.data.math23k import load_math23k, parse_concatenated_json


def test_standard_split_sizes_and_disjointness() -> None:
    test, train, full = load_math23k("test"), load_math23k("train"), load_math23k("all")
    assert (len(test), len(train), len(full)) == (1000, 22162, 23162)
    assert not {p.id for p in test} & {p.id for p in train}
    assert len({p.id for p in full}) == 23162
    assert all(p.equation.startswith("x=") for p in test)
    first = test[0]
    assert (first.id, first.equation, first.answer) == ("35", "x=44*20", "880")


@given(st.lists(st.dictionaries(st.text(max_size=3), st.integers(), max_size=3), max_size=5))
def test_concatenated_parser_inverts_pretty_printing(objs: list[dict[str, int]]) -> None:
    text = "\n".join(json.dumps(o, indent=4, ensure_ascii=False) for o in objs)
    assert parse_concatenated_json(text) == objs


def test_unknown_split_names_the_argument() -> None:
    with pytest.raises(ValueError, match="split"):
        load_math23k("valid")  # type: ignore[arg-type]
