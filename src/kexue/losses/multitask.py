"""Multi-task loss weighting: the article's scale-invariant schemes, uncertainty weighting, gradient
normalisation, and one :class:`MultiTaskLoss` module that holds their state.

Article 8870 asks for a total loss that does not change when one task's loss is rescaled
(:math:`L_i\\to cL_i`, e.g. a change of units), and ideally when it is shifted
(:math:`L_i\\to L_i+c`). Dividing by the initial loss, by the loss of the prior predictor, or by the
current loss itself (stop-gradient) gives scale invariance; the last one has the gradient of
:math:`\\sum\\log L_i`. Dividing by the (stop-gradient) norm of each task's gradient gives both
invariances.

Every functional form takes the task losses either as a sequence of scalar tensors or as one tensor
whose **last** dimension indexes the tasks (leading dimensions are batched), and returns the total.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from kexue._validate import check_finite, check_floating, check_ndim, check_nonempty, check_tensor
from kexue.losses._classification import compute_dtype

__all__ = [
    "STRATEGIES",
    "MultiTaskLoss",
    "ce_prior_loss",
    "generalized_mean",
    "gradient_normalized_sum",
    "mse_prior_loss",
    "normalized_sum",
    "realtime_normalized_sum",
    "uncertainty_weighted_sum",
    "weighted_sum",
]

STRATEGIES = (
    "equal",
    "initial",
    "prior",
    "realtime",
    "generalized_mean",
    "uncertainty",
    "gradient_normalized",
)

LossesLike = torch.Tensor | Sequence[torch.Tensor]


def _stack(
    losses: LossesLike, *, min_value: float | None = None, strict: bool = False
) -> torch.Tensor:
    """Validate the task losses and return them stacked as ``(*, n)``."""
    if isinstance(losses, torch.Tensor):
        t = check_floating(losses, "losses")
        check_ndim(t, "losses", 1)
    elif isinstance(losses, Sequence) and not isinstance(losses, str):
        if not all(isinstance(x, torch.Tensor) for x in losses):
            raise TypeError("losses must be a tensor or a sequence of tensors")
        if len(losses) == 0:
            raise ValueError("losses is empty; pass at least one task loss")
        items = [check_floating(x, f"losses[{i}]") for i, x in enumerate(losses)]
        try:
            t = torch.stack(torch.broadcast_tensors(*items), dim=-1)
        except RuntimeError as exc:
            raise ValueError(f"losses have incompatible shapes: {exc}") from exc
    else:
        raise TypeError(
            f"losses must be a tensor or a sequence of tensors, got {type(losses).__name__}"
        )
    check_nonempty(t, "losses")
    check_finite(t, "losses")
    if min_value is not None:
        bad = (t <= min_value) if strict else (t < min_value)
        if bool(bad.any()):
            op = ">" if strict else ">="
            raise ValueError(
                f"losses must be {op} {min_value} for this scheme, got min {float(t.min())}"
            )
    return t


def _per_task(x: object, name: str, n: int, ref: torch.Tensor) -> torch.Tensor:
    """A per-task vector ``(n,)`` (or broadcastable ``(*, n)``) in the dtype of ``ref``."""
    if isinstance(x, torch.Tensor):
        v = check_floating(x, name)
    elif isinstance(x, Sequence) and all(isinstance(e, int | float) for e in x):
        v = torch.tensor(list(x), dtype=ref.dtype, device=ref.device)
    else:
        raise TypeError(f"{name} must be a tensor or a sequence of numbers, got {type(x).__name__}")
    if v.ndim == 0 or v.shape[-1] != n:
        raise ValueError(
            f"{name} must have {n} entries on its last dimension, got {tuple(v.shape)}"
        )
    check_finite(v, name)
    return v.to(ref.dtype)


def weighted_sum(
    losses: LossesLike, weights: torch.Tensor | Sequence[float] | None = None
) -> torch.Tensor:
    """Fixed weights :math:`\\sum_i\\alpha_iL_i`; equal weights :math:`\\alpha_i=1/n` by default.

    Neither scale- nor translation-invariant: a task measured in other units dominates.

    Args:
        losses: the task losses, last dimension = tasks.
        weights: non-negative :math:`\\alpha_i`; ``None`` for equal weights :math:`1/n`.

    Shape:
        losses ``(*, n)``; weights ``(n,)``; output ``(*)``.

    Returns:
        The total loss, in the dtype of ``losses``.

    Raises:
        TypeError: ``losses``/``weights`` not floating tensors (or sequences of them / of numbers).
        ValueError: empty or non-finite ``losses``; ``weights`` of the wrong length or negative.

    Reference:
        多任务学习漫谈（一）：以损失之名, https://kexue.fm/archives/8870.

    Example:
        >>> weighted_sum(torch.tensor([1.0, 3.0]))
        tensor(2.)
    """
    t = _stack(losses)
    n = t.shape[-1]
    if weights is None:
        return t.mean(-1)
    w = _per_task(weights, "weights", n, t)
    if bool((w < 0).any()):
        raise ValueError("weights must be non-negative")
    return (w * t).sum(-1)


def normalized_sum(losses: LossesLike, scales: torch.Tensor | Sequence[float]) -> torch.Tensor:
    """Losses divided by fixed per-task scales: :math:`\\sum_i L_i/s_i`.

    With :math:`s_i=L_i^{\\text{init}}` (the loss at initialisation) this is the article's
    initial-loss normalisation; with :math:`s_i` the loss of the best input-independent predictor
    (:func:`ce_prior_loss`, :func:`mse_prior_loss`) it is the prior normalisation. Both are
    scale-invariant when :math:`s_i` is measured on the same (rescaled) loss, not translation-invariant.

    Args:
        losses: the task losses, last dimension = tasks.
        scales: positive :math:`s_i`.

    Shape:
        losses ``(*, n)``; scales ``(n,)`` or broadcastable ``(*, n)``; output ``(*)``.

    Returns:
        The total loss, in the dtype of ``losses``.

    Raises:
        TypeError: non-floating ``losses``/``scales``.
        ValueError: empty or non-finite ``losses``; ``scales`` of the wrong length or <= 0.

    Reference:
        多任务学习漫谈（一）：以损失之名, https://kexue.fm/archives/8870.

    Example:
        >>> normalized_sum(torch.tensor([2.0, 300.0]), torch.tensor([2.3, 1e4]))
        tensor(0.8996)
    """
    t = _stack(losses)
    s = _per_task(scales, "scales", t.shape[-1], t)
    if bool((s <= 0).any()):
        raise ValueError("scales must be > 0 for every task")
    return (t / s).sum(-1)


def realtime_normalized_sum(losses: LossesLike, *, eps: float = 1e-12) -> torch.Tensor:
    """Real-time normalisation :math:`\\sum_i L_i/(\\mathrm{sg}(L_i)+\\epsilon)`.

    Its value is (nearly) the constant n; its gradient is
    :math:`\\sum_i\\nabla L_i/L_i=\\nabla\\sum_i\\log L_i`, the direction of the geometric mean. The
    article calls it a very good baseline. Scale-invariant, not translation-invariant.

    Args:
        losses: non-negative task losses, last dimension = tasks.
        eps: added to the stop-gradient denominator (guards a zero loss).

    Shape:
        losses ``(*, n)``; output ``(*)``.

    Returns:
        The total loss, in the dtype of ``losses``.

    Raises:
        TypeError: non-floating ``losses``.
        ValueError: empty, non-finite or negative ``losses``; ``eps < 0``.

    Reference:
        多任务学习漫谈（一）：以损失之名, https://kexue.fm/archives/8870.

    Example:
        >>> realtime_normalized_sum(torch.tensor([2.0, 300.0]))
        tensor(2.)
    """
    t = _stack(losses, min_value=0.0)
    if isinstance(eps, bool) or not isinstance(eps, int | float) or eps < 0:
        raise ValueError(f"eps must be a real number >= 0, got {eps!r}")
    tc = t.to(compute_dtype(t))  # half precision: eps would underflow
    return (tc / (tc.detach() + eps)).sum(-1).to(t.dtype)


def generalized_mean(losses: LossesLike, gamma: float = 0.0) -> torch.Tensor:
    """Power mean of the task losses, :math:`\\big(\\frac1n\\sum_iL_i^\\gamma\\big)^{1/\\gamma}`.

    γ = 1 is the arithmetic mean, γ → 0 the geometric mean :math:`(\\prod L_i)^{1/n}` (same gradient
    direction as :func:`realtime_normalized_sum`), γ → +∞ the max, γ → −∞ the min; monotone
    in γ. The effective weights are :math:`\\propto L_i^{\\gamma-1}`. Computed in log-space.

    Args:
        losses: positive task losses, last dimension = tasks.
        gamma: the power; ``0`` and ``±math.inf`` give the limits.

    Shape:
        losses ``(*, n)``; output ``(*)``.

    Returns:
        The generalised mean, in the dtype of ``losses``.

    Raises:
        TypeError: non-floating ``losses``; non-real ``gamma``.
        ValueError: empty, non-finite or non-positive ``losses``; NaN ``gamma``.

    Reference:
        多任务学习漫谈（一）：以损失之名, https://kexue.fm/archives/8870.

    Example:
        >>> generalized_mean(torch.tensor([1.0, 4.0]), gamma=0.0)  # geometric
        tensor(2.)
    """
    t = _stack(losses, min_value=0.0, strict=True)
    if isinstance(gamma, bool) or not isinstance(gamma, int | float):
        raise TypeError(f"gamma must be a real number, got {type(gamma).__name__}")
    if gamma != gamma:
        raise ValueError("gamma must not be NaN")
    if gamma == math.inf:
        return t.amax(-1)
    if gamma == -math.inf:
        return t.amin(-1)
    log_t = t.to(compute_dtype(t)).log()  # float32 for half inputs
    mu = log_t.mean(-1, keepdim=True)
    if gamma == 0:
        return mu.squeeze(-1).exp().to(t.dtype)
    u = gamma * (log_t - mu)  # centred, so the correction below is small for small γ
    if float(u.detach().abs().max()) < 30.0:
        # log((1/n) Σ e^{u}) = log1p(mean(expm1(u))): no cancellation as γ → 0
        corr = torch.log1p(torch.expm1(u).mean(-1))
    else:
        corr = torch.logsumexp(u, dim=-1) - math.log(t.shape[-1])
    return (mu.squeeze(-1) + corr / gamma).exp().to(t.dtype)


def uncertainty_weighted_sum(losses: LossesLike, log_vars: torch.Tensor) -> torch.Tensor:
    """Kendall et al.'s uncertainty weighting, :math:`\\sum_i\\tfrac12e^{-s_i}L_i+\\tfrac12s_i`.

    With :math:`s_i=\\log\\sigma_i^2` learnable, the optimum is :math:`e^{s_i}=L_i`, i.e. the
    weight :math:`1/(2L_i)`: real-time normalisation up to a factor ½. The total can be negative
    (the :math:`s_i/2` terms); that is expected.

    Args:
        losses: non-negative task losses, last dimension = tasks.
        log_vars: :math:`s_i=\\log\\sigma_i^2` (usually an ``nn.Parameter`` initialised at 0).

    Shape:
        losses ``(*, n)``; log_vars ``(n,)``; output ``(*)``.

    Returns:
        The total loss, in the promoted dtype of ``losses`` and ``log_vars``.

    Raises:
        TypeError: non-floating ``losses``/``log_vars``.
        ValueError: empty, non-finite or negative ``losses``; ``log_vars`` of the wrong length or
            non-finite.

    Reference:
        多任务学习漫谈（一）：以损失之名, https://kexue.fm/archives/8870. Kendall, Gal, Cipolla,
        "Multi-Task Learning Using Uncertainty to Weigh Losses", CVPR 2018.

    Example:
        >>> uncertainty_weighted_sum(torch.tensor([1.0, 1.0]), torch.zeros(2))
        tensor(1.)
    """
    t = _stack(losses, min_value=0.0)
    s = check_floating(log_vars, "log_vars")
    if s.ndim == 0 or s.shape[-1] != t.shape[-1]:
        raise ValueError(f"log_vars must have {t.shape[-1]} entries, got shape {tuple(s.shape)}")
    check_finite(s, "log_vars")
    return (0.5 * torch.exp(-s) * t + 0.5 * s).sum(-1)


def gradient_normalized_sum(
    losses: LossesLike, params: Iterable[torch.Tensor], *, eps: float = 1e-12
) -> torch.Tensor:
    """Gradient normalisation :math:`\\sum_iL_i/(\\mathrm{sg}\\|\\nabla_\\theta L_i\\|+\\epsilon)`.

    The update direction is :math:`\\sum_i\\nabla_\\theta L_i/\\|\\nabla_\\theta L_i\\|`: invariant to
    both :math:`L_i\\to cL_i` and :math:`L_i\\to L_i+c`. Costs one extra backward per task through
    the shared parameters θ (pass only those; task heads receive :math:`\\nabla L_i/\\|g_i\\|`).
    Not GradNorm (Chen et al. 2018), which the article finds cumbersome.

    Args:
        losses: scalar task losses attached to the graph (a sequence, or a tensor of shape (n,)).
        params: the shared parameters θ (the norm is over all of them together).
        eps: added to each norm.

    Shape:
        losses ``(n,)``; output ``()``.

    Returns:
        The total loss, in the dtype of ``losses``; its gradient is the normalised direction. The
        graph is kept, so call ``backward()`` on the result.

    Raises:
        TypeError: non-floating ``losses``; ``params`` not tensors.
        ValueError: ``losses`` empty, non-finite or not 1-D; ``params`` empty or not requiring
            gradients; ``eps < 0``.

    Reference:
        多任务学习漫谈（一）：以损失之名, https://kexue.fm/archives/8870.

    Example:
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> total = gradient_normalized_sum([(w**2).sum(), 10 * w.sum()], [w])
        >>> total.backward(); w.grad  # each task's gradient has unit norm
        tensor([1.1543, 1.6015])
    """
    t = _stack(losses)
    if t.ndim != 1:
        raise ValueError(f"losses must be one scalar per task (shape (n,)), got {tuple(t.shape)}")
    ps = list(params)
    if not ps:
        raise ValueError("params is empty; pass the shared parameters")
    for i, p in enumerate(ps):
        check_tensor(p, f"params[{i}]")
        if not p.requires_grad:
            raise ValueError(f"params[{i}] does not require grad")
    if isinstance(eps, bool) or not isinstance(eps, int | float) or eps < 0:
        raise ValueError(f"eps must be a real number >= 0, got {eps!r}")
    norms = []
    for i in range(t.shape[0]):
        grads = torch.autograd.grad(t[i], ps, retain_graph=True, allow_unused=True)
        sq = sum((g.detach().pow(2).sum() for g in grads if g is not None), t.new_zeros(()))
        norms.append(sq.sqrt())
    return (t / (torch.stack(norms).to(t.dtype) + eps)).sum()


def ce_prior_loss(class_counts: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the best input-independent predictor: the class-prior entropy.

    .. math::  L^{\\text{prior}} = -\\sum_k p_k\\log p_k

    (Zero logits give :math:`\\log K` instead, the initial-loss scale.) Use as a scale in
    :func:`normalized_sum`.

    Args:
        class_counts: non-negative counts (or frequencies) per class.

    Shape:
        class_counts ``(C,)``; output ``()``.

    Returns:
        The entropy in nats, in the dtype of ``class_counts`` (default dtype if integer).

    Raises:
        TypeError: ``class_counts`` not a tensor.
        ValueError: not 1-D, negative entries or all zero.

    Reference:
        多任务学习漫谈（一）：以损失之名, https://kexue.fm/archives/8870.

    Example:
        >>> round(ce_prior_loss(torch.tensor([5, 5])).item(), 4)  # log 2
        0.6931
    """
    c = check_tensor(class_counts, "class_counts")
    check_ndim(c, "class_counts", 1, 1)
    c = c if c.is_floating_point() else c.to(torch.get_default_dtype())
    check_finite(c, "class_counts")
    if bool((c < 0).any()) or float(c.sum()) <= 0:
        raise ValueError("class_counts must be non-negative with a positive total")
    p = c / c.sum()
    return -torch.xlogy(p, p).sum()


