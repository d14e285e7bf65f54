r"""Smooth approximations of non-smooth functions by convolution with a nascent delta.

If :math:`\varphi_w\ge0` integrates to 1 and concentrates at 0 as the width :math:`w\to0`, then
:math:`f_w=f*\varphi_w` is smooth and tends to :math:`f`. A jump :math:`J\theta(x-c)` becomes
:math:`J\Phi_w(x-c)` (:math:`\Phi_w` the kernel's CDF) and a kink :math:`\mathrm{ReLU}(x-c)` becomes
:math:`\int_{-\infty}^{x-c}\Phi_w`, so every function here is built from two closed forms:

* Gaussian kernel (``kernel="gaussian"``, :math:`w=\sigma`, :math:`z=x/\sigma`):
  :math:`\theta\to\Phi(z)`, :math:`\mathrm{ReLU}\to x\Phi(z)+\sigma\phi(z)`;
* logistic kernel (``kernel="logistic"``, :math:`w=1/t`): :math:`\theta\to\mathrm{sigmoid}(x/w)`,
  :math:`\mathrm{ReLU}\to w\log(1+e^{x/w})` (SoftPlus).

The Gaussian ReLU is evaluated without cancellation for :math:`z\ll0` (where
:math:`x\Phi(z)` and :math:`\sigma\phi(z)` nearly cancel): with :math:`a=|z|` and the Mills ratio
:math:`m(a)=\Phi(-a)/\phi(a)=\sqrt{\pi/2}\,\mathrm{erfcx}(a/\sqrt2)` it is
:math:`\sigma\phi(a)[1-a\,m(a)]`, and deep in the tail :math:`\sigma\phi(a)m(a)r(a)` with
:math:`r(a)=1/(a+2/(a+3/(a+\cdots)))` from Laplace's continued fraction. Its gradients are the exact
:math:`\partial_x=\Phi(z)`, :math:`\partial_\sigma=\phi(z)`. :math:`\Phi` is computed with ``erfc``:
``torch.special.ndtr`` loses digits below :math:`z\approx-5` and returns 0 below :math:`z\approx-9`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn

from kexue._validate import check_floating, check_positive

__all__ = [
    "SmoothLeakyReLU",
    "SmoothReLU",
    "smooth_abs",
    "smooth_clip",
    "smooth_floor",
    "smooth_leaky_relu",
    "smooth_max",
    "smooth_min",
    "smooth_relu",
    "smooth_sign",
    "smooth_step",
]

Kernel = Literal["gaussian", "logistic"]
Width = float | torch.Tensor

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
# Below z = threshold the continued fraction replaces the cancelling closed form (which loses
# about log10(z^2) digits); with the tail started at its fixed point, the number of terms gives
# relative error <= 1e-15 (float64, from z = -5) or 3e-8 (float32, from z = -4).
_TAIL = {torch.float64: (-5.0, 20)}
_TAIL_DEFAULT = (-4.0, 8)


def _prep(
    x: object, width: object, kernel: object, name: str = "x"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate; return (x, width) in the compute dtype (float32 for half inputs)."""
    t = check_floating(x, name)
    if kernel not in ("gaussian", "logistic"):
        raise ValueError(f"kernel must be 'gaussian' or 'logistic', got {kernel!r}")
    cdtype = torch.float32 if t.dtype in (torch.float16, torch.bfloat16) else t.dtype
    if isinstance(width, torch.Tensor):
        w = check_floating(width, "width").to(device=t.device, dtype=cdtype)
        if not bool(torch.isfinite(w).all()) or bool((w <= 0).any()):
            raise ValueError("width must be finite and > 0 everywhere")
        try:
            torch.broadcast_shapes(w.shape, t.shape)
        except RuntimeError as err:
            raise ValueError(
                f"width of shape {tuple(w.shape)} does not broadcast to x {tuple(t.shape)}"
            ) from err
    else:
        w = torch.tensor(check_positive(width, "width"), dtype=cdtype, device=t.device)  # type: ignore[arg-type]
        if not math.isfinite(float(w)):
            raise ValueError(f"width must be finite, got {width}")
    return t.to(cdtype), w


