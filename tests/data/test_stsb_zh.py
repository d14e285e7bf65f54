"""Tests for kexue.data.stsb_zh: the shipped Chinese STS-B."""

from __future__ import annotations

import pytest

from kexue.data.stsb_zh import load_stsb_zh


@pytest.mark.parametrize(("split", "n"), [("train", 5231), ("valid", 1458), ("test", 1361)])
def test_published_sizes_and_labels(split: str, n: int) -> None:
    d = load_stsb_zh(split)  # type: ignore[arg-type]
    assert len(d) == n == len(d.sentence1) == len(d.sentence2)
    assert set(d.score) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    assert all(a and b for a, b in zip(d.sentence1, d.sentence2, strict=True))


def test_unknown_split_names_the_argument() -> None:
    with pytest.raises(ValueError, match="split"):
        load_stsb_zh("dev")  # type: ignore[arg-type]
