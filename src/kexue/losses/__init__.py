"""Losses and regularisers, each with a functional form and an ``nn.Module``.

Every public name is re-exported here flat (``from kexue.losses import ...``); each is defined in
one module of this package.
"""

from kexue.losses.focal import (
    HardTruncationLoss,
    SigmoidFocalLoss,
    SoftenedTruncationLoss,
    SoftmaxFocalLoss,
    hard_truncation_loss,
    sigmoid_focal_loss,
    softened_truncation_loss,
    softmax_focal_loss,
)
from kexue.losses.gan import (
    WGANDivPenalty,
    WGANGPPenalty,
    critic_loss,
    energy_generator_loss,
    generator_loss,
    score_penalty,
    wgan_div_penalty,
    wgan_gp_penalty,
)
from kexue.losses.gradient_penalty import (
    GradientPenaltyBound,
    InputGradientPenalty,
    ParameterGradientPenalty,
    gradient_penalty_inequality,
    input_gradient_penalty,
    parameter_gradient_penalty,
)
from kexue.losses.imbalance import (
    F1WeightedCrossEntropy,
    class_balanced_weights,
    f1_weighted_cross_entropy,
    smooth_accuracy,
    smooth_f1,
)
from kexue.losses.implicit_regularization import (
    FlowTracking,
    ModifiedLoss,
    flow_tracking_errors,
    gradient_descent,
    gradient_flow,
    modified_gradient,
    modified_loss,
)
from kexue.losses.latent_mala import (
    MALAResult,
    latent_mala,
)
from kexue.losses.logit_adjustment import (
    LogitAdjustedCrossEntropy,
    log_prior,
    logit_adjust,
    logit_adjusted_cross_entropy,
)
from kexue.losses.multilabel import (
    MultilabelCrossEntropy,
    SparseMultilabelCrossEntropy,
    multilabel_categorical_crossentropy,
    multilabel_predict,
    multilabel_probabilities,
    sparse_multilabel_categorical_crossentropy,
)
from kexue.losses.multitask import (
    STRATEGIES,
    MultiTaskLoss,
    ce_prior_loss,
    generalized_mean,
    gradient_normalized_sum,
    mse_prior_loss,
    normalized_sum,
    realtime_normalized_sum,
    uncertainty_weighted_sum,
    weighted_sum,
)
from kexue.losses.simsiam import (
    SimSiamLoss,
    negative_cosine_similarity,
    simsiam_loss,
)
from kexue.losses.weissi import (
    WEISSIRegularizer,
    l2_penalty,
    layer_weights,
    rescale_layers,
    weissi_penalty,
)

__all__ = [
    "STRATEGIES",
    "F1WeightedCrossEntropy",
    "FlowTracking",
    "GradientPenaltyBound",
    "HardTruncationLoss",
    "InputGradientPenalty",
    "LogitAdjustedCrossEntropy",
    "MALAResult",
    "ModifiedLoss",
    "MultiTaskLoss",
    "MultilabelCrossEntropy",
    "ParameterGradientPenalty",
    "SigmoidFocalLoss",
    "SimSiamLoss",
    "SoftenedTruncationLoss",
    "SoftmaxFocalLoss",
    "SparseMultilabelCrossEntropy",
    "WEISSIRegularizer",
    "WGANDivPenalty",
    "WGANGPPenalty",
    "ce_prior_loss",
    "class_balanced_weights",
    "critic_loss",
    "energy_generator_loss",
    "f1_weighted_cross_entropy",
    "flow_tracking_errors",
    "generalized_mean",
    "generator_loss",
    "gradient_descent",
    "gradient_flow",
    "gradient_normalized_sum",
    "gradient_penalty_inequality",
    "hard_truncation_loss",
    "input_gradient_penalty",
    "l2_penalty",
    "latent_mala",
    "layer_weights",
    "log_prior",
    "logit_adjust",
    "logit_adjusted_cross_entropy",
    "modified_gradient",
    "modified_loss",
    "mse_prior_loss",
    "multilabel_categorical_crossentropy",
    "multilabel_predict",
    "multilabel_probabilities",
    "negative_cosine_similarity",
    "normalized_sum",
    "parameter_gradient_penalty",
    "realtime_normalized_sum",
    "rescale_layers",
    "score_penalty",
    "sigmoid_focal_loss",
    "simsiam_loss",
    "smooth_accuracy",
    "smooth_f1",
    "softened_truncation_loss",
    "softmax_focal_loss",
    "sparse_multilabel_categorical_crossentropy",
    "uncertainty_weighted_sum",
    "weighted_sum",
    "weissi_penalty",
    "wgan_div_penalty",
    "wgan_gp_penalty",
]
