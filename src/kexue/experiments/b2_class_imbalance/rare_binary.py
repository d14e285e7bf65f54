"""B2 study: a rare binary class, BCE vs the smooth-F1-weighted CE, focal loss and its softening.

Digit 3 vs rest with positives subsampled to a few per cent of the training set; a linear logit
model trained full-batch by BCE, the smooth-F1-weighted CE of article 7708, sigmoid focal loss and
the softened truncation of article 4733. Metric: test F1 of the positive class at checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from kexue.experiments.b2_class_imbalance.config import Config
from kexue.experiments.b2_class_imbalance.ensemble import digits, ensemble_init, train_full_batch
from kexue.losses.focal import sigmoid_focal_loss, softened_truncation_loss
from kexue.losses.imbalance import f1_weighted_cross_entropy, smooth_f1

__all__ = ["BIN_METHODS", "BinaryMethod", "F1AtEpoch", "RareBinary", "rare_binary"]

BIN_METHODS = ("CE", "F1-weighted CE", "focal", "softened truncation")


@dataclass(frozen=True)
class F1AtEpoch:
    """Test F1 of the positive class after ``epoch`` epochs, one per seed."""

    epoch: int
    f1: tuple[float, ...]

    @property
    def mean(self) -> float:
        """Mean over seeds."""
        return float(np.mean(self.f1))


@dataclass(frozen=True)
class BinaryMethod:
    """One loss at every checkpoint."""

    method: str
    checkpoints: tuple[F1AtEpoch, ...]

    def at(self, epoch: int) -> F1AtEpoch:
        """The checkpoint after ``epoch`` epochs."""
        return next(c for c in self.checkpoints if c.epoch == epoch)


@dataclass(frozen=True)
class RareBinary:
    """Every loss on the rare-binary task."""

    n_pos: int
    n_neg: int
    methods: tuple[BinaryMethod, ...]

    def method(self, name: str) -> BinaryMethod:
        """The record of ``name`` (one of :data:`BIN_METHODS`)."""
        return next(m for m in self.methods if m.method == name)


def rare_binary(config: Config, seed: int) -> RareBinary:
    """Train the four losses on ``binary_seeds`` draws; test F1 at each checkpoint."""
    x_all, y_all = digits()
    n_pos = round(config.binary_neg * config.binary_pos_frac / (1 - config.binary_pos_frac))
    s_n, n_m = config.binary_seeds, len(BIN_METHODS)
    xs, ys, tests = [], [], []
    for s in range(s_n):
        rng = np.random.default_rng([seed, 7, s])
        idx = rng.permutation(len(y_all))
        pool, test = idx[: int(0.6 * len(idx))], idx[int(0.6 * len(idx)) :]
        neg, pos = pool[y_all[pool] != 3][: config.binary_neg], pool[y_all[pool] == 3][:n_pos]
        tr = np.concatenate([neg, pos])
        xs.append(x_all[tr])
        ys.append((y_all[tr] == 3).astype(np.float32))
        tests.append(test)
    x_tr, y_tr = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))  # (S, N, 64)

    def loss(logits: torch.Tensor) -> torch.Tensor:
        z = logits.view(n_m, s_n, -1)
        f1 = smooth_f1(z[1].detach(), y_tr, dim=-1)[:, None]  # one batch F1 per seed
        terms = [
            F.binary_cross_entropy_with_logits(z[0], y_tr),
            f1_weighted_cross_entropy(z[1], y_tr, f1=f1),
            sigmoid_focal_loss(z[2], y_tr, gamma=config.gamma),
            softened_truncation_loss(z[3], y_tr, k=1.0),
        ]
        return torch.stack(terms).sum()

    from sklearn.metrics import f1_score

    params = ensemble_init([64, 1], s_n, n_m, seed + 1)
    scores: dict[str, list[F1AtEpoch]] = {name: [] for name in BIN_METHODS}

    def evaluate(epoch: int) -> None:
        if epoch not in config.binary_checkpoints:
            return
        with torch.no_grad():
            for i, name in enumerate(BIN_METHODS):
                f1s = []
                for s, test in enumerate(tests):
                    e = i * s_n + s
                    z = torch.from_numpy(x_all[test]) @ params[0][e] + params[1][e]
                    f1s.append(float(f1_score(y_all[test] == 3, (z.squeeze(-1) > 0).numpy())))
                scores[name].append(F1AtEpoch(epoch, tuple(f1s)))

    epochs = max(config.binary_checkpoints)
    train_full_batch(params, loss, x_tr.repeat(n_m, 1, 1), epochs, config.binary_lr, evaluate)
    methods = tuple(BinaryMethod(name, tuple(scores[name])) for name in BIN_METHODS)
    return RareBinary(n_pos, config.binary_neg, methods)
