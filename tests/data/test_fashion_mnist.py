"""Tests for the Fashion-MNIST idx loader (Debian package dataset-fashion-mnist)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from kexue.data import DataNotFoundError
from kexue.data.fashion_mnist import available, load_fashion_mnist, read_idx


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _fake_root(tmp_path: Path, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    for prefix in ("train", "t10k"):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return images, labels


def test_reads_idx_round_trip(tmp_path: Path) -> None:
    images, labels = _fake_root(tmp_path)
    got_x, got_y = load_fashion_mnist("test", root=tmp_path)
    np.testing.assert_array_equal(got_x, images)
    np.testing.assert_array_equal(got_y, labels)
    assert available(tmp_path)


def test_bad_idx_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x08\x03\x00\x00")
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    short = tmp_path / "short.gz"
    with gzip.open(short, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x01\x02")
    with pytest.raises(ValueError, match="shape"):
        read_idx(short)


def test_missing_names_debian_package(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="dataset-fashion-mnist"):
        load_fashion_mnist("train", root=tmp_path)
    assert not available(tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("valid")  # type: ignore[arg-type]


@pytest.mark.skipif(not available(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_test_split() -> None:
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 1000))
