r"""Variational information bottleneck: a reparameterised Gaussian layer with a KL to :math:`\mathcal N(0,I)`.

For a chain :math:`x\to z\to y` the information kept about the input is bounded by any prior
:math:`q(z)`:

.. math:: I(X;Z)=\mathbb E_x KL(p(z|x)\|q(z))-KL(p(z)\|q(z))\le\mathbb E_xKL(p(z|x)\|q(z)),

so training on :math:`\mathbb E_x\big[\mathbb E_{z\sim p(z|x)}[-\log p(y|z)]
+\beta\,KL(p(z|x)\|\mathcal N(0,I))\big]` makes the network "forget" what it does not need. With a
Gaussian encoder :math:`p(z|x)=\mathcal N(\mu(x),\mathrm{diag}\,\sigma^2(x))` the KL has a closed form
and :math:`z=\mu+\sigma\odot\varepsilon` is differentiable in :math:`\mu,\sigma`. With :math:`y=x` this
is the VAE objective.

The diagonal KL is also available, for general :math:`q`, as
``kexue.geometry.gaussian.kl_divergence_gaussian(..., diagonal=True)``, which takes variances; here
the layer's log-variances are used directly (no ``exp``/``log`` round trip).

Reference:
    Su Jianlin, "从变分编码、信息瓶颈到正态分布：论遗忘的重要性", https://kexue.fm/archives/6181 ;
    Alemi et al., "Deep Variational Information Bottleneck", ICLR 2017 (arXiv:1612.00410).
"""

from __future__ import annotations

import torch
from torch import nn

from kexue._validate import (
    check_finite,
    check_floating,
    check_ndim,
    check_nonempty,
    check_reduction,
    check_same_shape,
    reduce_loss,
)

__all__ = ["VariationalBottleneck", "gaussian_kl_standard_normal", "reparameterize"]


def _cdtype(x: torch.Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def _moments(mean: object, log_var: object) -> tuple[torch.Tensor, torch.Tensor]:
    m = check_finite(
        check_nonempty(check_ndim(check_floating(mean, "mean"), "mean", 1), "mean"), "mean"
    )
    lv = check_finite(check_floating(log_var, "log_var"), "log_var")
    check_same_shape(m, lv, ("mean", "log_var"))
    return m, lv


def gaussian_kl_standard_normal(
    mean: torch.Tensor, log_var: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""KL divergence from :math:`\mathcal N(\mu,\mathrm{diag}\,e^{v})` to :math:`\mathcal N(0,I)`.

    .. math:: KL=\frac12\sum_j\big(\mu_j^2+e^{v_j}-1-v_j\big),\qquad v=\log\sigma^2,

    summed over the last (latent) dim and evaluated as :math:`\mu^2+\mathrm{expm1}(v)-v`, which is
    :math:`\ge0` term by term and has no cancellation near :math:`\sigma=1`. ``reduction="mean"``
    averages the per-example KL over the leading dims, as the author's Keras layer does (batch
    mean, sum over latent dims); the scale of :math:`\beta` depends on this choice.

    Args:
        mean: :math:`\mu`, floating ``(..., d)``.
        log_var: :math:`\log\sigma^2`, same shape (half precision is computed in float32).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over the leading dims.

    Shape:
        scalar, or ``mean.shape[:-1]`` for ``reduction="none"``.

    Returns:
        the KL in nats, dtype of ``mean``.

    Raises:
        TypeError: non-floating inputs.
        ValueError: different shapes, 0-dim or empty ``mean``, NaN/inf, bad ``reduction``.

    Reference:
        Su Jianlin, "从变分编码、信息瓶颈到正态分布：论遗忘的重要性", https://kexue.fm/archives/6181 ;
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.

    Example:
        >>> gaussian_kl_standard_normal(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2))
        tensor(0.5000)
    """
    m, lv = _moments(mean, log_var)
    check_reduction(reduction)
    cd = _cdtype(m)
    mc, vc = m.to(cd), lv.to(cd)
    kl = 0.5 * (mc.square() + torch.expm1(vc) - vc).sum(-1)
    return reduce_loss(kl, reduction).to(m.dtype)


def reparameterize(
    mean: torch.Tensor, log_var: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Draw :math:`z=\mu+e^{v/2}\odot\varepsilon`, :math:`\varepsilon\sim\mathcal N(0,I)`, differentiably.

    Args:
        mean: :math:`\mu`, floating ``(..., d)``.
        log_var: :math:`v=\log\sigma^2`, same shape.
        generator: random generator for :math:`\varepsilon`.

    Shape:
        output has the shape of ``mean``.

    Returns:
        a sample with gradients to ``mean`` and ``log_var``, dtype of ``mean``.

    Raises:
        TypeError: non-floating inputs.
        ValueError: different shapes, empty, NaN/inf.

    Reference:
        Su Jianlin, "从变分编码、信息瓶颈到正态分布：论遗忘的重要性", https://kexue.fm/archives/6181

    Example:
        >>> reparameterize(torch.zeros(2, 3), torch.full((2, 3), -100.0)).abs().max() < 1e-20
        tensor(True)
    """
    m, lv = _moments(mean, log_var)
    cd = _cdtype(m)
    eps = torch.randn(m.shape, generator=generator, dtype=cd).to(m.device)
    return (m.to(cd) + torch.exp(0.5 * lv.to(cd)) * eps).to(m.dtype)


