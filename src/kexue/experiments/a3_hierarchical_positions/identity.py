r"""A3 study 1: the extension is the identity on the first 512 positions, exactly.

all-MiniLM-L6-v2 is extended to 2,048 and 8,192 positions with
:func:`~kexue.transformer.position.extend_positions_`: the first 512 embeddings must be bit-identical,
the outputs on ordinary (≤ 512-token) STS-B sentences bit-identical to the unextended model, and the
rows beyond 512 must equal :math:`\alpha u_i+(1-\alpha)u_j` computed independently in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["EXTENSIONS", "N_TABLE", "Identity", "identity"]

N_TABLE = 512
EXTENSIONS = (2048, 8192)


@dataclass(frozen=True)
class Identity:
    """The extension to ``n_positions`` against the original model (max |Δ| each).

    Attributes:
        n_positions: the extended length.
        first512_maxabs: the first 512 embeddings vs the original table.
        outputs_maxabs: the hidden states on ≤ 512-token sentences vs the unextended model.
        decomposition_maxabs: the rows vs :math:`\\alpha u_i + (1-\\alpha) u_j` in float64.
    """

    n_positions: int
    first512_maxabs: float
    outputs_maxabs: float
    decomposition_maxabs: float


def identity(model: Any, tok: Any, n_sentences: int) -> tuple[Identity, ...]:
    """Extend ``model`` (in place) to each of :data:`EXTENSIONS` positions and compare."""
    from kexue.data.stsb import stsb_sentences
    from kexue.transformer.position import extend_positions_

    original = model.embeddings.position_embeddings.weight.detach().clone()
    sents = stsb_sentences("test")[:n_sentences]
    enc = tok(sents)
    with torch.no_grad():
        before = model(enc["input_ids"], enc["attention_mask"]).last_hidden_state
    out = []
    for n_pos in EXTENSIONS:
        extend_positions_(model, n_pos, alpha=0.4)
        with torch.no_grad():
            table = model.embeddings.position_embeddings(torch.arange(n_pos))
            after = model(enc["input_ids"], enc["attention_mask"]).last_hidden_state
        p = original.double()
        u = (p - 0.4 * p[0]) / 0.6
        t = torch.arange(n_pos)
        ref = 0.4 * u[t // N_TABLE] + 0.6 * u[t % N_TABLE]
        out.append(
            Identity(
                n_pos,
                first512_maxabs=float((table[:N_TABLE] - original).abs().max()),
                outputs_maxabs=float((after - before).abs().max()),
                decomposition_maxabs=float((table.double() - ref).abs().max()),
            )
        )
    return tuple(out)
