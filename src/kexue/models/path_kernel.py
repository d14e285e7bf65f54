"""The tangent kernel of a model and the path-kernel expansion of gradient-descent training.

Under gradient flow on a summed loss :math:`L=\\sum_i l(y_i, f_\\theta(x_i))` every output moves as

.. math::
    \\frac{df_\\theta(x)}{dt}=\\sum_i \\alpha_{\\theta,i}\\,K_\\theta(x,x_i),\\qquad
    \\alpha_{\\theta,i}=-\\frac{\\partial L}{\\partial f(x_i)},\\qquad
    K_\\theta(x,x')=\\langle\\nabla_\\theta f_\\theta(x),\\nabla_\\theta f_\\theta(x')\\rangle,

so the trained model is its initial function plus a kernel expansion over the training points,
:math:`f_T(x)=f_0(x)+\\sum_i\\int_0^T\\alpha_i(t)K_t(x,x_i)\\,dt` (article 8009, after Domingos 2020:
"every model learned by gradient descent is approximately a kernel machine"; the *path kernel* is
:math:`\\int_0^T K_t\\,dt`). With a finite step η the sum
:math:`\\eta\\sum_t\\sum_i\\alpha_i(t)K_t(x,x_i)` — kernel and weights taken *before* each step —
matches :math:`f_T-f_0` up to :math:`O(\\eta)`, never exactly.

:func:`tangent_kernel` computes :math:`K_\\theta` with ``torch.func`` (per-sample Jacobians by
``vmap(jacrev)``); :func:`gradient_descent_path_kernel` trains a copy of a model by full-batch GD
and accumulates the expansion, returning the residual a user can check. Per-sample Jacobians cost
``n × parameters`` memory: keep both small (the article's point is conceptual, not a fast kernel).

Reference: https://kexue.fm/archives/8009
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from kexue._validate import check_finite, check_floating, check_ndim, check_positive

__all__ = ["PathKernelFit", "gradient_descent_path_kernel", "tangent_kernel"]

Params = dict[str, torch.Tensor]


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameters")
    return model


def _check_inputs(x: object, name: str) -> torch.Tensor:
    t = check_ndim(check_floating(x, name), name, 2)
    if t.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); pass at least one input")
    return check_finite(t, name)


def _jacobians(model: nn.Module, params: Params, x: torch.Tensor) -> torch.Tensor:
    """Per-sample Jacobians ``(n, outputs, parameters)`` of ``model`` at ``params``."""
    buffers = dict(model.named_buffers())

    def f(p: Params, xi: torch.Tensor) -> torch.Tensor:
        return functional_call(model, (p, buffers), (xi.unsqueeze(0),)).reshape(-1)

    jac = vmap(jacrev(f), in_dims=(None, 0))(params, x)
    return torch.cat([j.reshape(x.shape[0], j.shape[1], -1) for j in jac.values()], dim=2)


def _kernel(j1: torch.Tensor, j2: torch.Tensor) -> torch.Tensor:
    k = torch.einsum("iap,jbp->ijab", j1, j2)
    return k[:, :, 0, 0] if k.shape[2] == 1 and k.shape[3] == 1 else k


def tangent_kernel(
    model: nn.Module,
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    *,
    params: Params | None = None,
) -> torch.Tensor:
    """The (empirical neural) tangent kernel :math:`\\langle\\nabla_\\theta f(x_1),\\nabla_\\theta f(x_2)\\rangle`.

    Args:
        model: the model; it is called on single inputs ``x[i:i+1]`` (so a BatchNorm in training
            mode is not supported: call ``model.eval()`` first).
        x1: inputs ``(n1, ...)``.
        x2: inputs ``(n2, ...)``; ``None``: ``x1``.
        params: parameters to evaluate at (``name → tensor``, as ``model.named_parameters()``);
            ``None``: the model's current trainable parameters.

    Returns:
        ``(n1, n2)`` for scalar outputs; ``(n1, n2, k, k)`` (a matrix-valued kernel) for outputs
        of ``k > 1`` elements.

    Reference: https://kexue.fm/archives/8009
    """
    m = _check_model(model)
    a = _check_inputs(x1, "x1")
    b = a if x2 is None else _check_inputs(x2, "x2")
    if b.shape[1:] != a.shape[1:]:
        raise ValueError(
            f"x2 must have x1's feature shape {tuple(a.shape[1:])}, got {tuple(b.shape[1:])}"
        )
    p = (
        params
        if params is not None
        else {k: v.detach() for k, v in m.named_parameters() if v.requires_grad}
    )
    ja = _jacobians(m, p, a)
    return _kernel(ja, ja if x2 is None else _jacobians(m, p, b))


@dataclass(frozen=True)
class PathKernelFit:
    """What :func:`gradient_descent_path_kernel` measured.

    Attributes:
        model: the trained copy of the model.
        initial: :math:`f_0` at the evaluation inputs, ``(n_eval, *out)``.
        final: :math:`f_T` at the evaluation inputs.
        expansion: :math:`\\eta\\sum_t\\sum_i\\alpha_i(t)K_t(x, x_i)`, same shape.
        path_kernel: :math:`\\eta\\sum_t K_t(x, x_i)`, ``(n_eval, n_train)`` (scalar outputs) or
            ``(n_eval, n_train, k, k)``.
        losses: the summed training loss before each step, ``(steps,)``.
        residual: :math:`\\|f_T-f_0-\\text{expansion}\\|/\\|f_T-f_0\\|` over the evaluation inputs.

    Reference: https://kexue.fm/archives/8009
    """

    model: nn.Module
    initial: torch.Tensor
    final: torch.Tensor
    expansion: torch.Tensor
    path_kernel: torch.Tensor
    losses: torch.Tensor
    residual: float


def _squared_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out - target) ** 2).sum()


def gradient_descent_path_kernel(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: float,
    steps: int,
    x_eval: torch.Tensor | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = _squared_loss,
) -> PathKernelFit:
    """Train a copy of ``model`` by full-batch GD and accumulate its path-kernel expansion.

    Each step takes the kernel :math:`K_t(x_{eval}, x_i)` and the weights
    :math:`\\alpha_i=-\\partial L/\\partial f(x_i)` at the parameters *before* the step, adds
    :math:`\\eta\\sum_i\\alpha_iK_t` to the expansion, then updates
    :math:`\\theta\\leftarrow\\theta-\\eta\\nabla_\\theta L`. The original model is not changed.

    Args:
        model: the model to train (copied).
        x: training inputs ``(n, ...)``; y: targets, the shape of ``model(x)``.
        lr: the step η > 0; the residual shrinks as O(η).
        steps: the number of GD steps (> 0); the training time is ``lr * steps``.
        x_eval: where to compare :math:`f_T-f_0` with the expansion (``None``: ``x``).
        loss_fn: the *summed* loss ``loss_fn(model(x), y)`` (default ½‖f − y‖²; a mean loss
            rescales α by 1/n — sum it instead).

    Returns:
        A :class:`PathKernelFit`.

    Reference: https://kexue.fm/archives/8009
    """
    m = copy.deepcopy(_check_model(model))
    xt = _check_inputs(x, "x")
    xe = xt if x_eval is None else _check_inputs(x_eval, "x_eval")
    yt = check_finite(check_floating(y, "y"), "y")
    check_positive(lr, "lr")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    names = [k for k, v in m.named_parameters() if v.requires_grad]
    params = {k: v.detach().clone() for k, v in m.named_parameters() if v.requires_grad}
    buffers = dict(m.named_buffers())
    with torch.no_grad():
        out0 = functional_call(m, (params, buffers), (xt,))
    if out0.shape != yt.shape:
        raise ValueError(
            f"y must have the shape of model(x), {tuple(out0.shape)}, got {tuple(yt.shape)}"
        )
    initial = functional_call(m, (params, buffers), (xe,)).detach()
    expansion = torch.zeros_like(initial)
    path = None
    losses = []
    for _ in range(steps):
        p = {k: v.requires_grad_(True) for k, v in params.items()}
        out = functional_call(m, (p, buffers), (xt,))
        loss = loss_fn(out, yt)
        grads = torch.autograd.grad(loss, [out, *p.values()])
        alpha = -grads[0].detach().reshape(xt.shape[0], -1)  # (n, k)
        detached = {k: v.detach() for k, v in p.items()}
        if x_eval is None:
            j_train = j_eval = _jacobians(m, detached, xt)
        else:  # one vmap over both sets
            j_train, j_eval = _jacobians(m, detached, torch.cat([xt, xe])).split([len(xt), len(xe)])
        k_t = torch.einsum("iap,jbp->ijab", j_eval, j_train)  # (n_eval, n, k, k)
        expansion += lr * torch.einsum("ijab,jb->ia", k_t, alpha).reshape(initial.shape)
        path = lr * k_t if path is None else path + lr * k_t
        losses.append(loss.item())
        with torch.no_grad():
            params = {
                k: v.detach() - lr * g for (k, v), g in zip(p.items(), grads[1:], strict=True)
            }
    final = functional_call(m, (params, buffers), (xe,)).detach()
    with torch.no_grad():
        for name in names:
            m.get_parameter(name).copy_(params[name])
    moved = (final - initial).norm()
    residual = float((final - initial - expansion).norm() / moved) if moved > 0 else 0.0
    assert path is not None
    kernel = path[:, :, 0, 0] if path.shape[2] == 1 else path
    return PathKernelFit(m, initial, final, expansion, kernel, torch.tensor(losses), residual)
