"""The catalogue: one frozen record of article facts per Scientific Spaces technique.

Plain data, no torch import, so ``kexue list`` stays instant; the CLI, the report and the
conformance test read it. A record holds what the *article* says (id, name, article ids, the claim,
the article's own figures, stated here once) and which modules hold the component. Everything else
is found by convention:

- the public API is the ``__all__`` of the modules in :attr:`Technique.modules`;
- the family is the folder of the first module (``kexue.geometry.gaussian`` → ``geometry``);
- the experiment is ``kexue.experiments.<id>_<slug>`` (a module or a package of studies);
- the tests mirror the modules (``tests/geometry/test_gaussian.py``) and the benchmark, when there
  is one, is ``bench/bench_<id>_<slug>.py``.

A technique is *implemented* when it names its modules; the others are listed as planned so users
see the whole catalogue.
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
from dataclasses import dataclass, field

__all__ = [
    "KEXUE_URL",
    "TECHNIQUES",
    "Technique",
    "experiment_module",
    "get",
    "implemented",
    "module_all",
]

KEXUE_URL = "https://kexue.fm/archives/{}"


@dataclass(frozen=True)
class Technique:
    """One technique from an article.

    Attributes:
        id: the catalogue id, e.g. ``"D2"``.
        name: short English name.
        article: the seed article's (Chinese) title.
        article_ids: kexue.fm archive ids; the first is the seed article.
        claim: the article's central claim that the reproduction checks, in words.
        article_figure: the article's own figures for the claim (or why it has none), stated once.
        modules: the modules holding the component, primary first (empty while planned).
    """

    id: str
    name: str
    article: str
    article_ids: tuple[int, ...]
    claim: str
    article_figure: str = ""
    modules: tuple[str, ...] = field(default=())

    @property
    def url(self) -> str:
        """kexue.fm address of the seed article (empty when the technique has none)."""
        return KEXUE_URL.format(self.article_ids[0]) if self.article_ids else ""

    @property
    def family(self) -> str:
        """The package folder of the primary module (``"planned"`` while there is none)."""
        return self.modules[0].split(".")[1] if self.modules else "planned"

    @property
    def experiment(self) -> str | None:
        """The experiment module found by convention (``None`` when there is none)."""
        return experiment_module(self.id)

    @property
    def implemented(self) -> bool:
        """Whether the technique ships a component and a reproduction."""
        return bool(self.modules) and self.experiment is not None

    @property
    def status(self) -> str:
        return "implemented" if self.implemented else "planned"

    @property
    def api(self) -> tuple[str, ...]:
        """Dotted paths of the public names (``kexue.geometry.gaussian.kl_divergence_gaussian``)."""
        return tuple(f"{m}.{name}" for m in self.modules for name in module_all(m))


def module_all(module: str) -> tuple[str, ...]:
    """The ``__all__`` of ``module``, read from its source without importing it (no torch)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"no module named {module!r}")
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return tuple(ast.literal_eval(node.value))
    raise ValueError(f"{module} defines no __all__")


def experiment_module(technique_id: str) -> str | None:
    """``kexue.experiments.<id>_<slug>`` for ``technique_id``, found without importing it."""
    spec = importlib.util.find_spec("kexue.experiments")
    if spec is None or not spec.submodule_search_locations:
        return None
    prefix = f"{technique_id.lower()}_"
    names = sorted(
        m.name for m in pkgutil.iter_modules(spec.submodule_search_locations)
        if m.name.startswith(prefix)
    )  # fmt: skip
    if len(names) > 1:
        raise RuntimeError(f"two experiments for {technique_id}: {', '.join(names)}")
    return f"kexue.experiments.{names[0]}" if names else None


