"""The shared base of the optimiser wrappers: an ``Optimizer`` that delegates to another one.

A wrapper *is* a :class:`torch.optim.Optimizer` (so LR schedulers, ``GradScaler`` and
``isinstance`` checks accept it) whose ``param_groups``, ``state`` and ``defaults`` are the very
objects of the optimiser it wraps: a scheduler attached to the wrapper changes the inner learning
rates, and the inner optimiser's own bookkeeping is never copied. Wrappers nest, each adding its
own entries to ``state_dict()`` under its own key.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch

__all__ = ["OptimizerWrapper", "check_optimizer", "check_steps"]


def check_optimizer(optimizer: object, name: str = "optimizer") -> torch.optim.Optimizer:
    """Return ``optimizer`` if it is a ``torch.optim.Optimizer``, else raise ``TypeError``."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"{name} must be a torch.optim.Optimizer (e.g. torch.optim.AdamW(model.parameters())), "
            f"got {type(optimizer).__name__}"
        )
    return optimizer


def check_steps(value: object, name: str) -> int:
    """Require a positive integer (``bool`` is rejected)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


class OptimizerWrapper(torch.optim.Optimizer):
    """An optimiser that shares the parameter groups and state of ``optimizer`` and delegates.

    Subclasses override :meth:`step` and add their own state through :meth:`_extra_state` /
    :meth:`_load_extra_state`; ``state_dict()`` is ``{"inner": inner.state_dict(), key: extra}``.
    """

    _state_key = "wrapper"

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        # Optimizer.__init__ is not called: it would register the parameters a second time.
        self.optimizer = check_optimizer(optimizer)
        for hooks in (
            "_optimizer_step_pre_hooks",
            "_optimizer_step_post_hooks",
            "_optimizer_state_dict_pre_hooks",
            "_optimizer_state_dict_post_hooks",
            "_optimizer_load_state_dict_pre_hooks",
            "_optimizer_load_state_dict_post_hooks",
        ):
            setattr(self, hooks, OrderedDict())

    # the inner optimiser's own objects, looked up on every access (schedulers see the inner lr,
    # and they stay right after the inner optimiser's load_state_dict replaces its groups)
    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, value: list[dict[str, Any]]) -> None:
        self.optimizer.param_groups = value

    @property
    def state(self) -> Any:
        return self.optimizer.state

    @state.setter
    def state(self, value: Any) -> None:
        self.optimizer.state = value

    @property
    def defaults(self) -> dict[str, Any]:
        return self.optimizer.defaults

    @defaults.setter
    def defaults(self, value: dict[str, Any]) -> None:
        self.optimizer.defaults = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.optimizer!r})"

    def step(self, closure: Any = None) -> Any:
        """Delegate to the inner optimiser."""
        return self.optimizer.step(closure)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Delegate to the inner optimiser."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the inner optimiser (the wrapper sees it through the shared list)."""
        self.optimizer.add_param_group(param_group)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        del state

    def state_dict(self) -> dict[str, Any]:
        """The inner optimiser's ``state_dict`` plus this wrapper's own state."""
        return {"inner": self.optimizer.state_dict(), self._state_key: self._extra_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (a ``KeyError``-free check of the format)."""
        if not isinstance(state_dict, dict) or set(state_dict) != {"inner", self._state_key}:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(
                f"state_dict is not a {type(self).__name__} state (expected keys "
                f"['inner', {self._state_key!r}], got {keys})"
            )
        self.optimizer.load_state_dict(state_dict["inner"])
        self._load_extra_state(state_dict[self._state_key])
