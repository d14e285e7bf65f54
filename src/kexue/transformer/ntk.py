r"""NTK parameterisation: O(1) weights, the 1/√fan-in moved from the init into the forward pass.

:math:`y_j=b_j+\frac1{\sqrt m}\sum_i x_iw_{ij}` with :math:`w_{ij}\sim\mathcal N(0,1)` has the
forward statistics of LeCun init, but every parameter is :math:`O(1)`, so with Adam (steps of size
≈ lr per coordinate) the learning rate reads as a relative change per step: 1e-2 ≈ 1 %.

Reference:
    Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620 ;
    Jacot et al., "Neural Tangent Kernel", NeurIPS 2018.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from kexue._validate import check_floating, check_ndim, check_tensor
from kexue.nn.init import trunc_normal_

__all__ = ["NTKLinear", "ntk_linear"]


def ntk_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Linear layer in NTK parameterisation, :math:`y = b + x W^\top/\sqrt{m}`, :math:`m` = fan-in.

    With :math:`W_{ij}\sim\mathcal N(0,1)` the forward statistics equal LeCun init, but every
    parameter is :math:`O(1)`, so an Adam learning rate reads as a relative change per step.

    Args:
        x: ``(..., m)``. weight: ``(n, m)``, O(1) entries. bias: ``(n,)`` or ``None``.

    Returns:
        ``(..., n)`` in the dtype of ``x``.

    Raises:
        TypeError: non-floating input. ValueError: ``x``'s last dim differs from ``weight``'s, or
            the fan-in is 0 (``0 / sqrt(0)`` would be NaN).

    Reference:
        Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620 ;
        Jacot et al., "Neural Tangent Kernel", NeurIPS 2018.

    Example:
        >>> ntk_linear(torch.ones(1, 4), torch.ones(2, 4))
        tensor([[2., 2.]])
    """
    check_ndim(check_floating(x, "x"), "x", 1)
    check_ndim(check_floating(weight, "weight"), "weight", 2, 2)
    if weight.shape[1] == 0:
        raise ValueError(
            "weight has fan-in 0 (shape (n, 0)); the 1/sqrt(fan-in) scale is undefined"
        )
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"x has last dim {x.shape[-1]} but weight expects {weight.shape[1]}")
    if bias is not None and check_tensor(bias, "bias").shape != weight.shape[:1]:
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    return F.linear(x, weight, None) / math.sqrt(weight.shape[1]) + (0 if bias is None else bias)


class NTKLinear(nn.Module):
    """``nn.Linear`` in NTK parameterisation: unit-variance weights, output scaled by 1/√fan-in.

    Weights start from :func:`trunc_normal_` with std 1 (variance-corrected), biases at zero.

    Raises:
        TypeError: ``in_features``/``out_features`` not an int. ValueError: either is < 1 (a zero
            fan-in would make the 1/√fan-in scale ``0/0 = NaN``).

    Reference:
        Su Jianlin, "浅谈Transformer的初始化、参数化与标准化", https://kexue.fm/archives/8620

    Example:
        >>> NTKLinear(8, 3)(torch.randn(5, 8)).shape
        torch.Size([5, 3])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        for v, name in ((in_features, "in_features"), (out_features, "out_features")):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{name} must be an int, got {type(v).__name__}")
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        super().__init__()
        self.weight = nn.Parameter(
            torch.empty(out_features, in_features, device=device, dtype=dtype)
        )
        self.bias = (
            nn.Parameter(torch.empty(out_features, device=device, dtype=dtype)) if bias else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Unit-variance truncated-normal weights, zero bias."""
        trunc_normal_(self.weight, std=1.0)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply :func:`ntk_linear`."""
        return ntk_linear(x, self.weight, self.bias)
