r"""D3 study: distortion against target dimension on TF-IDF vectors of STS-B sentences.

Gaussian and very sparse (density :math:`1/\sqrt D`) projections of N sentence vectors, against the
ε of both bounds, the exact :math:`\chi^2_n/n` law of a Gaussian projection, and Li et al.'s variance
:math:`(2+(1/s-3)\kappa)/n` of the sparse one (:math:`\kappa=\sum v^4/\lVert v\rVert^4` of the
difference vectors).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kexue.experiments.base import Check, at_least, at_most, within
from kexue.experiments.d3_johnson_lindenstrauss._shared import DATA_SEED, gen, sq_dists
from kexue.geometry.projection import random_projection

__all__ = ["DistortionRow", "TextDistortion", "checks", "load_stsb_tfidf", "text_distortion"]


def load_stsb_tfidf() -> tuple[Any, list[tuple[int, int]]]:
    r"""TF-IDF vectors (scipy CSR, l2-normalised rows) of the unique STS-B train sentences.

    Lower-cased tokens of two or more word characters, smoothed idf $\ln\frac{1+N}{1+df}+1$ (the
    defaults of scikit-learn's ``TfidfVectorizer``).

    Returns:
        The matrix and the (row, row) index of every sentence pair of the file.
    """
    import scipy.sparse

    from kexue.data import load_stsb

    index: dict[str, int] = {}
    pairs = []
    train = load_stsb("train", strip=False)
    for s1, s2 in zip(train.sentence1, train.sentence2, strict=True):
        a, b = (index.setdefault(s, len(index)) for s in (s1, s2))
        pairs.append((a, b))
    token = re.compile(r"(?u)\b\w\w+\b")
    vocab: dict[str, int] = {}
    rows, cols_, vals = [], [], []
    for i, sentence in enumerate(index):
        counts: dict[int, int] = {}
        for w in token.findall(sentence.lower()):
            j = vocab.setdefault(w, len(vocab))
            counts[j] = counts.get(j, 0) + 1
        rows += [i] * len(counts)
        cols_ += list(counts)
        vals += list(counts.values())
    tf = scipy.sparse.csr_matrix(
        (np.array(vals, dtype=np.float64), (rows, cols_)), shape=(len(index), len(vocab))
    )
    df = np.bincount(tf.indices, minlength=len(vocab))
    x = tf @ scipy.sparse.diags(np.log((1 + len(index)) / (1 + df)) + 1)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(1))).ravel()
    return scipy.sparse.diags(1 / np.maximum(norms, 1e-300)) @ x, pairs


@dataclass(frozen=True)
class DistortionRow:
    """Squared-distance distortion |ratio - 1| of all pairs at one target dimension.

    Attributes:
        dim: the target dimension n.
        eps_24_bound, eps_sklearn: the ε each bound guarantees at n (``None``: no ε < 1).
        gauss_max_dev_median, gauss_max_dev_worst: max distortion of a Gaussian projection,
            median and worst over runs.
        gauss_mean_dev: mean distortion of a Gaussian projection.
        chi2_mean_dev: the exact E|χ²ₙ/n - 1| the Gaussian mean distortion should match.
        gauss_var_ratio: Gaussian distortion variance / (2/n) (1 for the exact law).
        sparse_max_dev_median: max distortion of the sparse projection, median over runs.
        sparse_var_ratio: sparse distortion variance / Li et al.'s prediction.
        runs_within_sklearn_eps: fraction of Gaussian runs keeping every pair within the
            scikit-learn ε (``None`` where that bound gives no ε < 1).
    """

    dim: int
    eps_24_bound: float | None
    eps_sklearn: float | None
    gauss_max_dev_median: float
    gauss_max_dev_worst: float
    gauss_mean_dev: float
    chi2_mean_dev: float
    gauss_var_ratio: float
    sparse_max_dev_median: float
    sparse_var_ratio: float
    runs_within_sklearn_eps: float | None


HEADERS = (
    "n",
    "eps (24-bound)",
    "eps (sklearn)",
    "Gauss max dev (median)",
    "Gauss max dev (worst)",
    "Gauss mean dev",
    "chi2 mean dev",
    "Gauss var / (2/n)",
    "sparse max dev (median)",
    "sparse var / Li et al.",
    "runs within sklearn eps",
)


@dataclass(frozen=True)
class TextDistortion:
    """The distortion curve and the sample behind it.

    Attributes:
        rows: one record per target dimension.
        points: distinct non-zero sentence vectors used.
        dim_used: vocabulary columns those sentences use.
        vocab: the full vocabulary size.
        kurtosis: mean κ = Σv⁴/‖v‖⁴ of the difference vectors.
        density: the sparse projection's density, 1/√vocabulary.
    """

    rows: tuple[DistortionRow, ...]
    points: int
    dim_used: int
    vocab: int
    kurtosis: float
    density: float

    @property
    def sparse_variance_factor(self) -> float:
        """Li et al.'s sparse variance over the Gaussian's, (2 + (1/s - 3)κ) / 2."""
        return (2 + (1 / self.density - 3) * self.kurtosis) / 2


def _eps_24(n_points: int, dim: int) -> float | None:
    eps = math.sqrt(24 * math.log(n_points) / dim)
    return eps if eps < 1 else None


def _eps_sklearn(n_points: int, dim: int) -> float | None:
    # invert 4 ln N / (e^2/2 - e^3/3) = dim on (0, 1), where the left side is decreasing
    target = 4 * math.log(n_points) / dim
    if target >= 1 / 6:
        return None
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mid**2 / 2 - mid**3 / 3 < target else (lo, mid)
    return hi


def _chi2_mad(dim: int) -> float:
    # E|chi2_n / n - 1| = 2 k^k e^-k / Gamma(k) * 2 / n with k = n / 2 (gamma mean absolute dev.)
    k = dim / 2
    return 4 * math.exp(k * math.log(k) - k - math.lgamma(k)) / dim


def text_distortion(
    tfidf: Any, points: int, dims: tuple[int, ...], runs: int, seed: int
) -> TextDistortion:
    """Distortion of Gaussian and sparse projections of ``points`` STS-B sentence vectors."""
    rng = np.random.default_rng(DATA_SEED + seed)
    rows_idx = rng.choice(tfidf.shape[0], 2 * points, replace=False)
    x_all = torch.tensor(tfidf[rows_idx].toarray(), dtype=torch.float64)
    keep: dict[bytes, int] = {}  # distinct non-zero vectors only (distance ratios need d0 > 0)
    for i, row in enumerate(x_all):
        if len(keep) < points and bool(row.any()):
            keep.setdefault(row.numpy().tobytes(), i)
    x_all = x_all[list(keep.values())]
    cols = torch.nonzero(x_all.any(0)).ravel()  # only the columns these points use matter
    x = x_all[:, cols]
    density = 1 / math.sqrt(tfidf.shape[1])  # scikit-learn's 'auto' on the full vocabulary
    kurts = []  # sum v^4 / (sum v^2)^2 of every difference vector v (Li et al.'s variance term)
    for i in range(len(x) - 1):
        diffs = x[i + 1 :] - x[i]  # (pairs with i, dim)
        kurts.append(diffs.pow(4).sum(1) / diffs.pow(2).sum(1).pow(2))
    kurt = torch.cat(kurts).mean().item()
    d0, n_pts, table = sq_dists(x), len(x), []
    x32 = x.float()  # projections in float32: distortions are >= 1e-2, rounding is 1e-7
    for dim in dims:
        g_max, g_mean, g_msq, s_max, s_msq = [], [], [], [], []
        for r in range(runs):
            g_dev = sq_dists(random_projection(x32, dim, generator=gen(seed * 104729 + r))) / d0 - 1
            s_y = random_projection(
                x32, dim, kind="sparse", density=density, generator=gen(seed * 104729 + r + 50_000)
            )
            s_dev = sq_dists(s_y) / d0 - 1
            g_max.append(g_dev.abs().max().item())
            g_mean.append(g_dev.abs().mean().item())
            g_msq.append(g_dev.pow(2).mean().item())
            s_max.append(s_dev.abs().max().item())
            s_msq.append(s_dev.pow(2).mean().item())
        esk = _eps_sklearn(n_pts, dim)
        table.append(
            DistortionRow(
                dim=dim,
                eps_24_bound=_eps_24(n_pts, dim),
                eps_sklearn=esk,
                gauss_max_dev_median=float(np.median(g_max)),
                gauss_max_dev_worst=float(np.max(g_max)),
                gauss_mean_dev=float(np.mean(g_mean)),
                chi2_mean_dev=_chi2_mad(dim),
                gauss_var_ratio=float(np.mean(g_msq)) * dim / 2,  # 1 for the exact chi2_n/n law
                sparse_max_dev_median=float(np.median(s_max)),
                sparse_var_ratio=float(np.mean(s_msq)) * dim / (2 + (1 / density - 3) * kurt),
                runs_within_sklearn_eps=None
                if esk is None
                else float(np.mean(np.array(g_max) < esk)),
            )
        )
    return TextDistortion(tuple(table), n_pts, len(cols), tfidf.shape[1], kurt, density)


def checks(text: TextDistortion) -> list[Check]:
    """Gaussian distortion within the bound and on the χ² law; sparse variance on Li et al.'s."""
    out = []
    for row in text.rows:
        name = f"STS-B TF-IDF n={row.dim}"
        if row.eps_24_bound is not None:
            ratio = row.gauss_max_dev_worst / row.eps_24_bound
            out.append(at_most(f"{name}: worst max dev / 24-bound eps", ratio, 1.0))
        ratio = row.gauss_mean_dev / row.chi2_mean_dev
        out.append(within(f"{name}: Gaussian mean dev / chi2 law", ratio, 0.85, 1.15))
        out.append(within(f"{name}: sparse var / Li et al.", row.sparse_var_ratio, 0.7, 1.3))
    fracs = [r.runs_within_sklearn_eps for r in text.rows]
    pooled = [f for f in fracs if f is not None]
    if pooled:  # pooled over the dimensions where the sklearn bound gives an eps < 1
        name = "STS-B TF-IDF: runs with all pairs within sklearn eps"
        out.append(at_least(name, float(np.mean(pooled)), 0.8))
    return out
