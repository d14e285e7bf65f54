"""param_groups: no decay for biases and norms, lr factors multiply, layer-wise decay."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kexue.optim import layer_lr_factors, param_groups


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(5, 4)
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 2)


def _by_name(groups):
    return {n: g for g in groups for n in g["param_names"]}


def test_decay_only_on_weight_matrices_and_factors_multiply() -> None:
    net = Net()
    net.layers[0].bias.requires_grad_(False)
    groups = param_groups(
        net, lr=1.0, weight_decay=0.1, lr_factors={"layers": 0.5, "layers.1": 0.2}
    )
    by = _by_name(groups)
    assert "layers.0.bias" not in by  # frozen
    assert by["head.weight"]["weight_decay"] == 0.1 and by["head.bias"]["weight_decay"] == 0.0
    assert by["norm.weight"]["weight_decay"] == 0.0
    assert by["layers.1.weight"]["lr"] == pytest.approx(0.1)
    assert by["layers.0.weight"]["lr"] == pytest.approx(0.5)
    assert by["embedding.weight"]["lr_factor"] == 1.0
    opt = torch.optim.AdamW(groups, lr=1.0)  # torch accepts the groups as they are
    assert sum(len(g["params"]) for g in opt.param_groups) == 8
    by = _by_name(param_groups(net, lr=1.0, weight_decay=0.1, no_decay=("embedding",)))
    assert by["embedding.weight"]["weight_decay"] == 0.0


def test_layer_lr_factors() -> None:
    f = layer_lr_factors(3, 0.5)
    assert f == {"layers.0.": 0.125, "layers.1.": 0.25, "layers.2.": 0.5}
    by = _by_name(
        param_groups(Net(), lr=1.0, weight_decay=0.0, lr_factors=layer_lr_factors(2, 0.5))
    )
    assert by["layers.0.weight"]["lr"] == 0.25 and by["head.weight"]["lr"] == 1.0


def test_bad_input() -> None:
    with pytest.raises(TypeError, match="model"):
        param_groups([nn.Parameter(torch.zeros(2))], lr=1.0, weight_decay=0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weight_decay"):
        param_groups(Net(), lr=1.0, weight_decay=-0.1)
    with pytest.raises(ValueError, match="lr"):
        param_groups(Net(), lr=0.0, weight_decay=0.1)
    with pytest.raises(ValueError, match="lr_factors"):
        param_groups(Net(), lr=1.0, weight_decay=0.1, lr_factors={"head": -1.0})
    with pytest.raises(ValueError, match="trainable"):
        param_groups(nn.ReLU(), lr=1.0, weight_decay=0.1)
    with pytest.raises(ValueError, match="decay"):
        layer_lr_factors(2, 1.5)
    with pytest.raises(ValueError, match="num_layers"):
        layer_lr_factors(0, 0.5)
