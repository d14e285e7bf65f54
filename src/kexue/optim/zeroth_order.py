"""Score-function (policy-gradient) and Gaussian-smoothing zeroth-order gradient estimators.

Both estimate a gradient from function values alone and return the same record, a
:class:`GradientEstimate` (the mean of per-draw estimates and its standard error), which can fill a
parameter's ``.grad`` for any ``torch.optim`` optimiser (use ``maximize=True`` to ascend a reward).

- :func:`zeroth_order_gradient`: the gradient of the Gaussian-smoothed objective
  :math:`f_\\sigma(\\theta)=\\mathbb E_u f(\\theta+\\sigma u)`, :math:`u\\sim\\mathcal N(0,I)`, from
  :math:`\\frac{f(\\theta+\\sigma u)-f(\\theta)}{\\sigma}u` (forward difference, the baseline
  :math:`f(\\theta)`) or :math:`\\frac{f(\\theta+\\sigma u)-f(\\theta-\\sigma u)}{2\\sigma}u`
  (antithetic). It needs no gradient of ``f``, so ``f`` may be a step function such as argmax accuracy.
- :func:`policy_gradient`: REINFORCE for a categorical policy :math:`p_\\theta(y|x)=\\mathrm{softmax}`
  of logits, :math:`\\nabla J=\\mathbb E_{y\\sim p_\\theta}[(r-b)\\nabla\\log p_\\theta(y|x)]`, with a
  baseline ``b`` that keeps it unbiased.

The article's point is that the two are one estimator: the Gaussian-smoothing estimator *is* the
score-function estimator of the Gaussian policy :math:`\\theta'\\sim\\mathcal N(\\theta,\\sigma^2I)`, and
the zeroth-order gradient of argmax accuracy equals, to first order in σ, the policy gradient
:math:`\\mathbb E\\sum_yr(y_t,y)\\nabla p_\\theta(y|x)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from kexue._validate import check_finite, check_floating, check_ndim, check_positive

__all__ = ["GradientEstimate", "policy_gradient", "zeroth_order_gradient"]

BASELINES = ("none", "mean", "optimal")


@dataclass(frozen=True)
class GradientEstimate:
    """A Monte-Carlo gradient estimate: the mean of ``samples`` per-draw estimates.

    Attributes:
        grad: the estimate, shaped like the parameter.
        stderr: the standard error of each entry (per-draw standard deviation / √draws).
        draws: the per-draw estimates, ``(draws, *grad.shape)`` (independent for the zeroth-order
            estimator; exchangeable for the leave-one-out baseline of the policy gradient).

    Reference:
        殊途同归的策略梯度与零阶优化, https://kexue.fm/archives/7737
    """

    grad: torch.Tensor
    stderr: torch.Tensor
    draws: torch.Tensor

    @property
    def variance(self) -> torch.Tensor:
        """Total per-draw variance :math:`\\sum_j\\mathrm{Var}[g_j]` (the trace of the covariance)."""
        return self.draws.var(dim=0).sum()

    def fill_grad(self, param: torch.Tensor) -> torch.Tensor:
        """Write the estimate into ``param.grad`` (replacing it) and return ``param``.

        A torch optimiser then steps along it: pass ``maximize=True`` when the objective is a reward.
        """
        if param.shape != self.grad.shape:
            raise ValueError(
                f"param has shape {tuple(param.shape)}, the estimate {tuple(self.grad.shape)}"
            )
        param.grad = self.grad.detach().to(param.dtype).clone()
        return param


def _estimate(draws: torch.Tensor) -> GradientEstimate:
    n = draws.shape[0]
    std = draws.std(dim=0) if n > 1 else torch.zeros_like(draws[0])
    return GradientEstimate(draws.mean(dim=0), std / n**0.5, draws)


def _check_samples(samples: int) -> int:
    if isinstance(samples, bool) or not isinstance(samples, int):
        raise TypeError(f"samples must be an int, got {type(samples).__name__}")
    if samples <= 0:
        raise ValueError(f"samples must be > 0, got {samples}")
    return samples


@torch.no_grad()
def zeroth_order_gradient(
    f: Callable[[torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    *,
    sigma: float,
    samples: int,
    antithetic: bool = True,
    baseline: bool = True,
    generator: torch.Generator | None = None,
) -> GradientEstimate:
    """Gaussian-smoothing zeroth-order estimate of :math:`\\nabla f` at ``theta``.

    .. math::
        \\tilde\\nabla f(\\theta)=\\mathbb E_{u\\sim\\mathcal N(0,I)}
        \\Big[\\frac{f(\\theta+\\sigma u)-b}{\\sigma}u\\Big]=\\nabla_\\theta\\,
        \\mathbb E_uf(\\theta+\\sigma u),

    unbiased for the smoothed objective for any baseline ``b`` that does not depend on ``u``
    (:math:`\\mathbb E u=0`); it equals :math:`\\nabla f` for a quadratic ``f`` at any σ and as
    σ → 0 for a smooth one. With ``antithetic`` each draw is the central difference
    :math:`\\frac{f(\\theta+\\sigma u)-f(\\theta-\\sigma u)}{2\\sigma}u` (two evaluations, the even
    part of ``f`` cancels); else ``baseline`` subtracts :math:`f(\\theta)` (one evaluation more in all).

    Args:
        f: the objective, **batched**: maps ``(m, *theta.shape)`` parameters to ``(m,)`` values. It
            may be non-differentiable (a step function): only its values are used.
        theta: the point, any shape, floating.
        sigma: the smoothing scale σ > 0. With a piecewise-constant ``f`` it must be large enough to
            change the value, else every difference is 0.
        samples: the number of directions u (draws) > 0.
        antithetic: use mirrored pairs ±u.
        baseline: subtract :math:`f(\\theta)` (ignored when ``antithetic``).
        generator: the random source of the directions.

    Returns:
        :class:`GradientEstimate`, dtype and device of ``theta``.

    Raises:
        TypeError: ``theta`` not floating; ``samples`` not an int.
        ValueError: σ ≤ 0, samples ≤ 0, a non-finite ``theta``, ``f`` returning the wrong shape.

    Reference:
        殊途同归的策略梯度与零阶优化, https://kexue.fm/archives/7737

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> f = lambda t: (t**2).sum(-1)
        >>> est = zeroth_order_gradient(f, torch.tensor([1.0, -2.0]), sigma=0.1, samples=4000,
        ...                             generator=g)
        >>> torch.allclose(est.grad, torch.tensor([2.0, -4.0]), atol=0.2)
        True
    """
    theta = check_finite(check_floating(theta, "theta"), "theta")
    sigma = check_positive(sigma, "sigma")
    samples = _check_samples(samples)
    u = torch.randn(
        (samples, *theta.shape), generator=generator, dtype=theta.dtype, device=theta.device
    )  # (n, *shape)
    if antithetic:
        values = _values(f, torch.cat([theta + sigma * u, theta - sigma * u]), 2 * samples)
        coef = (values[:samples] - values[samples:]) / (2 * sigma)
    else:
        pts = theta + sigma * u
        if baseline:
            pts = torch.cat([pts, theta.unsqueeze(0)])
        values = _values(f, pts, pts.shape[0])
        base = values[samples] if baseline else 0.0
        coef = (values[:samples] - base) / sigma
    draws = coef.reshape(samples, *([1] * theta.ndim)) * u
    return _estimate(draws)


def _values(f: Callable[[torch.Tensor], torch.Tensor], pts: torch.Tensor, m: int) -> torch.Tensor:
    values = torch.as_tensor(f(pts))
    if values.shape != (m,):
        raise ValueError(
            f"f must map ({m}, ...) parameters to ({m},) values, got {tuple(values.shape)}"
        )
    return values.to(pts.dtype)


def policy_gradient(
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    rewards: torch.Tensor,
    *,
    samples: int,
    baseline: str = "mean",
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> GradientEstimate:
    """REINFORCE estimate of :math:`\\nabla_\\theta J`, :math:`J=\\frac1B\\sum_x\\sum_y p_\\theta(y|x)r(x,y)`.

    The policy is :math:`p_\\theta(\\cdot|x)=\\mathrm{softmax}(z_\\theta(x)/\\tau)` over K labels; each
    draw samples one label per example and forms
    :math:`\\frac1B\\sum_x(r(x,y)-b(x))\\nabla_\\theta\\log p_\\theta(y|x)`, using
    :math:`\\nabla_z\\log p(y)=(e_y-p)/\\tau` and one batched vector-Jacobian product through
    ``logits_fn``. Baselines (none changes the mean):

    - ``"none"``: b = 0;
    - ``"mean"``: the mean reward of the *other* draws for the same example (leave-one-out, so b does
      not depend on the draw's own y) — "reinforce above-average samples";
    - ``"optimal"``: the variance-optimal :math:`b^*=\\mathbb E[r\\|\\nabla\\log p\\|^2]/\\mathbb E\\|\\nabla\\log p\\|^2`
      (norms taken in logit space, exact from ``rewards`` since :math:`\\|e_y-p\\|^2=1-2p_y+\\|p\\|^2`).

    Args:
        logits_fn: maps ``theta`` to logits ``(B, K)``, differentiably.
        theta: the parameter (any shape, floating).
        rewards: ``(B, K)``: the reward r(x, y) of each label for each example (e.g. one-hot of the
            true label for accuracy).
        samples: draws per example, > 0 (≥ 2 for ``"mean"``).
        baseline: ``"none"``, ``"mean"`` or ``"optimal"``.
        temperature: τ > 0.
        generator: the random source of the sampled labels.

    Returns:
        :class:`GradientEstimate` of the gradient of J (ascend it), dtype and device of ``theta``.

    Raises:
        TypeError: ``theta``/``rewards`` not floating; ``samples`` not an int.
        ValueError: samples ≤ 0 (or < 2 with ``"mean"``), τ ≤ 0, an unknown baseline, shapes that
            disagree, non-finite rewards.

    Reference:
        殊途同归的策略梯度与零阶优化, https://kexue.fm/archives/7737

    Example:
        >>> theta = torch.zeros(3, dtype=torch.float64)
        >>> r = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
        >>> est = policy_gradient(lambda t: t.unsqueeze(0), theta, r, samples=20000,
        ...                       generator=torch.Generator().manual_seed(0))
        >>> torch.allclose(est.grad, torch.tensor([2 / 9, -1 / 9, -1 / 9], dtype=torch.float64),
        ...                atol=0.02)
        True
    """
    theta = check_finite(check_floating(theta, "theta"), "theta")
    rewards = check_finite(
        check_ndim(check_floating(rewards, "rewards"), "rewards", 2, 2), "rewards"
    )
    samples = _check_samples(samples)
    tau = check_positive(temperature, "temperature")
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
    if baseline == "mean" and samples < 2:
        raise ValueError(f"samples must be >= 2 for the leave-one-out mean baseline, got {samples}")
    theta = theta.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = logits_fn(theta)
    if logits.shape != rewards.shape:
        raise ValueError(
            f"logits_fn(theta) has shape {tuple(logits.shape)}, rewards {tuple(rewards.shape)}"
        )
    rewards = rewards.to(logits.dtype)
    n_ex, k = rewards.shape
    with torch.no_grad():
        p = torch.softmax(logits.detach() / tau, dim=-1)  # (B, K)
        y = torch.multinomial(p, samples, replacement=True, generator=generator).T  # (n, B)
        r = rewards.gather(1, y.T).T  # (n, B)
        if baseline == "mean":
            b = (r.sum(0, keepdim=True) - r) / (samples - 1)
        elif baseline == "optimal":
            sq = 1 - 2 * p + (p * p).sum(-1, keepdim=True)  # ‖e_y − p‖², (B, K)
            b = ((p * rewards * sq).sum(-1) / (p * sq).sum(-1).clamp_min(1e-30)).expand(
                samples, n_ex
            )
        else:
            b = torch.zeros_like(r)
        onehot = torch.nn.functional.one_hot(y, k).to(p.dtype)  # (n, B, K)
        dz = (r - b).unsqueeze(-1) * (onehot - p) / (tau * n_ex)  # per-draw ∂/∂logits, (n, B, K)
    (draws,) = torch.autograd.grad(logits, theta, grad_outputs=dz, is_grads_batched=True)
    return _estimate(draws.detach())
