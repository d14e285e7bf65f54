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
from kexue.geometry.gaussian_pairwise import (
    DISTANCES,
    gaussian_distances,
    pairwise_gaussian_distances,
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
from kexue.geometry.transport import (
    earth_movers_distance,
    idf_weights,
    relaxed_transport_bound,
    token_masses,
    transport_cost_matrix,
    transport_distance,
    word_centroid_distance,
    word_mover_distance,
    word_rotator_distance,
    wrd_centroid_bound,
)
from kexue.geometry.transport_search import (
    TransportSearch,
    TransportSearchResult,
)

__all__ = [
    "DISTANCES",
    "GaussianBhattacharyyaDistance",
    "GaussianKLDivergence",
    "GaussianWasserstein2",
    "RandomProjection",
    "SimHash",
    "TransportSearch",
    "TransportSearchResult",
    "bhattacharyya_distance_gaussian",
    "dasgupta_gupta_min_dim",
    "earth_movers_distance",
    "entropy_gaussian",
    "gaussian_distances",
    "gaussian_projection_matrix",
    "head_size_rule",
    "idf_weights",
    "jl_min_dim",
    "kl_divergence_gaussian",
    "pairwise_gaussian_distances",
    "random_projection",
    "randomized_range_finder",
    "randomized_svd",
    "relaxed_transport_bound",
    "sample_mean_cov",
    "sign_cosine",
    "simhash",
    "simhash_cosine",
    "sparse_projection_matrix",
    "sqrtm_psd",
    "token_masses",
    "transport_cost_matrix",
    "transport_distance",
    "wasserstein2_gaussian",
    "word_centroid_distance",
    "word_mover_distance",
    "word_rotator_distance",
    "wrd_centroid_bound",
]
