"""Transformations and statistics of probability distributions.

Every public name is re-exported here flat (``from kexue.stats import ...``); each is defined in
one module of this package.
"""

from kexue.stats.collapse import (
    CollapseMonitor,
    CollapseRecord,
    effective_rank,
    normalized_output_std,
)
from kexue.stats.entropy_normalization import (
    EntropyExponent,
    EntropyNormalization,
    entropy,
    entropy_invariant_scale,
    entropy_normalize,
    solve_entropy_exponent,
)

__all__ = [
    "CollapseMonitor",
    "CollapseRecord",
    "EntropyExponent",
    "EntropyNormalization",
    "effective_rank",
    "entropy",
    "entropy_invariant_scale",
    "entropy_normalize",
    "normalized_output_std",
    "solve_entropy_exponent",
]
