r"""Lookahead: slow weights that move a fraction α towards the fast weights every k steps.

The wrapped ("fast") optimiser steps as usual; every k-th step the slow weights φ (a copy of the
initial parameters) become :math:`\phi\leftarrow\phi+\alpha(\theta-\phi)` and the parameters are
reset to them, :math:`\theta\leftarrow\phi`. The inner optimiser's state (Adam moments, step
counts) is left as it is. The slow weights and the fast-step count travel in ``state_dict()``
(a point where other Lookahead ports lose state), and LR schedulers attached to the wrapper act
on the inner optimiser's groups.

Reference: 苏剑林, Keras实现两个优化器：Lookahead和LazyOptimizer, https://kexue.fm/archives/6869
(Zhang et al. 2019, "Lookahead Optimizer: k steps forward, 1 step back").
"""

from __future__ import annotations

from typing import Any

import torch

from kexue.optim._wrapper import OptimizerWrapper, check_steps

__all__ = ["Lookahead"]


class Lookahead(OptimizerWrapper):
    r"""Wrap ``optimizer`` with Lookahead's slow weights.

    Args:
        optimizer: any ``torch.optim.Optimizer`` (put a
            :class:`~kexue.optim.accumulation.GradientAccumulation` *around* this wrapper, not
            inside it, so k counts updates).
        k: fast steps between syncs (the article's default 5).
        alpha: slow step size α ∈ (0, 1] (default 0.5; α = 1 is the bare optimiser).

    Raises:
        TypeError: ``optimizer`` is not an optimiser; ``k`` not an int.
        ValueError: ``k`` ≤ 0; ``alpha`` outside (0, 1]; an accumulation wrapper inside.

    Reference: 苏剑林, Keras实现两个优化器：Lookahead和LazyOptimizer, https://kexue.fm/archives/6869
    """

    _state_key = "lookahead"

    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        from kexue.optim.accumulation import GradientAccumulation

        super().__init__(optimizer)
        if isinstance(optimizer, GradientAccumulation):
            raise ValueError(
                "optimizer is a GradientAccumulation: wrap it the other way round, "
                "GradientAccumulation(Lookahead(opt), steps), so k counts updates"
            )
        self.k = check_steps(k, "k")
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 1:
            raise ValueError(f"alpha must be a number in (0, 1], got {alpha!r}")
        self.alpha = float(alpha)
        self.fast_steps = 0
        self.slow = [p.detach().clone() for p in self._params()]

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    @torch.no_grad()
    def sync(self) -> None:
        r"""φ ← φ + α(θ − φ); θ ← φ (called every k steps by :meth:`step`)."""
        params = self._params()
        torch._foreach_lerp_(self.slow, params, self.alpha)
        torch._foreach_copy_(params, self.slow)

    def step(self, closure: Any = None) -> Any:
        """One fast step of the inner optimiser; a slow-weight sync on every k-th."""
        out = self.optimizer.step(closure)
        self.fast_steps += 1
        if self.fast_steps % self.k == 0:
            self.sync()
        return out

    def _extra_state(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "alpha": self.alpha,
            "fast_steps": self.fast_steps,
            "slow": [s.clone() for s in self.slow],
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        slow = state["slow"]
        if len(slow) != len(self.slow) or any(
            a.shape != b.shape for a, b in zip(slow, self.slow, strict=False)
        ):
            got = [tuple(s.shape) for s in slow]
            raise ValueError(f"state_dict's slow weights have shapes {got}, not the parameters'")
        self.k, self.alpha, self.fast_steps = int(state["k"]), float(state["alpha"]), 0
        self.fast_steps = int(state["fast_steps"])
        with torch.no_grad():
            for dst, src in zip(self.slow, slow, strict=True):
                dst.copy_(src)
