"""D3 benchmark: JL projections vs scikit-learn; randomised SVD vs scikit-learn and torch.svd_lowrank.

Same inputs in one process, one thread everywhere (torch and the BLAS behind numpy). Projection
times include drawing the random matrix, as ``fit_transform`` does. Run:
``.venv/bin/python -m bench.bench_d3_projection``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.random_projection import GaussianRandomProjection, SparseRandomProjection
from sklearn.utils.extmath import randomized_svd as sk_randomized_svd
from threadpoolctl import threadpool_limits

from bench._common import median_time, write_result
from kexue.geometry.projection import random_projection
from kexue.geometry.randomized_svd import randomized_svd


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _max_distortion(x: np.ndarray, y: np.ndarray, n: int = 200) -> float:
    def sq(a: np.ndarray) -> np.ndarray:
        g = a[:n] @ a[:n].T
        d = np.diag(g)[:, None] + np.diag(g)[None, :] - 2 * g
        return d[np.triu_indices(n, 1)]

    return float(np.max(np.abs(sq(y) / sq(x) - 1)))


def projection_rows() -> list[list[object]]:
    rows: list[list[object]] = []
    gen = np.random.default_rng(0)
    n_samples, n_features, n_components = 2000, 5000, 500
    x = gen.standard_normal((n_samples, n_features))
    xt = torch.from_numpy(x)
    xt32 = xt.float()
    for kind, sk_cls in (
        ("gaussian", GaussianRandomProjection),
        ("sparse", SparseRandomProjection),
    ):
        est = sk_cls(n_components, random_state=0)
        ref = median_time(lambda est=est: est.fit_transform(x), repeat=5)
        ours = median_time(
            lambda kind=kind: random_projection(xt, n_components, kind=kind, generator=_gen()),
            repeat=5,
        )
        ours32 = median_time(
            lambda kind=kind: random_projection(xt32, n_components, kind=kind, generator=_gen()),
            repeat=5,
        )
        dist_ours = _max_distortion(
            x, random_projection(xt, n_components, kind=kind, generator=_gen()).numpy()
        )
        y_ref = est.fit_transform(x)
        dist_ref = _max_distortion(
            x, np.asarray(y_ref.todense() if hasattr(y_ref, "todense") else y_ref)
        )
        rows.append(
            [
                f"{kind} projection {n_samples}x{n_features} -> {n_components}",
                ours * 1e3,
                ours32 * 1e3,
                f"sklearn {sk_cls.__name__}",
                ref * 1e3,
                ref / ours,
                f"max dev {dist_ours:.3f} vs {dist_ref:.3f}",
            ]
        )
    return rows


def rsvd_rows() -> list[list[object]]:
    rows: list[list[object]] = []
    g = _gen(1)
    m, n, r = 5000, 1000, 50
    u, _ = torch.linalg.qr(torch.randn(m, r, dtype=torch.float64, generator=g))
    v, _ = torch.linalg.qr(torch.randn(n, r, dtype=torch.float64, generator=g))
    sig = torch.logspace(2, 0, r, dtype=torch.float64)
    a = (u * sig) @ v.T + 1e-3 * torch.randn(m, n, dtype=torch.float64, generator=g)
    an = a.numpy()
    exact = torch.linalg.svdvals(a)[:r]
    a32 = a.float()

    def err(s: torch.Tensor | np.ndarray) -> float:
        s = torch.as_tensor(np.asarray(s), dtype=torch.float64)
        return float(((s[:r] - exact) / exact).abs().max())

    kw = {"n_oversamples": 10, "n_iter": 4}
    ours = median_time(lambda: randomized_svd(a, r, generator=_gen(), **kw), repeat=5)
    ours32 = median_time(lambda: randomized_svd(a32, r, generator=_gen(), **kw), repeat=5)
    sk = median_time(lambda: sk_randomized_svd(an, r, random_state=0, **kw), repeat=5)
    tl = median_time(lambda: torch.svd_lowrank(a, q=r + 10, niter=4), repeat=5)
    e_ours = err(randomized_svd(a, r, generator=_gen(), **kw)[1])
    e_sk = err(sk_randomized_svd(an, r, random_state=0, **kw)[1])
    e_tl = err(torch.svd_lowrank(a, q=r + 10, niter=4)[1])
    name = f"randomized SVD {m}x{n}, rank {r} (+10, 4 iters)"
    rows.append(
        [
            name,
            ours * 1e3,
            ours32 * 1e3,
            "sklearn randomized_svd",
            sk * 1e3,
            sk / ours,
            f"max rel SV err {e_ours:.1e} vs {e_sk:.1e}",
        ]
    )
    rows.append(
        [
            name,
            ours * 1e3,
            ours32 * 1e3,
            "torch.svd_lowrank",
            tl * 1e3,
            tl / ours,
            f"max rel SV err {e_ours:.1e} vs {e_tl:.1e}",
        ]
    )
    return rows


def main() -> None:
    torch.set_num_threads(1)
    with threadpool_limits(1):
        rows = projection_rows() + rsvd_rows()
    write_result(
        "D3",
        "JL projections and randomised SVD vs scikit-learn / torch.svd_lowrank (float64, 1 thread)",
        ["task", "kexue ms", "kexue f32 ms", "anchor", "anchor ms", "anchor/kexue", "accuracy"],
        rows,
        f"Gaussian projection {rows[0][5]:.2f}x sklearn, sparse {rows[1][5]:.2f}x; randomized SVD "
        f"{rows[2][5]:.2f}x sklearn, {rows[3][5]:.2f}x torch.svd_lowrank (ratio = anchor time / "
        "kexue time, float64)",
        ".venv/bin/python -m bench.bench_d3_projection",
    )


if __name__ == "__main__":
    main()
