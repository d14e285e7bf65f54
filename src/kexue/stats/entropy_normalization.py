r"""Entropy normalisation: power-transform a distribution so its entropy equals a target.

For logits :math:`z` (or :math:`z=\log p`) the power map :math:`p_i^\gamma/\sum_j p_j^\gamma` is
:math:`\mathrm{softmax}(\gamma z)`; it keeps the order of the entries and its entropy falls
monotonically from :math:`\log s` (:math:`\gamma=0`, uniform over the support) to :math:`\log m`
(:math:`\gamma\to\infty`, uniform over the :math:`m` maxima), since
:math:`dH/d\gamma=-\gamma\,\mathrm{Var}_{\mathrm{softmax}(\gamma z)}[z]`. The article's iteration
:math:`\gamma\leftarrow1+(H^*-H)/(H^2-\mathbb E[\log^2p])` is Newton's method on the cumulative
exponent; here it runs safeguarded (a bracket and bisection in :math:`\log\gamma`), batched over rows,
in log space and in units of each row's range (so the logit scale does not matter), started from a
data-derived :math:`\gamma`, with the gradient taken implicitly at the solution.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple, overload

import torch
from torch import nn

from kexue._validate import check_floating, check_nonempty, check_positive

__all__ = [
    "EntropyExponent",
    "EntropyNormalization",
    "entropy",
    "entropy_invariant_scale",
    "entropy_normalize",
    "solve_entropy_exponent",
]


class EntropyExponent(NamedTuple):
    """What :func:`solve_entropy_exponent` returns (``exponent`` is differentiable).

    Reference:
        Su Jianlin, "概率分布的熵归一化（Entropy Normalization）", https://kexue.fm/archives/8829
    """

    exponent: torch.Tensor
    iterations: torch.Tensor
    residual: torch.Tensor


def entropy(probs: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    r"""Shannon entropy in nats, :math:`H(p)=-\sum_i p_i\log p_i` with :math:`0\log0=0`.

    Args:
        probs: probabilities along ``dim`` (any leading shape). Half inputs compute in float32.
        dim: the category dimension.
        keepdim: keep ``dim`` with size 1.

    Shape:
        ``probs.shape`` without ``dim`` (or with size 1 there when ``keepdim``).

    Returns:
        the entropy, in ``probs``' dtype.

    Raises:
        TypeError: ``probs`` is not a floating tensor. ValueError: empty or non-finite ``probs``.

    Reference:
        Su Jianlin, "概率分布的熵归一化（Entropy Normalization）", https://kexue.fm/archives/8829

    Example:
        >>> round(entropy(torch.full((4,), 0.25)).item(), 6) == round(math.log(4), 6)
        True
    """
    p = check_nonempty(check_floating(probs, "probs"), "probs")
    if not bool(torch.isfinite(p).all()):
        raise ValueError("probs contains NaN or infinite values")
    pc = p.float() if p.dtype in (torch.float16, torch.bfloat16) else p
    return (-torch.xlogy(pc, pc).sum(dim, keepdim=keepdim)).to(p.dtype)


def entropy_invariant_scale(
    n: int | float | torch.Tensor, head_dim: int, *, base: float = 512.0
) -> float | torch.Tensor:
    r"""Entropy-invariant attention scale :math:`\log_{\text{base}}(n)/\sqrt d` (Attention-E).

    Scaling attention logits :math:`q\cdot k` by it instead of :math:`1/\sqrt d` keeps the attention
    entropy from growing with the number :math:`n` of attended keys; it equals :math:`1/\sqrt d` at
    :math:`n=\text{base}`. Entropy normalisation (:func:`entropy_normalize`) is the exact,
    per-row version of the same idea. For masked batches see
    :func:`kexue.transformer.attention.entropy_invariant_factor`.

    Args:
        n: number of attended keys (``>= 1``); an int/float or a tensor of per-query counts.
        head_dim: the head dimension :math:`d`.
        base: the length at which the scale equals :math:`1/\sqrt d`.

    Returns:
        a float for scalar ``n``; a tensor (``n``'s floating dtype, else the default dtype) otherwise.

    Raises:
        TypeError: non-numeric ``n``/``head_dim``. ValueError: ``n < 1``, ``head_dim <= 0``,
        ``base <= 1`` or non-finite ``n``.

    Reference:
        Su Jianlin, "从熵不变性看Attention的Scale操作", https://kexue.fm/archives/8823 ;
        "概率分布的熵归一化（Entropy Normalization）", https://kexue.fm/archives/8829

    Example:
        >>> entropy_invariant_scale(512, 64)
        0.125
    """
    check_positive(head_dim, "head_dim")
    if check_positive(base, "base") <= 1:
        raise ValueError(f"base must be > 1, got {base}")
    denom = math.log(base) * math.sqrt(head_dim)
    if isinstance(n, torch.Tensor):
        t = n if n.is_floating_point() else n.to(torch.get_default_dtype())
        if t.is_complex() or not bool(torch.isfinite(t).all()) or bool((t < 1).any()):
            raise ValueError("n must hold finite key counts >= 1")
        return torch.log(t) / denom
    if check_positive(n, "n") < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return math.log(n) / denom


# --------------------------------------------------------------------------- solver


def _moments(
    beta: torch.Tensor, zneg: torch.Tensor, z0: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Entropy, mean and variance of z under softmax(beta z) for centred rows (max z = 0), beta > 0.

    The variance is the two-pass form (no cancellation): the backward's gradient divides by it.
    """
    e = torch.exp(zneg * beta[:, None])  # masked entries exp(-inf) = 0, max entry 1
    total = e.sum(-1)
    mean = (e * z0).sum(-1) / total  # <= 0
    var = (z0 - mean[:, None]).square_().mul_(e).sum(-1) / total
    return torch.log(total) - beta * mean, mean, var  # H = log Z + beta E[-z]: no cancellation


def _solver_moments(
    beta: torch.Tensor, zneg: torch.Tensor, z0: torch.Tensor, work: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Entropy and variance of z under softmax(beta z) in 7 passes over (R, n) (the solver's step).

    One exponential and three row sums, :math:`\sum e`, :math:`\sum ez`, :math:`\sum ez^2`, in
    the one buffer ``work`` (reused every step: fresh (R, n) buffers cost a page fault per 4 KiB),
    with the variance as :math:`E[z^2]-E[z]^2`. Rows are scaled to range 1 (:math:`z\in[-1,0]`),
    so its rounding error is :math:`\epsilon E[z^2]\le\epsilon`; it sets only Newton's slope (the
    bracket and the residual come from :math:`H`, computed without cancellation), never the
    solution.
    """
    e = torch.mul(zneg, beta[:, None], out=work).exp_()  # masked: exp(-inf) = 0; max entry 1
    total = e.sum(-1)
    mean = e.mul_(z0).sum(-1) / total  # <= 0
    second = e.mul_(z0).sum(-1) / total
    var = second - mean * mean
    return torch.log(total) - beta * mean, var  # H = log Z + beta E[-z]: no cancellation


def _row_scale(z0: torch.Tensor) -> torch.Tensor:
    """Range of each centred row (max 0), 1 for constant rows: the solver's unit of logits."""
    r = -z0.amin(-1)
    return torch.where(torch.isfinite(r) & (r > 0), r, torch.ones_like(r))


def _start(
    z0: torch.Tensor, zneg: torch.Tensor, target: torch.Tensor, work: torch.Tensor
) -> torch.Tensor:
    r"""Initial beta from the data: :math:`H(\beta)\approx\log s-\beta^2\sigma^2/2` near 0.

    :math:`\sigma^2` is the variance of the row over its support (uniform weights), so the guess
    :math:`\sqrt{2(\log s-H^*)}/\sigma` is exact to first order for high targets and scales as
    ``1/scale`` with the logits; the safeguards handle the rest.
    """
    if zneg is z0:
        s = torch.full_like(target, z0.shape[-1])
        mean = z0.mean(-1)
        var = torch.sub(z0, mean[:, None], out=work).square_().mean(-1)
    else:
        support = torch.isfinite(zneg)
        s = support.sum(-1).to(z0.dtype)
        mean = z0.sum(-1) / s  # z0 is 0 off the support
        var = torch.where(support, z0 - mean[:, None], 0.0).square().sum(-1) / s
    guess = (2.0 * (torch.log(s) - target)).clamp_min(0.0).sqrt() / var.sqrt()
    ok = torch.isfinite(guess) & (guess > 0)
    return torch.where(ok, guess, torch.ones_like(guess))


def _solve(
    z0: torch.Tensor, zneg: torch.Tensor, target: torch.Tensor, tol: float, max_iter: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Safeguarded Newton on beta for rows with log m < target < log s (scaled, centred logits)."""
    rows = z0.shape[0]
    eps = torch.finfo(z0.dtype).eps
    work = torch.empty_like(z0)  # the one (R, n) buffer, reused by the start and every step
    beta = _start(z0, zneg, target, work)
    lo = torch.zeros_like(beta)
    hi = torch.full_like(beta, math.inf)
    iters = torch.zeros(rows, dtype=torch.long, device=z0.device)
    resid = torch.full_like(beta, math.inf)
    done = torch.zeros(rows, dtype=torch.bool, device=z0.device)
    idx = torch.arange(rows, device=z0.device)  # rows held in the working copies below
    wz0, wzneg = z0, zneg
    for _ in range(max_iter):
        live = ~done[idx]
        n_live = int(live.sum())
        if n_live == 0:
            break
        if n_live < 0.75 * idx.numel():  # compact the working copies once enough rows finished
            idx, wz0 = idx[live], wz0[live]
            wzneg = wz0 if zneg is z0 else wzneg[live]
            live = torch.ones_like(idx, dtype=torch.bool)
        b, t = beta[idx], target[idx]
        k = idx.numel()
        h, var = _solver_moments(b, wzneg, wz0, work[:k])
        f = h - t
        iters[idx] += live.long()
        resid[idx] = torch.where(live, f.abs(), resid[idx])
        lo_a = torch.where(f > 0, b, lo[idx])
        hi_a = torch.where(f < 0, b, hi[idx])
        slope = b * var  # -dH/dbeta
        newton = b + f / slope
        ok = torch.isfinite(newton) & (newton > lo_a) & (newton < hi_a) & (slope > eps)
        bisect = torch.where(
            torch.isinf(hi_a), 4 * b, torch.where(lo_a == 0, hi_a / 4, torch.sqrt(lo_a * hi_a))
        )
        nb = torch.where(ok, newton, bisect)
        collapsed = torch.isfinite(hi_a) & ((hi_a - lo_a) <= 4 * eps * hi_a)
        fin = (f.abs() <= tol) | collapsed | ((nb - b).abs() <= eps * b)
        upd = live & ~fin
        beta[idx] = torch.where(upd, nb, b)
        lo[idx] = torch.where(live, lo_a, lo[idx])
        hi[idx] = torch.where(live, hi_a, hi[idx])
        done[idx] = done[idx] | (live & fin)
    n_bad = int((~done).sum())
    if n_bad:
        raise RuntimeError(
            f"entropy normalisation did not reach tol={tol:g} within max_iter={max_iter} for "
            f"{n_bad} row(s); raise max_iter or tol"
        )
    return beta, iters, resid


class _ExponentFn(torch.autograd.Function):
    """beta*(z, H*) by the safeguarded solve; backward by the implicit function theorem."""

    @staticmethod
    def forward(
        ctx: Any,
        z: torch.Tensor,
        target: torch.Tensor,
        mask: torch.Tensor | None,
        tol: float,
        max_iter: int,
        clamp: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if mask is None:
            z0 = z - z.amax(-1, keepdim=True)  # (R, n), row max exactly 0
            zneg = z0
            log_s = torch.full_like(target, math.log(z.shape[-1]))
            log_m = torch.log((z0 == 0).sum(-1).to(z.dtype))
        else:
            zmax = torch.where(mask, z, -math.inf).amax(-1, keepdim=True)
            z0 = torch.where(mask, z - zmax, 0.0)  # max over the support is exactly 0
            zneg = torch.where(mask, z0, -math.inf)
            log_s = torch.log(mask.sum(-1).to(z.dtype))
            log_m = torch.log((mask & (z0 == 0)).sum(-1).to(z.dtype))
        # solve in data units: divide each row by its range, so the solver sees the same problem
        # at every logit scale (1e-20 and 1e20 alike: no over/underflow of beta or Var[z], and no
        # bracket grown by 4x steps from beta = 1); beta* = beta_scaled / scale
        scale = _row_scale(z0)
        z0 = z0.div_(scale[:, None])  # z0 is a fresh tensor here: scale in place
        zneg = z0 if mask is None else torch.where(mask, z0, -math.inf)
        const = log_m == log_s  # one-hot or constant rows: the entropy cannot move
        top = ~const & (target >= log_s - tol)  # gamma = 0 (uniform over the support)
        bottom = ~const & (target <= log_m)  # gamma = inf (uniform over the maxima)
        bad = (const & ((target - log_s).abs() > tol)) | (top & (target > log_s + tol)) | bottom
        if not clamp and bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            why = (
                f"row {i} is one-hot or constant on its support, so its entropy stays "
                f"{float(log_s[i]):.6g}"
                if bool(const[i])
                else f"power transforms of row {i} reach only ({float(log_m[i]):.6g}, "
                f"{float(log_s[i]):.6g}] = (log #maxima, log #support)"
            )
            raise ValueError(
                f"target_entropy is not achievable for {int(bad.sum())} row(s): {why}, but the "
                f"target is {float(target[i]):.6g} nats; pass clamp=True to clamp"
            )
        beta = torch.ones_like(target)
        iters = torch.zeros(target.shape, dtype=torch.long, device=z.device)
        resid = torch.where(const, (target - log_s).abs(), torch.zeros_like(target))
        beta = torch.where(top, torch.zeros_like(beta), beta)
        beta = torch.where(bottom, torch.full_like(beta, math.inf), beta)
        resid = torch.where(top, (log_s - target).abs(), resid)
        resid = torch.where(bottom, (target - log_m).abs(), resid)
        free = (~const & ~top & ~bottom).nonzero().squeeze(-1)
        if free.numel() == z.shape[0]:  # the common case: no copy
            beta, iters, resid = _solve(z0, zneg, target, tol, max_iter)
        elif free.numel():
            zc = z0[free]
            b, it, r = _solve(zc, zc if zneg is z0 else zneg[free], target[free], tol, max_iter)
            beta[free], iters[free], resid[free] = b, it, r
        ctx.save_for_backward(z0, zneg, beta, scale)
        ctx.mark_non_differentiable(iters, resid)
        return beta / scale, iters, resid

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(
        ctx: Any, g: torch.Tensor, _gi: Any, _gr: Any
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None, None, None]:
        z0, zneg, beta, scale = ctx.saved_tensors  # scaled units: z = scale z0, beta* = beta/scale
        live = torch.isfinite(beta) & (beta > 0)
        b = torch.where(live, beta, torch.ones_like(beta))
        _, mean, var = _moments(b, zneg, z0)
        e = torch.exp(b[:, None] * zneg)
        q = e / e.sum(-1, keepdim=True)
        var = torch.where(live & (var > 0), var, torch.ones_like(var))
        g = torch.where(live, g, torch.zeros_like(g))
        # dbeta/dz_k = -beta q_k (z_k - E z) / Var;  dbeta/dH* = -1 / (beta Var); in scaled units
        # d(beta/scale)/dz_k = (that) / scale^2 and d(beta/scale)/dH* = (that) / scale
        gz = -((g * b / var) / scale / scale)[:, None] * q * (z0 - mean[:, None])
        gt = -g / (b * var) / scale
        return gz, gt, None, None, None, None


def _prepare(
    probs: torch.Tensor | None,
    logits: torch.Tensor | None,
    target_entropy: float | torch.Tensor,
    dim: int,
    mask: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.dtype, tuple[int, ...]]:
    """Validate; return rows of logits (R, n), mask (R, n) or None, targets (R,), dtype, batch."""
    if (probs is None) == (logits is None):
        raise ValueError("pass exactly one of probs= or logits=")
    name = "probs" if probs is not None else "logits"
    x = check_nonempty(check_floating(probs if probs is not None else logits, name), name)
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least 1 dimension, got a scalar")
    cdtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    xc = x.to(cdtype).movedim(dim, -1)
    m: torch.Tensor | None = None  # None: every entry is valid (fast path)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor (True = keep), got {type(mask).__name__}")
        try:
            m = torch.broadcast_to(mask, x.shape).movedim(dim, -1)
        except RuntimeError as err:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to {tuple(x.shape)}"
            ) from err
    if probs is not None:
        if not bool(torch.isfinite(xc).all()) or bool((xc < 0).any()):
            raise ValueError("probs must be finite and non-negative")
        pos = xc > 0
        if not bool(pos.all()):
            m = pos if m is None else m & pos
        z = torch.log(xc.clamp_min(torch.finfo(cdtype).tiny))
    else:
        # a finite sum proves every entry finite (one reduction); scan only when it is not
        fin = None if bool(torch.isfinite(xc.sum())) else torch.isfinite(xc)
        if fin is not None and not bool(fin.all()):
            if bool(torch.isnan(xc).any()) or bool(torch.isposinf(xc).any()):
                raise ValueError(f"{name} contains NaN or +inf values")
            m = fin if m is None else m & fin  # -inf logits are excluded like masked entries
        z = xc
    if m is not None:
        if not bool(m.any(-1).all()):
            raise ValueError(f"mask leaves a row with no positive entry of {name}")
        z = torch.where(m, z, torch.zeros((), dtype=cdtype, device=x.device))
    n = xc.shape[-1]
    batch = tuple(xc.shape[:-1])
    if isinstance(target_entropy, torch.Tensor):
        t = check_floating(target_entropy, "target_entropy").to(cdtype)
        try:
            t = torch.broadcast_to(t, batch)
        except RuntimeError as err:
            raise ValueError(
                f"target_entropy of shape {tuple(t.shape)} does not broadcast to {batch}"
            ) from err
    elif isinstance(target_entropy, int | float) and not isinstance(target_entropy, bool):
        t = torch.full(batch, float(target_entropy), dtype=cdtype, device=x.device)
    else:
        raise TypeError(f"target_entropy must be a float or tensor, got {type(target_entropy)}")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise ValueError("target_entropy must be finite and >= 0 (nats)")
    m_rows = None if m is None else m.reshape(-1, n)
    return z.reshape(-1, n), m_rows, t.reshape(-1), x.dtype, batch


def _default_tol(dtype: torch.dtype) -> float:
    return 1e-10 if dtype == torch.float64 else 1e-5


def _check_range(t: torch.Tensor, n: int, clamp: bool, tol: float) -> None:
    if not clamp and bool((t > math.log(n) + tol).any()):
        raise ValueError(
            f"target_entropy must lie in [0, log n] = [0, {math.log(n):.6g}] nats for n = {n} "
            f"categories, got max {float(t.max()):.6g}; pass clamp=True to clamp"
        )


def solve_entropy_exponent(
    logits: torch.Tensor,
    target_entropy: float | torch.Tensor,
    *,
    dim: int = -1,
    mask: torch.Tensor | None = None,
    clamp: bool = False,
    tol: float | None = None,
    max_iter: int = 50,
) -> EntropyExponent:
    r"""Inverse temperature :math:`\beta^*` with :math:`H(\mathrm{softmax}(\beta^* z))=H^*`, per row.

    Newton's method on :math:`\beta` (the article's iteration),
    :math:`\beta\leftarrow\beta+(H-H^*)/(\beta\,\mathrm{Var}_q[z])`, kept inside a bracket
    :math:`[\beta_{lo},\beta_{hi}]` and replaced by bisection in :math:`\log\beta` when a step leaves
    it. Starting at :math:`\beta=1` makes the work depend on the logit scale (the bracket grows by
    4x per evaluation: ~40 evaluations at scale 1e20, no convergence at 1e-20), so each row is
    divided by its range and started at :math:`\sqrt{2(\log s-H^*)}/\sigma` (the small-:math:`\beta`
    expansion :math:`H\approx\log s-\beta^2\sigma^2/2`, :math:`\sigma` the row's spread): the
    evaluations (median 5 on random rows) are the same at every scale from 1e-20 to 1e20. The gradient is implicit, not unrolled:
    :math:`\partial\beta^*/\partial z_k=-\beta q_k(z_k-\mathbb E_qz)/\mathrm{Var}_q[z]`,
    :math:`\partial\beta^*/\partial H^*=-1/(\beta\,\mathrm{Var}_q[z])` (taken as 0 where
    :math:`\beta^*` is clamped to 0 or :math:`\infty`).

    Args:
        logits: logits :math:`z`; ``-inf`` entries are excluded like masked ones.
        target_entropy: :math:`H^*` in nats, a float or a tensor broadcastable to the batch shape.
        dim: the category dimension.
        mask: optional bool tensor broadcastable to ``logits`` (``True`` = keep).
        clamp: clamp unreachable targets to :math:`\beta=0` (uniform over the support) or
            :math:`\beta=\infty` (uniform over the maxima) instead of raising.
        tol: stop at :math:`|H-H^*|\le` ``tol`` nats (default ``1e-10`` in float64, ``1e-5``
            otherwise; half inputs solve in float32).
        max_iter: most entropy evaluations per row.

    Shape:
        every field has ``logits.shape`` without ``dim``.

    Returns:
        ``EntropyExponent(exponent, iterations, residual)``: :math:`\beta^*` (``logits``' dtype),
        entropy evaluations used, and :math:`|H-H^*|` at :math:`\beta^*`.

    Raises:
        TypeError: non-floating ``logits``/``target_entropy``, non-bool ``mask``.
        ValueError: NaN/+inf ``logits``, bad shapes, a fully masked row, ``target_entropy`` outside
        ``[0, log n]`` or unreachable for a row (one-hot/constant rows) unless ``clamp``.
        RuntimeError: no convergence within ``max_iter``.

    Reference:
        Su Jianlin, "概率分布的熵归一化（Entropy Normalization）", https://kexue.fm/archives/8829

    Example:
        >>> z = torch.tensor([[2.0, 1.0, 0.0, -1.0]], dtype=torch.float64)
        >>> beta = solve_entropy_exponent(z, 1.0).exponent
        >>> round(entropy(torch.softmax(beta[:, None] * z, -1)).item(), 8)
        1.0
    """
    z, m, t, dtype, batch = _prepare(None, logits, target_entropy, dim, mask)
    tol_ = check_positive(tol, "tol") if tol is not None else _default_tol(z.dtype)
    _check_range(t, z.shape[-1], clamp, tol_)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
    beta, iters, resid = _ExponentFn.apply(z, t, m, tol_, max_iter, clamp)
    return EntropyExponent(
        beta.reshape(batch).to(dtype), iters.reshape(batch), resid.reshape(batch).to(dtype)
    )


@overload
def entropy_normalize(
    probs: torch.Tensor | None = None,
    *,
    logits: torch.Tensor | None = None,
    target_entropy: float | torch.Tensor,
    dim: int = -1,
    mask: torch.Tensor | None = None,
    clamp: bool = False,
    tol: float | None = None,
    max_iter: int = 50,
    return_exponent: Literal[False] = False,
) -> torch.Tensor: ...


@overload
def entropy_normalize(
    probs: torch.Tensor | None = None,
    *,
    logits: torch.Tensor | None = None,
    target_entropy: float | torch.Tensor,
    dim: int = -1,
    mask: torch.Tensor | None = None,
    clamp: bool = False,
    tol: float | None = None,
    max_iter: int = 50,
    return_exponent: Literal[True],
) -> tuple[torch.Tensor, torch.Tensor]: ...


def entropy_normalize(
    probs: torch.Tensor | None = None,
    *,
    logits: torch.Tensor | None = None,
    target_entropy: float | torch.Tensor,
    dim: int = -1,
    mask: torch.Tensor | None = None,
    clamp: bool = False,
    tol: float | None = None,
    max_iter: int = 50,
    return_exponent: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Power-transform each row to the target entropy: :math:`T_\gamma(p)=p^\gamma/\sum_jp_j^\gamma`.

    With :math:`z=\log p` (or given logits), :math:`T_\gamma(p)=\mathrm{softmax}(\gamma z)` and
    :math:`\gamma` solves :math:`H(T_\gamma(p))=H^*` (see :func:`solve_entropy_exponent`). Order is
    preserved and zero/masked entries stay zero. Differentiable in ``probs``/``logits`` and a tensor
    ``target_entropy`` through the implicit gradient of :math:`\gamma`.

    Args:
        probs: non-negative weights (need not sum to 1); exactly one of ``probs``/``logits``.
        logits: logits (``-inf`` entries are excluded).
        target_entropy: :math:`H^*` in nats, float or tensor broadcastable to the batch shape.
        dim: the category dimension.
        mask: optional bool tensor broadcastable to the input (``True`` = keep).
        clamp: clamp unreachable targets instead of raising (see :func:`solve_entropy_exponent`).
        tol: tolerance on :math:`|H-H^*|` in nats (default ``1e-10`` float64, ``1e-5`` otherwise).
        max_iter: most entropy evaluations per row.
        return_exponent: also return :math:`\gamma` (shape without ``dim``).

    Shape:
        output like the input; ``gamma`` is the input shape without ``dim``.

    Returns:
        the normalised probabilities (the input's dtype), or ``(probs, gamma)``.

    Raises:
        TypeError: non-floating input, non-bool ``mask``. ValueError: both or neither of
        ``probs``/``logits``, NaN values, negative ``probs``, a row with no positive entry,
        ``target_entropy`` outside ``[0, log n]`` or unreachable (e.g. a one-hot row) unless
        ``clamp``. RuntimeError: no convergence within ``max_iter``.

    Reference:
        Su Jianlin, "概率分布的熵归一化（Entropy Normalization）", https://kexue.fm/archives/8829

    Example:
        >>> p = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)
        >>> q = entropy_normalize(p, target_entropy=0.8)
        >>> round(entropy(q).item(), 8), bool((q.argsort() == p.argsort()).all())
        (0.8, True)
    """
    z, m, t, dtype, batch = _prepare(probs, logits, target_entropy, dim, mask)
    tol_ = check_positive(tol, "tol") if tol is not None else _default_tol(z.dtype)
    _check_range(t, z.shape[-1], clamp, tol_)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
    beta, _, _ = _ExponentFn.apply(z, t, m, tol_, max_iter, clamp)
    inf = torch.isinf(beta)
    b = torch.where(inf, torch.zeros_like(beta), beta)
    neg = torch.full((), -math.inf, dtype=z.dtype, device=z.device)
    zd = z.detach() if m is None else torch.where(m, z.detach(), neg)
    zmax = zd.amax(-1, keepdim=True)
    # centre before scaling: gamma * (z - max) keeps the large entries' logits exact for big gamma
    u = b[:, None] * (z - zmax)  # (R, n)
    if m is not None:
        u = torch.where(m, u, neg)
    if bool(inf.any()):  # clamped to gamma = inf: uniform over the maxima
        u = torch.where(inf[:, None], torch.where(zd == zmax, 0.0, neg), u)
    out = torch.softmax(u, -1).reshape((*batch, z.shape[-1])).movedim(-1, dim).to(dtype)
    if return_exponent:
        return out, beta.reshape(batch).to(dtype)
    return out


class EntropyNormalization(nn.Module):
    r"""Layer form of :func:`entropy_normalize`: rows of logits (or probs) to entropy :math:`H^*`.

    Args:
        target_entropy: :math:`H^*` in nats.
        dim: the category dimension.
        from_logits: the input holds logits (``True``) or probabilities.
        clamp, tol, max_iter: as in :func:`entropy_normalize`.

    Shape:
        input ``(*, n, *)``; output the same; optional ``mask`` broadcastable to the input.

    Reference:
        Su Jianlin, "概率分布的熵归一化（Entropy Normalization）", https://kexue.fm/archives/8829

    Example:
        >>> layer = EntropyNormalization(target_entropy=0.5)
        >>> out = layer(torch.tensor([[3.0, 1.0, 0.5, 0.0]], dtype=torch.float64))
        >>> round(entropy(out).item(), 6)
        0.5
    """

    def __init__(
        self,
        target_entropy: float,
        dim: int = -1,
        *,
        from_logits: bool = True,
        clamp: bool = False,
        tol: float | None = None,
        max_iter: int = 50,
    ) -> None:
        super().__init__()
        self.target_entropy = check_positive(target_entropy, "target_entropy", allow_zero=True)
        self.dim = dim
        self.from_logits = from_logits
        self.clamp = clamp
        self.tol = tol
        self.max_iter = max_iter

    def forward(self, input: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        kw: dict[str, Any] = {"logits": input} if self.from_logits else {"probs": input}
        out = entropy_normalize(
            target_entropy=self.target_entropy,
            dim=self.dim,
            mask=mask,
            clamp=self.clamp,
            tol=self.tol,
            max_iter=self.max_iter,
            **kw,
        )
        return out

    def extra_repr(self) -> str:
        return (
            f"target_entropy={self.target_entropy}, dim={self.dim}, from_logits={self.from_logits}"
        )
