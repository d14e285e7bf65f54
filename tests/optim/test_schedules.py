"""The bert4keras piecewise-linear schedule: knots hit exactly, LambdaLR factory."""

from __future__ import annotations

import pytest
import torch

from kexue.optim import PiecewiseLinearLR, piecewise_linear

D = torch.float64


def test_knots_and_interpolation() -> None:
    t = torch.tensor([0, 500, 1000, 1500, 2000, 5000], dtype=D)
    got = piecewise_linear(t, {1000: 1, 2000: 0.1})
    torch.testing.assert_close(got, torch.tensor([0, 0.5, 1, 0.55, 0.1, 0.1], dtype=D))
    assert piecewise_linear(t.float(), {0: 2.0}).dtype == torch.float32
    torch.testing.assert_close(piecewise_linear(t, {0: 2.0}), torch.full_like(t, 2.0))
    torch.testing.assert_close(
        piecewise_linear(torch.tensor([0.0, 5.0, 20.0], dtype=D), {0: 1.0, 10: 0.0}),
        torch.tensor([1.0, 0.5, 0.0], dtype=D),
    )


def test_scheduler_matches_the_function() -> None:
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=2.0)
    sched = PiecewiseLinearLR(opt, {4: 1, 8: 0.5})
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    want = 2.0 * piecewise_linear(torch.arange(10, dtype=D), {4: 1, 8: 0.5})
    assert lrs == pytest.approx(want.tolist(), abs=1e-12)
    state = sched.state_dict()
    fresh = PiecewiseLinearLR(torch.optim.SGD([p], lr=2.0), {4: 1, 8: 0.5})
    fresh.load_state_dict(state)
    assert fresh.last_epoch == 10


def test_bad_input() -> None:
    t = torch.arange(3.0)
    with pytest.raises(TypeError, match="step"):
        piecewise_linear(torch.arange(3), {1: 1.0})
    with pytest.raises(TypeError, match="step"):
        piecewise_linear([1.0], {1: 1.0})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step"):
        piecewise_linear(torch.tensor([float("nan")]), {1: 1.0})
    with pytest.raises(ValueError, match="schedule"):
        piecewise_linear(t, {})
    with pytest.raises(ValueError, match="schedule"):
        piecewise_linear(t, {-1: 1.0})
    with pytest.raises(TypeError, match="schedule"):
        piecewise_linear(t, [(1, 1.0)])  # type: ignore[arg-type]