class VariationalBottleneck(nn.Module):
    r"""Gaussian bottleneck layer: :math:`x\mapsto z\sim\mathcal N(\mu(x),\mathrm{diag}\,\sigma^2(x))`.

    Two linear maps give :math:`\mu` and :math:`\log\sigma^2` (clamped to ``log_var_range``, so
    ``exp`` cannot overflow). In training mode :math:`z` is reparameterised; in eval mode it is
    :math:`\mu` (the author's CNN script) unless ``eval_sample=True`` (his LSTM script). Each
    forward stores the batch-mean KL to :math:`\mathcal N(0,I)` in ``kl`` (with its graph); add
    ``penalty`` (:math:`\beta\cdot` ``kl``) to the task loss.

    Args:
        in_features: size of the last dim of the input.
        latent_features: dimension :math:`d` of :math:`z`.
        beta: KL weight :math:`\beta \ge 0` (1e-3 … 1e-1 regularise; ~1 collapses to the prior).
        eval_sample: sample :math:`z` in eval mode too.
        log_var_range: clamp for :math:`\log\sigma^2`.
        device, dtype: of the parameters.

    Shape:
        input ``(..., in_features)``, output ``(..., latent_features)``.

    Attributes:
        kl: KL of the last forward (mean over the leading dims, summed over :math:`d`), 0-dim.
        mean, log_var: the last forward's :math:`\mu` and :math:`\log\sigma^2`.

    Raises:
        TypeError: ``x`` not floating.
        ValueError: ``x`` of the wrong last dim, empty or non-finite; bad constructor arguments.

    Reference:
        Su Jianlin, "从变分编码、信息瓶颈到正态分布：论遗忘的重要性", https://kexue.fm/archives/6181 ;
        Alemi et al., "Deep Variational Information Bottleneck", ICLR 2017.

    Example:
        >>> layer = VariationalBottleneck(8, 4, beta=1e-2).eval()
        >>> z = layer(torch.randn(5, 8))
        >>> z.shape, layer.kl.ndim, bool(layer.penalty >= 0)
        (torch.Size([5, 4]), 0, True)
    """

    kl: torch.Tensor
    mean: torch.Tensor
    log_var: torch.Tensor

    def __init__(
        self,
        in_features: int,
        latent_features: int,
        beta: float = 1e-3,
        *,
        eval_sample: bool = False,
        log_var_range: tuple[float, float] = (-30.0, 20.0),
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("latent_features", latent_features)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{name} must be an int, got {type(v).__name__}")
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        if isinstance(beta, bool) or not isinstance(beta, int | float):
            raise TypeError(f"beta must be a real number, got {type(beta).__name__}")
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        lo, hi = log_var_range
        if not lo < hi:
            raise ValueError(
                f"log_var_range must be (low, high) with low < high, got {log_var_range}"
            )
        self.in_features, self.latent_features = in_features, latent_features
        self.beta, self.eval_sample, self.log_var_range = float(beta), eval_sample, (lo, hi)
        self.to_mean = nn.Linear(in_features, latent_features, device=device, dtype=dtype)
        self.to_log_var = nn.Linear(in_features, latent_features, device=device, dtype=dtype)
        self.kl = torch.zeros((), device=device, dtype=dtype)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return :math:`(\\mu(x), \\log\\sigma^2(x))` without sampling or storing anything."""
        check_finite(check_nonempty(check_ndim(check_floating(x, "x"), "x", 1), "x"), "x")
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"x must end in dim {self.in_features} (in_features), got shape {tuple(x.shape)}"
            )
        return self.to_mean(x), self.to_log_var(x).clamp(*self.log_var_range)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        self.mean, self.log_var = self.encode(x)
        self.kl = gaussian_kl_standard_normal(self.mean, self.log_var)
        if self.training or self.eval_sample:
            return reparameterize(self.mean, self.log_var, generator=generator)
        return self.mean

    @property
    def penalty(self) -> torch.Tensor:
        r""":math:`\beta\cdot KL` of the last forward (add it to the loss)."""
        return self.beta * self.kl

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, latent_features={self.latent_features}, "
            f"beta={self.beta}, eval_sample={self.eval_sample}"
        )
