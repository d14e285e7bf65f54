"""Tests for kexue.geometry.gaussian_pairwise: shared-factor and all-pairs Gaussian distances (D2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import kexue.geometry._pairs as pairs_mod
import kexue.geometry.gaussian_pairwise as pairwise_mod
from kexue.geometry._pairs import batched_matmul
from kexue.geometry.gaussian import (
    bhattacharyya_distance_gaussian,
    kl_divergence_gaussian,
    wasserstein2_gaussian,
)
from kexue.geometry.gaussian_pairwise import (
    DISTANCES,
    gaussian_distances,
    pairwise_gaussian_distances,
)

F64 = torch.float64
SINGLE = {
    "kl": kl_divergence_gaussian,
    "bhattacharyya": bhattacharyya_distance_gaussian,
    "wasserstein2": wasserstein2_gaussian,
}


def gaussians(n: int, d: int, seed: int, dtype: torch.dtype = F64) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, d, generator=g, dtype=F64)
    cov = a @ a.mT / d + 0.1 * torch.eye(d, dtype=F64)
    return torch.randn(n, d, generator=g, dtype=F64).to(dtype), cov.to(dtype)


@pytest.mark.parametrize("diagonal", [False, True])
def test_shared_factors_equal_the_single_functions(diagonal: bool) -> None:
    mp, cp = gaussians(6, 5, seed=0)
    mq, cq = gaussians(6, 5, seed=1)
    if diagonal:
        cp, cq = cp.diagonal(dim1=-2, dim2=-1), cq.diagonal(dim1=-2, dim2=-1)
    out = gaussian_distances(mp, cp, mq, cq, diagonal=diagonal)
    assert tuple(out) == DISTANCES
    for name, fn in SINGLE.items():
        want = fn(mp, cp, mq, cq, diagonal=diagonal)
        torch.testing.assert_close(out[name], want, rtol=1e-12, atol=1e-12)
    sq = gaussian_distances(
        mp, cp, mq, cq, distances="wasserstein2", squared=True, diagonal=diagonal
    )
    want = wasserstein2_gaussian(mp, cp, mq, cq, squared=True, diagonal=diagonal)
    torch.testing.assert_close(sq["wasserstein2"], want, rtol=1e-12, atol=1e-12)


def test_shared_factors_broadcast_and_block_like_the_single_functions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mp, cp = gaussians(3, 4, seed=2)
    mq, cq = gaussians(1, 4, seed=3)
    full = gaussian_distances(mp[:, None], cp[:, None], mq, cq, distances=("wasserstein2", "kl"))
    monkeypatch.setattr(pairs_mod, "_BLOCK_ELEMENTS", 40)  # several blocks of 2 matrices
    blocked = gaussian_distances(mp[:, None], cp[:, None], mq, cq, distances=("wasserstein2", "kl"))
    assert list(full) == ["wasserstein2", "kl"] and full["kl"].shape == (3, 1)
    for name in full:
        torch.testing.assert_close(blocked[name], full[name], rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(full[name], SINGLE[name](mp[:, None], cp[:, None], mq, cq))


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("block", [2**18, 50])
def test_pairwise_equals_the_loop_over_pairs(
    diagonal: bool, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pairwise_mod, "_BLOCK_ELEMENTS", block)  # 50: one row per block
    mp, cp = gaussians(5, 3, seed=4)
    mq, cq = gaussians(4, 3, seed=5)
    if diagonal:
        cp, cq = cp.diagonal(dim1=-2, dim2=-1), cq.diagonal(dim1=-2, dim2=-1)
    table = pairwise_gaussian_distances(mp, cp, mq, cq, distances=DISTANCES, diagonal=diagonal)
    for name, fn in SINGLE.items():
        loop = torch.stack(
            [
                torch.stack([fn(mp[i], cp[i], mq[j], cq[j], diagonal=diagonal) for j in range(4)])
                for i in range(5)
            ]
        )
        assert table[name].shape == (5, 4)
        torch.testing.assert_close(table[name], loop, rtol=1e-12, atol=1e-12)


def test_pairwise_of_a_set_with_itself_has_a_zero_diagonal_and_symmetric_w2() -> None:
    m, c = gaussians(4, 6, seed=6)
    table = pairwise_gaussian_distances(m, c, m, c, distances=("wasserstein2", "kl"), squared=True)
    assert torch.allclose(table["wasserstein2"].diagonal(), torch.zeros(4, dtype=F64), atol=1e-10)
    assert table["kl"].diagonal().abs().max() < 1e-20  # each term vanishes to rounding
    torch.testing.assert_close(table["wasserstein2"], table["wasserstein2"].T)


def test_pairwise_float32_keeps_its_dtype_and_matches_float64() -> None:
    mp, cp = gaussians(3, 8, seed=7)
    mq, cq = gaussians(2, 8, seed=8)
    t64 = pairwise_gaussian_distances(mp, cp, mq, cq, distances=DISTANCES)
    t32 = pairwise_gaussian_distances(
        mp.float(), cp.float(), mq.float(), cq.float(), distances=DISTANCES
    )
    for name in DISTANCES:
        assert t32[name].dtype == torch.float32
        torch.testing.assert_close(t32[name].double(), t64[name], rtol=1e-4, atol=1e-4)


def test_fast_and_autograd_paths_agree() -> None:
    """The no-grad CPU products go through numpy; with requires_grad they are torch's: same values."""
    mp, cp = gaussians(64, 16, seed=9)
    mq, cq = gaussians(64, 16, seed=10)
    fast = wasserstein2_gaussian(mp, cp, mq, cq, squared=True)
    cp_g = cp.clone().requires_grad_()
    checked = wasserstein2_gaussian(mp, cp_g, mq, cq, squared=True)
    torch.testing.assert_close(fast, checked.detach(), rtol=1e-12, atol=1e-12)
    checked.sum().backward()
    assert cp_g.grad is not None and torch.isfinite(cp_g.grad).all()
    for dtype, tol in ((F64, 1e-13), (torch.float32, 1e-5)):
        a, b = cp.to(dtype), cq.to(dtype)
        for x, y in ((a, b), (a.mT, b), (a, b.mT), (a[:, None], b[None, :3])):
            got = batched_matmul(x, y)
            torch.testing.assert_close(got, x @ y, rtol=tol, atol=tol)


