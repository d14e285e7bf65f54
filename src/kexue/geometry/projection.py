r"""Johnson–Lindenstrauss toolkit: dimension bounds, random projections and SimHash.

A random linear map $A\in\mathbb R^{n\times m}$ with iid $\mathcal N(0,1/n)$ entries keeps every
squared distance of $N$ points within a factor $1\pm\varepsilon$ once $n=O(\log N/\varepsilon^2)$.
This module gives the bounds (the article's constants and scikit-learn's Dasgupta–Gupta constant),
the Gaussian and sparse projections, and sign-of-projection hashing (SimHash) with the *corrected*
cosine estimator. SimHash lives in :mod:`kexue.geometry.simhash` and randomised SVD in
:mod:`kexue.geometry.randomized_svd`.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from kexue._validate import check_finite, check_floating, check_ndim, check_nonempty

__all__ = [
    "RandomProjection",
    "dasgupta_gupta_min_dim",
    "gaussian_projection_matrix",
    "head_size_rule",
    "jl_min_dim",
    "random_projection",
    "sparse_projection_matrix",
]

# Above it the dense GEMM beats MKL's CSR product (crossover 0.025-0.03 at 2000x5000 -> 500, float32
# and float64, 1 thread): the CSR kernel does ~30x fewer flop/s than the GEMM.
_CSR_MAX_DENSITY = 0.025

_REF = (
    "让人惊叹的Johnson-Lindenstrauss引理：理论篇 / 应用篇, https://kexue.fm/archives/8679, "
    "https://kexue.fm/archives/8706"
)


def check_int(value: object, name: str, minimum: int) -> int:
    """Require an int (not bool) ``>= minimum`` (shared helper)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_eps(eps: object) -> float:
    if isinstance(eps, bool) or not isinstance(eps, int | float):
        raise TypeError(f"eps must be a real number, got {type(eps).__name__}")
    if not 0.0 < eps < 1.0:  # also rejects NaN
        raise ValueError(f"eps must lie in the open interval (0, 1), got {eps}")
    return float(eps)


def jl_min_dim(n_points: int, eps: float, *, existence: bool = False) -> int:
    r"""Target dimension from the article's JL lemma: $n=\lceil 24\ln N/\varepsilon^2\rceil$.

    With $A$ iid $\mathcal N(0,1/n)$ and $n>24\ln N/\varepsilon^2$, every pair of the $N$ points has
    $(1-\varepsilon)\|v_i-v_j\|^2\le\|Av_i-Av_j\|^2\le(1+\varepsilon)\|v_i-v_j\|^2$ with
    probability at least $1-1/N$ (union bound over pairs of $P(|\|u\|^2-1|\ge\varepsilon)\le
    2e^{-\varepsilon^2n/8}$). The constant 16 (``existence=True``) only guarantees success with
    probability $\ge 1/N$, i.e. that a good map exists. Natural log; the bound is on squared
    distances.
    Against scikit-learn's bound (:func:`dasgupta_gupta_min_dim`,
    $4\ln N/(\varepsilon^2/2-\varepsilon^3/3)$) the ratio is exactly $3-2\varepsilon$ before
    rounding for the constant 24 (about 3× only for small $\varepsilon$: 2.8 at 0.1, 2.0 at 0.5,
    1.2 at 0.9) and $2-4\varepsilon/3$ for 16 (below 1, i.e. smaller than scikit-learn's, for
    $\varepsilon>0.75$).

    Args:
        n_points: number of points N (>= 2).
        eps: allowed relative distortion of squared distances, in (0, 1).
        existence: use the constant 16 (existence) instead of 24 (probability >= 1 - 1/N).

    Returns:
        The smallest integer dimension the bound allows.

    Raises:
        TypeError: when ``n_points`` is not an int or ``eps`` not a real number.
        ValueError: when ``n_points < 2`` or ``eps`` is outside (0, 1).

    Reference:
        让人惊叹的Johnson-Lindenstrauss引理：理论篇, https://kexue.fm/archives/8679;
        W. Johnson, J. Lindenstrauss, "Extensions of Lipschitz mappings into a Hilbert
        space" (1984).

    Example:
        >>> jl_min_dim(200, 0.5), jl_min_dim(200, 0.5, existence=True)
        (509, 340)
    """
    n_points = check_int(n_points, "n_points", 2)
    eps = _check_eps(eps)
    const = 16.0 if existence else 24.0
    return math.ceil(const * math.log(n_points) / eps**2)


