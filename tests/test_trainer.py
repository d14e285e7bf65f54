"""Trainer: DDP (two gloo processes) ≡ one process with the doubled batch; kill → resume; errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from kexue.training import Trainer

from .trainer_run import UPDATES, loss_fn, make_data, make_model, make_trainer

SCRIPT = Path(__file__).with_name("trainer_run.py")


def _params(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


@pytest.mark.xdist_group("multiprocess")  # one at a time: two gloo jobs at once abort
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_two_processes_match_one_and_resume_with_one(tmp_path: Path) -> None:
    out = tmp_path / "ddp.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(SCRIPT), str(out), "--batch", "2", "--accum", "2"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    single = _params(make_trainer(8, 1).fit(UPDATES))  # the doubled (here 2 × 2 × 2) batch
    ddp = torch.load(out)
    for key, value in single.items():
        torch.testing.assert_close(ddp[key], value, rtol=1e-10, atol=1e-12)
    resumed = make_trainer(4, 2).load(f"{out}.mid")  # 2-process checkpoint, one process
    assert resumed.progress.updates == 3
    for key, value in _params(resumed.fit(UPDATES)).items():
        torch.testing.assert_close(value, single[key], rtol=1e-10, atol=1e-12)


@pytest.mark.xdist_group("multiprocess")  # one at a time: two gloo jobs at once abort
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL")
def test_sigkill_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    ckpt = tmp_path / "latest.pt"
    cmd = [sys.executable, str(SCRIPT), str(ckpt), "--batch", "4", "--accum", "2", "--kill-at", "5"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    resumed = make_trainer(4, 2).load(ckpt)  # the checkpoint of update 4 (5 died unwritten)
    assert resumed.progress.updates == 4
    straight = _params(make_trainer(4, 2).fit(UPDATES))
    for key, value in _params(resumed.fit(UPDATES)).items():
        assert torch.equal(value, straight[key]), key


class Killed(Exception):
    pass


def _dropout_trainer(path: Path, seed: int = 0, kill_at: int = 0) -> Trainer:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.3), nn.Linear(16, 3)).double()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)

    def evaluate(m: nn.Module) -> dict[str, float]:
        if kill_at and len(trainer.losses) == kill_at:
            raise Killed  # dies after kill_at updates, before writing that checkpoint
        return {"w": float(m[0].weight.sum())}

    trainer = Trainer(model, opt, loss_fn, make_data(), batch_size=5, accumulation_steps=2,
                      scheduler=sched, evaluate=evaluate, eval_every=1, checkpoint=path,
                      checkpoint_every=2, seed=11)  # fmt: skip
    return trainer


def test_kill_and_resume_is_bit_identical(tmp_path: Path) -> None:
    ckpt = tmp_path / "run.pt"
    with pytest.raises(Killed):
        _dropout_trainer(ckpt, kill_at=7).fit(10)  # last checkpoint: update 6, epoch 1
    resumed = _dropout_trainer(ckpt, seed=5).load(ckpt)
    assert resumed.progress.updates == 6 and resumed.progress.epoch == 1
    resumed.fit(10)
    straight = _dropout_trainer(tmp_path / "other.pt").fit(10)
    for key, value in _params(straight).items():
        assert torch.equal(_params(resumed)[key], value), key
    assert resumed.losses == straight.losses
    assert [h["w"] for h in resumed.history] == [h["w"] for h in straight.history]


def test_fit_leaves_the_callers_rng_alone(tmp_path: Path) -> None:
    trainer = _dropout_trainer(tmp_path / "a.pt")
    torch.manual_seed(123)
    before = torch.get_rng_state()
    trainer.fit(2)
    assert torch.equal(torch.get_rng_state(), before)


def test_checkpoint_from_another_model_changes_nothing(tmp_path: Path) -> None:
    ckpt = tmp_path / "run.pt"
    make_trainer(8, 1, checkpoint=ckpt).fit(1)
    on_disk = ckpt.read_bytes()
    other = make_trainer(8, 1, model=make_model(hidden=12))
    before = _params(other)
    with pytest.raises(ValueError, match=r"different model.*0\.weight: saved \(16, 6\)"):
        other.load(ckpt)
    assert all(torch.equal(v, before[k]) for k, v in _params(other).items())
    assert other.progress.updates == 0 and ckpt.read_bytes() == on_disk
    with pytest.raises(ValueError, match="samples per update"):
        make_trainer(8, 2).load(ckpt)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(on_disk[: len(on_disk) // 2])
    with pytest.raises(ValueError, match="bad.pt is unreadable"):
        make_trainer(8, 1).load(bad)


def test_bad_input() -> None:
    with pytest.raises(TypeError, match="model"):
        Trainer("net", None, loss_fn, make_data(), batch_size=2)  # type: ignore[arg-type]
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(model, opt, loss_fn, make_data(), batch_size=0)
    with pytest.raises(ValueError, match="steps"):
        Trainer(model, opt, loss_fn, make_data(), batch_size=2, accumulation_steps=0)
    with pytest.raises(TypeError, match="optimizer"):
        Trainer(model, "sgd", loss_fn, make_data(), batch_size=2)  # type: ignore[arg-type]


def test_grad_scaler_path_matches_and_round_trips(tmp_path: Path) -> None:
    plain = make_trainer(4, 3).fit(4)
    scaled = make_trainer(4, 3, scaler=torch.amp.GradScaler("cpu", init_scale=2.0**10)).fit(4)
    assert scaled.losses == pytest.approx(plain.losses, rel=1e-12)
    scaled.save(tmp_path / "s.pt")
    resumed = make_trainer(4, 3, scaler=torch.amp.GradScaler("cpu")).load(tmp_path / "s.pt")
    assert resumed.scaler is not None and resumed.scaler.get_scale() == 2.0**10
    with pytest.raises(ValueError, match="scaler"):
        make_trainer(4, 3).load(tmp_path / "s.pt")
