"""D3 study: randomised SVD on digits against exact SVD, scikit-learn and Halko's bounds, and the
article's JL sketch ``B = MQ`` on a synthetic rank-10 + noise matrix.

The article reconstructs ``U_B Σ_B (Q V_B)^T``, which is poor (``QQ^T ≈ I`` only in expectation);
``V = M^T U_B Σ_B^{-1}`` fixes it, and Halko's range finder is near-optimal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kexue.experiments.base import Check, at_least, at_most
from kexue.experiments.d3_johnson_lindenstrauss._shared import DATA_SEED, gen
from kexue.geometry.randomized_svd import randomized_range_finder, randomized_svd

__all__ = ["DigitsRsvd", "SketchRow", "checks", "digits_rsvd", "jl_sketch"]


@dataclass(frozen=True)
class DigitsRsvd:
    """Rank-10 randomised SVD of digits (1797 × 64).

    Attributes:
        sv_rel_err_exact: max relative error of the top-10 singular values vs exact SVD.
        sv_rel_err_sklearn: max relative difference vs scikit-learn's ``randomized_svd``.
        halko_frob_mean, halko_frob_bound: range finder (k = 10, p = 5, no power iteration),
            mean Frobenius error and Halko et al.'s bound (Thm 10.5).
        halko_spec_mean, halko_spec_bound: the same in spectral norm.
        optimal_frob_k, optimal_frob_kp: the optimal rank-k and rank-(k+p) Frobenius errors.
        power2_frob_mean: mean Frobenius error with 2 power iterations.
    """

    sv_rel_err_exact: float
    sv_rel_err_sklearn: float
    halko_frob_mean: float
    halko_frob_bound: float
    halko_spec_mean: float
    halko_spec_bound: float
    optimal_frob_k: float
    optimal_frob_kp: float
    power2_frob_mean: float


@dataclass(frozen=True)
class SketchRow:
    """Relative errors of rank-10 reconstructions from a JL sketch of size k (mean over runs).

    Attributes:
        k: the sketch size.
        sv_rel_err: max relative error of the sketch's top-10 singular values.
        literal: the article's U_B Σ_B (Q V_B)^T.
        fixed: U_B Σ_B V^T with V = M^T U_B Σ_B^{-1}.
        halko: Halko's randomised SVD with the same sketch size.
        optimal: the optimal rank-10 error.
    """

    k: int
    sv_rel_err: float
    literal: float
    fixed: float
    halko: float
    optimal: float


def digits_rsvd(halko_runs: int, seed: int) -> DigitsRsvd:
    """Randomised SVD of digits against exact SVD, scikit-learn, and Halko's error bounds."""
    from sklearn.datasets import load_digits
    from sklearn.utils.extmath import randomized_svd as sk_rsvd

    a = torch.tensor(load_digits().data, dtype=torch.float64)  # (1797, 64)
    sv = torch.linalg.svdvals(a)
    _, s, _ = randomized_svd(a, 10, n_oversamples=10, n_iter=4, generator=gen(seed))
    _, s_sk, _ = sk_rsvd(a.numpy(), 10, n_oversamples=10, n_iter=4, random_state=seed)
    k, p = 10, 5
    tail_f = sv[k:].pow(2).sum().sqrt().item()
    halko_f = math.sqrt(1 + k / (p - 1)) * tail_f  # Halko et al. Thm 10.5 (q = 0)
    halko_2 = (1 + math.sqrt(k / (p - 1))) * sv[k].item() + math.e * math.sqrt(k + p) / p * tail_f
    err_f, err_2, err_q = [], [], []
    for r in range(halko_runs):
        q = randomized_range_finder(a, k + p, n_iter=0, generator=gen(seed * 31 + r))
        res = a - q @ (q.T @ a)
        err_f.append(torch.linalg.matrix_norm(res).item())
        err_2.append(torch.linalg.matrix_norm(res, ord=2).item())
        q2 = randomized_range_finder(a, k + p, n_iter=2, generator=gen(seed * 31 + r))
        err_q.append(torch.linalg.matrix_norm(a - q2 @ (q2.T @ a)).item())
    return DigitsRsvd(
        sv_rel_err_exact=((s - sv[:10]).abs() / sv[:10]).max().item(),
        sv_rel_err_sklearn=float(np.max(np.abs(s.numpy() - s_sk) / s_sk)),
        halko_frob_mean=float(np.mean(err_f)),
        halko_frob_bound=halko_f,
        halko_spec_mean=float(np.mean(err_2)),
        halko_spec_bound=halko_2,
        optimal_frob_k=tail_f,
        optimal_frob_kp=sv[k + p :].pow(2).sum().sqrt().item(),
        power2_frob_mean=float(np.mean(err_q)),
    )


