"""Chinese word-similarity sets wordsim-240 and wordsim-297, shipped with kexue.

``word1<TAB>word2<TAB>score``, no header; scores 0-10 (240) and 0-5 (297). Fields are stripped (15
rows of 297 carry stray spaces). The metric is Spearman's correlation with cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kexue.data.locate import read_text

__all__ = ["WORDSIM_ZH_SETS", "WordPairs", "load_wordsim_zh"]

SetName = Literal["240", "297"]
WORDSIM_ZH_SETS: tuple[SetName, ...] = ("240", "297")


@dataclass(frozen=True)
class WordPairs:
    """Word pairs with a gold similarity score each."""

    word1: tuple[str, ...]
    word2: tuple[str, ...]
    score: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.score)


def load_wordsim_zh(name: SetName = "297") -> WordPairs:
    """Read wordsim-240 or wordsim-297.

    Args:
        name: ``"240"`` or ``"297"``.

    Raises:
        ValueError: unknown ``name``.

    Example:
        >>> len(load_wordsim_zh("240")), len(load_wordsim_zh("297"))
        (240, 297)
    """
    if name not in WORDSIM_ZH_SETS:
        raise ValueError(f"name must be one of {WORDSIM_ZH_SETS}, got {name!r}")
    rows = [
        [f.strip() for f in line.split("\t")]
        for line in read_text("wordsim_zh", f"wordsim-{name}.txt").splitlines()
        if line.strip()
    ]
    return WordPairs(
        word1=tuple(r[0] for r in rows),
        word2=tuple(r[1] for r in rows),
        score=tuple(float(r[2]) for r in rows),
    )
