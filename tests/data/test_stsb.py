"""Tests for kexue.data.stsb: the English STS benchmark reader."""

from __future__ import annotations

import pytest

from kexue.data.stsb import StsbSplit, load_stsb, stsb_sentences


def _load(split: str) -> StsbSplit:
    return load_stsb(split)  # type: ignore[arg-type]


@pytest.mark.parametrize(("split", "n"), [("train", 5749), ("dev", 1500), ("test", 1379)])
def test_official_row_counts_and_scores(split: str, n: int) -> None:
    d = _load(split)
    assert len(d) == n == len(d.sentence1) == len(d.sentence2) == len(d.genre)
    assert all(0.0 <= s <= 5.0 for s in d.score)
    assert all(a and b and "\t" not in a + b for a, b in zip(d.sentence1, d.sentence2, strict=True))
    assert {g.split("-")[0] for g in d.genre} == {"main"}


def test_first_test_pair_and_quotes_kept() -> None:
    d = _load("test")
    assert d.sentence1[0] == "A girl is styling her hair."
    assert d.score[0] == 2.5
    assert any('"' in s for s in d.sentence1 + d.sentence2)  # no CSV quote stripping


def test_sentences_interleave_pairs() -> None:
    d = _load("dev")
    s = stsb_sentences("dev")
    assert len(s) == 3000 and s[0] == d.sentence1[0] and s[1] == d.sentence2[0]


def test_unknown_split_names_the_argument() -> None:
    with pytest.raises(ValueError, match="split"):
        load_stsb("validation")  # type: ignore[arg-type]


def test_strip_false_keeps_fields_as_in_the_file() -> None:
    raw, stripped = load_stsb("test", strip=False), load_stsb("test")
    changed = [
        a
        for a, b in zip(
            raw.sentence1 + raw.sentence2, stripped.sentence1 + stripped.sentence2, strict=True
        )
        if a != b
    ]
    assert len(changed) == 12 and all(c != c.strip() for c in changed)
