"""Engine speed: the Trainer against a plain, textbook PyTorch loop of the same algorithm.

The baseline is written the way the WGAN-GP toy script (gan_toy.py) writes it, with
vectorised data sampling: same models, same batch, same critic steps, same penalty. Both
run single-threaded in the same process; the figure is generator iterations per second.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import torch
from torch import autograd, nn

from gan_core import Trainer

SETUPS: dict[str, dict[str, Any]] = {
    "gan_toy reference (3x512, batch 256, 5 critic steps, WGAN-GP 0.1)": {
        "dataset": "ring8",
        "loss": "wgan",
        "regularizers": [{"kind": "gp", "weight": 0.1}],
        "g_hidden": [512, 512, 512],
        "d_hidden": [512, 512, 512],
        "d_steps": 5,
        "batch_size": 256,
        "opt_g": {"name": "adam", "lr": 1e-4, "betas": (0.5, 0.9)},
        "opt_d": {"name": "adam", "lr": 1e-4, "betas": (0.5, 0.9)},
    },
    "interactive default (3x64, batch 256, 2 critic steps, WGAN-GP 0.1)": {},
}


def ring8_batch(n: int) -> torch.Tensor:
    """gan_toy's 8 Gaussians, vectorised: radius 2, std 0.02, divided by 1.414."""
    angles = torch.randint(0, 8, (n,)) * (2 * math.pi / 8)
    centres = 2 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return (centres + 0.02 * torch.randn(n, 2)) / 1.414


def textbook_mlp(n_in: int, widths: list[int], n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip([n_in, *widths[:-1]], widths, strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], n_out))


def textbook_loop(config: dict[str, Any], iterations: int) -> float:
    """The plain WGAN-GP loop; returns the seconds for `iterations` generator iterations."""
    cfg = Trainer(config).config  # only to read the same settings with their defaults
    torch.manual_seed(0)
    g = textbook_mlp(cfg.z_dim, cfg.g_hidden, 2)
    d = textbook_mlp(2, cfg.d_hidden, 1)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.opt_g.lr, betas=cfg.opt_g.betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.opt_d.lr, betas=cfg.opt_d.betas)
    lam, batch = cfg.regularizers[0].weight, cfg.batch_size
    started = time.perf_counter()
    for _ in range(iterations):
        for _ in range(cfg.d_steps):
            real = ring8_batch(batch)
            fake = g(torch.randn(batch, cfg.z_dim)).detach()
            alpha = torch.rand(batch, 1)
            interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            (grad,) = autograd.grad(d(interp).sum(), interp, create_graph=True)
            penalty = lam * ((grad.norm(2, dim=1) - 1) ** 2).mean()
            loss = d(fake).mean() - d(real).mean() + penalty
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
        for p in d.parameters():
            p.requires_grad_(False)
        g_loss = -d(g(torch.randn(batch, cfg.z_dim))).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        for p in d.parameters():
            p.requires_grad_(True)
    return time.perf_counter() - started


def trainer_loop(config: dict[str, Any], iterations: int) -> float:
    trainer = Trainer(config)
    started = time.perf_counter()
    trainer.step(iterations)
    return time.perf_counter() - started


def run(quick: bool = False) -> dict[str, Any]:
    """Median iterations/s of both loops over several interleaved runs, per setup."""
    torch.set_num_threads(1)
    repeats = 3 if quick else 5
    rows = []
    for name, config in SETUPS.items():
        iterations = 10 if config else 150
        if quick:
            iterations //= 2
        textbook_loop(config, 2)  # warm up both
        trainer_loop(config, 2)
        base, ours = [], []
        for _ in range(repeats):
            base.append(iterations / textbook_loop(config, iterations))
            ours.append(iterations / trainer_loop(config, iterations))
        rows.append(
            [
                name,
                f"{statistics.median(base):.1f} ({min(base):.1f}-{max(base):.1f})",
                f"{statistics.median(ours):.1f} ({min(ours):.1f}-{max(ours):.1f})",
                f"{statistics.median(ours) / statistics.median(base):.2f}",
            ]
        )
    return {
        "title": "Engine: Trainer vs textbook loop (generator iterations/s, 1 thread)",
        "header": [
            "setup",
            "textbook loop: median (min-max)",
            "Trainer: median (min-max)",
            "ratio",
        ],
        "rows": rows,
        "notes": f"{repeats} interleaved runs each; goal: ratio >= 1.0, aim 1.3.",
    }


if __name__ == "__main__":
    from bench.report import markdown_section

    print(markdown_section(run()))
