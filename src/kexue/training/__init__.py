"""Training: one small loop (:class:`Trainer`) with accumulation, evaluation, checkpoints and DDP.

Every public name is re-exported here flat (``from kexue.training import ...``); each is defined in
one module of this package.
"""

from kexue.training.checkpoint import (
    check_compatible,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from kexue.training.trainer import Progress, Trainer

__all__ = [
    "Progress",
    "Trainer",
    "check_compatible",
    "load_checkpoint",
    "rng_state",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
]
