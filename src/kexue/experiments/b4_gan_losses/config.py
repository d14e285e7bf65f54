"""B4 sizes: the divergence estimate, the toy GANs and latent MALA."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FULL", "LOSSES", "QUICK", "TOYS", "Config"]

LOSSES = ("wgan-div 1:1", "wgan-div", "wgan-gp", "energy+MI", "energy")
TOYS = ("8gaussians", "25gaussians", "spiral")


@dataclass(frozen=True)
class Config:
    """Sizes of the three parts.

    Attributes:
        toys: toy sets for the WGAN losses (``"8gaussians"``, ``"25gaussians"``, ``"spiral"``).
        one_to_one_toys: toy sets for ``"wgan-div 1:1"`` (the author's 1 critic : 1 generator
            update recipe).
        energy_toys: toy sets for the two energy-view runs (1:1).
        losses: objectives trained (a subset of ``LOSSES``).
        n_seeds: seeds per (toy, loss), starting at ``run``'s seed.
        iterations: generator updates of the 1:1 runs (``"wgan-div 1:1"``, energy view).
        pair_iterations: generator updates of the ``n_critic``:1 pair ``"wgan-div"``/``"wgan-gp"``.
        n_critic: critic updates per generator update of ``"wgan-div"`` and ``"wgan-gp"``.
        batch_size: samples per update (real and fake).
        width: hidden width of the 2-layer MLPs (G, D and the encoder).
        lr: Adam learning rate, betas (0.5, 0.9), for G and D alike.
        decay_start: fraction of the iterations after which both learning rates decay linearly
            to 0 (1.0: constant).
        sigma: standard deviation of each toy's noise; "high quality" means within 4σ of the data
            manifold (a mode centre or the spiral's curve).
        k, p: WGAN-div penalty; gp_weight: WGAN-GP λ; score_weight: energy-view score penalty λ;
            mi_weight: the encoder term λ₂ of ``energy+MI``.
        n_eval: generated samples for the mode statistics; n_w2: samples per side for ``emd2``.
        mala_steps, mala_step: latent MALA length and step size ε.
        div_mus: means μ for the 1-D divergence estimate; div_steps, div_batch: its Adam steps
            and batch size.
    """

    toys: tuple[str, ...] = TOYS
    one_to_one_toys: tuple[str, ...] = ("8gaussians",)
    energy_toys: tuple[str, ...] = ("8gaussians",)
    losses: tuple[str, ...] = LOSSES
    n_seeds: int = 3
    iterations: int = 1500
    pair_iterations: int = 1000
    n_critic: int = 5
    batch_size: int = 128
    width: int = 64
    lr: float = 1e-3
    decay_start: float = 0.5
    sigma: float = 0.05
    k: float = 2.0
    p: float = 6.0
    gp_weight: float = 0.1
    score_weight: float = 0.1
    mi_weight: float = 1.0
    n_eval: int = 2000
    n_w2: int = 1000
    mala_steps: int = 50
    mala_step: float = 0.01
    div_mus: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    div_steps: int = 300
    div_batch: int = 512

    def toys_of(self, loss: str) -> tuple[str, ...]:
        """The toy sets ``loss`` trains on."""
        if loss.startswith("energy"):
            return self.energy_toys
        return self.one_to_one_toys if loss == "wgan-div 1:1" else self.toys


QUICK = Config(
    toys=("8gaussians",), losses=("wgan-div 1:1", "energy+MI"), n_seeds=1, iterations=200,
    decay_start=1.0, n_eval=1000, n_w2=400, mala_steps=10, mala_step=0.05, div_steps=100,
    div_batch=256,
)  # fmt: skip
FULL = Config()
