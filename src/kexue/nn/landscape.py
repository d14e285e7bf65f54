"""Loss-landscape smoothness probes: Hessian top eigenvalue and effective gradient-Lipschitz constant.

If :math:`\\nabla f` is :math:`L`-Lipschitz, a gradient step of size η decreases :math:`f` whenever
:math:`\\eta<2/L`; a smaller :math:`L` allows a larger learning rate. Article 6992 argues that
centring a layer's inputs minimises :math:`\\mathbb E\\|x-\\mu\\|^2` and with it the bound on the
weight gradient's Lipschitz constant, and that scaling each coordinate equalises the layers' rates —
which is what BatchNorm does. These probes *measure* the smoothness rather than bound it:

- :func:`hessian_max_eigenvalue`: :math:`\\lambda_{\\max}(\\nabla^2 f)` by power iteration on
  Hessian-vector products (double backward; the Hessian is never formed). For a convex loss it is
  :math:`L` at that point; in general it is the sharpest curvature, the one that sets ``2/η``.
- :func:`effective_smoothness`: Santurkar et al.'s effective β-smoothness along the gradient,
  :math:`\\max_\\eta\\|\\nabla f(\\theta-\\eta g)-\\nabla f(\\theta)\\|/\\|\\eta g\\|`, with the loss
  range over the same steps.

Both take a closure ``loss_fn()`` that evaluates the loss on a *fixed* batch (keep BatchNorm in
training mode for that batch: eval mode measures another function) and the parameters to probe;
the parameters are restored afterwards.

Reference: https://kexue.fm/archives/6992
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from kexue._validate import check_positive

__all__ = ["Smoothness", "effective_smoothness", "hessian_max_eigenvalue"]

Closure = Callable[[], torch.Tensor]


def _params(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    ps = list(params)
    if not ps:
        raise ValueError("params is empty; pass the parameters to probe (e.g. model.parameters())")
    for p in ps:
        if not isinstance(p, torch.Tensor) or not p.requires_grad:
            raise TypeError("params must be tensors with requires_grad=True (model parameters)")
    return ps


def _loss(loss_fn: Closure) -> torch.Tensor:
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be a callable returning the loss, got {type(loss_fn).__name__}"
        )
    loss = loss_fn()
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError("loss_fn must return a scalar tensor")
    if not bool(torch.isfinite(loss)):
        raise ValueError(
            f"loss_fn returned a non-finite loss ({loss.item()}); probe a finite point"
        )
    return loss.reshape(())


def _grad(
    loss_fn: Closure, ps: Sequence[torch.Tensor], create_graph: bool = False
) -> list[torch.Tensor]:
    return list(torch.autograd.grad(_loss(loss_fn), ps, create_graph=create_graph))


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def hessian_max_eigenvalue(
    loss_fn: Closure,
    params: Iterable[torch.Tensor],
    *,
    iters: int = 100,
    tol: float = 1e-6,
    generator: torch.Generator | None = None,
) -> float:
    """Largest-magnitude eigenvalue of the Hessian of ``loss_fn()`` by power iteration on HVPs.

    Args:
        loss_fn: closure returning the scalar loss on a fixed batch.
        params: the parameters (``requires_grad``) the Hessian is taken in.
        iters: maximum power iterations.
        tol: stop when the Rayleigh quotient changes by less than ``tol`` relative.
        generator: random start vector's generator (seed it for reproducible probes).

    Returns:
        The eigenvalue of largest magnitude (the top one for a convex loss), a float.

    Reference: https://kexue.fm/archives/6992
    """
    ps = _params(params)
    if isinstance(iters, bool) or not isinstance(iters, int) or iters <= 0:
        raise ValueError(f"iters must be a positive integer, got {iters!r}")
    check_positive(tol, "tol")
    grads = _grad(loss_fn, ps, create_graph=True)
    v = [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in ps]
    norm = _dot(v, v).sqrt()
    v = [x / norm for x in v]
    eig = 0.0
    for _ in range(iters):
        hv = torch.autograd.grad(grads, ps, grad_outputs=v, retain_graph=True)
        new = float(_dot(hv, v))
        norm = _dot(hv, hv).sqrt()
        if float(norm) == 0.0:
            return 0.0
        v = [h.detach() / norm for h in hv]
        if abs(new - eig) <= tol * max(abs(new), 1e-30):
            return new
        eig = new
    return eig


@dataclass(frozen=True)
class Smoothness:
    """Effective smoothness along the negative gradient.

    Attributes:
        beta: :math:`\\max_\\eta\\|\\nabla f(\\theta-\\eta g)-\\nabla f(\\theta)\\|/\\|\\eta g\\|`.
        loss_min, loss_max: the loss range over the probed steps.
        grad_norm: :math:`\\|g\\|` at the start.

    Reference: https://kexue.fm/archives/6992
    """

    beta: float
    loss_min: float
    loss_max: float
    grad_norm: float


def effective_smoothness(
    loss_fn: Closure, params: Iterable[torch.Tensor], lrs: Sequence[float]
) -> Smoothness:
    """Gradient change per unit of parameter change for steps ``θ − η g``, η in ``lrs``.

    Args:
        loss_fn: closure returning the scalar loss on a fixed batch.
        params: the parameters to move (restored afterwards).
        lrs: the step sizes η > 0 to probe.

    Returns:
        A :class:`Smoothness`.

    Reference: https://kexue.fm/archives/6992
    """
    ps = _params(params)
    etas = [check_positive(float(e), "lrs") for e in lrs]
    if not etas:
        raise ValueError("lrs is empty; pass at least one step size")
    start = [p.detach().clone() for p in ps]
    g0 = [g.detach() for g in _grad(loss_fn, ps)]
    gnorm = float(_dot(g0, g0).sqrt())
    beta, losses = 0.0, []
    try:
        for eta in etas:
            with torch.no_grad():
                for p, s, g in zip(ps, start, g0, strict=True):
                    p.copy_(s - eta * g)
            loss = loss_fn().reshape(())
            losses.append(loss.item())
            if not bool(torch.isfinite(loss)):  # the step left the region where f is finite
                beta = float("inf")
                continue
            g1 = torch.autograd.grad(loss, ps)
            diff = [a - b for a, b in zip(g1, g0, strict=True)]
            if gnorm > 0:
                beta = max(beta, float(_dot(diff, diff).sqrt()) / (eta * gnorm))
    finally:
        with torch.no_grad():
            for p, s in zip(ps, start, strict=True):
                p.copy_(s)
    return Smoothness(beta, min(losses), max(losses), gnorm)
