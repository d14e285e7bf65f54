"""Transformations and statistics of probability distributions.

Every public name is re-exported here flat (``from kexue.stats import ...``); each is defined in
one module of this package.
"""

from kexue.stats.entropy_normalization import (
    EntropyExponent,
    EntropyNormalization,
    entropy,
    entropy_invariant_scale,
    entropy_normalize,
    solve_entropy_exponent,
)

__all__ = [
    "EntropyExponent",
    "EntropyNormalization",
    "entropy",
    "entropy_invariant_scale",
    "entropy_normalize",
    "solve_entropy_exponent",
]
