"""B8: variational information bottleneck layer, its KL term and the reparameterisation."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.distributions import Normal, kl_divergence

from kexue.geometry.gaussian import kl_divergence_gaussian
from kexue.nn.bottleneck import VariationalBottleneck, gaussian_kl_standard_normal, reparameterize

D = torch.float64


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 5.0))
def test_kl_matches_torch_distributions(seed: int, scale: float) -> None:
    mean = scale * torch.randn(3, 4, 5, dtype=D, generator=_g(seed))
    log_var = scale * torch.randn(3, 4, 5, dtype=D, generator=_g(seed + 1))
    want = kl_divergence(Normal(mean, (0.5 * log_var).exp()), Normal(0.0, 1.0)).sum(-1)
    got = gaussian_kl_standard_normal(mean, log_var, reduction="none")
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert float(gaussian_kl_standard_normal(mean, log_var)) == pytest.approx(float(want.mean()))
    assert float(gaussian_kl_standard_normal(mean, log_var, reduction="sum")) == pytest.approx(
        float(want.sum())
    )


def test_kl_matches_geometry_gaussian_and_monte_carlo() -> None:
    mean = torch.tensor([[0.5, -1.0, 2.0]], dtype=D)
    log_var = torch.tensor([[0.3, -2.0, 1.0]], dtype=D)
    closed = gaussian_kl_standard_normal(mean, log_var)
    other = kl_divergence_gaussian(mean, log_var.exp(), torch.zeros(3, dtype=D),
                                   torch.ones(3, dtype=D), diagonal=True)  # fmt: skip
    assert float(closed) == pytest.approx(float(other), rel=1e-12)
    # Monte Carlo E_q[log q(z) - log p(z)] with 200k reparameterised draws
    z = reparameterize(mean.expand(200_000, 3), log_var.expand(200_000, 3), generator=_g(0))
    q = Normal(mean, (0.5 * log_var).exp())
    mc = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1).mean()
    assert float(mc) == pytest.approx(float(closed), abs=0.02)


def test_kl_is_zero_at_prior_and_stable_near_unit_variance() -> None:
    zero = gaussian_kl_standard_normal(torch.zeros(4, 3, dtype=D), torch.zeros(4, 3, dtype=D))
    assert float(zero) == 0.0
    # v = 1e-9: exact KL = (e^v - 1 - v) / 2 ~ v^2 / 4 = 2.5e-19 per dim; no cancellation to 0
    v = torch.full((1, 1), 1e-9, dtype=D)
    got = gaussian_kl_standard_normal(torch.zeros(1, 1, dtype=D), v)
    assert float(got) == pytest.approx(0.25e-18, rel=1e-6)
    # extreme log-variances stay finite
    big = gaussian_kl_standard_normal(torch.zeros(1, 2), torch.tensor([[-80.0, 60.0]]))
    assert torch.isfinite(big)


def test_kl_gradcheck_and_half_precision() -> None:
    mean = torch.randn(4, 3, dtype=D, generator=_g(0)).requires_grad_(True)
    log_var = torch.randn(4, 3, dtype=D, generator=_g(1)).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda m, v: gaussian_kl_standard_normal(m, v, reduction="none"), (mean, log_var)
    )
    ref = gaussian_kl_standard_normal(mean.detach().float(), log_var.detach().float())
    for dt in (torch.float16, torch.bfloat16):
        got = gaussian_kl_standard_normal(mean.detach().to(dt), log_var.detach().to(dt))
        assert got.dtype == dt
        assert float(got) == pytest.approx(float(ref), rel=3e-2)


def test_reparameterisation_gradient() -> None:
    mean = torch.randn(6, 4, dtype=D, generator=_g(0)).requires_grad_(True)
    log_var = torch.randn(6, 4, dtype=D, generator=_g(1)).requires_grad_(True)
    z = reparameterize(mean, log_var, generator=_g(2))
    eps = torch.randn(6, 4, dtype=D, generator=_g(2))  # the same draw
    torch.testing.assert_close(z, mean + (0.5 * log_var).exp() * eps)
    gm, gv = torch.autograd.grad(z.sum(), (mean, log_var))
    torch.testing.assert_close(gm, torch.ones_like(gm))  # dz/dmu = 1
    torch.testing.assert_close(gv, 0.5 * (0.5 * log_var).exp().detach() * eps)  # sigma eps / 2
    assert torch.autograd.gradcheck(
        lambda m, v: reparameterize(m, v, generator=_g(3)), (mean, log_var)
    )


def test_reparameterised_samples_have_the_right_moments() -> None:
    mean = torch.tensor([1.0, -2.0], dtype=D).expand(100_000, 2)
    log_var = torch.tensor([0.0, math.log(0.25)], dtype=D).expand(100_000, 2)
    z = reparameterize(mean, log_var, generator=_g(0))
    torch.testing.assert_close(z.mean(0), torch.tensor([1.0, -2.0], dtype=D), atol=0.01, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 0.5], dtype=D), atol=0.01, rtol=0)


def test_layer_train_samples_eval_is_deterministic_mean() -> None:
    torch.manual_seed(0)
    layer = VariationalBottleneck(6, 3, beta=0.1, dtype=D)
    x = torch.randn(5, 6, dtype=D, generator=_g(1))
    mu, lv = layer.encode(x)
    z1, z2 = layer(x), layer(x)
    assert not torch.equal(z1, z2)  # training: sampled
    torch.testing.assert_close(layer.kl, gaussian_kl_standard_normal(mu, lv))
    torch.testing.assert_close(layer.penalty, 0.1 * layer.kl)
    layer.eval()
    e1, e2 = layer(x), layer(x)
    assert torch.equal(e1, e2) and torch.equal(e1, mu)
    layer.eval_sample = True
    assert not torch.equal(layer(x), layer(x))


def test_layer_kl_trains_towards_prior_and_batches() -> None:
    torch.manual_seed(0)
    layer = VariationalBottleneck(4, 2, beta=1.0)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    x = torch.randn(64, 4, generator=_g(0))
    first = None
    for _ in range(200):
        layer(x)
        first = float(layer.kl.detach()) if first is None else first
        opt.zero_grad()
        layer.penalty.backward()
        opt.step()
    assert float(layer.kl.detach()) < 0.01 * first
    z = layer(torch.randn(2, 7, 4, generator=_g(1)))  # leading dims batch
    assert z.shape == (2, 7, 2) and layer.mean.shape == (2, 7, 2)


def test_layer_clamps_log_variance() -> None:
    layer = VariationalBottleneck(2, 2, log_var_range=(-5.0, 5.0))
    with torch.no_grad():
        layer.to_log_var.bias.fill_(100.0)
    layer(torch.zeros(3, 2))
    assert float(layer.log_var.max()) == 5.0 and torch.isfinite(layer.kl)


def test_bad_input() -> None:
    m = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="mean and log_var"):
        gaussian_kl_standard_normal(m, torch.zeros(2, 4))
    with pytest.raises(TypeError, match="log_var"):
        gaussian_kl_standard_normal(m, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="reduction"):
        gaussian_kl_standard_normal(m, m, reduction="batchmean")
    with pytest.raises(TypeError, match="reduction"):
        gaussian_kl_standard_normal(m, m, reduction=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mean"):
        reparameterize(torch.tensor(0.0), torch.tensor(0.0))
    layer = VariationalBottleneck(3, 2)
    with pytest.raises(ValueError, match="x"):
        layer(torch.zeros(4, 5))
    with pytest.raises(TypeError, match="x"):
        layer(torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="beta"):
        VariationalBottleneck(3, 2, beta=-1.0)
    with pytest.raises(TypeError, match="latent_features"):
        VariationalBottleneck(3, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="log_var_range"):
        VariationalBottleneck(3, 2, log_var_range=(1.0, 0.0))
