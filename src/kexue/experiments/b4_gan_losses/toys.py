"""B4 toys: 8 Gaussians, a 5×5 grid and a spiral; mode coverage, sample quality and W2 to data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kexue.experiments.b4_gan_losses.config import TOYS

__all__ = ["ModeStats", "mode_stats", "sample_toy", "toy_curve", "w2"]


@dataclass(frozen=True)
class ModeStats:
    """How generated samples cover a toy's modes.

    Attributes:
        modes: modes with >= 20 % of a mode's fair share of the high-quality samples.
        n_modes: the toy's modes (the spiral: 8 equal-parameter segments).
        hq: share of samples within 4σ of the data manifold.
        kl_uniform: KL of the high-quality samples' mode histogram from uniform.
    """

    modes: int
    n_modes: int
    hq: float
    kl_uniform: float


def _spiral(t: np.ndarray) -> np.ndarray:
    theta, r = 4 * np.pi * t, 0.25 + 1.75 * t
    return np.stack([r * np.cos(theta), r * np.sin(theta)], -1)


def toy_curve(toy: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Points of the data manifold, the mode id of each, and the number of modes."""
    if toy == "8gaussians":
        a = np.arange(8) * 2 * np.pi / 8
        return 2.0 * np.stack([np.cos(a), np.sin(a)], 1), np.arange(8), 8
    if toy == "25gaussians":
        g = np.arange(-2, 3, dtype=float)
        pts = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
        return pts, np.arange(25), 25
    if toy == "spiral":
        t = np.linspace(0, 1, 4001)
        return _spiral(t), np.minimum((t * 8).astype(int), 7), 8
    raise ValueError(f"unknown toy {toy!r}; choose from {TOYS}")


def sample_toy(toy: str, n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``toy`` with noise ``sigma``, ``(n, 2)``."""
    if toy == "spiral":
        base = _spiral(rng.random(n))
    else:
        pts = toy_curve(toy)[0]
        base = pts[rng.integers(0, len(pts), n)]
    return base + sigma * rng.standard_normal((n, 2))


def mode_stats(x: np.ndarray, toy: str, sigma: float) -> ModeStats:
    """Modes covered (>= 20 % of a mode's fair share of high-quality samples), HQ fraction, KL."""
    pts, ids, n_modes = toy_curve(toy)
    d2 = ((x[:, None, :] - pts[None, :, :]) ** 2).sum(-1)
    j = d2.argmin(1)
    hq = np.sqrt(d2[np.arange(len(x)), j]) <= 4 * sigma
    counts = np.bincount(ids[j[hq]], minlength=n_modes)
    covered = int((counts >= 0.2 * len(x) / n_modes).sum())
    hist = (counts + 1e-12) / max(counts.sum(), 1)
    kl = float((hist * np.log(hist * n_modes)).sum()) if counts.sum() else float("inf")
    return ModeStats(covered, n_modes, float(hq.mean()), kl)


def w2(x: np.ndarray, y: np.ndarray) -> float:
    """2-Wasserstein distance between two equal-weight samples (POT ``emd2``)."""
    import ot

    m = ot.dist(x, y)  # squared Euclidean
    a = np.full(len(x), 1 / len(x))
    b = np.full(len(y), 1 / len(y))
    return float(np.sqrt(ot.emd2(a, b, m, numItermax=1_000_000)))
