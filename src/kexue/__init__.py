"""kexue: techniques from Su Jianlin's Scientific Spaces (kexue.fm) as tested PyTorch components.

Subpackages are imported lazily, so ``import kexue`` (and ``kexue list``) does not import torch:

- :mod:`kexue.transformer` — the attention / position / BERT family
- :mod:`kexue.nn` — generic layers (smooth activations, initialisation, bottleneck)
- :mod:`kexue.losses` — losses and regularisers
- :mod:`kexue.optim` — wrappers around torch optimisers, clipping, estimators, optimiser dynamics
- :mod:`kexue.geometry` — distances between distributions, projections, transport
- :mod:`kexue.stats` — transformations of probability distributions
- :mod:`kexue.models` — scikit-learn-style estimators and trainable systems
- :mod:`kexue.data` — offline access to the bundled data
- :mod:`kexue.training` — one training loop (checkpoint/resume, torchrun/DDP) the experiments share
- :mod:`kexue.catalogue` — the catalogue of techniques (article facts)
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

_SUBPACKAGES = (
    "nn",
    "losses",
    "optim",
    "geometry",
    "stats",
    "models",
    "data",
    "training",
    "catalogue",
    "transformer",
    "experiments",
    "report",
)

__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name: str) -> ModuleType:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"kexue.{name}")
    raise AttributeError(f"module 'kexue' has no attribute {name!r}")
