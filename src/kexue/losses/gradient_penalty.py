r"""Input- and parameter-gradient penalties, and the inequality linking them for an MLP.

For an MLP :math:`h^{(t+1)}=g^{(t)}(W^{(t)}h^{(t)}+b^{(t)})`, :math:`t=1..l`, :math:`h^{(1)}=x`, and any
scalar :math:`f` of the output, with :math:`J_t=\partial h^{(t)}/\partial x` (:math:`J_1=I`) and
spectral norms :math:`\|W\|`, :math:`\|J\|`:

.. math:: \|\nabla_x f\|^2\sum_{t=1}^{l}\frac{1+\|h^{(t)}\|^2}{\|W^{(t)}\|^2\|J_t\|^2}
    \le\|\nabla_\theta f\|^2 .

Proof: with :math:`G=\partial f/\partial z^{(t+1)}`, :math:`\nabla_xf=GW^{(t)}J_t`,
:math:`\nabla_{b^{(t)}}f=G` and :math:`\nabla_{W^{(t)}}f=G^\top h^{(t)\top}` (rank one), so
:math:`\|\nabla_xf\|\le\|G\|\|W^{(t)}\|\|J_t\|` gives one inequality per weight and per bias; their
sum is the result. So the parameter-gradient penalty that gradient descent applies implicitly (B7)
dominates a weighted input-gradient penalty.

Reference:
    Su Jianlin, "输入梯度惩罚与参数梯度惩罚的一个不等式", https://kexue.fm/archives/8796 ;
    Dherin, Munn, Barrett, "The Geometric Occam's Razor Implicit in Deep Learning", arXiv:2111.15090.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from kexue._validate import (
    check_finite,
    check_floating,
    check_ndim,
    check_nonempty,
    check_reduction,
    reduce_loss,
)
from kexue._validate import compute_dtype as _compute_dtype

__all__ = [
    "GradientPenaltyBound",
    "InputGradientPenalty",
    "ParameterGradientPenalty",
    "gradient_penalty_inequality",
    "input_gradient_penalty",
    "parameter_gradient_penalty",
]

# parameter-free activations that act elementwise (their Jacobian is diagonal)
_ELEMENTWISE: tuple[type[nn.Module], ...] = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Softsign, nn.Hardtanh, nn.Hardswish,
    nn.Hardsigmoid, nn.LogSigmoid, nn.Tanhshrink,
)  # fmt: skip


def _params(params: object, name: str) -> list[torch.Tensor]:
    ps: list[torch.Tensor]
    if isinstance(params, nn.Module):
        ps = [p for p in params.parameters() if p.requires_grad]
    elif isinstance(params, torch.Tensor):
        ps = [params]
    elif isinstance(params, Iterable):
        ps = list(params)
        for p in ps:
            if not isinstance(p, torch.Tensor):
                raise TypeError(f"{name} must hold tensors, got {type(p).__name__}")
    else:
        raise TypeError(f"{name} must be an nn.Module or an iterable of tensors")
    if not ps:
        raise ValueError(f"{name} is empty: pass the parameters the loss depends on")
    if not all(p.requires_grad for p in ps):
        raise ValueError(f"every tensor in {name} must have requires_grad=True")
    return ps


def input_gradient_penalty(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    reduction: str = "mean",
    create_graph: bool = True,
) -> torch.Tensor:
    r"""Input-gradient penalty :math:`\|\nabla_x f(x_i)\|^2` per example (Dirichlet energy).

    .. math:: P_{in}(x_i) = \Big\|\frac{\partial f(x_i)}{\partial x_i}\Big\|^2 .

    Per-example gradients are read off one backward pass of :math:`\sum_i f(x_i)`, which is exact
    when examples do not interact (no batch-norm in training mode).

    Args:
        fn: maps ``x`` of shape ``(N, ...)`` to one scalar per example, ``(N,)`` or ``(N, 1)``.
        x: floating inputs ``(N, ...)``. If ``x.requires_grad`` the gradient is taken with respect
            to it as given (so the penalty also back-propagates into whatever produced ``x``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` over the ``N`` examples.
        create_graph: keep the graph so the penalty is differentiable (for training).

    Shape:
        scalar, or ``(N,)`` for ``reduction="none"``.

    Returns:
        the penalty in the dtype of ``x`` (float32 sums for half inputs).

    Raises:
        TypeError: ``fn`` not callable or not returning a tensor; ``x`` not floating;
            ``reduction`` not a string.
        ValueError: ``x`` empty or non-finite, ``fn`` output of the wrong shape, unknown
            ``reduction``.

    Reference:
        Su Jianlin, "输入梯度惩罚与参数梯度惩罚的一个不等式", https://kexue.fm/archives/8796

    Example:
        >>> w = torch.tensor([3.0, 4.0])
        >>> input_gradient_penalty(lambda x: x @ w, torch.ones(2, 2))  # ||w||^2
        tensor(25.)
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    check_nonempty(check_ndim(check_floating(x, "x"), "x", 1), "x")
    check_finite(x, "x")
    check_reduction(reduction)  # before any work
    with torch.enable_grad():
        xi = x if x.requires_grad else x.detach().requires_grad_(True)
        out = fn(xi)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"fn must return a tensor, got {type(out).__name__}")
        if out.shape not in (x.shape[:1], (*x.shape[:1], 1)):
            raise ValueError(
                f"fn must return one scalar per example, shape ({x.shape[0]},) or "
                f"({x.shape[0]}, 1), got {tuple(out.shape)}"
            )
        (g,) = torch.autograd.grad(
            out.sum(), xi, create_graph=create_graph, retain_graph=True, allow_unused=True
        )
    if g is None:  # fn ignores x
        g = torch.zeros_like(x)
    pen = g.to(_compute_dtype(x)).reshape(x.shape[0], -1).pow(2).sum(1)
    return reduce_loss(pen, reduction).to(x.dtype)


def parameter_gradient_penalty(
    loss: torch.Tensor,
    params: nn.Module | Iterable[torch.Tensor],
    *,
    create_graph: bool = True,
) -> torch.Tensor:
    r"""Parameter-gradient penalty :math:`\|\nabla_\theta L\|^2` of a scalar loss.

    .. math:: P_{par} = \sum_{p\in\theta}\Big\|\frac{\partial L}{\partial p}\Big\|_F^2 .

    This is the term gradient descent penalises implicitly (B7, :math:`\frac h4\|\nabla L\|^2`). The
    graph of ``loss`` is retained, so ``loss`` can still be back-propagated afterwards.

    Args:
        loss: scalar floating tensor with a graph to ``params``.
        params: an ``nn.Module`` (its parameters with ``requires_grad``) or tensors requiring grad;
            tensors the loss does not use contribute 0.
        create_graph: keep the graph so the penalty is differentiable (for training).

    Shape:
        scalar.

    Returns:
        the penalty, dtype of ``loss`` (float32 sums for half).

    Raises:
        TypeError: ``loss`` not a floating tensor, ``params`` not tensors.
        ValueError: ``loss`` not a scalar, non-finite or without a graph; ``params`` empty or not
            requiring grad.

    Reference:
        Su Jianlin, "输入梯度惩罚与参数梯度惩罚的一个不等式", https://kexue.fm/archives/8796 ;
        Barrett & Dherin, "Implicit Gradient Regularization", ICLR 2021 (arXiv:2009.11162).

    Example:
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> parameter_gradient_penalty((w**2).sum(), [w]).detach()  # ||2w||^2
        tensor(20.)
    """
    check_floating(loss, "loss")
    if loss.numel() != 1:
        raise ValueError(
            f"loss must be a scalar, got shape {tuple(loss.shape)}; reduce it (e.g. .mean()) first"
        )
    check_finite(loss, "loss")
    ps = _params(params, "params")
    if not loss.requires_grad:
        raise ValueError("loss has no autograd graph: compute it from params with grad enabled")
    grads = torch.autograd.grad(
        loss.reshape(()), ps, create_graph=create_graph, retain_graph=True, allow_unused=True
    )
    cd = _compute_dtype(loss)
    total = loss.new_zeros((), dtype=cd)
    for g in grads:
        if g is not None:
            total = total + g.to(cd).pow(2).sum()
    return total.to(loss.dtype)


class InputGradientPenalty(nn.Module):
    """Module form of :func:`input_gradient_penalty` for a fixed model: ``penalty(x)``.

    Reference:
        Su Jianlin, "输入梯度惩罚与参数梯度惩罚的一个不等式", https://kexue.fm/archives/8796

    Example:
        >>> net = nn.Linear(3, 1)
        >>> InputGradientPenalty(net)(torch.randn(5, 3)).shape
        torch.Size([])
    """

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], reduction: str = "mean"):
        super().__init__()
        self.model = model
        self.reduction = check_reduction(reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return input_gradient_penalty(self.model, x, reduction=self.reduction)


class ParameterGradientPenalty(nn.Module):
    """Module form of :func:`parameter_gradient_penalty` for a fixed model: ``penalty(loss)``.

    Reference:
        Su Jianlin, "输入梯度惩罚与参数梯度惩罚的一个不等式", https://kexue.fm/archives/8796

    Example:
        >>> net = nn.Linear(3, 1)
        >>> loss = net(torch.randn(5, 3)).pow(2).mean()
        >>> ParameterGradientPenalty(net)(loss).ndim
        0
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, loss: torch.Tensor) -> torch.Tensor:
        return parameter_gradient_penalty(loss, self.model)


class GradientPenaltyBound(NamedTuple):
    r"""Per-example sides of the inequality (leading shape ``B`` of ``x``; ``l`` = number of layers).

    Attributes:
        lhs: :math:`\|\nabla_xf\|^2\sum_t(1+\|h^{(t)}\|^2)/(\|W^{(t)}\|^2\|J_t\|^2)`, shape ``B``.
        rhs: :math:`\|\nabla_\theta f\|^2` over all weights and biases, shape ``B``.
        input_penalty: :math:`\|\nabla_xf\|^2`, shape ``B``.
        weight_lhs, weight_rhs: per-layer weight inequality
            :math:`\|\nabla_xf\|^2\|h^{(t)}\|^2/(\|W^{(t)}\|^2\|J_t\|^2)\le\|\nabla_{W^{(t)}}f\|_F^2`,
            shape ``(*B, l)``.
        bias_lhs, bias_rhs: per-layer bias inequality
            :math:`\|\nabla_xf\|^2/(\|W^{(t)}\|^2\|J_t\|^2)\le\|\nabla_{b^{(t)}}f\|^2` (zeros for
            bias-free layers: the "1 +" comes from the biases), shape ``(*B, l)``.

    Reference:
        Su Jianlin, "输入梯度惩罚与参数梯度惩罚的一个不等式", https://kexue.fm/archives/8796
    """

    lhs: torch.Tensor
    rhs: torch.Tensor
    input_penalty: torch.Tensor
    weight_lhs: torch.Tensor
    weight_rhs: torch.Tensor
    bias_lhs: torch.Tensor
    bias_rhs: torch.Tensor


def _flatten_mlp(mlp: nn.Module, name: str) -> list[tuple[nn.Linear, list[nn.Module]]]:
    if not isinstance(mlp, nn.Sequential):
        raise TypeError(
            f"{name} must be an nn.Sequential of nn.Linear and elementwise activations, "
            f"got {type(mlp).__name__}"
        )
    layers: list[tuple[nn.Linear, list[nn.Module]]] = []

    def visit(seq: nn.Sequential, prefix: str) -> None:
        for key, m in seq.named_children():
            where = f"{prefix}[{key}]"
            if isinstance(m, nn.Sequential):
                visit(m, where)
            elif isinstance(m, nn.Linear):
                layers.append((m, []))
            elif isinstance(m, _ELEMENTWISE):
                if not layers:
                    raise ValueError(f"{name} must start with nn.Linear (h^(1) = x), got {where}")
                layers[-1][1].append(m)
            else:
                raise TypeError(
                    f"{where} is {type(m).__name__}: the inequality covers only nn.Linear and "
                    "parameter-free elementwise activations (no residual, normalisation, dropout "
                    "or attention layers)"
                )

    visit(mlp, name)
    if not layers:
        raise ValueError(f"{name} has no nn.Linear layer")
    return layers


def _spectral_norm_sq(j: torch.Tensor) -> torch.Tensor:
    # largest eigenvalue of the smaller Gram matrix = sigma_1^2 (cheaper than a batched SVD)
    gram = j @ j.mT if j.shape[-2] <= j.shape[-1] else j.mT @ j
    return torch.linalg.eigvalsh(gram)[..., -1].clamp_min(0.0)


def gradient_penalty_inequality(
    mlp: nn.Sequential,
    x: torch.Tensor,
    f: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> GradientPenaltyBound:
    r"""Both sides of the input- vs parameter-gradient inequality, per example, computed exactly.

    .. math:: \|\nabla_x f\|^2\sum_{t=1}^{l}\frac{1+\|h^{(t)}\|^2}{\|W^{(t)}\|^2\|J_t\|^2}
        \le\|\nabla_\theta f\|^2 ,

    with spectral norms :math:`\|W^{(t)}\|`, :math:`\|J_t\|` of the weights and of the per-example
    Jacobians :math:`J_t=\partial h^{(t)}/\partial x` (:math:`J_1=I`). :math:`\nabla_xf` comes from
    autograd; :math:`\|\nabla_\theta f\|^2=\sum_t\|G_t\|^2(\|h^{(t)}\|^2+1)` with
    :math:`G_t=\partial f/\partial z^{(t+1)}` (exact: :math:`\nabla_{W^{(t)}}f` is rank one). A term
    with :math:`\|W^{(t)}\|\|J_t\|=0` is 0 (then :math:`\nabla_xf=G_tW^{(t)}J_t=0`). Per-layer
    Jacobians cost :math:`O(N d_t d_{in})` memory. The check is per example, not for a batch mean.

    Args:
        mlp: ``nn.Sequential`` of ``nn.Linear`` layers, each followed by zero or more
            parameter-free elementwise activations (ReLU, tanh, GELU, ...); nested Sequentials are
            flattened. Computation uses its weights cast to the dtype of ``x``.
        x: floating inputs ``(*B, d_in)``.
        f: maps the network output ``(*B, d_out)`` to one scalar per example ``B``, row by row
            (e.g. a per-example loss closing over the targets). Default: sum of the outputs.

    Shape:
        see :class:`GradientPenaltyBound`.

    Returns:
        :class:`GradientPenaltyBound` in the dtype of ``x``; ``lhs <= rhs`` up to rounding.

    Raises:
        TypeError: ``mlp`` not an ``nn.Sequential`` or holding unsupported layers; ``x`` not
            floating; ``f`` not callable.
        ValueError: ``x`` empty, non-finite or of the wrong width; ``f`` output of the wrong shape.

    Reference:
        Su Jianlin, "输入梯度惩罚与参数梯度惩罚的一个不等式", https://kexue.fm/archives/8796 ;
        Dherin, Munn, Barrett, "The Geometric Occam's Razor Implicit in Deep Learning" (2021).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        >>> b = gradient_penalty_inequality(net.double(), torch.randn(5, 4, dtype=torch.float64))
        >>> bool((b.lhs <= b.rhs).all())
        True
    """
    layers = _flatten_mlp(mlp, "mlp")
    check_nonempty(check_ndim(check_floating(x, "x"), "x", 1), "x")
    check_finite(x, "x")
    if f is not None and not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    d_in = layers[0][0].in_features
    if x.shape[-1] != d_in:
        raise ValueError(f"x must have {d_in} features in its last dimension, got {x.shape[-1]}")
    cd = _compute_dtype(x)
    batch = x.shape[:-1]
    with torch.enable_grad():
        x0 = x.detach().to(cd).reshape(-1, d_in).requires_grad_(True)  # (N, d_in)
        h, hs, zs, dacts = x0, [], [], []
        for lin, acts in layers:
            w = lin.weight.detach().to(device=x.device, dtype=cd)
            b = None if lin.bias is None else lin.bias.detach().to(device=x.device, dtype=cd)
            hs.append(h)
            z = F.linear(h, w, b)  # (N, d_{t+1})
            zs.append(z)
            h = z
            for act in acts:
                h = act(h)
            # elementwise activation: the gradient of sum(g(z)) is the diagonal of g'(z)
            (d,) = torch.autograd.grad(h.sum(), z, retain_graph=True, allow_unused=True)
            dacts.append(torch.ones_like(z) if d is None else d)
        out = h.reshape(*batch, h.shape[-1])
        val = out.sum(-1) if f is None else f(out)
        if not isinstance(val, torch.Tensor) or val.shape != batch:
            got = tuple(val.shape) if isinstance(val, torch.Tensor) else type(val).__name__
            raise ValueError(
                f"f must return one scalar per example, shape {tuple(batch)}, got {got}"
            )
        grads = torch.autograd.grad(val.sum(), [x0, *zs], allow_unused=True)
    gx = grads[0] if grads[0] is not None else torch.zeros_like(x0)
    gx2 = gx.detach().pow(2).sum(-1)  # (N,)
    wl, wr, bl, br = [], [], [], []
    jac: torch.Tensor | None = None  # J_t, (N, d_t, d_in); None means the identity J_1
    for t, (lin, _) in enumerate(layers):
        w = lin.weight.detach().to(device=x.device, dtype=cd)
        hn2 = hs[t].detach().pow(2).sum(-1)
        gt = grads[t + 1]
        g2 = torch.zeros_like(hn2) if gt is None else gt.pow(2).sum(-1)
        jn2 = torch.ones_like(hn2) if jac is None else _spectral_norm_sq(jac)
        denom = torch.linalg.matrix_norm(w, ord=2) ** 2 * jn2
        base = torch.where(denom > 0, gx2 / torch.where(denom > 0, denom, 1.0), 0.0)
        wl.append(base * hn2)
        wr.append(g2 * hn2)
        has_b = lin.bias is not None
        bl.append(base if has_b else torch.zeros_like(base))
        br.append(g2 if has_b else torch.zeros_like(g2))
        if t + 1 < len(layers):  # J_{t+1} = diag(g'(z)) W J_t
            wj = w.expand(x0.shape[0], *w.shape) if jac is None else w @ jac
            jac = dacts[t].detach().unsqueeze(-1) * wj
    cols = [torch.stack(v, -1) for v in (wl, wr, bl, br)]  # (N, l)
    lhs = (cols[0] + cols[2]).sum(-1)
    rhs = (cols[1] + cols[3]).sum(-1)

    def shaped(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(*batch, *v.shape[1:]).to(x.dtype)

    return GradientPenaltyBound(shaped(lhs), shaped(rhs), shaped(gx2), *(shaped(c) for c in cols))
