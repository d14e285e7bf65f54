"""Tests for kexue.data.wordsim_zh: wordsim-240/297 (fields stripped)."""

from __future__ import annotations

import pytest

from kexue.data.wordsim_zh import load_wordsim_zh


def test_sizes_ranges_and_stripped_fields() -> None:
    w240, w297 = load_wordsim_zh("240"), load_wordsim_zh("297")
    assert (len(w240), len(w297)) == (240, 297)
    assert min(w240.score) == pytest.approx(0.15) and max(w240.score) == pytest.approx(9.2)
    assert 0 <= min(w297.score) and max(w297.score) <= 5
    words = w297.word1 + w297.word2
    assert all(w == w.strip() and w for w in words)
    assert ("李白", "诗", 9.2) == (w240.word1[0], w240.word2[0], w240.score[0])


def test_unknown_set_names_the_argument() -> None:
    with pytest.raises(ValueError, match="name"):
        load_wordsim_zh("353")  # type: ignore[arg-type]
