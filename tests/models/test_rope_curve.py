"""Tests for the skipping-rope (troposkein) curve (kexue.fm/archives/6784)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad, solve_ivp
from scipy.special import ellipj

from kexue.models.rope_curve import (
    catenary,
    euler_lagrange_residuals,
    rope_bvp,
    spinning_rope,
    troposkein,
)

F64 = torch.float64
# (L/d, m, R/d) measured for the spec from the closed form
TABLE = [(1.01, 0.00991, 0.0639), (1.2, 0.1700, 0.3020), (1.5, 0.3455, 0.5157),
         (2.0, 0.5242, 0.8114), (3.0, 0.7013, 1.3498)]  # fmt: skip


@pytest.mark.parametrize(("ratio", "m", "radius"), TABLE)
def test_closed_form_table_ends_length(ratio: float, m: float, radius: float) -> None:
    d = 2.0
    t = troposkein(d, ratio * d)
    assert t.m == pytest.approx(m, abs=1e-4)
    assert t.max_radius / d == pytest.approx(radius, abs=1e-4)
    ends = t.radius(torch.tensor([0.0, d], dtype=F64))
    assert ends.abs().max() < 1e-9
    assert float(t.radius(torch.tensor(d / 2, dtype=F64))) == pytest.approx(t.max_radius, rel=1e-12)

    def dl(a: float) -> float:
        _, cn, dn, _ = ellipj(a * t.b / t.k**2, t.m)
        return math.sqrt(1 + (t.max_radius * cn * dn * t.b / t.k**2) ** 2)

    arc = quad(dl, 0.0, d, epsabs=1e-13, epsrel=1e-13, limit=200)[0]
    assert arc == pytest.approx(ratio * d, rel=1e-6)


@pytest.mark.parametrize("omega", [1.0, 3.0, 10.0])
def test_normal_force_balance(omega: float) -> None:
    t = troposkein(1.0, 1.7)
    u = np.linspace(0.0, 1.0, 401) * t.b / t.k**2
    sn, cn, dn, _ = ellipj(u, t.m)
    c = t.b / t.k**2
    r = t.max_radius * sn
    r1 = t.max_radius * cn * dn * c
    r2 = t.max_radius * (-(1 + t.m) * sn + 2 * t.m * sn**3) * c**2
    tension = t.tension(torch.from_numpy(r), omega).numpy()
    kappa = r2 / (1 + r1**2) ** 1.5
    residual = tension * kappa + omega**2 * r / np.sqrt(1 + r1**2)
    assert np.abs(residual).max() < 1e-8
    assert t.axial_tension(omega) == pytest.approx(float(tension[len(r) // 2]), rel=1e-12)


@pytest.mark.parametrize("ratio", [1.01, 1.2, 2.0, 3.0])
def test_closed_form_matches_solve_bvp(ratio: float) -> None:
    t = troposkein(1.0, ratio)
    a = torch.linspace(0.0, 1.0, 1001, dtype=F64)
    for omega in (1.0, 4.0):
        shape = rope_bvp(1.0, ratio, omega=omega)
        assert (shape.displacement(a) - t.radius(a)).abs().max() < 1e-8
        assert shape.axial_tension == pytest.approx(t.axial_tension(omega), rel=1e-8)


@pytest.mark.parametrize("ratio", [1.05, 1.5, 3.0])
@pytest.mark.parametrize("omega", [8.0, 2.0, 0.5])
def test_gravity_closed_form_about_the_shifted_axis_matches_solve_bvp(
    ratio: float, omega: float
) -> None:
    g = 9.8
    t = troposkein(1.0, ratio, axis_offset=g / omega**2)
    a = torch.linspace(0.0, 1.0, 501, dtype=F64)
    shape = rope_bvp(1.0, ratio, omega=omega, gravity=g)
    assert (t.radius(a) - shape.displacement(a)).abs().max() < 1e-8
    assert t.axial_tension(omega) == pytest.approx(shape.axial_tension, rel=1e-8)
    assert t.radius(torch.tensor([0.0, 1.0], dtype=F64)).abs().max() < 1e-9


def test_omega_invariance_of_the_g0_shape() -> None:
    a = torch.linspace(0.0, 1.0, 101, dtype=F64)
    base = rope_bvp(1.0, 1.5, omega=1.0).displacement(a)
    other = rope_bvp(1.0, 1.5, omega=10.0).displacement(a)
    assert (base - other).abs().max() < 1e-9


@pytest.mark.parametrize("ratio", [1.05, 1.5])
def test_catenary_limit_at_small_omega(ratio: float) -> None:
    a = torch.linspace(0.0, 2.0, 501, dtype=F64)
    cat = catenary(2.0, 2.0 * ratio, gravity=9.8)
    sag = float(cat.displacement(torch.tensor(1.0, dtype=F64)))
    slow = rope_bvp(2.0, 2.0 * ratio, omega=1e-3, gravity=9.8)
    assert (slow.displacement(a) - cat.displacement(a)).abs().max() / sag < 1e-4
    still = rope_bvp(2.0, 2.0 * ratio, omega=0.0, gravity=9.8)
    assert (still.displacement(a) - cat.displacement(a)).abs().max() / sag < 1e-8
    assert still.axial_tension == pytest.approx(cat.axial_tension, rel=1e-7)


def test_gravity_and_spin_bulge_more_than_either() -> None:
    mid = torch.tensor(0.5, dtype=F64)
    both = float(rope_bvp(1.0, 1.3, omega=2.0, gravity=9.8).displacement(mid))
    assert both == pytest.approx(float(troposkein(1.0, 1.3).radius(mid)), rel=0.2)
    # equal length: the sag stays between the two pure shapes' sags
    lo, hi = sorted([float(troposkein(1.0, 1.3).radius(mid)), float(catenary(1.0, 1.3).y.max())])
    assert lo - 1e-9 <= both <= hi + 1e-9


def _article_snippet_rhs(omega: float, g: float, c1: float):  # the post's (swapped) right-hand side
    def rhs(s: float, z: np.ndarray) -> np.ndarray:
        G = (-g * s + c1) / (0.5 * omega**2 * z[0] ** 2 - g * z[1])
        return np.array([G, math.sqrt(max(1 - G * G, 0.0))])

    return rhs


def test_snippet_violates_euler_lagrange_and_the_correction_does_not() -> None:
    omega, g, c1 = 2.0, 3.0, 0.0  # the article's figure
    s, x, y = spinning_rope(omega, g, c1, start=(1.0, 0.0), s_max=0.5)
    fixed = euler_lagrange_residuals(s, x, y, omega, g)
    assert max(fixed) < 1e-4
    sol = solve_ivp(
        _article_snippet_rhs(omega, g, c1),
        (0.0, 0.5),
        [1.0, 0.0],
        method="RK23",
        t_eval=s.numpy(),
        first_step=1e-4,
        max_step=1e-4,
    )  # the post's settings
    snippet = euler_lagrange_residuals(s, torch.from_numpy(sol.y[0]), torch.from_numpy(sol.y[1]),
                                       omega, g)  # fmt: skip
    assert min(snippet) > 1.0
    # arc-length parameterisation holds for the corrected curve
    speed = np.hypot(np.gradient(x.numpy(), s.numpy()), np.gradient(y.numpy(), s.numpy()))
    assert np.abs(speed[2:-2] - 1).max() < 1e-5


def test_dtype_follows_input_and_bad_input() -> None:
    t = troposkein(1.0, 1.5)
    assert t.radius(torch.linspace(0, 1, 5)).dtype == torch.float32
    with pytest.raises(ValueError, match="length"):
        troposkein(1.0, 1.0)
    with pytest.raises(ValueError, match="length"):
        rope_bvp(1.0, 0.5, omega=1.0)
    with pytest.raises(ValueError, match="span"):
        catenary(-1.0, 2.0)
    with pytest.raises(ValueError, match="omega"):
        rope_bvp(1.0, 1.5, omega=-1.0)
    with pytest.raises(ValueError, match="both 0"):
        rope_bvp(1.0, 1.5, omega=0.0, gravity=0.0)
    with pytest.raises(TypeError, match="axial"):
        t.radius(torch.arange(3))
    with pytest.raises(ValueError, match="axial"):
        t.radius(torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="axis_offset"):
        troposkein(1.0, 1.5, axis_offset=-1.0)
    with pytest.raises(ValueError, match="s_max"):
        spinning_rope(2.0, 3.0, -2.0, s_max=5.0)
    with pytest.raises(ValueError, match="c1"):
        spinning_rope(2.0, 3.0, 3.0)
