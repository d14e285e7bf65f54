"""CA8 Chinese word analogies (Li et al., ACL 2018), shipped with kexue.

Two files in word2vec's ``questions-words.txt`` format with CRLF line endings: ``: section`` header
lines, then ``a b c d`` lines meaning a : b :: c : d (predict d from b - a + c). ``morphological``
has 10,177 questions in 4 sections, ``semantic`` 7,636 in 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kexue.data.locate import read_text

__all__ = ["CA8_KINDS", "Analogy", "load_ca8"]

Kind = Literal["morphological", "semantic"]
CA8_KINDS: tuple[Kind, ...] = ("morphological", "semantic")


@dataclass(frozen=True)
class Analogy:
    """One analogy question a : b :: c : d, with the section it belongs to."""

    a: str
    b: str
    c: str
    d: str
    section: str


def load_ca8(kind: Kind = "semantic") -> tuple[Analogy, ...]:
    """Read the morphological or semantic CA8 questions, in file order.

    Args:
        kind: ``"morphological"`` or ``"semantic"``.

    Raises:
        ValueError: unknown ``kind``.

    Example:
        >>> qs = load_ca8("semantic")
        >>> len(qs), qs[0].section
        (7636, 'geography')
    """
    if kind not in CA8_KINDS:
        raise ValueError(f"kind must be one of {CA8_KINDS}, got {kind!r}")
    section = ""
    out: list[Analogy] = []
    for raw in read_text("ca8", f"{kind}.txt").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        a, b, c, d = line.split()
        out.append(Analogy(a, b, c, d, section))
    return tuple(out)
