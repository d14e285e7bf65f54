"""Offline access to the bundled data (never downloads; see :mod:`kexue.data.locate`)."""

from kexue.data.locate import (
    ENV_VAR,
    SOURCES,
    DataNotFoundError,
    debian_file,
    package_file,
    shared_data_dir,
    shared_file,
    source_path,
)

__all__ = [
    "ENV_VAR",
    "SOURCES",
    "DataNotFoundError",
    "debian_file",
    "package_file",
    "shared_data_dir",
    "shared_file",
    "source_path",
]
