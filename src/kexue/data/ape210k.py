"""Ape210K valid split (Zhao et al., 2020), shipped with kexue: 5,000 Chinese math word problems.

JSON Lines; ``segmented_text`` splits characters with spaces (numbers stay whole), equations read
``x=...`` and use mixed numbers such as ``1(5/6)`` (meaning 1 + 5/6) and percentages. Only the valid
split ships (the 200k train split is not available offline).
"""

from __future__ import annotations

import json
from typing import Literal

from kexue.data.locate import read_text
from kexue.data.math23k import WordProblem

__all__ = ["load_ape210k"]


def load_ape210k(split: Literal["valid"] = "valid") -> tuple[WordProblem, ...]:
    """Read the Ape210K valid split (5,000 problems, file order).

    Raises:
        ValueError: a split other than ``"valid"`` (only the valid split ships).

    Example:
        >>> problems = load_ape210k()
        >>> len(problems), problems[0].equation
        (5000, 'x=135/3')
    """
    if split != "valid":
        raise ValueError(f"split must be 'valid' (the only Ape210K split shipped), got {split!r}")
    out = []
    for line in read_text("ape210k", "valid.ape.json").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(
                WordProblem(
                    id=str(d["id"]),
                    text=d["original_text"],
                    segmented=d["segmented_text"],
                    equation=d["equation"],
                    answer=str(d["ans"]),
                )
            )
    return tuple(out)
