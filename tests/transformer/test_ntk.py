"""Tests for kexue.transformer.ntk: NTK-parameterised linear layers."""

from __future__ import annotations

import pytest
import torch

from kexue.transformer.ntk import NTKLinear, ntk_linear


def test_ntk_linear_equals_scaled_linear_and_matches_lecun_moments() -> None:
    x = torch.randn(4096, 64, dtype=torch.float64)
    w, b = torch.randn(32, 64, dtype=torch.float64), torch.randn(32, dtype=torch.float64)
    torch.testing.assert_close(ntk_linear(x, w, b), torch.nn.functional.linear(x, w / 8.0, b))
    layer = NTKLinear(64, 32, dtype=torch.float64)
    assert float(layer.weight.detach().std()) == pytest.approx(1.0, rel=0.05)
    assert float(layer(x).detach().pow(2).mean()) == pytest.approx(
        1.0, rel=0.1
    )  # = LeCun forward stats
    assert torch.equal(layer.bias, torch.zeros(32, dtype=torch.float64))
    torch.testing.assert_close(layer(x), ntk_linear(x, layer.weight, layer.bias))


def test_ntk_adam_step_is_relative_lr() -> None:
    torch.manual_seed(0)
    layer = NTKLinear(64, 64, bias=False, dtype=torch.float64)
    w0 = layer.weight.detach().clone()
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    layer(torch.randn(256, 64, dtype=torch.float64)).pow(2).mean().backward()
    opt.step()
    rel = float((layer.weight.detach() - w0).norm() / w0.norm())
    assert rel == pytest.approx(1e-2, rel=0.05)


def test_ntk_linear_bad_input() -> None:
    with pytest.raises(ValueError, match="weight"):
        ntk_linear(torch.randn(2, 5), torch.randn(3, 4))
    with pytest.raises(TypeError, match="x"):
        ntk_linear(torch.ones(2, 4, dtype=torch.long), torch.randn(3, 4))
    with pytest.raises(ValueError, match="bias"):
        ntk_linear(torch.randn(2, 4), torch.randn(3, 4), torch.zeros(4))


@pytest.mark.parametrize("n", [0, -1])
def test_ntk_linear_rejects_empty_fan_in(n: int) -> None:
    """in_features=0 used to give NaN (0 / sqrt(0)) instead of an error."""
    with pytest.raises(ValueError, match="in_features"):
        NTKLinear(n, 3)
    with pytest.raises(ValueError, match="out_features"):
        NTKLinear(3, n)
    with pytest.raises(TypeError, match="in_features"):
        NTKLinear(2.5, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fan-in"):
        ntk_linear(torch.randn(2, 0), torch.randn(3, 0))
