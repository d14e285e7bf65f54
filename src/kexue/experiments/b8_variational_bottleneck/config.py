"""B8 sizes: the digits λ sweep and the Fashion-MNIST comparison."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FULL", "QUICK", "Config"]


@dataclass(frozen=True)
class Config:
    """Sizes of both parts.

    Attributes:
        lambdas: KL weights of the VIB models (a deterministic model is always added).
        n_seeds: seeds (split, initialisation, batches), starting at ``run``'s seed.
        n_train: digits training images (the rest are the test set).
        epochs: digits training epochs; batch_size, lr: Adam settings.
        hidden, latent: widths of the hidden layer and of z.
        noise_levels: std of Gaussian noise added to the standardised test inputs.
        noise_draws: noise draws averaged per level.
        reach_acc: test accuracy (mean over seeds) whose first epoch is reported (convergence).
        fashion: run part 2; fashion_train / fashion_test: subset sizes; fashion_epochs,
            fashion_batch, fashion_betas: its schedule and VIB weights; fashion_noise: pixel-noise
            stds (pixels in [0, 1]).
    """

    lambdas: tuple[float, ...] = (0.0, 1e-3, 1e-2, 1e-1, 1.0)
    n_seeds: int = 4
    n_train: int = 300
    epochs: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    hidden: int = 128
    latent: int = 32
    noise_levels: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5)
    noise_draws: int = 5
    reach_acc: float = 0.93
    fashion: bool = True
    fashion_train: int = 4000
    fashion_test: int = 2000
    fashion_epochs: int = 6
    fashion_batch: int = 100
    fashion_betas: tuple[float, ...] = (1e-3, 1e-2)
    fashion_noise: tuple[float, ...] = (0.0, 0.2, 0.4)


QUICK = Config(lambdas=(0.0, 1e-2, 1.0), n_seeds=2, epochs=60, noise_draws=2, fashion=False)
FULL = Config()
