r"""Parameter groups for torch optimisers: no weight decay on biases and norms, per-name LR factors.

:func:`param_groups` splits a model's parameters into the groups a ``torch.optim`` optimiser takes
(``torch.optim.AdamW(param_groups(model, lr=1e-3, weight_decay=0.01))``):

- decoupled weight decay (AdamW's, scaled by the lr as in bert4keras) only on weight matrices:
  biases, every parameter of a normalisation layer (LayerNorm, BatchNorm, GroupNorm, RMSNorm ...)
  and names containing a ``no_decay`` substring get ``weight_decay = 0``;
- a learning-rate factor per parameter, the product of the ``lr_factors`` values whose key is a
  substring of the parameter's name (bert4keras' ``paramwise_lr_schedule``); layer-wise decay of
  the learning rate is the factors of :func:`layer_lr_factors`.

Each group records its ``param_names`` (torch's own key), ``lr_factor`` and ``weight_decay``.

Reference: 苏剑林, 6个派生优化器的简单介绍及其实现, https://kexue.fm/archives/7094
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from kexue._validate import check_positive

__all__ = ["layer_lr_factors", "param_groups"]

NORMS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    nn.RMSNorm,
)


def param_groups(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    lr_factors: Mapping[str, float] | None = None,
    no_decay: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Group ``model``'s trainable parameters by (decayed or not, lr factor).

    Args:
        model: the module whose ``named_parameters()`` are grouped (frozen ones are left out).
        lr: the base learning rate; a group's ``lr`` is ``lr × lr_factor``.
        weight_decay: the decay of weight matrices (≥ 0).
        lr_factors: ``{name substring: factor}``; a parameter's factor is the product of the
            matching values (``{"embedding": 0.1}``).
        no_decay: extra name substrings excluded from weight decay (biases, 1-d parameters and
            normalisation layers always are).

    Returns:
        The groups, in order of first appearance, each with ``params``, ``param_names``, ``lr``,
        ``lr_factor`` and ``weight_decay``.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
        ValueError: negative ``weight_decay``, non-positive ``lr`` or factor, no trainable
            parameter.

    Reference: 苏剑林, 6个派生优化器的简单介绍及其实现, https://kexue.fm/archives/7094
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    check_positive(lr, "lr")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    factors = dict(lr_factors or {})
    for key, value in factors.items():
        check_positive(value, f"lr_factors[{key!r}]")
    in_norm = {
        id(p) for m in model.modules() if isinstance(m, NORMS) for p in m.parameters(recurse=False)
    }
    groups: dict[tuple[bool, float], dict[str, Any]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decay = p.ndim >= 2 and id(p) not in in_norm and not any(s in name for s in no_decay)
        factor = 1.0
        for key, value in factors.items():
            if key in name:
                factor *= value
        group = groups.setdefault(
            (decay, factor),
            {
                "params": [],
                "param_names": [],
                "lr": lr * factor,
                "lr_factor": factor,
                "weight_decay": weight_decay if decay else 0.0,
            },
        )
        group["params"].append(p)
        group["param_names"].append(name)
    if not groups:
        raise ValueError("model has no trainable parameter")
    return list(groups.values())


def layer_lr_factors(
    num_layers: int, decay: float, template: str = "layers.{}."
) -> dict[str, float]:
    """Layer-wise LR decay: ``{template.format(i): decay ** (num_layers - i)}`` for each layer i.

    The top layer (``num_layers - 1``) gets ``decay``, layer 0 ``decay ** num_layers``; pass the
    result as ``lr_factors`` of :func:`param_groups` (add the embeddings' factor yourself).

    Raises:
        ValueError: ``num_layers`` < 1 or ``decay`` outside (0, 1].

    Reference: 苏剑林, 6个派生优化器的简单介绍及其实现, https://kexue.fm/archives/7094
    """
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be an int >= 1, got {num_layers!r}")
    if not 0 < check_positive(decay, "decay") <= 1:
        raise ValueError(f"decay must be in (0, 1], got {decay}")
    return {template.format(i): decay ** (num_layers - i) for i in range(num_layers)}
