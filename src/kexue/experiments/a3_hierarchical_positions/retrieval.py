"""A3 study 2: needle retrieval beyond position 512.

Documents of ``doc_tokens`` word pieces are built from shuffled STS-B *train* sentences; into each
one a *test* sentence (the needle) is inserted at a chosen token offset. The queries are the
needles' STS-B partners (gold similarity ≥ 4, i.e. paraphrases). A query retrieves the document
whose contextual token vectors best match its own (late interaction, "MaxSim": mean over query
tokens of the best cosine over document tokens); mean pooling is scored too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from kexue.experiments.a3_hierarchical_positions import Config

__all__ = ["RetrievalRow", "Tiled", "documents", "hidden", "retrieval"]


@dataclass(frozen=True)
class RetrievalRow:
    """One way of reading the documents: accuracy@1 and MRR of MaxSim and of mean pooling."""

    reading: str
    maxsim_acc: float
    maxsim_mrr: float
    meanpool_acc: float
    meanpool_mrr: float


class Tiled(nn.Module):
    """Baseline: position t reuses p_{t mod n} (shares the original table)."""

    def __init__(self, weight: nn.Parameter) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids % self.weight.shape[0], self.weight)


def documents(
    config: Config, seed: int, tok: Any, lo: int, hi: int
) -> tuple[list[str], list[str], list[int]]:
    """Filler documents from STS-B train with one STS-B test sentence at a token offset in [lo, hi]."""
    from kexue.data.stsb import load_stsb

    rng = random.Random(seed)
    test, train = load_stsb("test"), load_stsb("train")
    pairs = [
        (a, b)
        for a, b, s in zip(test.sentence1, test.sentence2, test.score, strict=True)
        if s >= config.min_score
    ]
    rng.shuffle(pairs)
    pairs = pairs[: config.n_docs]
    filler = list(train.sentence1 + train.sentence2)
    rng.shuffle(filler)

    def n_tok(s: str) -> int:
        return len(tok.tokenizer.encode(s, add_special_tokens=False).ids)

    docs, where, k = [], [], 0
    for needle, _ in pairs:
        parts: list[str] = []
        n, target, at = 0, rng.randint(lo, hi), -1
        while n < config.doc_tokens - 2:  # [CLS] and [SEP] come on top
            if at < 0 and n >= target:
                parts.append(needle)
                at = n + 1  # +1 for [CLS]
                n += n_tok(needle)
                continue
            parts.append(filler[k])
            n += n_tok(filler[k])
            k += 1
        docs.append(" ".join(parts))
        where.append(at)
    return docs, [b for _, b in pairs], where


@torch.no_grad()
def hidden(model: Any, tok: Any, texts: list[str], max_len: int) -> list[torch.Tensor]:
    out = []
    for text in texts:
        ids = tok([text])["input_ids"]
        if ids.shape[1] > max_len:
            ids = torch.cat([ids[:, : max_len - 1], ids[:, -1:]], dim=1)  # keep the [SEP]
        out.append(model(ids).last_hidden_state[0])
    return out


def retrieval(name: str, docs: list[torch.Tensor], queries: list[torch.Tensor]) -> RetrievalRow:
    """Accuracy@1 and MRR of MaxSim and of mean-pooled cosine (query i belongs to doc i)."""
    n = len(docs)
    maxsim, meanpool = torch.zeros(n, n), torch.zeros(n, n)
    qv = [F.normalize(q[1:-1], dim=-1) for q in queries]  # content tokens of each query
    qm = torch.stack([F.normalize(q.mean(0), dim=-1) for q in queries])
    for i, d in enumerate(docs):
        dn = F.normalize(d, dim=-1)
        for j in range(n):
            maxsim[i, j] = (qv[j] @ dn.T).amax(-1).mean()
        meanpool[i] = qm @ F.normalize(d.mean(0), dim=-1)
    res = []
    for s in (maxsim, meanpool):
        rank = (s > s.diagonal()[None]).sum(0) + 1  # rank of the right document per query
        res += [float((rank == 1).float().mean()), float((1.0 / rank.float()).mean())]
    return RetrievalRow(name, *res)
