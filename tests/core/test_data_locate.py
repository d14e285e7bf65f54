"""Offline data resolution: env override, shared folder discovery, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kexue.data import locate


def test_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stsb").mkdir()
    monkeypatch.setenv(locate.ENV_VAR, str(tmp_path))
    assert locate.shared_data_dir() == tmp_path
    assert locate.source_path("stsb") == tmp_path / "stsb"


def test_env_override_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(locate.ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(locate.DataNotFoundError, match=locate.ENV_VAR):
        locate.shared_data_dir()


def test_missing_file_in_shared_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(locate.ENV_VAR, str(tmp_path))
    with pytest.raises(locate.DataNotFoundError, match="ape210k"):
        locate.shared_file("ape210k", "valid.ape.json")


def test_shared_folder_found_beside_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(locate.ENV_VAR, raising=False)
    try:
        path = locate.shared_data_dir()
    except locate.DataNotFoundError:
        pytest.skip("no shared/data beside this checkout")
    assert path.name == "data" and path.parent.name == "shared"


def test_missing_package_names_pip_install() -> None:
    with pytest.raises(locate.DataNotFoundError, match="pip install no-such-pkg"):
        locate.package_file("no_such_pkg_kexue", "x.txt", pip_name="no-such-pkg")


def test_package_file_found_without_import() -> None:
    path = locate.package_file("json", "decoder.py")
    assert path.exists()


def test_missing_debian_file_names_package() -> None:
    with pytest.raises(locate.DataNotFoundError, match="apt-get install some-pkg"):
        locate.debian_file("/nonexistent/kexue/file", "some-pkg")


def test_unknown_source_lists_known() -> None:
    with pytest.raises(KeyError, match="stsb"):
        locate.source_path("imagenet")
