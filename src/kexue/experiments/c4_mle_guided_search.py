"""C4 — sampling view of optimisation: Newton/GD as Boltzmann means; MGS raises macro-F1 after MLE.

Two studies:

1. **Unification on a quadratic** (4-D, random SPD Hessian): the importance-sampled mean of
   :math:`p(\\Delta\\theta)\\propto e^{-\\Delta l/\\alpha}` (flat prior) against Newton's step
   :math:`-H^{-1}g`, and with the Gaussian prior N(0, σ²I) against the GD direction −g as α/σ² grows.
2. **MGS on a non-differentiable metric.** An imbalanced subset of scikit-learn's digits (class k
   keeps a fraction ρ^{k/9} of its images), projected on its first principal components (fitted on
   the training half) so that a linear softmax classifier cannot fit the training set. The model is
   first trained by regularised cross-entropy (MLE); then each method runs the same number of steps
   on the training set's 1 − macro-F1 (a step function of the weights):

   - **MGS**: n = 4 moves, two from N(0, σ²I), two from N(−∇CE, σ²I) with the minibatch MLE gradient
     clipped to a fixed norm, Boltzmann-weighted by exp(−Δl/α)/q;
   - **guide only** (ablation): the same proposals with uniform weights (what the MLE gradient and
     the noise do without the metric);
   - **random only**: the four moves all from N(0, σ²I), Boltzmann-weighted.

   Test macro-F1 is reported per seed (each seed draws its own subset and split) on every image
   not trained on, weighted to the training class prior: the macro-F1 of the imbalanced
   distribution, measured with several times less noise than on an imbalanced test half.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from kexue.experiments.base import Check, Experiment, Table, at_least, at_most, num_threads
from kexue.optim.sampling_search import boltzmann_move, mle_guided_move

__all__ = [
    "EXPERIMENT",
    "FULL",
    "QUICK",
    "Config",
    "QuadraticRow",
    "Result",
    "SeedRow",
    "SummaryRow",
]

log = logging.getLogger(__name__)

D = torch.float64
K = 10
METHODS = ("MGS", "guide only", "random only")


@dataclass(frozen=True)
class Config:
    """Sizes of the C4 reproduction.

    Attributes:
        seeds: how many seeds (subsets and splits) the MGS study runs.
        imbalance: ρ, the fraction of images the last class keeps (class k keeps ρ^{k/9}).
        components: principal components kept (features; + a bias).
        l2: the MLE fit's L2 penalty on the weights.
        steps: search steps of each method.
        samples: moves per step (MGS: 4).
        alpha, sigma, mix: MGS temperature, proposal scale, weight of the random component.
        guide_norm: the MLE gradient's norm clip.
        batch: minibatch size of the MLE gradient.
        quadratic_samples: samples of the quadratic study.
    """

    seeds: int = 8
    imbalance: float = 0.05
    components: int = 10
    l2: float = 1e-3
    steps: int = 300
    samples: int = 4
    alpha: float = 0.003
    sigma: float = 0.01
    mix: float = 0.5
    guide_norm: float = 0.2
    batch: int = 64
    quadratic_samples: int = 200_000


QUICK = Config(seeds=3, steps=150, quadratic_samples=50_000)
FULL = Config()


@dataclass(frozen=True)
class QuadraticRow:
    """The sampled mean move on the quadratic against its prediction."""

    prior: str
    alpha_over_sigma2: str
    predicted: str
    relative_error: float
    cos_to_minus_gradient: float
    ess: float


@dataclass(frozen=True)
class SeedRow:
    """Test macro-F1 of one seed: the MLE start and each method after the search."""

    seed: int
    train_size: int
    mle: float
    mgs: float
    guide_only: float
    random_only: float
    mgs_train_gain: float
    guide_train_gain: float


@dataclass(frozen=True)
class SummaryRow:
    """Mean ± standard deviation over seeds of a method's test macro-F1 and its gain over MLE."""

    method: str
    test_macro_f1: str
    gain_over_mle: str
    seeds_improved: str


@dataclass(frozen=True)
class Result:
    """What the C4 run measured.

    Attributes:
        quadratic: the unification rows.
        seeds: one row per seed.
        curves: the first seed's test macro-F1 per step, per method.
        tables: the report's tables.
    """

    quadratic: tuple[QuadraticRow, ...]
    seeds: tuple[SeedRow, ...]
    curves: dict[str, tuple[float, ...]]
    tables: tuple[Table, ...]

    def gains(self, method: str) -> list[float]:
        """Per-seed test macro-F1 gain of ``method`` over the MLE start."""
        key = {"MGS": "mgs", "guide only": "guide_only", "random only": "random_only"}[method]
        return [getattr(r, key) - r.mle for r in self.seeds]


