"""What each implemented technique declares for the registry-wide conformance test.

Every implemented technique ``X9`` ships ``tests/conformance/case_x9.py`` defining ``CASES: list[Case]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

Args = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass(frozen=True)
class BadInput:
    """An invalid call that must raise ``error`` with ``arg`` named in the message."""

    label: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    error: type[Exception]
    arg: str


@dataclass(frozen=True)
class Case:
    """A public callable with inputs to exercise it.

    Attributes:
        name: label for test ids.
        fn: the functional form.
        make_args: builds valid ``(args, kwargs)`` whose floating tensors have the given dtype.
        module: builds the ``nn.Module`` (or callable object) form, called with the same args;
            its output must equal ``fn``'s. ``None`` when the technique has no module form.
        bad: invalid calls of ``fn``.
        dtype_follows: the floating outputs take the inputs' dtype.
        output: picks the tensor(s) to compare from the return value.
    """

    name: str
    fn: Callable[..., Any]
    make_args: Callable[[torch.dtype], Args]
    module: Callable[[], Callable[..., Any]] | None = None
    bad: list[BadInput] = field(default_factory=list)
    dtype_follows: bool = True
    output: Callable[[Any], torch.Tensor] = lambda out: out
