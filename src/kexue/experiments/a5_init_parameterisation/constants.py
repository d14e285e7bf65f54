r"""A5 study 1: the article's constants from their formulas, and the truncated-normal samplers.

:math:`\gamma = \mathrm{Var}` of a standard normal truncated to ±2 (and the correction factor
:math:`1/\sqrt\gamma`), :math:`\mathbb E[\mathrm{sigmoid}(z)^2]` and the SELU constants are computed,
not copied; the sample std of our relative-bound truncated normal (with and without the correction)
is measured against torch's absolute-bound ``nn.init.trunc_normal_`` at ``std=0.02``, which with its
default bounds ±2 (absolute, i.e. ±100σ) does not truncate at all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

import torch
from torch import nn

from kexue.experiments.base import Check, at_least, at_most, within

__all__ = [
    "ArticleConstants",
    "Constants",
    "article_constants",
    "constant_checks",
    "measure_constants",
]

SIGMA = 0.02  # BERT's initialiser std


@dataclass(frozen=True)
class ArticleConstants:
    """The article's constants as printed (text, so that trailing zeros survive)."""

    gamma: str
    factor: str
    sigmoid_second_moment: str
    selu_lambda: str
    selu_alpha: str


@cache
def article_constants() -> ArticleConstants:
    """The article's constants, parsed from the catalogue record where they are stated."""
    from kexue import catalogue

    text = catalogue.get("A5").article_figure
    patterns = {
        "gamma": r"γ = ([\d.]+\d)",
        "factor": r"factor ([\d.]+\d)",
        "sigmoid_second_moment": r"E\[sigmoid\(z\)²\] = ([\d.]+\d)",
        "selu_lambda": r"λ=([\d.]+\d)",
        "selu_alpha": r"α=([\d.]+\d)",
    }
    found = {name: re.search(p, text) for name, p in patterns.items()}
    missing = [name for name, m in found.items() if m is None]
    if missing:
        raise ValueError(f"A5's article_figure does not state {missing}: {text!r}")
    return ArticleConstants(**{name: m.group(1) for name, m in found.items() if m is not None})


@dataclass(frozen=True)
class Constants:
    """The constants by formula and the samplers' statistics.

    Attributes:
        gamma: variance of the ±2-truncated standard normal, by formula.
        gamma_scipy: the same from ``scipy.stats.truncnorm``.
        factor: the correction :math:`1/\\sqrt\\gamma`.
        std_ratio_corrected: sample std / requested std of our corrected sampler.
        std_ratio_uncorrected: the same without the correction (TF's ``truncated_normal``).
        std_ratio_torch_default: the same for ``torch.nn.init.trunc_normal_(std=0.02)``.
        max_abs_over_sigma_ours: the largest |sample| / σ of our corrected sampler.
        frac_beyond_2sigma_torch: share of torch's samples beyond 2σ.
        sigmoid_second_moment: :math:`\\mathbb E[\\mathrm{sigmoid}(z)^2]`, :math:`z\\sim N(0,1)`.
        selu_lambda, selu_alpha: SELU's constants from the moment conditions.
    """

    gamma: float
    gamma_scipy: float
    factor: float
    std_ratio_corrected: float
    std_ratio_uncorrected: float
    std_ratio_torch_default: float
    max_abs_over_sigma_ours: float
    frac_beyond_2sigma_torch: float
    sigmoid_second_moment: float
    selu_lambda: float
    selu_alpha: float


def _selu_constants() -> tuple[float, float]:
    """λ, α making λ·(z if z>0 else α(e^z-1)) have mean 0 and second moment 1 for z ~ N(0,1)."""
    from scipy.stats import norm

    e1 = math.exp(0.5) * norm.cdf(-1) - 0.5  # E[(e^z - 1); z < 0]
    e2 = math.exp(2.0) * norm.cdf(-2) - 2 * math.exp(0.5) * norm.cdf(-1) + 0.5  # E[(e^z-1)^2; z<0]
    alpha = (1 / math.sqrt(2 * math.pi)) / -e1  # mean: alpha*e1 + E[z; z>0] = 0
    lam = 1 / math.sqrt(alpha**2 * e2 + 0.5)  # second moment: lam^2 (alpha^2 e2 + 1/2) = 1
    return lam, alpha


