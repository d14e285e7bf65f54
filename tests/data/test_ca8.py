"""Tests for kexue.data.ca8: CA8 Chinese analogies (CRLF, section headers)."""

from __future__ import annotations

from collections import Counter

import pytest

from kexue.data.ca8 import load_ca8


def test_semantic_sections_match_the_source_table() -> None:
    qs = load_ca8("semantic")
    assert Counter(q.section for q in qs) == {
        "geography": 3192,
        "history": 1465,
        "nature": 1370,
        "people": 1609,
    }
    assert (qs[0].a, qs[0].b, qs[0].c, qs[0].d) == ("广东", "粤剧", "浙江", "越剧")
    assert not any("\r" in q.d for q in qs)


def test_morphological_count() -> None:
    assert len(load_ca8("morphological")) == 10177


def test_unknown_kind_names_the_argument() -> None:
    with pytest.raises(ValueError, match="kind"):
        load_ca8("syntactic")  # type: ignore[arg-type]
