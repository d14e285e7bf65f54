"""Lookahead: the sync formula, untouched inner state, bit-identical state round-trip."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from kexue.optim import GradientAccumulation, Lookahead

from ._models import data, mlp, params, rosenbrock


def _steps(opt: torch.optim.Optimizer, model, n: int, start: int = 0) -> None:
    x, y = data(n=64)
    for i in range(start, start + n):
        opt.zero_grad()
        F.cross_entropy(model(x[4 * i % 64 :][:4]), y[4 * i % 64 :][:4]).backward()
        opt.step()


def test_sync_after_k_steps_matches_the_formula_and_keeps_inner_state() -> None:
    k, alpha = 5, 0.5
    model, twin = mlp(), mlp()
    phi0 = params(model)
    bare = torch.optim.Adam(twin.parameters(), lr=0.01)
    _steps(bare, twin, k)  # the fast weights without lookahead
    inner = torch.optim.Adam(model.parameters(), lr=0.01)
    opt = Lookahead(inner, k=k, alpha=alpha)
    _steps(opt, model, k)
    expected = phi0 + alpha * (params(twin) - phi0)
    torch.testing.assert_close(params(model), expected, rtol=0, atol=1e-14)
    for i, s in bare.state_dict()["state"].items():  # the sync leaves Adam's moments alone
        for key, value in s.items():
            assert torch.equal(inner.state_dict()["state"][i][key], value)


def test_state_dict_round_trip_is_bit_identical() -> None:
    model = mlp()
    opt = Lookahead(torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.1), k=3)
    _steps(opt, model, 4)
    saved = copy.deepcopy((model.state_dict(), opt.state_dict()))
    _steps(opt, model, 7, start=4)
    other = mlp(seed=3)
    other.load_state_dict(saved[0])
    opt2 = Lookahead(torch.optim.AdamW(other.parameters(), lr=0.01, weight_decay=0.1), k=3)
    opt2.load_state_dict(saved[1])
    _steps(opt2, other, 7, start=4)
    assert torch.equal(params(other), params(model))


def test_rosenbrock_converges() -> None:
    def make(p):
        return Lookahead(torch.optim.Adam(p, lr=0.05), k=5, alpha=0.5)

    assert rosenbrock(make, 1500) < 5e-2


def test_bad_input() -> None:
    model = mlp()
    with pytest.raises(TypeError, match="optimizer"):
        Lookahead([1, 2])  # type: ignore[arg-type]
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="k"):
        Lookahead(sgd, k=0)
    with pytest.raises(ValueError, match="alpha"):
        Lookahead(sgd, alpha=1.5)
    with pytest.raises(ValueError, match="other way round"):
        Lookahead(GradientAccumulation(sgd, 2))
