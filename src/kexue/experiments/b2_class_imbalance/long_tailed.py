"""B2 study: long-tailed 10-class digits, CE vs logit adjustment vs class weights vs focal loss.

Class sizes fall exponentially from ``head`` to ``head / ratio``; the test set is balanced. An MLP
64-64-10 is trained full-batch with Adam by plain CE, the logit-adjusted loss, class-weighted CE
(:math:`1/\\pi`) and softmax focal loss; plain CE is also evaluated with the post-hoc adjustment.
Metric: balanced accuracy (mean per-class recall) and per-class recall.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kexue.experiments.b2_class_imbalance.config import Config
from kexue.experiments.b2_class_imbalance.ensemble import (
    digits,
    ensemble_forward,
    ensemble_init,
    train_full_batch,
)
from kexue.losses.focal import softmax_focal_loss
from kexue.losses.imbalance import class_balanced_weights
from kexue.losses.logit_adjustment import logit_adjust, logit_adjusted_cross_entropy

__all__ = ["MC_METHODS", "LongTailed", "MethodRecall", "class_sizes", "long_tailed"]

MC_METHODS = ("CE", "CE + post-hoc LA", "LA loss", "class-weighted CE", "focal")


@dataclass(frozen=True)
class MethodRecall:
    """One method on the balanced test set.

    Attributes:
        method: one of :data:`MC_METHODS`.
        balanced_accuracy: mean per-class recall, per seed.
        recall: recall per class frequency rank (largest class first), mean over seeds.
    """

    method: str
    balanced_accuracy: tuple[float, ...]
    recall: tuple[float, ...]

    @property
    def mean_balanced_accuracy(self) -> float:
        """Balanced accuracy, mean over seeds."""
        return float(np.mean(self.balanced_accuracy))


@dataclass(frozen=True)
class LongTailed:
    """Every method at one imbalance ratio."""

    ratio: int
    class_sizes: tuple[int, ...]
    methods: tuple[MethodRecall, ...]

    def method(self, name: str) -> MethodRecall:
        """The record of ``name`` (one of :data:`MC_METHODS`)."""
        return next(m for m in self.methods if m.method == name)


def class_sizes(head: int, ratio: int, n_classes: int = 10) -> list[int]:
    """Training images per class rank: exponential from ``head`` down to ``head / ratio``."""
    return [max(1, round(head * ratio ** (-k / (n_classes - 1)))) for k in range(n_classes)]


def long_tailed(config: Config, ratio: int, seed: int) -> LongTailed:
    """Train the four losses on ``n_seeds`` long-tailed draws; score five decision rules."""
    x_all, y_all = digits()
    sizes = class_sizes(config.head, ratio)
    s_n, n_train = config.n_seeds, sum(sizes)
    xs_tr, ys_tr, xs_te, ys_te = [], [], [], []
    for s in range(s_n):
        rng = np.random.default_rng([seed, ratio, s])
        order = rng.permutation(10)  # digit at each frequency rank; label = rank
        tr, te, ytr, yte = [], [], [], []
        for rank, digit in enumerate(order):
            idx = rng.permutation(np.flatnonzero(y_all == digit))
            te.append(idx[: config.test_per_class])
            tr.append(idx[config.test_per_class : config.test_per_class + sizes[rank]])
            ytr += [rank] * sizes[rank]
            yte += [rank] * config.test_per_class
        xs_tr.append(x_all[np.concatenate(tr)])
        xs_te.append(x_all[np.concatenate(te)])
        ys_tr.append(ytr)
        ys_te.append(yte)
    x_tr, y_tr = torch.from_numpy(np.stack(xs_tr)), torch.tensor(ys_tr)  # (S, N, 64), (S, N)
    x_te, y_te = torch.from_numpy(np.stack(xs_te)), torch.tensor(ys_te)
    counts = torch.tensor(sizes, dtype=torch.float32)
    weights = class_balanced_weights(counts)
    trained = ("CE", "LA loss", "class-weighted CE", "focal")
    n_m = len(trained)

    def loss(logits: torch.Tensor) -> torch.Tensor:
        f = logits.view(n_m, s_n, n_train, 10)
        terms = [
            softmax_focal_loss(f[0], y_tr, gamma=0.0),
            logit_adjusted_cross_entropy(f[1], y_tr, counts, tau=config.tau),
            softmax_focal_loss(f[2], y_tr, gamma=0.0, weight=weights),
            softmax_focal_loss(f[3], y_tr, gamma=config.gamma),
        ]
        return s_n * torch.stack(terms).sum()  # each seed's own mean loss

    params = ensemble_init([64, config.hidden, config.hidden, 10], s_n, n_m, seed + ratio)
    train_full_batch(params, loss, x_tr.repeat(n_m, 1, 1), config.epochs, config.lr)
    with torch.no_grad():
        f_te = ensemble_forward(params, x_te.repeat(n_m, 1, 1)).view(n_m, s_n, -1, 10)
    preds = {name: f_te[i].argmax(-1) for i, name in enumerate(trained)}
    preds["CE + post-hoc LA"] = logit_adjust(f_te[0], counts, config.tau).argmax(-1)
    methods = []
    for name in MC_METHODS:
        hit = (preds[name] == y_te).float()  # (S, Nt)
        recall = torch.stack([hit[:, y_te[0] == k].mean(-1) for k in range(10)], -1)  # (S, 10)
        methods.append(
            MethodRecall(name, tuple(recall.mean(-1).tolist()), tuple(recall.mean(0).tolist()))
        )
    return LongTailed(ratio, tuple(sizes), tuple(methods))
