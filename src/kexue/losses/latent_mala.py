r"""Metropolis-adjusted Langevin sampling in a GAN's latent space (the energy view's sampler).

After training an energy :math:`U` and a generator :math:`G` (:mod:`kexue.losses.gan`), sample
:math:`z` from :math:`\propto e^{-V(z)}` with e.g. :math:`V(z)=U(G(z))` (plus :math:`\frac12\|z\|^2` to
keep the prior) and output :math:`G(z)`: a "better truncation trick". Exact for the pulled-back
energy only when :math:`|\det J_G|` is constant, so a heuristic, as MEG notes.

**Correction to the article.** The Langevin proposal
:math:`\tilde z=z-\frac\epsilon2\nabla V(z)+\sqrt\epsilon\,\xi` has the transition density
:math:`q(\tilde z|z)\propto\exp(-\frac1{2\epsilon}\|\tilde z-z+\frac\epsilon2\nabla V(z)\|^2)`;
the article writes :math:`\epsilon\nabla V` in the kernel, which does not match its own step and
breaks detailed balance. Here the kernel is the density of the actual proposal.

Reference:
    Su Jianlin, "能量视角下的GAN模型（二）：GAN＝“分析”＋“采样”", https://kexue.fm/archives/6331 ;
    Kumar et al., "Maximum Entropy Generators for Energy-Based Models", arXiv:1901.08508;
    Roberts & Tweedie, "Exponential convergence of Langevin distributions", Bernoulli 1996.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from kexue._validate import check_finite, check_floating, check_ndim, check_nonempty, check_positive

__all__ = ["MALAResult", "latent_mala"]


class MALAResult(NamedTuple):
    r"""Output of :func:`latent_mala`.

    Attributes:
        z: the chains' final states, shape and dtype of the input ``z``.
        acceptance: mean Metropolis acceptance probability over chains and steps (0-dim; 1 for
            the unadjusted sampler).
        energy: :math:`V` at the final states, shape ``(N,)``.

    Reference:
        Su Jianlin, "能量视角下的GAN模型（二）：GAN＝“分析”＋“采样”", https://kexue.fm/archives/6331
    """

    z: torch.Tensor
    acceptance: torch.Tensor
    energy: torch.Tensor


def _energy_and_grad(
    energy: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.enable_grad():
        zi = z.detach().requires_grad_(True)
        e = energy(zi)
        if not isinstance(e, torch.Tensor):
            raise TypeError(f"energy must return a tensor, got {type(e).__name__}")
        if e.shape not in ((z.shape[0],), (z.shape[0], 1)):
            raise ValueError(
                f"energy must return one value per chain, shape ({z.shape[0]},) or "
                f"({z.shape[0]}, 1), got {tuple(e.shape)}"
            )
        # an energy with no graph to z (constant, or computed under no_grad / detached) has a zero
        # gradient; autograd.grad would raise "does not require grad" instead of returning None
        g = torch.autograd.grad(e.sum(), zi, allow_unused=True)[0] if e.requires_grad else None
    e = e.detach().reshape(-1).to(z.dtype)
    if not bool(torch.isfinite(e).all()):
        raise ValueError("energy returned NaN or inf; lower step_size or check the model")
    return e, (torch.zeros_like(z) if g is None else g.to(z.dtype))


def latent_mala(
    energy: Callable[[torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    step_size: float,
    n_steps: int = 1,
    *,
    adjust: bool = True,
    generator: torch.Generator | None = None,
) -> MALAResult:
    r"""Run MALA (or unadjusted Langevin) chains targeting :math:`\propto e^{-V(z)}`.

    .. math::
        \tilde z=z-\tfrac\epsilon2\nabla V(z)+\sqrt\epsilon\,\xi,\quad
        \log q(\tilde z|z)=-\tfrac1{2\epsilon}\big\|\tilde z-z+\tfrac\epsilon2\nabla V(z)\big\|^2,
        \quad a=\min\Big\{1,\frac{e^{-V(\tilde z)}q(z|\tilde z)}{e^{-V(z)}q(\tilde z|z)}\Big\}.

    Each chain accepts or rejects independently. With ``adjust=False`` every proposal is taken
    (the unadjusted Langevin algorithm, biased for finite :math:`\epsilon`).

    Args:
        energy: :math:`V`, maps ``(N, ...)`` to ``(N,)`` or ``(N, 1)``, e.g.
            ``lambda z: U(G(z)) + 0.5 * z.pow(2).sum(1)``; must not mix chains. An energy that
            does not depend on ``z`` (a constant, or one computed without a graph to ``z``) has
            a zero gradient: the chains are then a random walk.
        z: initial states ``(N, ...)`` (``ndim >= 2``), e.g. prior draws.
        step_size: :math:`\epsilon>0`, finite.
        n_steps: number of transitions, ``>= 1``.
        adjust: apply the Metropolis–Hastings correction (MALA) or not (ULA).
        generator: random generator for the noise and the accept draws.

    Shape:
        ``z``: ``(N, ...)``; output ``z`` the same, ``energy`` ``(N,)``, ``acceptance`` scalar.

    Returns:
        :class:`MALAResult` ``(z, acceptance, energy)``, detached, in the dtype of ``z`` (half
        precision runs in float32).

    Raises:
        TypeError: ``energy`` not callable or not returning a tensor; ``z`` not floating;
            ``n_steps`` not an int.
        ValueError: ``z`` empty/non-finite/1-D, ``step_size`` not finite and ``> 0``,
            ``n_steps < 1``, energies of the wrong shape or not finite.

    Reference:
        Su Jianlin, "能量视角下的GAN模型（二）：GAN＝“分析”＋“采样”", https://kexue.fm/archives/6331 ;
        Kumar et al., "Maximum Entropy Generators for Energy-Based Models", arXiv:1901.08508.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> out = latent_mala(lambda z: 0.5 * z.pow(2).sum(1), torch.zeros(500, 2), 0.5, 20,
        ...                   generator=g)
        >>> 0.8 < float(out.acceptance) < 1.0, out.z.shape
        (True, torch.Size([500, 2]))
    """
    if not callable(energy):
        raise TypeError(f"energy must be callable (z -> one energy per chain), got {energy!r}")
    z0 = check_finite(check_nonempty(check_ndim(check_floating(z, "z"), "z", 2), "z"), "z")
    eps = check_positive(step_size, "step_size")
    if not math.isfinite(eps):  # inf passes the > 0 test, then every energy would be NaN
        raise ValueError(f"step_size must be finite, got {step_size}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int):
        raise TypeError(f"n_steps must be an int, got {type(n_steps).__name__}")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    cd = torch.float32 if z0.dtype in (torch.float16, torch.bfloat16) else z0.dtype
    cur = z0.detach().to(cd)
    n = cur.shape[0]
    e, g = _energy_and_grad(energy, cur)
    acc_sum = torch.zeros((), dtype=cd, device=cur.device)
    sq = math.sqrt(eps)
    view = (n, *([1] * (cur.ndim - 1)))
    for _ in range(n_steps):
        noise = torch.randn(cur.shape, generator=generator, dtype=cd).to(cur.device)
        prop = cur - 0.5 * eps * g + sq * noise
        e_p, g_p = _energy_and_grad(energy, prop)
        if not adjust:
            cur, e, g = prop, e_p, g_p
            acc_sum = acc_sum + 1.0
            continue
        fwd = (prop - cur + 0.5 * eps * g).reshape(n, -1).square().sum(1)  # ||noise||^2 * eps
        bwd = (cur - prop + 0.5 * eps * g_p).reshape(n, -1).square().sum(1)
        log_a = (e - e_p) + (fwd - bwd) / (2 * eps)
        a = log_a.clamp(max=0.0).exp()
        u = torch.rand(n, generator=generator, dtype=cd).to(cur.device)
        take = u < a
        cur = torch.where(take.reshape(view), prop, cur)
        e, g = torch.where(take, e_p, e), torch.where(take.reshape(view), g_p, g)
        acc_sum = acc_sum + a.mean()
    return MALAResult(cur.to(z0.dtype), (acc_sum / n_steps).to(z0.dtype), e.to(z0.dtype))