def _quadratic(cfg: Config, seed: int) -> list[QuadraticRow]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(4, 4, generator=g, dtype=D)
    h = a @ a.T / 4 + torch.eye(4, dtype=D)
    theta = torch.randn(4, generator=g, dtype=D)
    grad = h @ theta

    def loss(t: Tensor) -> Tensor:
        return 0.5 * torch.einsum("ni,ij,nj->n", t, h, t)

    def cos(u: Tensor, v: Tensor) -> float:
        return float(torch.nn.functional.cosine_similarity(u, v, dim=0))

    n = cfg.quadratic_samples
    m = boltzmann_move(loss, theta, alpha=0.05, sigma=1.0, samples=n, generator=g)
    newton = -torch.linalg.solve(h, grad)
    rows = [QuadraticRow("flat", "—", "Newton −H⁻¹g", float((m.move - newton).norm() / newton.norm()),
                         cos(m.move, -grad), m.ess)]  # fmt: skip
    sigma = 0.1
    for ratio in (1.0, 10.0, 100.0):
        m = boltzmann_move(loss, theta, alpha=ratio * sigma**2, sigma=sigma, samples=n,
                           prior="gaussian", generator=g)  # fmt: skip
        exact = -torch.linalg.solve(h + ratio * torch.eye(4, dtype=D), grad)
        rows.append(QuadraticRow("gaussian", f"{ratio:g}", "−(H + α/σ² I)⁻¹g",
                                 float((m.move - exact).norm() / exact.norm()),
                                 cos(m.move, -grad), m.ess))  # fmt: skip
    return rows


