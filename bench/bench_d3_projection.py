"""D3 benchmark: JL projections vs scikit-learn; randomised SVD vs scikit-learn and torch.svd_lowrank.

Same float64 inputs in one process, one thread everywhere (torch and the BLAS behind numpy), the
contenders timed in alternating rounds (``bench._common.alternating_times``). Projection times
include drawing the random matrix, as ``fit_transform`` does. The floor, measured in the same run:

* projections: the one product ``x @ R`` with R already drawn — the faster of torch (MKL) and
  numpy/scipy (OpenBLAS), dense R for the Gaussian, CSR R for the sparse rows when ours uses CSR;
* randomised SVD: the range finder's 2q + 1 products and the same number of Householder QRs
  (``torch.linalg.qr``) at the same shapes. Ours orthonormalises by CholeskyQR2, so it can beat it.

Run: ``.venv/bin/python -m bench.bench_d3_projection``; ``KEXUE_BENCH_TINY=1`` (or ``--tiny``) runs
every row at a tiny size in seconds and writes nothing (the test suite uses it so the script
cannot rot).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.random_projection import GaussianRandomProjection, SparseRandomProjection
from sklearn.utils.extmath import randomized_svd as sk_randomized_svd
from threadpoolctl import threadpool_limits

from bench._common import Ratio, alternating_times, ratio, share_of_floor, write_result
from kexue.geometry.projection import (
    _sparse_product_pays,
    _sparse_projection_csr,
    gaussian_projection_matrix,
    random_projection,
    sparse_projection_matrix,
)
from kexue.geometry.randomized_svd import randomized_svd

TINY = os.environ.get("KEXUE_BENCH_TINY") == "1" or "--tiny" in sys.argv[1:]
ROUNDS, REPEAT = (2, 1) if TINY else (7, 2)
# (samples, features, components) and (M, N, rank, oversamples, power iterations)
PROJECTION_SHAPE = (60, 400, 30) if TINY else (2000, 5000, 500)
RSVD_SHAPE = (300, 80, 5, 10, 4) if TINY else (5000, 1000, 50, 10, 4)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _max_distortion(x: np.ndarray, y: np.ndarray, n: int = 200) -> float:
    """Largest |ratio - 1| of squared distances over all pairs of the first ``n`` points."""

    def sq(a: np.ndarray) -> np.ndarray:
        g = a[:n] @ a[:n].T
        d = np.diag(g)[:, None] + np.diag(g)[None, :] - 2 * g
        return d[np.triu_indices(min(n, len(a)), 1)]

    return float(np.max(np.abs(sq(y) / sq(x) - 1)))


@dataclass(frozen=True)
class Timed:
    """Per-round times (s) of ours, an anchor and the floor, and what they give."""

    ours: list[float]
    anchor: list[float]
    floor: list[float]

    def row(self, task: str, anchor: str, accuracy: str) -> list[Any]:
        r, f = ratio(self.anchor, self.ours), share_of_floor(self.floor, self.ours)
        return [
            task,
            _median(self.ours) * 1e3,
            anchor,
            _median(self.anchor) * 1e3,
            _median(self.floor) * 1e3,
            str(r),
            f"{f.median:.0%} ({f.low:.0%}-{f.high:.0%})",
            accuracy,
        ]

    @property
    def ratio(self) -> Ratio:
        return ratio(self.anchor, self.ours)


def _median(times: list[float]) -> float:
    return float(np.median(times))


def _faster(*per_round: list[float]) -> list[float]:
    return [min(ts) for ts in zip(*per_round, strict=True)]


def _time(fns: dict[str, Callable[[], Any]]) -> dict[str, list[float]]:
    return alternating_times(fns, rounds=ROUNDS, repeat=REPEAT)


def projection_rows() -> tuple[list[list[Any]], list[Ratio]]:
    rows: list[list[Any]] = []
    ratios: list[Ratio] = []
    n_samples, n_features, n_components = PROJECTION_SHAPE
    x = np.random.default_rng(0).standard_normal((n_samples, n_features))
    xt = torch.from_numpy(x)
    shape = f"{n_samples}x{n_features} -> {n_components}"

    # Gaussian: floor = the dense product with R drawn beforehand.
    r = gaussian_projection_matrix(n_features, n_components, generator=_gen(), dtype=torch.float64)
    r_np = r.numpy()
    est = GaussianRandomProjection(n_components, random_state=0)
    t = _time(
        {
            "ours": lambda: random_projection(xt, n_components, generator=_gen()),
            "anchor": lambda: est.fit_transform(x),
            "floor torch": lambda: xt @ r.T,
            "floor numpy": lambda: x @ r_np.T,
        }
    )
    timed = Timed(t["ours"], t["anchor"], _faster(t["floor torch"], t["floor numpy"]))
    dist = _max_distortion(x, random_projection(xt, n_components, generator=_gen()).numpy())
    dist_ref = _max_distortion(x, est.fit_transform(x))
    rows.append(
        timed.row(
            f"Gaussian projection {shape}",
            "sklearn GaussianRandomProjection",
            f"max distortion {dist:.3f} vs {dist_ref:.3f}",
        )
    )
    ratios.append(timed.ratio)

    # Sparse: the very sparse default (1/sqrt(m), CSR product) and Achlioptas' 1/3.
    for label, density in (("very sparse 1/sqrt(m)", None), ("Achlioptas 1/3", 1 / 3)):
        sk_density = "auto" if density is None else density
        sk_est = SparseRandomProjection(n_components, density=sk_density, random_state=0)
        fns: dict[str, Callable[[], Any]] = {
            "ours": lambda d=density: random_projection(
                xt, n_components, kind="sparse", density=d, generator=_gen()
            ),
            "anchor": lambda e=sk_est: e.fit_transform(x),
        }
        if _sparse_product_pays(xt, density, None):
            csr = _sparse_projection_csr(n_features, n_components, density, _gen(), torch.float64)
            csr_sp = sp.csr_array(
                (csr.values().numpy(), csr.col_indices().numpy(), csr.crow_indices().numpy()),
                shape=tuple(csr.shape),
            )
            fns["floor torch"] = lambda c=csr: xt @ c.mT
            fns["floor scipy"] = lambda c=csr_sp: x @ c.T
        else:
            dense = sparse_projection_matrix(
                n_features, n_components, density=density, generator=_gen(), dtype=torch.float64
            )
            dense_np = dense.numpy()
            fns["floor torch"] = lambda a=dense: xt @ a.T
            fns["floor scipy"] = lambda a=dense_np: x @ a.T
        t = _time(fns)
        timed = Timed(t["ours"], t["anchor"], _faster(t["floor torch"], t["floor scipy"]))
        y = random_projection(xt, n_components, kind="sparse", density=density, generator=_gen())
        y_ref = sk_est.fit_transform(x)
        y_ref = np.asarray(y_ref.todense() if hasattr(y_ref, "todense") else y_ref)
        rows.append(
            timed.row(
                f"sparse projection ({label}) {shape}",
                "sklearn SparseRandomProjection",
                f"max distortion {_max_distortion(x, y.numpy()):.3f} vs "
                f"{_max_distortion(x, y_ref):.3f}",
            )
        )
        ratios.append(timed.ratio)
    return rows, ratios


def _test_matrix(m: int, n: int, rank: int) -> torch.Tensor:
    """Rank-``rank`` signal (singular values 100 ... 1) plus 1e-3 Gaussian noise."""
    g = _gen(1)
    u, _ = torch.linalg.qr(torch.randn(m, rank, dtype=torch.float64, generator=g))
    v, _ = torch.linalg.qr(torch.randn(n, rank, dtype=torch.float64, generator=g))
    sig = torch.logspace(2, 0, rank, dtype=torch.float64)
    return (u * sig) @ v.T + 1e-3 * torch.randn(m, n, dtype=torch.float64, generator=g)


def _range_finder_floor(a: torch.Tensor, size: int, n_iter: int) -> Callable[[], None]:
    """The range finder's products and Householder QRs at their shapes, without the dependency."""
    q = torch.linalg.qr(torch.randn(a.shape[0], size, dtype=a.dtype, generator=_gen(2))).Q
    z = torch.linalg.qr(torch.randn(a.shape[1], size, dtype=a.dtype, generator=_gen(3))).Q

    def run() -> None:
        torch.linalg.qr(a @ z)
        for _ in range(n_iter):
            torch.linalg.qr((q.mT @ a).mT)  # A^T Q in MKL's faster orientation
            torch.linalg.qr(a @ z)

    return run