@pytest.mark.parametrize("fn", [gaussian_distances, pairwise_gaussian_distances])
def test_bad_inputs_raise_like_the_single_functions(fn: Callable[..., Any]) -> None:
    mp, cp = gaussians(3, 4, seed=11)
    mq, cq = gaussians(3, 4, seed=12)
    call = fn
    nan_mean = mp.clone()
    nan_mean[1, 2] = float("nan")
    indefinite = cq.clone()
    indefinite[1] = torch.diag(torch.tensor([1.0, -2.0, 1.0, 1.0], dtype=F64))
    nan_cov = cp.clone()
    nan_cov[0, 1, 1] = float("nan")
    cases: list[tuple[tuple[torch.Tensor, ...], dict[str, Any], type[Exception], str]] = [
        ((mp, cp.long(), mq, cq), {}, TypeError, "cov_p"),
        ((mp, cp, mq[..., :2], cq), {}, ValueError, "mean_q"),
        ((nan_mean, cp, mq, cq), {}, ValueError, "mean_p"),
        ((mp, nan_cov, mq, cq), {}, ValueError, "cov_p"),
        ((mp, cp, mq, indefinite), {}, ValueError, "cov_q"),
        ((mp, cp + torch.triu(cp, 1), mq, cq), {}, ValueError, "cov_p"),
        ((mp, cp, mq, cq), {"distances": "w2"}, ValueError, "distances"),
        ((mp, cp, mq, cq), {"distances": ()}, ValueError, "distances"),
        ((mp, cp, mq, cq), {"eps": -1.0}, ValueError, "eps"),
    ]
    for args, kw, err, match in cases:
        with pytest.raises(err, match=match):
            call(*args, **kw)
    if fn is pairwise_gaussian_distances:
        with pytest.raises(ValueError, match="pairwise"):
            call(mp[0], cp[0], mq, cq)
        with pytest.raises(ValueError, match="same"):
            call(mp, cp[:2], mq, cq)