def dasgupta_gupta_min_dim(n_points: int, eps: float) -> int:
    r"""Scikit-learn's JL dimension: $n=\lfloor 4\ln N/(\varepsilon^2/2-\varepsilon^3/3)\rfloor$.

    The Dasgupta–Gupta constant, $8\ln N/(\varepsilon^2(1-2\varepsilon/3))$: about
    $8\ln N/\varepsilon^2$ for small $\varepsilon$, so the article's :func:`jl_min_dim` is
    $3-2\varepsilon$ times larger (about 3× only for small $\varepsilon$; 2.0 at 0.5, 1.2 at 0.9).
    Equal to ``sklearn.random_projection.johnson_lindenstrauss_min_dim`` (which truncates to int).

    Args:
        n_points: number of points N (>= 2).
        eps: allowed relative distortion of squared distances, in (0, 1).

    Returns:
        The dimension, truncated to an int as scikit-learn does.

    Raises:
        TypeError: when ``n_points`` is not an int or ``eps`` not a real number.
        ValueError: when ``n_points < 2`` or ``eps`` is outside (0, 1).

    Reference:
        让人惊叹的Johnson-Lindenstrauss引理：理论篇, https://kexue.fm/archives/8679;
        S. Dasgupta, A. Gupta, "An elementary proof of a theorem of Johnson and
        Lindenstrauss" (2003).

    Example:
        >>> dasgupta_gupta_min_dim(200, 0.5)
        254
    """
    n_points = check_int(n_points, "n_points", 2)
    eps = _check_eps(eps)
    return int(4.0 * math.log(n_points) / (eps**2 / 2.0 - eps**3 / 3.0))


def head_size_rule(n_items: int, *, c: float = 8.33) -> int:
    r"""The minimum-entropy dimension rule $d=\lceil c\ln N\rceil$ with $c\approx 8.33$.

    Vectors of norm $\approx\sqrt d$ at random angles give the entropy estimate
    $H\approx\log N^2-0.24\,d$; asking $H<0$ gives $d>8.33\ln N$. For word vectors N is the
    vocabulary (N = 1e5 gives 96); for attention heads N is the sequence length (L = 512 gives 52,
    close to the usual 64). A heuristic for structured targets, not a guarantee.

    Args:
        n_items: vocabulary size or sequence length N (>= 2).
        c: the constant (default 8.33 = 2 / 0.24).

    Returns:
        $\lceil c\ln N\rceil$.

    Raises:
        TypeError: when ``n_items`` is not an int.
        ValueError: when ``n_items < 2`` or ``c <= 0``.

    Reference:
        最小熵原理（六）：词向量的维度应该怎么选择？, https://kexue.fm/archives/7695; applied to head
        size in 让人惊叹的Johnson-Lindenstrauss引理：应用篇, https://kexue.fm/archives/8706.

    Example:
        >>> head_size_rule(512), head_size_rule(100_000)
        (52, 96)
    """
    n_items = check_int(n_items, "n_items", 2)
    if isinstance(c, bool) or not isinstance(c, int | float):
        raise TypeError(f"c must be a real number, got {type(c).__name__}")
    if not c > 0:
        raise ValueError(f"c must be > 0, got {c}")
    return math.ceil(c * math.log(n_items))


