"""Tests for kexue.optim.sampling_search: Boltzmann-weighted moves and MGS (technique C4)."""

from __future__ import annotations

import pytest
import torch

from kexue.optim.sampling_search import SampledMove, boltzmann_move, mle_guided_move

F64 = torch.float64


def _quadratic(d: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=F64)
    h = a @ a.T / d + torch.eye(d, dtype=F64)
    theta = torch.randn(d, generator=g, dtype=F64)
    return h, theta


def _loss(h: torch.Tensor):  # batched ½ tᵀHt
    return lambda t: 0.5 * torch.einsum("ni,ij,nj->n", t, h, t)


def test_flat_prior_mean_move_is_newtons_step() -> None:
    h, theta = _quadratic()
    m = boltzmann_move(_loss(h), theta, alpha=0.05, sigma=1.0, samples=200_000,
                       generator=torch.Generator().manual_seed(1))  # fmt: skip
    newton = -theta  # −H⁻¹g with g = Hθ
    assert float((m.move - newton).norm() / newton.norm()) < 5e-2
    assert abs(float(m.weights.sum()) - 1) < 1e-12 and 1 <= m.ess <= 200_000


@pytest.mark.parametrize("ratio", [30.0, 300.0])
def test_gaussian_prior_mean_move_tends_to_gradient_descent(ratio: float) -> None:
    # target ∝ N(0, σ²I)·exp(−Δl/α): mean −(H + α/σ² I)⁻¹ g → −(σ²/α) g as α/σ² → ∞
    h, theta = _quadratic()
    grad = h @ theta
    sigma = 0.1
    alpha = ratio * sigma**2
    m = boltzmann_move(_loss(h), theta, alpha=alpha, sigma=sigma, samples=200_000,
                       prior="gaussian", generator=torch.Generator().manual_seed(2))  # fmt: skip
    exact = -torch.linalg.solve(h + ratio * torch.eye(4, dtype=F64), grad)
    gd = -grad / ratio
    cos = float(torch.nn.functional.cosine_similarity(m.move, -grad, dim=0))
    cos_exact = float(torch.nn.functional.cosine_similarity(exact, -grad, dim=0))
    assert float((m.move - exact).norm() / exact.norm()) < 0.1
    assert cos > cos_exact - 0.01
    if ratio >= 300:
        assert cos > 0.995 and float((m.move - gd).norm() / gd.norm()) < 0.05


def test_weights_become_one_hot_as_alpha_goes_to_zero() -> None:
    h, theta = _quadratic()
    ess = []
    for alpha in (10.0, 0.1, 1e-4):
        m = boltzmann_move(_loss(h), theta, alpha=alpha, sigma=0.5, samples=64,
                           generator=torch.Generator().manual_seed(3))  # fmt: skip
        ess.append(m.ess)
    assert ess[0] > ess[1] > ess[2]
    assert ess[2] < 1.01
    best = int(m.delta_loss.argmin())
    torch.testing.assert_close(m.move, m.moves[best], rtol=1e-6, atol=1e-9)


def test_mixture_density_is_used_for_the_guided_samples() -> None:
    # a constant loss: the weights are exactly 1/q (normalised), the guided half comes from N(m, σ²)
    theta = torch.zeros(3, dtype=F64)
    guide = torch.tensor([3.0, 0.0, 0.0], dtype=F64)
    m = boltzmann_move(lambda t: torch.zeros(t.shape[0], dtype=F64), theta, alpha=1.0, sigma=0.5,
                       samples=4, guide=guide, generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert (m.moves[:2, 0].abs() < 2.0).all() and (m.moves[2:, 0] > 1.0).all()
    q = 0.5 * torch.exp(-0.5 * m.moves.pow(2).sum(-1) / 0.25) + 0.5 * torch.exp(
        -0.5 * (m.moves - guide).pow(2).sum(-1) / 0.25
    )
    torch.testing.assert_close(m.weights, (1 / q) / (1 / q).sum())


def test_mgs_clips_the_guide_and_finds_a_better_point() -> None:
    # 0/1 error of a threshold on θ's sum: no gradient; the MLE gradient points the right way
    err = lambda t: (t.sum(-1) < 1.0).to(t.dtype)  # noqa: E731
    theta = torch.zeros(3, dtype=F64)
    m = mle_guided_move(err, theta, torch.full((3,), -10.0, dtype=F64), alpha=0.01, sigma=0.05,
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert m.moves.shape == (4, 3)
    assert float((m.moves[2:].mean(0)).norm()) == pytest.approx(1.0, abs=0.15)  # guide norm 1
    assert float(err((theta + m.move).unsqueeze(0))) == 0.0


def test_fill_grad_lets_sgd_apply_the_move() -> None:
    h, theta = _quadratic()
    m = boltzmann_move(_loss(h), theta, alpha=0.1, sigma=0.5, samples=16)
    param = theta.clone()
    opt = torch.optim.SGD([param], lr=1.0)
    m.fill_grad(param)
    opt.step()
    torch.testing.assert_close(param, theta + m.move)
    assert isinstance(m, SampledMove)
    with pytest.raises(ValueError, match="param"):
        m.fill_grad(torch.zeros(2, dtype=F64))


def test_dtype_follows_theta() -> None:
    for dtype in (torch.float32, F64):
        theta = torch.ones(3, dtype=dtype)
        m = mle_guided_move(lambda t: (t * t).sum(-1), theta, theta, alpha=0.1, sigma=0.1)
        assert m.move.dtype == m.weights.dtype == dtype


def _call(**kw: object) -> SampledMove:
    args = {"loss_fn": lambda t: t.sum(-1), "theta": torch.ones(3), "alpha": 0.1, "sigma": 0.1,
            "samples": 4}  # fmt: skip
    args.update(kw)
    return boltzmann_move(args.pop("loss_fn"), args.pop("theta"), **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "arg"),
    [
        ({"sigma": 0.0}, ValueError, "sigma"),
        ({"sigma": -0.1}, ValueError, "sigma"),
        ({"alpha": 0.0}, ValueError, "alpha"),
        ({"samples": 0}, ValueError, "samples"),
        ({"samples": 2.0}, TypeError, "samples"),
        ({"mix": 1.5, "guide": torch.ones(3)}, ValueError, "mix"),
        ({"prior": "uniform"}, ValueError, "prior"),
        ({"guide": torch.ones(2)}, ValueError, "guide"),
        ({"guide": torch.ones(3, dtype=torch.long)}, TypeError, "guide"),
        ({"theta": torch.ones(3, dtype=torch.long)}, TypeError, "theta"),
        ({"theta": torch.tensor([1.0, float("inf"), 0.0])}, ValueError, "theta"),
        ({"loss_fn": lambda t: t}, ValueError, "loss_fn"),
    ],
)
def test_bad_input(kwargs: dict, error: type, arg: str) -> None:
    with pytest.raises(error, match=arg):
        _call(**kwargs)


def test_mgs_bad_input() -> None:
    theta = torch.ones(3)
    with pytest.raises(ValueError, match="max_norm"):
        mle_guided_move(lambda t: t.sum(-1), theta, theta, alpha=0.1, sigma=0.1, max_norm=0.0)
    with pytest.raises(TypeError, match="mle_grad"):
        mle_guided_move(lambda t: t.sum(-1), theta, theta.long(), alpha=0.1, sigma=0.1)
