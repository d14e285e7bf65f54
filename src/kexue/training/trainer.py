"""One small training loop: seeds, accumulation, evaluation, checkpoint/resume, and DDP under torchrun.

:class:`Trainer` runs ``loss_fn(model, batch).backward()`` over a ``Dataset`` and steps a torch
optimiser, counting *updates*. The same script runs alone (``python train.py``) or under
``torchrun --nproc_per_node=N train.py``: when a process group is initialised the model is wrapped
in ``DistributedDataParallel``, each rank reads its shard of the same seeded permutation
(``DistributedSampler``), only rank 0 logs and writes checkpoints, and dropout-type randomness is
seeded with ``seed + rank``. With ``batch_size`` per process, ``accumulation_steps`` k and N
processes, one update sees ``batch_size × k × N`` samples and equals one single-process update on
that batch (mean losses, no BatchNorm; see :mod:`kexue.optim.accumulation`); non-final micro-steps
skip DDP's all-reduce (``no_sync``).

Checkpoints (every ``checkpoint_every`` updates and at the end) hold the model, optimiser,
scheduler, ``GradScaler``, the position in the data and every rank's RNG states, written
atomically. :meth:`Trainer.load` checks the checkpoint against the live model and optimiser first
and changes nothing on a mismatch; a checkpoint written by N processes resumes with M processes
when the global batch is the same (RNG streams are then re-seeded per rank).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from kexue.optim.accumulation import GradientAccumulation
from kexue.training.checkpoint import (
    check_compatible,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)

__all__ = ["Progress", "Trainer"]

log = logging.getLogger(__name__)
FORMAT = "kexue.trainer/1"


@dataclass
class Progress:
    """Where a run is: updates done, the epoch, and samples of that epoch consumed (all ranks)."""

    updates: int = 0
    epoch: int = 0
    samples_in_epoch: int = 0


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, list | tuple):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch


class Trainer:
    """Train ``model`` on ``dataset`` with ``optimizer``, alone or under torchrun.

    Args:
        model: the module (not DDP-wrapped; the trainer wraps it when a process group exists).
        optimizer: any ``torch.optim.Optimizer`` (kexue wrappers included); it is wrapped in
            :class:`~kexue.optim.GradientAccumulation` with ``accumulation_steps``.
        loss_fn: ``loss_fn(model, batch) -> scalar`` mean loss of one micro-batch.
        dataset: a map-style ``Dataset``; each epoch is a permutation drawn from ``seed``.
        batch_size: micro-batch size per process.
        accumulation_steps: micro-batches per update (k ≥ 1).
        scheduler: an LR scheduler, stepped once per update.
        scaler: a ``torch.amp.GradScaler`` (use ``autocast`` inside ``loss_fn``).
        seed: the data permutation's seed and (plus the rank) the torch/NumPy/Python seed.
        evaluate: ``evaluate(model) -> {name: value}``, run in eval mode without gradients every
            ``eval_every`` updates and at the end of :meth:`fit`.
        checkpoint: the checkpoint file, written every ``checkpoint_every`` updates and at the end.
        collate_fn, shuffle, device: as for ``DataLoader``; the model's device by default.
        progress: show a tqdm bar (rank 0).

    Attributes:
        losses: the mean loss of each update (rank 0's shard under DDP).
        history: one dict per evaluation: ``{"update", "epoch", **metrics}``.
        progress: the :class:`Progress` of the run.

    Reference: 苏剑林, 用时间换取效果：Keras梯度累积优化器, https://kexue.fm/archives/6794
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[nn.Module, Any], torch.Tensor],
        dataset: Dataset[Any],
        *,
        batch_size: int,
        accumulation_steps: int = 1,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        scaler: torch.amp.GradScaler | None = None,
        seed: int = 0,
        evaluate: Callable[[nn.Module], Mapping[str, float]] | None = None,
        eval_every: int = 0,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        shuffle: bool = True,
        device: torch.device | str | None = None,
        progress: bool = False,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if isinstance(optimizer, GradientAccumulation):
            self.optimizer = optimizer
        else:
            check = "off" if scaler is not None else "raise"  # the scaler skips inf steps itself
            self.optimizer = GradientAccumulation(optimizer, accumulation_steps, nonfinite=check)
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world = dist.get_world_size() if self.distributed else 1
        self.device = torch.device(device) if device else next(model.parameters()).device
        self.model = model.to(self.device)
        self.net: nn.Module = model
        if self.distributed and not isinstance(model, nn.parallel.DistributedDataParallel):
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.loss_fn, self.dataset, self.batch_size = loss_fn, dataset, batch_size
        self.scheduler, self.scaler, self.seed = scheduler, scaler, seed
        self.evaluate, self.eval_every = evaluate, eval_every
        self.checkpoint, self.checkpoint_every = checkpoint, checkpoint_every
        self.collate_fn, self.shuffle, self.show_progress = collate_fn, shuffle, progress
        self.progress = Progress()
        self.losses: list[float] = []
        self.history: list[dict[str, float]] = []
        self._rng: dict[str, Any] | None = None  # the run's RNG states between fit calls

    @property
    def samples_per_update(self) -> int:
        """Samples in one update: batch size × accumulation steps × processes."""
        return self.batch_size * self.optimizer.steps * self.world

    def _loader(self) -> DataLoader[Any]:
        sampler: DistributedSampler[Any] = DistributedSampler(
            self.dataset, num_replicas=self.world, rank=self.rank, shuffle=self.shuffle,
            seed=self.seed, drop_last=True,
        )  # fmt: skip
        sampler.set_epoch(self.progress.epoch)
        skip, rem = divmod(self.progress.samples_in_epoch, self.batch_size * self.world)
        if rem:
            raise ValueError(
                f"the checkpoint stopped {self.progress.samples_in_epoch} samples into an epoch, "
                f"not a multiple of batch_size × processes = {self.batch_size * self.world}"
            )
        indices = list(sampler)[skip * self.batch_size :]
        return DataLoader(
            self.dataset, batch_size=self.batch_size, sampler=indices, drop_last=True,
            collate_fn=self.collate_fn, generator=torch.Generator().manual_seed(self.seed),
        )  # fmt: skip  # own generator: making an iterator must not draw from the run's RNG

    def fit(self, updates: int) -> Trainer:
        """Train until ``updates`` updates in total (a resumed run continues from its count).

        The global RNG states of the caller are restored on return; the run's own streams
        continue across ``fit`` calls and checkpoints.
        """
        outer = rng_state()
        try:
            if self._rng is None:
                self._seed()
            else:
                set_rng_state(self._rng)
            self._fit(updates)
            self._rng = rng_state()
        finally:
            set_rng_state(outer)
        return self

    def _seed(self) -> None:
        seed_everything(self.seed + self.rank)

    def _fit(self, updates: int) -> None:
        bar = None
        if self.show_progress and self.rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=updates, initial=self.progress.updates, desc="train", leave=False)
        self.net.train()
        acc, p = self.optimizer, self.progress
        running = torch.zeros((), dtype=torch.float64, device=self.device)
        while p.updates < updates:
            for batch in self._loader():
                with acc.no_sync(self.net):
                    loss = self.loss_fn(self.net, _to(batch, self.device))
                    (self.scaler.scale(loss) if self.scaler else loss).backward()
                running += loss.detach().double()
                p.samples_in_epoch += self.batch_size * self.world
                if not acc.will_update:
                    acc.step()
                    continue
                if self.scaler:
                    self.scaler.step(acc)
                    self.scaler.update()
                    acc.reset()  # a skipped (inf) step leaves the count unfinished
                else:
                    acc.step()
                if self.scheduler is not None:
                    self.scheduler.step()
                p.updates += 1
                self.losses.append(float(running) / acc.steps)
                running.zero_()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{self.losses[-1]:.4g}")
                self._after_update(final=p.updates >= updates)
                if p.updates >= updates:
                    break
            else:
                p.epoch, p.samples_in_epoch = p.epoch + 1, 0
        if bar is not None:
            bar.close()
        if self.rank == 0 and self.losses:
            log.info("trained %d updates, last loss %.4g", p.updates, self.losses[-1])

    def _after_update(self, final: bool) -> None:
        n = self.progress.updates
        if self.evaluate is not None and (final or (self.eval_every and n % self.eval_every == 0)):
            self.net.eval()
            with torch.no_grad():
                metrics = dict(self.evaluate(self.model))
            self.net.train()
            self.history.append({"update": n, "epoch": self.progress.epoch, **metrics})
            if self.rank == 0:
                log.debug("update %d: %s", n, metrics)
        if self.checkpoint is not None and (
            final or (self.checkpoint_every and n % self.checkpoint_every == 0)
        ):
            self.save(self.checkpoint)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (RNG states of every rank gathered under DDP)."""
        rngs = [rng_state()]
        if self.distributed:
            gathered: list[Any] = [None] * self.world
            dist.all_gather_object(gathered, rngs[0])
            rngs = gathered
        return {
            "format": FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "progress": asdict(self.progress),
            "samples_per_update": self.samples_per_update,
            "seed": self.seed,
            "rng": rngs,
            "losses": list(self.losses),
            "history": list(self.history),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a checkpoint (rank 0 writes; every rank takes part in gathering RNG states)."""
        state = self.state_dict()
        if self.rank == 0:
            save_checkpoint(state, path)
        if self.distributed:
            dist.barrier()

    def load(self, path: str | os.PathLike[str]) -> Trainer:
        """Resume from a checkpoint; every check runs before anything is changed.

        Raises:
            FileNotFoundError, ValueError: a missing or unreadable file; a checkpoint of another
                format, model (names the differing entries), optimiser layout or global batch.
        """
        state = load_checkpoint(path)
        if state.get("format") != FORMAT:
            raise ValueError(f"checkpoint {path} is not a Trainer checkpoint ({FORMAT})")
        check_compatible(state["model"], self.model.state_dict(), "model")
        saved_groups = state["optimizer"]["inner"]["param_groups"]
        groups = self.optimizer.optimizer.state_dict()["param_groups"]
        if [len(g["params"]) for g in saved_groups] != [len(g["params"]) for g in groups]:
            raise ValueError(
                f"checkpoint {path}: optimizer parameter groups differ (saved sizes "
                f"{[len(g['params']) for g in saved_groups]}, live {[len(g['params']) for g in groups]})"
            )
        if state["samples_per_update"] != self.samples_per_update:
            raise ValueError(
                f"checkpoint {path} was written with {state['samples_per_update']} samples per "
                f"update, this trainer has {self.samples_per_update} (batch_size × "
                "accumulation_steps × processes)"
            )
        for key, obj in (("scheduler", self.scheduler), ("scaler", self.scaler)):
            if (state[key] is None) != (obj is None):
                raise ValueError(f"checkpoint {path}: {key} saved={state[key] is not None}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.progress = Progress(**state["progress"])
        self.losses, self.history = list(state["losses"]), list(state["history"])
        rngs = state["rng"]
        if len(rngs) == self.world:
            self._rng = rngs[self.rank]
        else:  # another process count: fresh per-rank streams, deterministic in the position
            log.warning("checkpoint from %d processes, resuming with %d: RNG re-seeded", len(rngs),
                        self.world)  # fmt: skip
            outer = rng_state()
            seed_everything(self.seed + self.rank + 7919 * self.progress.updates)
            self._rng = rng_state()
            set_rng_state(outer)
        return self