def measure_constants(n_samples: int, seed: int) -> Constants:
    """The constants by formula; ``n_samples`` draws from each sampler."""
    from scipy.stats import truncnorm

    from kexue.nn.init import gaussian_second_moment, trunc_normal, trunc_normal_correction
    from kexue.nn.init import truncated_normal_variance as gamma_fn

    g = torch.Generator().manual_seed(seed)
    ours = trunc_normal((n_samples,), std=SIGMA, dtype=torch.float64, generator=g)
    raw = trunc_normal(
        (n_samples,), std=SIGMA, correct_variance=False, dtype=torch.float64, generator=g
    )
    tnorm = nn.init.trunc_normal_(  # a=-2, b=2 absolute
        torch.empty(n_samples, dtype=torch.float64),
        std=SIGMA,
        generator=torch.Generator().manual_seed(seed),
    )
    lam, alpha = _selu_constants()
    return Constants(
        gamma=gamma_fn(-2.0, 2.0),
        gamma_scipy=float(truncnorm(-2, 2).var()),
        factor=trunc_normal_correction(2.0),
        std_ratio_corrected=float(ours.std() / SIGMA),
        std_ratio_uncorrected=float(raw.std() / SIGMA),
        std_ratio_torch_default=float(tnorm.std() / SIGMA),
        max_abs_over_sigma_ours=float(ours.abs().max() / SIGMA),
        frac_beyond_2sigma_torch=float((tnorm.abs() > 2 * SIGMA).double().mean()),
        sigmoid_second_moment=gaussian_second_moment(torch.sigmoid),
        selu_lambda=lam,
        selu_alpha=alpha,
    )


def constant_checks(c: Constants) -> list[Check]:
    """The constants against the article's (to its printed digits) and the samplers' std."""
    art = article_constants()
    gamma, factor, sigmoid2 = float(art.gamma), float(art.factor), float(art.sigmoid_second_moment)
    lam, alpha = float(art.selu_lambda), float(art.selu_alpha)
    tf_ratio = 1 / factor  # std of TF's uncorrected truncated normal, per unit requested std
    return [
        within("gamma by formula", c.gamma, gamma - 1e-7, gamma + 1e-7, article=art.gamma),
        at_most("|gamma formula - scipy truncnorm|", abs(c.gamma - c.gamma_scipy), 1e-12),
        within(
            "correction factor 1/sqrt(gamma)",
            c.factor,
            factor - 1e-7,
            factor + 1e-7,
            article=art.factor,
        ),
        within("sample std / requested (corrected)", c.std_ratio_corrected, 0.995, 1.005),
        within(
            "sample std / requested (uncorrected)",
            c.std_ratio_uncorrected,
            tf_ratio - 0.005,
            tf_ratio + 0.005,
            article=f"{tf_ratio:.4f}",
        ),
        at_most(
            "our max |w| / sigma (truncation happens)", c.max_abs_over_sigma_ours, 2 * factor + 1e-6
        ),
        at_least(
            "torch trunc_normal_(std=0.02): share beyond 2 sigma (no truncation)",
            c.frac_beyond_2sigma_torch,
            0.04,
        ),
        within(
            "E[sigmoid(z)^2]",
            c.sigmoid_second_moment,
            sigmoid2 - 1e-7,
            sigmoid2 + 1e-7,
            article=art.sigmoid_second_moment,
        ),
        within("SELU lambda", c.selu_lambda, lam - 1e-4, lam + 1e-4, article=art.selu_lambda),
        within("SELU alpha", c.selu_alpha, alpha - 1e-4, alpha + 1e-4, article=art.selu_alpha),
    ]
