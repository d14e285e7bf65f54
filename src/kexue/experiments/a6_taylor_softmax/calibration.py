"""A6 study 2: Taylor vs softmax cross-entropy on scikit-learn's digits — accuracy and calibration.

The same MLP 64→128→10 (same initialisation and batches) is trained to ~100 % train accuracy with
softmax cross-entropy and with Taylor cross-entropy of order 2 and 4; on the stratified held-out
split it is scored by accuracy, mean max probability, expected calibration error (equal-width bins)
and NLL. Predictions are the argmax of the Taylor probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from kexue.transformer.taylor_softmax import taylor_cross_entropy, taylor_softmax

if TYPE_CHECKING:
    from kexue.experiments.a6_taylor_softmax import Config

__all__ = ["METRICS", "MODELS", "ClassifierScore", "ReliabilityBin", "pool", "train_eval"]

MODELS = ("softmax", "taylor2", "taylor4")
METRICS = ("train_acc", "test_acc", "mean_conf", "ece", "nll")


@dataclass(frozen=True)
class ClassifierScore:
    """One classifier (``seed`` = -1: the mean over seeds): accuracies, confidence, ECE, NLL."""

    model: str
    seed: int
    train_acc: float
    test_acc: float
    mean_conf: float
    ece: float
    nll: float


@dataclass(frozen=True)
class ReliabilityBin:
    """A confidence bin of one model's test predictions, pooled over seeds."""

    model: str
    bin: int
    count: int
    confidence: float
    accuracy: float


def _ece(
    conf: torch.Tensor, correct: torch.Tensor, bins: int
) -> tuple[float, list[tuple[int, int, float, float]]]:
    idx = (conf * bins).ceil().clamp(1, bins).long() - 1  # bin (k/B, (k+1)/B]
    ece, per_bin = 0.0, []
    for b in range(bins):
        sel = idx == b
        cnt = int(sel.sum())
        if cnt:
            c, a = float(conf[sel].mean()), float(correct[sel].mean())
            ece += cnt / conf.numel() * abs(a - c)
            per_bin.append((b, cnt, c, a))
    return ece, per_bin


def train_eval(
    cfg: Config, seed: int
) -> tuple[list[ClassifierScore], dict[str, list[tuple[int, int, float, float]]]]:
    """Train the three classifiers of one seed: their scores and their (bin, count, confidence,
    accuracy) reliability bins."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=cfg.test_size, random_state=seed, stratify=y
    )
    mu, sd = xtr.mean(0), xtr.std(0)
    sd[sd == 0] = 1.0
    xtr_t = torch.tensor((xtr - mu) / sd, dtype=torch.float32)
    xte_t = torch.tensor((xte - mu) / sd, dtype=torch.float32)
    ytr_t, yte_t = torch.tensor(ytr), torch.tensor(yte)
    scores, bins = [], {}
    for name in MODELS:
        order = 0 if name == "softmax" else int(name[-1])

        def probs(z: torch.Tensor, order: int = order) -> torch.Tensor:
            return z.softmax(-1) if order == 0 else taylor_softmax(z, order)

        # same initialisation for every loss; nn.Linear draws from the global generator, so seed
        # it inside a fork that restores the caller's state
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = torch.nn.Sequential(
                torch.nn.Linear(64, cfg.hidden), torch.nn.ReLU(), torch.nn.Linear(cfg.hidden, 10)
            )
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(cfg.steps):
            i = torch.randint(0, len(ytr_t), (cfg.batch_size,), generator=gen)
            z = net(xtr_t[i])
            loss = (
                F.cross_entropy(z, ytr_t[i])
                if order == 0
                else taylor_cross_entropy(z, ytr_t[i], order=order)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            p_tr, p_te = probs(net(xtr_t)).double(), probs(net(xte_t)).double()
        conf, pred = p_te.max(-1)
        correct = (pred == yte_t).double()
        ece, bins[name] = _ece(conf, correct, cfg.bins)
        nll = float(-p_te.gather(1, yte_t[:, None]).clamp_min(1e-300).log().mean())
        train_acc = float((p_tr.argmax(-1) == ytr_t).double().mean())
        scores.append(
            ClassifierScore(
                name, seed, train_acc, float(correct.mean()), float(conf.mean()), ece, nll
            )
        )
    return scores, bins


def pool(
    per_seed_bins: list[dict[str, list[tuple[int, int, float, float]]]],
) -> tuple[ReliabilityBin, ...]:
    """The reliability diagram pooled over seeds (count-weighted confidence and accuracy)."""
    out = []
    for m in MODELS:
        acc: dict[int, list[float]] = {}
        for bins in per_seed_bins:
            for b, cnt, c, a in bins[m]:
                s = acc.setdefault(b, [0.0, 0.0, 0.0])
                s[0], s[1], s[2] = s[0] + cnt, s[1] + cnt * c, s[2] + cnt * a
        out += [
            ReliabilityBin(m, b, int(v[0]), v[1] / v[0], v[2] / v[0])
            for b, v in sorted(acc.items())
        ]
    return tuple(out)
