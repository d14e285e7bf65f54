"""Tests for kexue.optim.zeroth_order: policy-gradient and Gaussian-smoothing estimators (technique C3)."""

from __future__ import annotations

import pytest
import torch

from kexue.optim.zeroth_order import GradientEstimate, policy_gradient, zeroth_order_gradient

F64 = torch.float64


def _quadratic(d: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=F64)
    h = a @ a.T / d + 0.5 * torch.eye(d, dtype=F64)
    b = torch.randn(d, generator=g, dtype=F64)
    theta = torch.randn(d, generator=g, dtype=F64)
    return h, b, theta


def _f(h: torch.Tensor, b: torch.Tensor):  # batched f(t) = ½ tᵀHt + bᵀt
    return lambda t: 0.5 * torch.einsum("ni,ij,nj->n", t, h, t) + t @ b


def _z(est: GradientEstimate, truth: torch.Tensor) -> torch.Tensor:
    return (est.grad - truth) / est.stderr


@pytest.mark.parametrize(("antithetic", "baseline"), [(True, True), (False, True), (False, False)])
@pytest.mark.parametrize("sigma", [0.05, 1.0])
def test_zeroth_order_unbiased_on_quadratic(antithetic: bool, baseline: bool, sigma: float) -> None:
    # smoothing a quadratic only adds a constant, so the estimator is unbiased for ∇f at any σ
    h, b, theta = _quadratic()
    est = zeroth_order_gradient(
        _f(h, b), theta, sigma=sigma, samples=20_000, antithetic=antithetic, baseline=baseline,
        generator=torch.Generator().manual_seed(1),
    )  # fmt: skip
    z = _z(est, h @ theta + b)
    assert z.abs().max() < 4.0
    assert 0.2 < float((z * z).mean()) < 3.0  # the standard error is the right size, too


def test_zeroth_order_z_scores_are_standard_over_repeats() -> None:
    h, b, theta = _quadratic(d=4, seed=3)
    g = torch.Generator().manual_seed(2)
    zs = torch.stack([
        _z(zeroth_order_gradient(_f(h, b), theta, sigma=0.3, samples=500, generator=g),
           h @ theta + b)
        for _ in range(200)
    ])  # fmt: skip
    assert abs(float(zs.mean())) < 0.1
    assert 0.85 < float(zs.std()) < 1.15


def test_antithetic_and_baseline_lower_the_variance() -> None:
    h, b, theta = _quadratic()
    f = _f(h, b)
    var = {}
    for key, kw in {
        "plain": {"antithetic": False, "baseline": False},
        "baseline": {"antithetic": False, "baseline": True},
        "antithetic": {"antithetic": True},
    }.items():
        est = zeroth_order_gradient(
            f, theta, sigma=1.0, samples=4000, generator=torch.Generator().manual_seed(0), **kw
        )
        var[key] = float(est.variance)
    assert var["antithetic"] < var["baseline"] < var["plain"]
    assert var["plain"] > 2 * var["antithetic"]
    # antithetic pairs cancel the even part exactly: on a linear f each draw is (bᵀu)u, whatever σ
    lin = [
        zeroth_order_gradient(lambda t: t @ b, theta, sigma=s, samples=3,
                              generator=torch.Generator().manual_seed(5)).draws
        for s in (0.01, 3.0)
    ]  # fmt: skip
    torch.testing.assert_close(lin[0], lin[1], rtol=1e-9, atol=1e-12)


