r"""Gradient accumulation ("soft batch"): k micro-batches of size b make one step of batch k·b.

The micro-batch gradients, each from a *mean*-reduced loss, are summed by autograd in ``.grad``
(nothing zeroes them in between); every k-th :meth:`GradientAccumulation.step` divides the sum by
k, runs the wrapped optimiser once and zeroes the gradients. That is exactly the gradient of the
mean loss over the union batch, so every optimiser (SGD, Adam, AdamW with its decoupled decay,
schedules, clipping applied before ``step``) takes the step it would take on the k×-larger batch.

Caveats:

- **Loss scaling.** Losses must be means over the micro-batch (the ``reduction="mean"`` default);
  the wrapper does the division by k, so do *not* also divide the loss by k. With a *summed*
  loss the update is k times the mean-loss step (divide the loss by the big batch size instead).
- **Coupled samples.** Equivalence needs per-sample losses: BatchNorm normalises with
  micro-batch statistics (and updates its running averages k times), in-batch negatives see only
  the micro-batch; such models are *not* equivalent to the big batch.
- **Under DDP** wrap the non-final micro-steps in :meth:`GradientAccumulation.no_sync` so only
  the final backward all-reduces (the averaged gradient is the same; the traffic is k times less).
- Partial accumulations are not part of ``state_dict()``: checkpoint at update boundaries.

The Keras original (6794) froze the inner optimiser's state on skipped steps by setting lr → 0 and
momenta → 1 − 1e-7 (approximate); here the inner optimiser is simply not called.

Reference: 苏剑林, 用时间换取效果：Keras梯度累积优化器, https://kexue.fm/archives/6794
(the retracted soft-batch of https://kexue.fm/archives/5879).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from kexue.optim._wrapper import OptimizerWrapper, check_steps

__all__ = ["GradientAccumulation"]

NONFINITE = ("raise", "skip", "off")


class GradientAccumulation(OptimizerWrapper):
    r"""Update every ``steps`` calls of :meth:`step` with the mean of the accumulated gradients.

    The usual loop works unchanged — ``zero_grad()`` between micro-steps keeps the accumulated
    gradients (the wrapper zeroes them itself after each update)::

        opt = GradientAccumulation(torch.optim.AdamW(model.parameters()), steps=4)
        for x, y in loader:                      # micro-batches
            with opt.no_sync(model):             # skips DDP's all-reduce on non-final steps
                loss_fn(model(x), y).backward()  # mean loss; not divided by 4
            opt.step()                           # updates on every 4th call

    Args:
        optimizer: any ``torch.optim.Optimizer`` (or another wrapper, e.g. ``Lookahead``).
        steps: micro-batches per update k (``1`` = the bare optimiser).
        nonfinite: a NaN/inf in the averaged gradient ``"raise"`` (``FloatingPointError`` naming
            the parameter) or ``"skip"`` the update, discard the gradients and count it in
            :attr:`skipped`; ``"off"`` does not look (one read of every gradient less per update)
            — for use with ``torch.amp.GradScaler``, whose ``step`` skips non-finite updates
            itself, or when NaN parameters are an acceptable signal.

    Attributes:
        updates: inner optimiser steps taken; skipped: updates skipped for non-finite gradients.

    Raises:
        TypeError: ``optimizer`` is not an optimiser; ``steps`` not an int.
        ValueError: ``steps`` ≤ 0; unknown ``nonfinite``.

    Reference: 苏剑林, 用时间换取效果：Keras梯度累积优化器, https://kexue.fm/archives/6794
    """

    _state_key = "accumulation"

    def __init__(
        self, optimizer: torch.optim.Optimizer, steps: int, *, nonfinite: str = "raise"
    ) -> None:
        super().__init__(optimizer)
        self.steps = check_steps(steps, "steps")
        if nonfinite not in NONFINITE:
            raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
        self.nonfinite = nonfinite
        self.micro_step = 0
        self.updates = 0
        self.skipped = 0

    @property
    def will_update(self) -> bool:
        """Whether the next :meth:`step` call updates the parameters (the final micro-step)."""
        return self.micro_step + 1 >= self.steps

    def no_sync(self, model: nn.Module) -> contextlib.AbstractContextManager[Any]:
        """``model.no_sync()`` for a DDP model on a non-final micro-step, else a no-op context."""
        if not self.will_update and hasattr(model, "no_sync"):
            return model.no_sync()  # type: ignore[operator]
        return contextlib.nullcontext()

    def _grads(self) -> list[torch.Tensor]:
        return [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]

    def _nonfinite(self, grads: list[torch.Tensor]) -> list[int]:
        """Indices (among parameters with gradients) of non-finite gradients; one sync if none."""
        if not grads:
            return []
        # a NaN/inf makes its sum non-finite; an overflowing sum only sends us to the exact scan
        half = (torch.float16, torch.bfloat16)
        sums = [g.sum(dtype=torch.float32 if g.dtype in half else None) for g in grads]
        if bool(torch.isfinite(torch.stack([s.double().to(sums[0].device) for s in sums])).all()):
            return []
        return [i for i, g in enumerate(grads) if not bool(torch.isfinite(g).all())]

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """Count a micro-step; on every ``steps``-th, average, update and zero the gradients.

        Returns the inner ``step``'s return value on an update, else ``None``.
        """
        if closure is not None:
            raise ValueError("closure is not supported: accumulate with backward() calls")
        self.micro_step += 1
        if self.micro_step < self.steps:
            return None
        self.micro_step = 0
        grads = self._grads()
        if self.steps > 1 and grads:
            torch._foreach_div_(grads, self.steps)
        bad = [] if self.nonfinite == "off" else self._nonfinite(grads)
        if bad:
            if self.nonfinite == "raise":
                raise FloatingPointError(
                    f"the accumulated gradient of parameter(s) {bad} (index among the parameters "
                    "with gradients) has NaN/inf values; pass nonfinite='skip' to skip such updates"
                )
            self.skipped += 1
            self.optimizer.zero_grad()
            return None
        out = self.optimizer.step()
        self.updates += 1
        self.optimizer.zero_grad()
        return out

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradients at an update boundary; between micro-steps keep them (no-op)."""
        if self.micro_step == 0:
            self.optimizer.zero_grad(set_to_none=set_to_none)

    def reset(self) -> None:
        """Discard a partial accumulation: zero the gradients and restart the micro-step count."""
        self.micro_step = 0
        self.optimizer.zero_grad()

    def _extra_state(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "micro_step": self.micro_step,
            "updates": self.updates,
            "skipped": self.skipped,
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        if state["steps"] != self.steps:
            raise ValueError(
                f"state_dict was saved with steps={state['steps']}, this wrapper has "
                f"steps={self.steps}"
            )
        self.micro_step, self.updates = int(state["micro_step"]), int(state["updates"])
        self.skipped = int(state["skipped"])
