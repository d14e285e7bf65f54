"""The technique registry: one frozen record per Scientific Spaces technique.

The registry is plain data (no torch import), so ``kexue list`` stays instant. The CLI, the report
and the conformance test all read it. A technique is *implemented* once it names its public
callables and a reproduction experiment; the others are listed as planned so users can see the
whole catalogue (``../shared/SPEC.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Family = Literal["transformer", "nn", "losses", "optim", "geometry", "stats", "models", "dynamics"]

KEXUE_URL = "https://kexue.fm/archives/{}"


@dataclass(frozen=True)
class Technique:
    """One technique from an article.

    Attributes:
        id: the SPEC id, e.g. ``"D2"``.
        name: short English name.
        family: the package family the component lives in.
        article: the seed article's (Chinese) title.
        article_ids: kexue.fm archive ids; the first is the seed article.
        spec: the spec file (relative to ``shared/``) with the maths and acceptance checks.
        seed: the file under ``shared/seeds/`` holding the article text, if one ships.
        claim: the article's central claim that the reproduction checks.
        callables: public components as ``"module:attribute"`` strings.
        experiment: module path of the registered reproduction (``None`` while planned).
    """

    id: str
    name: str
    family: Family
    article: str
    article_ids: tuple[int, ...]
    spec: str
    seed: str | None
    claim: str
    callables: tuple[str, ...] = field(default=())
    experiment: str | None = None

    @property
    def url(self) -> str:
        """kexue.fm address of the seed article (empty when the technique has none)."""
        return KEXUE_URL.format(self.article_ids[0]) if self.article_ids else ""

    @property
    def implemented(self) -> bool:
        """Whether the technique ships a component and a reproduction."""
        return bool(self.callables) and self.experiment is not None

    @property
    def status(self) -> str:
        return "implemented" if self.implemented else "planned"


TECHNIQUES: tuple[Technique, ...] = (
    Technique(
        id="A1",
        name="Performer FAVOR+ attention",
        family="transformer",
        article="Performer：用随机投影将Attention的复杂度线性化",
        article_ids=(7921,),
        spec="spec/transformer-nlp.md",
        seed=None,
        claim=(
            "Positive random features estimate $e^{q\\cdot k}$ without bias, making attention linear in n; pretrained weights swapped in lose accuracy but recover with brief fine-tuning."
        ),
        callables=(
            "kexue.transformer.performer:favor_attention",
            "kexue.transformer.random_features:positive_random_features",
            "kexue.transformer.random_features:gaussian_orthogonal_random_matrix",
            "kexue.transformer.performer:PerformerAttention",
            "kexue.transformer.linear_attention:linear_attention",
        ),
        experiment="kexue.experiments.a1_performer",
    ),
    Technique(
        id="A2",
        name="RealFormer residual attention",
        family="transformer",
        article="RealFormer：把残差转移到Attention矩阵上面去",
        article_ids=(8027,),
        spec="spec/transformer-nlp.md",
        seed=None,
        claim=(
            "Carrying a running sum of pre-softmax scores across Post-LN layers trains better than Post-LN and Pre-LN."
        ),
        callables=(
            "kexue.transformer.realformer:realformer_attention",
            "kexue.transformer.realformer:RealFormerAttention",
            "kexue.transformer.realformer:RealFormerState",
        ),
        experiment="kexue.experiments.a2_realformer",
    ),
    Technique(
        id="A3",
        name="Hierarchical position decomposition",
        family="transformer",
        article="层次分解位置编码，让BERT可以处理超长文本",
        article_ids=(7947,),
        spec="spec/transformer-nlp.md",
        seed=None,
        claim=(
            "$u_i=(p_i-\\alpha p_1)/(1-\\alpha)$ extends an n-position table to $n^2$, exact on the first n; MLM ≈ 38 % at 1536 untrained, above 55 % after ~3000 steps."
        ),
        callables=(
            "kexue.transformer.position:hierarchical_position_embedding",
            "kexue.transformer.position:hierarchical_position_table",
            "kexue.transformer.position:HierarchicalPositionEmbedding",
            "kexue.transformer.position:extend_positions_",
        ),
        experiment="kexue.experiments.a3_hierarchical_positions",
    ),
    Technique(
        id="A4",
        name="Entropy-invariant attention scale",
        family="transformer",
        article="从熵不变性看Attention的Scale操作",
        article_ids=(8823,),
        spec="spec/transformer-nlp.md",
        seed=None,
        claim=(
            "Scaling logits by $\\log_{512}n/\\sqrt d$ keeps attention entropy stable; trained at length 64, MLM accuracy at 256 is 34.04 % vs 23.02 %."
        ),
        callables=(
            "kexue.transformer.attention_scale:softmax_plus",
            "kexue.transformer.attention_scale:SoftmaxPlus",
            "kexue.transformer.attention_scale:attention_entropy",
            "kexue.transformer.attention_ops:entropy_invariant_factor",
            "kexue.transformer.attention:SoftmaxAttention",
        ),
        experiment="kexue.experiments.a4_entropy_invariant_scale",
    ),
    Technique(
        id="A5",
        name="Transformer init/parameterisation",
        family="transformer",
        article="浅谈Transformer的初始化、参数化与标准化",
        article_ids=(8620,),
        spec="spec/transformer-nlp.md",
        seed=None,
        claim=(
            "Second-moment-preserving init (TF truncated normal needs ×1.1368472), NTK parameterisation, and why $1/\\sqrt d$ and residual scaling are needed."
        ),
        callables=(
            "kexue.nn.init:truncated_normal_variance",
            "kexue.nn.init:trunc_normal_correction",
            "kexue.nn.init:trunc_normal",
            "kexue.nn.init:trunc_normal_",
            "kexue.nn.init:gaussian_second_moment",
            "kexue.transformer.ntk:ntk_linear",
            "kexue.transformer.ntk:NTKLinear",
            "kexue.transformer.residual:residual_step",
            "kexue.transformer.residual:ResidualBlock",
            "kexue.transformer.residual:set_residual_alpha_",
        ),
        experiment="kexue.experiments.a5_init_parameterisation",
    ),
    Technique(
        id="A6",
        name="Taylor softmax, even-order positivity",
        family="nn",
        article="exp(x)在x=0处的偶次泰勒展开式总是正的",
        article_ids=(7919,),
        spec="spec/transformer-nlp.md",
        seed="003_5477d17ee1ddbdcc.txt",
        claim=(
            "Every even-order Taylor polynomial of $e^x$ is positive (minima table n = 2…10), so it can replace exp in softmax."
        ),
        callables=(
            "kexue.transformer.taylor_softmax:taylor_exp",
            "kexue.transformer.taylor_softmax:taylor_minimum",
            "kexue.transformer.taylor_softmax:taylor_softmax",
            "kexue.transformer.taylor_softmax:log_taylor_softmax",
            "kexue.transformer.taylor_softmax:taylor_cross_entropy",
            "kexue.transformer.taylor_softmax:TaylorSoftmax",
            "kexue.transformer.taylor_softmax:TaylorCrossEntropyLoss",
        ),
        experiment="kexue.experiments.a6_taylor_softmax",
    ),
    Technique(
        id="A7",
        name="Pretrained BERT encoder (MiniLM) without transformers",
        family="transformer",
        article="— (no seed article)",
        article_ids=(),
        spec="spec/transformer-nlp.md",
        seed=None,
        claim=(
            "Project claim: a pure-PyTorch BERT on the MiniLM weights matches transformers' `BertModel` to 1e-5, with pluggable attention."
        ),
        callables=(
            "kexue.transformer.attention:Attention",
            "kexue.transformer.attention:SoftmaxAttention",
            "kexue.transformer.attention:softmax_attention",
            "kexue.transformer.attention_ops:masked_softmax",
            "kexue.transformer.attention_ops:entropy_invariant_factor",
            "kexue.transformer.attention_ops:normalize_mask",
            "kexue.transformer.bert:BertConfig",
            "kexue.transformer.bert:BertModel",
            "kexue.transformer.pretrained:load_pretrained",
            "kexue.transformer.pretrained:load_state_dict_strict",
            "kexue.transformer.pretrained:default_model_dir",
            "kexue.transformer.pretrained:BertTokenizer",
            "kexue.transformer.pretrained:mean_pooling",
            "kexue.transformer.pretrained:encode_sentences",
        ),
        experiment="kexue.experiments.a7_pretrained_encoder",
    ),
    Technique(
        id="B1",
        name="Multi-label softmax CE (ZLPR)",
        family="losses",
        article="将“Softmax+交叉熵”推广到多标签分类问题",
        article_ids=(7359,),
        spec="spec/transformer-nlp.md",
        seed=None,
        claim=(
            "$\\log(1+\\sum_{neg}e^{s})+\\log(1+\\sum_{pos}e^{-s})$ with threshold 0 matches tuned weighted binary classification without threshold tuning."
        ),
        callables=(
            "kexue.losses.multilabel:multilabel_categorical_crossentropy",
            "kexue.losses.multilabel:sparse_multilabel_categorical_crossentropy",
            "kexue.losses.multilabel:multilabel_predict",
            "kexue.losses.multilabel:multilabel_probabilities",
            "kexue.losses.multilabel:MultilabelCrossEntropy",
            "kexue.losses.multilabel:SparseMultilabelCrossEntropy",
        ),
        experiment="kexue.experiments.b1_multilabel_zlpr",
    ),
    Technique(
        id="B2",
        name="Class imbalance: smooth acc→CE, focal, logit adjustment",
        family="losses",
        article="再谈类别不平衡问题：调节权重与魔改Loss的对比联系",
        article_ids=(7708,),
        spec="spec/math-stat-loss.md",
        seed="004_72058aac82387b64.txt",
        claim=(
            "CE is smooth accuracy with $\\nabla p\\to\\nabla\\log p$; the same step on smooth F1 gives a weighted CE; focal loss and logit adjustment are its softened and margin forms."
        ),
        callables=(
            "kexue.losses.focal:sigmoid_focal_loss",
            "kexue.losses.focal:softmax_focal_loss",
            "kexue.losses.focal:softened_truncation_loss",
            "kexue.losses.focal:hard_truncation_loss",
            "kexue.losses.focal:SigmoidFocalLoss",
            "kexue.losses.focal:SoftmaxFocalLoss",
            "kexue.losses.focal:SoftenedTruncationLoss",
            "kexue.losses.focal:HardTruncationLoss",
            "kexue.losses.imbalance:smooth_accuracy",
            "kexue.losses.imbalance:smooth_f1",
            "kexue.losses.imbalance:f1_weighted_cross_entropy",
            "kexue.losses.imbalance:F1WeightedCrossEntropy",
            "kexue.losses.imbalance:class_balanced_weights",
            "kexue.losses.logit_adjustment:log_prior",
            "kexue.losses.logit_adjustment:logit_adjust",
            "kexue.losses.logit_adjustment:logit_adjusted_cross_entropy",
            "kexue.losses.logit_adjustment:LogitAdjustedCrossEntropy",
        ),
        experiment="kexue.experiments.b2_class_imbalance",
    ),
    Technique(
        id="B3",
        name="Multi-task loss weighting",
        family="losses",
        article="多任务学习漫谈（一）：以损失之名",
        article_ids=(8870,),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "Scale-invariant weightings (initial, prior, real-time $1/\\mathrm{sg}(L_i)$) and gradient normalisation (also translation-invariant) replace hand-tuned weights."
        ),
        callables=(
            "kexue.losses.multitask:weighted_sum",
            "kexue.losses.multitask:normalized_sum",
            "kexue.losses.multitask:realtime_normalized_sum",
            "kexue.losses.multitask:generalized_mean",
            "kexue.losses.multitask:uncertainty_weighted_sum",
            "kexue.losses.multitask:gradient_normalized_sum",
            "kexue.losses.multitask:ce_prior_loss",
            "kexue.losses.multitask:mse_prior_loss",
            "kexue.losses.multitask:MultiTaskLoss",
        ),
        experiment="kexue.experiments.b3_multitask_weighting",
    ),
    Technique(
        id="B4",
        name="GAN losses: WGAN-div, energy view",
        family="losses",
        article="能量视角下的GAN模型（二）：GAN＝“分析”＋“采样”; WGAN-div：一个默默无闻的WGAN填坑者",
        article_ids=(6331, 6139),
        spec="spec/models-dynamics.md",
        seed=None,
        claim=(
            "A GAN is an energy model plus a sampler with an MI anti-collapse term; WGAN-div's penalty $k\\,\\mathbb E\\|\\nabla T\\|^p$ (k = 2, p = 6) is a true divergence."
        ),
        callables=(
            "kexue.losses.gan:wgan_div_penalty",
            "kexue.losses.gan:wgan_gp_penalty",
            "kexue.losses.gan:score_penalty",
            "kexue.losses.gan:critic_loss",
            "kexue.losses.gan:generator_loss",
            "kexue.losses.gan:energy_generator_loss",
            "kexue.losses.gan:WGANDivPenalty",
            "kexue.losses.gan:WGANGPPenalty",
            "kexue.losses.latent_mala:latent_mala",
            "kexue.losses.latent_mala:MALAResult",
        ),
        experiment="kexue.experiments.b4_gan_losses",
    ),
    Technique(
        id="B5",
        name="Input vs parameter gradient penalty inequality",
        family="losses",
        article="输入梯度惩罚与参数梯度惩罚的一个不等式",
        article_ids=(8796,),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "For an MLP, $\\|\\nabla_xf\\|^2\\sum_t(1+\\|h^{(t)}\\|^2)/(\\|W^{(t)}\\|^2\\|J_t\\|^2)\\le\\|\\nabla_\\theta f\\|^2$."
        ),
        callables=(
            "kexue.losses.gradient_penalty:input_gradient_penalty",
            "kexue.losses.gradient_penalty:parameter_gradient_penalty",
            "kexue.losses.gradient_penalty:gradient_penalty_inequality",
            "kexue.losses.gradient_penalty:GradientPenaltyBound",
            "kexue.losses.gradient_penalty:InputGradientPenalty",
            "kexue.losses.gradient_penalty:ParameterGradientPenalty",
        ),
        experiment="kexue.experiments.b5_gradient_penalty_inequality",
    ),
    Technique(
        id="B6",
        name="WEISSI regulariser",
        family="losses",
        article="L2正则没有想象那么好？可能是“权重尺度偏移”惹的祸",
        article_ids=(7681,),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "L2 is not invariant to weight-scale shifts of positively homogeneous nets; $\\sum_l\\log\\|W_l\\|$ is (with cumulative bias scaling — a correction)."
        ),
        callables=(
            "kexue.losses.weissi:weissi_penalty",
            "kexue.losses.weissi:l2_penalty",
            "kexue.losses.weissi:layer_weights",
            "kexue.losses.weissi:rescale_layers",
            "kexue.losses.weissi:WEISSIRegularizer",
        ),
        experiment="kexue.experiments.b6_weissi",
    ),
    Technique(
        id="B7",
        name="Implicit gradient regularisation",
        family="losses",
        article="从动力学角度看优化算法（五）：为什么学习率不宜过小？",
        article_ids=(7787,),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "GD with step h follows the flow of $L+\\frac h4\\|\\nabla L\\|^2$ one order more accurately than that of L: it implicitly penalises the gradient norm."
        ),
        callables=(
            "kexue.losses.implicit_regularization:modified_loss",
            "kexue.losses.implicit_regularization:modified_gradient",
            "kexue.losses.implicit_regularization:gradient_flow",
            "kexue.losses.implicit_regularization:gradient_descent",
            "kexue.losses.implicit_regularization:flow_tracking_errors",
            "kexue.losses.implicit_regularization:FlowTracking",
            "kexue.losses.implicit_regularization:ModifiedLoss",
        ),
        experiment="kexue.experiments.b7_implicit_gradient_regularization",
    ),
    Technique(
        id="B8",
        name="Variational information bottleneck",
        family="losses",
        article="从变分编码、信息瓶颈到正态分布：论遗忘的重要性",
        article_ids=(6181,),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "A KL penalty to $\\mathcal N(0,I)$ on a noisy encoder bounds $I(X;Z)$ and regularises: faster convergence, 89 %+ vs ~88 % on IMDB."
        ),
        callables=(
            "kexue.nn.bottleneck:gaussian_kl_standard_normal",
            "kexue.nn.bottleneck:reparameterize",
            "kexue.nn.bottleneck:VariationalBottleneck",
        ),
        experiment="kexue.experiments.b8_variational_bottleneck",
    ),
    Technique(
        id="C1",
        name="Soft batch (gradient accumulation) & optimiser extensions",
        family="optim",
        article="“让Keras更酷一些！”：小众的自定义优化器",
        article_ids=(5879,),
        spec="spec/models-dynamics.md",
        seed=None,
        claim=(
            "Accumulating k micro-batch gradients equals one big-batch step (batch 1 × 100 ≈ batch 100 on MNIST); Lookahead, lazy, AdaFactor, EMA, … compose as wrappers."
        ),
    ),
    Technique(
        id="C2",
        name="Gradient clipping, hard & soft",
        family="optim",
        article="为什么梯度裁剪能加速训练过程？一个简明的分析",
        article_ids=(7469,),
        spec="spec/transformer-nlp.md",
        seed=None,
        claim=(
            "Under (L0, L1)-smoothness the optimal step is soft clipping $\\gamma/(\\|g\\|+\\gamma)$ with $\\gamma=L_0/L_1$, so clipped GD makes progress every step."
        ),
    ),
    Technique(
        id="C3",
        name="Policy gradient ≡ zeroth-order",
        family="optim",
        article="殊途同归的策略梯度与零阶优化",
        article_ids=(7737,),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "The zeroth-order gradient of argmax accuracy equals, to first order, the policy gradient $\\mathbb E\\sum_yr\\,\\nabla p_\\theta(y\\mid x)$."
        ),
    ),
    Technique(
        id="C4",
        name="MLE-guided sampling search",
        family="optim",
        article="从采样看优化：可导优化与不可导优化的统一视角",
        article_ids=(7521,),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "The Boltzmann-weighted mean of sampled moves unifies GD and Newton; with an MLE-gradient proposal (MGS, n = 4) it optimises non-differentiable metrics."
        ),
    ),
    Technique(
        id="C5",
        name="Optimisers as ODE discretisations",
        family="dynamics",
        article="从动力学角度看优化算法（一）：从SGD到动量加速",
        article_ids=(5655,),
        spec="spec/models-dynamics.md",
        seed=None,
        claim=(
            "GD is Euler on the gradient flow (order 1); momentum is a second-order scheme for the heavy-ball ODE; RMSprop/Adam are step-size control."
        ),
    ),
    Technique(
        id="D1",
        name="Entropy normalisation",
        family="stats",
        article="概率分布的熵归一化（Entropy Normalization）",
        article_ids=(8829,),
        spec="spec/math-stat-loss.md",
        seed="001_506aef11eb2ecc50.txt",
        claim=(
            "A Newton iteration on γ in $p^\\gamma/\\sum p^\\gamma$ reaches a target entropy in 3–4 steps, preserving order."
        ),
        callables=(
            "kexue.stats.entropy_normalization:entropy",
            "kexue.stats.entropy_normalization:entropy_normalize",
            "kexue.stats.entropy_normalization:solve_entropy_exponent",
            "kexue.stats.entropy_normalization:entropy_invariant_scale",
            "kexue.stats.entropy_normalization:EntropyNormalization",
        ),
        experiment="kexue.experiments.d1_entropy_normalization",
    ),
    Technique(
        id="D2",
        name="Gaussian KL / Bhattacharyya / W2",
        family="geometry",
        article="两个多元正态分布的KL散度、巴氏距离和W距离",
        article_ids=(8512,),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "Closed forms of KL, Bhattacharyya and W2 between Gaussians; the two circulating W2 (Fréchet) formulas are equal."
        ),
        callables=(
            "kexue.geometry.gaussian:kl_divergence_gaussian",
            "kexue.geometry.gaussian:bhattacharyya_distance_gaussian",
            "kexue.geometry.gaussian:wasserstein2_gaussian",
            "kexue.geometry.gaussian:entropy_gaussian",
            "kexue.geometry.gaussian:GaussianKLDivergence",
            "kexue.geometry.gaussian:GaussianBhattacharyyaDistance",
            "kexue.geometry.gaussian:GaussianWasserstein2",
            "kexue.geometry.psd:sqrtm_psd",
            "kexue.geometry.psd:sample_mean_cov",
        ),
        experiment="kexue.experiments.d2_gaussian_distances",
    ),
    Technique(
        id="D3",
        name="JL lemma: min dim, projection, LSH, rSVD",
        family="geometry",
        article="让人惊叹的Johnson-Lindenstrauss引理：理论篇 / 应用篇",
        article_ids=(8679, 8706),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "$n>24\\log N/\\varepsilon^2$ Gaussian dimensions keep all pairwise distances within ε w.p. ≥ 1 − 1/N; uses: LSH, randomized SVD, head size $d>8.33\\log L$ (spec corrects the LSH and rSVD formulas)."
        ),
        callables=(
            "kexue.geometry.projection:jl_min_dim",
            "kexue.geometry.projection:dasgupta_gupta_min_dim",
            "kexue.geometry.projection:head_size_rule",
            "kexue.geometry.projection:gaussian_projection_matrix",
            "kexue.geometry.projection:sparse_projection_matrix",
            "kexue.geometry.projection:random_projection",
            "kexue.geometry.projection:RandomProjection",
            "kexue.geometry.simhash:simhash",
            "kexue.geometry.simhash:sign_cosine",
            "kexue.geometry.simhash:simhash_cosine",
            "kexue.geometry.simhash:SimHash",
            "kexue.geometry.randomized_svd:randomized_svd",
            "kexue.geometry.randomized_svd:randomized_range_finder",
        ),
        experiment="kexue.experiments.d3_johnson_lindenstrauss",
    ),
    Technique(
        id="D4",
        name="EMD / WMD / WRD",
        family="geometry",
        article="从EMD、WMD到WRD：文本向量序列的相似度计算",
        article_ids=(7388,),
        spec="spec/transformer-nlp.md",
        seed=None,
        claim=(
            "WRD (norm as mass, cosine cost) is a bounded, better similarity than WMD; both are transport LPs with cheap lower bounds."
        ),
    ),
    Technique(
        id="D5",
        name="Smooth approximations via approximate identities",
        family="nn",
        article="用狄拉克函数来构造非光滑函数的光滑近似",
        article_ids=(8718,),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "Convolving with a nascent delta smooths any function with countably many jumps; Gaussian/logistic kernels give closed forms (GELU, SoftPlus, Swish, log-sum-exp)."
        ),
        callables=(
            "kexue.nn.smooth:smooth_step",
            "kexue.nn.smooth:smooth_sign",
            "kexue.nn.smooth:smooth_relu",
            "kexue.nn.smooth:smooth_leaky_relu",
            "kexue.nn.smooth:smooth_abs",
            "kexue.nn.smooth:smooth_max",
            "kexue.nn.smooth:smooth_min",
            "kexue.nn.smooth:smooth_clip",
            "kexue.nn.smooth:smooth_floor",
            "kexue.nn.smooth:SmoothReLU",
            "kexue.nn.smooth:SmoothLeakyReLU",
        ),
        experiment="kexue.experiments.d5_smooth_approximations",
    ),
    Technique(
        id="E1",
        name="Analytic logistic / softmax regression",
        family="models",
        article="概率视角下的线性模型：逻辑回归有解析解吗？",
        article_ids=(8578,),
        spec="spec/math-stat-loss.md",
        seed=None,
        claim=(
            "Equal-covariance Gaussian classes give a closed-form softmax regression (= LDA) that beats trained regression with few samples (SHOPPING-1K 65.49 vs 49.82)."
        ),
        callables=(
            "kexue.models.analytic_classifier:analytic_softmax_regression",
            "kexue.models.analytic_classifier:AnalyticLogisticRegression",
            "kexue.models.analytic_classifier:SingularCovarianceWarning",
        ),
        experiment="kexue.experiments.e1_analytic_classifier",
    ),
    Technique(
        id="E2",
        name="Simpler-GloVe word vectors",
        family="models",
        article="更别致的词向量模型(三)：描述相关的模型",
        article_ids=(4671,),
        spec="spec/models-dynamics.md",
        seed="002_e59ae0e13703e477.txt",
        claim=(
            "Demanding linear analogies forces $\\mathrm{PMI}=\\langle v_i,v_j\\rangle$; the fitted vectors solve analogies and their norm measures importance (stop words smallest)."
        ),
    ),
    Technique(
        id="E3",
        name="RNN ≡ ODE solver: fit ODE parameters",
        family="models",
        article="貌离神合的RNN与ODE：花式RNN简介",
        article_ids=(5643,),
        spec="spec/models-dynamics.md",
        seed="000_6668763597789c0a.txt",
        claim=(
            "An Euler-step RNN cell solves an ODE; backprop through it fits a competition model's 6 parameters to 7 observations."
        ),
    ),
    Technique(
        id="E4",
        name="Skipping-rope curve",
        family="models",
        article="你跳绳的时候，想过绳子的形状曲线是怎样的吗？",
        article_ids=(6784,),
        spec="spec/models-dynamics.md",
        seed=None,
        claim=(
            "The rotating rope's shape follows from a variational principle (catenary at ω = 0, elliptic integrals at g = 0); spec corrects the snippet's swapped ODE and the g = 0 form."
        ),
    ),
    Technique(
        id="E5",
        name="Capsule routing as clustering",
        family="models",
        article="再来一顿贺岁宴：从K-Means到Capsule",
        article_ids=(5112,),
        spec="spec/models-dynamics.md",
        seed=None,
        claim=(
            "Dynamic routing is clustering with normalised inner-product similarity; the derived routing exceeds 95 % on the two-digit test (old routing 91 %)."
        ),
    ),
    Technique(
        id="E6",
        name="Math word problems → expressions",
        family="models",
        article="BERT可以上几年级了？Seq2Seq“硬刚”小学数学应用题",
        article_ids=(7809,),
        spec="spec/transformer-nlp.md",
        seed=None,
        claim=(
            "A seq2seq model that directly generates evaluable expressions reaches 71.85 % (base) / 75.04 % (large) on Ape210K valid; normalisation keeps 4,999 / 5,000 valid items."
        ),
    ),
    Technique(
        id="F1",
        name="BN smooths the landscape",
        family="dynamics",
        article="BN究竟起了什么作用？一个闭门造车的分析",
        article_ids=(6992,),
        spec="spec/models-dynamics.md",
        seed=None,
        claim=(
            "Centring and standardising layer inputs lowers the gradient-Lipschitz constant, allowing larger learning rates."
        ),
    ),
    Technique(
        id="F2",
        name="RNN gradient vanishing/explosion",
        family="dynamics",
        article="也来谈谈RNN的梯度消失/爆炸问题",
        article_ids=(7888,),
        spec="spec/models-dynamics.md",
        seed=None,
        claim=(
            "tanh bounds the simple-RNN step Jacobian; the LSTM's factor ≈ the forget gate (no explosion); the GRU is less stable."
        ),
    ),
    Technique(
        id="F3",
        name="SimSiam non-collapse dynamics",
        family="dynamics",
        article="从动力学角度看优化算法（六）：为什么SimSiam不退化？",
        article_ids=(7980,),
        spec="spec/models-dynamics.md",
        seed=None,
        claim=(
            "With stop-gradient the fast predictor zeroes the shared gradient factor before the encoder collapses (toy: θ → 0.806 vs θ → 0 without)."
        ),
    ),
    Technique(
        id="F4",
        name="SGD ≈ kernel machine (path kernel)",
        family="dynamics",
        article="从动力学角度看优化算法（七）：SGD ≈ SVM？",
        article_ids=(8009,),
        spec="spec/models-dynamics.md",
        seed=None,
        claim=(
            "A model trained by gradient flow equals its initial function plus a path-kernel expansion over the training points."
        ),
    ),
)

_BY_ID = {t.id: t for t in TECHNIQUES}


def get(technique_id: str) -> Technique:
    """Return the record for ``technique_id`` (case-insensitive).

    Raises:
        KeyError: with the list of valid ids when the id is unknown.
    """
    key = technique_id.strip().upper()
    if key not in _BY_ID:
        valid = ", ".join(_BY_ID)
        raise KeyError(f"unknown technique id {technique_id!r}; valid ids: {valid}")
    return _BY_ID[key]


def implemented() -> tuple[Technique, ...]:
    """Records that ship a component and a reproduction, in catalogue order."""
    return tuple(t for t in TECHNIQUES if t.implemented)
