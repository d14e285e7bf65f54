"""B3 study: one shared trunk, two heads, every weighting scheme from the same initialisation.

Task A is 10-class cross-entropy on the 8×8 digits; task B regresses the raw ink of the lower half
of the image (MSE ≈ 10⁴). Each scheme trains by full-batch SGD in float64; the scale-invariant ones
are rerun with ``L_B × scale^±1`` and ``L_B + shift`` and their trajectories compared, the others
are rerun with the scaled loss and their accuracy reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from kexue.experiments.b3_multitask_weighting.config import SCALE_INVARIANT, Config
from kexue.losses.multitask import MultiTaskLoss, ce_prior_loss, mse_prior_loss

__all__ = ["SchemeOutcome", "TwoTaskData", "digits_two_tasks", "run_schemes"]

D = torch.float64


@dataclass(frozen=True)
class TwoTaskData:
    """Standardised pixels, class labels (task A) and lower-half ink (task B), train and test."""

    x_tr: torch.Tensor
    x_te: torch.Tensor
    c_tr: torch.Tensor
    c_te: torch.Tensor
    y_tr: torch.Tensor
    y_te: torch.Tensor


@dataclass(frozen=True)
class SchemeOutcome:
    """One weighting scheme (on one seed, or aggregated over seeds).

    Attributes:
        scheme: the :class:`~kexue.losses.multitask.MultiTaskLoss` scheme.
        accuracy: test accuracy of task A (0 when diverged).
        rel_mse: test MSE / Var of task B (inf when diverged).
        diverged: a loss or a parameter became non-finite.
        scale_param_diff: max |Δθ| at ``compare_at`` under ``L_B × scale^±1`` (invariant schemes).
        shift_param_diff: max |Δθ| at ``compare_at`` under ``L_B + shift`` (invariant schemes).
        scaled_up_accuracy, scaled_up_diverged: the rerun with ``L_B × scale`` (other schemes).
        scaled_down_accuracy, scaled_down_diverged: the rerun with ``L_B / scale``.
    """

    scheme: str
    accuracy: float
    rel_mse: float
    diverged: bool
    scale_param_diff: float | None = None
    shift_param_diff: float | None = None
    scaled_up_accuracy: float | None = None
    scaled_up_diverged: bool | None = None
    scaled_down_accuracy: float | None = None
    scaled_down_diverged: bool | None = None


@dataclass(frozen=True)
class _Trained:
    params: torch.Tensor
    snapshot: torch.Tensor
    accuracy: float
    rel_mse: float
    diverged: bool


def digits_two_tasks(seed: int, test_fraction: float, train_size: int | None) -> TwoTaskData:
    """The digits split for both tasks, pixels standardised on the train split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    raw, labels = load_digits(return_X_y=True)
    ink = raw[:, 32:].sum(1, keepdims=True)  # raw ink of the lower half, ~0..400
    idx_tr, idx_te = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, random_state=seed, stratify=labels
    )
    idx_tr = idx_tr[:train_size]
    mu, sd = raw[idx_tr].mean(0), raw[idx_tr].std(0) + 1e-3  # standardise on the train split
    return TwoTaskData(
        x_tr=torch.tensor((raw[idx_tr] - mu) / sd, dtype=D),
        x_te=torch.tensor((raw[idx_te] - mu) / sd, dtype=D),
        c_tr=torch.tensor(labels[idx_tr]),
        c_te=torch.tensor(labels[idx_te]),
        y_tr=torch.tensor(ink[idx_tr], dtype=D),
        y_te=torch.tensor(ink[idx_te], dtype=D),
    )


