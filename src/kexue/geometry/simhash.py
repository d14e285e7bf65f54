r"""SimHash: locality-sensitive hashing for cosine similarity by signs of random projections.

Corrects the JL application article: the cosine of two sign codes estimates $1-2\theta/\pi$, not
$\cos\theta$; :func:`simhash_cosine` returns the consistent estimator $\cos(\pi h)$.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from kexue.geometry.projection import (
    RandomProjection,
    check_int,
    check_points,
    gaussian_projection_matrix,
)

__all__ = ["SimHash", "sign_cosine", "simhash", "simhash_cosine"]


def simhash(
    x: torch.Tensor, n_bits: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""SimHash codes: signs of Gaussian random projections, $s=\mathrm{sign}(Wv)\in\{\pm1\}^b$.

    For two vectors at angle θ each bit differs with probability $\theta/\pi$, so the Hamming
    fraction h estimates $\theta/\pi$ and :func:`simhash_cosine` returns $\cos(\pi h)$. Zero
    projections map to +1.

    Args:
        x: vectors (the hash depends only on their directions).
        n_bits: code length b (>= 1; the code may be longer than the input dimension).
        generator: source of the hyperplanes; use the same one for every set you compare.

    Shape:
        x: ``(..., in_features)``. Output: ``(..., n_bits)`` of ±1 in x's dtype.

    Returns:
        The ±1 codes.

    Raises:
        TypeError: when ``x`` is not a floating tensor or ``n_bits`` not an int.
        ValueError: for empty/non-finite ``x`` or ``n_bits < 1``.

    Reference:
        让人惊叹的Johnson-Lindenstrauss引理：应用篇, https://kexue.fm/archives/8706; M. Charikar,
        "Similarity estimation techniques from rounding algorithms" (2002).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> simhash(torch.tensor([[1.0, 0.0], [2.0, 0.0]]), 8, generator=g).unique(dim=0).shape[0]
        1
    """
    x = check_points(x, "x")
    check_int(n_bits, "n_bits", 1)
    w = gaussian_projection_matrix(x.shape[-1], n_bits, generator=generator, dtype=x.dtype)
    return _signs(x @ w.to(x.device).T)


def _signs(z: torch.Tensor) -> torch.Tensor:
    return torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


def _check_codes(a: object, b: object) -> tuple[torch.Tensor, torch.Tensor]:
    ta = check_points(a, "codes_a")
    tb = check_points(b, "codes_b")
    if ta.shape[-1] != tb.shape[-1]:
        raise ValueError(
            f"codes_a and codes_b must have the same code length, got {ta.shape[-1]} and "
            f"{tb.shape[-1]}"
        )
    for t, name in ((ta, "codes_a"), (tb, "codes_b")):
        if bool((t.abs() != 1).any()):
            raise ValueError(f"{name} must hold ±1 codes (as returned by simhash)")
    return ta, tb


def sign_cosine(codes_a: torch.Tensor, codes_b: torch.Tensor) -> torch.Tensor:
    r"""Cosine of two sign codes, $\langle s_a,s_b\rangle/b=1-2h$: an estimate of $1-2\theta/\pi$.

    The article equates this with $\cos\theta$; that is wrong (at θ = 45° it is 0.5, not 0.707).
    It is kept as the unbiased estimate of $1-2\theta/\pi$; use :func:`simhash_cosine` for cos θ.

    Args:
        codes_a: ±1 codes from :func:`simhash`.
        codes_b: ±1 codes made with the same hyperplanes; broadcasts against ``codes_a``.

    Shape:
        ``(..., n_bits)`` each; output: the broadcast leading shape.

    Returns:
        $1-2h$ with h the Hamming fraction.

    Raises:
        TypeError: when a code tensor is not floating.
        ValueError: for codes that are not ±1, empty, or of different lengths.

    Reference:
        让人惊叹的Johnson-Lindenstrauss引理：应用篇, https://kexue.fm/archives/8706 (corrected).

    Example:
        >>> sign_cosine(torch.tensor([1.0, 1, -1, 1]), torch.tensor([1.0, -1, -1, 1]))
        tensor(0.5000)
    """
    a, b = _check_codes(codes_a, codes_b)
    return (a * b).mean(-1)


def simhash_cosine(codes_a: torch.Tensor, codes_b: torch.Tensor) -> torch.Tensor:
    r"""SimHash cosine estimate $\cos(\pi h)$, h = fraction of differing bits.

    Corrects the article, which reads $\cos(\mathrm{sign}(Av_i),\mathrm{sign}(Av_j))$ as
    $\cos\theta$: since $P(\text{bit differs})=\theta/\pi$, $\cos(\pi h)$ is the consistent
    estimator of $\cos\theta$ (standard error $\approx\pi\sin\theta\sqrt{p(1-p)/b}$,
    $p=\theta/\pi$).

    Args:
        codes_a: ±1 codes from :func:`simhash`.
        codes_b: ±1 codes made with the same hyperplanes; broadcasts against ``codes_a``.

    Shape:
        ``(..., n_bits)`` each; output: the broadcast leading shape.

    Returns:
        The cosine estimate in [-1, 1].

    Raises:
        TypeError: when a code tensor is not floating.
        ValueError: for codes that are not ±1, empty, or of different lengths.

    Reference:
        让人惊叹的Johnson-Lindenstrauss引理：应用篇, https://kexue.fm/archives/8706 (corrected);
        M. Charikar, "Similarity estimation techniques from rounding algorithms" (2002).

    Example:
        >>> simhash_cosine(torch.tensor([1.0, 1, -1, 1]), torch.tensor([1.0, -1, -1, 1]))
        tensor(0.7071)
    """
    a, b = _check_codes(codes_a, codes_b)
    h = (1.0 - (a * b).mean(-1)) / 2.0
    return torch.cos(math.pi * h)


class SimHash(nn.Module):
    r"""SimHash layer: fixed Gaussian hyperplanes, output $\mathrm{sign}(Wv)\in\{\pm1\}^b$.

    Args:
        in_features: input dimension.
        n_bits: code length.
        generator: source of the hyperplanes (same seed, same codes as :func:`simhash`).
        device: device of the hyperplanes.
        dtype: dtype of the hyperplanes.

    Shape:
        Input ``(..., in_features)``; output ``(..., n_bits)`` of ±1 in the input's dtype.

    Reference:
        让人惊叹的Johnson-Lindenstrauss引理：应用篇, https://kexue.fm/archives/8706.

    Example:
        >>> hasher = SimHash(3, 16, generator=torch.Generator().manual_seed(0))
        >>> codes = hasher(torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.1]]))
        >>> float(simhash_cosine(codes[0], codes[1]))
        1.0
    """

    def __init__(
        self,
        in_features: int,
        n_bits: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_int(n_bits, "n_bits", 1)
        self.projection = RandomProjection(
            in_features, n_bits, generator=generator, device=device, dtype=dtype
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _signs(self.projection(x))
