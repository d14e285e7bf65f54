"""A tiny training loop built from kexue components, runnable alone or under ``torchrun`` (DDP).

Used by ``test_ddp.py``: ``python tests/core/ddp_train.py OUT`` trains on the full batch in one
process; ``torchrun --nproc_per_node=2 tests/core/ddp_train.py OUT`` trains the same model with each
of two gloo processes holding half the batch. The saved parameters must agree.
"""

from __future__ import annotations

import functools
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

from kexue.losses.multilabel import multilabel_categorical_crossentropy
from kexue.transformer.attention import SoftmaxAttention
from kexue.transformer.bert import BertConfig, BertModel
from kexue.transformer.taylor_softmax import taylor_softmax

STEPS, BATCH, LENGTH, LABELS = 3, 8, 6, 5


class Tagger(nn.Module):
    """BERT with Taylor-softmax attention and a multi-label head trained with ZLPR."""

    def __init__(self) -> None:
        super().__init__()
        cfg = BertConfig(
            vocab_size=20,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
        attention = SoftmaxAttention(softmax_fn=functools.partial(taylor_softmax, order=4))
        self.encoder = BertModel(cfg, attention=attention)
        self.head = nn.Linear(16, LABELS)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(ids, mask).last_hidden_state  # (B, T, H)
        m = mask[..., None].to(h.dtype)
        return self.head((h * m).sum(1) / m.sum(1))


def main(out: str) -> None:
    distributed = "RANK" in os.environ
    rank, world = 0, 1
    if distributed:
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = Tagger().double()
    data = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 20, (BATCH, LENGTH), generator=data)
    mask = torch.ones(BATCH, LENGTH, dtype=torch.long)
    mask[::2, -2:] = 0  # padded sequences
    targets = torch.rand(BATCH, LABELS, generator=data) < 0.3
    shard = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
    net: nn.Module = nn.parallel.DistributedDataParallel(model) if distributed else model
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = multilabel_categorical_crossentropy(net(ids[shard], mask[shard]), targets[shard])
        loss.backward()  # DDP averages gradients over ranks = the full-batch mean
        opt.step()
    if rank == 0:
        final = {k: v.detach() for k, v in model.state_dict().items()}
        torch.save({"initial": initial, "final": final}, out)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
