r"""Residual-connection schemes: Post-Norm, Pre-Norm, ReZero/SkipInit and the scheduled-α variant.

* Post-Norm :math:`x_{t+1}=\mathrm{Norm}(x_t+F_t(x_t))`: at init the two terms have equal variance,
  so :math:`x_{t+1}\approx(x_t+F_t)/\sqrt2` and :math:`x_l=2^{-l/2}x_0+\sum_k 2^{-(l-k)/2}F_k` —
  early paths are exponentially down-weighted (:math:`2^{-12}` on :math:`x_0` at depth 24).
* Pre-Norm :math:`x_{t+1}=x_t+F_t(\mathrm{Norm}(x_t))`: every path has weight 1, but the stream's
  variance grows with depth, so a final Norm is needed.
* ReZero/SkipInit :math:`x_{t+1}=x_t+\alpha_t F_t(x_t)` with :math:`\alpha_t=0` at init (learned).
* Scheduled α (the article's preferred variant): :math:`\alpha_t` is *not* learned; it is raised by
  a fixed small step every iteration until it reaches 1, then frozen (:func:`set_residual_alpha_`).

The branches :math:`F_t` of a Transformer, :class:`AttentionBranch` and :class:`FeedForwardBranch`,
use the article's second-moment-preserving initialisation: truncated-normal weights (bounds ±2σ,
variance-corrected, :func:`kexue.nn.init.trunc_normal_`) of variance :math:`1/m` (LeCun) for a
linear map of :math:`m` inputs, :math:`2/m` (He) before a ReLU, and zero biases.

Measured caveat (``kexue reproduce A5 --long``): with no normalisation anywhere in the blocks, a
12-layer (24 sub-layer) masked LM with the scheduled α diverged once α passed ≈0.65 (ramp over 500
steps), while ReZero (learned α, which stays small) and Pre-Norm trained. The article gives no numbers
for its variant; with α → 1 the blocks must keep the stream bounded themselves (e.g. a depth-scaled
initialisation of each branch's last layer).

Reference:
    Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620 ;
    Bachlechner et al., "ReZero is All You Need", 2020; De & Smith, "SkipInit", NeurIPS 2020.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from kexue._validate import check_floating, check_ndim

__all__ = [
    "AttentionBranch",
    "FeedForwardBranch",
    "ResidualBlock",
    "residual_step",
    "set_residual_alpha_",
]

Scheme = Literal["post_norm", "pre_norm", "rezero", "scheduled"]
_SCHEMES = ("post_norm", "pre_norm", "rezero", "scheduled")


def residual_step(
    x: torch.Tensor,
    branch: Callable[[torch.Tensor], torch.Tensor],
    scheme: Scheme,
    norm: Callable[[torch.Tensor], torch.Tensor] | None = None,
    alpha: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    r"""One residual update :math:`x\mapsto x'` under a scheme.

    ``"post_norm"``: :math:`\mathrm{norm}(x+F(x))`; ``"pre_norm"``: :math:`x+F(\mathrm{norm}(x))`;
    ``"rezero"``/``"scheduled"``: :math:`x+\alpha F(x)`.

    Args:
        x: ``(..., d)`` floating input. branch: the sub-layer :math:`F`.
        scheme: one of ``"post_norm"``, ``"pre_norm"``, ``"rezero"``, ``"scheduled"``.
        norm: the normalisation (required for the two Norm schemes).
        alpha: the branch weight of the α schemes.

    Returns:
        the updated ``x``.

    Raises:
        TypeError: non-floating ``x``. ValueError: unknown ``scheme`` or missing ``norm``.

    Reference:
        Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620

    Example:
        >>> residual_step(torch.ones(2), lambda t: 3 * t, "rezero", alpha=0.5)
        tensor([2.5000, 2.5000])
    """
    check_ndim(check_floating(x, "x"), "x", 1)
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}")
    if scheme in ("post_norm", "pre_norm"):
        if norm is None:
            raise ValueError(f"scheme {scheme!r} needs a norm")
        return norm(x + branch(x)) if scheme == "post_norm" else x + branch(norm(x))
    return x + alpha * branch(x)


class ResidualBlock(nn.Module):
    r"""A sub-layer wrapped in a residual scheme (see :func:`residual_step`).

    Args:
        branch: the sub-layer :math:`F` (attention, FFN, ...).
        dim: feature size of the LayerNorm (Norm schemes).
        scheme: ``"post_norm"``, ``"pre_norm"``, ``"rezero"`` (learned α, a parameter) or
            ``"scheduled"`` (α a buffer, raised by :func:`set_residual_alpha_`).
        alpha_init: initial α of the α schemes (0 = identity at init).
        eps: LayerNorm epsilon.

    Reference:
        Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620

    Example:
        >>> blk = ResidualBlock(nn.Linear(4, 4), 4, scheme="rezero")
        >>> x = torch.randn(2, 4)
        >>> torch.equal(blk(x), x)
        True
    """

    alpha: torch.Tensor

    def __init__(
        self,
        branch: nn.Module,
        dim: int,
        scheme: Scheme = "post_norm",
        alpha_init: float = 0.0,
        eps: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if scheme not in _SCHEMES:
            raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}")
        self.branch = branch
        self.scheme: Scheme = scheme
        self.norm = (
            nn.LayerNorm(dim, eps=eps, device=device, dtype=dtype)
            if scheme in ("post_norm", "pre_norm")
            else None
        )
        a = torch.tensor(float(alpha_init), device=device, dtype=dtype)
        if scheme == "rezero":
            self.alpha = nn.Parameter(a)
        else:
            self.register_buffer("alpha", a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the residual update."""
        return residual_step(x, self.branch, self.scheme, self.norm, self.alpha)

    def extra_repr(self) -> str:
        return f"scheme={self.scheme!r}"


