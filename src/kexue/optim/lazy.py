r"""Lazy (sparse-row) updates: embedding rows whose gradient is all zero keep their values.

With Adam-type optimisers an embedding row that is absent from the batch still moves: its
gradient is zero but its first moment is not, so the row drifts (and weight decay shrinks it).
:class:`LazyRows` runs the wrapped optimiser as usual and then restores, for the chosen matrices,
every row whose gradient row is entirely zero:

- ``moments="decay"`` (the article's variant, the default): only the *parameters* of untouched
  rows are restored; their moment buffers keep decaying every step as Adam computes them.
- ``moments="freeze"`` (TF ``LazyAdam`` / ``torch.optim.SparseAdam`` style): the per-element
  state tensors (``exp_avg``, ``exp_avg_sq``, momentum buffers ...) of untouched rows are
  restored too. The scalar step count is shared by the whole matrix, so the bias correction of a
  row that returns after a pause differs from SparseAdam's.

Rows are slices along dim 0 (``nn.Embedding.weight`` is ``(num_embeddings, dim)``). A row whose
true gradient is exactly zero (a padding row, a dead unit) is also treated as absent.

Reference: 苏剑林, Keras实现两个优化器：Lookahead和LazyOptimizer, https://kexue.fm/archives/6869
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from kexue.optim._wrapper import OptimizerWrapper

__all__ = ["LazyRows"]

MOMENTS = ("decay", "freeze")


class LazyRows(OptimizerWrapper):
    """Wrap ``optimizer`` so the rows of ``params`` with an all-zero gradient stay untouched.

    Args:
        optimizer: any ``torch.optim.Optimizer`` holding ``params``.
        params: the matrices updated lazily (e.g. ``[model.embedding.weight]``); the other
            parameters get the plain update.
        moments: ``"decay"`` (article: the moments of untouched rows still decay) or
            ``"freeze"`` (their per-element optimiser state is restored too).

    Raises:
        TypeError: ``optimizer`` is not an optimiser; a ``params`` entry is not a tensor.
        ValueError: ``params`` empty, a matrix not in ``optimizer``, fewer than 2 dims, unknown
            ``moments``; at ``step``: a sparse gradient (use ``torch.optim.SparseAdam``).

    Reference: 苏剑林, Keras实现两个优化器：Lookahead和LazyOptimizer, https://kexue.fm/archives/6869
    """

    _state_key = "lazy"

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        params: Iterable[torch.Tensor],
        *,
        moments: str = "decay",
    ) -> None:
        super().__init__(optimizer)
        if moments not in MOMENTS:
            raise ValueError(f"moments must be one of {MOMENTS}, got {moments!r}")
        self.moments = moments
        owned = {id(p) for group in self.param_groups for p in group["params"]}
        self.lazy: list[torch.Tensor] = []
        for i, p in enumerate(params):
            if not isinstance(p, torch.Tensor):
                raise TypeError(f"params[{i}] must be a tensor, got {type(p).__name__}")
            if id(p) not in owned:
                raise ValueError(f"params[{i}] (shape {tuple(p.shape)}) is not in optimizer")
            if p.ndim < 2:
                raise ValueError(f"params[{i}] must have >= 2 dims (rows), got {tuple(p.shape)}")
            self.lazy.append(p)
        if not self.lazy:
            raise ValueError("params is empty: name the embedding matrices to update lazily")

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """The inner step, then untouched rows (and with ``"freeze"`` their state) restored."""
        saved = []
        for p in self.lazy:
            g = p.grad
            if g is None:
                continue
            if g.is_sparse:
                raise ValueError("a lazy parameter has a sparse gradient: use SparseAdam")
            idle = ~g.ne(0).flatten(1).any(1)
            if not bool(idle.any()):
                continue
            state: dict[str, torch.Tensor] = {}
            if self.moments == "freeze":
                state = {
                    k: v[idle].clone()
                    for k, v in self.state.get(p, {}).items()
                    if isinstance(v, torch.Tensor) and v.shape == p.shape
                }
            saved.append((p, idle, p[idle].clone(), state))
        out = self.optimizer.step(closure)
        for p, idle, rows, state in saved:
            p[idle] = rows
            for k, v in state.items():
                self.state[p][k][idle] = v
        return out

    def _extra_state(self) -> dict[str, Any]:
        return {"moments": self.moments}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        if state["moments"] != self.moments:
            raise ValueError(
                f"state_dict was saved with moments={state['moments']!r}, "
                f"this wrapper has moments={self.moments!r}"
            )
