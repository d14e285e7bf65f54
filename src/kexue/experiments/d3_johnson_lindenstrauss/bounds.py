r"""D3 study: the dimension bounds, the unit-norm lemma, and the all-pairs claim on Gaussian points.

(1) The article's bound :math:`24\ln N/\varepsilon^2` against scikit-learn's (Dasgupta–Gupta) and
the head-size rule; (2) a Monte-Carlo of the unit-norm lemma against the exact
:math:`\chi^2_n/n` tail and the bound :math:`2e^{-\varepsilon^2n/8}`; (3) the all-pairs claim on N
iid Gaussian points, over seeds, at both bounds' dimensions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from kexue.experiments.base import Check, at_least, at_most, within
from kexue.experiments.d3_johnson_lindenstrauss._shared import DATA_SEED, gen, sq_dists
from kexue.geometry.projection import (
    dasgupta_gupta_min_dim,
    head_size_rule,
    jl_min_dim,
    random_projection,
)

__all__ = [
    "BoundRow",
    "Bounds",
    "LemmaRow",
    "SyntheticRow",
    "checks",
    "dimension_bounds",
    "synthetic_pairs",
    "unit_norm_lemma",
]

BOUND_POINTS = 10_000
"""N of the bound comparison."""


@dataclass(frozen=True)
class BoundRow:
    """Target dimensions for N = 10,000 points at one ε."""

    eps: float
    dim_24_bound: int
    dim_existence: int
    dim_sklearn: int
    ratio: float


@dataclass(frozen=True)
class Bounds:
    """The bound comparison and the head-size rule at L = 512 and the word-dimension N = 1e5."""

    rows: tuple[BoundRow, ...]
    head_512: int
    head_1e5: int


@dataclass(frozen=True)
class LemmaRow:
    """P(|‖u‖² - 1| >= ε) for u = Gaussian / √n: Monte-Carlo, exact χ² tail, the lemma's bound."""

    dim: int
    empirical: float
    exact: float
    bound: float


@dataclass(frozen=True)
class SyntheticRow:
    """Fraction of projection seeds keeping every pair of N Gaussian points within ε."""

    eps: float
    rule: str
    dim: int
    all_pairs_within: float


def dimension_bounds(bound_eps: tuple[float, ...]) -> Bounds:
    """Dimensions of the 24-bound (and its existence variant) against scikit-learn's, per ε."""
    rows = []
    for eps in bound_eps:
        ours, sk = jl_min_dim(BOUND_POINTS, eps), dasgupta_gupta_min_dim(BOUND_POINTS, eps)
        rows.append(
            BoundRow(eps, ours, jl_min_dim(BOUND_POINTS, eps, existence=True), sk, ours / sk)
        )
    return Bounds(tuple(rows), head_size_rule(512), head_size_rule(100_000))


def unit_norm_lemma(
    dims: tuple[int, ...], eps: float, draws: int, seed: int
) -> tuple[LemmaRow, ...]:
    """Monte-Carlo of the unit-norm tail at each dimension, with the exact χ²ₙ/n tail."""
    g, out = gen(seed), []
    for n in dims:
        hits, chunk = 0, max(1, 4_000_000 // n)
        for start in range(0, draws, chunk):
            u = torch.randn(min(chunk, draws - start), n, generator=g) / math.sqrt(n)
            hits += int(((u.pow(2).sum(1) - 1).abs() >= eps).sum())
        # exact tail of chi2_n / n: regularised incomplete gamma functions with shape n / 2
        k = torch.tensor(n / 2, dtype=torch.float64)
        lo, hi = (torch.tensor(n * (1 + s) / 2, dtype=torch.float64) for s in (-eps, eps))
        exact = float(torch.special.gammaincc(k, hi) + torch.special.gammainc(k, lo))
        out.append(LemmaRow(n, hits / draws, exact, 2 * math.exp(-(eps**2) * n / 8)))
    return tuple(out)


def synthetic_pairs(
    points: int, dim: int, eps_values: tuple[float, ...], runs: int, seed: int
) -> tuple[SyntheticRow, ...]:
    """All-pairs distortion of ``points`` Gaussian points in ``dim`` dimensions, both bounds."""
    x = torch.randn(points, dim, generator=gen(DATA_SEED + seed))
    d0, rows = sq_dists(x), []
    for eps in eps_values:
        for rule, target in (
            ("24-bound", jl_min_dim(points, eps)),
            ("sklearn", dasgupta_gupta_min_dim(points, eps)),
        ):
            ok = 0
            for r in range(runs):
                y = random_projection(x, target, generator=gen(seed * 7919 + r))
                ok += bool(((sq_dists(y) / d0 - 1).abs() < eps).all())
            rows.append(SyntheticRow(eps, rule, target, ok / runs))
    return tuple(rows)


def checks(
    bound: Bounds, lemma: tuple[LemmaRow, ...], synthetic: tuple[SyntheticRow, ...], draws: int
) -> list[Check]:
    """Bound ratio and rules, the lemma's tail (bound and exact law), the all-pairs claim."""
    ratios = [row.ratio for row in bound.rows]
    out = [
        within("24-bound / sklearn dim, min over eps 0.1..0.5", min(ratios), 1.95, 3.2),
        within("24-bound / sklearn dim, max over eps", max(ratios), 1.95, 3.2, "about 3x"),
        within("head-size rule, L = 512", bound.head_512, 52, 52, "≈ 52"),
        within("word-dim rule, N = 1e5", bound.head_1e5, 96, 96, "≈ 96"),
    ]
    for row in lemma:
        out.append(
            at_most(
                f"unit-norm tail n={row.dim}: empirical / 2exp(-eps²n/8)",
                row.empirical / row.bound,
                1.0,
            )
        )
        se = math.sqrt(row.exact * (1 - row.exact) / draws)
        out.append(
            at_most(
                f"unit-norm tail n={row.dim}: |emp - exact chi2| / se",
                abs(row.empirical - row.exact) / max(se, 1e-12),
                5.0,
            )
        )
    for s in synthetic:
        need = 0.95 if s.rule == "24-bound" else 0.8
        art = "≥ 1 - 1/N" if s.rule == "24-bound" else ""
        name = f"Gaussian points: all pairs within {s.eps}, n={s.dim} ({s.rule})"
        out.append(at_least(name, s.all_pairs_within, need, art))
    return out