TECHNIQUES: tuple[Technique, ...] = (
    Technique(
        id="A1",
        name="Performer FAVOR+ attention",
        article="Performer：用随机投影将Attention的复杂度线性化",
        article_ids=(7921,),
        claim=(
            "Positive random features estimate $e^{q\\cdot k}$ without bias, making attention linear in n; pretrained weights swapped in lose accuracy but recover with brief fine-tuning."
        ),
        article_figure=(
            "no experiment of its own; reports the paper's: pretrained weights in a Performer do not reproduce the original results directly, but fine-tuning recovers quickly"
        ),
        modules=(
            "kexue.transformer.performer",
            "kexue.transformer.random_features",
            "kexue.transformer.linear_attention",
        ),
    ),
    Technique(
        id="A2",
        name="RealFormer residual attention",
        article="RealFormer：把残差转移到Attention矩阵上面去",
        article_ids=(8027,),
        claim=(
            "Carrying a running sum of pre-softmax scores across Post-LN layers trains better than Post-LN and Pre-LN."
        ),
        article_figure=(
            "paper figures only: RealFormer ≥ Post-LN ≥ Pre-LN on MLM, GLUE and SQuAD; RealFormer at 500k steps ≈ Post-LN at 1M; sparser, more layer-consistent attention"
        ),
        modules=("kexue.transformer.realformer",),
    ),
    Technique(
        id="A3",
        name="Hierarchical position decomposition",
        article="层次分解位置编码，让BERT可以处理超长文本",
        article_ids=(7947,),
        claim=(
            "$u_i=(p_i-\\alpha p_1)/(1-\\alpha)$ extends an n-position table to $n^2$, exact on the first n; the extended model loses MLM accuracy untrained but recovers it after a short MLM continuation."
        ),
        article_figure=(
            "Chinese RoBERTa at max length 1536: MLM accuracy ≈38 % with no training vs ≈55 % at 512, back above 55 % after ≈3000 MLM steps; α = 0.4 recommended (α < 0.5)"
        ),
        modules=("kexue.transformer.position",),
    ),
    Technique(
        id="A4",
        name="Entropy-invariant attention scale",
        article="从熵不变性看Attention的Scale操作",
        article_ids=(8823,),
        claim=(
            "Scaling logits by $\\log_{512}n/\\sqrt d$ keeps attention entropy stable as the length n grows, so an MLM trained at length 64 keeps far more of its accuracy at 256 and beyond than with the standard $1/\\sqrt d$."
        ),
        article_figure=(
            "RoFormer-small MLM trained at 64; accuracy % at 64/128/256/512/1024: Attention-O 43.27/36.53/23.02/15.12/11.54, Attention-E 43.11/41.17/34.04/20.15/13.58"
        ),
        modules=("kexue.transformer.attention_scale",),
    ),
    Technique(
        id="A5",
        name="Transformer init/parameterisation",
        article="浅谈Transformer的初始化、参数化与标准化",
        article_ids=(8620,),
        claim=(
            "Second-moment-preserving init (TF's truncated normal needs a variance correction), NTK parameterisation, and why $1/\\sqrt d$ and residual scaling are needed."
        ),
        article_figure=(
            "γ = 0.7737413 (factor 1.1368472); E[sigmoid(z)²] = 0.2933790; SELU λ=1.0507, α=1.6733; Post-Norm weights x0 by 2^{-l/2}; no training numbers in the article"
        ),
        modules=(
            "kexue.nn.init",
            "kexue.transformer.ntk",
            "kexue.transformer.residual",
        ),
    ),
    Technique(
        id="A6",
        name="Taylor softmax, even-order positivity",
        article="exp(x)在x=0处的偶次泰勒展开式总是正的",
        article_ids=(7919,),
        claim=(
            "Every even-order Taylor polynomial of $e^x$ is positive (minima table n = 2…10), so it can replace exp in softmax."
        ),
        article_figure=(
            "minima table n=2…10 (x* = -1, -1.59607, -2.18061, -2.759, -3.33355; f* = 0.5, 0.270395, 0.149325, 0.0832715, 0.0466991); Taylor softmax as a less over-confident softmax (no numbers of its own)"
        ),
        modules=("kexue.transformer.taylor_softmax",),
    ),
    Technique(
        id="A7",
        name="Pretrained BERT encoder (MiniLM) without transformers",
        article="— (no seed article)",
        article_ids=(),
        claim=(
            "Project claim: a pure-PyTorch BERT on the MiniLM weights matches transformers' `BertModel` to 1e-5, with pluggable attention."
        ),
        article_figure=(
            "no article; project target: match transformers' BertModel to 1e-5; all-MiniLM-L6-v2 scores ≈0.82 Spearman on STS-B test (MTEB STSBenchmark)"
        ),
        modules=(
            "kexue.transformer.bert",
            "kexue.transformer.attention",
            "kexue.transformer.pretrained",
        ),
    ),
    Technique(
        id="B1",
        name="Multi-label softmax CE (ZLPR)",
        article="将“Softmax+交叉熵”推广到多标签分类问题",
        article_ids=(7359,),
        claim=(
            "$\\log(1+\\sum_{neg}e^{s})+\\log(1+\\sum_{pos}e^{-s})$ with threshold 0 matches tuned weighted binary classification without threshold tuning."
        ),
        article_figure=(
            "7359: on several multi-label tasks ZLPR matches carefully weighted binary classification with no threshold tuning (no numbers given); reference: micro-F1(ZLPR@0) >= F1(BCE@0.5) and within ~1-2 points of BCE@tuned"
        ),
        modules=("kexue.losses.multilabel",),
    ),
    Technique(
        id="B2",
        name="Class imbalance: smooth acc→CE, focal, logit adjustment",
        article="再谈类别不平衡问题：调节权重与魔改Loss的对比联系",
        article_ids=(7708,),
        claim=(
            "CE is smooth accuracy with $\\nabla p\\to\\nabla\\log p$; the same step on smooth F1 gives a weighted CE; focal loss and logit adjustment are its softened and margin forms."
        ),
        article_figure=(
            "none: 7708 is a derivation without experiments, 4733 reports 'a slight improvement' from focal loss, 7615 defers to Menon et al. (logit adjustment is state of the art, τ = 1); reference run on long-tailed digits (imbalance 100), balanced accuracy over CE: post-hoc LA +0.054, LA loss +0.050, class-weighted CE +0.025; digit 3 vs rest with 3 % positives: F1-weighted CE +0.113 F1 over CE"
        ),
        modules=(
            "kexue.losses.imbalance",
            "kexue.losses.focal",
            "kexue.losses.logit_adjustment",
        ),
    ),
    Technique(
        id="B3",
        name="Multi-task loss weighting",
        article="多任务学习漫谈（一）：以损失之名",
        article_ids=(8870,),
        claim=(
            "Scale-invariant weightings (initial, prior, real-time $1/\\mathrm{sg}(L_i)$) and gradient normalisation (also translation-invariant) replace hand-tuned weights."
        ),
        article_figure=(
            "none: the article argues from scale/translation invariance, without numbers; reference run on digits: realtime and gradient-normalised accuracy 0.987, gradient-normalised test MSE/Var 0.16, realtime parameters move by 1.5e-3 under L_B + 100, equal weights with L_B ×1000 diverge (NaN)"
        ),
        modules=("kexue.losses.multitask",),
    ),
    Technique(
        id="B4",
        name="GAN losses: WGAN-div, energy view",
        article="能量视角下的GAN模型（二）：GAN＝“分析”＋“采样”; WGAN-div：一个默默无闻的WGAN填坑者",
        article_ids=(6331, 6139),
        claim=(
            "A GAN is an energy model plus a sampler with an MI anti-collapse term; WGAN-div's penalty $k\\,\\mathbb E\\|\\nabla T\\|^p$ (k = 2, p = 6) is a true divergence."
        ),
        article_figure=(
            "no numbers in the articles (CelebA samples; MEG toy figures); reference run: WGAN-div on 8 Gaussians covers 8/8 modes with 66 % high-quality samples after 3000 iterations (width 128, batch 256)"
        ),
        modules=(
            "kexue.losses.gan",
            "kexue.losses.latent_mala",
        ),
    ),
    Technique(
        id="B5",
        name="Input vs parameter gradient penalty inequality",
        article="输入梯度惩罚与参数梯度惩罚的一个不等式",
        article_ids=(8796,),
        claim=(
            "For an MLP, $\\|\\nabla_xf\\|^2\\sum_t(1+\\|h^{(t)}\\|^2)/(\\|W^{(t)}\\|^2\\|J_t\\|^2)\\le\\|\\nabla_\\theta f\\|^2$."
        ),
        article_figure=(
            "no experiments (a proof); reference run: 0/200 violations, lhs/rhs 0.04–0.125"
        ),
        modules=("kexue.losses.gradient_penalty",),
    ),
    Technique(
        id="B6",
        name="WEISSI regulariser",
        article="L2正则没有想象那么好？可能是“权重尺度偏移”惹的祸",
        article_ids=(7681,),
        claim=(
            "L2 is not invariant to weight-scale shifts of positively homogeneous nets; $\\sum_l\\log\\|W_l\\|$ is (with cumulative bias scaling — a correction)."
        ),
        article_figure=(
            "no experiments of its own (the paper shows gains in a figure; the article claims no guaranteed gain); reference run test accuracy: none 0.948, L2 1e-3 0.950, L2 1e-2 0.941, WEISSI 1e-2/1e-1 0.949, WEISSI λ=1 0.110 (collapse); L2 moves by ΔL2 = 187 under γ = (2, 1/4, 2)"
        ),
        modules=("kexue.losses.weissi",),
    ),
    Technique(
        id="B7",
        name="Implicit gradient regularisation",
        article="从动力学角度看优化算法（五）：为什么学习率不宜过小？",
        article_ids=(7787,),
        claim=(
            "GD with step h follows the flow of $L+\\frac h4\\|\\nabla L\\|^2$ one order more accurately than that of L: it implicitly penalises the gradient norm."
        ),
        article_figure=(
            "no experiments (derivation only); reference run on breast_cancer logistic regression: plain 1.0e-1…4.5e-3 (slope 1.12), modified 4.9e-2…1.4e-4 (slope 2.10), h = 0.4…0.025"
        ),
        modules=("kexue.losses.implicit_regularization",),
    ),
    Technique(
        id="B8",
        name="Variational information bottleneck",
        article="从变分编码、信息瓶颈到正态分布：论遗忘的重要性",
        article_ids=(6181,),
        claim=(
            "A KL penalty to $\\mathcal N(0,I)$ on a noisy encoder bounds $I(X;Z)$ and regularises: faster convergence, 89 %+ vs ~88 % on IMDB."
        ),
        article_figure=(
            "IMDB: with VIB 89 %+ validation accuracy vs ~88 %+ without, and faster convergence; reference run digits: deterministic 0.946, λ=1e-3…0.1: 0.955–0.959 (+1.0 to +1.5 points), λ=1: 0.462; test KL 264 → 17.7 → 9.6 → 4.7 → 0.10 nats for λ = 0/1e-3/1e-2/0.1/1"
        ),
        modules=("kexue.nn.bottleneck",),
    ),
    Technique(
        id="C1",
        name="Soft batch (gradient accumulation) & optimiser extensions",
        article="“让Keras更酷一些！”：小众的自定义优化器",
        article_ids=(5879,),
        claim=(
            "Accumulating k micro-batch gradients equals one big-batch step (batch 1 × 100 ≈ batch 100 on MNIST); Lookahead, lazy row updates and the piecewise-linear schedule compose as wrappers around any torch optimiser."
        ),
        article_figure=(
            "MNIST MLP 512-512 (dropout 0.2), batch 1: Adam's train loss hovers ≈ 0.4 and rises, validation accuracy never above 97 %; AccumOptimizer(Adam(), 100): train loss ≈ 0.02, validation accuracy above 98 %, like Adam at batch 100; BERT fine-tuning: Adam batch 12 70.33 % vs accumulation ×10 71.00 %; reference run (load_digits, 4 epochs, Adam lr 5e-3): test accuracy 0.943 ± 0.005 (batch 1 × 100, 2 seeds) vs 0.936 ± 0.013 (batch 100, 4 seeds), plain batch 1 0.942 with an update-loss std 18.6× larger; dropout-free float64 parameters equal to 1.1e-14 (relative); activations saved for backward 99.9× smaller at batch 1"
        ),
        modules=(
            "kexue.optim.accumulation",
            "kexue.optim.lookahead",
            "kexue.optim.lazy",
            "kexue.optim.param_groups",
            "kexue.optim.schedules",
        ),
    ),
    Technique(
        id="C2",
        name="Gradient clipping, hard & soft",
        article="为什么梯度裁剪能加速训练过程？一个简明的分析",
        article_ids=(7469,),
        claim=(
            "Under (L0, L1)-smoothness the optimal step is soft clipping $\\gamma/(\\|g\\|+\\gamma)$ with $\\gamma=L_0/L_1$, so clipped GD makes progress every step."
        ),
        article_figure=(
            "no experiments (derivation only); the cited paper (Zhang et al., ICLR 2020) shows local smoothness rising roughly linearly with the gradient norm along AWD-LSTM training on PTB, and proves clipped GD converges faster than fixed-step GD under (L0, L1)-smoothness"
        ),
        modules=("kexue.optim.clipping",),
    ),
    Technique(
        id="C3",
        name="Policy gradient ≡ zeroth-order",
        article="殊途同归的策略梯度与零阶优化",
        article_ids=(7737,),
        claim=(
            "The zeroth-order gradient of argmax accuracy equals, to first order, the policy gradient $\\mathbb E\\sum_yr\\,\\nabla p_\\theta(y\\mid x)$."
        ),
        article_figure=(
            "no experiments (derivation only); reference run on wine (linear softmax, 39 parameters, random start): cos(ZO, PG) = 0.98–0.99 at ε = 0.2, τ = 0.3 with 2k–5k samples; the baseline cuts the per-sample second moment 3–4.5×"
        ),
        modules=("kexue.optim.zeroth_order",),
    ),
    Technique(
        id="C4",
        name="MLE-guided sampling search",
        article="从采样看优化：可导优化与不可导优化的统一视角",
        article_ids=(7521,),
        claim=(
            "The Boltzmann-weighted mean of sampled moves unifies GD and Newton; with an MLE-gradient proposal (MGS, n = 4) it optimises non-differentiable metrics."
        ),
        article_figure=(
            "no experiments in the post (derivation; it discusses the MGS paper, which uses n = 4 samples for text generation); reference run (digits, linear model, MGS on the training 0/1 error): test error 0.074 / 0.052 / 0.040 after 10 / 50 / 150 steps vs GD on cross-entropy 0.065 / 0.035 / 0.027"
        ),
        modules=("kexue.optim.sampling_search",),
    ),
    Technique(
        id="C5",
        name="Optimisers as ODE discretisations",
        article="从动力学角度看优化算法（一）：从SGD到动量加速",
        article_ids=(5655,),
        claim=(
            "GD is Euler on the gradient flow (order 1); momentum is a second-order scheme for the heavy-ball ODE; RMSprop/Adam are step-size control."
        ),
    ),
    Technique(
        id="D1",
        name="Entropy normalisation",
        article="概率分布的熵归一化（Entropy Normalization）",
        article_ids=(8829,),
        claim=(
            "A Newton iteration on γ in $p^\\gamma/\\sum p^\\gamma$ reaches a target entropy in 3–4 steps, preserving order."
        ),
        article_figure=(
            "no table; the iteration 'converges well after 3-4 steps' (demo: n=100, log 30)"
        ),
        modules=("kexue.stats.entropy_normalization",),
    ),
    Technique(
        id="D2",
        name="Gaussian KL / Bhattacharyya / W2",
        article="两个多元正态分布的KL散度、巴氏距离和W距离",
        article_ids=(8512,),
        claim=(
            "Closed forms of KL, Bhattacharyya and W2 between Gaussians; the two circulating W2 (Fréchet) formulas are equal."
        ),
        article_figure=(
            "no experiments; claims: the closed forms, and W2 version 1 (sqrt(S_p C_q S_p)) = version 2 (Fréchet, sqrt(C_p C_q)). Spec's own measurement (n=5): BD 1.5401 vs MC 1.5410"
        ),
        modules=(
            "kexue.geometry.gaussian",
            "kexue.geometry.psd",
            "kexue.geometry.gaussian_pairwise",
        ),
    ),
    Technique(
        id="D3",
        name="JL lemma: min dim, projection, LSH, rSVD",
        article="让人惊叹的Johnson-Lindenstrauss引理：理论篇 / 应用篇",
        article_ids=(8679, 8706),
        claim=(
            "$n>24\\log N/\\varepsilon^2$ Gaussian dimensions keep all pairwise distances within ε w.p. ≥ 1 − 1/N; uses: LSH, randomized SVD, an attention head size logarithmic in the sequence length L (kexue corrects the LSH and rSVD formulas)."
        ),
        article_figure=(
            "bounds only: n > 24 ln N/ε² keeps all pairs within ε w.p. ≥ 1 - 1/N (16: existence); head size 8.33 ln 512 ≈ 52; the article's LSH and rSVD formulas come without numbers"
        ),
        modules=(
            "kexue.geometry.projection",
            "kexue.geometry.randomized_svd",
            "kexue.geometry.simhash",
        ),
    ),
    Technique(
        id="D4",
        name="EMD / WMD / WRD",
        article="从EMD、WMD到WRD：文本向量序列的相似度计算",
        article_ids=(7388,),
        claim=(
            "WRD (norm as mass, cosine cost) is a bounded, better similarity than WMD; both are transport LPs with cheap lower bounds."
        ),
        article_figure=(
            "no numeric evaluation in the post: qualitative claims only (WMD is a smooth edit "
            "distance; WRD fixes WMD's Euclidean cost and unbounded range, WRD in [0, 2]; the "
            "centroid and Jensen lower bounds); the WRD paper reports WRD > WMD on STS (numbers "
            "not transcribed)"
        ),
        modules=("kexue.geometry.transport", "kexue.geometry.transport_search"),
    ),
    Technique(
        id="D5",
        name="Smooth approximations via approximate identities",
        article="用狄拉克函数来构造非光滑函数的光滑近似",
        article_ids=(8718,),
        claim=(
            "Convolving with a nascent delta smooths any function with countably many jumps; Gaussian/logistic kernels give closed forms (GELU, SoftPlus, Swish, log-sum-exp)."
        ),
        article_figure=(
            "no table: closed forms for ReLU and the step, SoftPlus/Swish/GELU recovered, floor demo (logistic t = 10, M = 5, N = 10)"
        ),
        modules=("kexue.nn.smooth",),
    ),
    Technique(
        id="E1",
        name="Analytic logistic / softmax regression",
        article="概率视角下的线性模型：逻辑回归有解析解吗？",
        article_ids=(8578,),
        claim=(
            "Equal-covariance Gaussian classes give a closed-form softmax regression (= LDA) that matches trained regression with full data and beats it with few (1K) samples."
        ),
        article_figure=(
            "RoFormer-Sim sentence vectors, val/test accuracy GD vs analytic: full data SENTIMENT 91.14/91.57, TNEWS 53.35/54.20, SHOPPING 86.98/86.38; 1K samples SENTIMENT 66.79/73.24, TNEWS 22.47/26.74, SHOPPING 49.82/65.49"
        ),
        modules=("kexue.models.analytic_classifier",),
    ),
    Technique(
        id="E2",
        name="Simpler-GloVe word vectors",
        article="更别致的词向量模型(三)：描述相关的模型",
        article_ids=(4671,),
        claim=(
            "Demanding linear analogies forces $\\mathrm{PMI}=\\langle v_i,v_j\\rangle$; the fitted vectors solve analogies and their norm measures importance (stop words smallest)."
        ),
    ),
    Technique(
        id="E3",
        name="RNN ≡ ODE solver: fit ODE parameters",
        article="貌离神合的RNN与ODE：花式RNN简介",
        article_ids=(5643,),
        claim=(
            "An Euler-step RNN cell solves an ODE; backprop through it fits a competition model's 6 parameters to 7 observations."
        ),
        article_figure=(
            "figures only, no parameter table: the RNN's forward pass reproduces the competition curves, and the curve fitted (Adam lr 1e-4, 10 000 epochs, step 1) to the 7 observations is shown against them"
        ),
        modules=("kexue.models.ode_fit", "kexue.nn.ode_cells"),
    ),
    Technique(
        id="E4",
        name="Skipping-rope curve",
        article="你跳绳的时候，想过绳子的形状曲线是怎样的吗？",
        article_ids=(6784,),
        claim=(
            "The rotating rope's shape follows from a variational principle (catenary at ω = 0, elliptic integrals at g = 0); kexue corrects the snippet's swapped ODE and the g = 0 form."
        ),
        article_figure=(
            "no numerical table; figures only: a spinning-pole rope curve (ω = 2, g = 3, C1 = 0, x0 = 1, y0 = 0, s in [0, 0.5], RK23 with step 1e-4) and a both-ends-fixed curve with C1 = 1"
        ),
        modules=("kexue.models.rope_curve",),
    ),
    Technique(
        id="E5",
        name="Capsule routing as clustering",
        article="再来一顿贺岁宴：从K-Means到Capsule",
        article_ids=(5112,),
        claim=(
            "Dynamic routing is clustering with normalised inner-product similarity; the derived routing exceeds 95 % on the two-digit test (old routing 91 %)."
        ),
    ),
    Technique(
        id="E6",
        name="Math word problems → expressions",
        article="BERT可以上几年级了？Seq2Seq“硬刚”小学数学应用题",
        article_ids=(7809,),
        claim=(
            "A seq2seq model that directly generates evaluable expressions (no templates) beats the Ape210K paper's baseline on Ape210K valid; the article's normalisation keeps all but one valid item."
        ),
        article_figure=(
            "Ape210K valid answer accuracy, beam 1 / 2 / 3: BERT-base UniLM 71.67 / 71.81 / 71.85 %, "
            "BERT-large 74.51 / 74.97 / 75.04 % (Ape210K paper baseline 70.20 %); the normalisation "
            "keeps 4,999 / 5,000 valid items (train 200,488 → 200,390)."
        ),
        modules=("kexue.models.expression",),
    ),
    Technique(
        id="F1",
        name="BN smooths the landscape",
        article="BN究竟起了什么作用？一个闭门造车的分析",
        article_ids=(6992,),
        claim=(
            "Centring and standardising layer inputs lowers the gradient-Lipschitz constant, allowing larger learning rates."
        ),
        article_figure=(
            "qualitative only (no experiments): centring lowers the gradient-Lipschitz constant, standardising synchronises layers, BN allows larger learning rates"
        ),
        modules=("kexue.nn.landscape",),
    ),
    Technique(
        id="F2",
        name="RNN gradient vanishing/explosion",
        article="也来谈谈RNN的梯度消失/爆炸问题",
        article_ids=(7888,),
        claim=(
            "tanh bounds the simple-RNN step Jacobian; the LSTM's factor ≈ the forget gate (no explosion); the GRU is less stable."
        ),
        article_figure=(
            "analytic only (no experiments): the derivative formulas, tanh's saturation bound, the forget gate as the LSTM's factor"
        ),
        modules=("kexue.nn.rnn_gradients",),
    ),
    Technique(
        id="F3",
        name="SimSiam non-collapse dynamics",
        article="从动力学角度看优化算法（六）：为什么SimSiam不退化？",
        article_ids=(7980,),
        claim=(
            "With stop-gradient the fast predictor zeroes the shared gradient factor before the encoder collapses (toy: θ → 0.806 vs θ → 0 without)."
        ),
        article_figure=(
            "figures only: the toy's trajectories from (φ, θ) = (0.6, 0.1) with and without the stop-gradient (no numbers)"
        ),
        modules=("kexue.losses.simsiam", "kexue.stats.collapse"),
    ),
    Technique(
        id="F4",
        name="SGD ≈ kernel machine (path kernel)",
        article="从动力学角度看优化算法（七）：SGD ≈ SVM？",
        article_ids=(8009,),
        claim=(
            "A model trained by gradient flow equals its initial function plus a path-kernel expansion over the training points."
        ),
        article_figure=(
            "no experiment; the claim is the identity itself (after Domingos 2020: every model learned by gradient descent is approximately a kernel machine)"
        ),
        modules=("kexue.models.path_kernel",),
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
