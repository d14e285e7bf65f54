r"""A6 study 1: the minima of :math:`f_n(x)=\sum_{k\le n} x^k/k!`, computed and cross-checked.

For even :math:`n` the minimiser :math:`x_n^*` is the real root of :math:`f_{n-1}` and
:math:`f_n(x_n^*) = (x_n^*)^n/n!` (:func:`~kexue.transformer.taylor_softmax.taylor_minimum`); it is
cross-checked on a dense float64 grid and at numpy's roots of :math:`f_{n-1}`, and compared with the
article's table (stated in the catalogue record, read from there). Odd orders go negative.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import torch

from kexue.transformer.taylor_softmax import taylor_exp, taylor_minimum

if TYPE_CHECKING:
    from kexue.experiments.a6_taylor_softmax import Config

__all__ = ["Minimum", "article_minima", "minima"]


@cache
def article_minima() -> dict[int, tuple[str, str]]:
    """The article's table ``{n: (x_n*, f_n(x_n*))}``, as printed, from the catalogue record."""
    from kexue import catalogue

    text = catalogue.get("A6").article_figure
    orders = re.search(r"n=(\d+)…(\d+)", text)
    xs, fs = re.search(r"x\* = ([-\d., ]+\d)", text), re.search(r"f\* = ([\d., ]+\d)", text)
    if orders is None or xs is None or fs is None:
        raise ValueError(f"A6's article_figure holds no minima table: {text!r}")
    ns = range(int(orders.group(1)), int(orders.group(2)) + 1, 2)
    pairs = zip(xs.group(1).split(", "), fs.group(1).split(", "), strict=True)
    return dict(zip(ns, pairs, strict=True))


@dataclass(frozen=True)
class Minimum:
    """The minimum of :math:`f_n` for one order (``None`` where it does not apply).

    Attributes:
        n: the order.
        x_star, f_star: the computed minimiser and minimum (even ``n``).
        article_x, article_f: the article's table entry, as printed (even ``n`` ≤ 10).
        grid_min: the minimum over the dense grid.
        min_at_critical: the minimum of :math:`f_n` over the real roots of :math:`f_{n-1}`.
        f_star_horner: :math:`f_n(x_n^*)` evaluated by :func:`taylor_exp` (even ``n``).
    """

    n: int
    x_star: float | None
    f_star: float | None
    article_x: str | None
    article_f: str | None
    grid_min: float
    min_at_critical: float
    f_star_horner: float | None


def minima(cfg: Config) -> tuple[Minimum, ...]:
    """One record per order n = 2 … ``cfg.max_order``."""
    import numpy as np

    grid = torch.linspace(-cfg.grid_radius, cfg.grid_radius, cfg.grid_points, dtype=torch.float64)
    article = article_minima()
    rows = []
    for n in range(2, cfg.max_order + 1):
        grid_min = float(taylor_exp(grid, n).min())
        coef = [1.0 / math.factorial(k) for k in range(n - 1, -1, -1)]  # f_{n-1}, highest first
        roots = np.roots(coef) if n > 1 else np.array([])
        real = torch.tensor(roots[np.abs(roots.imag) < 1e-7].real, dtype=torch.float64)
        at_roots = float(taylor_exp(real, n).min()) if real.numel() else float("nan")
        x_star = f_star = horner = None
        if n % 2 == 0:
            x_star, f_star = taylor_minimum(n)
            horner = float(taylor_exp(torch.tensor(x_star, dtype=torch.float64), n))
        art_x, art_f = article.get(n, (None, None))
        rows.append(Minimum(n, x_star, f_star, art_x, art_f, grid_min, at_roots, horner))
    return tuple(rows)
