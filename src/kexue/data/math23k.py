"""Math23K Chinese math word problems (Wang et al., EMNLP 2017), shipped with kexue.

23,162 problems; the standard 1,000-problem test split is ``math23k_test.json`` and the train split
is the other 22,162. Both files are *concatenated pretty-printed JSON objects* (not an array, not
JSON Lines), parsed here with :meth:`json.JSONDecoder.raw_decode` in a loop. Equations read
``x=...`` and may hold percentages (``80%``) and bracketed fractions (``(1/6)``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from kexue.data.locate import read_text

__all__ = ["MATH23K_SPLITS", "WordProblem", "load_math23k", "parse_concatenated_json"]

Split = Literal["train", "test", "all"]
MATH23K_SPLITS: tuple[Split, ...] = ("train", "test", "all")


@dataclass(frozen=True)
class WordProblem:
    """One math word problem as the data set stores it (no normalisation applied).

    Attributes:
        id: the data set's id.
        text: the raw problem (``original_text``).
        segmented: the segmented problem (``segmented_text``).
        equation: the gold equation, ``x=...``.
        answer: the gold answer as a string (``ans``).
    """

    id: str
    text: str
    segmented: str
    equation: str
    answer: str


def parse_concatenated_json(text: str) -> list[dict[str, str]]:
    """Parse a stream of JSON objects separated by whitespace (Math23K's format).

    Example:
        >>> parse_concatenated_json('{"a": 1}\\n{"a": 2}')
        [{'a': 1}, {'a': 2}]
    """
    decoder = json.JSONDecoder()
    out: list[dict[str, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            return out
        obj, pos = decoder.raw_decode(text, pos)
        out.append(obj)


def _problem(d: dict[str, str]) -> WordProblem:
    return WordProblem(
        id=str(d["id"]),
        text=d["original_text"],
        segmented=d["segmented_text"],
        equation=d["equation"],
        answer=str(d["ans"]),
    )


def load_math23k(split: Split = "test") -> tuple[WordProblem, ...]:
    """Read Math23K: the standard test split, the train split (the rest) or all problems.

    Args:
        split: ``"train"`` (22,162), ``"test"`` (1,000) or ``"all"`` (23,162), in file order.

    Raises:
        ValueError: unknown ``split``.

    Example:
        >>> len(load_math23k("test"))
        1000
    """
    if split not in MATH23K_SPLITS:
        raise ValueError(f"split must be one of {MATH23K_SPLITS}, got {split!r}")
    test = [_problem(d) for d in parse_concatenated_json(read_text("math23k", "math23k_test.json"))]
    if split == "test":
        return tuple(test)
    full = [_problem(d) for d in parse_concatenated_json(read_text("math23k", "Math_23K.json"))]
    if split == "all":
        return tuple(full)
    test_ids = {p.id for p in test}
    return tuple(p for p in full if p.id not in test_ids)
