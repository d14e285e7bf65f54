"""Tests for kexue.transformer.residual: Post-Norm, Pre-Norm, ReZero and scheduled-alpha residual blocks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from kexue.transformer.attention import softmax_attention
from kexue.transformer.position import rotary_embedding
from kexue.transformer.residual import (
    AttentionBranch,
    FeedForwardBranch,
    ResidualBlock,
    residual_step,
    set_residual_alpha_,
)


def _branch() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 8), nn.Tanh()).double()


def test_schemes_match_formulas() -> None:
    x = torch.randn(5, 8, dtype=torch.float64)
    f = _branch()
    post = ResidualBlock(f, 8, scheme="post_norm").double()
    torch.testing.assert_close(post(x), nn.functional.layer_norm(x + f(x), (8,), eps=1e-5))
    pre = ResidualBlock(f, 8, scheme="pre_norm").double()
    torch.testing.assert_close(pre(x), x + f(nn.functional.layer_norm(x, (8,), eps=1e-5)))
    rz = ResidualBlock(f, 8, scheme="rezero", alpha_init=0.3).double()
    torch.testing.assert_close(rz(x), x + 0.3 * f(x))


def test_rezero_identity_at_init_and_alpha_gets_gradient() -> None:
    x = torch.randn(5, 8, dtype=torch.float64)
    blk = ResidualBlock(_branch(), 8, scheme="rezero").double()
    assert torch.equal(blk(x), x)
    blk(x).pow(2).sum().backward()
    assert blk.alpha.grad is not None and float(blk.alpha.grad.abs()) > 0
    assert all(float(p.grad.abs().sum()) == 0 for p in blk.branch.parameters())


def test_scheduled_alpha_is_a_buffer_raised_by_schedule() -> None:
    net = nn.Sequential(
        *(ResidualBlock(_branch(), 8, scheme="scheduled") for _ in range(3))
    ).double()
    assert not any(n.endswith("alpha") for n, _ in net.named_parameters())
    x = torch.randn(2, 8, dtype=torch.float64)
    assert torch.equal(net(x), x)
    for step in range(1, 6):
        assert set_residual_alpha_(net, min(1.0, step / 4)) == 3
    assert all(float(b.alpha) == 1.0 for b in net)
    with pytest.raises(ValueError, match="value"):
        set_residual_alpha_(net, 1.5)


def test_post_norm_skip_coefficient_halves_variance_per_step() -> None:
    """With Var(F) = Var(x), LN(x + F) divides the skip path by ~sqrt(2) per step."""
    torch.manual_seed(0)
    x = torch.randn(1024, 256, dtype=torch.float64)
    depth, log2c = 8, 0.0
    for _ in range(depth):
        fx = torch.randn_like(x)  # independent, unit-variance branch output
        s = x + fx
        log2c -= float(torch.log2(s.var(-1, unbiased=False)).mean()) / 2
        x = nn.functional.layer_norm(s, (256,))
    assert log2c == pytest.approx(-depth / 2, abs=0.05)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="scheme"):
        ResidualBlock(nn.Identity(), 4, scheme="sandwich")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="norm"):
        residual_step(torch.ones(3), lambda t: t, "post_norm")
    with pytest.raises(TypeError, match="x"):
        residual_step(torch.ones(3, dtype=torch.long), lambda t: t, "rezero")
    assert math.isfinite(
        float(residual_step(torch.ones(3), lambda t: t, "rezero", alpha=0.0).sum())
    )


def test_attention_branch_matches_explicit_heads() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 7, 16, dtype=torch.float64, generator=g)
    for rope in (False, True):
        att = AttentionBranch(16, 4, rope=rope, dtype=torch.float64)
        w_q, w_k, w_v = att.qkv.weight.split(16)  # fused in the order q, k, v

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(2, 7, 4, 4).transpose(1, 2)

        q, k, v = heads(x @ w_q.T), heads(x @ w_k.T), heads(x @ w_v.T)
        if rope:
            q, k = rotary_embedding(q), rotary_embedding(k)
        want = att.out(softmax_attention(q, k, v).transpose(1, 2).reshape(2, 7, 16))
        torch.testing.assert_close(att(x), want)


def test_branches_use_second_moment_preserving_init_and_their_generator() -> None:
    def make(seed: int) -> tuple[AttentionBranch, FeedForwardBranch]:
        g = torch.Generator().manual_seed(seed)
        att = AttentionBranch(256, 4, generator=g, dtype=torch.float64)
        return att, FeedForwardBranch(256, 1024, activation="relu", generator=g)

    state = torch.random.get_rng_state()
    att, ffn = make(0)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is untouched
    again, _ = make(0)
    assert torch.equal(att.qkv.weight, again.qkv.weight) and att.qkv.weight.dtype == torch.float64
    for layer, var in ((att.qkv, 1 / 256), (att.out, 1 / 256), (ffn.up, 2 / 256),
                       (ffn.down, 1 / 1024)):  # fmt: skip
        assert float(layer.weight.detach().var()) == pytest.approx(var, rel=0.03)
        assert not layer.bias.any()
    gelu = FeedForwardBranch(256, 1024, generator=torch.Generator().manual_seed(0))
    assert float(gelu.up.weight.detach().var()) == pytest.approx(1 / 256, rel=0.03)


def test_relu_ffn_preserves_the_second_moment() -> None:
    g = torch.Generator().manual_seed(1)
    ffn = FeedForwardBranch(512, 2048, activation="relu", generator=g, dtype=torch.float64)
    x = torch.randn(256, 512, dtype=torch.float64, generator=g)
    with torch.no_grad():
        assert float(ffn(x).pow(2).mean()) == pytest.approx(1.0, rel=0.05)


def test_branch_bad_input() -> None:
    with pytest.raises(ValueError, match="divisible"):
        AttentionBranch(10, 4)
    with pytest.raises(TypeError, match="heads"):
        AttentionBranch(8, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inner"):
        FeedForwardBranch(8, 0)
    with pytest.raises(ValueError, match="activation"):
        FeedForwardBranch(8, 16, activation="tanh")  # type: ignore[arg-type]
