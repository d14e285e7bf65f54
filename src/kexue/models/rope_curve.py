"""The skipping-rope (troposkein) curve: the shape of a rope spinning steadily about an axis.

A uniform rope (unit density) of length ``L`` held by two hands at distance ``d`` on the rotation
axis spins at angular speed ω. Without gravity the shape has a closed form in Jacobi elliptic
functions (:func:`troposkein`); with gravity (the jump rope at the bottom of its swing) it is solved
numerically as a boundary-value problem (:func:`rope_bvp`, the free constant H fixed by the length),
which also reduces to the catenary at ω → 0 (:func:`catenary`), and cross-checked against the same
elliptic form about an axis shifted by g/ω² (``troposkein(..., axis_offset=g / ω**2)``). :func:`spinning_rope` integrates the article's other set-up, a rope hanging
from a vertical spinning pole, with the article's snippet corrected.

Corrections to the article (kexue.fm/archives/6784), derived and checked for this project:

- g = 0: the article's first integral ``½ω²x² dy/ds = C₁`` drops the rope-length Lagrange multiplier
  (an additive constant in the tension, removable only when g ≠ 0). The correct tension is
  ``T(r) = ½ω²(R² + k² − r²)`` and the shape ``r(a) = R sn(a b / k² | m)`` below; ω drops out of the
  shape and only scales the tension (∝ ω²).
- The article's scipy snippet assigns the first integral ``G = (−gs + C₁)/φ`` to dx/ds; it belongs to
  dy/ds (``dy/ds = G``, ``dx/ds = √(1 − G²)``). The snippet's curve violates both Euler–Lagrange
  equations; the corrected one satisfies them.
- The ω = 0 catenary is ``y = a cosh((x − b)/a)`` (the article prints ``a cosh(x − b)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kexue._optional import requires

with requires("ref"):
    from scipy.integrate import solve_bvp, solve_ivp
    from scipy.optimize import brentq, least_squares
    from scipy.special import ellipe, ellipeinc, ellipj, ellipk, ellipkinc

from kexue._validate import check_finite, check_floating, check_positive

__all__ = [
    "RopeShape",
    "Troposkein",
    "catenary",
    "euler_lagrange_residuals",
    "rope_bvp",
    "spinning_rope",
    "troposkein",
]

_REF = "你跳绳的时候，想过绳子的形状曲线是怎样的吗？ https://kexue.fm/archives/6784"
_M_LO, _M_HI = 1e-14, 1.0 - 1e-14  # brentq bracket: m = 1 makes K infinite


def _span_length(span: float, length: float) -> tuple[float, float]:
    d = check_positive(span, "span")
    ell = check_positive(length, "length")
    if ell <= d:
        raise ValueError(
            f"length L = {ell} must exceed span d = {d}: a rope no longer than the distance "
            "between the hands cannot bulge"
        )
    return d, ell


def _eval_points(axial: torch.Tensor) -> np.ndarray:
    check_floating(axial, "axial")
    check_finite(axial, "axial")
    return axial.detach().cpu().double().numpy()


@dataclass(frozen=True)
class Troposkein:
    """The rope curve ``r(a) = R sn(u₀ + a b / k² | m) − r₀``, ``0 ≤ a ≤ d`` (ends on the axis).

    ``r₀ = g/ω²`` is the distance from the hands' axis to the effective axis (0 without gravity,
    when ``u₀ = 0`` too); radii are measured from the hands' axis.

    Attributes:
        span: the distance ``d`` between the hands.
        length: the rope length ``L``.
        m: the elliptic parameter (scipy's convention, ``K(m) = ellipk(m)``), ``m = R² / b²``.
        max_radius: ``R``, the radius at mid-span.
        k: the tension constant: the axial tension component is ``H = ½ω²k²``.
        axis_offset: ``r₀`` (``R`` is measured from the effective axis).
        u0: the elliptic argument at the hands, ``F(arcsin(r₀/R) | m)``.

    Reference:
        Su Jianlin, 你跳绳的时候，想过绳子的形状曲线是怎样的吗？ https://kexue.fm/archives/6784
    """

    span: float
    length: float
    m: float
    max_radius: float
    k: float
    axis_offset: float = 0.0
    u0: float = 0.0

    @property
    def b(self) -> float:
        """``b = √(R² + 2k²)``."""
        return math.sqrt(self.max_radius**2 + 2 * self.k**2)

    def radius(self, axial: torch.Tensor) -> torch.Tensor:
        """The radius ``R sn(u₀ + a b/k² | m) − r₀`` at axial positions ``a`` (from a hand).

        Args:
            axial: floating tensor of positions in ``[0, d]`` (any shape).

        Returns:
            Tensor of radii, same shape, dtype and device as ``axial``.
        """
        a = _eval_points(axial)
        sn, _, _, _ = ellipj(self.u0 + a * self.b / self.k**2, self.m)
        r = self.max_radius * sn - self.axis_offset
        return torch.as_tensor(r, dtype=axial.dtype, device=axial.device)

    def tension(self, radius: torch.Tensor, omega: float) -> torch.Tensor:
        """Tension ``T = ½ω²(R² + k² − (r + r₀)²)`` at radius ``r`` from the hands' axis."""
        check_floating(radius, "radius")
        w = check_positive(omega, "omega", allow_zero=True)
        return 0.5 * w**2 * (self.max_radius**2 + self.k**2 - (radius + self.axis_offset) ** 2)

    def axial_tension(self, omega: float) -> float:
        """The constant axial component of the tension, ``H = ½ω²k²``."""
        return 0.5 * check_positive(omega, "omega", allow_zero=True) ** 2 * self.k**2


def troposkein(span: float, length: float, axis_offset: float = 0.0) -> Troposkein:
    r"""Closed-form shape of a rope spinning without gravity between hands on the rotation axis.

    With ``b² = R² + 2k²`` and ``m = R²/b²`` the half span and half length are
    ``d/2 = (k²/b) K(m)`` and ``L/2 = b E(m) − (k²/b) K(m)``, so ``m`` solves the monotone equation

    .. math:: \frac{L + d}{d} = \frac{2E(m)}{(1-m)K(m)},

    and then ``b = d / ((1 − m)K(m))``, ``R = b√m``, ``k² = b²(1 − m)/2``. This corrects the
    article's g = 0 form (see the module docstring).

    With gravity (a jump rope at the bottom of its swing) the article's substitution shifts the
    axis: the hands sit at ``r₀ = g/ω²`` from an effective axis, the same ODE is integrated from
    ``r₀``, and the span and length conditions
    ``d/2 = (k²/b)(K(m) − u₀)``, ``L/2 = b(E(m) − E(φ₀|m)) − (k²/b)(K(m) − u₀)`` with
    ``φ₀ = arcsin(r₀/R)``, ``u₀ = F(φ₀|m)`` are solved for ``(m, R)`` by least squares, started
    from the ``r₀ = 0`` solution. Cross-checked against :func:`rope_bvp`; near the catenary
    (``r₀ ≫ d``, ``m → 1``) the solve degenerates (a ``ValueError``): use :func:`rope_bvp` there.

    Args:
        span: distance ``d > 0`` between the hands.
        length: rope length ``L > d``.
        axis_offset: ``r₀ = g/ω² ≥ 0`` (0: no gravity).

    Returns:
        The :class:`Troposkein` (evaluate it with :meth:`Troposkein.radius`).

    Raises:
        ValueError: when ``length <= span`` or either is not positive.

    Reference:
        Su Jianlin, 你跳绳的时候，想过绳子的形状曲线是怎样的吗？ https://kexue.fm/archives/6784

    Example:
        >>> round(troposkein(1.0, 2.0).max_radius, 4)
        0.8114
    """
    d, ell = _span_length(span, length)
    target = (ell + d) / d

    def gap(m: float) -> float:
        return 2 * ellipe(m) / ((1 - m) * ellipk(m)) - target

    m = brentq(gap, _M_LO, _M_HI, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    b = d / ((1 - m) * ellipk(m))
    flat = Troposkein(d, ell, float(m), float(b * math.sqrt(m)), float(b * math.sqrt((1 - m) / 2)))
    r0 = check_positive(axis_offset, "axis_offset", allow_zero=True)
    return flat if r0 == 0.0 else _offset_troposkein(flat, r0)


def _offset_constants(p: np.ndarray, r0: float) -> tuple[float, float, float, float, float]:
    m = 1.0 / (1.0 + math.exp(-p[0]))  # m in (0, 1) and R > r0 by construction
    radius = r0 + math.exp(p[1])
    b = radius / math.sqrt(m)
    phi0 = math.asin(r0 / radius)
    return m, radius, b, b * b * (1 - m) / 2, phi0


def _offset_troposkein(flat: Troposkein, r0: float) -> Troposkein:
    d, ell = flat.span, flat.length

    def eqs(p: np.ndarray) -> list[float]:
        m, _, b, k2, phi0 = _offset_constants(p, r0)
        u0, big_k = ellipkinc(phi0, m), ellipk(m)
        half = (k2 / b) * (big_k - u0)
        return [half / d - 0.5, (b * (ellipe(m) - ellipeinc(phi0, m)) - half) / d - ell / (2 * d)]

    start = np.array([math.log(flat.m / (1 - flat.m)), math.log(flat.max_radius)])
    sol = least_squares(eqs, start, xtol=1e-15, ftol=1e-15, gtol=1e-15)
    if not sol.success or np.abs(sol.fun).max() > 1e-10:
        raise ValueError(f"no rope shape found for axis_offset = {r0} (residual {sol.fun})")
    m, radius, _, k2, phi0 = _offset_constants(sol.x, r0)
    return Troposkein(d, ell, m, radius, math.sqrt(k2), r0, float(ellipkinc(phi0, m)))


@dataclass(frozen=True)
class RopeShape:
    """A rope curve from :func:`rope_bvp` or :func:`catenary`: displacement ``y(x)`` from the axis.

    Attributes:
        span, length: the distance between the hands and the rope length.
        omega, gravity: angular speed and gravitational acceleration.
        axial_tension: the constant axial component ``H`` of the tension.
        x, y: the solver's mesh and the displacement there (float64 numpy arrays).
        interpolant: callable ``x -> y(x)`` on ``[0, d]`` (``None``: use :meth:`displacement`).

    Reference:
        Su Jianlin, 你跳绳的时候，想过绳子的形状曲线是怎样的吗？ https://kexue.fm/archives/6784
    """

    span: float
    length: float
    omega: float
    gravity: float
    axial_tension: float
    x: np.ndarray
    y: np.ndarray
    interpolant: Any = None

    def displacement(self, axial: torch.Tensor) -> torch.Tensor:
        """The displacement ``y`` at axial positions ``axial`` in ``[0, d]`` (dtype follows input)."""
        a = _eval_points(axial)
        y = self.interpolant(a) if self.interpolant is not None else np.interp(a, self.x, self.y)
        return torch.as_tensor(y, dtype=axial.dtype, device=axial.device)


def catenary(span: float, length: float, gravity: float = 1.0) -> RopeShape:
    """The ω = 0 rope: the catenary ``y = a(cosh(d/2a) − cosh((x − d/2)/a))`` through both hands.

    ``a`` solves ``L = 2a sinh(d/2a)``; ``y`` is the sag (downwards) and ``H = g a``.

    Reference:
        Su Jianlin, 你跳绳的时候，想过绳子的形状曲线是怎样的吗？ https://kexue.fm/archives/6784
    """
    d, ell = _span_length(span, length)
    g = check_positive(gravity, "gravity")
    # t = d / (2a) solves sinh(t)/t = L/d; bracket: sinh(t)/t >= 1 + t²/6 and <= e^t / (2t)
    t = brentq(
        lambda t: math.sinh(t) / t - ell / d, 1e-12, 2 * math.log(4 * ell / d) + 2, xtol=1e-15
    )
    a = d / (2 * t)

    def y(x: Any) -> Any:
        return a * (math.cosh(t) - np.cosh((np.asarray(x) - d / 2) / a))

    x = np.linspace(0.0, d, 201)
    return RopeShape(d, ell, 0.0, g, g * a, x, y(x), y)


def rope_bvp(
    span: float,
    length: float,
    omega: float,
    gravity: float = 0.0,
    *,
    tol: float = 1e-10,
    nodes: int = 201,
) -> RopeShape:
    r"""A spinning rope with gravity (jump rope at the bottom of its swing) by ``solve_bvp``.

    The rope is the graph ``y(x)`` of its displacement from the rotation axis, pulled by gravity and
    the centrifugal force, both along ``+y``. The axial tension ``H`` is constant and

    .. math:: H y'' = -(g + \omega^2 y)\sqrt{1 + y'^2},\qquad y(0) = y(d) = 0,
        \qquad \int_0^d \sqrt{1 + y'^2}\,dx = L,

    with ``H`` the free constant fixed by the length. Solved in units of ``d`` with the arc length as
    a third state. At g = 0 this is the troposkein (:func:`troposkein`), at ω = 0 the catenary.
    With a horizontal axis gravity turns in the rope's frame, so this is the quasi-static snapshot
    at the bottom position (the article's reading), not a true steady state.

    Args:
        span: distance ``d > 0`` between the hands.
        length: rope length ``L > d``.
        omega: angular speed ``≥ 0``.
        gravity: gravitational acceleration ``≥ 0`` (not both zero with ``omega``).
        tol: ``solve_bvp``'s residual tolerance.
        nodes: initial mesh size.

    Returns:
        The :class:`RopeShape` with ``H``, the mesh and an interpolant.

    Raises:
        ValueError: on ``length <= span``, both ``omega`` and ``gravity`` zero, or no convergence.

    Reference:
        Su Jianlin, 你跳绳的时候，想过绳子的形状曲线是怎样的吗？ https://kexue.fm/archives/6784
    """
    d, ell = _span_length(span, length)
    w = check_positive(omega, "omega", allow_zero=True)
    g = check_positive(gravity, "gravity", allow_zero=True)
    scale = g * d + w**2 * d**2  # H = q * scale, q dimensionless
    if scale == 0.0:
        raise ValueError("omega and gravity are both 0: the shape is undetermined")
    alpha = w**2 * d / (g + w**2 * d)  # share of the centrifugal force, in [0, 1]
    lam = ell / d

    def fun(x: np.ndarray, z: np.ndarray, p: np.ndarray) -> np.ndarray:
        root = np.sqrt(1 + z[1] ** 2)
        return np.vstack([z[1], -(1 - alpha + alpha * z[0]) * root / p[0], root])

    def bc(z0: np.ndarray, z1: np.ndarray, p: np.ndarray) -> np.ndarray:
        return np.array([z0[0], z1[0], z0[2], z1[2] - lam])

    # start from a sine arch of the right length
    x = np.linspace(0.0, 1.0, nodes)

    def arch_length(h: float) -> float:
        return float(np.trapezoid(np.sqrt(1 + (np.pi * h * np.cos(np.pi * x)) ** 2), x))

    h = brentq(lambda h: arch_length(h) - lam, 0.0, lam)
    slope = np.pi * h * np.cos(np.pi * x)
    arc = np.concatenate([[0.0], np.cumsum(np.diff(x) * np.sqrt(1 + slope**2)[1:])])
    z = np.vstack([h * np.sin(np.pi * x), slope, arc * lam / arc[-1]])
    q0 = (1 - alpha + alpha * h) * math.sqrt(1 + (np.pi * h) ** 2) / (np.pi**2 * h)
    sol = solve_bvp(fun, bc, x, z, p=[q0], tol=tol, max_nodes=200_000)
    if not sol.success:
        raise ValueError(f"solve_bvp did not converge: {sol.message}")

    def y(xs: Any) -> Any:
        return d * sol.sol(np.asarray(xs) / d)[0]

    return RopeShape(d, ell, w, g, float(sol.p[0]) * scale, d * sol.x, d * sol.y[0], y)


def spinning_rope(
    omega: float,
    gravity: float,
    c1: float,
    start: tuple[float, float] = (1.0, 0.0),
    s_max: float = 0.5,
    points: int = 501,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The rope on a vertical spinning pole (Li Yongle's problem), integrated in arc length ``s``.

    With ``φ = ½ω²x² − gy`` (x = distance from the axis, y = height) the first integral of the
    Euler–Lagrange equations gives ``φ dy/ds = −gs + C₁``, hence (corrected right-hand side; the
    article's snippet swaps the two components)

    .. math:: \frac{dy}{ds} = G,\qquad \frac{dx}{ds} = \sqrt{1 - G^2},\qquad G = \frac{-gs + C_1}{φ}.

    Args:
        omega, gravity: angular speed and gravity (``φ`` must stay positive along the curve).
        c1: the integration constant ``C₁``.
        start: ``(x₀, y₀)`` at ``s = 0``.
        s_max: arc length to integrate to.
        points: output samples.

    Returns:
        ``(s, x, y)``, float64 tensors of length ``points``.

    Raises:
        ValueError: when ``|G|`` reaches 1 (the branch of dx/ds would flip) before ``s_max``.

    Reference:
        Su Jianlin, 你跳绳的时候，想过绳子的形状曲线是怎样的吗？ https://kexue.fm/archives/6784
    """
    w = check_positive(omega, "omega")
    g = check_positive(gravity, "gravity", allow_zero=True)
    s_end = check_positive(s_max, "s_max")

    def rhs(s: float, z: np.ndarray) -> np.ndarray:
        G = (-g * s + c1) / (0.5 * w**2 * z[0] ** 2 - g * z[1])
        return np.array([math.sqrt(max(1.0 - G * G, 0.0)), G])

    def turning(s: float, z: np.ndarray) -> float:
        return 1.0 - abs((-g * s + c1) / (0.5 * w**2 * z[0] ** 2 - g * z[1]))

    if turning(0.0, np.asarray(start, dtype=float)) < 0:
        raise ValueError(f"c1 = {c1} gives |dy/ds| > 1 at the start {start}")
    turning.terminal = True  # type: ignore[attr-defined]
    grid = np.linspace(0.0, s_end, points)
    sol = solve_ivp(rhs, (0.0, s_end), list(start), t_eval=grid, events=turning,
                    method="DOP853", rtol=1e-12, atol=1e-12)  # fmt: skip
    if sol.status == 1:
        raise ValueError(f"|dy/ds| reaches 1 at s = {sol.t_events[0][0]:.4g} < s_max = {s_end}")
    return tuple(torch.from_numpy(v.copy()) for v in (grid, sol.y[0], sol.y[1]))  # type: ignore[return-value]


def euler_lagrange_residuals(
    s: torch.Tensor, x: torch.Tensor, y: torch.Tensor, omega: float, gravity: float
) -> tuple[float, float]:
    r"""Max residuals of ``d/ds(φ x') − ω²x = 0`` and ``d/ds(φ y') + g = 0`` by finite differences.

    ``φ = ½ω²x² − gy``; derivatives by second-order central differences on the sample grid ``s``
    (interior points only). A curve from :func:`spinning_rope` gives residuals at the
    finite-difference error level; the article's snippet gives residuals of order one.

    Reference:
        Su Jianlin, 你跳绳的时候，想过绳子的形状曲线是怎样的吗？ https://kexue.fm/archives/6784
    """
    sv, xv, yv = (
        check_floating(t, n).detach().double().numpy() for t, n in ((s, "s"), (x, "x"), (y, "y"))
    )
    phi = 0.5 * omega**2 * xv**2 - gravity * yv
    dx, dy = np.gradient(xv, sv), np.gradient(yv, sv)
    r1 = np.gradient(phi * dx, sv) - omega**2 * xv
    r2 = np.gradient(phi * dy, sv) + gravity
    inner = slice(2, -2)
    return float(np.abs(r1[inner]).max()), float(np.abs(r2[inner]).max())
