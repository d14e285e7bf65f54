"""Tests for kexue.losses.latent_mala: MALA / unadjusted Langevin chains targeting exp(-V)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import kstest, norm

from kexue.losses.latent_mala import MALAResult, latent_mala

D = torch.float64


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _replay(seed: int, shape: tuple[int, ...], adjust: bool = True) -> tuple[torch.Tensor, ...]:
    """The first step's draws: the proposal noise, then (MALA only) one uniform per chain."""
    g = _g(seed)
    noise = torch.randn(shape, generator=g, dtype=D)
    return (noise, torch.rand(shape[0], generator=g, dtype=D)) if adjust else (noise,)


def _half_square(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * z.flatten(1).square().sum(1)


# ------------------------------------------------------------------ one step by hand


@given(
    eps=st.floats(0.01, 3.0),
    start=st.floats(-3.0, 3.0),
    seed=st.integers(0, 10_000),
)
def test_one_step_acceptance_closed_form_standard_gaussian(
    eps: float, start: float, seed: int
) -> None:
    # V = z^2 / 2, proposal mean c z with c = 1 - eps / 2. In log a the kernels add
    # ((y - c z)^2 - (z - c y)^2) / (2 eps) = (y^2 - z^2)(1 - c^2) / (2 eps), and 1 - c^2 = eps - eps^2/4,
    # so log a = -(y^2 - z^2) / 2 + (y^2 - z^2)(1 - eps / 4) / 2 = -eps (y^2 - z^2) / 8.
    z = torch.full((5, 1), start, dtype=D) + torch.arange(5, dtype=D)[:, None] * 0.3
    noise, u = _replay(seed, z.shape)
    y = (1 - eps / 2) * z + math.sqrt(eps) * noise
    a = torch.exp(-eps * (y.square() - z.square()) / 8).clamp(max=1.0)[:, 0]
    out = latent_mala(_half_square, z, eps, 1, generator=_g(seed))
    torch.testing.assert_close(out.acceptance, a.mean(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(out.z, torch.where((u < a)[:, None], y, z), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(out.energy, _half_square(out.z))


def test_one_step_log_ratio_against_scipy_density() -> None:
    # a non-Gaussian 2-D target; the proposal density from scipy, not from the module's algebra
    def v(z: torch.Tensor) -> torch.Tensor:
        return 0.25 * z.pow(4).sum(1) + z[:, 0] * z[:, 1]

    def grad_v(z: np.ndarray) -> np.ndarray:
        return z**3 + z[:, ::-1]

    eps = 0.3
    z = torch.randn(400, 2, generator=_g(1), dtype=D)
    noise, u = _replay(2, z.shape)
    zn = z.numpy()
    y = zn - eps / 2 * grad_v(zn) + math.sqrt(eps) * noise.numpy()
    sd = math.sqrt(eps)
    log_q_fwd = norm.logpdf(y, zn - eps / 2 * grad_v(zn), sd).sum(1)
    log_q_bwd = norm.logpdf(zn, y - eps / 2 * grad_v(y), sd).sum(1)
    yt = torch.from_numpy(y)
    log_a = (v(z) - v(yt)).numpy() + log_q_bwd - log_q_fwd
    a = np.minimum(1.0, np.exp(log_a))
    out = latent_mala(v, z, eps, 1, generator=_g(2))
    assert out.acceptance.item() == pytest.approx(a.mean(), rel=1e-10)
    take = torch.from_numpy(u.numpy() < a)
    assert 0 < int(take.sum()) < len(take)  # both branches exercised, chain by chain
    torch.testing.assert_close(out.z, torch.where(take[:, None], yt, z), rtol=1e-12, atol=1e-12)


def test_unadjusted_step_is_the_langevin_update() -> None:
    z = torch.randn(6, 3, generator=_g(3), dtype=D)
    (noise,) = _replay(4, z.shape, adjust=False)
    out = latent_mala(_half_square, z, 0.2, 1, adjust=False, generator=_g(4))
    torch.testing.assert_close(out.z, z - 0.1 * z + math.sqrt(0.2) * noise)
    assert float(out.acceptance) == 1.0


def test_flat_energy_is_a_random_walk_always_accepted() -> None:
    z = torch.randn(5, 2, generator=_g(5), dtype=D)
    (noise,) = _replay(6, z.shape, adjust=False)
    out = latent_mala(lambda x: 0.0 * x.sum(1), z, 0.5, 1, generator=_g(6))
    assert float(out.acceptance) == 1.0  # symmetric proposal, equal energies
    torch.testing.assert_close(out.z, z + math.sqrt(0.5) * noise)


def test_energy_independent_of_z_is_accepted() -> None:
    # no graph to z: autograd.grad used to raise "does not require grad"; the gradient is zero
    out = latent_mala(lambda x: torch.zeros(x.shape[0], dtype=x.dtype), torch.zeros(3, 2), 0.5)
    assert float(out.acceptance) == 1.0


@pytest.mark.parametrize(
    "energy",
    [
        lambda x: torch.zeros(x.shape[0], dtype=x.dtype),
        lambda x: _half_square(x).detach(),  # depends on z in value, but without a graph
        lambda x: torch.ones(x.shape[0], 1, dtype=x.dtype, requires_grad=True),  # a graph, not to z
    ],
    ids=["constant", "detached", "unused-leaf"],
)
def test_energy_without_a_graph_to_z_has_zero_gradient(energy: object) -> None:
    z = torch.randn(5, 2, generator=_g(12), dtype=D)
    (noise, u) = _replay(13, z.shape)
    out = latent_mala(energy, z, 0.5, 1, generator=_g(13))  # type: ignore[arg-type]
    y = z + math.sqrt(0.5) * noise  # the proposal without drift
    # the kernel is symmetric with zero gradient, so log a is the energy difference only
    log_a = energy(z).reshape(-1) - energy(y).reshape(-1)  # type: ignore[operator]
    a = log_a.detach().clamp(max=0.0).exp()
    torch.testing.assert_close(out.acceptance, a.mean(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(out.z, torch.where((u < a)[:, None], y, z), rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ sampling


def test_samples_a_one_dimensional_gaussian() -> None:
    mu, sigma, n = 1.5, 0.7, 4000

    def v(z: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((z[:, 0] - mu) / sigma) ** 2

    out = latent_mala(v, torch.zeros(n, 1, dtype=D), 0.25, 200, generator=_g(7))
    x = out.z[:, 0]
    # independent chains: five standard errors of the mean and of the variance
    assert abs(float(x.mean()) - mu) < 5 * sigma / math.sqrt(n)
    assert abs(float(x.var()) - sigma**2) < 5 * sigma**2 * math.sqrt(2 / (n - 1))
    assert kstest(x.numpy(), norm(mu, sigma).cdf).pvalue > 1e-3
    assert 0.7 < float(out.acceptance) < 1.0


def test_target_is_invariant_at_a_large_step() -> None:
    # started exactly at N(0, 1) with eps = 2, where ULA's stationary variance is 1 / (1 - eps/4) = 2:
    # detailed balance with the proposal's own kernel keeps N(0, 1); ULA drifts away from it, and
    # the article's kernel (eps grad V in q) would shrink it (variance ~0.65 with these draws)
    n = 6000
    z0 = torch.randn(n, 1, generator=_g(8), dtype=D)
    mala = latent_mala(_half_square, z0, 2.0, 25, generator=_g(9))
    ula = latent_mala(_half_square, z0, 2.0, 25, adjust=False, generator=_g(9))
    tol = 5 * math.sqrt(2 / (n - 1))
    assert abs(float(mala.z.var()) - 1.0) < tol
    assert abs(float(ula.z.var()) - 2.0) < 2 * tol


def test_mala_samples_the_target_where_ula_is_biased() -> None:
    # V(z) = z^T diag(1, 4) z / 2 -> variances (1, 0.25); at eps = 0.4 ULA's stationary variance is
    # 1 / (lambda (1 - eps lambda / 4)): (1.111, 0.417), so only the right MH kernel gets (1, 0.25).
    lam = torch.tensor([1.0, 4.0], dtype=D)

    def v(z: torch.Tensor) -> torch.Tensor:
        return 0.5 * (lam * z.square()).sum(1)

    z0 = torch.full((4000, 2), 2.0, dtype=D)
    mala = latent_mala(v, z0, 0.4, 150, generator=_g(0))
    ula = latent_mala(v, z0, 0.4, 150, adjust=False, generator=_g(0))
    torch.testing.assert_close(mala.z.var(0), 1 / lam, rtol=0.08, atol=0)
    assert float(mala.z.mean(0).abs().max()) < 0.06
    ula_var = 1 / (lam * (1 - 0.4 * lam / 4))
    torch.testing.assert_close(ula.z.var(0), ula_var, rtol=0.08, atol=0)
    assert 0.5 < float(mala.acceptance) < 1.0
    assert float(ula.acceptance) == 1.0
    torch.testing.assert_close(mala.energy, v(mala.z))


# ------------------------------------------------------------------ interface


def test_mala_lowers_energy_and_keeps_dtype() -> None:
    z0 = torch.full((200, 3), 3.0)
    out = latent_mala(lambda z: z.square().sum(1, keepdim=True), z0, 0.05, 20, generator=_g(1))
    assert out.z.dtype == torch.float32 and out.z.shape == z0.shape
    assert out.energy.shape == (200,) and out.acceptance.shape == ()
    assert float(out.energy.mean()) < 27.0
    half = latent_mala(lambda z: z.square().sum(1), z0.bfloat16(), 0.05, 2, generator=_g(1))
    assert half.z.dtype == half.energy.dtype == half.acceptance.dtype == torch.bfloat16


def test_image_shaped_states_detached_and_reproducible() -> None:
    z0 = torch.randn(8, 2, 3, 3, generator=_g(10), dtype=D).requires_grad_()
    before = z0.detach().clone()
    out = latent_mala(_half_square, z0, 0.1, 3, generator=_g(11))
    assert isinstance(out, MALAResult)
    assert out.z.shape == z0.shape and out.energy.shape == (8,)
    assert not (out.z.requires_grad or out.energy.requires_grad or out.acceptance.requires_grad)
    assert torch.equal(z0.detach(), before)  # the input is not modified
    again = latent_mala(_half_square, z0, 0.1, 3, generator=_g(11))
    assert torch.equal(out.z, again.z) and torch.equal(out.acceptance, again.acceptance)
    flat = latent_mala(_half_square, z0.detach().flatten(1), 0.1, 3, generator=_g(11))
    torch.testing.assert_close(flat.z, out.z.flatten(1), rtol=0, atol=0)  # the shape is cosmetic


def test_mala_bad_input() -> None:
    z = torch.zeros(4, 2)
    f = lambda z: z.sum(1)  # noqa: E731
    for kwargs, err, name in [
        ({"step_size": 0.0}, ValueError, "step_size"),
        ({"step_size": math.nan}, ValueError, "step_size"),
        ({"step_size": math.inf}, ValueError, "step_size must be finite"),
        ({"step_size": "0.1"}, TypeError, "step_size"),
        ({"n_steps": 0}, ValueError, "n_steps"),
        ({"n_steps": 1.5}, TypeError, "n_steps"),
        ({"n_steps": True}, TypeError, "n_steps"),
    ]:
        args = {"step_size": 0.1} | kwargs
        with pytest.raises(err, match=name):
            latent_mala(f, z, **args)
    with pytest.raises(ValueError, match="z"):
        latent_mala(f, torch.zeros(4), 0.1)
    with pytest.raises(ValueError, match="z"):
        latent_mala(f, torch.zeros(0, 2), 0.1)
    with pytest.raises(ValueError, match="z"):
        latent_mala(f, torch.full((4, 2), math.nan), 0.1)
    with pytest.raises(TypeError, match="z"):
        latent_mala(f, torch.zeros(4, 2, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match="energy"):
        latent_mala(lambda z: z, z, 0.1)
    with pytest.raises(ValueError, match="energy"):
        latent_mala(lambda z: z.sum(1) / 0.0, z, 0.1)
    with pytest.raises(TypeError, match="energy"):
        latent_mala(lambda z: z.sum(1).tolist(), z, 0.1)
    with pytest.raises(TypeError, match="energy"):
        latent_mala(3, z, 0.1)  # type: ignore[arg-type]