def _sample_spec(
    generator: torch.Generator | None, dtype: torch.dtype | None
) -> tuple[torch.device, torch.dtype]:
    # Sample on the generator's device (a CPU generator cannot fill a CUDA tensor) and in float64
    # only for float64 targets, so a seed gives the same matrix whatever the compute device.
    device = generator.device if generator is not None else torch.device("cpu")
    return device, torch.float64 if dtype == torch.float64 else torch.float32


def gaussian_projection_matrix(
    in_features: int,
    out_features: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""Gaussian JL matrix $A\in\mathbb R^{n\times m}$ with iid $\mathcal N(0,1/n)$ entries.

    $\mathbb E\|Av\|^2=\|v\|^2$ and $\|Av\|^2/\|v\|^2\sim\chi^2_n/n$ for every fixed v.

    Args:
        in_features: input dimension m (>= 1).
        out_features: target dimension n (>= 1).
        generator: source of randomness (its device is where the numbers are drawn).
        dtype: dtype of the result (default: torch's default dtype).
        device: device of the result (default: the generator's device, else CPU).

    Shape:
        Output: ``(out_features, in_features)``; project with ``x @ A.T``.

    Returns:
        The projection matrix.

    Raises:
        TypeError: when a dimension is not an int.
        ValueError: when a dimension is < 1.

    Reference:
        让人惊叹的Johnson-Lindenstrauss引理：理论篇, https://kexue.fm/archives/8679.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> a = gaussian_projection_matrix(1000, 4000, generator=g)
        >>> a.pow(2).sum(0).mean().round(decimals=1)  # E|A e_i|^2 = 1
        tensor(1.)
    """
    check_int(in_features, "in_features", 1)
    check_int(out_features, "out_features", 1)
    dtype = dtype or torch.get_default_dtype()
    gen_device, sample_dtype = _sample_spec(generator, dtype)
    a = torch.randn(
        out_features, in_features, generator=generator, dtype=sample_dtype, device=gen_device
    )
    a = a.mul_(1.0 / math.sqrt(out_features))
    return a.to(device=device if device is not None else gen_device, dtype=dtype)


def sparse_projection_matrix(
    in_features: int,
    out_features: int,
    *,
    density: float | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""Sparse (Achlioptas / Li) JL matrix: entries $\pm1/\sqrt{s\,n}$ w.p. $s/2$ each, else 0.

    Same first two moments as the Gaussian matrix ($\mathbb E A_{ij}^2=1/n$), so it is a JL map too;
    $s=1$ gives Rademacher signs, $s=1/3$ Achlioptas, $s=1/\sqrt m$ (default, as scikit-learn's
    ``density='auto'``) the "very sparse" projection. Returned as a dense tensor.

    Args:
        in_features: input dimension m (>= 1).
        out_features: target dimension n (>= 1).
        density: fraction s of non-zero entries, in (0, 1]; default $1/\sqrt m$.
        generator: source of randomness.
        dtype: dtype of the result (default: torch's default dtype).
        device: device of the result (default: the generator's device, else CPU).

    Shape:
        Output: ``(out_features, in_features)``.

    Returns:
        The projection matrix.

    Raises:
        TypeError: when a dimension is not an int.
        ValueError: when a dimension is < 1 or ``density`` is outside (0, 1].

    Reference:
        让人惊叹的Johnson-Lindenstrauss引理：应用篇, https://kexue.fm/archives/8706; D. Achlioptas,
        "Database-friendly random projections" (2003); P. Li, T. Hastie, K. Church, "Very sparse
        random projections" (2006).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> a = sparse_projection_matrix(100, 50, density=0.25, generator=g)
        >>> a.abs().unique().numel()  # 0 and one magnitude
        2
    """
    check_int(in_features, "in_features", 1)
    check_int(out_features, "out_features", 1)
    s = _check_density(density, in_features)
    dtype = dtype or torch.get_default_dtype()
    u, gen_device = _sparse_uniforms(in_features, out_features, generator, dtype)
    # u < s/2 -> +value, s/2 <= u < s -> -value, else 0 (u == s/2 has probability zero)
    a = (s / 2 - u).sign_().mul_(u < s).mul_(1.0 / math.sqrt(s * out_features))
    return a.to(device=device if device is not None else gen_device, dtype=dtype)


def _check_density(density: object, in_features: int) -> float:
    s = 1.0 / math.sqrt(in_features) if density is None else density
    if isinstance(s, bool) or not isinstance(s, int | float):
        raise TypeError(f"density must be a real number, got {type(s).__name__}")
    if not 0.0 < s <= 1.0:
        raise ValueError(f"density must lie in (0, 1], got {s}")
    return float(s)


def _sparse_uniforms(
    in_features: int, out_features: int, generator: torch.Generator | None, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.device]:
    # The one draw both forms of the sparse matrix are read from (dense and CSR: same seed, same A).
    gen_device, sample_dtype = _sample_spec(generator, dtype)
    u = torch.rand(
        out_features, in_features, generator=generator, dtype=sample_dtype, device=gen_device
    )
    return u, gen_device


def _sparse_projection_csr(
    in_features: int,
    out_features: int,
    density: float | None,
    generator: torch.Generator | None,
    dtype: torch.dtype,
) -> torch.Tensor:
    """:func:`sparse_projection_matrix` (same draw, same entries) as a CPU CSR tensor."""
    s = _check_density(density, in_features)
    u, _ = _sparse_uniforms(in_features, out_features, generator, dtype)
    rows, cols = torch.nonzero(u < s, as_tuple=True)  # row-major order, as CSR wants
    values = (s / 2 - u[rows, cols]).sign_().mul_(1.0 / math.sqrt(s * out_features))
    crow = torch.zeros(out_features + 1, dtype=torch.int64)
    torch.cumsum(torch.bincount(rows, minlength=out_features), 0, out=crow[1:])
    with warnings.catch_warnings():  # torch warns once that CSR support is "beta"
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        return torch.sparse_csr_tensor(
            crow,
            cols,
            values.to(dtype),
            size=(out_features, in_features),
            check_invariants=False,
        )


def _projection_matrix(
    in_features: int,
    out_features: int,
    kind: str,
    density: float | None,
    generator: torch.Generator | None,
    dtype: torch.dtype | None,
    device: torch.device | str | None,
) -> torch.Tensor:
    if kind == "gaussian":
        if density is not None:
            raise ValueError("density applies only to kind='sparse'")
        return gaussian_projection_matrix(
            in_features, out_features, generator=generator, dtype=dtype, device=device
        )
    if kind == "sparse":
        return sparse_projection_matrix(
            in_features,
            out_features,
            density=density,
            generator=generator,
            dtype=dtype,
            device=device,
        )
    raise ValueError(f"kind must be 'gaussian' or 'sparse', got {kind!r}")


def _sparse_product_pays(
    x: torch.Tensor, density: float | None, generator: torch.Generator | None
) -> bool:
    # A CSR product beats the dense GEMM once A is sparse enough (measured on 1 CPU thread; see
    # bench/bench_d3_projection.py); MKL's CSR kernel takes float32/float64 on the CPU only.
    on_cpu = x.device.type == "cpu" and (generator is None or generator.device.type == "cpu")
    s = 1.0 / math.sqrt(x.shape[-1]) if density is None else density
    dense_enough = not isinstance(s, int | float) or isinstance(s, bool) or s > _CSR_MAX_DENSITY
    return on_cpu and x.dtype in (torch.float32, torch.float64) and not dense_enough


def check_points(x: object, name: str) -> torch.Tensor:
    """Require a non-empty, finite, floating tensor with at least one dimension (shared helper)."""
    t = check_floating(x, name)
    check_ndim(t, name, 1)
    check_nonempty(t, name)
    return check_finite(t, name)


def random_projection(
    x: torch.Tensor,
    out_features: int,
    *,
    kind: str = "gaussian",
    density: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Project points with a fresh JL matrix: $v\mapsto Av$ (Gaussian or sparse A).

    Args:
        x: points, one per row of the last dimension.
        out_features: target dimension n (>= 1); see :func:`jl_min_dim`.
        kind: ``"gaussian"`` (:func:`gaussian_projection_matrix`) or ``"sparse"``
            (:func:`sparse_projection_matrix`).
        density: non-zero fraction for ``kind="sparse"`` (default $1/\sqrt m$).
        generator: source of randomness; the same seed gives the same A as
            :class:`RandomProjection`.

    Shape:
        x: ``(..., in_features)``. Output: ``(..., out_features)``, dtype and device of x.

    Returns:
        The projected points ``x @ A.T``. For ``kind="sparse"`` with density <= 0.025 and float32/64
        CPU input, A is built in CSR form from the same draw and the product costs ~nnz(A) per
        point instead of a dense GEMM (equal to the dense product up to rounding).

    Raises:
        TypeError: when ``x`` is not a floating tensor or ``out_features`` not an int.
        ValueError: for empty/non-finite ``x``, ``out_features < 1``, an unknown ``kind`` or bad
            ``density``.

    Reference:
        让人惊叹的Johnson-Lindenstrauss引理：应用篇, https://kexue.fm/archives/8706.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> random_projection(torch.randn(5, 300), 64, generator=g).shape
        torch.Size([5, 64])
    """
    x = check_points(x, "x")
    if kind == "sparse" and _sparse_product_pays(x, density, generator):
        check_int(out_features, "out_features", 1)
        a = _sparse_projection_csr(x.shape[-1], out_features, density, generator, x.dtype)
        y = x.reshape(-1, x.shape[-1]) @ a.mT  # MKL's CSR product: work ~ nnz(A) per row of x
        return y.reshape(*x.shape[:-1], out_features)
    a = _projection_matrix(x.shape[-1], out_features, kind, density, generator, x.dtype, x.device)
    return x @ a.T


class RandomProjection(nn.Module):
    r"""A fixed JL projection layer $v\mapsto Av$ holding A as a (non-trainable) buffer.

    Args:
        in_features: input dimension m.
        out_features: target dimension n.
        kind: ``"gaussian"`` or ``"sparse"``.
        density: non-zero fraction for ``kind="sparse"``.
        generator: source of randomness for A (same seed, same A as :func:`random_projection`).
        device: device of A.
        dtype: dtype of A (inputs of another dtype are projected with A cast to theirs).

    Shape:
        Input ``(..., in_features)``; output ``(..., out_features)``.

    Reference:
        让人惊叹的Johnson-Lindenstrauss引理：应用篇, https://kexue.fm/archives/8706.

    Example:
        >>> layer = RandomProjection(300, 64, generator=torch.Generator().manual_seed(0))
        >>> layer(torch.randn(2, 300)).shape
        torch.Size([2, 64])
    """

    weight: torch.Tensor

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        kind: str = "gaussian",
        density: float | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", 1)
        self.out_features = check_int(out_features, "out_features", 1)
        self.kind = kind
        self.density = density
        self.register_buffer(
            "weight", torch.empty(out_features, in_features, device=device, dtype=dtype)
        )
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw a new projection matrix."""
        a = _projection_matrix(
            self.in_features,
            self.out_features,
            self.kind,
            self.density,
            generator,
            self.weight.dtype,
            self.weight.device,
        )
        with torch.no_grad():
            self.weight.copy_(a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_points(x, "x")
        if x.shape[-1] != self.in_features:
            raise ValueError(f"x must have {self.in_features} features, got shape {tuple(x.shape)}")
        return x @ self.weight.to(x.dtype).T

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, kind={self.kind}"