def rsvd_rows() -> tuple[list[list[Any]], list[Ratio]]:
    m, n, rank, p, q = RSVD_SHAPE
    a = _test_matrix(m, n, rank)
    a_np = a.numpy()
    exact = torch.linalg.svdvals(a)[:rank]

    def err(s: torch.Tensor | np.ndarray) -> float:
        s = torch.as_tensor(np.asarray(s), dtype=torch.float64)
        return float(((s[:rank] - exact) / exact).abs().max())

    def torch_lowrank() -> Any:
        torch.manual_seed(0)  # svd_lowrank draws from the global generator
        return torch.svd_lowrank(a, q=rank + p, niter=q)

    t = _time(
        {
            "ours": lambda: randomized_svd(a, rank, n_oversamples=p, n_iter=q, generator=_gen()),
            "sklearn": lambda: sk_randomized_svd(
                a_np, rank, n_oversamples=p, n_iter=q, random_state=0
            ),
            "torch": torch_lowrank,
            "floor": _range_finder_floor(a, rank + p, q),
        }
    )
    e_ours = err(randomized_svd(a, rank, n_oversamples=p, n_iter=q, generator=_gen())[1])
    e_sk = err(sk_randomized_svd(a_np, rank, n_oversamples=p, n_iter=q, random_state=0)[1])
    e_tl = err(torch_lowrank()[1])
    task = f"randomized SVD {m}x{n}, rank {rank} (+{p}, {q} power iterations)"
    rows, ratios = [], []
    for anchor, name, e_ref in (
        ("sklearn", "sklearn randomized_svd", e_sk),
        ("torch", "torch.svd_lowrank", e_tl),
    ):
        timed = Timed(t["ours"], t[anchor], t["floor"])
        rows.append(timed.row(task, name, f"max rel. SV error {e_ours:.1e} vs {e_ref:.1e}"))
        ratios.append(timed.ratio)
    return rows, ratios


