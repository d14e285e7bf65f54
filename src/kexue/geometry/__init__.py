"""Distances between distributions, random projections and optimal transport.

Every public name is re-exported here flat (``from kexue.geometry import ...``); each is defined in
one module of this package.
"""

from kexue.geometry.gaussian import (
    GaussianBhattacharyyaDistance,
    GaussianKLDivergence,
    GaussianWasserstein2,
    bhattacharyya_distance_gaussian,
    entropy_gaussian,
    kl_divergence_gaussian,
    wasserstein2_gaussian,
)
from kexue.geometry.projection import (
    RandomProjection,
    dasgupta_gupta_min_dim,
    gaussian_projection_matrix,
    head_size_rule,
    jl_min_dim,
    random_projection,
    sparse_projection_matrix,
)
from kexue.geometry.psd import (
    sample_mean_cov,
    sqrtm_psd,
)
from kexue.geometry.randomized_svd import (
    randomized_range_finder,
    randomized_svd,
)
from kexue.geometry.simhash import (
    SimHash,
    sign_cosine,
    simhash,
    simhash_cosine,
)

__all__ = [
    "GaussianBhattacharyyaDistance",
    "GaussianKLDivergence",
    "GaussianWasserstein2",
    "RandomProjection",
    "SimHash",
    "bhattacharyya_distance_gaussian",
    "dasgupta_gupta_min_dim",
    "entropy_gaussian",
    "gaussian_projection_matrix",
    "head_size_rule",
    "jl_min_dim",
    "kl_divergence_gaussian",
    "random_projection",
    "randomized_range_finder",
    "randomized_svd",
    "sample_mean_cov",
    "sign_cosine",
    "simhash",
    "simhash_cosine",
    "sparse_projection_matrix",
    "sqrtm_psd",
    "wasserstein2_gaussian",
]
