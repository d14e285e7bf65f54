"""B2 sizes: one frozen configuration for both protocols."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FULL", "QUICK", "Config"]


@dataclass(frozen=True)
class Config:
    """Sizes of both protocols (see the package docstring).

    Attributes:
        ratios: head-to-tail class-size ratios of the long-tailed digits.
        n_seeds: seeds of the long-tailed protocol (assignment, subsample, initialisation).
        head: training images of the largest class; test_per_class: balanced test set.
        hidden: MLP width (64-hidden-hidden-10); epochs, lr: full-batch Adam.
        tau: logit-adjustment temperature; gamma: focal-loss exponent (both protocols).
        binary_seeds: seeds of the rare-binary protocol.
        binary_neg: negatives in its training set; binary_pos_frac: share of positives.
        binary_checkpoints: epochs at which test F1 is measured; binary_gate_epoch: the gated one.
        binary_lr: full-batch Adam learning rate of the linear logit model.
    """

    ratios: tuple[int, ...] = (10, 100)
    n_seeds: int = 5
    head: int = 100
    test_per_class: int = 60
    hidden: int = 64
    epochs: int = 150
    lr: float = 3e-3
    tau: float = 1.0
    gamma: float = 2.0
    binary_seeds: int = 8
    binary_neg: int = 900
    binary_pos_frac: float = 0.03
    binary_checkpoints: tuple[int, ...] = (100, 300, 1000)
    binary_gate_epoch: int = 300
    binary_lr: float = 2.5e-2


QUICK = Config(ratios=(100,), n_seeds=4, binary_seeds=4, binary_checkpoints=(100, 300))
FULL = Config()