def _data(cfg: Config, seed: int) -> tuple[Tensor, ...]:
    """Imbalanced training half; test = every other image, weighted to the training class prior."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for k in range(K):
        idx = np.flatnonzero(y == k)
        rng.shuffle(idx)
        n = max(6, round(len(idx) * cfg.imbalance ** (k / (K - 1))))
        train.append(idx[: n // 2])
        test.append(idx[n // 2 :])  # every image not trained on
    tr, te = np.concatenate(train), np.concatenate(test)
    prior = np.bincount(y[tr], minlength=K) / len(tr)
    share = np.bincount(y[te], minlength=K) / len(te)
    weights = torch.tensor((prior / share)[y[te]], dtype=D)  # test counts → the imbalanced prior
    mu = x[tr].mean(0)
    _, _, vt = np.linalg.svd(x[tr] - mu, full_matrices=False)
    proj = vt[: cfg.components].T  # (64, c)
    ztr, zte = (x[tr] - mu) @ proj, (x[te] - mu) @ proj
    sd = ztr.std(0)

    def feats(z: np.ndarray) -> Tensor:
        return torch.cat([torch.tensor(z / sd, dtype=D), torch.ones(len(z), 1, dtype=D)], dim=1)

    return feats(ztr), torch.tensor(y[tr]), feats(zte), torch.tensor(y[te]), weights


def _macro_f1(w: Tensor, x: Tensor, y: Tensor, weights: Tensor | None = None) -> Tensor:
    """Macro-F1 of linear classifiers ``(m, d, K)`` on ``(x, y)`` (examples weighted): ``(m,)``."""
    m, d, k = w.shape
    pred = (x @ w.permute(1, 0, 2).reshape(d, m * k)).reshape(-1, m, k).argmax(-1)  # (B, m)
    cell = torch.arange(m).unsqueeze(0) * k * k + y.unsqueeze(1) * k + pred  # (B, m)
    sw = None if weights is None else weights.unsqueeze(1).expand(-1, m).flatten()
    conf = torch.bincount(cell.flatten(), weights=sw, minlength=m * k * k)
    conf = conf.reshape(m, k, k).to(w.dtype)
    tp = conf.diagonal(dim1=1, dim2=2)  # (m, K)
    f1 = 2 * tp / (conf.sum(2) + conf.sum(1)).clamp_min(1e-12)
    return f1.mean(-1)


def _mle(x: Tensor, y: Tensor, l2: float) -> Tensor:
    w = torch.zeros(x.shape[1], K, dtype=D, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w, y) + l2 * w[:-1].pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach()


def _search(
    cfg: Config, method: str, w0: Tensor, data: tuple[Tensor, ...], g: torch.Generator
) -> tuple[Tensor, tuple[float, ...]]:
    x, y, xte, yte, wte = data

    def task_loss(w: Tensor) -> Tensor:
        return 1 - _macro_f1(w, x, y)

    w, curve = w0.clone(), []
    for _ in range(cfg.steps):
        idx = torch.randint(0, len(y), (cfg.batch,), generator=g)
        wr = w.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(x[idx] @ wr, y[idx]), wr)
        mix = 1.0 if method == "random only" else cfg.mix
        move = mle_guided_move(task_loss, w, grad, alpha=cfg.alpha, sigma=cfg.sigma,
                               samples=cfg.samples, mix=mix, max_norm=cfg.guide_norm,
                               generator=g)  # fmt: skip
        step = move.moves.mean(0) if method == "guide only" else move.move
        w = w + step
        curve.append(_f1(w, xte, yte, wte))
    return w, tuple(curve)


def _f1(w: Tensor, x: Tensor, y: Tensor, weights: Tensor | None = None) -> float:
    return float(_macro_f1(w.unsqueeze(0), x, y, weights))


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def run(config: Config, seed: int) -> Result:
    """The quadratic unification, then MLE → MGS / ablations on imbalanced digits for each seed."""
    with num_threads(1):  # tiny problems: one thread is faster than several
        return _run(config, seed)


def _run(config: Config, seed: int) -> Result:
    log.info("C4: Boltzmann means on a quadratic")
    quadratic = _quadratic(config, seed)
    rows, curves = [], {}
    for s in range(seed, seed + config.seeds):
        data = _data(config, s)
        x, y, xte, yte, wte = data
        w0 = _mle(x, y, config.l2)
        out = {}
        for method in METHODS:
            g = torch.Generator().manual_seed(1000 + s)  # same minibatches and noise per method
            w, curve = _search(config, method, w0, data, g)
            out[method] = w
            if s == seed:
                curves[method] = curve
        log.info("C4: seed %d done", s)
        rows.append(SeedRow(s, len(y), _f1(w0, xte, yte, wte), _f1(out["MGS"], xte, yte, wte),
                            _f1(out["guide only"], xte, yte, wte),
                            _f1(out["random only"], xte, yte, wte),
                            _f1(out["MGS"], x, y) - _f1(w0, x, y),
                            _f1(out["guide only"], x, y) - _f1(w0, x, y)))  # fmt: skip
    result = Result(tuple(quadratic), tuple(rows), curves, ())
    summary_rows = [SummaryRow("MLE (start)", _mean_sd([r.mle for r in rows]), "—", "—")]
    for method in METHODS:
        gains = result.gains(method)
        tests = [r.mle + gn for r, gn in zip(rows, gains, strict=True)]
        improved = f"{sum(gn > 0 for gn in gains)}/{len(gains)}"
        summary_rows.append(SummaryRow(method, _mean_sd(tests), _mean_sd(gains), improved))
    tables = (
        Table("Boltzmann-weighted mean move on a quadratic", tuple(quadratic),
              ("prior", "α/σ²", "prediction", "rel. error", "cos(move, −g)", "ESS")),
        Table("test macro-F1 per seed (imbalanced digits, linear softmax)", tuple(rows),
              ("seed", "train size", "MLE", "MGS", "guide only", "random only",
               "MGS train gain", "guide-only train gain")),
        Table("over seeds: mean ± sd", tuple(summary_rows),
              ("method", "test macro-F1", "gain over MLE", "seeds improved")),
    )  # fmt: skip
    return Result(tuple(quadratic), tuple(rows), curves, tables)


def check(result: Result, config: Config) -> list[Check]:
    """Newton and GD limits on the quadratic; MGS raises the metric it optimises beyond its guide."""
    flat = result.quadratic[0]
    big = max((r for r in result.quadratic if r.prior == "gaussian"),
              key=lambda r: float(r.alpha_over_sigma2))  # fmt: skip
    mgs = result.gains("MGS")
    mean = statistics.fmean(mgs)
    spread = statistics.stdev(mgs) if len(mgs) > 1 else 0.0
    train_mgs = statistics.fmean(r.mgs_train_gain for r in result.seeds)
    train_guide = statistics.fmean(r.guide_train_gain for r in result.seeds)
    return [
        at_most("flat prior: ‖Δθ* − (−H⁻¹g)‖ / ‖H⁻¹g‖", flat.relative_error, 5e-2,
                article="second order: the Boltzmann mean is Newton's step"),
        at_least(f"Gaussian prior, α/σ² = {big.alpha_over_sigma2}: cos(Δθ*, −g)",
                 big.cos_to_minus_gradient, 0.99,
                 article="first order: the Boltzmann mean is parallel to −∇l (GD)"),
        at_least("MGS: mean training macro-F1 gain over MLE (the optimised metric)", train_mgs, 0.005,
                 article="MGS optimises a non-differentiable metric with n = 4"),
        at_least("MGS − guide-only training macro-F1 gain (the metric's weights at work)",
                 train_mgs - train_guide, 0.0),
        at_least("MGS: mean test macro-F1 gain + its sd over seeds (no loss beyond the spread)",
                 mean + spread, 0.0),
    ]  # fmt: skip


def plot(result: Result) -> Figure:
    """Test macro-F1 per step (first seed), and per-seed gains over MLE."""
    fig = Figure(figsize=(11, 4.2), layout="tight")
    ax1, ax2 = fig.subplots(1, 2)
    start = result.seeds[0].mle
    for method, curve in result.curves.items():
        ax1.plot(range(len(curve) + 1), (start, *curve), label=method)
    ax1.axhline(start, color="k", ls=":", lw=0.8, label="MLE start")
    ax1.set(xlabel="search step", ylabel="test macro-F1",
            title=f"imbalanced digits, seed {result.seeds[0].seed}")  # fmt: skip
    ax1.legend(fontsize=8)
    for i, method in enumerate(METHODS):
        gains = result.gains(method)
        ax2.scatter([i] * len(gains), gains, alpha=0.7)
        ax2.errorbar(i + 0.15, statistics.fmean(gains),
                     yerr=statistics.stdev(gains) if len(gains) > 1 else 0, fmt="ks", ms=4)  # fmt: skip
    ax2.axhline(0, color="grey", lw=0.8)
    ax2.set_xticks(range(len(METHODS)), METHODS)
    ax2.set(ylabel="test macro-F1 − MLE's", title="gain over MLE, per seed (mean ± sd)")
    return fig


def summary(result: Result) -> str:
    """Headline: MGS's mean gain with its spread, and the quadratic limits."""
    mgs = result.gains("MGS")
    improved = sum(gn > 0 for gn in mgs)
    train = [r.mgs_train_gain for r in result.seeds]
    return (
        f"MGS raises training macro-F1 over MLE by {_mean_sd(train)}, test macro-F1 by "
        f"{_mean_sd(mgs)} ({improved}/{len(mgs)} seeds); quadratic: Newton rel. error "
        f"{result.quadratic[0].relative_error:.1e}"
    )