def mse_prior_loss(targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the best constant predictor (the label variance), mean over elements.

    .. math::  L^{\\text{prior}} = \\mathrm{mean}\\,(y-\\bar y)^2,\\quad \\bar y=\\mathbb E_n[y]

    Matches ``F.mse_loss``'s default reduction. (A zero predictor gives
    :math:`\\mathrm{mean}\\,y^2` instead, the initial-loss scale.)

    Args:
        targets: regression targets, samples on the first dimension.

    Shape:
        targets ``(N, *)``; output ``()``.

    Returns:
        The variance, in the dtype of ``targets``.

    Raises:
        TypeError: non-floating ``targets``.
        ValueError: empty or non-finite ``targets``.

    Reference:
        多任务学习漫谈（一）：以损失之名, https://kexue.fm/archives/8870.

    Example:
        >>> mse_prior_loss(torch.tensor([1.0, 3.0]))
        tensor(1.)
    """
    y = check_floating(targets, "targets")
    check_ndim(y, "targets", 1)
    check_nonempty(y, "targets")
    check_finite(y, "targets")
    return (y - y.mean(0)).pow(2).mean()


class MultiTaskLoss(nn.Module):
    """Combine task losses with one of the article's schemes; holds the scheme's state.

    Strategies (``strategy=``):

    * ``"equal"`` — :func:`weighted_sum` (``weights`` or :math:`1/n`);
    * ``"initial"`` — :func:`normalized_sum` by the losses of the first call (recorded, detached,
      in the ``scales`` buffer; or pass ``scales`` from theory, e.g. :math:`\\log K`);
    * ``"prior"`` — :func:`normalized_sum` by given prior-predictor losses (``scales`` required,
      see :func:`ce_prior_loss`, :func:`mse_prior_loss`);
    * ``"realtime"`` — :func:`realtime_normalized_sum` (gradient of :math:`\\sum\\log L_i`);
    * ``"generalized_mean"`` — :func:`generalized_mean` with ``gamma``;
    * ``"uncertainty"`` — :func:`uncertainty_weighted_sum` with a learnable ``log_vars`` (init 0;
      give it to the optimiser with the model's parameters);
    * ``"gradient_normalized"`` — :func:`gradient_normalized_sum`; pass ``shared_params`` to
      ``forward``.

    Args:
        n_tasks: number of tasks n.
        strategy: one of :data:`STRATEGIES`.
        weights: fixed weights for ``"equal"``.
        scales: per-task scales for ``"initial"`` (optional) and ``"prior"`` (required).
        gamma: the power for ``"generalized_mean"``.
        eps: the stabiliser of ``"realtime"`` and ``"gradient_normalized"``.

    Raises:
        TypeError: non-integer ``n_tasks``.
        ValueError: unknown ``strategy``; ``n_tasks < 1``; ``"prior"`` without ``scales``.

    Reference:
        多任务学习漫谈（一）：以损失之名, https://kexue.fm/archives/8870.

    Example:
        >>> mtl = MultiTaskLoss(2, "initial")
        >>> mtl(torch.tensor([2.0, 400.0]))  # first call records the scales
        tensor(2.)
        >>> mtl(torch.tensor([1.0, 100.0]))
        tensor(0.7500)
    """

    scales: torch.Tensor | None

    def __init__(
        self,
        n_tasks: int,
        strategy: str = "realtime",
        *,
        weights: torch.Tensor | Sequence[float] | None = None,
        scales: torch.Tensor | Sequence[float] | None = None,
        gamma: float = 0.0,
        eps: float = 1e-12,
    ) -> None:
        super().__init__()
        if isinstance(n_tasks, bool) or not isinstance(n_tasks, int):
            raise TypeError(f"n_tasks must be an int, got {type(n_tasks).__name__}")
        if n_tasks < 1:
            raise ValueError(f"n_tasks must be >= 1, got {n_tasks}")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        if strategy == "prior" and scales is None:
            raise ValueError("strategy 'prior' needs scales (e.g. ce_prior_loss, mse_prior_loss)")
        self.n_tasks, self.strategy, self.gamma, self.eps = n_tasks, strategy, gamma, eps
        self.weights = weights
        sc = None
        if scales is not None:
            sc = scales if isinstance(scales, torch.Tensor) else torch.tensor(list(scales))
        self.register_buffer("scales", sc)
        self.log_vars = nn.Parameter(torch.zeros(n_tasks)) if strategy == "uncertainty" else None

    def reset(self) -> None:
        """Forget the recorded initial losses (``"initial"`` without given scales)."""
        if self.strategy == "initial":
            self.scales = None

    def forward(
        self, losses: LossesLike, shared_params: Iterable[torch.Tensor] | None = None
    ) -> torch.Tensor:
        s = self.strategy
        if s == "equal":
            return weighted_sum(losses, self.weights)
        if s == "initial":
            if self.scales is None:
                t = _stack(losses)
                self.scales = t.detach().reshape(-1, t.shape[-1]).mean(0).clone()
            return normalized_sum(losses, self.scales)
        if s == "prior":
            assert self.scales is not None
            return normalized_sum(losses, self.scales)
        if s == "realtime":
            return realtime_normalized_sum(losses, eps=self.eps)
        if s == "generalized_mean":
            return generalized_mean(losses, self.gamma)
        if s == "uncertainty":
            assert self.log_vars is not None
            return uncertainty_weighted_sum(losses, self.log_vars)
        if shared_params is None:
            raise ValueError("strategy 'gradient_normalized' needs shared_params in forward()")
        return gradient_normalized_sum(losses, shared_params, eps=self.eps)

    def extra_repr(self) -> str:
        return f"n_tasks={self.n_tasks}, strategy={self.strategy!r}"
