"""Optional dependencies: a missing one raises an ImportError that names the extra to install.

kexue's core needs only torch, NumPy and tqdm. Components that build on SciPy, scikit-learn, POT,
safetensors or tokenizers import them inside :func:`requires`::

    with requires("ref"):
        from sklearn.base import BaseEstimator

so that a user without the package reads ``pip install "kexue[ref]"`` instead of a bare
``ModuleNotFoundError: No module named 'sklearn'``. The import statements stay ordinary imports
(type checkers and editors see them as usual).
"""

from __future__ import annotations

import sys
from types import TracebackType

__all__ = ["EXTRAS", "MissingExtraError", "requires"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "report": ("matplotlib", "latex2mathml"),
    "ref": ("scipy", "pot", "scikit-learn"),
    "data": ("safetensors", "tokenizers"),
}
"""The extras of ``pyproject.toml`` that components depend on, with their distributions."""

_DISTRIBUTIONS = {"sklearn": "scikit-learn", "ot": "pot"}
"""Import names whose PyPI distribution is called differently."""


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency of a kexue component is not installed.

    A :class:`ModuleNotFoundError`, so ``except ImportError`` and ``pytest.importorskip`` still work.

    Attributes:
        extra: the kexue extra that installs it (``"ref"``).
        name: the missing module (``"sklearn"``).
    """

    def __init__(self, message: str, *, extra: str, name: str) -> None:
        super().__init__(message, name=name)
        self.extra = extra


class _Requires:
    def __init__(self, extra: str, component: str) -> None:
        self.extra, self.component = extra, component

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not isinstance(exc, ModuleNotFoundError) or isinstance(exc, MissingExtraError):
            return
        module = (exc.name or "").partition(".")[0]
        if not module or module == "kexue":  # a bug in kexue, not a missing dependency
            return
        dist = _DISTRIBUTIONS.get(module, module)
        raise MissingExtraError(
            f"{self.component} needs {dist} (import name {module!r}), which is not installed; "
            f'install it with: pip install "kexue[{self.extra}]" '
            '(or "kexue[all]" for everything the reproductions need)',
            extra=self.extra,
            name=module,
        ) from exc


def requires(extra: str) -> _Requires:
    """A ``with`` block whose missing imports raise :class:`MissingExtraError` naming ``extra``.

    Args:
        extra: the kexue extra that provides the imports in the block (a key of :data:`EXTRAS`).

    Raises:
        ValueError: ``extra`` is not one of kexue's extras (at once, not on a failed import).

    Example:
        >>> with requires("ref"):
        ...     import scipy.special
        >>> float(scipy.special.expit(0.0))
        0.5
    """
    if extra not in EXTRAS:
        raise ValueError(f"extra must be one of {', '.join(EXTRAS)}, got {extra!r}")
    component = sys._getframe(1).f_globals.get("__name__", "kexue")
    return _Requires(extra, component)
