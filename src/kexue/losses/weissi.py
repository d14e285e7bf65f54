r"""WEISSI: a weight-scale-shift-invariant replacement for L2 regularisation.

A positively homogeneous activation (:math:`\varphi(\varepsilon x)=\varepsilon\varphi(x)`,
:math:`\varepsilon\ge0`: ReLU, leaky ReLU, identity) lets a net
:math:`h_l=\varphi(W_lh_{l-1}+b_l)` be rescaled layer by layer, :math:`W_l\to\gamma_lW_l`,
:math:`b_l\to(\prod_{k\le l}\gamma_k)b_l`, which multiplies the output by :math:`\prod_l\gamma_l`; with
:math:`\prod_l\gamma_l=1` the function is unchanged. L2, :math:`\sum_l\|W_l\|_F^2`, is not invariant
(at fixed :math:`\prod_l\|W_l\|` it is smallest when all norms are equal), so part of its pull only
rebalances layer norms. The only invariant penalty of the form :math:`\sum_l\phi(\|W_l\|)` with an
invariant gradient is :math:`\phi=\log`:

.. math:: \mathcal R(W)=\lambda_1\sum_l\log\|W_l\|_F+\lambda_2\sum_l\Big\|\frac{W_l}{\|W_l\|_F}\Big\|_1 .

Correction to the article: it rescales the biases with :math:`\gamma_l` alone, which keeps the
function only for the first layer; the invariant rescaling uses the cumulative product
:math:`\prod_{k\le l}\gamma_k` (both are available in :func:`rescale_layers`).

Reference:
    Su Jianlin, "L2正则没有想象那么好？可能是“权重尺度偏移”惹的祸", https://kexue.fm/archives/7681 ;
    Liu, Cui, Chan, "Improve Generalization and Robustness of Neural Networks via Weight Scale
    Shifting Invariant Regularizations", arXiv:2008.02965.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from kexue._validate import check_finite, check_floating, check_nonempty, check_positive

__all__ = ["WEISSIRegularizer", "l2_penalty", "layer_weights", "rescale_layers", "weissi_penalty"]

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
Weights = nn.Module | Sequence[torch.Tensor]


def layer_weights(model: nn.Module) -> list[torch.Tensor]:
    r"""The weight matrices of every ``Linear``/``Conv`` layer of ``model``, in order (no biases).

    Args:
        model: any module.

    Returns:
        the weight tensors (the parameters themselves, so penalties built on them are trainable).

    Raises:
        TypeError: ``model`` not an ``nn.Module``.
        ValueError: ``model`` has no ``Linear``/``Conv`` layer.

    Reference:
        Su Jianlin, "L2正则没有想象那么好？可能是“权重尺度偏移”惹的祸", https://kexue.fm/archives/7681

    Example:
        >>> [tuple(w.shape) for w in layer_weights(nn.Sequential(nn.Linear(3, 4), nn.ReLU()))]
        [(4, 3)]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    ws = [m.weight for m in model.modules() if isinstance(m, _LAYERS)]
    if not ws:
        raise ValueError("model has no nn.Linear or nn.Conv layer whose weights could be penalised")
    return ws


def _weights(weights: Weights) -> list[torch.Tensor]:
    if isinstance(weights, nn.Module):
        return layer_weights(weights)
    if isinstance(weights, torch.Tensor) or not isinstance(weights, Sequence):
        raise TypeError("weights must be an nn.Module or a sequence of weight tensors")
    if not weights:
        raise ValueError("weights is empty: pass at least one weight tensor")
    for i, w in enumerate(weights):
        check_nonempty(check_floating(w, f"weights[{i}]"), f"weights[{i}]")
        check_finite(w, f"weights[{i}]")
    return list(weights)


def _cd(w: torch.Tensor) -> torch.dtype:
    return torch.float32 if w.dtype in (torch.float16, torch.bfloat16) else w.dtype


def weissi_penalty(
    weights: Weights, lambda1: float = 1.0, lambda2: float = 0.0, *, eps: float = 1e-12
) -> torch.Tensor:
    r"""WEISSI regulariser: log of the layer norms plus a scale-free L1 on their directions.

    .. math:: \mathcal R=\lambda_1\sum_l\log\max(\|W_l\|_F,\epsilon)
        +\lambda_2\sum_l\frac{\|W_l\|_1}{\max(\|W_l\|_F,\epsilon)} .

    Invariant under :math:`W_l\to\gamma_lW_l` with :math:`\prod_l\gamma_l=1` (the :math:`\lambda_2`
    term under any :math:`\gamma_l>0`). Its gradient :math:`\lambda_1W_l/\|W_l\|_F^2` is weight
    decay with a per-layer coefficient :math:`\lambda_1/\|W_l\|^2`. Unbounded below: a large
    :math:`\lambda_1` drives the weights to 0 (collapse); ``eps`` caps the gradient near 0.
    Pointless after batch/layer normalisation (already scale invariant); biases are not penalised.

    Args:
        weights: an ``nn.Module`` (weights of its ``Linear``/``Conv`` layers) or weight tensors.
        lambda1: coefficient of :math:`\sum\log\|W_l\|_F` (``>= 0``).
        lambda2: coefficient of the direction L1 term (``>= 0``).
        eps: floor on each norm.

    Shape:
        scalar.

    Returns:
        the penalty, dtype of the first weight (float32 for half weights).

    Raises:
        TypeError: ``weights`` not a module or tensors, or not floating; coefficients not real.
        ValueError: ``weights`` empty or non-finite; negative coefficients; ``eps <= 0``.

    Reference:
        Su Jianlin, "L2正则没有想象那么好？可能是“权重尺度偏移”惹的祸", https://kexue.fm/archives/7681 ;
        Liu, Cui, Chan, arXiv:2008.02965.

    Example:
        >>> w1, w2 = torch.eye(2) * 2, torch.eye(2) / 2  # norms 2*sqrt(2), sqrt(2)/2
        >>> weissi_penalty([w1, w2])  # log(2*sqrt(2) * sqrt(2)/2) = log 2
        tensor(0.6931)
    """
    ws = _weights(weights)
    lam1 = check_positive(lambda1, "lambda1", allow_zero=True)
    lam2 = check_positive(lambda2, "lambda2", allow_zero=True)
    e = check_positive(eps, "eps")
    cd = _cd(ws[0])
    total = ws[0].new_zeros((), dtype=cd)
    for w in ws:
        wc = w.to(cd)
        norm = torch.linalg.vector_norm(wc).clamp_min(e)
        if lam1:
            total = total + lam1 * norm.log()
        if lam2:
            total = total + lam2 * wc.abs().sum() / norm
    return total.to(ws[0].dtype)


