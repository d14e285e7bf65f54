"""A4: the article's table (MLM accuracy of RoFormer-small trained at 64, tested at n), read from
the catalogue record where it is stated, and the figures the gates compare with, derived from it."""

from __future__ import annotations

import re
from functools import cache

__all__ = ["article_accuracy", "article_claims"]


@cache
def article_accuracy() -> dict[str, dict[int, float]]:
    """The article's MLM accuracy (%) per scale and test length, parsed from the catalogue record."""
    from kexue import catalogue

    text = catalogue.get("A4").article_figure
    lengths = re.search(r"accuracy % at ([\d/]+):", text)
    if lengths is None:
        raise ValueError(f"A4's article_figure lists no test lengths: {text!r}")
    lens = [int(n) for n in lengths.group(1).split("/")]
    table = {}
    for scale, tag in (("standard", "O"), ("entropy_invariant", "E")):
        row = re.search(rf"Attention-{tag} ([\d./]+\d)", text)
        if row is None:
            raise ValueError(f"A4's article_figure has no Attention-{tag} row: {text!r}")
        table[scale] = dict(zip(lens, map(float, row.group(1).split("/")), strict=True))
    return table


def article_claims(lens: list[int]) -> tuple[str, str, str]:
    """The article's figures for the three accuracy gates, computed from its table."""
    art = article_accuracy()
    o, e = art["standard"], art["entropy_invariant"]
    long = [n for n in lens if n >= 256 and n in o]
    drop_o, drop_e = [o[64] - o[n] for n in long], [e[64] - e[n] for n in long]
    gain = sum(a - b for a, b in zip(drop_o, drop_e, strict=True)) / len(long)
    drops = (
        f"{gain:.1f} (drops {'/'.join(f'{d:.2f}' for d in drop_o)} for O vs "
        f"{'/'.join(f'{d:.2f}' for d in drop_e)} for E)"
    )
    gaps = ", ".join(f"{e[n] - o[n]:+.2f}" for n in long)
    at = ", ".join(map(str, long))
    gap = f"{gaps} at {at} ({e[long[0]]:.2f} vs {o[long[0]]:.2f} at {long[0]})"
    return drops, gap, f"{e[64]:.2f} vs {o[64]:.2f}"