def jl_sketch(ks: tuple[int, ...], runs: int, seed: int) -> tuple[SketchRow, ...]:
    """The article's sketch B = MQ on a 500 x 2000 rank-10 + noise matrix, against Halko."""
    g = gen(DATA_SEED + 17 * seed)
    u, _ = torch.linalg.qr(torch.randn(500, 10, dtype=torch.float64, generator=g))
    v, _ = torch.linalg.qr(torch.randn(2000, 10, dtype=torch.float64, generator=g))
    sig = torch.linspace(800, 300, 10, dtype=torch.float64)
    m = (u * sig) @ v.T + torch.randn(500, 2000, dtype=torch.float64, generator=g)
    sv = torch.linalg.svdvals(m)
    norm = torch.linalg.matrix_norm(m).item()
    optimal = sv[10:].pow(2).sum().sqrt().item() / norm
    rows = []
    for k in ks:
        acc = np.zeros(4)
        for r in range(runs):
            gq = gen(seed * 1009 + 100 * k + r)
            q = torch.randn(2000, k, dtype=torch.float64, generator=gq) / math.sqrt(k)  # N(0, 1/k)
            ub, sb, vbh = torch.linalg.svd(m @ q, full_matrices=False)
            ub, sb, vb = ub[:, :10], sb[:10], vbh[:10].T
            literal = (ub * sb) @ (q @ vb).T  # U_B S_B (Q V_B)^T
            v_fix = m.T @ ub / sb  # V = M^T U_B S_B^-1
            fixed = (ub * sb) @ v_fix.T
            if r == 0:  # Halko (4 power iterations) is near-deterministic: one run per k
                hu, hs, hv = randomized_svd(m, 10, n_oversamples=k - 10, generator=gq)
                halko = torch.linalg.matrix_norm(m - (hu * hs) @ hv.T).item() / norm
            acc += [
                ((sb - sv[:10]).abs() / sv[:10]).max().item(),
                torch.linalg.matrix_norm(m - literal).item() / norm,
                torch.linalg.matrix_norm(m - fixed).item() / norm,
                halko,
            ]
        sv_err, lit, fix, hal = (acc / runs).tolist()
        rows.append(SketchRow(k, sv_err, lit, fix, hal, optimal))
    return tuple(rows)


def checks(d: DigitsRsvd, sketch: tuple[SketchRow, ...]) -> list[Check]:
    """rSVD accuracy and Halko's bounds on digits; the sketch's literal, fixed and Halko errors."""
    out = [
        at_most(
            "rSVD digits k=10: max rel. SV error vs exact",
            d.sv_rel_err_exact,
            1e-4,
            "reference: ~2e-6 measured",
        ),
        at_most("rSVD digits k=10: max rel. SV diff vs sklearn", d.sv_rel_err_sklearn, 1e-4),
        at_most(
            "range finder, digits: mean Frobenius error / Halko bound",
            d.halko_frob_mean / d.halko_frob_bound,
            1.0,
        ),
        at_most(
            "range finder, digits: mean spectral error / Halko bound",
            d.halko_spec_mean / d.halko_spec_bound,
            1.0,
        ),
    ]
    sk = {row.k: row for row in sketch}
    if 50 in sk:
        out.append(
            at_most(
                "JL sketch k=50: top-10 SV max rel. error",
                sk[50].sv_rel_err,
                0.15,
                "reference: 7.8% measured",
            )
        )
    for row in sketch:
        out.append(
            at_least(
                f"JL sketch k={row.k}: literal U_B S_B (QV_B)^T error / optimal",
                row.literal / row.optimal,
                2.0,
                "reference: 3-10 measured",
            )
        )
        out.append(
            at_most(
                f"Halko rank 10 (sketch {row.k}): error / optimal",
                row.halko / row.optimal,
                1.02,
                "reference: 0.45-0.55 measured",
            )
        )
        out.append(
            at_most(
                f"V = M^T U_B S_B^-1 (sketch {row.k}): error / optimal",
                row.fixed / row.optimal,
                1.35,
                "reference: 0.45-0.55 measured",
            )
        )
    return out
