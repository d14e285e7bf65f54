"""Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (idx files, never downloaded).

The package installs ``/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``:
60,000 training and 10,000 test images of 28x28 grey-scale clothing, 10 balanced classes.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Literal

import numpy as np

from kexue.data.locate import DataNotFoundError, debian_file

__all__ = ["CLASSES", "DEBIAN_PACKAGE", "ROOT", "available", "load_fashion_mnist", "read_idx"]

DEBIAN_PACKAGE = "dataset-fashion-mnist"
ROOT = "/usr/share/datasets/fashion-mnist"
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: str | Path) -> np.ndarray:
    """Parse one (optionally gzipped) idx file of unsigned bytes into an array.

    The format is a 4-byte magic ``0x00 0x00 0x08 ndim`` (0x08 = unsigned byte), then ``ndim``
    big-endian uint32 sizes, then the data in C order.

    Raises:
        ValueError: a bad magic number, an unsupported element type, or a size mismatch.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an idx file (bad magic number)")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: only unsigned-byte idx files are supported, type 0x{raw[2]:02x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">u4"))
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} but holds {data.size} bytes of data")
    return data.reshape(shape)


def load_fashion_mnist(
    split: Literal["train", "test"] = "train", *, root: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of Fashion-MNIST.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        root: folder holding the idx ``.gz`` files; default the Debian package's folder.

    Returns:
        ``(images, labels)``: uint8 arrays of shape ``(n, 28, 28)`` and ``(n,)``, labels in 0..9
        (names in :data:`CLASSES`).

    Raises:
        ValueError: an unknown ``split``.
        DataNotFoundError: the files are missing (install the Debian package
            ``dataset-fashion-mnist``).
    """
    if split not in _PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = ROOT if root is None else str(root)
    names = [f"{_PREFIX[split]}-images-idx3-ubyte.gz", f"{_PREFIX[split]}-labels-idx1-ubyte.gz"]
    paths = [debian_file(f"{folder}/{name}", DEBIAN_PACKAGE) for name in names]
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    return images, labels


def available(root: str | Path | None = None) -> bool:
    """Whether both splits of Fashion-MNIST are on this machine."""
    try:
        for split in ("train", "test"):
            for kind in ("images-idx3", "labels-idx1"):
                name = f"{_PREFIX[split]}-{kind}-ubyte.gz"
                debian_file(f"{ROOT if root is None else root}/{name}", DEBIAN_PACKAGE)
    except DataNotFoundError:
        return False
    return True
