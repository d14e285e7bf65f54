"""English STS benchmark (STS-B), shipped with kexue: sentence pairs with gold similarity.

The files ``sts-{train,dev,test}.csv`` are tab-separated (never CSV-quoted: sentences contain bare
``"``) with columns genre, file, year, id, score, sentence 1, sentence 2 and, in some rows, two
source fields. Nothing is downloaded (see :mod:`kexue.data.locate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kexue.data.locate import read_text

__all__ = ["SPLITS", "StsbSplit", "load_stsb", "stsb_sentences"]

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")


@dataclass(frozen=True)
class StsbSplit:
    """One STS-B split.

    Attributes:
        sentence1, sentence2: the paired sentences.
        score: gold similarity in [0, 5].
        genre: ``"main-captions"``, ``"main-news"`` or ``"main-forum(s)"``.
    """

    sentence1: tuple[str, ...]
    sentence2: tuple[str, ...]
    score: tuple[float, ...]
    genre: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.score)


def load_stsb(split: Split = "test", *, strip: bool = True) -> StsbSplit:
    """Read one STS-B split (5,749 / 1,500 / 1,379 pairs).

    Args:
        split: ``"train"``, ``"dev"`` or ``"test"``.
        strip: strip surrounding whitespace from the sentences (311 train / 12 test sentences carry
            some); ``False`` keeps the fields byte-for-byte as in the file.

    Returns:
        The pairs in file order.

    Raises:
        ValueError: unknown ``split``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    text = read_text("stsb", f"sts-{split}.csv")
    rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    return StsbSplit(
        sentence1=tuple(r[5].strip() if strip else r[5] for r in rows),
        sentence2=tuple(r[6].strip() if strip else r[6] for r in rows),
        score=tuple(float(r[4]) for r in rows),
        genre=tuple(r[0] for r in rows),
    )


def stsb_sentences(*splits: Split) -> list[str]:
    """All sentences of the given splits (both sides of each pair, in file order, duplicates kept).

    Example:
        >>> len(stsb_sentences("test"))
        2758
    """
    out: list[str] = []
    for s in splits or SPLITS:
        d = load_stsb(s)
        for a, b in zip(d.sentence1, d.sentence2, strict=True):
            out += [a, b]
    return out
