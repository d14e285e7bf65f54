"""Symmetric positive semi-definite matrices: square roots, sample covariances and input checks.

The Gaussian distances in :mod:`kexue.geometry.gaussian` need covariances that are symmetric and
positive (semi-)definite. This module holds the pieces they share: the symmetric square root via
``eigh`` with clamped eigenvalues (never the complex ``scipy.linalg.sqrtm``), the nuclear norm by a
matmul-only Newton–Schulz iteration, the sample mean and covariance of a batch of points, and the
argument checks that turn a non-symmetric or indefinite covariance into a ``ValueError`` naming
the argument.

The square root has its own backward: autograd through ``eigh`` divides by eigenvalue gaps and is
NaN at any repeated eigenvalue (the identity, ``diag(1, 1, 2)``), although the derivative exists
there; the Daleckii–Krein form used instead only divides by sums of square roots.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from kexue._validate import check_finite, check_floating, check_ndim, check_nonempty

__all__ = ["sample_mean_cov", "sqrtm_psd"]


def safe_sqrt(x: Tensor, eps: float) -> Tensor:
    """``sqrt(max(x, 0))`` in value, with the gradient of ``sqrt(max(x, 0) + eps)`` (finite at 0)."""
    x = x.clamp_min(0)
    if eps <= 0:
        return x.sqrt()
    smooth = (x + eps).sqrt()
    return smooth + (x.sqrt() - smooth).detach()


def psd_tol(dtype: torch.dtype) -> float:
    """Relative tolerance for symmetry and for negative eigenvalues caused by rounding."""
    return math.sqrt(torch.finfo(dtype).eps)


def check_symmetric(cov: Tensor, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``cov`` is finite and symmetric up to rounding.

    The scale is the largest diagonal entry, which bounds every entry of a PSD matrix (an
    indefinite one fails later anyway); ``C - C^T`` is antisymmetric, so its max is its max |.|.
    It is also the finiteness test: a NaN or inf entry makes an entry of ``C - C^T`` NaN or
    ``+inf`` (a diagonal one gives ``inf - inf``), and ``amax`` propagates NaN.
    """
    asym = (cov - cov.mT).amax(dim=(-2, -1))
    scale = cov.diagonal(dim1=-2, dim2=-1).abs().amax(dim=-1)
    bad = (asym > psd_tol(cov.dtype) * scale) | ~torch.isfinite(asym)
    if bool(bad.any()):
        check_finite(cov, name)
        worst = float((asym / scale.clamp_min(torch.finfo(cov.dtype).tiny)).max())
        raise ValueError(
            f"{name} must be symmetric, but max |{name} - {name}^T| / max |{name}| = {worst:.3g}; "
            f"symmetrise it with ({name} + {name}.mT) / 2"
        )


def cholesky_or_raise(cov: Tensor, name: str, *, upper: bool = False) -> Tensor:
    """Lower (or upper) Cholesky factor of ``cov``; ``ValueError`` naming ``name`` if not SPD."""
    chol, info = torch.linalg.cholesky_ex(cov, upper=upper)
    if bool((info != 0).any()):
        n_bad = int((info != 0).sum())
        raise ValueError(
            f"{name} must be symmetric positive definite, but the Cholesky factorisation failed for "
            f"{n_bad} of {info.numel()} matrices (singular or indefinite); add a small multiple of "
            f"the identity, e.g. {name} + 1e-6 * torch.eye(d)"
        )
    return chol


