"""LazyRows: absent embedding rows keep their values; moments decay (article) or freeze."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from kexue.optim import LazyRows

D = torch.float64


class Bag(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(10, 4).to(D)
        self.out = nn.Linear(4, 1).to(D)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.emb(ids).mean(1)).squeeze(-1)


def _train(model: Bag, opt: torch.optim.Optimizer, batches: list[list[int]]) -> None:
    for ids in batches:
        opt.zero_grad()
        (model(torch.tensor([ids])) - 1.0).pow(2).mean().backward()
        opt.step()


BATCHES = [[0, 1, 2], [3, 4, 5], [0, 1, 2], [6, 7, 0]]


@pytest.mark.parametrize("moments", ["decay", "freeze"])
def test_absent_rows_keep_their_values(moments: str) -> None:
    model = Bag()
    inner = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)
    opt = LazyRows(inner, [model.emb.weight], moments=moments)
    _train(model, opt, BATCHES[:1])
    snap = model.emb.weight.detach().clone()
    m1 = inner.state[model.emb.weight]["exp_avg"].clone()
    _train(model, opt, BATCHES[1:2])  # rows 0, 1, 2 absent now
    w, m2 = model.emb.weight.detach(), inner.state[model.emb.weight]["exp_avg"]
    assert torch.equal(w[:3], snap[:3]) and torch.equal(w[8:], snap[8:])
    assert not torch.equal(w[3:6], snap[3:6])
    if moments == "decay":  # the article's variant: Adam's moments still decay
        torch.testing.assert_close(m2[:3], 0.9 * m1[:3], rtol=1e-14, atol=0)
    else:  # SparseAdam style: frozen
        assert torch.equal(m2[:3], m1[:3])


def test_dense_parameters_and_present_rows_match_plain_adam() -> None:
    # with every row present in every batch the two coincide exactly
    lazy, plain = Bag(), Bag()
    full = [list(range(10))] * 3
    _train(lazy, LazyRows(torch.optim.Adam(lazy.parameters(), lr=0.1), [lazy.emb.weight]), full)
    _train(plain, torch.optim.Adam(plain.parameters(), lr=0.1), full)
    for a, b in zip(lazy.parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b)


def test_state_dict_round_trip_is_bit_identical() -> None:
    model = Bag()
    opt = LazyRows(torch.optim.Adam(model.parameters(), lr=0.1), [model.emb.weight])
    _train(model, opt, BATCHES[:2])
    saved = copy.deepcopy((model.state_dict(), opt.state_dict()))
    _train(model, opt, BATCHES[2:])
    other = Bag()
    other.load_state_dict(saved[0])
    opt2 = LazyRows(torch.optim.Adam(other.parameters(), lr=0.1), [other.emb.weight])
    opt2.load_state_dict(saved[1])
    _train(other, opt2, BATCHES[2:])
    for a, b in zip(other.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_bad_input() -> None:
    model = Bag()
    adam = torch.optim.Adam(model.parameters())
    with pytest.raises(TypeError, match="optimizer"):
        LazyRows(model, [model.emb.weight])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="params"):
        LazyRows(adam, [])
    with pytest.raises(ValueError, match=r"params\[0\]"):
        LazyRows(adam, [model.out.bias])
    with pytest.raises(ValueError, match=r"params\[0\].*not in optimizer"):
        LazyRows(adam, [torch.zeros(3, 3)])
    with pytest.raises(TypeError, match=r"params\[0\]"):
        LazyRows(adam, ["emb"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="moments"):
        LazyRows(adam, [model.emb.weight], moments="lazy")


def test_rosenbrock_converges() -> None:
    xy = torch.tensor([[-1.5], [2.0]], dtype=D, requires_grad=True)  # two rows of one column
    opt = LazyRows(torch.optim.Adam([xy], lr=0.05), [xy])
    for _ in range(1500):
        opt.zero_grad()
        x, y = xy[:, 0]
        ((1 - x) ** 2 + 100 * (y - x**2) ** 2).backward()
        opt.step()
    assert float((xy.detach() - 1).norm()) < 1e-2