def _notes(result: Result) -> str:
    guide = result.gains("guide only")
    rand = result.gains("random only")
    train_mgs = [r.mgs_train_gain for r in result.seeds]
    train_guide = [r.guide_train_gain for r in result.seeds]
    return (
        "The article derives the sampling view and runs nothing on MGS itself (it discusses the MGS "
        "paper). Importance sampling needs the moves' density: with the flat prior the Newton limit "
        "is sampled from a broad N(0, σ²I); the GD limit uses the Gaussian prior N(0, σ²I), which "
        "makes the Boltzmann mean −(H + α/σ² I)⁻¹g (a Levenberg–Marquardt step). The MLE gradient "
        "of the guide is a minibatch gradient (at the MLE optimum the full-batch one vanishes). "
        f"Without the metric's weights the same proposals change test macro-F1 by {_mean_sd(guide)}; "
        f"with random proposals only, by {_mean_sd(rand)} (the weighted mean always moves, even "
        "when every sample is worse). On the training set, the metric MGS optimises, its gain "
        f"exceeds the guide's ({_mean_sd(train_mgs)} vs {_mean_sd(train_guide)}); on held-out "
        "images it does not: the extra training-F1 is fitted to a few images per rare class and "
        "does not generalise in this linear model. The test set is every image not trained on, "
        "weighted to the training class prior (the imbalanced distribution's macro-F1 measured "
        "on ~1500 images instead of ~300)."
    )


EXPERIMENT = Experiment(
    id="C4",
    title="Boltzmann-weighted moves: Newton/GD limits; MGS raises macro-F1 after MLE on imbalanced digits",
    quick=QUICK,
    full=FULL,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data="scikit-learn load_digits, an imbalanced subset per seed (class k keeps ρ^(k/9)), split "
    "in halves, 10 principal components of the training half; a random 4-D quadratic",
    notes=_notes,
)
