r"""Batched discrete optimal-transport solvers behind :mod:`kexue.geometry.transport`.

Private helper. Both solvers take a batch of cost matrices ``(B, n, m)`` and masses ``(B, n)``,
``(B, m)`` that are already normalised to sum to one per row (zero mass = padding), and return the
transport cost :math:`\langle\gamma^\star, C\rangle` per pair, differentiable by the envelope
theorem: the gradient with respect to the cost is the optimal plan, with respect to the masses the
dual potentials (the plan and potentials are treated as constants).

- :func:`exact_transport`: POT's network simplex per pair on the real tokens only, in float64,
  inside a custom autograd Function. It calls POT's C entry point ``ot.lp.emd_wrap.emd_c`` (the
  solver behind ``ot.emd``/``ot.emd2``, ~10x less overhead per small problem than ``ot.emd``'s
  Python-level checks, which are done here once per batch) and falls back to ``ot.emd``.
- :func:`sinkhorn_transport`: log-domain Sinkhorn iterations for the whole batch at once in torch
  (entropic regularisation ``eps``; biased towards the exact value by ``O(eps log n)``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import torch
from torch import Tensor

from kexue._optional import requires


@cache
def _network_simplex() -> Any:
    """POT's C network simplex ``emd_c`` (no per-call Python checks), else ``None``."""
    with requires("ref"):
        import ot  # noqa: F401  (a missing POT names the "ref" extra)
    try:
        from ot.lp.emd_wrap import check_result, emd_c
    except ImportError:  # another POT layout: use the public ot.emd
        return None
    return emd_c, check_result


def _support(mass: np.ndarray) -> slice | np.ndarray:
    """Indices of the tokens with mass: a slice when they are a prefix (padding at the end)."""
    nz = mass > 0
    k = int(nz.sum())
    return slice(0, k) if nz[:k].all() else np.flatnonzero(nz)


def _solve_into(
    p: np.ndarray, q: np.ndarray, cost: np.ndarray, plan: np.ndarray, u: np.ndarray, v: np.ndarray
) -> None:
    """Solve one problem on the tokens with mass; write plan and duals into the given rows."""
    rows, cols = _support(p), _support(q)
    a, b = p[rows], q[cols]
    a = a / a.sum()
    b = b * (a.sum() / b.sum())  # equal float64 totals: POT rejects mismatched sums
    sub = np.ascontiguousarray(cost[rows][:, cols])
    fast = _network_simplex()
    if fast is not None:
        emd_c, check_result = fast
        plan_sub, _, u_sub, v_sub, code = emd_c(a, b, sub, 1_000_000, 1)
        message = check_result(code)
    else:
        import ot

        plan_sub, log = ot.emd(a, b, sub, numItermax=1_000_000, log=True)
        u_sub, v_sub, message = log["u"], log["v"], log["warning"]
    if message is not None:
        raise RuntimeError(f"POT's network simplex did not solve the problem: {message}")
    if isinstance(rows, slice) and isinstance(cols, slice):
        plan[rows, cols] = plan_sub
    else:
        plan[np.ix_(np.arange(len(p))[rows], np.arange(len(q))[cols])] = plan_sub
    u[rows], v[cols] = u_sub, v_sub


class _ExactTransport(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, cost: Tensor, p: Tensor, q: Tensor) -> Tensor:
        c64 = cost.detach().to("cpu", torch.float64).numpy()
        p64 = p.detach().to("cpu", torch.float64).numpy()
        q64 = q.detach().to("cpu", torch.float64).numpy()
        plan, u, v = np.zeros_like(c64), np.zeros_like(p64), np.zeros_like(q64)
        for i in range(len(c64)):
            _solve_into(p64[i], q64[i], c64[i], plan[i], u[i], v[i])
        plan_t = torch.from_numpy(plan)
        value = (plan_t * torch.from_numpy(c64)).sum((-2, -1))
        ctx.save_for_backward(
            plan_t.to(cost.device, cost.dtype),
            torch.from_numpy(u).to(p.device, p.dtype),
            torch.from_numpy(v).to(q.device, q.dtype),
        )
        return value.to(cost.device, cost.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        plan, u, v = ctx.saved_tensors
        return grad[:, None, None] * plan, grad[:, None] * u, grad[:, None] * v


def exact_transport(cost: Tensor, p: Tensor, q: Tensor) -> Tensor:
    """Exact transport cost per pair (POT network simplex); gradients = plan and duals."""
    out: Tensor = _ExactTransport.apply(cost, p, q)
    return out


def _log(mass: Tensor) -> Tensor:
    return torch.where(mass > 0, mass.clamp_min(1e-300).log(), float("-inf"))


def sinkhorn_transport(
    cost: Tensor, p: Tensor, q: Tensor, eps: float, max_iter: int, tol: float
) -> Tensor:
    r"""Entropic transport cost :math:`\langle\gamma_\varepsilon, C\rangle`, log-domain Sinkhorn.

    Potentials :math:`f, g` alternate the soft c-transforms
    :math:`f_i=-\varepsilon\log\sum_j q_j e^{(g_j-C_{ij})/\varepsilon}` (and symmetrically) until
    the row marginals of the plan match ``p`` to ``tol`` (L1 per pair) or ``max_iter`` iterations.

    Raises:
        RuntimeError: no convergence within ``max_iter`` iterations.
    """
    c = cost.detach()
    log_p, log_q = _log(p.detach()), _log(q.detach())
    f = torch.zeros_like(log_p)
    g = torch.zeros_like(log_q)
    err = float("inf")
    with torch.no_grad():
        for it in range(max_iter):
            f = -eps * torch.logsumexp((g[:, None, :] - c) / eps + log_q[:, None, :], dim=-1)
            g = -eps * torch.logsumexp((f[:, :, None] - c) / eps + log_p[:, :, None], dim=-2)
            if it % 10 == 9 or it == max_iter - 1:
                log_plan = (f[:, :, None] + g[:, None, :] - c) / eps
                plan = (log_plan + log_p[:, :, None] + log_q[:, None, :]).exp()
                err = float((plan.sum(-1) - p.detach()).abs().sum(-1).max())
                if err < tol:
                    break
        else:
            raise RuntimeError(
                f"Sinkhorn did not converge in max_iter={max_iter} iterations (marginal error "
                f"{err:.2e} > tol={tol:g}); raise max_iter or eps"
            )
        # centre the potentials (a constant shift between f and g leaves the plan unchanged)
        shift = (f * p.detach()).sum(-1, keepdim=True)
        f, g = f - shift, g + shift
    f = torch.where(p.detach() > 0, f, 0.0)
    g = torch.where(q.detach() > 0, g, 0.0)
    value = (plan * cost).sum((-2, -1))
    # envelope theorem: d/dp = f, d/dq = g, without changing the value
    return value + (f * (p - p.detach())).sum(-1) + (g * (q - q.detach())).sum(-1)
