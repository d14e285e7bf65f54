r"""Several Gaussian distances at once, and all pairs of two sets of Gaussians.

:func:`gaussian_distances` returns any of KL, Bhattacharyya and :math:`W_2` for the same pairs
from one validation pass and one Cholesky factorisation per covariance (three separate calls
check and factor every covariance again). :func:`pairwise_gaussian_distances` evaluates the
:math:`n\times m` table between two sets: each covariance is checked and factored once
(:math:`n+m` factorisations, not :math:`2nm`), and the pairs are formed by broadcasting within
blocks of rows, so no :math:`n\cdot m` copy of the covariances is ever stored. The formulas are
those of :mod:`kexue.geometry.gaussian`; both functions need positive *definite* covariances
(KL and Bhattacharyya do) — for singular ones use
:func:`~kexue.geometry.gaussian.wasserstein2_gaussian`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from kexue._validate import check_floating, check_positive
from kexue.geometry._pairs import check_shapes, check_values, evaluate_pairs
from kexue.geometry.gaussian import (
    bd_diagonal,
    bd_from_factors,
    kl_diagonal,
    kl_from_factors,
    w2_eigenvalues,
)
from kexue.geometry.psd import cholesky_or_raise, safe_sqrt

__all__ = ["DISTANCES", "gaussian_distances", "pairwise_gaussian_distances"]

DISTANCES = ("kl", "bhattacharyya", "wasserstein2")
_NAMES = ("mean_p", "cov_p", "mean_q", "cov_q")
_BLOCK_ELEMENTS = 2**18  # entries of the (rows, m, d, d) pair tensors formed per block


def _check_distances(distances: object) -> tuple[str, ...]:
    names = (distances,) if isinstance(distances, str) else distances
    if (
        not isinstance(names, Sequence)
        or not names
        or any(not isinstance(n, str) or n not in DISTANCES for n in names)
    ):
        raise ValueError(
            f"distances must be one or more of {', '.join(map(repr, DISTANCES))}, got {distances!r}"
        )
    return tuple(dict.fromkeys(names))  # unique, in the order asked


def _factored_core(
    names: tuple[str, ...], diagonal: bool, squared: bool, eps: float
) -> Callable[..., Tensor]:
    """The requested distances, stacked along a last dim, from checked inputs and their factors.

    ``rp``/``rq`` are upper Cholesky factors (``R^T R = cov``; ``None`` with ``diagonal``); all
    batch dims broadcast, which is how the pairwise form builds its pairs.
    """

    def core(
        mp: Tensor, cp: Tensor, rp: Tensor | None, mq: Tensor, cq: Tensor, rq: Tensor | None
    ) -> Tensor:
        delta = mp - mq
        out = []
        for name in names:
            if name == "kl":
                out.append(
                    kl_diagonal(delta, cp, cq)
                    if rp is None or rq is None
                    else kl_from_factors(delta, rp.mT, rq.mT)
                )
            elif name == "bhattacharyya":
                out.append(
                    bd_diagonal(delta, cp, cq)
                    if rp is None or rq is None
                    else bd_from_factors(delta, cp, cq, rp.mT, rq.mT)
                )
            else:
                if rp is None:
                    cov_term = (safe_sqrt(cp, eps) - safe_sqrt(cq, eps)).square().sum(-1)
                else:
                    trace = cp.diagonal(dim1=-2, dim2=-1).sum(-1) + cq.diagonal(
                        dim1=-2, dim2=-1
                    ).sum(-1)
                    root = safe_sqrt(w2_eigenvalues(rp, cq), eps).sum(-1)
                    cov_term = trace - 2 * root
                sq = (delta.square().sum(-1) + cov_term).clamp_min(0)
                out.append(sq if squared else safe_sqrt(sq, eps))
        return torch.stack(torch.broadcast_tensors(*out), dim=-1)

    return core


def gaussian_distances(
    mean_p: Tensor,
    cov_p: Tensor,
    mean_q: Tensor,
    cov_q: Tensor,
    *,
    distances: str | Sequence[str] = DISTANCES,
    diagonal: bool = False,
    squared: bool = False,
    eps: float = 1e-12,
) -> dict[str, Tensor]:
    r"""KL, Bhattacharyya and/or :math:`W_2` of the same pairs, sharing checks and factorisations.

    Equal (to rounding) to :func:`~kexue.geometry.gaussian.kl_divergence_gaussian`,
    :func:`~kexue.geometry.gaussian.bhattacharyya_distance_gaussian` and
    :func:`~kexue.geometry.gaussian.wasserstein2_gaussian` (``method="eig"``), but each covariance
    is validated and Cholesky-factored once for all of them: asking for the three costs about
    what KL plus :math:`W_2` cost alone.

    Args:
        mean_p, cov_p: means and SPD covariances of :math:`p` (variances if ``diagonal``).
        mean_q, cov_q: the same for :math:`q`.
        distances: one or more of ``"kl"`` (:math:`KL(p\|q)`), ``"bhattacharyya"``,
            ``"wasserstein2"``.
        diagonal: covariances are variance vectors ``(..., d)``.
        squared: return :math:`W_2^2` instead of :math:`W_2`.
        eps: gradient-only regulariser under the square roots of :math:`W_2` (see
            :func:`~kexue.geometry.gaussian.wasserstein2_gaussian`).

    Shape:
        as :func:`~kexue.geometry.gaussian.kl_divergence_gaussian`; each output has the broadcast
        batch shape.

    Returns:
        ``{name: values}`` for the requested names, in the order asked, in the inputs' dtype.

    Raises:
        TypeError: an argument is not a floating-point tensor, or ``eps`` is not a real number.
        ValueError: unknown ``distances``, negative ``eps``, mismatched shapes, NaN/inf, or a
            non-symmetric or non-positive-definite covariance (named), as the single functions.

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离, https://kexue.fm/archives/8512.

    Example:
        >>> import torch
        >>> out = gaussian_distances(torch.zeros(2), torch.eye(2), torch.ones(2), torch.eye(2))
        >>> {k: round(float(v), 4) for k, v in out.items()}
        {'kl': 1.0, 'bhattacharyya': 0.25, 'wasserstein2': 1.4142}
    """
    names = _check_distances(distances)
    check_positive(eps, "eps", allow_zero=True)
    core = _factored_core(names, diagonal, squared, eps)

    def run(mp: Tensor, cp: Tensor, mq: Tensor, cq: Tensor) -> Tensor:
        if diagonal:
            return core(mp, cp, None, mq, cq, None)
        rp = cholesky_or_raise(cp, "cov_p", upper=True)
        rq = cholesky_or_raise(cq, "cov_q", upper=True)
        return core(mp, cp, rp, mq, cq, rq)

    args = (mean_p, cov_p, mean_q, cov_q)
    out = evaluate_pairs(run, args, _NAMES, diagonal=diagonal, positive=True, width=len(names))
    return dict(zip(names, out.unbind(-1), strict=True))


def pairwise_gaussian_distances(
    mean_p: Tensor,
    cov_p: Tensor,
    mean_q: Tensor,
    cov_q: Tensor,
    *,
    distances: str | Sequence[str] = "wasserstein2",
    diagonal: bool = False,
    squared: bool = False,
    eps: float = 1e-12,
) -> dict[str, Tensor]:
    r"""Distances between every Gaussian of one set and every Gaussian of another.

    Entry ``[i, j]`` equals the distance between :math:`p_i` and :math:`q_j` computed by
    :func:`gaussian_distances` (to rounding). Each of the :math:`n + m` covariances is checked
    and Cholesky-factored once; pairs are formed by broadcasting in blocks of rows (about
    :math:`2^{18}` covariance entries per block), never as an :math:`n\cdot m` copy of the inputs.
    Bhattacharyya still factors :math:`(\Sigma_{p_i}+\Sigma_{q_j})/2` for every pair, as it must.

    Args:
        mean_p, cov_p: ``n`` means and SPD covariances (variances if ``diagonal``).
        mean_q, cov_q: ``m`` means and SPD covariances.
        distances: one or more of ``"kl"``, ``"bhattacharyya"``, ``"wasserstein2"``.
        diagonal: covariances are variance vectors.
        squared: return :math:`W_2^2` instead of :math:`W_2`.
        eps: gradient-only regulariser under the square roots of :math:`W_2`.

    Shape:
        mean_p: ``(n, d)``, cov_p: ``(n, d, d)`` or ``(n, d)``; mean_q, cov_q likewise with ``m``.
        Each output: ``(n, m)``.

    Returns:
        ``{name: (n, m) table}`` for the requested names, in the inputs' (promoted) dtype.

    Raises:
        TypeError: an argument is not a floating-point tensor, or ``eps`` is not a real number.
        ValueError: unknown ``distances``, negative ``eps``, wrong or mismatched shapes, NaN/inf,
            or a non-symmetric or non-positive-definite covariance (named).

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离, https://kexue.fm/archives/8512.

    Example:
        >>> import torch
        >>> means, covs = torch.tensor([[0.0], [3.0]]), torch.ones(2, 1, 1)
        >>> pairwise_gaussian_distances(means, covs, means, covs)["wasserstein2"]
        tensor([[0., 3.],
                [3., 0.]])
    """
    names = _check_distances(distances)
    check_positive(eps, "eps", allow_zero=True)
    cov_nd = 1 if diagonal else 2
    args = (mean_p, cov_p, mean_q, cov_q)
    for t, name in zip(args, _NAMES, strict=True):
        check_floating(t, name)
    for mean, cov, m_name, c_name in ((mean_p, cov_p, *_NAMES[:2]), (mean_q, cov_q, *_NAMES[2:])):
        if mean.ndim != 2 or cov.ndim != cov_nd + 1 or cov.shape[0] != mean.shape[0]:
            raise ValueError(
                f"{m_name} must be (n, d) and {c_name} (n, d{', d' * (cov_nd - 1)}) with the same "
                f"n for the pairwise form, got shapes {tuple(mean.shape)} and {tuple(cov.shape)}"
            )
    # (n, 1, ...) against (m, ...): the dims and dtypes checks of the broadcast form
    _, out_dtype = check_shapes((mean_p[:, None], cov_p[:, None], mean_q, cov_q), _NAMES, cov_nd)
    sets = ((mean_p, cov_p), (mean_q, cov_q))
    work = torch.promote_types(out_dtype, torch.float32)
    (mp, cp), (mq, cq) = ((m.to(work), c.to(work)) for m, c in sets)
    check_values((mp, cp), _NAMES[:2], diagonal, True)
    check_values((mq, cq), _NAMES[2:], diagonal, True)
    rp = None if diagonal else cholesky_or_raise(cp, "cov_p", upper=True)
    rq = None if diagonal else cholesky_or_raise(cq, "cov_q", upper=True)
    core = _factored_core(names, diagonal, squared, eps)
    n, m, d = mp.shape[0], mq.shape[0], mp.shape[1]
    rows = max(1, _BLOCK_ELEMENTS // (m * d**cov_nd))
    parts = []
    for start in range(0, n, rows):
        blk = slice(start, start + rows)
        parts.append(
            core(
                mp[blk, None],
                cp[blk, None],
                None if rp is None else rp[blk, None],
                mq[None],
                cq[None],
                None if rq is None else rq[None],
            )
        )
    out = torch.cat(parts).to(out_dtype)  # (n, m, k)
    return dict(zip(names, out.unbind(-1), strict=True))
