"""B3 sizes and the weighting schemes compared."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FULL", "QUICK", "SCALE_INVARIANT", "SCHEMES", "Config"]

SCHEMES = (
    "equal",
    "initial",
    "prior",
    "realtime",
    "generalized_mean",
    "uncertainty",
    "gradient_normalized",
)
SCALE_INVARIANT = ("initial", "prior", "realtime", "gradient_normalized")


@dataclass(frozen=True)
class Config:
    """Training sizes (full-batch SGD on the digits train split).

    Attributes:
        steps, lr: full-batch SGD; hidden: width of the shared tanh trunk.
        test_fraction: held-out share of the digits (stratified).
        scale, shift: the change of units ``L_B × scale`` and the shift ``L_B + shift``.
        gamma: generalised mean power (0 = geometric).
        compare_at: steps over which the ×scale / +shift trajectories are compared (gated).
        n_seeds: seeds (split and initialisation), starting at ``run``'s seed.
        schemes: the weighting schemes run (a subset of ``SCHEMES``).
        scale_down: also rerun the non-invariant schemes with ``L_B / scale``.
        train_size: subsample the training split (``None``: all of it).
    """

    steps: int = 600
    lr: float = 0.05
    hidden: int = 64
    test_fraction: float = 0.3
    scale: float = 1000.0
    shift: float = 100.0
    gamma: float = 0.0
    compare_at: int = 300
    n_seeds: int = 1
    schemes: tuple[str, ...] = SCHEMES
    scale_down: bool = True
    train_size: int | None = None


QUICK = Config(
    train_size=600,
    compare_at=50,
    schemes=("equal", "realtime", "gradient_normalized"),
    scale_down=False,
)
FULL = Config()