def l2_penalty(weights: Weights) -> torch.Tensor:
    r"""Plain L2 penalty :math:`\sum_l\|W_l\|_F^2` (biases excluded), for comparison with WEISSI.

    Args:
        weights: an ``nn.Module`` or weight tensors, as in :func:`weissi_penalty`.

    Shape:
        scalar.

    Returns:
        the penalty, dtype of the first weight (float32 for half weights).

    Raises:
        TypeError: ``weights`` not a module or tensors, or not floating.
        ValueError: ``weights`` empty or non-finite.

    Reference:
        Su Jianlin, "L2正则没有想象那么好？可能是“权重尺度偏移”惹的祸", https://kexue.fm/archives/7681

    Example:
        >>> l2_penalty([torch.eye(2) * 2, torch.eye(2) / 2])
        tensor(8.5000)
    """
    ws = _weights(weights)
    cd = _cd(ws[0])
    return sum((w.to(cd).pow(2).sum() for w in ws), ws[0].new_zeros((), dtype=cd)).to(ws[0].dtype)


def rescale_layers(
    model: nn.Module, gammas: Sequence[float], *, bias_scaling: str = "cumulative"
) -> nn.Module:
    r"""A copy of ``model`` with layer weights rescaled: :math:`W_l\to\gamma_lW_l`.

    With ``bias_scaling="cumulative"`` the biases become :math:`(\prod_{k\le l}\gamma_k)b_l` and a
    positively homogeneous net's output is multiplied by exactly :math:`\prod_l\gamma_l` (unchanged
    when the product is 1). ``"per_layer"`` uses :math:`\gamma_lb_l`, the article's formula, which
    is correct for the first layer only and changes the function from layer 2 on.

    Args:
        model: module whose ``Linear``/``Conv`` layers (in ``modules()`` order) are rescaled.
        gammas: one positive factor per layer.
        bias_scaling: ``"cumulative"`` (invariant, default) or ``"per_layer"`` (article).

    Returns:
        a deep copy of ``model``; the original is untouched.

    Raises:
        TypeError: ``model`` not a module or a factor not a real number.
        ValueError: wrong number of ``gammas``, a factor ``<= 0``, bad ``bias_scaling``.

    Reference:
        Su Jianlin, "L2正则没有想象那么好？可能是“权重尺度偏移”惹的祸", https://kexue.fm/archives/7681

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        >>> x = torch.randn(4, 2)
        >>> torch.allclose(rescale_layers(net, [4.0, 0.25])(x), net(x), atol=1e-6)
        True
    """
    n = len(layer_weights(model))
    if isinstance(gammas, torch.Tensor) or not isinstance(gammas, Sequence):
        raise TypeError("gammas must be a sequence of positive numbers")
    if len(gammas) != n:
        raise ValueError(f"gammas must have one factor per layer ({n}), got {len(gammas)}")
    gs = [check_positive(g, f"gammas[{i}]") for i, g in enumerate(gammas)]
    if bias_scaling not in ("cumulative", "per_layer"):
        raise ValueError(f"bias_scaling must be 'cumulative' or 'per_layer', got {bias_scaling!r}")
    out = copy.deepcopy(model)
    cum = 1.0
    with torch.no_grad():
        for g, m in zip(gs, (m for m in out.modules() if isinstance(m, _LAYERS)), strict=True):
            cum *= g
            m.weight.mul_(g)
            if m.bias is not None:
                m.bias.mul_(cum if bias_scaling == "cumulative" else g)
    return out


class WEISSIRegularizer(nn.Module):
    r"""Module form of :func:`weissi_penalty`: ``WEISSIRegularizer(lambda1, lambda2)(model)``.

    Add it to the data loss: ``loss = ce + reg(model)``.

    Reference:
        Su Jianlin, "L2正则没有想象那么好？可能是“权重尺度偏移”惹的祸", https://kexue.fm/archives/7681

    Example:
        >>> WEISSIRegularizer(0.1)([torch.eye(3)])  # 0.1 * log(sqrt(3))
        tensor(0.0549)
    """

    def __init__(self, lambda1: float = 1.0, lambda2: float = 0.0, *, eps: float = 1e-12):
        super().__init__()
        self.lambda1 = check_positive(lambda1, "lambda1", allow_zero=True)
        self.lambda2 = check_positive(lambda2, "lambda2", allow_zero=True)
        self.eps = check_positive(eps, "eps")

    def forward(self, weights: Weights) -> torch.Tensor:
        return weissi_penalty(weights, self.lambda1, self.lambda2, eps=self.eps)

    def extra_repr(self) -> str:
        return f"lambda1={self.lambda1}, lambda2={self.lambda2}, eps={self.eps}"
