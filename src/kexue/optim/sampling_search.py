"""Optimisation as sampling: the Boltzmann-weighted mean of sampled moves, and MLE-guided search (MGS).

The article views one optimisation step as the mean of the distribution
:math:`p(\\Delta\\theta)\\propto\\pi(\\Delta\\theta)\\exp(-[l(\\theta+\\Delta\\theta)-l(\\theta)]/\\alpha)`
over moves. For a quadratic :math:`l` (gradient g, Hessian H):

- flat prior π: p is :math:`\\mathcal N(-H^{-1}g,\\alpha H^{-1})`, its mean is Newton's step;
- Gaussian prior :math:`\\pi=\\mathcal N(0,\\sigma^2I)` (a soft trust region): the mean is
  :math:`-(H+\\tfrac{\\alpha}{\\sigma^2}I)^{-1}g`, i.e. gradient descent with step σ²/α when
  α/σ² ≫ ‖H‖ (large temperature or small search radius) and Newton when α/σ² ≪ λ_min(H).

Neither needs a gradient of ``l``: the mean is estimated by self-normalised importance sampling from
a proposal q, :math:`\\Delta\\theta^*\\approx\\sum_iw_i\\Delta\\theta_i`,
:math:`w_i\\propto\\pi(\\Delta\\theta_i)e^{-\\Delta l_i/\\alpha}/q(\\Delta\\theta_i)`. MGS (Welleck & Cho)
takes q the mixture :math:`\\lambda\\mathcal N(0,\\sigma^2I)+(1-\\lambda)\\mathcal N(-\\nabla\\tilde l,\\sigma^2I)`
with the gradient of a differentiable surrogate :math:`\\tilde l` (the MLE loss) as a guide, and
n = 4 samples, so that a non-differentiable task loss ``l`` (1 − F1, an error count) is optimised.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from kexue._validate import check_finite, check_floating, check_positive

__all__ = ["SampledMove", "boltzmann_move", "mle_guided_move"]

PRIORS = ("flat", "gaussian")


@dataclass(frozen=True)
class SampledMove:
    """The Boltzmann-weighted mean move and what it was estimated from.

    Attributes:
        move: :math:`\\Delta\\theta^*=\\sum_iw_i\\Delta\\theta_i`, shaped like θ.
        moves: the sampled moves ``(n, *θ.shape)``.
        delta_loss: :math:`l(\\theta+\\Delta\\theta_i)-l(\\theta)`, ``(n,)``.
        weights: the self-normalised weights ``(n,)`` (sum 1).
        ess: the effective sample size :math:`1/\\sum_iw_i^2` ∈ [1, n] (→ 1 as α → 0: one-hot on the
            best sample).

    Reference:
        从采样看优化：可导优化与不可导优化的统一视角, https://kexue.fm/archives/7521
    """

    move: torch.Tensor
    moves: torch.Tensor
    delta_loss: torch.Tensor
    weights: torch.Tensor
    ess: float

    def fill_grad(self, param: torch.Tensor) -> torch.Tensor:
        """Write :math:`-\\Delta\\theta^*` into ``param.grad``: SGD with lr 1 then moves by Δθ*."""
        if param.shape != self.move.shape:
            raise ValueError(
                f"param has shape {tuple(param.shape)}, the move {tuple(self.move.shape)}"
            )
        param.grad = (-self.move).detach().to(param.dtype).clone()
        return param


def _check_samples(samples: int) -> int:
    if isinstance(samples, bool) or not isinstance(samples, int):
        raise TypeError(f"samples must be an int, got {type(samples).__name__}")
    if samples <= 0:
        raise ValueError(f"samples must be > 0, got {samples}")
    return samples


@torch.no_grad()
def boltzmann_move(
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    *,
    alpha: float,
    sigma: float,
    samples: int,
    guide: torch.Tensor | None = None,
    mix: float = 0.5,
    prior: str = "flat",
    generator: torch.Generator | None = None,
) -> SampledMove:
    """Importance-sampled mean of :math:`p(\\Delta\\theta)\\propto\\pi(\\Delta\\theta)e^{-\\Delta l/\\alpha}`.

    The proposal is :math:`\\mathcal N(0,\\sigma^2I)` or, with a ``guide`` direction m, the mixture
    :math:`\\lambda\\mathcal N(0,\\sigma^2I)+(1-\\lambda)\\mathcal N(m,\\sigma^2I)` (λ = ``mix``): the
    first round(λn) draws come from the random component, the rest from the guided one (a
    stratified mixture: 2 + 2 for MGS's n = 4, λ = 1/2), and the weights use the density of that
    mixture, evaluated with the same σ it was sampled with. Weights:
    :math:`\\log w_i=-\\Delta l_i/\\alpha+\\log\\pi(\\Delta\\theta_i)-\\log q(\\Delta\\theta_i)`,
    softmax-normalised.

    Args:
        loss_fn: **batched** loss, ``(m, *θ.shape)`` → ``(m,)``; may be non-differentiable.
        theta: the current parameters (floating, any shape).
        alpha: the temperature α > 0 (α → 0: the best sampled move).
        sigma: the proposal (and Gaussian prior) scale σ > 0.
        samples: the number of sampled moves n > 0 (MGS: 4).
        guide: the proposal's guided mean m, shaped like θ (MGS: −∇ of the MLE loss); ``None``: no
            guided component.
        mix: λ ∈ [0, 1], the weight of the random component (only with a ``guide``).
        prior: ``"flat"`` (Newton-like; MGS) or ``"gaussian"`` (π = N(0, σ²I): GD-like for large α/σ²).
        generator: the random source.

    Returns:
        :class:`SampledMove`, dtype and device of ``theta``.

    Raises:
        TypeError: ``theta`` or ``guide`` not floating; ``samples`` not an int.
        ValueError: α ≤ 0, σ ≤ 0, samples ≤ 0, ``mix`` outside [0, 1], an unknown prior, a ``guide``
            of the wrong shape, non-finite inputs, ``loss_fn`` returning the wrong shape.

    Reference:
        从采样看优化：可导优化与不可导优化的统一视角, https://kexue.fm/archives/7521;
        S. Welleck, K. Cho, "MLE-guided parameter search for task loss minimization in neural
        sequence modeling", AAAI 2021, arXiv:2006.03158.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> loss = lambda t: 0.5 * (t**2).sum(-1)   # H = I: Newton's move is −θ
        >>> theta = torch.tensor([1.0, -1.0], dtype=torch.float64)
        >>> m = boltzmann_move(loss, theta, alpha=0.01, sigma=1.0, samples=20000, generator=g)
        >>> torch.allclose(m.move, -theta, atol=0.05)
        True
    """
    theta = check_finite(check_floating(theta, "theta"), "theta")
    alpha = check_positive(alpha, "alpha")
    sigma = check_positive(sigma, "sigma")
    samples = _check_samples(samples)
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
    if isinstance(mix, bool) or not isinstance(mix, int | float) or not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must be a number in [0, 1], got {mix!r}")
    shape = (samples, *theta.shape)
    eps = torch.randn(shape, generator=generator, dtype=theta.dtype, device=theta.device)
    flat = eps.reshape(samples, -1)

    def log_normal(x: torch.Tensor) -> torch.Tensor:  # up to the constant shared by all terms
        return -0.5 * (x * x).sum(-1) / sigma**2

    if guide is None:
        moves = sigma * eps
        log_q = log_normal(flat * sigma)
    else:
        guide = check_finite(check_floating(guide, "guide"), "guide")
        if guide.shape != theta.shape:
            raise ValueError(
                f"guide must have theta's shape {tuple(theta.shape)}, got {tuple(guide.shape)}"
            )
        guide = guide.to(theta.dtype)
        n_random = round(mix * samples)
        lam = n_random / samples  # the density of the stratified mixture actually drawn
        guided = torch.arange(samples, device=theta.device) >= n_random
        moves = sigma * eps + guided.reshape(-1, *([1] * theta.ndim)) * guide
        mflat = moves.reshape(samples, -1)
        parts = []
        if lam > 0:
            parts.append(math.log(lam) + log_normal(mflat))
        if lam < 1:
            parts.append(math.log1p(-lam) + log_normal(mflat - guide.reshape(1, -1)))
        log_q = torch.logsumexp(torch.stack(parts), dim=0)
    base = torch.as_tensor(loss_fn(theta.unsqueeze(0))).to(theta.dtype).reshape(-1)
    values = torch.as_tensor(loss_fn(theta + moves)).to(theta.dtype)
    if values.shape != (samples,) or base.shape != (1,):
        raise ValueError(
            f"loss_fn must map (m, ...) parameters to (m,) values, got {tuple(values.shape)}"
        )
    delta = values - base
    log_w = -delta / alpha - log_q
    if prior == "gaussian":
        log_w = log_w + log_normal(moves.reshape(samples, -1))
    weights = torch.softmax(log_w, dim=0)
    move = (weights.reshape(-1, *([1] * theta.ndim)) * moves).sum(0)
    ess = float(1.0 / (weights * weights).sum())
    return SampledMove(move, moves, delta, weights, ess)


def mle_guided_move(
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    mle_grad: torch.Tensor,
    *,
    alpha: float,
    sigma: float,
    samples: int = 4,
    mix: float = 0.5,
    max_norm: float | None = 1.0,
    generator: torch.Generator | None = None,
) -> SampledMove:
    """One MGS move: :func:`boltzmann_move` guided by the MLE gradient, with n = 4 by default.

    The guide is :math:`-\\nabla\\tilde l`, rescaled to norm ``max_norm`` when longer (the MGS code
    clips it to 1); the prior is flat. Apply the move with :meth:`SampledMove.fill_grad` and an
    optimiser (SGD with lr 1 moves θ by Δθ*).

    Args:
        loss_fn: the batched non-differentiable task loss, ``(m, *θ.shape)`` → ``(m,)``.
        theta: the current parameters.
        mle_grad: :math:`\\nabla\\tilde l(\\theta)` of the differentiable surrogate, shaped like θ.
        alpha, sigma, samples, mix, generator: as in :func:`boltzmann_move`.
        max_norm: clip the guide's norm to this (> 0); ``None``: no clipping.

    Returns:
        :class:`SampledMove`.

    Raises:
        TypeError, ValueError: as :func:`boltzmann_move`; ``max_norm`` ≤ 0.

    Reference:
        从采样看优化：可导优化与不可导优化的统一视角, https://kexue.fm/archives/7521;
        Welleck & Cho, arXiv:2006.03158.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> err = lambda t: (t.sum(-1) < 1.0).to(t.dtype)   # a step function of θ
        >>> theta = torch.zeros(3, dtype=torch.float64)
        >>> m = mle_guided_move(err, theta, -torch.ones(3, dtype=torch.float64), alpha=0.01,
        ...                     sigma=0.1, generator=g)
        >>> bool(err((theta + m.move).unsqueeze(0)) == 0)
        True
    """
    grad = check_finite(check_floating(mle_grad, "mle_grad"), "mle_grad")
    guide = -grad.detach()
    if max_norm is not None:
        max_norm = check_positive(max_norm, "max_norm")
        norm = float(guide.norm())
        if norm > max_norm:
            guide = guide * (max_norm / norm)
    return boltzmann_move(
        loss_fn, theta, alpha=alpha, sigma=sigma, samples=samples, guide=guide, mix=mix,
        generator=generator,
    )  # fmt: skip
