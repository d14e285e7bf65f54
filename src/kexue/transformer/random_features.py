r"""FAVOR+ positive random features and the Gaussian orthogonal random matrices they use.

For :math:`\omega\sim\mathcal N(0,I_d)`, :math:`e^{q\cdot k}=\mathbb E_\omega[e^{\omega\cdot q-\|q\|^2/2}
e^{\omega\cdot k-\|k\|^2/2}]` (complete the square), so with the rows of :math:`W\in\mathbb
R^{m\times d}` as samples, :math:`\phi(x)=m^{-1/2}\exp(Wx-\|x\|^2/2)` gives the strictly positive,
unbiased estimate :math:`e^{q\cdot k}\approx\phi(q)\cdot\phi(k)`. Orthogonal rows with
:math:`\chi_d` norms keep every row :math:`\mathcal N(0,I)` and lower the variance. Attention built
on these features lives in :mod:`kexue.transformer.performer`.

Reference:
    Su Jianlin, "Performer：用随机投影将Attention的复杂度线性化", https://kexue.fm/archives/7921 ;
    Choromanski et al., "Rethinking Attention with Performers", ICLR 2021.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from kexue._optional import requires
from kexue._validate import check_finite, check_floating, check_ndim, check_nonempty, check_positive

__all__ = ["Scaling", "gaussian_orthogonal_random_matrix", "positive_random_features"]

Scaling = Literal["chi", "fixed", "qmc"]


def _pos_int(val: object, name: str) -> int:
    if isinstance(val, bool) or not isinstance(val, int):
        raise TypeError(f"{name} must be an int, got {type(val).__name__}")
    if val < 1:
        raise ValueError(f"{name} must be >= 1, got {val}")
    return val


def gaussian_orthogonal_random_matrix(
    m: int,
    d: int,
    generator: torch.Generator | None = None,
    orthogonal: bool = True,
    *,
    scaling: Scaling = "chi",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""Random projection :math:`W\in\mathbb R^{m\times d}` whose rows are marginally :math:`\mathcal N(0,I_d)`.

    ``orthogonal``: :math:`\lceil m/d\rceil` independent Haar-random orthogonal :math:`d\times d`
    blocks (QR with the signs of :math:`\mathrm{diag}\,R` fixed), the first :math:`m` rows kept;
    rows within a block are exactly orthogonal. Row norms: ``"chi"`` independent
    :math:`\chi_d` (norms of Gaussian vectors, so each row is still :math:`\mathcal N(0,I)`);
    ``"fixed"`` :math:`\sqrt d`; ``"qmc"`` the quasi-Monte-Carlo radii
    :math:`F_{\chi_d}^{-1}(i/(m+1))`, randomly permuted (the article's suggestion). Drawn in
    float64 on the CPU from ``generator``, then cast.

    Args:
        m: number of features (rows). d: dimension (columns).
        generator: source of randomness (default: torch's global one).
        orthogonal: orthogonal blocks (True) or i.i.d. Gaussian rows.
        scaling: ``"chi"``, ``"fixed"`` or ``"qmc"``. dtype, device: of the result.

    Returns:
        ``(m, d)`` tensor.

    Raises:
        TypeError: non-int ``m``/``d``. ValueError: ``m``/``d`` < 1, unknown ``scaling``.

    Reference:
        Su Jianlin, "Performer：用随机投影将Attention的复杂度线性化", https://kexue.fm/archives/7921 ;
        Choromanski et al., "Rethinking Attention with Performers", ICLR 2021.

    Example:
        >>> w = gaussian_orthogonal_random_matrix(4, 4, torch.Generator().manual_seed(0))
        >>> g = w @ w.T; bool((g - torch.diag(g.diagonal())).abs().max() < 1e-5)
        True
    """
    m, d = _pos_int(m, "m"), _pos_int(d, "d")
    if scaling not in ("chi", "fixed", "qmc"):
        raise ValueError(f"scaling must be 'chi', 'fixed' or 'qmc', got {scaling!r}")
    f64 = torch.float64
    if orthogonal:
        blocks = torch.randn(-(-m // d), d, d, generator=generator, dtype=f64)
        qm, rm = torch.linalg.qr(blocks)
        qm = qm * torch.sign(rm.diagonal(dim1=-2, dim2=-1)).unsqueeze(-2)  # Haar measure
        dirs = qm.transpose(-2, -1).reshape(-1, d)[:m]  # rows of each block, unit norm
    else:
        g = torch.randn(m, d, generator=generator, dtype=f64)
        if scaling == "chi":
            return g.to(dtype=dtype, device=device)
        dirs = g / g.norm(dim=1, keepdim=True)
    if scaling == "chi":
        norms = torch.randn(m, d, generator=generator, dtype=f64).norm(dim=1)
    elif scaling == "fixed":
        norms = torch.full((m,), math.sqrt(d), dtype=f64)
    else:
        with requires("ref"):
            from scipy.stats import chi

        radii = torch.as_tensor(chi(df=d).ppf([i / (m + 1) for i in range(1, m + 1)]), dtype=f64)
        norms = radii[torch.randperm(m, generator=generator)]
    return (dirs * norms[:, None]).to(dtype=dtype, device=device)


def _prf(
    x: torch.Tensor,
    w: torch.Tensor,
    half_sq: float,
    is_query: bool,
    key_mask: torch.Tensor | None,
    eps: float,
    stabilize: bool,
) -> torch.Tensor:
    """Unscaled features ``exp(u - c) + eps``, ``u = x w^T - half_sq |x|^2`` (``w`` holds the scale)."""
    z = x @ w.transpose(-2, -1)  # (..., n, m)
    grad = torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)
    h = (x * x).sum(-1, keepdim=True) * half_sq
    z = z - h if grad else z.sub_(h)  # log-features; in place when no graph is recorded
    if stabilize:
        if is_query:  # a per-query constant cancels in the row normalisation
            c = z.amax(-1, keepdim=True)
        else:  # one constant per (batch, head) cancels globally; a per-key max would not
            zz = z if key_mask is None else z.masked_fill(~key_mask[..., None], -math.inf)
            c = zz.amax((-2, -1), keepdim=True)
            c = torch.where(torch.isfinite(c), c, torch.zeros_like(c))  # all keys masked
        z = z - c.detach() if grad else z.sub_(c)
    phi = z.exp() if grad else z.exp_()
    phi = phi + eps if grad else phi.add_(eps)
    if key_mask is not None:
        phi = phi * key_mask[..., None].to(phi.dtype)
    return phi


def positive_random_features(
    x: torch.Tensor,
    projection: torch.Tensor,
    is_query: bool,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    stabilize: bool = True,
    eps: float = 1e-4,
) -> torch.Tensor:
    r"""FAVOR+ positive features :math:`\phi(x)=m^{-1/2}\big(\exp(u-c)+\epsilon\big)`, :math:`u=sWx-\tfrac{s^2}{2}\|x\|^2`.

    With ``scale`` :math:`s=d^{-1/4}` (default), :math:`\phi(q)\cdot\phi(k)` estimates
    :math:`e^{q\cdot k/\sqrt d}` up to the constants :math:`c`. ``stabilize`` subtracts a detached
    :math:`c`: the per-row max of :math:`u` for queries, the max of :math:`u` over all (unmasked)
    keys and features for keys (one scalar per leading index); both cancel in normalised
    attention, and the largest feature is then exactly :math:`m^{-1/2}(1+\epsilon)`.
    **Departure from the reference code:** google-research and performer-pytorch subtract the max
    of :math:`sWx` only, leaving :math:`e^{-s^2\|x\|^2/2}` in every feature; for the large-norm
    queries/keys of pretrained models (:math:`s^2\|x\|^2/2\gg\log(1/\epsilon)`) all features then
    fall below :math:`\epsilon` and attention collapses to uniform. With ``eps=0`` both forms give
    identical attention. With ``stabilize=False, eps=0`` the estimate is unbiased:
    :math:`\mathbb E_W[\phi(q)\cdot\phi(k)]=e^{s^2q\cdot k}`.

    Args:
        x: queries or keys ``(..., n, d)``.
        projection: ``(m, d)`` random matrix (:func:`gaussian_orthogonal_random_matrix`), or a
            batch ``(..., m, d)`` broadcasting against ``x``.
        is_query: per-row (True) or global (False) stabiliser.
        mask: optional bool ``(..., n)`` (True = real key): masked keys get all-zero features and
            are excluded from the key max.
        scale: :math:`s`; ``None`` means :math:`d^{-1/4}`. stabilize, eps: see above.

    Returns:
        ``(..., n, m)`` non-negative features, dtype of ``x`` (float32 compute for half inputs).

    Raises:
        TypeError: non-floating ``x``/``projection``; non-bool ``mask``.
        ValueError: bad ranks/shapes (naming ``projection`` or ``mask``), NaN/inf, ``eps < 0``.

    Reference:
        Su Jianlin, "Performer：用随机投影将Attention的复杂度线性化", https://kexue.fm/archives/7921

    Example:
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> positive_random_features(torch.zeros(1, 2), w, True, stabilize=False, eps=0.0)
        tensor([[0.7071, 0.7071]])
    """
    check_finite(check_nonempty(check_ndim(check_floating(x, "x"), "x", 2), "x"), "x")
    w = _check_projection(projection, x.shape[-1], "projection", "x", None)
    check_positive(eps, "eps", allow_zero=True)
    s = x.shape[-1] ** -0.25 if scale is None else check_positive(scale, "scale")
    km = None
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError("mask must be a bool tensor (True = real key)")
        if mask.shape != x.shape[:-1]:
            raise ValueError(f"mask of shape {tuple(mask.shape)} must be x.shape[:-1]")
        km = mask
    ct = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    wc = w.to(device=x.device, dtype=ct) * s
    phi = _prf(x.to(ct), wc, 0.5 * s * s, is_query, km, eps, stabilize)
    return (phi * w.shape[-2] ** -0.5).to(x.dtype)


def _check_projection(
    w: object, d: int, name: str, other: str, max_ndim: int | None = 2
) -> torch.Tensor:
    t = check_finite(check_ndim(check_floating(w, name), name, 2, max_ndim), name)
    check_nonempty(t, name)
    if t.shape[-1] != d:
        raise ValueError(f"{name} has {t.shape[-1]} columns but {other} has head dim {d}")
    return t
