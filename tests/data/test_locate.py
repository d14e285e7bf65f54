"""Offline data resolution: shipped files, the $KEXUE_DATA_DIR override, checksums, clear errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kexue.data import locate


def test_every_dataset_ships_with_source_and_checksums() -> None:
    for dataset in locate.DATASETS:
        folder = locate.shipped_dir() / dataset
        source = (folder / "SOURCE.md").read_text(encoding="utf-8")
        assert "icen" in source, f"{dataset}/SOURCE.md states no licence"
        checks = locate.verify_checksums(dataset)
        assert checks and all(checks.values()), f"{dataset}: checksum mismatch {checks}"


def test_checksum_mismatch_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stsb").mkdir()
    (tmp_path / "stsb" / "a.txt").write_text("x")
    (tmp_path / "stsb" / "SHA256SUMS").write_text("0" * 64 + "  a.txt\n")
    monkeypatch.setattr(locate, "shipped_dir", lambda: tmp_path)
    assert locate.verify_checksums("stsb") == {"a.txt": False}


def test_shipped_file_read_without_the_shared_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(locate.ENV_VAR, raising=False)
    path = locate.data_file("stsb", "sts-test.csv")
    assert path.is_relative_to(locate.shipped_dir()) and path.suffix == ".gz"
    assert locate.read_text("stsb", "sts-test.csv").startswith("main-captions")


def test_locator_never_looks_beside_the_checkout() -> None:
    source = Path(locate.__file__).read_text(encoding="utf-8")
    assert "shared" not in source.replace("shared/", "")  # no shared folder lookup in code
    assert "parents" not in source


def test_env_override_wins_plain_or_gz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stsb").mkdir()
    (tmp_path / "stsb" / "sts-dev.csv").write_text("mine\n", encoding="utf-8")
    (tmp_path / "stsb" / "sts-test.csv.gz").write_bytes(gzip.compress(b"zipped\n"))
    monkeypatch.setenv(locate.ENV_VAR, str(tmp_path))
    assert locate.read_text("stsb", "sts-dev.csv") == "mine\n"
    assert locate.read_text("stsb", "sts-test.csv") == "zipped\n"
    # a file absent from the override folder comes from the package
    assert locate.data_file("stsb", "sts-train.csv").is_relative_to(locate.shipped_dir())


def test_env_override_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(locate.ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(locate.DataNotFoundError, match=locate.ENV_VAR):
        locate.data_file("stsb", "sts-test.csv")


def test_missing_file_names_it() -> None:
    with pytest.raises(locate.DataNotFoundError, match="ape210k/train.ape.json"):
        locate.data_file("ape210k", "train.ape.json")


def test_unknown_dataset_lists_known() -> None:
    with pytest.raises(ValueError, match="dataset must be one of stsb"):
        locate.data_file("imagenet", "x")


def test_missing_package_names_pip_install() -> None:
    with pytest.raises(locate.MissingDataError, match="pip install no-such-pkg") as info:
        locate.package_file("no_such_pkg_kexue", "x.txt", pip_name="no-such-pkg")
    assert info.value.install == "pip install no-such-pkg"


def test_package_file_found_without_import() -> None:
    path = locate.package_file("json", "decoder.py")
    assert path.exists()


def test_missing_debian_file_names_package() -> None:
    with pytest.raises(locate.MissingDataError, match="apt-get install some-pkg") as info:
        locate.debian_file("/nonexistent/kexue/file", "some-pkg")
    assert info.value.install == "apt-get install some-pkg"
    assert isinstance(info.value, locate.DataNotFoundError)


def test_unknown_source_lists_known() -> None:
    with pytest.raises(KeyError, match="minilm"):
        locate.source_path("imagenet")


def test_a_shared_folder_beside_the_checkout_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The layout of this project's machines (``<root>/../shared/data``) must not be read."""
    bogus = tmp_path / "shared" / "data" / "stsb"
    bogus.mkdir(parents=True)
    (bogus / "sts-test.csv").write_text("bogus\tline\n", encoding="utf-8")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.chdir(checkout)
    monkeypatch.delenv(locate.ENV_VAR, raising=False)
    assert locate.data_file("stsb", "sts-test.csv").is_relative_to(locate.shipped_dir())
    assert "bogus" not in locate.read_text("stsb", "sts-test.csv")
