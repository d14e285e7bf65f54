"""kexue.training.checkpoint: atomic writes, unreadable files, state comparison, RNG states."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from kexue.training import checkpoint as ck


def test_a_crash_while_writing_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "latest.pt"
    ck.save_checkpoint({"step": 1, "w": torch.ones(3)}, path)

    def dying_save(obj: object, f: object) -> None:
        f.write(b"half a checkpoint")  # type: ignore[attr-defined]
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(ck.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert ck.load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]  # no temporary left


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt is unreadable"):
        ck.load_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        ck.load_checkpoint(tmp_path / "nope.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="not a dict"):
        ck.load_checkpoint(tmp_path / "list.pt")


def test_check_compatible_names_the_differences() -> None:
    live = {"a": torch.zeros(2), "b": torch.zeros(3, 3)}
    ck.check_compatible(dict(live), live)
    with pytest.raises(ValueError, match=r"missing.*'a'.*not in the model.*'c'.*b: saved \(3, 2\)"):
        ck.check_compatible({"b": torch.zeros(3, 2), "c": torch.zeros(1)}, live)


def test_rng_state_round_trip(tmp_path: Path) -> None:
    ck.seed_everything(7)
    state = ck.rng_state()
    ck.save_checkpoint({"rng": state}, tmp_path / "r.pt")
    first = (random.random(), np.random.rand(), torch.rand(2))  # noqa: NPY002
    ck.set_rng_state(ck.load_checkpoint(tmp_path / "r.pt")["rng"])
    again = (random.random(), np.random.rand(), torch.rand(2))  # noqa: NPY002
    assert first[:2] == again[:2] and torch.equal(first[2], again[2])
