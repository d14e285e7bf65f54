"""Training code built from kexue components runs unchanged under torchrun (two gloo processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("ddp_train.py")


def _run(args: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


@pytest.mark.xdist_group("multiprocess")  # one at a time: two gloo jobs at once abort
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_ddp_two_processes_match_single_process(tmp_path: Path) -> None:
    single, ddp = tmp_path / "single.pt", tmp_path / "ddp.pt"
    _run([sys.executable, str(SCRIPT), str(single)])
    _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(SCRIPT),
            str(ddp),
        ]
    )
    a, b = torch.load(single), torch.load(ddp)
    assert a["final"].keys() == b["final"].keys()
    for key in a["final"]:
        torch.testing.assert_close(b["initial"][key], a["initial"][key], rtol=0, atol=0)
        torch.testing.assert_close(b["final"][key], a["final"][key], rtol=1e-9, atol=1e-10)
    moved = [k for k in a["final"] if not torch.equal(a["final"][k], a["initial"][k])]
    assert len(moved) > len(a["final"]) // 2, "training did not update the parameters"
