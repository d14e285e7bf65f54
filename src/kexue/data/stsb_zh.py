"""Chinese STS-B (the CNSD translation used in BERT-whitening and CoSENT), shipped with kexue.

Files ``STS-B.{train,valid,test}.data``: ``sentence1<TAB>sentence2<TAB>label`` with integer labels
0-5, no header (5,231 / 1,458 / 1,361 pairs: CNSD dropped some pairs in translation). The usual
metric is Spearman's correlation between cosine similarity and the label on the test split.
"""

from __future__ import annotations

from typing import Literal

from kexue.data.locate import read_text
from kexue.data.stsb import StsbSplit

__all__ = ["SPLITS_ZH", "load_stsb_zh"]

SplitZh = Literal["train", "valid", "test"]
SPLITS_ZH: tuple[SplitZh, ...] = ("train", "valid", "test")


def load_stsb_zh(split: SplitZh = "test") -> StsbSplit:
    """Read one split of Chinese STS-B.

    Args:
        split: ``"train"``, ``"valid"`` or ``"test"``.

    Returns:
        The pairs in file order (``genre`` is empty: the translation keeps none).

    Raises:
        ValueError: unknown ``split``.

    Example:
        >>> len(load_stsb_zh("test"))
        1361
    """
    if split not in SPLITS_ZH:
        raise ValueError(f"split must be one of {SPLITS_ZH}, got {split!r}")
    rows = [line.split("\t") for line in read_text("stsb_zh", f"STS-B.{split}.data").splitlines()]
    rows = [r for r in rows if len(r) == 3]
    return StsbSplit(
        sentence1=tuple(r[0].strip() for r in rows),
        sentence2=tuple(r[1].strip() for r in rows),
        score=tuple(float(r[2]) for r in rows),
        genre=(),
    )
