"""The attention / position / BERT family: attention cores, Performer, RealFormer, positions,
entropy-invariant scale, Taylor softmax, residual/NTK parameterisation, a compact BERT and its
pretrained loader.

Every public name is re-exported here flat (``from kexue.transformer import ...``); each is defined in
one module of this package.
"""

from kexue.transformer.attention import (
    Attention,
    SoftmaxAttention,
    softmax_attention,
)
from kexue.transformer.attention_scale import (
    SoftmaxPlus,
    attention_entropy,
    entropy_invariant_factor,
    softmax_plus,
)
from kexue.transformer.bert import (
    BertConfig,
    BertModel,
    BertOutput,
)
from kexue.transformer.linear_attention import (
    linear_attention,
)
from kexue.transformer.ntk import (
    NTKLinear,
    ntk_linear,
)
from kexue.transformer.performer import PerformerAttention, favor_attention
from kexue.transformer.position import (
    HierarchicalPositionEmbedding,
    extend_positions_,
    hierarchical_position_embedding,
    hierarchical_position_table,
    rotary_embedding,
)
from kexue.transformer.pretrained import (
    BertTokenizer,
    default_model_dir,
    encode_sentences,
    load_pretrained,
    load_state_dict_strict,
    mean_pooling,
)
from kexue.transformer.random_features import (
    Scaling,
    gaussian_orthogonal_random_matrix,
    positive_random_features,
)
from kexue.transformer.realformer import (
    RealFormerAttention,
    RealFormerState,
    realformer_attention,
)
from kexue.transformer.residual import (
    AttentionBranch,
    FeedForwardBranch,
    ResidualBlock,
    residual_step,
    set_residual_alpha_,
)
from kexue.transformer.taylor_softmax import (
    TaylorCrossEntropyLoss,
    TaylorSoftmax,
    log_taylor_softmax,
    taylor_cross_entropy,
    taylor_exp,
    taylor_minimum,
    taylor_softmax,
)

__all__ = [
    "Attention",
    "AttentionBranch",
    "BertConfig",
    "BertModel",
    "BertOutput",
    "BertTokenizer",
    "FeedForwardBranch",
    "HierarchicalPositionEmbedding",
    "NTKLinear",
    "PerformerAttention",
    "RealFormerAttention",
    "RealFormerState",
    "ResidualBlock",
    "Scaling",
    "SoftmaxAttention",
    "SoftmaxPlus",
    "TaylorCrossEntropyLoss",
    "TaylorSoftmax",
    "attention_entropy",
    "default_model_dir",
    "encode_sentences",
    "entropy_invariant_factor",
    "extend_positions_",
    "favor_attention",
    "gaussian_orthogonal_random_matrix",
    "hierarchical_position_embedding",
    "hierarchical_position_table",
    "linear_attention",
    "load_pretrained",
    "load_state_dict_strict",
    "log_taylor_softmax",
    "mean_pooling",
    "ntk_linear",
    "positive_random_features",
    "realformer_attention",
    "residual_step",
    "rotary_embedding",
    "set_residual_alpha_",
    "softmax_attention",
    "softmax_plus",
    "taylor_cross_entropy",
    "taylor_exp",
    "taylor_minimum",
    "taylor_softmax",
]