def check_psd_eigenvalues(eigvals: Tensor, scale: Tensor, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` when an eigenvalue is clearly (not by rounding) negative."""
    low = eigvals.amin(dim=-1)
    bad = low < -psd_tol(eigvals.dtype) * scale
    if bool(bad.any()):
        raise ValueError(
            f"{name} must be positive semi-definite, but has an eigenvalue {float(low.min()):.4g} "
            f"well below zero"
        )


def psd_factor(cov: Tensor, name: str, eps: float) -> Tensor:
    """A factor ``A`` with ``A A^T = cov`` for a singular PSD ``cov`` (eigh, clamped eigenvalues).

    Eigenvalues below ``d * eps_dtype * max|w|`` (numpy's ``matrix_rank`` rule) are rounding noise
    of a zero eigenvalue; they are set to 0, since their square roots would otherwise add up.
    """
    evals, evecs = torch.linalg.eigh(cov)
    top = evals.abs().amax(dim=-1, keepdim=True)
    check_psd_eigenvalues(evals, top.squeeze(-1), name)
    noise = cov.shape[-1] * torch.finfo(evals.dtype).eps * top
    evals = torch.where(evals < noise, torch.zeros_like(evals), evals)
    return evecs * safe_sqrt(evals, eps).unsqueeze(-2)  # (..., d, d): column j scaled by sqrt(w_j)


@functools.lru_cache(maxsize=32)
def _polar_schedule(floor: float, tol: float) -> tuple[float, ...]:
    """Scalings ``a_k`` of the scaled Newton–Schulz steps ``x <- a x (3 - a^2 x^2) / 2``.

    Each maps singular values in ``[l, 1]`` into ``[l', 1]`` with ``l' = p(l) = p(1)`` as large as
    a cubic allows (``a^2 = 3 / (1 + l + l^2)``; Chen & Chow 2014): about 2.6x per step while
    ``l`` is small, then quadratic. Stops once ``1 - l <= tol``.
    """
    out: list[float] = []
    ell = floor
    while 1 - ell > tol and len(out) < 100:
        a = math.sqrt(3 / (1 + ell + ell * ell))
        out.append(a)
        ell = a * ell * (3 - a * a * ell * ell) / 2
    return tuple(out)


class _TraceWithPolar(torch.autograd.Function):
    """``tr(x^T b)`` with ``x`` the polar factor of ``b``: the value and gradient of ``sum sigma(b)``."""

    @staticmethod
    def forward(ctx: Any, b: Tensor, polar: Tensor) -> Tensor:
        ctx.save_for_backward(polar)
        return (polar * b).sum((-2, -1))

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (polar,) = ctx.saved_tensors
        return grad[..., None, None] * polar, None


POLAR_FLOOR = 1e-3  # the schedule is designed for sigma_min(b) / ||b||_F >= POLAR_FLOOR
POLAR_EXTRA_STEPS = 8  # plain Newton–Schulz steps allowed for matrices below the floor


def nuclear_norm(b: Tensor, eps: float = 0.0) -> Tensor:
    r"""Nuclear norm :math:`\sum_i\sigma_i(B)=\mathrm{tr}\sqrt{B^\top B}` by a matmul-only iteration.

    The polar factor :math:`U` of :math:`B=UH` is computed by scaled Newton–Schulz steps on
    :math:`X_0=B/\|B\|_F` (two batched matmuls each, a fixed schedule for singular-value ratios
    down to ``POLAR_FLOOR``, then at most ``POLAR_EXTRA_STEPS`` plain steps for the matrices that
    have not converged); a matrix counts as converged when :math:`\|X^\top X-I\|_F\le
    \sqrt{\epsilon_{dtype}}`, after which one more step leaves a relative error below
    :math:`\epsilon_{dtype}`, and the value is :math:`\mathrm{tr}(U^\top B)`. The gradient is
    :math:`U` itself (first derivatives only). Matrices that do not converge (singular or very
    ill-conditioned :math:`B`) get ``sum(sqrt(eigvalsh(B^T B)))`` instead, with ``eps`` under the
    square root for the gradient as in :func:`safe_sqrt`.
    (Higham, *Functions of Matrices*, SIAM 2008, ch. 8; Chen & Chow, *A stable scaling of
    Newton-Schulz for improving the sign function computation of a Hermitian matrix*, 2014.)

    Args:
        b: square matrices ``(..., d, d)``.
        eps: gradient-only regulariser of the ``eigvalsh`` fallback.

    Returns:
        ``(...)``: the nuclear norms, in ``b``'s dtype.
    """
    n = b.shape[-1]
    flat = b.reshape(-1, n, n)
    tol = math.sqrt(torch.finfo(b.dtype).eps)
    eye = torch.eye(n, dtype=b.dtype, device=b.device)
    with torch.no_grad():
        norm = torch.linalg.matrix_norm(flat).clamp_min(torch.finfo(b.dtype).tiny)
        x = flat / norm[:, None, None]
        for a in _polar_schedule(POLAR_FLOOR, tol / (4 * math.sqrt(n))):
            x = torch.baddbmm(x, x, x.mT @ x, beta=1.5 * a, alpha=-0.5 * a**3)
        gram = x.mT @ x
        todo = torch.linalg.matrix_norm(gram - eye) > tol
        if bool(todo.any()):  # below the floor: plain steps on those matrices only
            idx = todo.nonzero().squeeze(-1)
            xs, gs = x[idx], gram[idx]
            for _ in range(POLAR_EXTRA_STEPS):
                xs = torch.baddbmm(xs, xs, gs, beta=1.5, alpha=-0.5)
                gs = xs.mT @ xs
                left = torch.linalg.matrix_norm(gs - eye) > tol
                if not bool(left.any()):
                    break
            x[idx], gram[idx], todo[idx] = xs, gs, left
        x = torch.baddbmm(x, x, gram, beta=1.5, alpha=-0.5)  # the last step: error ~ tol^2
    out = _TraceWithPolar.apply(flat, x)
    if bool(todo.any()):
        idx = todo.nonzero().squeeze(-1)
        sub = flat[idx]
        lam = torch.linalg.eigvalsh(sub.mT @ sub)
        out = out.index_put((idx,), safe_sqrt(lam, eps).sum(-1))
    return out.reshape(b.shape[:-2])


def sqrt_divided_differences(evals: Tensor, eps: float) -> Tensor:
    r"""The Daleckii–Krein matrix :math:`F_{ij}=f[w_i,w_j]` of :math:`f(w)=\sqrt{\max(w,0)}`.

    Off the diagonal :math:`F_{ij}=c_{ij}/(s_i+s_j)` with :math:`s=f(w)` and :math:`c_{ij}` the
    divided difference of the clamp (1 when both eigenvalues are :math:`\ge0`, 0 when both are
    negative): the divided difference :math:`(s_i-s_j)/(w_i-w_j)` without the gap in the
    denominator, so it is finite at repeated eigenvalues. On the diagonal, and off it where
    :math:`s_i+s_j=0` (two zero eigenvalues, where the derivative is unbounded), :math:`\sqrt{w}`
    is replaced by :math:`\sqrt{w+\epsilon}` as in :func:`safe_sqrt` (infinite for ``eps = 0``).
    """
    clamped = evals.clamp_min(0)
    root, smooth = clamped.sqrt(), (clamped + eps).sqrt()
    gap = evals[..., :, None] - evals[..., None, :]
    clamp_dd = torch.where(
        gap != 0,
        (clamped[..., :, None] - clamped[..., None, :]) / torch.where(gap != 0, gap, 1.0),
        (evals[..., :, None] >= 0).to(evals.dtype),  # clamp_min passes the gradient at 0
    )
    root_sum = root[..., :, None] + root[..., None, :]
    off_diagonal = ~torch.eye(evals.shape[-1], dtype=torch.bool, device=evals.device)
    denom = torch.where(
        off_diagonal & (root_sum > 0), root_sum, smooth[..., :, None] + smooth[..., None, :]
    )
    return torch.where(clamp_dd == 0, 0.0, clamp_dd / denom)  # 0, not 0 * inf, where f is flat


class _CongruenceScale(torch.autograd.Function):
    r"""``X = U (F o (U^T G U)) U^T``: the backward of :class:`_SqrtmPSD`, itself differentiable.

    For a positive definite root :math:`S` and ``eps = 0`` this solves :math:`SX+XS=G`, so
    :math:`dX=\mathcal L_S^{-1}(dG-dS\,X-X\,dS)` gives the next order through the saved ``S``
    (the output of :class:`_SqrtmPSD`, hence differentiable again); elsewhere it is the derivative
    of that Sylvester solution, a surrogate where the true one is unbounded.
    """

    @staticmethod
    def forward(ctx: Any, g: Tensor, root: Tensor, evecs: Tensor, factors: Tensor) -> Tensor:
        x = evecs @ (factors * (evecs.mT @ g @ evecs)) @ evecs.mT
        ctx.save_for_backward(root, evecs, factors, x)
        return x

    @staticmethod
    def backward(ctx: Any, x_bar: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        root, evecs, factors, x = ctx.saved_tensors
        y = _CongruenceScale.apply(x_bar, root, evecs, factors)  # F is symmetric: self-adjoint
        grad_root = -(y @ x.mT + x.mT @ y) if ctx.needs_input_grad[1] else None
        return (y if ctx.needs_input_grad[0] else None), grad_root, None, None


class _SqrtmPSD(torch.autograd.Function):
    """``U diag(safe_sqrt(w)) U^T`` from a given ``eigh``; backward by Daleckii–Krein, not eigh."""

    @staticmethod
    def forward(ctx: Any, matrix: Tensor, evals: Tensor, evecs: Tensor, eps: float) -> Tensor:
        root = (evecs * safe_sqrt(evals, eps).unsqueeze(-2)) @ evecs.mT
        root = (root + root.mT) / 2
        ctx.save_for_backward(evals, evecs, root)
        ctx.eps = eps
        return root

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        evals, evecs, root = ctx.saved_tensors
        factors = sqrt_divided_differences(evals, ctx.eps)
        return _CongruenceScale.apply((grad + grad.mT) / 2, root, evecs, factors), None, None, None


def sqrtm_psd(matrix: Tensor, *, eps: float = 0.0) -> Tensor:
    r"""Symmetric square root of a symmetric positive semi-definite matrix.

    Computes :math:`S = U\,\mathrm{diag}(\sqrt{\max(w, 0)})\,U^\top` from the eigendecomposition
    :math:`M = U\,\mathrm{diag}(w)\,U^\top` (``torch.linalg.eigh``). Eigenvalues that rounding made
    slightly negative are clamped to zero, so a rank-deficient sample covariance gives a real,
    finite root — unlike ``scipy.linalg.sqrtm``, which may return complex values.

    The gradient is not autograd through ``eigh``, whose backward divides by eigenvalue gaps and is
    NaN at any repeated eigenvalue (e.g. at the identity, where the derivative is ``dM / 2``). It
    is the Daleckii–Krein form :math:`\bar M=U\,[(U^\top\bar S U)_{ij}/(s_i+s_j)]\,U^\top`
    (:math:`s=\sqrt{\max(w,0)}`, :math:`\bar S` symmetrised; :func:`sqrt_divided_differences`),
    i.e. the solution of the Sylvester equation :math:`S\bar M+\bar M S=\bar S`, finite for every
    positive definite :math:`M`; it is differentiable again (second derivatives are exact for
    positive definite :math:`M` and ``eps = 0``).

    Args:
        matrix: symmetric PSD matrices.
        eps: added under the square root for the gradient only (the value is unaffected): the
            diagonal terms :math:`1/(2 s_i)` and the pairs of zero eigenvalues (:math:`s_i+s_j=0`),
            where the derivative is unbounded, use :math:`\sqrt{w+\epsilon}`; use a small
            positive value when differentiating at singular matrices.

    Shape:
        matrix: ``(..., d, d)``. Output: ``(..., d, d)``.

    Returns:
        The symmetric PSD root :math:`S` with :math:`S S = M`, in ``matrix``'s dtype.

    Raises:
        TypeError: ``matrix`` is not a floating-point tensor.
        ValueError: ``matrix`` is not square, empty, non-finite, not symmetric, or has a clearly
            negative eigenvalue.

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离 (KL divergence, Bhattacharyya distance
        and W distance between two multivariate normals), https://kexue.fm/archives/8512.
        Higham, *Functions of Matrices*, SIAM 2008, ch. 6.

    Example:
        >>> import torch
        >>> sqrtm_psd(torch.tensor([[4.0, 0.0], [0.0, 9.0]]))
        tensor([[2., 0.],
                [0., 3.]])
    """
    check_floating(matrix, "matrix")
    check_ndim(matrix, "matrix", 2)
    check_nonempty(matrix, "matrix")
    if matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"matrix must be square, got shape {tuple(matrix.shape)}")
    check_finite(matrix, "matrix")
    check_symmetric(matrix, "matrix")
    work = matrix.to(torch.promote_types(matrix.dtype, torch.float32))
    with torch.no_grad():
        evals, evecs = torch.linalg.eigh(work)
    check_psd_eigenvalues(evals, evals.abs().amax(dim=-1), "matrix")
    return _SqrtmPSD.apply(work, evals, evecs, eps).to(matrix.dtype)


def sample_mean_cov(samples: Tensor, *, correction: int = 1) -> tuple[Tensor, Tensor]:
    r"""Sample mean and covariance of points stored along the second-to-last dimension.

    .. math::
        \hat\mu = \frac1N\sum_i x_i,\qquad
        \hat\Sigma = \frac{1}{N - c}\sum_i (x_i-\hat\mu)(x_i-\hat\mu)^\top

    with ``c = correction`` (1: unbiased, 0: maximum likelihood). With ``N <= d`` the covariance is
    singular; :func:`kexue.geometry.gaussian.wasserstein2_gaussian` still accepts it.

    Args:
        samples: ``N`` points of dimension ``d`` (batched over leading dims).
        correction: the ``c`` above; ``N - c`` must be positive.

    Shape:
        samples: ``(..., N, d)``. Returns ``(..., d)`` and ``(..., d, d)``.

    Returns:
        ``(mean, cov)`` in ``samples``' dtype, with ``cov`` exactly symmetric.

    Raises:
        TypeError: ``samples`` is not floating point or ``correction`` is not an int.
        ValueError: ``samples`` has fewer than 2 dims, is empty or non-finite, or
            ``N - correction <= 0``.

    Reference:
        Su Jianlin, 两个多元正态分布的KL散度、巴氏距离和W距离, https://kexue.fm/archives/8512
        (the distances between Gaussians fitted to data, e.g. the Fréchet Inception Distance of
        Heusel et al., *GANs Trained by a Two Time-Scale Update Rule*, NeurIPS 2017).

    Example:
        >>> import torch
        >>> mean, cov = sample_mean_cov(torch.tensor([[0.0, 0.0], [2.0, 2.0]]))
        >>> mean, cov
        (tensor([1., 1.]), tensor([[2., 2.],
                [2., 2.]]))
    """
    check_floating(samples, "samples")
    check_ndim(samples, "samples", 2)
    check_nonempty(samples, "samples")
    check_finite(samples, "samples")
    if isinstance(correction, bool) or not isinstance(correction, int):
        raise TypeError(f"correction must be an int, got {type(correction).__name__}")
    n = samples.shape[-2]
    if n - correction <= 0:
        raise ValueError(
            f"samples has N = {n} points, too few for correction = {correction} (need N > correction)"
        )
    mean = samples.mean(dim=-2)
    centred = samples - mean.unsqueeze(-2)  # (..., N, d)
    cov = centred.mT @ centred / (n - correction)
    return mean, (cov + cov.mT) / 2