@torch.no_grad()
def set_residual_alpha_(module: nn.Module, value: float) -> int:
    r"""Set α of every ``"scheduled"`` :class:`ResidualBlock` inside ``module``; returns how many.

    The article's schedule: call with ``min(1, step / warmup)`` each iteration (α rises by a fixed
    step until 1, then stays frozen).

    Raises:
        ValueError: ``value`` outside ``[0, 1]``.

    Reference:
        Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620

    Example:
        >>> net = nn.Sequential(ResidualBlock(nn.Identity(), 4, scheme="scheduled"))
        >>> set_residual_alpha_(net, 0.25), net[0].alpha.item()
        (1, 0.25)
    """
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"value must be in [0, 1], got {value}")
    n = 0
    for m in module.modules():
        if isinstance(m, ResidualBlock) and m.scheme == "scheduled":
            m.alpha.fill_(value)
            n += 1
    return n


def _check_size(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _linear(
    d_in: int,
    d_out: int,
    gain: float,
    generator: torch.Generator | None,
    device: torch.device | str | None,
    dtype: torch.dtype | None,
) -> nn.Linear:
    """``nn.Linear`` with truncated-normal weights of variance ``gain / d_in`` and zero bias.

    Built with ``skip_init``: torch's default initialisation would only draw from (and advance) the
    global generator before being overwritten.
    """
    from kexue.nn.init import trunc_normal_

    dev = torch.get_default_device() if device is None else device
    layer = nn.utils.skip_init(nn.Linear, d_in, d_out, device=dev, dtype=dtype)
    trunc_normal_(layer.weight, std=math.sqrt(gain) / math.sqrt(d_in), generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


class AttentionBranch(nn.Module):
    r"""Multi-head self-attention as a residual branch, with the second-moment-preserving init.

    :math:`F(x) = W_o\,\mathrm{Attention}(W_q x, W_k x, W_v x)` with the standard :math:`1/\sqrt d`
    scale (:func:`~kexue.transformer.attention.softmax_attention`), optionally with rotary position
    embeddings on :math:`q`, :math:`k` (:func:`~kexue.transformer.position.rotary_embedding`). The
    projections :math:`W_q, W_k, W_v` (one fused ``qkv`` layer, drawn in that order) and
    :math:`W_o` get truncated-normal weights of variance :math:`1/\text{hidden}` (LeCun) and zero
    biases.

    Args:
        hidden: model width. heads: number of heads (must divide ``hidden``).
        rope: rotate queries and keys by their position (RoPE).
        generator: draws the weights (``None``: torch's global generator).
        device, dtype: of the parameters.

    Shape:
        input ``(B, T, hidden)``, output ``(B, T, hidden)``.

    Raises:
        TypeError: non-int sizes. ValueError: sizes < 1 or ``heads`` not dividing ``hidden``.

    Reference:
        Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620

    Example:
        >>> blk = ResidualBlock(AttentionBranch(16, 4), 16, scheme="pre_norm")
        >>> blk(torch.randn(2, 5, 16)).shape
        torch.Size([2, 5, 16])
    """

    def __init__(
        self,
        hidden: int,
        heads: int,
        *,
        rope: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _check_size(hidden, "hidden")
        _check_size(heads, "heads")
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
        self.heads, self.rope = heads, rope
        self.qkv = _linear(hidden, 3 * hidden, 1.0, generator, device, dtype)
        self.out = _linear(hidden, hidden, 1.0, generator, device, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over the sequence axis of ``x`` ``(B, T, hidden)``."""
        from kexue.transformer.attention import softmax_attention
        from kexue.transformer.position import rotary_embedding

        b, t, h = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        if self.rope:
            q, k = rotary_embedding(q), rotary_embedding(k)
        a = softmax_attention(q, k, v)  # (B, heads, T, head size)
        return self.out(a.transpose(1, 2).reshape(b, t, h))

    def extra_repr(self) -> str:
        return f"heads={self.heads}, rope={self.rope}"


class FeedForwardBranch(nn.Module):
    r"""The position-wise feed-forward network :math:`F(x) = W_2\,\phi(W_1 x)` as a residual branch.

    Second-moment-preserving init: :math:`W_1` has variance :math:`2/\text{hidden}` (He) before a
    ReLU, which zeroes half of the second moment, and :math:`1/\text{hidden}` (LeCun) before a GELU;
    :math:`W_2` has :math:`1/\text{inner}`; truncated normal, zero biases.

    Args:
        hidden: model width. inner: width of the hidden layer.
        activation: ``"gelu"`` or ``"relu"``.
        generator: draws the weights (``None``: torch's global generator).
        device, dtype: of the parameters.

    Shape:
        input ``(..., hidden)``, output ``(..., hidden)``.

    Raises:
        TypeError: non-int sizes. ValueError: sizes < 1 or an unknown ``activation``.

    Reference:
        Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620

    Example:
        >>> ffn = FeedForwardBranch(16, 64, activation="relu")
        >>> ffn(torch.randn(3, 16)).shape
        torch.Size([3, 16])
    """

    def __init__(
        self,
        hidden: int,
        inner: int,
        *,
        activation: Literal["gelu", "relu"] = "gelu",
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _check_size(hidden, "hidden")
        _check_size(inner, "inner")
        if activation not in ("gelu", "relu"):
            raise ValueError(f"activation must be 'gelu' or 'relu', got {activation!r}")
        self.activation = activation
        gain = 2.0 if activation == "relu" else 1.0
        self.up = _linear(hidden, inner, gain, generator, device, dtype)
        self.down = _linear(inner, hidden, 1.0, generator, device, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the two layers position-wise."""
        h = self.up(x)
        return self.down(torch.relu(h) if self.activation == "relu" else F.gelu(h))

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"