def _init(hidden: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for fan_in, fan_out in ((64, hidden), (hidden, 10), (hidden, 1)):
        bound = fan_in**-0.5
        out.append((torch.rand(fan_in, fan_out, generator=gen, dtype=D) * 2 - 1) * bound)
        out.append((torch.rand(fan_out, generator=gen, dtype=D) * 2 - 1) * bound)
    return out


def _heads(params: list[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    w, b, wa, ba, wb, bb = params
    h = torch.tanh(x @ w + b)  # (N, hidden), the shared trunk
    return h @ wa + ba, h @ wb + bb


def _train(
    scheme: str,
    data: TwoTaskData,
    config: Config,
    seed: int,
    *,
    scale: float = 1.0,
    shift: float = 0.0,
    steps: int | None = None,
    snapshot_at: int | None = None,
) -> _Trained:
    """Full-batch SGD on ``L_A`` and ``scale * L_B + shift`` combined by ``scheme``."""
    params = [p.clone().requires_grad_() for p in _init(config.hidden, seed)]
    prior = torch.stack(
        [ce_prior_loss(torch.bincount(data.c_tr)).double(), mse_prior_loss(data.y_tr)]
    )
    prior = torch.stack([prior[0], scale * prior[1] + shift])  # the prior loss of the scaled task
    mtl = MultiTaskLoss(
        2, scheme, scales=prior if scheme == "prior" else None, gamma=config.gamma
    ).double()
    trainable = params + list(mtl.parameters())
    diverged = False
    snapshot = None
    for step in range(1, (config.steps if steps is None else steps) + 1):
        logits, pred = _heads(params, data.x_tr)
        l_a = F.cross_entropy(logits, data.c_tr)
        l_b = scale * F.mse_loss(pred, data.y_tr) + shift
        if not (torch.isfinite(l_a) and torch.isfinite(l_b)):
            diverged = True
            break
        total = mtl([l_a, l_b], shared_params=params[:2])
        grads = torch.autograd.grad(total, trainable)
        with torch.no_grad():
            for p, g in zip(trainable, grads, strict=True):
                p -= config.lr * g
        if step == snapshot_at:
            snapshot = torch.cat([p.detach().flatten() for p in params])
    diverged = diverged or not all(bool(torch.isfinite(p).all()) for p in params)
    flat = torch.cat([p.detach().flatten() for p in params])
    snap = flat if snapshot is None else snapshot
    if diverged:
        return _Trained(flat, snap, 0.0, float("inf"), True)
    with torch.no_grad():
        logits, pred = _heads(params, data.x_te)
        acc = float((logits.argmax(-1) == data.c_te).double().mean())
        rel = float(F.mse_loss(pred, data.y_te) / data.y_te.var(unbiased=False))
    return _Trained(flat, snap, acc, rel, False)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    d = (a - b).abs().max()
    return float(d) if torch.isfinite(d) else float("inf")


def run_schemes(config: Config, seed: int) -> tuple[SchemeOutcome, ...]:
    """Every scheme of ``config`` on one seed, with its invariance or scaled-loss reruns."""
    data = digits_two_tasks(seed, config.test_fraction, config.train_size)
    out = []
    factors = (config.scale, 1 / config.scale)
    for scheme in config.schemes:
        base = _train(scheme, data, config, seed, snapshot_at=config.compare_at)
        if scheme in SCALE_INVARIANT:
            # the claim is exact: compare whole trajectories up to compare_at (float64)
            runs = [
                _train(scheme, data, config, seed, scale=c, steps=config.compare_at)
                for c in factors
            ]
            shifted = _train(
                scheme, data, config, seed, shift=config.shift, steps=config.compare_at
            )
            out.append(
                SchemeOutcome(
                    scheme, base.accuracy, base.rel_mse, base.diverged,
                    scale_param_diff=max(_max_diff(base.snapshot, r.params) for r in runs),
                    shift_param_diff=_max_diff(base.snapshot, shifted.params),
                )
            )  # fmt: skip
        else:
            up = _train(scheme, data, config, seed, scale=factors[0])
            down = (
                _train(scheme, data, config, seed, scale=factors[1]) if config.scale_down else None
            )
            out.append(
                SchemeOutcome(
                    scheme, base.accuracy, base.rel_mse, base.diverged,
                    scaled_up_accuracy=up.accuracy, scaled_up_diverged=up.diverged,
                    scaled_down_accuracy=None if down is None else down.accuracy,
                    scaled_down_diverged=None if down is None else down.diverged,
                )
            )  # fmt: skip
    return tuple(out)
