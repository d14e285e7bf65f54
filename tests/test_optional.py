"""A missing optional dependency raises an ImportError that names the kexue extra to install."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from kexue._optional import EXTRAS, MissingExtraError, requires


def _hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import <module>`` fail as if the package were not installed."""
    for name in list(sys.modules):
        if any(name == m or name.startswith(f"{m}.") for m in modules):
            monkeypatch.delitem(sys.modules, name)
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)


def _forget(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Drop kexue modules from the import cache so the next import runs them again."""
    for name in modules:
        if name in sys.modules:
            monkeypatch.delitem(sys.modules, name)


def test_missing_module_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "sklearn")
    with pytest.raises(MissingExtraError) as info, requires("ref"):
        import sklearn  # noqa: F401
    err = info.value
    assert isinstance(err, ImportError) and err.extra == "ref" and err.name == "sklearn"
    message = str(err)
    assert 'pip install "kexue[ref]"' in message and "scikit-learn" in message
    assert "kexue[all]" in message and __name__ in message  # the component that needs it


def test_other_errors_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModuleNotFoundError) as info, requires("ref"):
        import kexue.no_such_module  # noqa: F401
    assert not isinstance(info.value, MissingExtraError)  # a bug in kexue is not a missing extra
    with pytest.raises(ZeroDivisionError), requires("ref"):
        1 / 0  # noqa: B018
    with requires("data"):
        pass


def test_unknown_extra_is_rejected() -> None:
    with pytest.raises(ValueError, match="extra must be one of"):
        requires("everything")


def test_extras_match_pyproject() -> None:
    import tomllib

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    for extra, dists in EXTRAS.items():
        declared = " ".join(extras[extra]).lower()
        assert all(d in declared for d in dists), f"{extra}: {dists} vs {extras[extra]}"
    assert extras["all"] == [f"kexue[{','.join(EXTRAS)}]"]  # everything the reproductions need
    assert "kexue[all]" in extras["dev"]


@pytest.mark.parametrize("missing", ["sklearn", "scipy"])
def test_analytic_classifier_without_ref(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    _hide(monkeypatch, missing)
    _forget(monkeypatch, "kexue.models", "kexue.models.analytic_classifier")
    with pytest.raises(
        ImportError, match=r"kexue\.models\.analytic_classifier needs .*kexue\[ref\]"
    ):
        importlib.import_module("kexue.models")


def test_random_features_without_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    from kexue.transformer.random_features import gaussian_orthogonal_random_matrix

    _hide(monkeypatch, "scipy")
    gaussian_orthogonal_random_matrix(4, 3, scaling="fixed")  # needs no scipy
    with pytest.raises(ImportError, match=r"random_features needs scipy.*kexue\[ref\]"):
        gaussian_orthogonal_random_matrix(4, 3, scaling="qmc")


@pytest.mark.parametrize("missing", ["safetensors", "tokenizers"])
def test_pretrained_without_data_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, missing: str
) -> None:
    from kexue.transformer.pretrained import BertTokenizer, load_pretrained

    _hide(monkeypatch, missing)
    with pytest.raises(ImportError, match=rf"pretrained needs {missing}.*kexue\[data\]"):
        if missing == "safetensors":
            load_pretrained(tmp_path)
        else:
            BertTokenizer(tmp_path / "tokenizer.json")
