"""D2 study: the W2 (Fréchet distance) on real data, scikit-learn's digits (64-d).

(a) Rank-deficient covariances of a few images, where the FID-style ``sqrtm(C_p C_q)`` goes complex;
(b) the Fréchet distance between random halves of the set against that between digit classes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from kexue.geometry.gaussian import wasserstein2_gaussian
from kexue.geometry.psd import sample_mean_cov

__all__ = ["DigitsFrechet", "digits_frechet"]

F64 = torch.float64


@dataclass(frozen=True)
class DigitsFrechet:
    """W2² between Gaussian fits of digits images.

    Attributes:
        rank: rank of the first few-image covariance.
        rank_deficient_w2sq, rank_deficient_w2sq_float32: our W2² between two few-image fits.
        scipy_sqrtm_imag: |imaginary part| of tr sqrtm(C_p C_q) from scipy on the same pair.
        scipy_sqrtm_w2sq: W2² from scipy's sqrtm (real part).
        pot_w2sq: POT's Bures–Wasserstein distance², same pair.
        fd_halves: W2² between random halves of the set, one per split.
        fd_classes: W2² between each pair of digit classes.
        class_pairs: the (class, class) of each entry of ``fd_classes``.
    """

    rank: int
    rank_deficient_w2sq: float
    rank_deficient_w2sq_float32: float
    scipy_sqrtm_imag: float
    scipy_sqrtm_w2sq: float
    pot_w2sq: float
    fd_halves: tuple[float, ...]
    fd_classes: tuple[float, ...]
    class_pairs: tuple[tuple[int, int], ...]

    @property
    def fd_halves_mean(self) -> float:
        """The mean W2² between random halves."""
        return sum(self.fd_halves) / len(self.fd_halves)


def digits_frechet(rank_deficient_n: int, n_splits: int, gen: torch.Generator) -> DigitsFrechet:
    """Rank-deficient W2² (ours, scipy, POT) and Fréchet distances of halves vs classes."""
    import numpy as np
    import ot
    import scipy.linalg
    from sklearn.datasets import load_digits

    data = load_digits()
    x, labels = torch.tensor(data.data, dtype=F64), torch.tensor(data.target)
    # (a) rank-deficient: 20 images in 64 dims (rank <= 19); the FID sqrtm path goes complex.
    perm = torch.randperm(len(x), generator=gen)
    r = rank_deficient_n
    m1, c1 = sample_mean_cov(x[perm[:r]])
    m2, c2 = sample_mean_cov(x[perm[r : 2 * r]])
    ours = float(wasserstein2_gaussian(m1, c1, m2, c2, squared=True))
    ours32 = float(
        wasserstein2_gaussian(m1.float(), c1.float(), m2.float(), c2.float(), squared=True)
    )
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = scipy.linalg.sqrtm(c1.numpy() @ c2.numpy())
        pot = float(ot.gaussian.bures_wasserstein_distance(m1, m2, c1, c2)) ** 2
    # (b) Fréchet distance between random halves vs between digit classes.
    halves = []
    for _ in range(n_splits):
        p = torch.randperm(len(x), generator=gen)
        a, b = sample_mean_cov(x[p[: len(x) // 2]]), sample_mean_cov(x[p[len(x) // 2 :]])
        halves.append(float(wasserstein2_gaussian(a[0], a[1], b[0], b[1], squared=True)))
    stats = [sample_mean_cov(x[labels == k]) for k in range(10)]
    mean_c, cov_c = torch.stack([s[0] for s in stats]), torch.stack([s[1] for s in stats])
    i, j = torch.triu_indices(10, 10, 1)
    classes = wasserstein2_gaussian(mean_c[i], cov_c[i], mean_c[j], cov_c[j], squared=True)
    return DigitsFrechet(
        rank=int(torch.linalg.matrix_rank(c1)),
        rank_deficient_w2sq=ours,
        rank_deficient_w2sq_float32=ours32,
        scipy_sqrtm_imag=float(np.abs(np.trace(root).imag)),
        scipy_sqrtm_w2sq=float(
            ((m1 - m2) ** 2).sum() + c1.trace() + c2.trace() - 2 * np.trace(root).real
        ),
        pot_w2sq=pot,
        fd_halves=tuple(halves),
        fd_classes=tuple(classes.tolist()),
        class_pairs=tuple((int(a), int(b)) for a, b in zip(i.tolist(), j.tolist(), strict=True)),
    )
