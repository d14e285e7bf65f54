"""Checkpoint files that a kill cannot corrupt, and the RNG states a resumed run needs.

:func:`save_checkpoint` writes to a temporary file next to the target and moves it into place
with ``os.replace`` (atomic on POSIX and Windows): a kill at any moment leaves either the previous
checkpoint or the new one, never a truncated file. :func:`load_checkpoint` turns an unreadable
file into a ``ValueError`` naming it, and :func:`check_compatible` compares a saved
``state_dict`` with a live one and names every missing, unexpected or reshaped entry — checked
before anything is loaded, so a mismatch changes nothing.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "check_compatible",
    "load_checkpoint",
    "rng_state",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
]


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``state`` with ``torch.save`` to ``path`` atomically (temporary file + rename).

    Returns the path written. On any error the temporary file is removed and an existing
    checkpoint at ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(dict(state), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors and plain data only).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a readable checkpoint (truncated, corrupted, not torch's).
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"checkpoint {source} does not exist")
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(f"checkpoint {source} is unreadable: {type(err).__name__}: {err}") from err
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {source} holds a {type(state).__name__}, not a dict")
    return state


def check_compatible(
    saved: Mapping[str, Any], live: Mapping[str, Any], what: str = "model"
) -> None:
    """Raise ``ValueError`` naming every difference between two ``state_dict``s' keys and shapes."""
    missing = sorted(set(live) - set(saved))
    unexpected = sorted(set(saved) - set(live))
    reshaped = [
        f"{k}: saved {tuple(saved[k].shape)}, {what} has {tuple(live[k].shape)}"
        for k in sorted(set(saved) & set(live))
        if isinstance(live[k], torch.Tensor)
        and isinstance(saved[k], torch.Tensor)
        and saved[k].shape != live[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing from the checkpoint: {missing[:5]}{' ...' * (len(missing) > 5)}")
    if unexpected:
        problems.append(f"not in the {what}: {unexpected[:5]}{' ...' * (len(unexpected) > 5)}")
    if reshaped:
        problems.append(f"shapes differ: {reshaped[:5]}{' ...' * (len(reshaped) > 5)}")
    if problems:
        raise ValueError(f"the checkpoint is from a different {what}; " + "; ".join(problems))


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's, torch's CPU and (if any) every CUDA generator."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002
    assert isinstance(keys, np.ndarray)
    return {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) global generators with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (CUDA states only where devices exist)."""
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])
