r"""Closed-form KL divergence, Bhattacharyya distance and 2-Wasserstein distance between Gaussians.

For :math:`p=\mathcal N(\mu_p,\Sigma_p)`, :math:`q=\mathcal N(\mu_q,\Sigma_q)` in :math:`\mathbb R^d`
and :math:`\Delta=\mu_p-\mu_q`, every function takes ``(mean_p, cov_p, mean_q, cov_q)`` batched over
leading dims (which broadcast against each other) and returns one value per pair.

Full covariances are ``(..., d, d)`` tensors; with ``diagonal=True`` they are instead variance
vectors ``(..., d)`` (an explicit flag, because a ``(d, d)`` tensor could also be a batch of ``d``
variance vectors). Everything is computed without explicit inverses or the complex matrix
square root: Cholesky factors, triangular solves and the symmetric eigenvalues of
:math:`L_p^\top\Sigma_qL_p`. Half-precision inputs are computed in float32 and returned in their
own dtype; large batches are processed in cache-sized blocks (:mod:`kexue.geometry._pairs`).
Several distances of the same pairs, or all pairs of two sets, with one Cholesky factorisation
per covariance: :mod:`kexue.geometry.gaussian_pairwise`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from kexue._validate import check_positive
from kexue.geometry._pairs import batched_matmul, evaluate_pairs
from kexue.geometry.psd import (
    check_psd_eigenvalues,
    cholesky_or_raise,
    nuclear_norm,
    psd_factor,
    safe_sqrt,
)

__all__ = [
    "GaussianBhattacharyyaDistance",
    "GaussianKLDivergence",
    "GaussianWasserstein2",
    "bhattacharyya_distance_gaussian",
    "entropy_gaussian",
    "kl_divergence_gaussian",
    "wasserstein2_gaussian",
]

_NAMES = ("mean_p", "cov_p", "mean_q", "cov_q")
_W2_METHODS = ("auto", "eig", "iterative")
_LOG_2PI = math.log(2 * math.pi)


def _half_logdet(chol: Tensor) -> Tensor:
    """:math:`\\tfrac12\\log\\det\\Sigma=\\sum_i\\log L_{ii}` from the Cholesky factor."""
    return chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)


def entropy_gaussian(mean: Tensor, cov: Tensor, *, diagonal: bool = False) -> Tensor:
    r"""Differential entropy of a multivariate normal distribution.

    .. math:: H = \frac d2(1+\log 2\pi) + \frac12\log\det\Sigma

    Args:
        mean: the mean (only its shape is used; kept for a uniform signature).
        cov: SPD covariance, or variances when ``diagonal=True``.
        diagonal: ``cov`` holds variance vectors instead of full matrices.

    Shape:
        mean: ``(..., d)``; cov: ``(..., d, d)`` or ``(..., d)``. Output: the broadcast batch shape.

    Returns:
        The entropy in nats, in the inputs' dtype.

    Raises:
        TypeError: an argument is not a floating-point tensor.
        ValueError: wrong shape, NaN/inf, non-symmetric or non-positive-definite ``cov``.

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离, https://kexue.fm/archives/8512.

    Example:
        >>> import torch
        >>> round(float(entropy_gaussian(torch.zeros(1), torch.ones(1, 1))), 4)
        1.4189
    """

    def core(mean: Tensor, cov: Tensor) -> Tensor:
        half_logdet = (
            0.5 * cov.log().sum(-1) if diagonal else _half_logdet(cholesky_or_raise(cov, "cov"))
        )
        return 0.5 * mean.shape[-1] * (1 + _LOG_2PI) + half_logdet

    return evaluate_pairs(core, (mean, cov), ("mean", "cov"), diagonal=diagonal, positive=True)


def kl_divergence_gaussian(
    mean_p: Tensor, cov_p: Tensor, mean_q: Tensor, cov_q: Tensor, *, diagonal: bool = False
) -> Tensor:
    r"""KL divergence :math:`KL(p\|q)` between two multivariate normal distributions.

    .. math::
        KL(p\|q)=\frac12\Big[\Delta^\top\Sigma_q^{-1}\Delta+\mathrm{tr}(\Sigma_q^{-1}\Sigma_p)
        -\log\det(\Sigma_q^{-1}\Sigma_p)-d\Big]

    Computed as :math:`\tfrac12[\|L_q^{-1}\Delta\|^2+\|\mathrm{tril}_{-1}(A)\|_F^2
    +\sum_i(e^{a_i}-1-a_i)]` with :math:`A=L_q^{-1}L_p` (lower triangular) and
    :math:`a_i=2\log(L_{p,ii}/L_{q,ii})`: every term is non-negative, so the result is ``>= 0``
    and exactly 0 for identical inputs. Note the argument order: KL is not symmetric.

    Args:
        mean_p, cov_p: mean and SPD covariance of :math:`p` (variances if ``diagonal``).
        mean_q, cov_q: mean and SPD covariance of :math:`q`.
        diagonal: covariances are variance vectors ``(..., d)``.

    Shape:
        means: ``(..., d)``; covariances: ``(..., d, d)`` or ``(..., d)``; batch dims broadcast.
        Output: the broadcast batch shape.

    Returns:
        :math:`KL(p\|q)` in nats, in the inputs' (promoted) dtype.

    Raises:
        TypeError: an argument is not a floating-point tensor.
        ValueError: mismatched shapes, NaN/inf, a non-symmetric or non-SPD covariance (named).

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离, https://kexue.fm/archives/8512.

    Example:
        >>> import torch
        >>> kl_divergence_gaussian(torch.zeros(2), torch.eye(2), torch.ones(2), torch.eye(2))
        tensor(1.)
    """
    args = (mean_p, cov_p, mean_q, cov_q)
    return evaluate_pairs(_kl_core(diagonal), args, _NAMES, diagonal=diagonal, positive=True)


def _kl_core(diagonal: bool) -> Callable[..., Tensor]:
    def core(mp: Tensor, cp: Tensor, mq: Tensor, cq: Tensor) -> Tensor:
        if diagonal:
            return kl_diagonal(mp - mq, cp, cq)
        lp, lq = cholesky_or_raise(cp, "cov_p"), cholesky_or_raise(cq, "cov_q")
        return kl_from_factors(mp - mq, lp, lq)

    return core


def kl_diagonal(delta: Tensor, vp: Tensor, vq: Tensor) -> Tensor:
    """KL of diagonal Gaussians from the mean difference and the variances."""
    a = vp.log() - vq.log()
    return 0.5 * (delta.square() / vq + torch.expm1(a) - a).sum(-1)


def kl_from_factors(delta: Tensor, lp: Tensor, lq: Tensor) -> Tensor:
    """KL from the mean difference and lower Cholesky factors (batch dims broadcast)."""
    maha = torch.linalg.solve_triangular(lq, delta.unsqueeze(-1), upper=False)  # (..., d, 1)
    ratio = torch.linalg.solve_triangular(lq, lp, upper=False)  # (..., d, d) lower triangular
    a = 2 * (lp.diagonal(dim1=-2, dim2=-1).log() - lq.diagonal(dim1=-2, dim2=-1).log())
    val = (
        maha.square().sum((-2, -1))
        + ratio.tril(-1).square().sum((-2, -1))
        + (torch.expm1(a) - a).sum(-1)
    )
    return 0.5 * val


def bhattacharyya_distance_gaussian(
    mean_p: Tensor, cov_p: Tensor, mean_q: Tensor, cov_q: Tensor, *, diagonal: bool = False
) -> Tensor:
    r"""Bhattacharyya distance :math:`-\log\int\sqrt{p(x)q(x)}\,dx` between two normals.

    .. math::
        BD=\frac12\log\frac{\det\bar\Sigma}{\sqrt{\det\Sigma_p\det\Sigma_q}}
        +\frac18\Delta^\top\bar\Sigma^{-1}\Delta,\qquad \bar\Sigma=\frac{\Sigma_p+\Sigma_q}2

    Symmetric in :math:`p, q`; the squared Hellinger distance (with the
    :math:`\tfrac12\int(\sqrt p-\sqrt q)^2` convention) is :math:`1-e^{-BD}`. The log-determinant
    term is clamped at 0, which it is mathematically (concavity of :math:`\log\det`).

    Args:
        mean_p, cov_p: mean and SPD covariance of :math:`p` (variances if ``diagonal``).
        mean_q, cov_q: mean and SPD covariance of :math:`q`.
        diagonal: covariances are variance vectors ``(..., d)``.

    Shape:
        means: ``(..., d)``; covariances: ``(..., d, d)`` or ``(..., d)``; batch dims broadcast.
        Output: the broadcast batch shape.

    Returns:
        The Bhattacharyya distance, in the inputs' (promoted) dtype.

    Raises:
        TypeError: an argument is not a floating-point tensor.
        ValueError: mismatched shapes, NaN/inf, a non-symmetric or non-SPD covariance (named).

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离, https://kexue.fm/archives/8512.
        Bhattacharyya, *On a measure of divergence between two statistical populations defined by
        their probability distributions*, Bull. Calcutta Math. Soc. 35, 1943.

    Example:
        >>> import torch
        >>> bhattacharyya_distance_gaussian(torch.zeros(2), torch.eye(2), torch.ones(2), torch.eye(2))
        tensor(0.2500)
    """
    args = (mean_p, cov_p, mean_q, cov_q)
    return evaluate_pairs(_bd_core(diagonal), args, _NAMES, diagonal=diagonal, positive=True)


def _bd_core(diagonal: bool) -> Callable[..., Tensor]:
    def core(mp: Tensor, cp: Tensor, mq: Tensor, cq: Tensor) -> Tensor:
        if diagonal:
            return bd_diagonal(mp - mq, cp, cq)
        lp, lq = cholesky_or_raise(cp, "cov_p"), cholesky_or_raise(cq, "cov_q")
        return bd_from_factors(mp - mq, cp, cq, lp, lq)

    return core


def bd_diagonal(delta: Tensor, vp: Tensor, vq: Tensor) -> Tensor:
    """Bhattacharyya distance of diagonal Gaussians from the mean difference and variances."""
    mid = (vp + vq) / 2
    logdet = 0.5 * (mid.log() - 0.5 * (vp.log() + vq.log())).sum(-1)
    return logdet.clamp_min(0) + (delta.square() / mid).sum(-1) / 8


def bd_from_factors(delta: Tensor, cp: Tensor, cq: Tensor, lp: Tensor, lq: Tensor) -> Tensor:
    """Bhattacharyya distance from the covariances and their Cholesky factors (dims broadcast)."""
    lm = torch.linalg.cholesky((cp + cq) / 2)  # SPD as the mean of two SPD matrices
    logdet = _half_logdet(lm) - 0.5 * (_half_logdet(lp) + _half_logdet(lq))
    sol = torch.linalg.solve_triangular(lm, delta.unsqueeze(-1), upper=False)
    return logdet.clamp_min(0) + sol.square().sum((-2, -1)) / 8


def wasserstein2_gaussian(
    mean_p: Tensor,
    cov_p: Tensor,
    mean_q: Tensor,
    cov_q: Tensor,
    *,
    diagonal: bool = False,
    squared: bool = False,
    eps: float = 1e-12,
    method: str = "auto",
) -> Tensor:
    r"""2-Wasserstein distance between two normals (Bures–Wasserstein / Fréchet distance).

    .. math::
        W_2^2=\|\Delta\|^2+\mathrm{tr}\,\Sigma_p+\mathrm{tr}\,\Sigma_q
        -2\,\mathrm{tr}\big[(\Sigma_p^{1/2}\Sigma_q\Sigma_p^{1/2})^{1/2}\big]

    which equals the "Fréchet distance" form with :math:`\mathrm{tr}[(\Sigma_p\Sigma_q)^{1/2}]`
    (the FID is :math:`W_2^2`, ``squared=True``). The trace is computed as
    :math:`\sum_i\sqrt{\lambda_i(L_p^\top\Sigma_qL_p)}` with :math:`L_p=\mathrm{chol}\,\Sigma_p`, a
    symmetric eigenproblem with eigenvalues clamped at 0 — no complex ``sqrtm`` (``method="eig"``),
    or as the same number written as a nuclear norm, :math:`\|L_q^\top L_p\|_*`, by a matmul-only
    Newton–Schulz iteration for the polar factor (``method="iterative"``). Covariances only
    need to be positive *semi*-definite: if :math:`\Sigma_p` is singular (e.g. a sample covariance
    of fewer than ``d`` points) the roles of p and q are swapped, and if both are singular a factor
    of :math:`\Sigma_p` from ``eigh`` with clamped eigenvalues is used; the value stays finite,
    real and non-negative. Gradients are exact when one covariance is non-singular; when both are
    singular they pass through ``eigh`` and are unreliable for repeated eigenvalues.
    With ``diagonal=True``: :math:`W_2^2=\|\Delta\|^2+\sum_i(\sigma_{p,i}-\sigma_{q,i})^2`.

    Args:
        mean_p, cov_p: mean and PSD covariance of :math:`p` (variances if ``diagonal``).
        mean_q, cov_q: mean and PSD covariance of :math:`q`.
        diagonal: covariances are variance vectors ``(..., d)``.
        squared: return :math:`W_2^2` instead of :math:`W_2`.
        eps: added under every square root for the gradient only (values are unaffected), so the
            gradient stays finite at zero eigenvalues and at :math:`W_2 = 0`.
        method: how the trace term is computed (full covariances only).
            ``"eig"``: ``eigvalsh`` as above; exact to rounding (about 1e-15 relative to scipy in
            float64), handles singular covariances, differentiable to any order.
            ``"iterative"``: if both covariances are positive definite (Cholesky succeeds), 11
            scaled Newton–Schulz steps of two batched matmuls each on :math:`B/\|B\|_F`,
            :math:`B=L_q^\top L_p`, a per-matrix convergence test
            (:math:`\|X^\top X-I\|_F\le\sqrt{\epsilon_{dtype}}`) and one last step. It matches
            ``"eig"`` to rounding (float64: below 1e-13 relative on the trace up to covariance
            condition numbers of 1e6; beyond that both lose digits alike). Matrices that have not
            converged after 8 further plain steps (singular-value ratio far below 1e-3: very
            ill-conditioned or near-singular) are computed by ``"eig"``, as are blocks with a
            singular covariance. The gradient is the polar factor: exact first derivatives, and a
            second backward raises.
            ``"auto"`` (default): ``"eig"`` on CPU, where LAPACK measured 1.2-3x faster than the
            iteration for every d from 2 to 64; ``"iterative"`` on other devices, unless a
            covariance requires grad.

    Shape:
        means: ``(..., d)``; covariances: ``(..., d, d)`` or ``(..., d)``; batch dims broadcast.
        Output: the broadcast batch shape.

    Returns:
        :math:`W_2` (or :math:`W_2^2`), symmetric in p and q, in the inputs' (promoted) dtype.

    Raises:
        TypeError: a tensor argument is not floating point, or ``eps`` is not a real number.
        ValueError: mismatched shapes, NaN/inf, negative ``eps``, an unknown ``method``, or a
            non-symmetric or indefinite covariance (named).

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离, https://kexue.fm/archives/8512.
        Dowson & Landau, *The Fréchet distance between multivariate normal distributions*, J.
        Multivariate Anal. 12, 1982; Givens & Shortt, Michigan Math. J. 31, 1984.

    Example:
        >>> import torch
        >>> wasserstein2_gaussian(torch.zeros(2), 4 * torch.eye(2), torch.zeros(2), torch.eye(2))
        tensor(1.4142)
    """
    check_positive(eps, "eps", allow_zero=True)
    _check_w2_method(method)

    def core(mp: Tensor, cp: Tensor, mq: Tensor, cq: Tensor) -> Tensor:
        mean_term = (mp - mq).square().sum(-1)
        if diagonal:
            cov_term = (safe_sqrt(cp, eps) - safe_sqrt(cq, eps)).square().sum(-1)
        else:
            trace = cp.diagonal(dim1=-2, dim2=-1).sum(-1) + cq.diagonal(dim1=-2, dim2=-1).sum(-1)
            cov_term = trace - 2 * _trace_sqrt_product(cp, cq, trace, eps, method)
        sq = (mean_term + cov_term).clamp_min(0)
        return sq if squared else safe_sqrt(sq, eps)

    args = (mean_p, cov_p, mean_q, cov_q)
    return evaluate_pairs(core, args, _NAMES, diagonal=diagonal, positive=False)


def _check_w2_method(method: object) -> str:
    if not isinstance(method, str) or method not in _W2_METHODS:
        raise ValueError(
            f"method must be one of {', '.join(map(repr, _W2_METHODS))}, got {method!r}"
        )
    return method


def _trace_sqrt_product(cp: Tensor, cq: Tensor, trace: Tensor, eps: float, method: str) -> Tensor:
    r""":math:`\mathrm{tr}[(\Sigma_p\Sigma_q)^{1/2}]` by ``method`` (see :func:`wasserstein2_gaussian`)."""
    if method == "iterative" or (
        method == "auto"
        and cp.device.type != "cpu"
        and not (torch.is_grad_enabled() and (cp.requires_grad or cq.requires_grad))
    ):
        up, info_p = torch.linalg.cholesky_ex(cp, upper=True)
        uq, info_q = torch.linalg.cholesky_ex(cq, upper=True)
        if not (bool((info_p != 0).any()) or bool((info_q != 0).any())):
            return nuclear_norm(uq @ up.mT, eps)  # sigma(L_q^T L_p)^2 = lambda(L_p^T S_q L_p)
    factor, other, other_name = _w2_factor(cp, cq, eps)
    lam = w2_eigenvalues(factor, other)  # (..., d)
    diag_max = other.diagonal(dim1=-2, dim2=-1).amax(-1)  # bounds |other| (PSD)
    check_psd_eigenvalues(lam, trace * diag_max, other_name)
    return safe_sqrt(lam, eps).sum(-1)


def w2_eigenvalues(factor: Tensor, other: Tensor) -> Tensor:
    r"""Eigenvalues of :math:`R\Sigma R^\top` (similar to :math:`\Sigma_p\Sigma_q`), ``R^T R`` one
    covariance and ``other`` the other one. ``R`` comes column-major from LAPACK, so both products
    read their operands contiguously (2x faster at d = 64); batch dims broadcast."""
    return torch.linalg.eigvalsh(batched_matmul(factor, batched_matmul(other, factor.mT)))


def _w2_factor(cp: Tensor, cq: Tensor, eps: float) -> tuple[Tensor, Tensor, str]:
    """A factor ``R`` of one covariance (``R^T R``) and the other covariance, for the W2 trace."""
    chol, info = torch.linalg.cholesky_ex(cp, upper=True)
    if not bool((info != 0).any()):
        return chol, cq, "cov_q"
    chol, info = torch.linalg.cholesky_ex(cq, upper=True)
    if not bool((info != 0).any()):
        return chol, cp, "cov_p"
    # Both singular: Sigma_q's PSD-ness is not visible through a singular factor, so check it here.
    evals_q = torch.linalg.eigvalsh(cq)
    check_psd_eigenvalues(evals_q, evals_q.abs().amax(dim=-1), "cov_q")
    return psd_factor(cp, "cov_p", eps).mT, cq, "cov_q"


class _PairDistance(nn.Module):
    """Common base of the module forms: stateless, holds only the ``diagonal`` option."""

    def __init__(self, *, diagonal: bool = False) -> None:
        super().__init__()
        self.diagonal = diagonal

    def extra_repr(self) -> str:
        return f"diagonal={self.diagonal}"


class GaussianKLDivergence(_PairDistance):
    r"""Module form of :func:`kl_divergence_gaussian`: :math:`KL(p\|q)` per pair, no reduction.

    Args:
        diagonal: covariances are variance vectors ``(..., d)``.

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离, https://kexue.fm/archives/8512.

    Example:
        >>> import torch
        >>> GaussianKLDivergence()(torch.zeros(2), torch.eye(2), torch.ones(2), torch.eye(2))
        tensor(1.)
    """

    def forward(self, mean_p: Tensor, cov_p: Tensor, mean_q: Tensor, cov_q: Tensor) -> Tensor:
        return kl_divergence_gaussian(mean_p, cov_p, mean_q, cov_q, diagonal=self.diagonal)


class GaussianBhattacharyyaDistance(_PairDistance):
    r"""Module form of :func:`bhattacharyya_distance_gaussian`, per pair, no reduction.

    Args:
        diagonal: covariances are variance vectors ``(..., d)``.

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离, https://kexue.fm/archives/8512.

    Example:
        >>> import torch
        >>> GaussianBhattacharyyaDistance()(torch.zeros(1), torch.eye(1), torch.zeros(1), torch.eye(1))
        tensor(0.)
    """

    def forward(self, mean_p: Tensor, cov_p: Tensor, mean_q: Tensor, cov_q: Tensor) -> Tensor:
        return bhattacharyya_distance_gaussian(mean_p, cov_p, mean_q, cov_q, diagonal=self.diagonal)


class GaussianWasserstein2(_PairDistance):
    r"""Module form of :func:`wasserstein2_gaussian` (:math:`W_2`, or :math:`W_2^2` if ``squared``).

    Args:
        diagonal: covariances are variance vectors ``(..., d)``.
        squared: return :math:`W_2^2` (the Fréchet distance / FID convention).
        eps: gradient-only regulariser under the square roots (see the function).
        method: ``"auto"``, ``"eig"`` or ``"iterative"`` trace computation (see the function).

    Raises:
        ValueError: unknown ``method`` or negative ``eps`` (checked here, not on the first call).
        TypeError: non-real ``eps``.

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离, https://kexue.fm/archives/8512.

    Example:
        >>> import torch
        >>> GaussianWasserstein2(squared=True)(torch.zeros(2), torch.eye(2), torch.ones(2), torch.eye(2))
        tensor(2.)
    """

    def __init__(
        self,
        *,
        diagonal: bool = False,
        squared: bool = False,
        eps: float = 1e-12,
        method: str = "auto",
    ) -> None:
        super().__init__(diagonal=diagonal)
        self.squared = squared
        self.eps = check_positive(eps, "eps", allow_zero=True)
        self.method = _check_w2_method(method)

    def forward(self, mean_p: Tensor, cov_p: Tensor, mean_q: Tensor, cov_q: Tensor) -> Tensor:
        return wasserstein2_gaussian(
            mean_p,
            cov_p,
            mean_q,
            cov_q,
            diagonal=self.diagonal,
            squared=self.squared,
            eps=self.eps,
            method=self.method,
        )

    def extra_repr(self) -> str:
        return (
            f"diagonal={self.diagonal}, squared={self.squared}, eps={self.eps}, "
            f"method={self.method!r}"
        )
