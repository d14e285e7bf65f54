r"""A5 study 2: attention saturation at initialisation, with and without :math:`1/\sqrt d`.

For head sizes :math:`d \in \{16, 64, 256\}`, LayerNorm-ed inputs (unit-variance Gaussians) are
projected by LeCun-initialised :math:`W_q, W_k`; the mean max-probability of the softmax over 64 keys
and the mean Frobenius norm of its Jacobian :math:`\mathrm{diag}(p) - pp^\top` show that without the
:math:`1/\sqrt d` scale the softmax saturates as :math:`d` grows (vanishing gradients), and that
T5's alternative — fold the :math:`1/\sqrt d` into :math:`W_q`'s initialisation — behaves alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["SaturationRow", "attention_saturation"]

INITS = ("no scale", "1/sqrt(d)", "T5 init")


@dataclass(frozen=True)
class SaturationRow:
    """One head size and set-up: mean max attention probability and softmax-Jacobian norm."""

    head_size: int
    setup: str
    max_prob: float
    jacobian_norm: float


def attention_saturation(seed: int) -> tuple[SaturationRow, ...]:
    """Mean max-probability and softmax-Jacobian norm at init for d in {16, 64, 256}."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for d in (16, 64, 256):
        x = torch.randn(512, d, generator=g, dtype=torch.float64)  # LayerNorm-ed inputs
        w_std = torch.randn(2, d, d, generator=g, dtype=torch.float64) / math.sqrt(d)  # LeCun
        w_t5 = torch.randn(2, d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
        w_t5[0] /= math.sqrt(d)  # T5: the whole 1/sqrt(d) moves into W_q's init, no scaling
        for setup, w, lam in zip(INITS, (w_std, w_std, w_t5), (1.0, d**-0.5, 1.0), strict=True):
            q, k = x[:64] @ w[0], x[64:128] @ w[1]  # 64 queries, 64 keys
            p = torch.softmax(lam * q @ k.T, -1)
            jac = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
            rows.append(
                SaturationRow(
                    d, setup, float(p.max(-1).values.mean()), float(jac.norm(dim=(-2, -1)).mean())
                )
            )
    return tuple(rows)
