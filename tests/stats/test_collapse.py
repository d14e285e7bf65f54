"""Collapse diagnostics: closed-form spreads, rank of known subspaces, the monitor's verdict."""

from __future__ import annotations

import math

import pytest
import torch

from kexue.stats.collapse import CollapseMonitor, effective_rank, normalized_output_std

D = torch.float64


def test_spread_of_random_directions_is_one_over_sqrt_d() -> None:
    g = torch.Generator().manual_seed(0)
    for d in (4, 16, 64):
        z = torch.randn(20_000, d, generator=g, dtype=D)
        assert float(normalized_output_std(z)) * math.sqrt(d) == pytest.approx(1.0, abs=0.02)


def test_constant_direction_has_zero_spread_and_rank_one() -> None:
    z = (
        torch.tensor([[1.0, 2.0, 3.0]], dtype=D).repeat(10, 1)
        * torch.arange(1, 11, dtype=D)[:, None]
    )
    assert float(normalized_output_std(z)) == pytest.approx(0.0, abs=1e-12)
    assert float(effective_rank(torch.ones(5, 3, dtype=D))) == 1.0


def test_effective_rank_of_equal_variance_subspace() -> None:
    # rows ±e_i on k axes: centred singular values all equal, so the rank is exactly k
    k, d = 3, 8
    rows = [s * torch.eye(d, dtype=D)[i] for i in range(k) for s in (1.0, -1.0)]
    z = torch.stack(rows)
    assert float(effective_rank(z)) == pytest.approx(k, rel=1e-12)
    # a brute-force definition: exp of the entropy of normalised singular values
    g = torch.Generator().manual_seed(1)
    w = torch.randn(50, 6, generator=g, dtype=D)
    s = torch.linalg.svdvals(w - w.mean(0))
    p = s / s.sum()
    torch.testing.assert_close(effective_rank(w), torch.exp(-(p * p.log()).sum()))


def test_monitor_flags_collapse() -> None:
    g = torch.Generator().manual_seed(2)
    m = CollapseMonitor(threshold=0.1)
    assert not m.collapsed and "no records" in repr(m)
    healthy = m.update(torch.randn(256, 16, generator=g))
    assert healthy.std_ratio > 0.9 and not m.collapsed
    base = torch.randn(16, generator=g)
    m.update(base + 1e-3 * torch.randn(256, 16, generator=g), step=10)
    assert m.collapsed and m.history[-1].step == 10 and len(m.history) == 2
    assert "2 records" in repr(m)


@pytest.mark.parametrize(
    ("z", "error"),
    [
        (torch.ones(1, 3), ValueError),
        (torch.ones(4), ValueError),
        (torch.ones(3, 2, dtype=torch.long), TypeError),
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), ValueError),
    ],
)
def test_bad_input_names_z(z: torch.Tensor, error: type[Exception]) -> None:
    with pytest.raises(error, match="z"):
        normalized_output_std(z)
    with pytest.raises(error, match="z"):
        effective_rank(z)


def test_bad_threshold() -> None:
    with pytest.raises(ValueError, match="threshold"):
        CollapseMonitor(threshold=0.0)
