"""A Trainer run, alone or under ``torchrun`` (used by ``test_trainer.py``).

``python tests/trainer_run.py OUT --batch B --accum K``: 6 updates of a float64 MLP on 48 fixed
samples, with a checkpoint ``OUT.mid`` after 3 updates; rank 0 saves the final parameters to OUT.
With ``--kill-at N`` (one process) it checkpoints to OUT every 2 updates and SIGKILLs itself after
update N.
"""

from __future__ import annotations

import argparse
import os
import signal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from kexue.training import Trainer

UPDATES, MID = 6, 3


def make_model(hidden: int = 16) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, hidden), nn.Tanh(), nn.Linear(hidden, 3)).double()


def make_data(n: int = 48) -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(n, 6, generator=g, dtype=torch.float64),
                         torch.randint(0, 3, (n,), generator=g))  # fmt: skip


def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return F.cross_entropy(model(x), y)


def make_trainer(batch: int, accum: int, model: nn.Module | None = None, **kw: object) -> Trainer:
    model = model or make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
    return Trainer(model, opt, loss_fn, make_data(), batch_size=batch, accumulation_steps=accum,
                   seed=3, **kw)  # type: ignore[arg-type]  # fmt: skip


def _killer(trainer: Trainer, at: int):  # type: ignore[no-untyped-def]
    def evaluate(model: nn.Module) -> dict[str, float]:
        if trainer.progress.updates == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return {}

    return evaluate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--accum", type=int, default=1)
    ap.add_argument("--kill-at", type=int, default=0, help="SIGKILL itself after this update")
    args = ap.parse_args()
    if args.kill_at:  # checkpoints every 2 updates to OUT, then dies without any cleanup
        trainer = make_trainer(args.batch, args.accum, checkpoint=args.out, checkpoint_every=2)
        trainer.evaluate, trainer.eval_every = _killer(trainer, args.kill_at), 1
        trainer.fit(UPDATES)
        raise AssertionError("not killed")
    if "RANK" in os.environ:
        dist.init_process_group("gloo")
    trainer = make_trainer(args.batch, args.accum)
    trainer.fit(MID)
    trainer.save(args.out + ".mid")
    trainer.fit(UPDATES)
    if trainer.rank == 0:
        torch.save({k: v.detach() for k, v in trainer.model.state_dict().items()}, args.out)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
