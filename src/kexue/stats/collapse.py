"""Representation-collapse diagnostics: normalised output spread, effective rank, and a monitor.

A self-supervised encoder *collapses* when it maps every input to (nearly) the same vector. Two
batch statistics tell it early:

- :func:`normalized_output_std`: the per-dimension standard deviation of the l2-normalised outputs,
  averaged over dimensions. Outputs spread over the unit sphere give about :math:`1/\\sqrt d`; a
  collapsed encoder gives 0.
- :func:`effective_rank`: :math:`\\exp H(\\sigma/\\|\\sigma\\|_1)` of the singular values of the
  centred outputs (Roy & Vetterli, 2007), between 1 (one direction) and ``min(batch, d)``; it also
  catches *dimensional* collapse, where outputs vary along a few directions only.

:class:`CollapseMonitor` records both along training and says when the spread falls below a share
of :math:`1/\\sqrt d`. Article 7980 explains why SimSiam's stop-gradient avoids the collapse that the
same loss without it reaches; :mod:`kexue.losses.simsiam` holds the loss.

Reference: https://kexue.fm/archives/7980
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from kexue._validate import check_finite, check_floating, check_ndim, check_positive

__all__ = ["CollapseMonitor", "CollapseRecord", "effective_rank", "normalized_output_std"]


def _check_outputs(z: object) -> torch.Tensor:
    t = check_ndim(check_floating(z, "z"), "z", 2, 2)
    if t.shape[0] < 2 or t.shape[1] < 1:
        raise ValueError(f"z must be (batch >= 2, d >= 1), got shape {tuple(t.shape)}")
    return check_finite(t, "z")


def normalized_output_std(z: torch.Tensor) -> torch.Tensor:
    """Mean over dimensions of the batch std of the l2-normalised rows of ``z``.

    Args:
        z: outputs ``(batch, d)``, ``batch >= 2``.

    Returns:
        A 0-dim tensor: about :math:`1/\\sqrt d` for outputs spread over the sphere, 0 when every
        row points the same way.

    Reference: https://kexue.fm/archives/7980
    """
    t = _check_outputs(z)
    return F.normalize(t, dim=1).std(dim=0).mean()


def effective_rank(z: torch.Tensor, *, eps: float = 1e-12) -> torch.Tensor:
    """Effective rank :math:`\\exp(-\\sum_i p_i\\log p_i)`, :math:`p=\\sigma/\\|\\sigma\\|_1`, of centred ``z``.

    Args:
        z: outputs ``(batch, d)``, ``batch >= 2``.
        eps: singular-value mass below which the outputs count as constant (rank 1 is returned
            rather than 0/0).

    Returns:
        A 0-dim tensor in ``[1, min(batch, d)]``.

    Reference: https://kexue.fm/archives/7980
    """
    t = _check_outputs(z)
    check_positive(eps, "eps")
    s = torch.linalg.svdvals(t - t.mean(dim=0, keepdim=True))
    total = s.sum()
    if float(total) <= eps * max(1.0, float(t.abs().max())):
        return torch.ones((), dtype=t.dtype, device=t.device)
    p = s / total
    h = -(p * torch.log(p.clamp_min(torch.finfo(t.dtype).tiny))).sum()
    return h.exp()


@dataclass(frozen=True)
class CollapseRecord:
    """One measurement: the step, the normalised std, its share of :math:`1/\\sqrt d`, the rank.

    Reference: https://kexue.fm/archives/7980
    """

    step: int
    std: float
    std_ratio: float
    rank: float


@dataclass
class CollapseMonitor:
    """Records collapse statistics of a batch of outputs along training.

    Call ``monitor.update(z, step)`` with encoder (or projector) outputs every few steps;
    ``monitor.collapsed`` is true once the latest normalised std is below ``threshold`` times
    :math:`1/\\sqrt d`. ``history`` keeps every :class:`CollapseRecord`.

    Args:
        threshold: share of :math:`1/\\sqrt d` below which the outputs count as collapsed (0.1:
            a tenth of the spread of random directions).

    Reference: https://kexue.fm/archives/7980
    """

    threshold: float = 0.1
    history: list[CollapseRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_positive(self.threshold, "threshold")

    @torch.no_grad()
    def update(self, z: torch.Tensor, step: int | None = None) -> CollapseRecord:
        """Measure ``z`` (``(batch, d)``) and append the record (``step`` defaults to the count)."""
        t = _check_outputs(z).detach()
        std = float(normalized_output_std(t))
        rec = CollapseRecord(
            step=len(self.history) if step is None else int(step),
            std=std,
            std_ratio=std * math.sqrt(t.shape[1]),
            rank=float(effective_rank(t)),
        )
        self.history.append(rec)
        return rec

    @property
    def collapsed(self) -> bool:
        """Whether the latest record's std is below ``threshold / sqrt(d)`` (False before any)."""
        return bool(self.history) and self.history[-1].std_ratio < self.threshold

    def __repr__(self) -> str:
        last = self.history[-1] if self.history else None
        state = (
            "no records"
            if last is None
            else f"last std×√d={last.std_ratio:.3f}, rank={last.rank:.1f}"
        )
        return f"CollapseMonitor(threshold={self.threshold}, {len(self.history)} records, {state})"