def _ndtr(z: torch.Tensor) -> torch.Tensor:
    """Normal CDF via erfc: accurate in the left tail, where ``torch.special.ndtr`` (torch 2.13)
    loses digits from z < -5 and underflows to 0 from z < -9 in float64."""
    return 0.5 * torch.erfc(z * -_INV_SQRT_2)


def _normal_pdf(z: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * z * z) * _INV_SQRT_2PI


def _gauss_relu_value(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """sigma * g(x / sigma), g(z) = z Phi(z) + phi(z), without cancellation in the left tail.

    With a = |z| and the Mills ratio m(a) = Phi(-a) / phi(a) = sqrt(pi/2) erfcx(a / sqrt 2):
    g = z (1 - phi m) + phi for z >= 0 and g = phi (1 - a m) for z < 0, whose bracket cancels
    for large a and is replaced there by m r(a) (continued fraction). Sharing the factor phi keeps
    its rounding (relative a^2 eps, the function's own condition number) from being amplified.
    """
    x, w = torch.broadcast_tensors(x, w)
    z = x / w
    a = z.abs()
    phi = torch.exp(-0.5 * a * a) * _INV_SQRT_2PI
    m = torch.special.erfcx(a * _INV_SQRT_2) * _SQRT_HALF_PI
    out = torch.where(z >= 0, x * (1 - phi * m) + w * phi, w * phi * (1 - a * m))
    threshold, terms = _TAIL.get(z.dtype, _TAIL_DEFAULT)
    tail = z < threshold
    if bool(tail.any()):
        u = a[tail]
        t = 0.5 * (u + torch.sqrt(u * u + 4 * (terms + 1)))  # fixed point of t = u + (K+1)/t
        for k in range(terms, 1, -1):  # r(u) = 1 / (u + 2 / (u + 3 / (u + ...)))
            t = u + k / t
        out = out.masked_scatter(tail, w[tail] * phi[tail] * m[tail] / t)
    return out


def _sum_to(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Reduce a broadcast gradient back to ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(0)
    for i, s in enumerate(shape):
        if s == 1 and grad.shape[i] != 1:
            grad = grad.sum(i, keepdim=True)
    return grad


class _GaussReLU(torch.autograd.Function):
    """Gaussian-smoothed ReLU with exact gradients Phi(z) (x) and phi(z) (width)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        return _gauss_relu_value(x, w)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        x, w = ctx.saved_tensors
        z = x / w
        gx = _sum_to(g * _ndtr(z), x.shape) if ctx.needs_input_grad[0] else None
        gw = _sum_to(g * _normal_pdf(z), w.shape) if ctx.needs_input_grad[1] else None
        return gx, gw


def _relu(x: torch.Tensor, w: torch.Tensor, kernel: str) -> torch.Tensor:
    if kernel == "gaussian":
        out: torch.Tensor = _GaussReLU.apply(x, w)
        return out
    return w * torch.logaddexp(x / w, torch.zeros((), dtype=x.dtype, device=x.device))


def _step(x: torch.Tensor, w: torch.Tensor, kernel: str) -> torch.Tensor:
    return _ndtr(x / w) if kernel == "gaussian" else torch.sigmoid(x / w)


def smooth_step(
    x: torch.Tensor, width: Width = 1.0, *, kernel: Kernel = "gaussian"
) -> torch.Tensor:
    r"""Smoothed Heaviside step :math:`\theta*\varphi_w`: :math:`\Phi(x/w)` or :math:`\mathrm{sigmoid}(x/w)`.

    Args:
        x: input (any shape; half inputs compute in float32).
        width: kernel width :math:`w>0` (Gaussian :math:`\sigma`, logistic :math:`1/t`); a float or
            a tensor broadcastable to ``x``.
        kernel: ``"gaussian"`` or ``"logistic"``.

    Returns:
        a tensor like ``x`` in :math:`(0,1)`.

    Raises:
        TypeError: non-floating ``x``/``width``. ValueError: ``width <= 0``, non-finite or
        non-broadcastable ``width``, unknown ``kernel``.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718 ;
        Biswas et al., "SAU: Smooth activation function using convolution with approximate
        identities", arXiv:2109.13210.

    Example:
        >>> smooth_step(torch.tensor([0.0]), 0.5)
        tensor([0.5000])
    """
    t, w = _prep(x, width, kernel)
    return _step(t, w, kernel).to(x.dtype)


def smooth_sign(
    x: torch.Tensor, width: Width = 1.0, *, kernel: Kernel = "gaussian"
) -> torch.Tensor:
    r"""Smoothed sign :math:`2\theta_w-1`: :math:`\mathrm{erf}(x/(\sqrt2w))` or :math:`\tanh(x/(2w))`.

    Args:
        x: input. width: kernel width :math:`w>0`. kernel: ``"gaussian"`` or ``"logistic"``.

    Returns:
        a tensor like ``x`` in :math:`(-1,1)`.

    Raises:
        TypeError: non-floating ``x``. ValueError: bad ``width`` or ``kernel``.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718 ;
        Biswas et al., "SAU: Smooth activation function using convolution with approximate
        identities", arXiv:2109.13210.

    Example:
        >>> smooth_sign(torch.tensor([-30.0, 0.0, 30.0]), 1.0)
        tensor([-1.,  0.,  1.])
    """
    t, w = _prep(x, width, kernel)
    out = torch.erf(t / (math.sqrt(2.0) * w)) if kernel == "gaussian" else torch.tanh(t / (2 * w))
    return out.to(x.dtype)


def smooth_relu(
    x: torch.Tensor, width: Width = 1.0, *, kernel: Kernel = "gaussian"
) -> torch.Tensor:
    r"""Smoothed ReLU, the true convolution :math:`\mathrm{ReLU}*\varphi_w`.

    Gaussian: :math:`x\Phi(x/\sigma)+\sigma\phi(x/\sigma)
    =\tfrac12\big[x+x\,\mathrm{erf}(x/\sqrt2\sigma)+\sqrt{2/\pi}\,\sigma e^{-x^2/2\sigma^2}\big]`,
    with :math:`\sup|\mathrm{ReLU}_\sigma-\mathrm{ReLU}|=\sigma/\sqrt{2\pi}` (at 0). Note that
    GELU :math:`x\Phi(x)` smooths only the step in :math:`x\theta(x)` and is a different function.
    Logistic: :math:`w\log(1+e^{x/w})` (SoftPlus at :math:`w=1`).

    Args:
        x: input. width: kernel width :math:`w>0` (may be a learnable tensor).
        kernel: ``"gaussian"`` or ``"logistic"``.

    Returns:
        a tensor like ``x``, :math:`\ge\max(x,0)`.

    Raises:
        TypeError: non-floating ``x``. ValueError: bad ``width`` or ``kernel``.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718 ;
        Biswas et al., "SAU: Smooth activation function using convolution with approximate
        identities", arXiv:2109.13210.

    Example:
        >>> smooth_relu(torch.tensor([-5.0, 0.0, 5.0], dtype=torch.float64), 1.0)
        tensor([5.3462e-08, 3.9894e-01, 5.0000e+00], dtype=torch.float64)
    """
    t, w = _prep(x, width, kernel)
    return _relu(t, w, kernel).to(x.dtype)


def smooth_leaky_relu(
    x: torch.Tensor,
    width: Width = 1.0,
    negative_slope: float = 0.01,
    *,
    kernel: Kernel = "gaussian",
) -> torch.Tensor:
    r"""Smoothed leaky ReLU (SAU): :math:`\alpha x+(1-\alpha)\,\mathrm{ReLU}_w(x)`.

    Gaussian: :math:`\frac{1+\alpha}2x+\frac{1-\alpha}2x\,\mathrm{erf}(x/\sqrt2\sigma)
    +(1-\alpha)\frac{\sigma}{\sqrt{2\pi}}e^{-x^2/2\sigma^2}`.

    Args:
        x: input. width: kernel width :math:`w>0`. negative_slope: :math:`\alpha`.
        kernel: ``"gaussian"`` or ``"logistic"``.

    Returns:
        a tensor like ``x``.

    Raises:
        TypeError: non-floating ``x``, non-real ``negative_slope``. ValueError: bad ``width``.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718 ;
        Biswas et al., "SAU: Smooth activation function using convolution with approximate
        identities", arXiv:2109.13210.

    Example:
        >>> smooth_leaky_relu(torch.tensor([-100.0, 100.0]), 1.0, 0.1)
        tensor([-10., 100.])
    """
    t, w = _prep(x, width, kernel)
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, int | float):
        raise TypeError(
            f"negative_slope must be a real number, got {type(negative_slope).__name__}"
        )
    a = float(negative_slope)
    return (a * t + (1 - a) * _relu(t, w, kernel)).to(x.dtype)


def smooth_abs(x: torch.Tensor, width: Width = 1.0, *, kernel: Kernel = "gaussian") -> torch.Tensor:
    r"""Smoothed :math:`|x|=\mathrm{ReLU}(x)+\mathrm{ReLU}(-x)` (both terms positive: no cancellation).

    Gaussian: :math:`x\,\mathrm{erf}(x/\sqrt2\sigma)+\sqrt{2/\pi}\,\sigma e^{-x^2/2\sigma^2}`, with
    :math:`\sup|\,|x|_\sigma-|x|\,|=\sigma\sqrt{2/\pi}`.

    Args:
        x: input. width: kernel width :math:`w>0`. kernel: ``"gaussian"`` or ``"logistic"``.

    Returns:
        a tensor like ``x``.

    Raises:
        TypeError: non-floating ``x``. ValueError: bad ``width`` or ``kernel``.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718 ;
        Biswas et al., "SAU: Smooth activation function using convolution with approximate
        identities", arXiv:2109.13210.

    Example:
        >>> smooth_abs(torch.tensor([-3.0, 3.0]), 0.01)
        tensor([3., 3.])
    """
    t, w = _prep(x, width, kernel)
    return (_relu(t, w, kernel) + _relu(-t, w, kernel)).to(x.dtype)


def smooth_max(
    a: torch.Tensor, b: torch.Tensor, width: Width = 1.0, *, kernel: Kernel = "gaussian"
) -> torch.Tensor:
    r"""Smoothed :math:`\max(a,b)=b+\mathrm{ReLU}(a-b)`, smoothing along :math:`d=a-b`.

    Gaussian: :math:`a\Phi(d/\sigma)+b\Phi(-d/\sigma)+\sigma\phi(d/\sigma)`, which is Clark's
    :math:`\mathbb E\max(a+\varepsilon_1,b+\varepsilon_2)` with
    :math:`\varepsilon_i\sim\mathcal N(0,\sigma^2/2)`; computed as :math:`(a+b+|d|_\sigma)/2`.
    Logistic: :math:`w\log(e^{a/w}+e^{b/w})` (log-sum-exp).

    Args:
        a, b: inputs of broadcastable shapes and the same floating dtype.
        width: kernel width :math:`w>0`. kernel: ``"gaussian"`` or ``"logistic"``.

    Returns:
        the broadcast shape of ``a`` and ``b``; :math:`\ge\max(a,b)`.

    Raises:
        TypeError: non-floating ``a``/``b`` or differing dtypes. ValueError: bad ``width``,
        non-broadcastable shapes.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718 ;
        Biswas et al., "SAU: Smooth activation function using convolution with approximate
        identities", arXiv:2109.13210.

    Example:
        >>> smooth_max(torch.tensor([0.0]), torch.tensor([0.0]), 1.0)
        tensor([0.3989])
    """
    ta, w = _prep(a, width, kernel, "a")
    tb = check_floating(b, "b")
    if tb.dtype != a.dtype:
        raise TypeError(f"b must have a's dtype {a.dtype}, got {tb.dtype}")
    try:
        torch.broadcast_shapes(ta.shape, tb.shape)
    except RuntimeError as err:
        raise ValueError(
            f"b of shape {tuple(tb.shape)} does not broadcast with a {tuple(ta.shape)}"
        ) from err
    tb = tb.to(ta.dtype)
    if kernel == "logistic":
        return (w * torch.logaddexp(ta / w, tb / w)).to(a.dtype)
    d = ta - tb
    return (0.5 * (ta + tb + _relu(d, w, kernel) + _relu(-d, w, kernel))).to(a.dtype)


def smooth_min(
    a: torch.Tensor, b: torch.Tensor, width: Width = 1.0, *, kernel: Kernel = "gaussian"
) -> torch.Tensor:
    r"""Smoothed :math:`\min(a,b)=-\max(-a,-b)` (see :func:`smooth_max`).

    Args:
        a, b: inputs. width: kernel width :math:`w>0`. kernel: ``"gaussian"`` or ``"logistic"``.

    Returns:
        the broadcast shape of ``a`` and ``b``; :math:`\le\min(a,b)`.

    Raises:
        TypeError: non-floating ``a``/``b``. ValueError: bad ``width``.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718 ;
        Biswas et al., "SAU: Smooth activation function using convolution with approximate
        identities", arXiv:2109.13210.

    Example:
        >>> smooth_min(torch.tensor([0.0]), torch.tensor([0.0]), 1.0)
        tensor([-0.3989])
    """
    for name, v in (("a", a), ("b", b)):
        check_floating(v, name)
    return -smooth_max(-a, -b, width, kernel=kernel)


def smooth_clip(
    x: torch.Tensor,
    low: float,
    high: float,
    width: Width = 1.0,
    *,
    kernel: Kernel = "gaussian",
) -> torch.Tensor:
    r"""Smoothed :math:`\mathrm{clip}(x,l,h)=l+\mathrm{ReLU}(x-l)-\mathrm{ReLU}(x-h)`.

    Evaluated as :math:`l+\mathrm{ReLU}_w(x-l)-\mathrm{ReLU}_w(x-h)` below the midpoint and as the
    equal :math:`h-\mathrm{ReLU}_w(h-x)+\mathrm{ReLU}_w(l-x)` above it, so neither tail cancels.

    Args:
        x: input. low, high: the clip range, ``low < high``.
        width: kernel width :math:`w>0`. kernel: ``"gaussian"`` or ``"logistic"``.

    Returns:
        a tensor like ``x`` in :math:`(l,h)`.

    Raises:
        TypeError: non-floating ``x``, non-real bounds. ValueError: ``low >= high``, bad ``width``.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718 ;
        Biswas et al., "SAU: Smooth activation function using convolution with approximate
        identities", arXiv:2109.13210.

    Example:
        >>> smooth_clip(torch.tensor([-9.0, 0.5, 9.0]), 0.0, 1.0, 0.1)
        tensor([0.0000, 0.5000, 1.0000])
    """
    t, w = _prep(x, width, kernel)
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise TypeError(f"{name} must be a finite real number, got {v!r}")
    if not low < high:
        raise ValueError(f"low must be < high, got low={low}, high={high}")
    lo, hi = float(low), float(high)
    below = lo + _relu(t - lo, w, kernel) - _relu(t - hi, w, kernel)
    above = hi - _relu(hi - t, w, kernel) + _relu(lo - t, w, kernel)
    return torch.where(t < 0.5 * (lo + hi), below, above).to(x.dtype)


def smooth_floor(
    x: torch.Tensor,
    width: Width = 0.1,
    *,
    low: int = -10,
    high: int = 10,
    kernel: Kernel = "gaussian",
) -> torch.Tensor:
    r"""Smoothed floor :math:`\lfloor x\rfloor\approx(l-1)+\sum_{k=l}^{h}\theta_w(x-k)`.

    The article's form :math:`\sum_{n=-M}^{0}[\theta_w(x-n)-1]+\sum_{n=1}^{N}\theta_w(x-n)` with
    :math:`l=-M`, :math:`h=N`; accurate for :math:`l-1\ll x\ll h+1`. At distance :math:`\delta` from
    the integers the logistic error is at most :math:`2e^{-\delta/w}/(1-e^{-1/w})`.

    Args:
        x: input. width: kernel width :math:`w>0`.
        low, high: first and last integer where the floor jumps (``low <= high``).
        kernel: ``"gaussian"`` or ``"logistic"``.

    Returns:
        a tensor like ``x``.

    Raises:
        TypeError: non-floating ``x``, non-int bounds. ValueError: ``low > high``, bad ``width``.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718 ;
        Biswas et al., "SAU: Smooth activation function using convolution with approximate
        identities", arXiv:2109.13210.

    Example:
        >>> smooth_floor(torch.tensor([2.5, -1.5]), 0.05, low=-5, high=5)
        tensor([ 2., -2.])
    """
    t, w = _prep(x, width, kernel)
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if low > high:
        raise ValueError(f"low must be <= high, got low={low}, high={high}")
    ks = torch.arange(low, high + 1, dtype=t.dtype, device=t.device)  # (K,)
    steps = _step(t.unsqueeze(-1) - ks, w.unsqueeze(-1) if w.ndim else w, kernel)  # (*x, K)
    return ((low - 1) + steps.sum(-1)).to(x.dtype)


class SmoothReLU(nn.Module):
    r"""Activation module for :func:`smooth_relu` with a fixed or learnable width.

    Args:
        width: initial kernel width :math:`w>0`.
        kernel: ``"gaussian"`` or ``"logistic"``.
        learnable: learn :math:`\log w` as a parameter.

    Shape:
        any; the output has the input's shape.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718

    Example:
        >>> SmoothReLU(0.5)(torch.tensor([0.0, 10.0]))
        tensor([ 0.1995, 10.0000])
    """

    def __init__(
        self, width: float = 1.0, *, kernel: Kernel = "gaussian", learnable: bool = False
    ) -> None:
        super().__init__()
        check_positive(width, "width")
        if kernel not in ("gaussian", "logistic"):
            raise ValueError(f"kernel must be 'gaussian' or 'logistic', got {kernel!r}")
        self.kernel: Kernel = kernel
        self.log_width = nn.Parameter(torch.tensor(math.log(width)), requires_grad=learnable)
        self._width = float(width)

    @property
    def width(self) -> torch.Tensor | float:
        """The current width (a tensor when learnable)."""
        return self.log_width.exp() if self.log_width.requires_grad else self._width

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return smooth_relu(input, self.width, kernel=self.kernel)

    def extra_repr(self) -> str:
        return f"width={float(self.log_width.exp()):.4g}, kernel={self.kernel!r}"


class SmoothLeakyReLU(SmoothReLU):
    r"""Activation module for :func:`smooth_leaky_relu` (SAU), fixed or learnable width.

    Args:
        width: initial kernel width :math:`w>0`. negative_slope: :math:`\alpha`.
        kernel: ``"gaussian"`` or ``"logistic"``. learnable: learn :math:`\log w`.

    Reference:
        Su Jianlin, "用狄拉克函数来构造非光滑函数的光滑近似", https://kexue.fm/archives/8718

    Example:
        >>> SmoothLeakyReLU(1.0, 0.1)(torch.tensor([-100.0]))
        tensor([-10.])
    """

    def __init__(
        self,
        width: float = 1.0,
        negative_slope: float = 0.01,
        *,
        kernel: Kernel = "gaussian",
        learnable: bool = False,
    ) -> None:
        super().__init__(width, kernel=kernel, learnable=learnable)
        self.negative_slope = float(negative_slope)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return smooth_leaky_relu(input, self.width, self.negative_slope, kernel=self.kernel)
