"""Shared argument checks name the argument and the fix."""

from __future__ import annotations

import pytest
import torch

from kexue import _validate as v


def test_check_tensor_type() -> None:
    with pytest.raises(TypeError, match="logits must be a torch.Tensor, got list"):
        v.check_tensor([1.0], "logits")


def test_check_floating() -> None:
    with pytest.raises(TypeError, match="cov must be a floating-point"):
        v.check_floating(torch.ones(2, dtype=torch.int64), "cov")
    x = torch.ones(2, dtype=torch.float16)
    assert v.check_floating(x, "x") is x


def test_check_finite() -> None:
    with pytest.raises(ValueError, match="mean contains 2 NaN"):
        v.check_finite(torch.tensor([float("nan"), 1.0, float("inf")]), "mean")
    v.check_finite(torch.tensor([1, 2]), "ints")  # integers are always finite


def test_check_nonempty_and_ndim() -> None:
    with pytest.raises(ValueError, match="x is empty"):
        v.check_nonempty(torch.zeros(0, 3), "x")
    with pytest.raises(ValueError, match="cov must have at least 2 dimensions"):
        v.check_ndim(torch.zeros(3), "cov", 2)
    with pytest.raises(ValueError, match="1..2"):
        v.check_ndim(torch.zeros(1, 1, 1), "w", 1, 2)


def test_check_same_shape() -> None:
    with pytest.raises(ValueError, match="a and b must have the same shape"):
        v.check_same_shape(torch.zeros(2), torch.zeros(3), ("a", "b"))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_check_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="eps must be > 0"):
        v.check_positive(bad, "eps")
    assert v.check_positive(0.0, "eps", allow_zero=True) == 0.0
    with pytest.raises(TypeError, match="eps must be a real number"):
        v.check_positive(True, "eps")


def test_check_reduction_and_compute_dtype() -> None:
    assert v.check_reduction("sum") == "sum"
    with pytest.raises(ValueError, match="reduction must be one of"):
        v.check_reduction("avg")
    with pytest.raises(TypeError, match="reduction must be a string"):
        v.check_reduction(None)
    with pytest.raises(ValueError, match="'mean', 'sum', 'none', got 'avg'"):
        v.check_reduction("avg")
    assert v.compute_dtype(torch.zeros(1, dtype=torch.bfloat16)) == torch.float32
    assert v.compute_dtype(torch.zeros(1, dtype=torch.float64)) == torch.float64


def test_reduce_loss() -> None:
    loss = torch.tensor([1.0, 2.0, 6.0])
    assert v.reduce_loss(loss, "none") is loss
    assert float(v.reduce_loss(loss, "sum")) == 9.0
    assert float(v.reduce_loss(loss, "mean")) == 3.0
    assert float(v.reduce_loss(loss, "mean", torch.tensor(4.5))) == 2.0
    assert float(v.reduce_loss(loss * 0, "mean", torch.tensor(0.0))) == 0.0  # all ignored: not NaN
    with pytest.raises(ValueError, match="reduction must be one of"):
        v.reduce_loss(loss, "avg")
    with pytest.raises(TypeError, match="reduction must be a string"):
        v.reduce_loss(loss, None)  # type: ignore[arg-type]


def test_one_reduction_helper() -> None:
    """Every loss reduces through kexue._validate.reduce_loss: no private copies left."""
    import re
    from pathlib import Path

    src = Path(v.__file__).parent
    copies = [
        str(p.relative_to(src))
        for p in sorted(src.rglob("*.py"))
        if p.name != "_validate.py"
        and re.search(r"def _?reduce\w*\(|reduction == \"", p.read_text(encoding="utf-8"))
    ]
    assert not copies, f"reduction handled outside kexue._validate: {copies}"
