r"""Implicit gradient regularisation: gradient descent follows the flow of a modified loss.

Gradient descent :math:`\theta_{k+1}=\theta_k-hg(\theta_k)`, :math:`g=\nabla L`, is a first-order
integrator of the gradient flow :math:`\dot\theta=-g`, with a local error of order :math:`h^2`.
Backward error analysis (:math:`\theta_{t+h}=e^{hD}\theta_t`, so
:math:`D\theta=-\frac{hD}{e^{hD}-1}g=-(1-\frac{hD}2+\dots)g`) finds the flow GD follows to the next
order:

.. math:: \dot\theta=-g-\frac h2(\nabla g)g=-\nabla\tilde L,\qquad
    \tilde L=L+\frac h4\|\nabla L\|^2 .

Over a fixed time :math:`T=kh`, GD is :math:`O(h)` from the flow of :math:`L` but :math:`O(h^2)` from
the flow of :math:`\tilde L`: a finite learning rate implicitly penalises the gradient norm (flatter
regions); the explicit penalty :func:`modified_loss` applies it at any step size. The statement is
for full-batch plain GD (momentum, Adam and minibatch noise change the modified loss).

Reference:
    Su Jianlin, "从动力学角度看优化算法（五）：为什么学习率不宜过小？", https://kexue.fm/archives/7787 ;
    Barrett & Dherin, "Implicit Gradient Regularization", ICLR 2021 (arXiv:2009.11162).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import torch
from torch import nn

from kexue._validate import check_finite, check_floating, check_ndim, check_nonempty, check_positive
from kexue.losses.gradient_penalty import parameter_gradient_penalty

__all__ = [
    "FlowTracking",
    "ModifiedLoss",
    "flow_tracking_errors",
    "gradient_descent",
    "gradient_flow",
    "modified_gradient",
    "modified_loss",
]

LossFn = Callable[[torch.Tensor], torch.Tensor]


def modified_loss(
    loss: torch.Tensor,
    params: nn.Module | Iterable[torch.Tensor],
    lr: float,
    *,
    create_graph: bool = True,
) -> torch.Tensor:
    r"""The modified loss :math:`\tilde L=L+\frac h4\|\nabla_\theta L\|^2` that GD with step ``lr`` follows.

    Training on it with a small step (or any optimiser) applies the implicit regularisation of a
    step ``lr`` explicitly. Differentiable (double backward through ``loss``'s graph).

    Args:
        loss: scalar floating tensor with a graph to ``params``.
        params: an ``nn.Module`` or tensors requiring grad.
        lr: the step size :math:`h \ge 0` whose implicit penalty is added.
        create_graph: keep the graph of the penalty (needed to train on it).

    Shape:
        scalar.

    Returns:
        :math:`L+\frac h4\|\nabla L\|^2`, dtype of ``loss``.

    Raises:
        TypeError: ``loss`` not floating, ``params`` not tensors, ``lr`` not a real number.
        ValueError: ``loss`` not a finite scalar with a graph, ``params`` empty, ``lr < 0``.

    Reference:
        Su Jianlin, "从动力学角度看优化算法（五）：为什么学习率不宜过小？", https://kexue.fm/archives/7787 ;
        Barrett & Dherin, "Implicit Gradient Regularization", arXiv:2009.11162.

    Example:
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> modified_loss((w**2).sum(), [w], lr=0.1).detach()  # 5 + 0.1/4 * 20
        tensor(5.5000)
    """
    h = check_positive(lr, "lr", allow_zero=True)
    return loss + (h / 4) * parameter_gradient_penalty(loss, params, create_graph=create_graph)


class ModifiedLoss(nn.Module):
    r"""Module form of :func:`modified_loss` for a fixed model: ``ModifiedLoss(model, lr)(loss)``.

    Reference:
        Su Jianlin, "从动力学角度看优化算法（五）：为什么学习率不宜过小？", https://kexue.fm/archives/7787

    Example:
        >>> net = nn.Linear(2, 1)
        >>> loss = net(torch.randn(4, 2)).pow(2).mean()
        >>> ModifiedLoss(net, lr=0.1)(loss).ndim
        0
    """

    def __init__(self, model: nn.Module, lr: float):
        super().__init__()
        self.model = model
        self.lr = check_positive(lr, "lr", allow_zero=True)

    def forward(self, loss: torch.Tensor) -> torch.Tensor:
        return modified_loss(loss, self.model, self.lr)


def _check_theta(theta: object, name: str) -> torch.Tensor:
    t = check_floating(theta, name)
    check_finite(check_nonempty(check_ndim(t, name, 1, 1), name), name)
    return t


def _loss_grad(loss_fn: LossFn, th: torch.Tensor, create_graph: bool) -> torch.Tensor:
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    loss = loss_fn(th)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn must return a scalar tensor, got {shape}")
    (g,) = torch.autograd.grad(loss.reshape(()), th, create_graph=create_graph, allow_unused=True)
    return torch.zeros_like(th) if g is None else g


def modified_gradient(loss_fn: LossFn, theta: torch.Tensor, lr: float = 0.0) -> torch.Tensor:
    r"""Gradient of the modified loss, :math:`\nabla\tilde L=g+\frac h2Hg`, at a flat parameter vector.

    :math:`Hg` is a Hessian-vector product by double backward; ``lr=0`` gives the plain gradient.

    Args:
        loss_fn: maps a 1-D parameter vector to a scalar loss (differentiable twice).
        theta: floating 1-D parameter vector ``(P,)``.
        lr: the step size :math:`h \ge 0`.

    Shape:
        ``(P,)``.

    Returns:
        :math:`\nabla\tilde L(\theta)` (detached), dtype of ``theta``.

    Raises:
        TypeError: ``loss_fn`` not callable, ``theta`` not floating, ``lr`` not real.
        ValueError: ``theta`` not 1-D, empty or non-finite; ``lr < 0``; ``loss_fn`` not scalar.

    Reference:
        Su Jianlin, "从动力学角度看优化算法（五）：为什么学习率不宜过小？", https://kexue.fm/archives/7787

    Example:
        >>> modified_gradient(lambda t: (t**2).sum(), torch.tensor([1.0, 2.0]), lr=0.1)  # 2t(1+0.1)
        tensor([2.2000, 4.4000])
    """
    th0 = _check_theta(theta, "theta")
    return _modified_grad(loss_fn, th0, check_positive(lr, "lr", allow_zero=True))


def _modified_grad(loss_fn: LossFn, theta: torch.Tensor, h: float) -> torch.Tensor:
    # unchecked core, called in the integrators' inner loops
    with torch.enable_grad():
        th = theta.detach().requires_grad_(True)
        g = _loss_grad(loss_fn, th, create_graph=h > 0)
        if h == 0 or not g.requires_grad:
            return g.detach()
        (hg,) = torch.autograd.grad(g, th, grad_outputs=g.detach(), allow_unused=True)
    return (g + (h / 2) * (torch.zeros_like(g) if hg is None else hg)).detach()


def gradient_flow(
    loss_fn: LossFn, theta0: torch.Tensor, time: float, *, lr: float = 0.0, steps: int = 1000
) -> torch.Tensor:
    r"""Integrate the (modified) gradient flow :math:`\dot\theta=-\nabla\tilde L_h(\theta)` with RK4.

    Classical fourth-order Runge-Kutta with ``steps`` equal steps on :math:`[0, T]` (global error
    :math:`O((T/\text{steps})^4)`); ``lr=0`` is the plain flow :math:`\dot\theta=-\nabla L`.

    Args:
        loss_fn: maps a 1-D parameter vector to a scalar loss.
        theta0: floating initial point ``(P,)``.
        time: the end time :math:`T \ge 0`.
        lr: the step size :math:`h` defining :math:`\tilde L_h` (0: plain flow).
        steps: number of RK4 steps (``>= 1``).

    Shape:
        ``(steps + 1, P)``: the trajectory at times :math:`kT/\text{steps}`.

    Returns:
        the trajectory, dtype of ``theta0``.

    Raises:
        TypeError: ``loss_fn`` not callable, ``theta0`` not floating, ``steps`` not an int.
        ValueError: bad ``theta0``, ``time < 0``, ``lr < 0``, ``steps < 1``.

    Reference:
        Su Jianlin, "从动力学角度看优化算法（五）：为什么学习率不宜过小？", https://kexue.fm/archives/7787

    Example:
        >>> traj = gradient_flow(lambda t: 0.5 * (t**2).sum(), torch.ones(1), 1.0, steps=20)
        >>> round(float(traj[-1]), 6), round(math.exp(-1), 6)  # theta(t) = exp(-t)
        (0.367879, 0.367879)
    """
    th = _check_theta(theta0, "theta0").detach()
    t_end = check_positive(time, "time", allow_zero=True)
    h = check_positive(lr, "lr", allow_zero=True)
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"steps must be an int, got {type(steps).__name__}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    dt = t_end / steps

    def field(p: torch.Tensor) -> torch.Tensor:
        return -_modified_grad(loss_fn, p, h)

    out = [th]
    for _ in range(steps):
        k1 = field(th)
        k2 = field(th + dt / 2 * k1)
        k3 = field(th + dt / 2 * k2)
        k4 = field(th + dt * k3)
        th = th + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(th)
    return torch.stack(out)


def gradient_descent(
    loss_fn: LossFn, theta0: torch.Tensor, lr: float, n_steps: int
) -> torch.Tensor:
    r"""Full-batch gradient descent :math:`\theta_{k+1}=\theta_k-h\nabla L(\theta_k)`.

    Args:
        loss_fn: maps a 1-D parameter vector to a scalar loss.
        theta0: floating initial point ``(P,)``.
        lr: the step size :math:`h > 0`.
        n_steps: number of steps (``>= 0``).

    Shape:
        ``(n_steps + 1, P)``: the iterates, :math:`\theta_k` at time :math:`kh`.

    Returns:
        the iterates, dtype of ``theta0``.

    Raises:
        TypeError: ``loss_fn`` not callable, ``theta0`` not floating, ``n_steps`` not an int.
        ValueError: bad ``theta0``, ``lr <= 0``, ``n_steps < 0``.

    Reference:
        Su Jianlin, "从动力学角度看优化算法（五）：为什么学习率不宜过小？", https://kexue.fm/archives/7787

    Example:
        >>> gradient_descent(lambda t: 0.5 * (t**2).sum(), torch.ones(1), 0.5, 2)[:, 0]
        tensor([1.0000, 0.5000, 0.2500])
    """
    th = _check_theta(theta0, "theta0").detach()
    h = check_positive(lr, "lr")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int):
        raise TypeError(f"n_steps must be an int, got {type(n_steps).__name__}")
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    out = [th]
    for _ in range(n_steps):
        th = th - h * _modified_grad(loss_fn, th, 0.0)
        out.append(th)
    return torch.stack(out)


class FlowTracking(NamedTuple):
    r"""Distances :math:`\|\theta^{GD}_k-\theta(kh)\|` at time :math:`T=kh`, per step size.

    Attributes:
        lrs: the step sizes ``(S,)``.
        plain: distance to the flow of :math:`L` ``(S,)``.
        modified: distance to the flow of :math:`\tilde L_h` ``(S,)``.
        plain_slope, modified_slope: least-squares slopes of log distance against log h (scalars;
            theory: 1 and 2).

    Reference:
        Su Jianlin, "从动力学角度看优化算法（五）：为什么学习率不宜过小？", https://kexue.fm/archives/7787
    """

    lrs: torch.Tensor
    plain: torch.Tensor
    modified: torch.Tensor
    plain_slope: torch.Tensor
    modified_slope: torch.Tensor


def _slope(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    lx, ly = x.log(), y.clamp_min(torch.finfo(y.dtype).tiny).log()
    lx = lx - lx.mean()
    return (lx * (ly - ly.mean())).sum() / lx.pow(2).sum()


def flow_tracking_errors(
    loss_fn: LossFn,
    theta0: torch.Tensor,
    lrs: Sequence[float],
    time: float,
    *,
    steps_per_unit_time: int = 200,
) -> FlowTracking:
    r"""How far GD with each step :math:`h` ends from the plain and the modified gradient flows.

    For each :math:`h`, GD runs :math:`k=T/h` steps (``time`` must be a multiple of every ``h``) and
    is compared at :math:`T` with RK4 solutions of :math:`\dot\theta=-\nabla L` and
    :math:`\dot\theta=-\nabla\tilde L_h`. Backward error analysis predicts distances :math:`O(h)` and
    :math:`O(h^2)`; the fitted log-log slopes measure the orders.

    Args:
        loss_fn: maps a 1-D parameter vector to a scalar loss (twice differentiable).
        theta0: floating initial point ``(P,)``.
        lrs: two or more distinct positive step sizes.
        time: the common end time :math:`T > 0`.
        steps_per_unit_time: RK4 steps per unit time for the reference flows (make it large
            enough that the flow error is far below the smallest distance measured).

    Shape:
        see :class:`FlowTracking`.

    Returns:
        :class:`FlowTracking`, tensors in the dtype of ``theta0``.

    Raises:
        TypeError: ``loss_fn`` not callable, ``theta0`` not floating, ``lrs`` not numbers.
        ValueError: bad ``theta0``; fewer than two distinct ``lrs``; ``time`` not a multiple of a
            step size; non-positive ``time`` or ``steps_per_unit_time``.

    Reference:
        Su Jianlin, "从动力学角度看优化算法（五）：为什么学习率不宜过小？", https://kexue.fm/archives/7787 ;
        Barrett & Dherin, "Implicit Gradient Regularization", arXiv:2009.11162.

    Example:
        >>> A = torch.tensor([[1.0, 0.5], [0.5, 2.0]], dtype=torch.float64)
        >>> r = flow_tracking_errors(lambda t: 0.5 * t @ A @ t, torch.ones(2, dtype=torch.float64),
        ...                          [0.1, 0.05], 1.0)
        >>> bool((r.modified < r.plain).all()), round(float(r.plain_slope))
        (True, 1)
    """
    th0 = _check_theta(theta0, "theta0")
    t_end = check_positive(time, "time")
    if isinstance(lrs, torch.Tensor) or not isinstance(lrs, Sequence):
        raise TypeError("lrs must be a sequence of step sizes")
    hs = [check_positive(h, f"lrs[{i}]") for i, h in enumerate(lrs)]
    if len(set(hs)) < 2:
        raise ValueError(f"lrs must hold at least two distinct step sizes, got {list(lrs)}")
    spt = steps_per_unit_time
    if isinstance(spt, bool) or not isinstance(spt, int):
        raise TypeError(f"steps_per_unit_time must be an int, got {type(spt).__name__}")
    if spt < 1:
        raise ValueError(f"steps_per_unit_time must be >= 1, got {spt}")
    ks = []
    for i, h in enumerate(hs):
        k = round(t_end / h)
        if k < 1 or not math.isclose(k * h, t_end, rel_tol=1e-9):
            raise ValueError(f"time={t_end} is not a multiple of lrs[{i}]={h}")
        ks.append(k)
    n_flow = max(1, math.ceil(spt * t_end))
    plain_end = gradient_flow(loss_fn, th0, t_end, steps=n_flow)[-1]
    plain, modified = [], []
    for h, k in zip(hs, ks, strict=True):
        gd_end = gradient_descent(loss_fn, th0, h, k)[-1]
        mod_end = gradient_flow(loss_fn, th0, t_end, lr=h, steps=n_flow)[-1]
        plain.append(torch.linalg.vector_norm(gd_end - plain_end))
        modified.append(torch.linalg.vector_norm(gd_end - mod_end))
    lr_t = torch.tensor(hs, dtype=th0.dtype, device=th0.device)
    p, m = torch.stack(plain), torch.stack(modified)
    return FlowTracking(lr_t, p, m, _slope(lr_t, p), _slope(lr_t, m))
