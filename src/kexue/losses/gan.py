r"""GAN losses: the WGAN-div and WGAN-GP gradient penalties and the energy view of GANs.

**WGAN-div.** For :math:`k>0`, :math:`p>1`,

.. math:: W_{k,p}[P,Q]=\max_T\ \mathbb E_P[T]-\mathbb E_Q[T]-k\,\mathbb E_{x\sim r}\|\nabla_xT(x)\|^p

is a symmetric divergence (:math:`\ge0`, :math:`=0` iff :math:`P=Q`) for any :math:`r` on the same
space; :math:`k=2`, :math:`p=6` is the paper's best. The critic maximises it, the generator minimises
:math:`\mathbb E_P[T]-\mathbb E_Q[T]` without the penalty. Unlike WGAN-GP's
:math:`\lambda\mathbb E(\|\nabla T\|-1)^2` no Lipschitz constant is imposed and no interpolation is
needed: the author's code takes :math:`r=\frac12(P+Q)`, i.e. the gradient *at* the real and the
fake samples.

**Energy view.** A GAN is an energy model :math:`q_\theta\propto e^{-U_\theta}` ("analysis") plus a
sampler :math:`G` ("sampling"): :math:`U` descends
:math:`\mathbb E_p[U]-\mathbb E_{G}[U]+\lambda\mathbb E_p\|\nabla_xU\|^2`; :math:`G` descends
:math:`KL(q_G\|q_\theta)=-H(G(Z))+\mathbb E_z[U(G(z))]+\text{const}`, where the entropy is replaced
by the mutual information :math:`I(X;Z)` and bounded by a Gaussian posterior
:math:`\mathcal N(E(x),\sigma^2)`, giving :math:`\mathbb E_z[U(G(z))+\lambda_2\|z-E(G(z))\|^2]`.

Reference:
    Su Jianlin, "WGAN-div：一个默默无闻的WGAN填坑者", https://kexue.fm/archives/6139 ;
    Su Jianlin, "能量视角下的GAN模型（二）：GAN＝“分析”＋“采样”", https://kexue.fm/archives/6331 ;
    Wu et al., "Wasserstein Divergence for GANs", ECCV 2018 (arXiv:1712.01026);
    Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017;
    Kumar et al., "Maximum Entropy Generators for Energy-Based Models", arXiv:1901.08508.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from kexue._validate import (
    check_finite,
    check_floating,
    check_ndim,
    check_nonempty,
    check_positive,
    check_reduction,
    check_same_shape,
    reduce_loss,
)

__all__ = [
    "WGANDivPenalty",
    "WGANGPPenalty",
    "critic_loss",
    "energy_generator_loss",
    "generator_loss",
    "score_penalty",
    "wgan_div_penalty",
    "wgan_gp_penalty",
]

Critic = Callable[[torch.Tensor], torch.Tensor]
_POINTS = ("samples", "interpolates", "real", "fake")
_CONVENTIONS = ("critic", "energy")


def _cdtype(x: torch.Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def _samples(x: object, name: str) -> torch.Tensor:
    t = check_nonempty(check_ndim(check_floating(x, name), name, 2), name)
    return check_finite(t, name)


def _pair(critic: object, real: object, fake: object) -> tuple[torch.Tensor, torch.Tensor]:
    if not callable(critic):
        raise TypeError(f"critic must be callable (x -> one score per sample), got {critic!r}")
    r, f = _samples(real, "real"), _samples(fake, "fake")
    check_same_shape(r, f, ("real", "fake"))
    return r, f


def _grad_sq_norm(critic: Critic, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """:math:`\\|\\nabla_xT(x_i)\\|^2` per sample (flattened), from one backward of the sum."""
    with torch.enable_grad():
        xi = x.detach().requires_grad_(True)
        out = critic(xi)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"critic must return a tensor, got {type(out).__name__}")
        if out.shape not in ((x.shape[0],), (x.shape[0], 1)):
            raise ValueError(
                f"critic must return one score per sample, shape ({x.shape[0]},) or "
                f"({x.shape[0]}, 1), got {tuple(out.shape)}"
            )
        (g,) = torch.autograd.grad(out.sum(), xi, create_graph=create_graph, allow_unused=True)
    if g is None:  # the critic ignores its input: zero gradient
        return x.new_zeros(x.shape[0], dtype=_cdtype(x))
    return g.to(_cdtype(x)).reshape(x.shape[0], -1).square().sum(1)


def _safe_pow(s: torch.Tensor, e: float) -> torch.Tensor:
    # s**e with finite gradients at s = 0 also for e < 1 (double where)
    pos = s > 0
    return torch.where(pos, torch.where(pos, s, torch.ones_like(s)).pow(e), torch.zeros_like(s))


def _alpha(
    alpha: torch.Tensor | None, real: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    n = real.shape[0]
    if alpha is None:
        a = torch.rand(n, generator=generator, dtype=_cdtype(real)).to(real.device)
    else:
        a = check_finite(check_floating(alpha, "alpha"), "alpha")
        if a.shape != (n,):
            raise ValueError(f"alpha must have shape ({n},), got {tuple(a.shape)}")
        if bool(((a < 0) | (a > 1)).any()):
            raise ValueError("alpha must lie in [0, 1]")
    return a.to(real.dtype).reshape(n, *([1] * (real.ndim - 1)))


def wgan_div_penalty(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    k: float = 2.0,
    p: float = 6.0,
    *,
    points: str = "samples",
    alpha: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    create_graph: bool = True,
) -> torch.Tensor:
    r"""WGAN-div gradient penalty :math:`k\,\mathbb E_{x\sim r}\|\nabla_xT(x)\|^p`.

    With ``points="samples"`` (default, the author's code) :math:`r=\frac12(P+Q)`:

    .. math:: \mathrm{pen}_i=\frac k2\big(\|\nabla T(x^r_i)\|^p+\|\nabla T(x^f_i)\|^p\big),

    ``"interpolates"`` uses :math:`\hat x_i=\alpha_ix^r_i+(1-\alpha_i)x^f_i`,
    :math:`\alpha_i\sim U[0,1]` (the paper's algorithm), ``"real"``/``"fake"`` one side only.
    Add it to the critic loss of :func:`critic_loss` (either sign convention: the norm does not
    see the sign). Norms are over all non-batch dims of a sample; the power is taken on the
    squared norm, :math:`(\|g\|^2)^{p/2}`, so there is no square root at 0. The inputs are
    detached (the gradient is taken *at* them), real and fake go through ``critic`` in one batch.
    With :math:`p=6` the penalty grows like :math:`\|\nabla T\|^6`: keep inputs at unit scale and
    the critic's initial input gradients :math:`\lesssim1` (default ``nn.Linear`` init does).

    Args:
        critic: maps ``(N, ...)`` samples to scores ``(N,)`` or ``(N, 1)`` without mixing samples
            (no batch-norm in training mode).
        real: real samples ``(N, ...)``, ``ndim >= 2``.
        fake: generated samples, same shape.
        k: weight :math:`k>0`.
        p: power :math:`p>1`.
        points: ``"samples"``, ``"interpolates"``, ``"real"`` or ``"fake"``.
        alpha: interpolation weights ``(N,)`` in [0, 1] for ``"interpolates"`` (else drawn).
        generator: random generator for drawing ``alpha``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over the ``N`` samples.
        create_graph: keep the graph so the penalty trains the critic.

    Shape:
        scalar, or ``(N,)`` for ``reduction="none"``.

    Returns:
        the penalty, dtype of ``real`` (half precision is accumulated in float32).

    Raises:
        TypeError: ``critic`` not callable or not returning a tensor; non-floating tensors.
        ValueError: bad shapes, NaN/inf, empty batch, ``k <= 0``, ``p <= 1``, unknown ``points``
            or ``reduction``, ``alpha`` outside [0, 1].

    Reference:
        Su Jianlin, "WGAN-div：一个默默无闻的WGAN填坑者", https://kexue.fm/archives/6139 ;
        Wu et al., "Wasserstein Divergence for GANs", ECCV 2018.

    Example:
        >>> w = torch.tensor([3.0, 4.0])  # linear critic: ||grad T|| = ||w|| = 5
        >>> wgan_div_penalty(lambda x: x @ w, torch.zeros(4, 2), torch.ones(4, 2), k=2.0, p=2.0)
        tensor(50.)
    """
    r, f = _pair(critic, real, fake)
    k = check_positive(k, "k")
    p = check_positive(p, "p")
    if p <= 1:
        raise ValueError(f"p must be > 1 for W_(k,p) to be a divergence, got {p}")
    if points not in _POINTS:
        raise ValueError(f"points must be one of {_POINTS}, got {points!r}")
    check_reduction(reduction)
    n = r.shape[0]
    if points == "samples":
        s = _grad_sq_norm(critic, torch.cat([r, f]), create_graph)
        pen = 0.5 * k * (_safe_pow(s[:n], p / 2) + _safe_pow(s[n:], p / 2))
    else:
        if points == "interpolates":
            a = _alpha(alpha, r, generator)
            x = a * r + (1 - a) * f
        else:
            x = r if points == "real" else f
        pen = k * _safe_pow(_grad_sq_norm(critic, x, create_graph), p / 2)
    return reduce_loss(pen, reduction).to(r.dtype)


def wgan_gp_penalty(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    *,
    alpha: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    create_graph: bool = True,
) -> torch.Tensor:
    r"""WGAN-GP gradient penalty :math:`\lambda\,\mathbb E(\|\nabla_xT(\hat x)\|-1)^2` at interpolates.

    .. math:: \hat x_i=\alpha_ix^r_i+(1-\alpha_i)x^f_i,\quad \alpha_i\sim U[0,1],\qquad
        \mathrm{pen}_i=\lambda\,(\|\nabla_xT(\hat x_i)\|-1)^2 .

    The baseline WGAN-div is compared with: it pulls the gradient norm *to* 1 (a two-sided
    constraint), which is not a divergence in general. The norm is over all non-batch dims of a
    sample (flatten, not ``norm(dim=1)`` of an image), with a zero subgradient at 0.

    Args:
        critic: maps ``(N, ...)`` samples to scores ``(N,)`` or ``(N, 1)``.
        real: real samples ``(N, ...)``, ``ndim >= 2``.
        fake: generated samples, same shape (detached inside).
        weight: :math:`\lambda \ge 0` (10 in the paper).
        alpha: interpolation weights ``(N,)`` in [0, 1] (else drawn uniformly).
        generator: random generator for drawing ``alpha``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        create_graph: keep the graph so the penalty trains the critic.

    Shape:
        scalar, or ``(N,)`` for ``reduction="none"``.

    Returns:
        the penalty, dtype of ``real``.

    Raises:
        TypeError: ``critic`` not callable or not returning a tensor; non-floating tensors.
        ValueError: bad shapes, NaN/inf, empty batch, ``weight < 0``, bad ``alpha``/``reduction``.

    Reference:
        Su Jianlin, "WGAN-div：一个默默无闻的WGAN填坑者", https://kexue.fm/archives/6139 ;
        Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017.

    Example:
        >>> w = torch.tensor([3.0, 4.0])  # ||grad T|| = 5: 10 * (5 - 1)^2
        >>> wgan_gp_penalty(lambda x: x @ w, torch.zeros(4, 2), torch.ones(4, 2))
        tensor(160.)
    """
    r, f = _pair(critic, real, fake)
    weight = check_positive(weight, "weight", allow_zero=True)
    check_reduction(reduction)
    a = _alpha(alpha, r, generator)
    s = _grad_sq_norm(critic, a * r + (1 - a) * f, create_graph)
    pen = weight * (_safe_pow(s, 0.5) - 1).square()
    return reduce_loss(pen, reduction).to(r.dtype)


def score_penalty(
    energy: Critic, real: torch.Tensor, weight: float = 0.1, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""Score penalty :math:`\lambda\,\mathbb E_p\|\nabla_xU(x)\|^2` on real data (energy view).

    Real samples should sit at minima of the energy, so their score :math:`\nabla_xU` is pushed to
    0. Equal to ``wgan_div_penalty(energy, real, real, k=weight, p=2, points="real")``.

    Args:
        energy: maps ``(N, ...)`` to energies ``(N,)`` or ``(N, 1)``.
        real: real samples ``(N, ...)``, ``ndim >= 2``.
        weight: :math:`\lambda>0` (0.1 in MEG's code).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shape:
        scalar, or ``(N,)`` for ``reduction="none"``.

    Returns:
        the penalty, dtype of ``real``.

    Raises:
        TypeError: ``energy`` not callable; ``real`` not floating.
        ValueError: bad shape, NaN/inf, ``weight <= 0``, bad ``reduction``.

    Reference:
        Su Jianlin, "能量视角下的GAN模型（二）：GAN＝“分析”＋“采样”", https://kexue.fm/archives/6331 ;
        Kumar et al., "Maximum Entropy Generators for Energy-Based Models", arXiv:1901.08508.

    Example:
        >>> pen = score_penalty(lambda x: (x**2).sum(1), torch.ones(3, 2), weight=1.0)  # ||2x||^2
        >>> float(pen.detach())
        8.0
    """
    if not callable(energy):
        raise TypeError(f"energy must be callable (x -> one energy per sample), got {energy!r}")
    r = _samples(real, "real")
    weight = check_positive(weight, "weight")
    return wgan_div_penalty(energy, r, r, k=weight, p=2.0, points="real", reduction=reduction)


def _scores(x: object, name: str) -> torch.Tensor:
    return check_finite(check_nonempty(check_floating(x, name), name), name)


def _convention(convention: str) -> float:
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {_CONVENTIONS}, got {convention!r}")
    return 1.0 if convention == "critic" else -1.0


def critic_loss(
    real_scores: torch.Tensor,
    fake_scores: torch.Tensor,
    *,
    convention: str = "critic",
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Wasserstein critic (or energy) loss, to be minimised by the critic; add a penalty to it.

    .. math:: \text{critic: } L_T=\mathbb E_Q[T]-\mathbb E_P[T],\qquad
        \text{energy: } L_U=\mathbb E_P[U]-\mathbb E_Q[U].

    The ``"energy"`` convention (the author's WGAN-div code and the energy view, low on real data)
    is the ``"critic"`` one with :math:`U=-T`. With ``reduction="none"`` the per-pair terms
    :math:`T(x^f_i)-T(x^r_i)` are returned.

    Args:
        real_scores: scores of real samples, any shape.
        fake_scores: scores of generated samples, same shape.
        convention: ``"critic"`` (high on real) or ``"energy"`` (low on real).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shape:
        scalar, or the scores' shape for ``reduction="none"``.

    Returns:
        the loss, dtype of the scores (float32 compute for half).

    Raises:
        TypeError: scores not floating tensors.
        ValueError: different shapes, empty, NaN/inf, bad ``convention``/``reduction``.

    Reference:
        Su Jianlin, "WGAN-div：一个默默无闻的WGAN填坑者", https://kexue.fm/archives/6139 ;
        Su Jianlin, "能量视角下的GAN模型（二）：GAN＝“分析”＋“采样”", https://kexue.fm/archives/6331

    Example:
        >>> critic_loss(torch.tensor([2.0, 4.0]), torch.tensor([0.0, 1.0]))
        tensor(-2.5000)
    """
    r, f = _scores(real_scores, "real_scores"), _scores(fake_scores, "fake_scores")
    check_same_shape(r, f, ("real_scores", "fake_scores"))
    sign = _convention(convention)
    cd = _cdtype(r)
    return reduce_loss(sign * (f.to(cd) - r.to(cd)), reduction).to(r.dtype)


def generator_loss(
    fake_scores: torch.Tensor, *, convention: str = "critic", reduction: str = "mean"
) -> torch.Tensor:
    r"""Wasserstein generator loss (no penalty): :math:`-\mathbb E_Q[T]`, or :math:`\mathbb E_Q[U]`.

    Args:
        fake_scores: critic scores (``"critic"``) or energies (``"energy"``) of generated samples.
        convention: ``"critic"`` or ``"energy"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shape:
        scalar, or the scores' shape for ``reduction="none"``.

    Returns:
        the loss, dtype of ``fake_scores``.

    Raises:
        TypeError: ``fake_scores`` not floating.
        ValueError: empty, NaN/inf, bad ``convention``/``reduction``.

    Reference:
        Su Jianlin, "WGAN-div：一个默默无闻的WGAN填坑者", https://kexue.fm/archives/6139

    Example:
        >>> generator_loss(torch.tensor([1.0, 3.0]), convention="energy")
        tensor(2.)
    """
    f = _scores(fake_scores, "fake_scores")
    sign = _convention(convention)
    return reduce_loss(-sign * f.to(_cdtype(f)), reduction).to(f.dtype)


def energy_generator_loss(
    fake_energy: torch.Tensor,
    z: torch.Tensor,
    z_hat: torch.Tensor,
    weight: float = 1.0,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Energy-view generator objective with the entropy term as an InfoGAN mutual-information bound.

    .. math:: L_{G,E}=\mathbb E_z\big[U(G(z))+\lambda_2\|z-E(G(z))\|^2\big]

    :math:`\min_G KL(q_G\|q_U)=-H(G(Z))+\mathbb E[U(G(z))]+\text{const}`; as :math:`x=G(z)` is
    deterministic, :math:`H(X)=I(X;Z)+\text{const}`, and a Gaussian posterior
    :math:`\mathcal N(E(x),\sigma^2)` lower-bounds :math:`I(X;Z)` by
    :math:`-\frac1{2\sigma^2}\mathbb E\|z-E(G(z))\|^2+\text{const}`. Minimise over both the
    generator and the encoder :math:`E`: collapsed modes make :math:`z` unrecoverable, so the
    second term is the anti-collapse force.

    Args:
        fake_energy: :math:`U(G(z))`, shape ``(N,)`` or ``(N, 1)``.
        z: the latent codes ``(N, d)``.
        z_hat: the encoder's reconstruction :math:`E(G(z))`, shape of ``z``.
        weight: :math:`\lambda_2 \ge 0` (0 drops the entropy term).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over the ``N`` samples.

    Shape:
        scalar, or ``(N,)`` for ``reduction="none"``.

    Returns:
        the loss, dtype of ``fake_energy``.

    Raises:
        TypeError: non-floating tensors.
        ValueError: shapes, NaN/inf, empty batch, ``weight < 0``, bad ``reduction``.

    Reference:
        Su Jianlin, "能量视角下的GAN模型（二）：GAN＝“分析”＋“采样”", https://kexue.fm/archives/6331 ;
        Kumar et al., "Maximum Entropy Generators for Energy-Based Models", arXiv:1901.08508.

    Example:
        >>> energy_generator_loss(torch.tensor([1.0]), torch.zeros(1, 2), torch.ones(1, 2), 0.5)
        tensor(2.)
    """
    u = _scores(fake_energy, "fake_energy")
    zz = check_ndim(_scores(z, "z"), "z", 2, 2)
    zh = _scores(z_hat, "z_hat")
    check_same_shape(zz, zh, ("z", "z_hat"))
    if u.shape not in ((zz.shape[0],), (zz.shape[0], 1)):
        raise ValueError(
            f"fake_energy must have shape ({zz.shape[0]},) or ({zz.shape[0]}, 1) to match z, "
            f"got {tuple(u.shape)}"
        )
    weight = check_positive(weight, "weight", allow_zero=True)
    cd = _cdtype(u)
    mi = (zz.to(cd) - zh.to(cd)).square().sum(1)
    return reduce_loss(u.to(cd).reshape(-1) + weight * mi, reduction).to(u.dtype)


class WGANDivPenalty(nn.Module):
    r"""Module form of :func:`wgan_div_penalty`: ``penalty(critic, real, fake)``.

    Args:
        k: weight :math:`k>0`.
        p: power :math:`p>1`.
        points: ``"samples"``, ``"interpolates"``, ``"real"`` or ``"fake"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Reference:
        Su Jianlin, "WGAN-div：一个默默无闻的WGAN填坑者", https://kexue.fm/archives/6139

    Example:
        >>> pen = WGANDivPenalty(k=2.0, p=6.0)
        >>> pen(lambda x: x.sum(1), torch.zeros(2, 1), torch.ones(2, 1))  # 2 * 1^6
        tensor(2.)
    """

    def __init__(
        self, k: float = 2.0, p: float = 6.0, points: str = "samples", reduction: str = "mean"
    ) -> None:
        super().__init__()
        check_positive(k, "k")
        if check_positive(p, "p") <= 1:
            raise ValueError(f"p must be > 1, got {p}")
        if points not in _POINTS:
            raise ValueError(f"points must be one of {_POINTS}, got {points!r}")
        check_reduction(reduction)
        self.k, self.p, self.points, self.reduction = float(k), float(p), points, reduction

    def forward(
        self,
        critic: Critic,
        real: torch.Tensor,
        fake: torch.Tensor,
        alpha: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        return wgan_div_penalty(
            critic, real, fake, self.k, self.p, points=self.points, alpha=alpha,
            generator=generator, reduction=self.reduction,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"k={self.k}, p={self.p}, points={self.points!r}"


class WGANGPPenalty(nn.Module):
    r"""Module form of :func:`wgan_gp_penalty`: ``penalty(critic, real, fake)``.

    Args:
        weight: :math:`\lambda \ge 0`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Reference:
        Su Jianlin, "WGAN-div：一个默默无闻的WGAN填坑者", https://kexue.fm/archives/6139 ;
        Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017.

    Example:
        >>> pen = WGANGPPenalty(weight=10.0)
        >>> pen(lambda x: 3 * x.sum(1), torch.zeros(2, 1), torch.ones(2, 1))  # 10 * (3 - 1)^2
        tensor(40.)
    """

    def __init__(self, weight: float = 10.0, reduction: str = "mean") -> None:
        super().__init__()
        self.weight = check_positive(weight, "weight", allow_zero=True)
        check_reduction(reduction)
        self.reduction = reduction

    def forward(
        self,
        critic: Critic,
        real: torch.Tensor,
        fake: torch.Tensor,
        alpha: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        return wgan_gp_penalty(
            critic, real, fake, self.weight, alpha=alpha, generator=generator,
            reduction=self.reduction,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"weight={self.weight}"
