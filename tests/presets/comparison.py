"""What the lecture tests share: a preset's lanes as the page starts them, its "try next"
buttons pressed, and the quantities the notes speak of (a helper module, not tests)."""

from __future__ import annotations

import math

import numpy as np
import torch

from gan_core import Lanes, Trainer
from server.presets import PRESETS, TryNext, open_try_next, start_comparison


def comparison(name: str, seed: int | None = None) -> Lanes:
    """Preset ``name``'s lanes as a session starts them (``start_comparison``: lanes from
    one start, the warm-up on each, the after-warm-up lanes forked), with another seed if
    given."""
    config = PRESETS[name].config
    lanes = start_comparison(config if seed is None else {**config, "seed": seed}, name)
    assert len(lanes) == 1 + len(PRESETS[name].lanes)
    assert all(lane.trainer.halt is None for lane in lanes)
    return lanes


def lane(lanes: Lanes, title: str) -> Trainer:
    """The run of the lane titled ``title``."""
    (found,) = [item for item in lanes if item.title == title]
    return found.trainer


def suggestion(name: str, words: str) -> TryNext:
    """The "try next" of preset ``name`` whose label is ``words`` or starts with them."""
    items = PRESETS[name].try_next
    exact = [item for item in items if item.label == words]
    (item,) = exact or [item for item in items if item.label.startswith(words)]
    return item


def press(lanes: Lanes, name: str, words: str, in_view: int = 1) -> Trainer:
    """Press the "try next" button ``words`` of preset ``name`` with lane ``in_view`` in
    view: the new lane's run (from the preset's start, or a fork of the lane in view)."""
    return open_try_next(lanes, name, suggestion(name, words), in_view).trainer


def push(tr: Trainer) -> float:
    """Mean signed push -dL_G/dx on the displayed fakes (1D: towards the real data is +)."""
    return float(tr.snapshot()["fake_grad"][:, 0].mean())


def abs_push(tr: Trainer) -> float:
    return float(np.abs(tr.snapshot()["fake_grad"]).mean())


def fake_mean(tr: Trainer) -> float:
    return float(tr.sample(1000)[:, 0].mean())


def d_at(tr: Trainer, x: np.ndarray) -> np.ndarray:
    """D as the view shows it (a probability or a raw score) at 1D points x."""
    s = tr.snapshot({"line": 1000})
    return np.interp(x, s["xs"], s["d_line"])


def max_score_slope(tr: Trainer) -> float:
    """max |dD/dx| of the raw score along the 1D view line."""
    lo, hi = tr.target.extent
    xs = torch.linspace(lo, hi, 1000).unsqueeze(1)
    tr.D.eval()
    with torch.no_grad():
        scores = tr.D(xs).numpy()
    tr.D.train()
    return float(np.abs(np.diff(scores) / np.diff(xs[:, 0].numpy())).max())


def radius(tr: Trainer) -> float:
    """The Dirac-GAN's distance from the equilibrium (0, 0) now."""
    return math.hypot(tr.G.theta.item(), tr.D.body.weight.item())


def radii(tr: Trainer) -> np.ndarray:
    """The Dirac-GAN's distance from (0, 0) along its kept trajectory."""
    return np.array([math.hypot(theta, psi) for theta, psi in tr.trajectory])


def step_modulus(tr: Trainer) -> float:
    """The largest modulus of one update step's eigenvalues (Dirac-GAN)."""
    return max(math.hypot(re, im) for re, im in tr.snapshot()["step_eigenvalues"])
