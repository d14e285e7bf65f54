"""Conformance cases for A3: hierarchical decomposition of absolute position embeddings."""

from __future__ import annotations

from typing import Any

import torch

from kexue.transformer.position import (
    HierarchicalPositionEmbedding,
    hierarchical_position_embedding,
    hierarchical_position_table,
)

from .case import Args, BadInput, Case

_TABLE = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
_IDS = torch.tensor([[0, 5, 6, 35], [12, 7, 1, 30]])


def _embed_args(dtype: torch.dtype) -> Args:
    return (_TABLE.to(dtype), _IDS), {"alpha": 0.4}


def _module() -> Any:
    def call(table: torch.Tensor, ids: torch.Tensor, alpha: float = 0.4) -> torch.Tensor:
        return HierarchicalPositionEmbedding(table, 36, alpha)(ids)

    return call


CASES = [
    Case(
        name="hierarchical_position_embedding",
        fn=hierarchical_position_embedding,
        make_args=_embed_args,
        module=_module,
        bad=[
            BadInput("int-table", (_TABLE.long(), _IDS), {}, TypeError, "table"),
            BadInput("float-ids", (_TABLE, _IDS.double()), {}, TypeError, "position_ids"),
            BadInput("ids-beyond-n2", (_TABLE, torch.tensor([36])), {}, ValueError, "position_ids"),
            BadInput("alpha-half", (_TABLE, _IDS), {"alpha": 0.5}, ValueError, "alpha"),
            BadInput(
                "nan-table", (torch.full((6, 4), float("nan")), _IDS), {}, ValueError, "table"
            ),
        ],
    ),
    Case(
        name="hierarchical_position_table",
        fn=hierarchical_position_table,
        make_args=lambda dtype: ((_TABLE.to(dtype), 20), {"alpha": 0.3}),
        bad=[
            BadInput("n_new-too-big", (_TABLE, 37), {}, ValueError, "n_new"),
            BadInput("n_new-float", (_TABLE, 20.0), {}, TypeError, "n_new"),
            BadInput("empty-table", (torch.zeros(0, 4), 1), {}, ValueError, "table"),
        ],
    ),
]