def main() -> None:
    torch.set_num_threads(1)
    with threadpool_limits(1):
        proj_rows, proj_ratios = projection_rows()
        svd_rows, svd_ratios = rsvd_rows()
    rows = proj_rows + svd_rows
    gauss, very_sparse, achlioptas = proj_ratios
    sk, tl = svd_ratios
    headline = (
        f"median (min-max) over {ROUNDS} alternating rounds, anchor time / kexue time: Gaussian "
        f"projection {gauss} sklearn; very sparse {very_sparse}, Achlioptas {achlioptas} sklearn; "
        f"randomized SVD {sk} sklearn, {tl} torch.svd_lowrank (float64, 1 thread)"
    )
    columns = [
        "task",
        "kexue ms",
        "anchor",
        "anchor ms",
        "floor ms",
        "anchor/kexue median (min-max)",
        "% of floor",
        "accuracy (kexue vs anchor)",
    ]
    if TINY:  # print only: tiny shapes say nothing about speed
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
        print(headline)
        return
    write_result(
        "D3",
        "JL projections and randomised SVD vs scikit-learn / torch.svd_lowrank (float64, 1 thread)",
        columns,
        rows,
        headline,
        ".venv/bin/python -m bench.bench_d3_projection",
    )


if __name__ == "__main__":
    main()