def test_zeroth_order_matches_gradient_of_smooth_loss() -> None:
    # logistic loss on breast_cancer: cos(ZO, autograd) > 0.99 (the spec's acceptance check)
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    xt = torch.tensor((x - x.mean(0)) / x.std(0), dtype=F64)
    yt = torch.tensor(y, dtype=F64)

    def loss(w: torch.Tensor) -> torch.Tensor:  # (m, 30) -> (m,)
        return torch.nn.functional.softplus(-(2 * yt - 1) * (w @ xt.T)).mean(-1)

    w = torch.zeros(30, dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(loss(w.unsqueeze(0)).sum(), w)
    est = zeroth_order_gradient(
        loss, w.detach(), sigma=1e-3, samples=20_000, generator=torch.Generator().manual_seed(0)
    )
    assert float(torch.nn.functional.cosine_similarity(est.grad, grad, dim=0)) > 0.99


def _policy_problem(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 3, generator=g, dtype=F64)
    rewards = torch.rand(5, 4, generator=g, dtype=F64)
    theta = torch.randn(3, 4, generator=g, dtype=F64)

    def logits(t: torch.Tensor) -> torch.Tensor:
        return x.to(t.dtype) @ t  # (B, K)

    return logits, theta, rewards


def _exact_pg(logits, theta, rewards, tau: float = 1.0) -> torch.Tensor:
    t = theta.clone().requires_grad_(True)
    j = (torch.softmax(logits(t) / tau, -1) * rewards).sum(-1).mean()
    (grad,) = torch.autograd.grad(j, t)
    return grad


@pytest.mark.parametrize("baseline", ["none", "mean", "optimal"])
@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_policy_gradient_unbiased(baseline: str, tau: float) -> None:
    logits, theta, rewards = _policy_problem()
    truth = _exact_pg(logits, theta, rewards, tau)
    g = torch.Generator().manual_seed(4)
    ests = [
        policy_gradient(logits, theta, rewards, samples=2000, baseline=baseline, temperature=tau,
                        generator=g)
        for _ in range(10)
    ]  # fmt: skip
    mean = torch.stack([e.grad for e in ests]).mean(0)
    stderr = torch.stack([e.stderr for e in ests]).pow(2).mean(0).sqrt() / 10**0.5
    z = (mean - truth) / stderr
    assert z.abs().max() < 4.0
    assert 0.2 < float((z * z).mean()) < 3.0


def test_policy_gradient_relative_error_shrinks_and_baselines_help() -> None:
    logits, theta, rewards = _policy_problem(seed=1)
    rewards = rewards + 2.0  # a large common offset: what a baseline removes
    truth = _exact_pg(logits, theta, rewards)

    def rel_err(samples: int, baseline: str) -> float:
        g = torch.Generator().manual_seed(samples)
        e = policy_gradient(logits, theta, rewards, samples=samples, baseline=baseline, generator=g)
        return float((e.grad - truth).norm() / truth.norm())

    assert rel_err(40_000, "none") < rel_err(400, "none") / 3
    var = {
        b: float(policy_gradient(logits, theta, rewards, samples=4000, baseline=b,
                                 generator=torch.Generator().manual_seed(0)).variance)
        for b in ("none", "mean", "optimal")
    }  # fmt: skip
    assert var["mean"] < var["none"] / 5
    assert var["optimal"] <= var["mean"] * 1.05


def test_fill_grad_drives_a_torch_optimiser() -> None:
    # maximise J with the estimate written into .grad and Adam(maximize=True)
    logits, theta, rewards = _policy_problem(seed=2)
    param = theta.clone()
    opt = torch.optim.Adam([param], lr=0.05, maximize=True)
    g = torch.Generator().manual_seed(0)

    def j(t: torch.Tensor) -> float:
        return float((torch.softmax(logits(t), -1) * rewards).sum(-1).mean())

    start = j(param)
    for _ in range(100):
        opt.zero_grad()
        policy_gradient(logits, param.detach(), rewards, samples=64, generator=g).fill_grad(param)
        opt.step()
    assert j(param) > start + 0.05
    est = zeroth_order_gradient(
        lambda t: t.sum(-1), torch.zeros(3, dtype=F64), sigma=1.0, samples=2
    )
    with pytest.raises(ValueError, match="param"):
        est.fill_grad(torch.zeros(4, dtype=F64))


def test_dtype_follows_theta() -> None:
    for dtype in (torch.float32, F64):
        est = zeroth_order_gradient(lambda t: (t * t).sum(-1), torch.ones(3, dtype=dtype),
                                    sigma=0.1, samples=8)  # fmt: skip
        assert est.grad.dtype == est.stderr.dtype == dtype
        logits, theta, rewards = _policy_problem()
        pg = policy_gradient(logits, theta.to(dtype), rewards.to(dtype), samples=4)
        assert pg.grad.dtype == dtype and pg.grad.shape == theta.shape


@pytest.mark.parametrize(
    ("kwargs", "error", "arg"),
    [
        ({"sigma": 0.0}, ValueError, "sigma"),
        ({"sigma": -1.0}, ValueError, "sigma"),
        ({"samples": 0}, ValueError, "samples"),
        ({"samples": -3}, ValueError, "samples"),
        ({"samples": 2.5}, TypeError, "samples"),
        ({"theta": torch.ones(3, dtype=torch.long)}, TypeError, "theta"),
        ({"theta": torch.tensor([1.0, float("nan"), 0.0])}, ValueError, "theta"),
        ({"f": lambda t: t}, ValueError, "f must map"),
    ],
)
def test_zeroth_order_bad_input(kwargs: dict, error: type, arg: str) -> None:
    call = {"f": lambda t: t.sum(-1), "theta": torch.ones(3), "sigma": 0.1, "samples": 4}
    call.update(kwargs)
    with pytest.raises(error, match=arg):
        zeroth_order_gradient(call.pop("f"), call.pop("theta"), **call)


@pytest.mark.parametrize(
    ("kwargs", "error", "arg"),
    [
        ({"samples": 0}, ValueError, "samples"),
        ({"samples": 1}, ValueError, "samples"),  # leave-one-out mean needs two draws
        ({"temperature": 0.0}, ValueError, "temperature"),
        ({"baseline": "median"}, ValueError, "baseline"),
        ({"rewards": torch.ones(5, 3, dtype=F64)}, ValueError, "rewards"),
        ({"rewards": torch.ones(5, 4, dtype=torch.long)}, TypeError, "rewards"),
        ({"rewards": torch.ones(20, dtype=F64)}, ValueError, "rewards"),
    ],
)
def test_policy_gradient_bad_input(kwargs: dict, error: type, arg: str) -> None:
    logits, theta, rewards = _policy_problem()
    call = {"rewards": rewards, "samples": 4}
    call.update(kwargs)
    with pytest.raises(error, match=arg):
        policy_gradient(logits, theta, call.pop("rewards"), **call)
