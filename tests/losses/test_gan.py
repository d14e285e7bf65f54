"""B4: WGAN-div / WGAN-GP penalties, critic and generator losses, energy view.

The latent-space sampler of the energy view is tested in tests/losses/test_latent_mala.py.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.func import functional_call, grad, vmap

from kexue.losses.gan import (
    WGANDivPenalty,
    WGANGPPenalty,
    critic_loss,
    energy_generator_loss,
    generator_loss,
    score_penalty,
    wgan_div_penalty,
    wgan_gp_penalty,
)

D = torch.float64
# penalties of non-linear critics carry a graph (create_graph=True); float() on them is intended
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _linear(w: torch.Tensor):
    return lambda x: x.flatten(1) @ w.flatten()


def _quadratic(a: torch.Tensor, b: torch.Tensor):
    # T(x) = x^T A x / 2 + b^T x, grad T = (A + A^T) x / 2 + b
    return lambda x: 0.5 * ((x @ a) * x).sum(1) + x @ b


def _quad_grad(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return x @ (0.5 * (a + a.T)) + b


# ------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("points", ["samples", "interpolates", "real", "fake"])
def test_div_penalty_linear_critic_image_shaped(points: str) -> None:
    # NCHW samples: the norm must run over all of C, H, W (not dim=1 per pixel)
    w = torch.randn(3, 4, 5, dtype=D, generator=_g(0))
    real = torch.randn(6, 3, 4, 5, dtype=D, generator=_g(1))
    fake = torch.randn(6, 3, 4, 5, dtype=D, generator=_g(2))
    k, p = 2.0, 6.0
    got = wgan_div_penalty(_linear(w), real, fake, k, p, points=points, reduction="none")
    want = torch.full((6,), k * w.norm().item() ** p, dtype=D)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0)


def test_gp_penalty_linear_critic() -> None:
    w = torch.randn(3, 4, 5, dtype=D, generator=_g(0))
    real = torch.randn(6, 3, 4, 5, dtype=D, generator=_g(1))
    got = wgan_gp_penalty(_linear(w), real, real.flip(0), weight=7.0)
    assert float(got) == pytest.approx(7.0 * (w.norm().item() - 1) ** 2, rel=1e-12)


@pytest.mark.parametrize("p", [1.5, 2.0, 6.0])
def test_div_penalty_quadratic_critic_closed_form(p: float) -> None:
    a = torch.randn(4, 4, dtype=D, generator=_g(3))
    b = torch.randn(4, dtype=D, generator=_g(4))
    real = torch.randn(10, 4, dtype=D, generator=_g(5))
    fake = torch.randn(10, 4, dtype=D, generator=_g(6))
    alpha = torch.rand(10, dtype=D, generator=_g(7))
    t = _quadratic(a, b)
    nr = _quad_grad(a, b, real).norm(dim=1)
    nf = _quad_grad(a, b, fake).norm(dim=1)
    ni = _quad_grad(a, b, alpha[:, None] * real + (1 - alpha[:, None]) * fake).norm(dim=1)
    got = wgan_div_penalty(t, real, fake, 3.0, p, reduction="none")
    torch.testing.assert_close(got, 1.5 * (nr**p + nf**p), rtol=1e-12, atol=0)
    got_i = wgan_div_penalty(t, real, fake, 3.0, p, points="interpolates", alpha=alpha)
    assert float(got_i) == pytest.approx(float((3.0 * ni**p).mean()), rel=1e-12)
    got_gp = wgan_gp_penalty(t, real, fake, 10.0, alpha=alpha, reduction="sum")
    assert float(got_gp) == pytest.approx(float((10.0 * (ni - 1) ** 2).sum()), rel=1e-12)


def test_div_penalty_mlp_matches_per_sample_brute_force() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1)).to(D)
    params = {k: v.detach() for k, v in net.named_parameters()}

    def t1(x: torch.Tensor) -> torch.Tensor:
        return functional_call(net, params, (x[None],))[0, 0]

    real = torch.randn(8, 3, dtype=D, generator=_g(1))
    fake = torch.randn(8, 3, dtype=D, generator=_g(2))
    gr, gf = vmap(grad(t1))(real), vmap(grad(t1))(fake)
    want = (gr.norm(dim=1) ** 6 + gf.norm(dim=1) ** 6).mean()  # k/2 = 1
    got = wgan_div_penalty(lambda x: net(x).squeeze(-1), real, fake)
    assert float(got) == pytest.approx(float(want), rel=1e-12)


def test_score_penalty_equals_div_penalty_at_real() -> None:
    a, b = torch.randn(3, 3, dtype=D, generator=_g(0)), torch.randn(3, dtype=D, generator=_g(1))
    x = torch.randn(9, 3, dtype=D, generator=_g(2))
    want = 0.1 * _quad_grad(a, b, x).square().sum(1).mean()
    assert float(score_penalty(_quadratic(a, b), x)) == pytest.approx(float(want), rel=1e-12)


# ------------------------------------------------------------------ gradients
def test_penalty_gradient_reaches_critic_parameters() -> None:
    # d/dw [k ||w||^p] = k p ||w||^(p-2) w  (needs create_graph=True inside)
    w = torch.randn(5, dtype=D, generator=_g(0)).requires_grad_(True)
    real = torch.randn(4, 5, dtype=D, generator=_g(1))
    wgan_div_penalty(lambda x: x @ w, real, real + 1, k=2.0, p=6.0).backward()
    n = w.detach().norm()
    torch.testing.assert_close(w.grad, 2.0 * 6.0 * n**4 * w.detach(), rtol=1e-12, atol=0)


def test_gradcheck_penalties_wrt_critic_parameters() -> None:
    a = torch.randn(3, 3, dtype=D, generator=_g(0)).requires_grad_(True)
    b = torch.randn(3, dtype=D, generator=_g(1)).requires_grad_(True)
    real = torch.randn(5, 3, dtype=D, generator=_g(2))
    fake = torch.randn(5, 3, dtype=D, generator=_g(3))
    alpha = torch.rand(5, dtype=D, generator=_g(4))
    for pts in ("samples", "interpolates"):
        assert torch.autograd.gradcheck(
            lambda a, b, pts=pts: wgan_div_penalty(
                _quadratic(a, b), real, fake, 2.0, 3.0, points=pts, alpha=alpha
            ),
            (a, b),
        )
    assert torch.autograd.gradcheck(
        lambda a, b: wgan_gp_penalty(_quadratic(a, b), real, fake, alpha=alpha), (a, b)
    )
    assert torch.autograd.gradgradcheck(
        lambda a, b: wgan_div_penalty(_quadratic(a, b), real, fake, 2.0, 6.0), (a, b)
    )


def test_zero_gradient_where_it_should_be() -> None:
    real = torch.randn(6, 2, dtype=D, generator=_g(0))
    # GP at a unit-norm linear critic: minimum, value and gradient 0
    w = torch.tensor([0.6, 0.8], dtype=D, requires_grad=True)
    pen = wgan_gp_penalty(lambda x: x @ w, real, -real)
    pen.backward()
    assert float(pen) == pytest.approx(0.0, abs=1e-14)
    assert float(w.grad.abs().max()) < 1e-12
    # a critic that ignores x: zero penalty, no error
    c = torch.tensor(1.0, dtype=D, requires_grad=True)
    assert float(wgan_div_penalty(lambda x: c * torch.ones(x.shape[0], dtype=D), real, real)) == 0
    # ||grad T|| = 0 exactly at x = 0 for T = |x|^2: finite zero gradient even for p < 2
    s = torch.tensor(1.0, dtype=D, requires_grad=True)
    zeros = torch.zeros(4, 2, dtype=D)
    for p in (1.5, 6.0):
        s.grad = None
        wgan_div_penalty(lambda x: s * x.square().sum(1), zeros, zeros, p=p).backward()
        assert s.grad is not None and float(s.grad) == 0.0
    for fn in (wgan_gp_penalty, wgan_div_penalty):
        s.grad = None
        fn(lambda x: s * x.square().sum(1), zeros, zeros).backward()
        assert s.grad is not None and torch.isfinite(s.grad)


def test_inputs_are_detached_and_penalty_is_sign_agnostic() -> None:
    gen = nn.Linear(2, 2).to(D)
    fake = gen(torch.randn(5, 2, dtype=D, generator=_g(0)))
    real = torch.randn(5, 2, dtype=D, generator=_g(1))
    crit = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).to(D)
    pen = wgan_div_penalty(crit, real, fake)
    pen.backward()
    assert all(p.grad is None for p in gen.parameters())
    assert crit[0].weight.grad is not None and crit[2].weight.grad is not None
    neg = wgan_div_penalty(lambda x: -crit(x), real, fake)
    torch.testing.assert_close(neg, pen, rtol=1e-14, atol=0)


@given(c=st.floats(0.1, 3.0), p=st.floats(1.1, 8.0), seed=st.integers(0, 100))
def test_div_penalty_laws(c: float, p: float, seed: int) -> None:
    a = torch.randn(3, 3, dtype=D, generator=_g(seed))
    b = torch.randn(3, dtype=D, generator=_g(seed + 1))
    real = torch.randn(7, 3, dtype=D, generator=_g(seed + 2))
    fake = torch.randn(7, 3, dtype=D, generator=_g(seed + 3))
    t = _quadratic(a, b)
    base = wgan_div_penalty(t, real, fake, 2.0, p)
    assert float(base) >= 0
    # p-homogeneous in the critic's scale
    scaled = wgan_div_penalty(lambda x: c * t(x), real, fake, 2.0, p)
    assert float(scaled) == pytest.approx(c**p * float(base), rel=1e-9)
    # r = (P + Q) / 2: the "samples" penalty is the mean of the two one-sided ones
    one = [wgan_div_penalty(t, real, fake, 2.0, p, points=s) for s in ("real", "fake")]
    assert float(base) == pytest.approx(0.5 * float(one[0] + one[1]), rel=1e-12)


def test_half_precision_computed_in_float32() -> None:
    w = torch.tensor([0.5, -1.5, 2.0])
    real = torch.randn(16, 3, generator=_g(0))
    want = wgan_div_penalty(lambda x: x @ w, real, -real, p=2.0)
    for dt in (torch.float16, torch.bfloat16):
        got = wgan_div_penalty(lambda x, dt=dt: x @ w.to(dt), real.to(dt), -real.to(dt), p=2.0)
        assert got.dtype == dt
        assert float(got) == pytest.approx(float(want), rel=2e-2)


# ------------------------------------------------------------------ losses and conventions
@given(seed=st.integers(0, 1000))
def test_sign_conventions_mirror(seed: int) -> None:
    r = torch.randn(6, dtype=D, generator=_g(seed))
    f = torch.randn(6, dtype=D, generator=_g(seed + 1))
    assert float(critic_loss(r, f)) == pytest.approx(float(f.mean() - r.mean()), abs=1e-14)
    torch.testing.assert_close(
        critic_loss(r, f, convention="energy", reduction="none"),
        critic_loss(-r, -f, convention="critic", reduction="none"),
    )
    torch.testing.assert_close(
        generator_loss(f, convention="energy"), generator_loss(-f, convention="critic")
    )
    assert float(generator_loss(f, reduction="sum")) == pytest.approx(-float(f.sum()), abs=1e-12)


def test_energy_step_is_positive_minus_negative_phase() -> None:
    # grad_theta [E_p U - E_q U] = E_p grad U - E_q grad U, with per-sample grads by torch.func
    torch.manual_seed(0)
    u = nn.Sequential(nn.Linear(2, 8), nn.Softplus(), nn.Linear(8, 1)).to(D)
    params = dict(u.named_parameters())
    real = torch.randn(7, 2, dtype=D, generator=_g(1))
    fake = torch.randn(7, 2, dtype=D, generator=_g(2))
    loss = critic_loss(u(real).squeeze(-1), u(fake).squeeze(-1), convention="energy")
    got = torch.autograd.grad(loss, list(params.values()))
    det = {k: v.detach() for k, v in params.items()}

    def u1(p: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(u, p, (x[None],))[0, 0]

    gr, gf = (
        vmap(grad(u1), in_dims=(None, 0))(det, real),
        vmap(grad(u1), in_dims=(None, 0))(det, fake),
    )
    for (name, _), g in zip(params.items(), got, strict=True):
        torch.testing.assert_close(g, gr[name].mean(0) - gf[name].mean(0), rtol=1e-12, atol=1e-14)


def test_energy_generator_loss_closed_form() -> None:
    u = torch.randn(5, 1, dtype=D, generator=_g(0))
    z = torch.randn(5, 3, dtype=D, generator=_g(1))
    zh = torch.randn(5, 3, dtype=D, generator=_g(2))
    got = energy_generator_loss(u, z, zh, 0.7, reduction="none")
    torch.testing.assert_close(got, u[:, 0] + 0.7 * (z - zh).square().sum(1))
    assert float(energy_generator_loss(u, z, zh, 0.0)) == pytest.approx(float(u.mean()))


def test_modules_match_functional() -> None:
    w = torch.randn(3, dtype=D, generator=_g(0)).requires_grad_(True)
    real = torch.randn(5, 3, dtype=D, generator=_g(1))
    fake = torch.randn(5, 3, dtype=D, generator=_g(2))
    alpha = torch.rand(5, dtype=D, generator=_g(3))
    crit = _quadratic(torch.eye(3, dtype=D), w)
    for pts in ("samples", "interpolates"):
        mod = WGANDivPenalty(2.0, 4.0, points=pts, reduction="sum")
        torch.testing.assert_close(
            mod(crit, real, fake, alpha=alpha),
            wgan_div_penalty(crit, real, fake, 2.0, 4.0, points=pts, alpha=alpha, reduction="sum"),
        )
    torch.testing.assert_close(
        WGANGPPenalty(5.0)(crit, real, fake, alpha=alpha),
        wgan_gp_penalty(crit, real, fake, 5.0, alpha=alpha),
    )
    assert "k=2.0" in repr(WGANDivPenalty())


def test_random_interpolation_uses_generator() -> None:
    crit = _quadratic(torch.eye(2, dtype=D), torch.zeros(2, dtype=D))
    real = torch.randn(50, 2, dtype=D, generator=_g(0))
    a = wgan_gp_penalty(crit, real, -real, generator=_g(5))
    b = wgan_gp_penalty(crit, real, -real, generator=_g(5))
    c = wgan_gp_penalty(crit, real, -real, generator=_g(6))
    assert float(a) == float(b) != float(c)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"k": 0.0}, ValueError, "k"),
        ({"p": 1.0}, ValueError, "p"),
        ({"p": "6"}, TypeError, "p"),
        ({"points": "mid"}, ValueError, "points"),
        ({"reduction": "avg"}, ValueError, "reduction"),
        ({"reduction": None}, TypeError, "reduction"),
        ({"points": "interpolates", "alpha": torch.full((4,), 2.0)}, ValueError, "alpha"),
        ({"points": "interpolates", "alpha": torch.ones(3)}, ValueError, "alpha"),
    ],
)
def test_div_penalty_bad_arguments(kwargs: dict, error: type, name: str) -> None:
    x = torch.randn(4, 2)
    with pytest.raises(error, match=name):
        wgan_div_penalty(lambda x: x.sum(1), x, x, **kwargs)


def test_bad_samples_and_critics() -> None:
    x = torch.randn(4, 2)
    nan = x.clone()
    nan[0, 0] = math.nan
    with pytest.raises(ValueError, match="real and fake"):
        wgan_div_penalty(lambda x: x.sum(1), x, x[:3])
    with pytest.raises(ValueError, match="fake"):
        wgan_gp_penalty(lambda x: x.sum(1), x, nan)
    with pytest.raises(TypeError, match="real"):
        wgan_div_penalty(lambda x: x.sum(1), x.long(), x)
    with pytest.raises(ValueError, match="real"):
        wgan_div_penalty(lambda x: x.sum(1), x[:, 0], x[:, 0])
    with pytest.raises(TypeError, match="critic"):
        wgan_div_penalty("critic", x, x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="critic"):
        wgan_div_penalty(lambda x: x, x, x)  # two scores per sample
    with pytest.raises(ValueError, match="weight"):
        wgan_gp_penalty(lambda x: x.sum(1), x, x, weight=-1.0)
    with pytest.raises(TypeError, match="energy"):
        score_penalty(None, x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="convention"):
        critic_loss(x[:, 0], x[:, 1], convention="wgan")
    with pytest.raises(ValueError, match="real_scores and fake_scores"):
        critic_loss(x[:, 0], x[:3, 1])
    with pytest.raises(ValueError, match="fake_energy"):
        energy_generator_loss(x[:3, 0], x, x)
    with pytest.raises(ValueError, match="z and z_hat"):
        energy_generator_loss(x[:, 0], x, x[:, :1])
