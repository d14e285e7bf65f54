"""SimSiam loss: values against a hand-written cosine, the stop-gradient's effect on gradients."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue.losses.simsiam import SimSiamLoss, negative_cosine_similarity, simsiam_loss

D = torch.float64


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def test_matches_hand_written_cosine() -> None:
    g = torch.Generator().manual_seed(0)
    p1, p2, z1, z2 = torch.randn(4, 6, 5, generator=g, dtype=D).unbind(0)
    expected = -0.5 * (_cos(p1, z2).mean() + _cos(p2, z1).mean())
    torch.testing.assert_close(simsiam_loss(p1, p2, z1, z2), expected, rtol=1e-14, atol=1e-14)
    per = simsiam_loss(p1, p2, z1, z2, reduction="none")
    torch.testing.assert_close(per, -0.5 * (_cos(p1, z2) + _cos(p2, z1)))
    torch.testing.assert_close(SimSiamLoss()(p1, p2, z1, z2), expected)


def test_stop_gradient_blocks_the_target_branch() -> None:
    g = torch.Generator().manual_seed(1)
    p = torch.randn(3, 4, generator=g, dtype=D, requires_grad=True)
    z = torch.randn(3, 4, generator=g, dtype=D, requires_grad=True)
    negative_cosine_similarity(p, z).backward()
    assert z.grad is None and p.grad is not None and p.grad.abs().sum() > 0
    z2 = z.detach().clone().requires_grad_(True)
    negative_cosine_similarity(p, z2, stop_gradient=False).backward()
    assert z2.grad is not None and z2.grad.abs().sum() > 0


def test_gradcheck_without_stop_gradient() -> None:
    g = torch.Generator().manual_seed(2)
    p = torch.randn(2, 3, generator=g, dtype=D, requires_grad=True)
    z = torch.randn(2, 3, generator=g, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: negative_cosine_similarity(a, b, stop_gradient=False), (p, z)
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 100.0))
def test_bounded_and_scale_invariant(seed: int, scale: float) -> None:
    g = torch.Generator().manual_seed(seed)
    p, z = torch.randn(2, 5, 3, generator=g, dtype=D).unbind(0)
    loss = negative_cosine_similarity(p, z, reduction="none")
    assert bool(((loss >= -1 - 1e-12) & (loss <= 1 + 1e-12)).all())
    torch.testing.assert_close(negative_cosine_similarity(scale * p, z, reduction="none"), loss)
    assert float(negative_cosine_similarity(p, p)) == pytest.approx(-1.0, abs=1e-12)


def test_zero_vector_gives_zero_not_nan() -> None:
    out = negative_cosine_similarity(torch.zeros(2, 3), torch.ones(2, 3))
    assert float(out) == 0.0


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        ((torch.ones(2, 3), torch.ones(2, 4)), ValueError, "z"),
        ((torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3)), TypeError, "p"),
        ((torch.ones(2, 3), torch.full((2, 3), float("nan"))), ValueError, "z"),
        ((torch.ones(0, 3), torch.ones(0, 3)), ValueError, "p"),
    ],
)
def test_bad_input(args: tuple[torch.Tensor, ...], error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        negative_cosine_similarity(*args)


def test_bad_reduction_and_repr() -> None:
    with pytest.raises(ValueError, match="reduction"):
        SimSiamLoss(reduction="avg")
    assert "stop_gradient=False" in repr(SimSiamLoss(stop_gradient=False))
