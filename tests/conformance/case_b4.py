"""Conformance cases for B4: WGAN-div / WGAN-GP penalties, GAN losses, energy view, latent MALA."""

from __future__ import annotations

import torch

from kexue.losses.gan import (
    WGANDivPenalty,
    WGANGPPenalty,
    critic_loss,
    energy_generator_loss,
    generator_loss,
    score_penalty,
    wgan_div_penalty,
    wgan_gp_penalty,
)
from kexue.losses.latent_mala import latent_mala

from .case import Args, BadInput, Case


def _critic(x: torch.Tensor) -> torch.Tensor:
    # T(x) = |x|^2 / 4 + w.x over flattened samples: a non-constant input gradient
    w = torch.linspace(-1.0, 1.0, x[0].numel(), dtype=x.dtype)
    f = x.flatten(1)
    return 0.25 * f.square().sum(1) + f @ w


def _xy(dtype: torch.dtype, shape: tuple[int, ...] = (6, 2, 3)) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(shape, generator=g).to(dtype), torch.randn(shape, generator=g).to(dtype)


def _alpha(dtype: torch.dtype) -> torch.Tensor:
    return torch.rand(6, generator=torch.Generator().manual_seed(1)).to(dtype)


def _pen_args(dtype: torch.dtype) -> Args:
    real, fake = _xy(dtype)
    return (_critic, real, fake), {"alpha": _alpha(dtype)}


def _scores(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(2)
    return (torch.randn(8, 1, generator=g).to(dtype), torch.randn(8, 1, generator=g).to(dtype)), {}


def _energy_args(dtype: torch.dtype) -> Args:
    g = torch.Generator().manual_seed(3)
    u, z, zh = (torch.randn(s, generator=g).to(dtype) for s in ((5,), (5, 2), (5, 2)))
    return (u, z, zh), {"weight": 0.5}


def _mala_args(dtype: torch.dtype) -> Args:
    z = torch.randn(16, 2, generator=torch.Generator().manual_seed(4)).to(dtype)
    return (lambda z: 0.5 * z.square().sum(1), z, 0.3, 3), {
        "generator": torch.Generator().manual_seed(5)
    }


R, F = _xy(torch.float64)
NAN = R.clone()
NAN[0, 0, 0] = float("nan")
S = _scores(torch.float64)[0][0]

PEN_BAD = [
    BadInput("int-real", (_critic, R.long(), F), {}, TypeError, "real"),
    BadInput("nan-fake", (_critic, R, NAN), {}, ValueError, "fake"),
    BadInput("shape", (_critic, R, F[:3]), {}, ValueError, "fake"),
    BadInput("1d", (_critic, R[:, 0, 0], F[:, 0, 0]), {}, ValueError, "real"),
    BadInput("empty", (_critic, R[:0], F[:0]), {}, ValueError, "real"),
    BadInput("critic", ("T", R, F), {}, TypeError, "critic"),
    BadInput("critic-shape", (lambda x: x.flatten(1), R, F), {}, ValueError, "critic"),
    BadInput("alpha", (_critic, R, F), {"alpha": torch.full((6,), 1.5)}, ValueError, "alpha"),
    BadInput("reduction", (_critic, R, F), {"reduction": "avg"}, ValueError, "reduction"),
    BadInput("reduction-type", (_critic, R, F), {"reduction": None}, TypeError, "reduction"),
]

CASES = [
    Case(
        name="wgan_div_penalty",
        fn=wgan_div_penalty,
        make_args=lambda dtype: ((_critic, *_xy(dtype)), {}),
        module=lambda: WGANDivPenalty(k=2.0, p=6.0),
        bad=[
            *[b for b in PEN_BAD if b.label != "alpha"],
            BadInput("p", (_critic, R, F), {"p": 1.0}, ValueError, "p"),
            BadInput("k-type", (_critic, R, F), {"k": "2"}, TypeError, "k"),
            BadInput("points", (_critic, R, F), {"points": "mid"}, ValueError, "points"),
        ],
    ),
    Case(
        name="wgan_div_penalty_interpolates",
        fn=lambda *a, **k: wgan_div_penalty(*a, points="interpolates", **k),
        make_args=_pen_args,
        module=lambda: WGANDivPenalty(points="interpolates"),
        bad=PEN_BAD,
    ),
    Case(
        name="wgan_gp_penalty",
        fn=wgan_gp_penalty,
        make_args=_pen_args,
        module=lambda: WGANGPPenalty(weight=10.0),
        bad=[*PEN_BAD, BadInput("weight", (_critic, R, F), {"weight": -1.0}, ValueError, "weight")],
    ),
    Case(
        name="score_penalty",
        fn=score_penalty,
        make_args=lambda dtype: ((_critic, _xy(dtype)[0]), {"weight": 0.1}),
        bad=[
            BadInput("energy", (None, R), {}, TypeError, "energy"),
            BadInput("nan", (_critic, NAN), {}, ValueError, "real"),
            BadInput("weight", (_critic, R), {"weight": 0.0}, ValueError, "weight"),
        ],
    ),
    Case(
        name="critic_loss",
        fn=critic_loss,
        make_args=lambda dtype: (_scores(dtype)[0], {"convention": "energy"}),
        bad=[
            BadInput("int", (S.long(), S), {}, TypeError, "real_scores"),
            BadInput("shape", (S, S[:3]), {}, ValueError, "fake_scores"),
            BadInput("convention", (S, S), {"convention": "gan"}, ValueError, "convention"),
        ],
    ),
    Case(
        name="generator_loss",
        fn=generator_loss,
        make_args=lambda dtype: ((_scores(dtype)[0][1],), {}),
        bad=[
            BadInput("int", (S.long(),), {}, TypeError, "fake_scores"),
            BadInput("empty", (S[:0],), {}, ValueError, "fake_scores"),
        ],
    ),
    Case(
        name="energy_generator_loss",
        fn=energy_generator_loss,
        make_args=_energy_args,
        bad=[
            BadInput("shape", (S[:3], R[:, 0], R[:, 0]), {}, ValueError, "fake_energy"),
            BadInput("z-shape", (S[:6, 0], R[:, 0], R[:, :1, 0]), {}, ValueError, "z_hat"),
            BadInput("int-z", (S[:6, 0], R[:, 0].long(), R[:, 0]), {}, TypeError, "z"),
            BadInput(
                "weight", (S[:6, 0], R[:, 0], R[:, 0]), {"weight": -1.0}, ValueError, "weight"
            ),
        ],
    ),
    Case(
        name="latent_mala",
        fn=latent_mala,
        make_args=_mala_args,
        bad=[
            BadInput(
                "step", (lambda z: z.sum(1), R[:, 0]), {"step_size": 0.0}, ValueError, "step_size"
            ),
            BadInput("int-z", (lambda z: z.sum(1), R[:, 0].long(), 0.1), {}, TypeError, "z"),
            BadInput("n_steps", (lambda z: z.sum(1), R[:, 0], 0.1, 2.0), {}, TypeError, "n_steps"),
            BadInput("energy-shape", (lambda z: z, R[:, 0], 0.1), {}, ValueError, "energy"),
        ],
    ),
]
