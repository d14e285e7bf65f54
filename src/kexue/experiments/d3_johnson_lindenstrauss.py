r"""D3 — Johnson–Lindenstrauss: bounds, distortion on real sentence vectors, SimHash, randomised SVD.

Follows the acceptance check of the D3 spec: (1) the article's bound $24\ln N/\varepsilon^2$ against
scikit-learn's; (2) a Monte-Carlo of the unit-norm lemma; (3) the all-pairs claim on N Gaussian
points over seeds; distortion vs target dimension on TF-IDF vectors of STS-B sentences (Gaussian
and sparse projections, against the bound and the exact $\chi^2_n/n$ law); (4) SimHash: the
article's sign-cosine vs the corrected $\cos(\pi h)$, and the estimate's error vs code length on
STS-B sentence pairs; (5) randomised SVD on digits against exact SVD, scikit-learn and Halko's
bound, and the article's JL sketch on a synthetic rank-10 + noise matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kexue.experiments.base import Check, Experiment, at_least, at_most, within
from kexue.geometry.projection import (
    dasgupta_gupta_min_dim,
    head_size_rule,
    jl_min_dim,
    random_projection,
)
from kexue.geometry.randomized_svd import randomized_range_finder, randomized_svd
from kexue.geometry.simhash import sign_cosine, simhash, simhash_cosine

__all__ = ["EXPERIMENT", "FULL", "QUICK", "Config", "load_stsb_tfidf"]

_DATA_SEED = 1_000_003  # data sampling never shares a stream with the projections


@dataclass(frozen=True)
class Config:
    """Sizes of the D3 reproduction."""

    bound_eps: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
    lemma_dims: tuple[int, ...] = (64, 256, 1024)
    lemma_eps: float = 0.2
    lemma_draws: int = 10_000
    synth_points: int = 80  # spec: N = 200 points in D = 2000
    synth_dim: int = 800
    synth_eps: tuple[float, ...] = (0.5,)
    synth_runs: int = 10
    text_points: int = 100  # STS-B sentences for the distortion curve
    text_dims: tuple[int, ...] = (64, 512)
    text_runs: int = 3
    lsh_bits: int = 1024
    lsh_pairs: int = 40  # random pairs per angle
    lsh_real_pairs: int = 200  # STS-B sentence pairs
    lsh_real_bits: tuple[int, ...] = (64, 256, 1024)
    halko_runs: int = 10
    sketch_ks: tuple[int, ...] = (50,)
    sketch_runs: int = 2


QUICK = Config()
FULL = Config(
    lemma_draws=100_000,
    synth_points=200,
    synth_dim=2000,
    synth_eps=(0.3, 0.5),
    synth_runs=20,
    text_points=300,
    text_dims=(32, 64, 128, 256, 512, 1024, 2048),
    text_runs=10,
    lsh_pairs=100,
    lsh_real_pairs=1000,
    lsh_real_bits=(64, 128, 256, 512, 1024, 2048, 4096),
    halko_runs=30,
    sketch_ks=(20, 50, 100, 200),
    sketch_runs=4,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def load_stsb_tfidf() -> tuple[Any, list[tuple[int, int]]]:
    r"""TF-IDF vectors (scipy CSR, l2-normalised rows) of the unique STS-B train sentences.

    Lower-cased tokens of two or more word characters, smoothed idf $\ln\frac{1+N}{1+df}+1$ (the
    defaults of scikit-learn's ``TfidfVectorizer``).

    Returns:
        The matrix and the (row, row) index of every sentence pair of the file.
    """
    import re

    import scipy.sparse

    from kexue.data import load_stsb

    index: dict[str, int] = {}
    pairs = []
    train = load_stsb("train", strip=False)
    for s1, s2 in zip(train.sentence1, train.sentence2, strict=True):
        a, b = (index.setdefault(s, len(index)) for s in (s1, s2))
        pairs.append((a, b))
    token = re.compile(r"(?u)\b\w\w+\b")
    vocab: dict[str, int] = {}
    rows, cols_, vals = [], [], []
    for i, sentence in enumerate(index):
        counts: dict[int, int] = {}
        for w in token.findall(sentence.lower()):
            j = vocab.setdefault(w, len(vocab))
            counts[j] = counts.get(j, 0) + 1
        rows += [i] * len(counts)
        cols_ += list(counts)
        vals += list(counts.values())
    tf = scipy.sparse.csr_matrix(
        (np.array(vals, dtype=np.float64), (rows, cols_)), shape=(len(index), len(vocab))
    )
    df = np.bincount(tf.indices, minlength=len(vocab))
    x = tf @ scipy.sparse.diags(np.log((1 + len(index)) / (1 + df)) + 1)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(1))).ravel()
    return scipy.sparse.diags(1 / np.maximum(norms, 1e-300)) @ x, pairs


def _sq_dists(x: torch.Tensor) -> torch.Tensor:
    # squared distances of all pairs i < j from the float64 Gram matrix (points are distinct)
    x = x.double()
    sq = x.pow(2).sum(-1)
    d = sq[:, None] + sq[None, :] - 2 * x @ x.T
    iu = torch.triu_indices(x.shape[0], x.shape[0], 1)
    return d[iu[0], iu[1]]


def _eps_24(n_points: int, dim: int) -> float | None:
    eps = math.sqrt(24 * math.log(n_points) / dim)
    return eps if eps < 1 else None


def _eps_sklearn(n_points: int, dim: int) -> float | None:
    # invert 4 ln N / (e^2/2 - e^3/3) = dim on (0, 1), where the left side is decreasing
    target = 4 * math.log(n_points) / dim
    if target >= 1 / 6:
        return None
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mid**2 / 2 - mid**3 / 3 < target else (lo, mid)
    return hi


def _chi2_mad(dim: int) -> float:
    # E|chi2_n / n - 1| = 2 k^k e^-k / Gamma(k) * 2 / n with k = n / 2 (gamma mean absolute dev.)
    k = dim / 2
    return 4 * math.exp(k * math.log(k) - k - math.lgamma(k)) / dim


def _bounds(cfg: Config) -> dict[str, Any]:
    rows = []
    for eps in cfg.bound_eps:
        ours, sk = jl_min_dim(10_000, eps), dasgupta_gupta_min_dim(10_000, eps)
        rows.append([eps, ours, jl_min_dim(10_000, eps, existence=True), sk, ours / sk])
    return {"rows": rows, "head_512": head_size_rule(512), "head_1e5": head_size_rule(100_000)}


def _unit_norm_lemma(cfg: Config, seed: int) -> list[list[float]]:
    g, eps, out = _gen(seed), cfg.lemma_eps, []
    for n in cfg.lemma_dims:
        hits, chunk = 0, max(1, 4_000_000 // n)
        for start in range(0, cfg.lemma_draws, chunk):
            u = torch.randn(min(chunk, cfg.lemma_draws - start), n, generator=g) / math.sqrt(n)
            hits += int(((u.pow(2).sum(1) - 1).abs() >= eps).sum())
        # exact tail of chi2_n / n: regularised incomplete gamma functions with shape n / 2
        k = torch.tensor(n / 2, dtype=torch.float64)
        lo, hi = (torch.tensor(n * (1 + s) / 2, dtype=torch.float64) for s in (-eps, eps))
        exact = float(torch.special.gammaincc(k, hi) + torch.special.gammainc(k, lo))
        out.append([n, hits / cfg.lemma_draws, exact, 2 * math.exp(-(eps**2) * n / 8)])
    return out


def _synthetic_pairs(cfg: Config, seed: int) -> list[list[Any]]:
    x = torch.randn(cfg.synth_points, cfg.synth_dim, generator=_gen(_DATA_SEED + seed))
    d0, rows = _sq_dists(x), []
    for eps in cfg.synth_eps:
        for rule, dim in (
            ("24-bound", jl_min_dim(cfg.synth_points, eps)),
            ("sklearn", dasgupta_gupta_min_dim(cfg.synth_points, eps)),
        ):
            ok = 0
            for r in range(cfg.synth_runs):
                y = random_projection(x, dim, generator=_gen(seed * 7919 + r))
                ok += bool(((_sq_dists(y) / d0 - 1).abs() < eps).all())
            rows.append([eps, rule, dim, ok / cfg.synth_runs])
    return rows


def _text_distortion(cfg: Config, seed: int, tfidf: Any) -> dict[str, Any]:
    rng = np.random.default_rng(_DATA_SEED + seed)
    rows_idx = rng.choice(tfidf.shape[0], 2 * cfg.text_points, replace=False)
    x_all = torch.tensor(tfidf[rows_idx].toarray(), dtype=torch.float64)
    keep: dict[bytes, int] = {}  # distinct non-zero vectors only (distance ratios need d0 > 0)
    for i, row in enumerate(x_all):
        if len(keep) < cfg.text_points and bool(row.any()):
            keep.setdefault(row.numpy().tobytes(), i)
    x_all = x_all[list(keep.values())]
    cols = torch.nonzero(x_all.any(0)).ravel()  # only the columns these points use matter
    x = x_all[:, cols]
    density = 1 / math.sqrt(tfidf.shape[1])  # scikit-learn's 'auto' on the full vocabulary
    kurts = []  # sum v^4 / (sum v^2)^2 of every difference vector v (Li et al.'s variance term)
    for i in range(len(x) - 1):
        diffs = x[i + 1 :] - x[i]  # (pairs with i, dim)
        kurts.append(diffs.pow(4).sum(1) / diffs.pow(2).sum(1).pow(2))
    kurt = torch.cat(kurts).mean().item()
    d0, n_pts, table = _sq_dists(x), len(x), []
    x32 = x.float()  # projections in float32: distortions are >= 1e-2, rounding is 1e-7
    for dim in cfg.text_dims:
        stat: dict[str, list[float]] = {
            "g_max": [],
            "g_mean": [],
            "g_msq": [],
            "s_max": [],
            "s_msq": [],
        }
        for r in range(cfg.text_runs):
            g_dev = (
                _sq_dists(random_projection(x32, dim, generator=_gen(seed * 104729 + r))) / d0 - 1
            )
            s_y = random_projection(
                x32, dim, kind="sparse", density=density, generator=_gen(seed * 104729 + r + 50_000)
            )
            s_dev = _sq_dists(s_y) / d0 - 1
            stat["g_max"].append(g_dev.abs().max().item())
            stat["g_mean"].append(g_dev.abs().mean().item())
            stat["g_msq"].append(g_dev.pow(2).mean().item())
            stat["s_max"].append(s_dev.abs().max().item())
            stat["s_msq"].append(s_dev.pow(2).mean().item())
        e24, esk = _eps_24(n_pts, dim), _eps_sklearn(n_pts, dim)
        within_sk = None if esk is None else float(np.mean(np.array(stat["g_max"]) < esk))
        table.append(
            [
                dim,
                e24,
                esk,
                float(np.median(stat["g_max"])),
                float(np.max(stat["g_max"])),
                float(np.mean(stat["g_mean"])),
                _chi2_mad(dim),
                float(np.mean(stat["g_msq"])) * dim / 2,  # 1 for the exact chi2_n/n law
                float(np.median(stat["s_max"])),
                float(np.mean(stat["s_msq"])) * dim / (2 + (1 / density - 3) * kurt),  # Li et al.
                within_sk,
            ]
        )
    return {
        "table": table,
        "points": n_pts,
        "dim_used": len(cols),
        "vocab": tfidf.shape[1],
        "kurtosis": kurt,
    }


def _pair_at_angle(theta: float, dim: int, g: torch.Generator) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(dim, 2, dtype=torch.float64, generator=g))
    return torch.stack([q[:, 0], math.cos(theta) * q[:, 0] + math.sin(theta) * q[:, 1]])


def _lsh_angles(cfg: Config, seed: int) -> list[list[float]]:
    rows, g = [], _gen(_DATA_SEED + 11 * seed)
    for deg in (20.0, 45.0, 60.0, 80.0):
        th = math.radians(deg)
        x = torch.cat([_pair_at_angle(th, 128, g) for _ in range(cfg.lsh_pairs)])  # (2P, 128)
        c = simhash(x, cfg.lsh_bits, generator=_gen(seed + 31)).view(cfg.lsh_pairs, 2, -1)
        est, raw = simhash_cosine(c[:, 0], c[:, 1]), sign_cosine(c[:, 0], c[:, 1])
        p = th / math.pi
        se = math.pi * math.sin(th) * math.sqrt(p * (1 - p) / cfg.lsh_bits)
        rmse = (est - math.cos(th)).pow(2).mean().sqrt().item()
        rows.append([deg, math.cos(th), raw.mean().item(), 1 - 2 * p, est.mean().item(), rmse, se])
    return rows


def _lsh_real(
    cfg: Config, seed: int, tfidf: Any, pairs: list[tuple[int, int]]
) -> list[list[float]]:
    rng = np.random.default_rng(_DATA_SEED + 13 * seed)
    nonzero = np.asarray(tfidf.getnnz(axis=1)) > 0
    usable = [i for i, (a, b) in enumerate(pairs) if nonzero[a] and nonzero[b]]
    chosen = np.array(pairs)[rng.choice(usable, cfg.lsh_real_pairs, replace=False)]
    sub = tfidf[chosen.ravel()]
    cols = np.unique(sub.indices)
    x = torch.tensor(sub[:, cols].toarray(), dtype=torch.float64).view(len(chosen), 2, -1)
    true = torch.nn.functional.cosine_similarity(x[:, 0], x[:, 1], dim=-1).clamp(-1, 1)
    codes = simhash(x.float(), max(cfg.lsh_real_bits), generator=_gen(seed + 57))  # prefixes
    theta = true.acos()
    p = theta / math.pi
    rows = []
    for bits in cfg.lsh_real_bits:
        a, b = codes[:, 0, :bits], codes[:, 1, :bits]
        est, raw = simhash_cosine(a, b), sign_cosine(a, b)
        theory = (math.pi**2 * theta.sin().pow(2) * p * (1 - p) / bits).mean().sqrt().item()
        rmse = (est - true).pow(2).mean().sqrt().item()
        raw_bias = (raw - true).abs().mean().item()
        rows.append([bits, rmse, theory, rmse / theory, raw_bias])
    return rows


def _digits_rsvd(cfg: Config, seed: int) -> dict[str, Any]:
    from sklearn.datasets import load_digits
    from sklearn.utils.extmath import randomized_svd as sk_rsvd

    a = torch.tensor(load_digits().data, dtype=torch.float64)  # (1797, 64)
    sv = torch.linalg.svdvals(a)
    _, s, _ = randomized_svd(a, 10, n_oversamples=10, n_iter=4, generator=_gen(seed))
    _, s_sk, _ = sk_rsvd(a.numpy(), 10, n_oversamples=10, n_iter=4, random_state=seed)
    k, p = 10, 5
    tail_f = sv[k:].pow(2).sum().sqrt().item()
    halko_f = math.sqrt(1 + k / (p - 1)) * tail_f  # Halko et al. Thm 10.5 (q = 0)
    halko_2 = (1 + math.sqrt(k / (p - 1))) * sv[k].item() + math.e * math.sqrt(k + p) / p * tail_f
    err_f, err_2, err_q = [], [], []
    for r in range(cfg.halko_runs):
        q = randomized_range_finder(a, k + p, n_iter=0, generator=_gen(seed * 31 + r))
        res = a - q @ (q.T @ a)
        err_f.append(torch.linalg.matrix_norm(res).item())
        err_2.append(torch.linalg.matrix_norm(res, ord=2).item())
        q2 = randomized_range_finder(a, k + p, n_iter=2, generator=_gen(seed * 31 + r))
        err_q.append(torch.linalg.matrix_norm(a - q2 @ (q2.T @ a)).item())
    return {
        "sv_rel_err_exact": ((s - sv[:10]).abs() / sv[:10]).max().item(),
        "sv_rel_err_sklearn": float(np.max(np.abs(s.numpy() - s_sk) / s_sk)),
        "halko_frob_mean": float(np.mean(err_f)),
        "halko_frob_bound": halko_f,
        "halko_spec_mean": float(np.mean(err_2)),
        "halko_spec_bound": halko_2,
        "optimal_frob_k": tail_f,
        "optimal_frob_kp": sv[k + p :].pow(2).sum().sqrt().item(),
        "power2_frob_mean": float(np.mean(err_q)),
    }


def _sketch(cfg: Config, seed: int) -> list[list[float]]:
    """The article's sketch B = MQ on a 500 x 2000 rank-10 + noise matrix, against Halko."""
    g = _gen(_DATA_SEED + 17 * seed)
    u, _ = torch.linalg.qr(torch.randn(500, 10, dtype=torch.float64, generator=g))
    v, _ = torch.linalg.qr(torch.randn(2000, 10, dtype=torch.float64, generator=g))
    sig = torch.linspace(800, 300, 10, dtype=torch.float64)
    m = (u * sig) @ v.T + torch.randn(500, 2000, dtype=torch.float64, generator=g)
    sv = torch.linalg.svdvals(m)
    norm = torch.linalg.matrix_norm(m).item()
    optimal = sv[10:].pow(2).sum().sqrt().item() / norm
    rows = []
    for k in cfg.sketch_ks:
        acc = np.zeros(4)
        for r in range(cfg.sketch_runs):
            gq = _gen(seed * 1009 + 100 * k + r)
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
        rows.append([k, *(acc / cfg.sketch_runs).tolist(), optimal])
    return rows


def run(config: Config, seed: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    tfidf, pairs = load_stsb_tfidf()
    text = _text_distortion(config, seed, tfidf)
    cols = [
        "n",
        "eps (24-bound)",
        "eps (sklearn)",
        "Gauss max dev (median)",
        "Gauss max dev (worst)",
        "Gauss mean dev",
        "chi2 mean dev",
        "Gauss var / (2/n)",
        "sparse max dev (median)",
        "sparse var / Li et al.",
        "runs within sklearn eps",
    ]
    return {
        "bounds": _bounds(config),
        "lemma": _unit_norm_lemma(config, seed),
        "synthetic": _synthetic_pairs(config, seed),
        "text": text,
        "lsh_angles": _lsh_angles(config, seed),
        "lsh_real": _lsh_real(config, seed, tfidf, pairs),
        "digits": _digits_rsvd(config, seed),
        "sketch": _sketch(config, seed),
        "table": {"columns": cols, "rows": text["table"]},
    }


def check(metrics: dict[str, Any], config: Config) -> list[Check]:
    out = []
    ratios = [row[4] for row in metrics["bounds"]["rows"]]
    out.append(within("24-bound / sklearn dim, min over eps 0.1..0.5", min(ratios), 1.95, 3.2))
    out.append(within("24-bound / sklearn dim, max over eps", max(ratios), 1.95, 3.2, "about 3x"))
    out.append(within("head-size rule, L = 512", metrics["bounds"]["head_512"], 52, 52, "≈ 52"))
    out.append(within("word-dim rule, N = 1e5", metrics["bounds"]["head_1e5"], 96, 96, "≈ 96"))
    for n, emp, exact, bound in metrics["lemma"]:
        out.append(at_most(f"unit-norm tail n={n}: empirical / 2exp(-eps²n/8)", emp / bound, 1.0))
        se = math.sqrt(exact * (1 - exact) / config.lemma_draws)
        out.append(
            at_most(
                f"unit-norm tail n={n}: |emp - exact chi2| / se",
                abs(emp - exact) / max(se, 1e-12),
                5.0,
            )
        )
    for eps, rule, dim, frac in metrics["synthetic"]:
        need = 0.95 if rule == "24-bound" else 0.8
        art = "≥ 1 - 1/N" if rule == "24-bound" else ""
        out.append(
            at_least(f"Gaussian points: all pairs within {eps}, n={dim} ({rule})", frac, need, art)
        )
    text = metrics["text"]["table"]
    for row in text:
        dim, e24, _, _, worst, mean_dev, chi2, _, _, li_ratio, _ = row
        if e24 is not None:
            out.append(
                at_most(f"STS-B TF-IDF n={dim}: worst max dev / 24-bound eps", worst / e24, 1.0)
            )
        out.append(
            within(
                f"STS-B TF-IDF n={dim}: Gaussian mean dev / chi2 law", mean_dev / chi2, 0.85, 1.15
            )
        )
        out.append(within(f"STS-B TF-IDF n={dim}: sparse var / Li et al.", li_ratio, 0.7, 1.3))
    fracs = [row[-1] for row in text if row[-1] is not None]
    if fracs:  # pooled over the dimensions where the sklearn bound gives an eps < 1
        out.append(
            at_least("STS-B TF-IDF: runs with all pairs within sklearn eps", np.mean(fracs), 0.8)
        )
    for deg, cos, raw, one_m, est, _, _ in metrics["lsh_angles"]:
        out.append(
            at_most(f"LSH {deg:.0f}°: |cos(pi h) - cos θ|", abs(est - cos), 0.05, "0.709 at 45°")
        )
        out.append(at_most(f"LSH {deg:.0f}°: |sign-cos - (1 - 2θ/π)|", abs(raw - one_m), 0.05))
    out.append(
        at_least(
            "LSH 45°: article's sign-cos is off cos θ by",
            abs(metrics["lsh_angles"][1][2] - metrics["lsh_angles"][1][1]),
            0.15,
            "0.502 vs 0.707",
        )
    )
    for bits, _, _, ratio, _ in metrics["lsh_real"]:
        if bits >= 256:
            out.append(
                within(
                    f"LSH STS-B pairs, {bits} bits: RMSE / delta-method theory", ratio, 0.75, 1.3
                )
            )
    d = metrics["digits"]
    out.append(
        at_most(
            "rSVD digits k=10: max rel. SV error vs exact",
            d["sv_rel_err_exact"],
            1e-4,
            "~2e-6 measured",
        )
    )
    out.append(
        at_most("rSVD digits k=10: max rel. SV diff vs sklearn", d["sv_rel_err_sklearn"], 1e-4)
    )
    out.append(
        at_most(
            "range finder, digits: mean Frobenius error / Halko bound",
            d["halko_frob_mean"] / d["halko_frob_bound"],
            1.0,
        )
    )
    out.append(
        at_most(
            "range finder, digits: mean spectral error / Halko bound",
            d["halko_spec_mean"] / d["halko_spec_bound"],
            1.0,
        )
    )
    sk = {row[0]: row for row in metrics["sketch"]}
    if 50 in sk:
        out.append(
            at_most("JL sketch k=50: top-10 SV max rel. error", sk[50][1], 0.15, "7.8% measured")
        )
    for k, _, literal, fixed, halko, optimal in metrics["sketch"]:
        out.append(
            at_least(
                f"JL sketch k={k}: literal U_B S_B (QV_B)^T error / optimal",
                literal / optimal,
                2.0,
                "3-10 measured",
            )
        )
        out.append(
            at_most(
                f"Halko rank 10 (sketch {k}): error / optimal",
                halko / optimal,
                1.02,
                "0.45-0.55 measured",
            )
        )
        out.append(
            at_most(
                f"V = M^T U_B S_B^-1 (sketch {k}): error / optimal",
                fixed / optimal,
                1.35,
                "0.45-0.55 measured",
            )
        )
    return out


def summary(metrics: dict[str, Any]) -> str:
    t = metrics["text"]["table"]
    last = t[-1]
    lsh = metrics["lsh_angles"][1]
    d = metrics["digits"]
    return (
        f"STS-B TF-IDF (N={metrics['text']['points']}): Gaussian n={last[0]} "
        f"max dev {last[3]:.3f} (24-bound eps {last[1] or float('nan'):.3f}); LSH 45° cos(πh) "
        f"{lsh[4]:.3f} vs sign-cos {lsh[2]:.3f} (true 0.707); rSVD digits SV error "
        f"{d['sv_rel_err_exact']:.1e}"
    )


def plot(metrics: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    t = np.array([[np.nan if v is None else v for v in row] for row in metrics["text"]["table"]])
    ax.loglog(t[:, 0], t[:, 3], "o-", label="Gaussian: max |ratio-1| (median run)")
    ax.loglog(t[:, 0], t[:, 8], "s-", label="sparse (1/√D): max |ratio-1|")
    ax.loglog(t[:, 0], t[:, 5], "^-", label="Gaussian: mean |ratio-1|")
    ax.loglog(t[:, 0], t[:, 6], "k:", label="χ²ₙ/n mean |dev| (exact)")
    ax.loglog(t[:, 0], t[:, 1], "k--", label="ε of 24 ln N/ε² bound")
    ax.loglog(t[:, 0], t[:, 2], "k-.", label="ε of sklearn bound")
    ax.set(
        xlabel="target dimension n",
        ylabel="squared-distance distortion",
        title=f"STS-B TF-IDF, N={metrics['text']['points']} sentences",
    )
    ax.legend(fontsize=7)
    ax = axes[1]
    r = np.array(metrics["lsh_real"])
    ax.loglog(r[:, 0], r[:, 1], "o-", label="cos(πh) RMSE (STS-B pairs)")
    ax.loglog(r[:, 0], r[:, 2], "k--", label="delta-method theory")
    ax.loglog(r[:, 0], r[:, 4], "s-", label="sign-cos mean |error| (article)")
    ax.set(xlabel="code length (bits)", ylabel="cosine error", title="SimHash cosine estimate")
    ax.legend(fontsize=7)
    ax = axes[2]
    s = np.array(metrics["sketch"])
    ax.semilogy(s[:, 0], s[:, 2], "o-", label="article: U_B Σ_B (Q V_B)ᵀ")
    ax.semilogy(s[:, 0], s[:, 3], "s-", label="V = Mᵀ U_B Σ_B⁻¹")
    ax.semilogy(s[:, 0], s[:, 4], "^-", label="Halko range finder")
    ax.semilogy(s[:, 0], s[:, 5], "k--", label="optimal rank 10")
    ax.semilogy(s[:, 0], s[:, 1], "d-", label="Σ_B top-10 max rel. error")
    ax.set(xlabel="sketch size k", ylabel="relative error", title="rank-10 + noise, 500×2000")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


EXPERIMENT = Experiment(
    id="D3",
    title="JL random projections keep all pairwise distances; SimHash and randomised SVD corrected",
    quick=QUICK,
    full=FULL,
    run=run,
    check=check,
    plot=plot,
    summary=summary,
    data=(
        "TF-IDF vectors of the STS-B train sentences (shared/data/stsb) and their gold pairs; "
        "scikit-learn digits (1797×64); iid Gaussian points and a synthetic rank-10 + noise matrix"
    ),
    notes=(
        "LSH: the article reads the cosine of sign codes as cos θ; it estimates 1 - 2θ/π, so the "
        "library's estimator is cos(πh) (h = Hamming fraction); both are shown. rSVD: the article's "
        "reconstruction U_B Σ_B (QV_B)^T is shown to be poor (QQ^T ≈ I only in expectation); the "
        "library uses Halko's range finder (oversampling 10, 4 QR-normalised power iterations). "
        "Spec check 1 asks the 24-bound/sklearn ratio in [2.3, 3.2] for ε in [0.1, 0.5], but the "
        "ratio is 3 - 2ε exactly (2.0 at ε = 0.5, as in the spec's own measured table), so the gate "
        "is [1.95, 3.2]. The LSH angle checks average cos(πh) over random pairs (one pair at 1024 "
        "bits has standard error up to 0.048 at 80°, too close to the 0.05 tolerance). Real data: "
        "MiniLM sentence vectors are not used (no encoder dependency); TF-IDF vectors of STS-B "
        "sentences are (only the vocabulary columns the sampled sentences use enter the projection, "
        "which leaves the distances' distribution unchanged; sparse density is 1/√vocabulary). The "
        "optional head-size fitting curve is not run; the 8.33 ln N rule is checked as arithmetic. "
        "Finding beyond the article: the very sparse projection (density 1/√vocabulary) on sparse "
        "TF-IDF vectors has several times the Gaussian variance, as Li et al.'s formula "
        "(2 + (1/s - 3)κ)/n predicts (κ = Σv⁴/‖v‖⁴ of the difference vectors), so its worst "
        "distortion exceeds the bound's ε; the Gaussian projection follows the exact χ²ₙ/n law."
    ),
)
