"""The lectures on the game's dynamics (server/presets.py, issue 13), run headless: each
phenomenon with margins. Each "try next" is pressed on a fresh start, as the page's button
would be right after loading the lecture; the numbers in the comments are this machine's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gan_core import Trainer
from server.presets import PRESETS


def pressed(name: str, words: str | None, steps: int) -> Trainer:
    """Lecture ``name`` with its "try next" button labelled ``words`` (or the one label that
    starts with them; None: none) pressed, then ``steps`` iterations."""
    lecture = PRESETS[name]
    tr = Trainer(lecture.config)
    for part, n in lecture.warmup:
        tr.step(n, part=part)
    if words is not None:
        exact = [t for t in lecture.try_next if t.label == words]
        (item,) = exact or [t for t in lecture.try_next if t.label.startswith(words)]
        assert item.patch is not None
        tr.update(item.patch)
    tr.step(steps)
    assert tr.halt is None
    return tr


def radii(tr: Trainer) -> np.ndarray:
    return np.array([math.hypot(theta, psi) for theta, psi in tr.trajectory])


def largest_step_modulus(tr: Trainer) -> float:
    return max(math.hypot(re, im) for re, im in tr.snapshot()["step_eigenvalues"])


# ----- the bilinear game --------------------------------------------------------------------------
def test_bilinear_game_simultaneous_steps_spiral_out() -> None:
    tr = pressed("bilinear_game", None, 100)
    assert radii(tr)[-1] > 7.0  # 10.05 = sqrt(2) * 1.04^50
    assert largest_step_modulus(tr) == pytest.approx(math.sqrt(1.04), abs=1e-4)


def test_bilinear_game_alternating_steps_circle() -> None:
    tr = pressed("bilinear_game", "Alternating", 300)
    r = radii(tr)
    assert r[-100:].min() > 1.1 and r.max() < 1.7  # 1.28 to 1.56 from 1.41, round and round
    assert largest_step_modulus(tr) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    ("words", "rate"),
    [("Extragradient", 0.9806), ("Optimistic", 0.9789), ("Historical averaging", None)],
)
def test_bilinear_game_extragradient_optimistic_and_averaging_converge(words, rate) -> None:
    tr = pressed("bilinear_game", words, 300)
    assert radii(tr)[-1] < 0.05  # 0.0039, 0.0024 and 0.012 from 1.41
    if rate is not None:
        assert largest_step_modulus(tr) == pytest.approx(rate, abs=1e-3)


# ----- the Dirac-GAN notebook's methods -----------------------------------------------------------
@pytest.mark.parametrize(
    ("words", "floor"),
    [(None, 2.0), ("Non-saturating", 0.5), ("WGAN, clipped", 0.8), ("WGAN-GP", 1.2)],
)
def test_dirac_gan_methods_that_do_not_converge(words, floor: float) -> None:
    """Radius over the last 100 of 300 steps: at least 2.6, 0.63, 0.95, 1.6 here."""
    tr = pressed("dirac_gan_methods", words, 300)
    assert radii(tr)[-100:].min() > floor


@pytest.mark.parametrize(
    "words", ["Instance noise", "R1, gamma = 0.3", "R1, gamma = 1", "Consensus", "Non-saturating +"]
)
def test_dirac_gan_methods_that_converge(words: str) -> None:
    tr = pressed("dirac_gan_methods", words, 300)
    assert radii(tr)[-1] < 0.05  # at most 0.02 here (instance noise: its own noise floor)


# ----- the averaged generator ---------------------------------------------------------------------
def test_the_averaged_generator_settles_while_the_raw_one_circles() -> None:
    tr = Trainer(PRESETS["ema_generator"].config)
    raw, averaged = [], []
    for _ in range(600):
        tr.step(1)
        raw.append(abs(tr.sample(1)[0, 0]))
        averaged.append(abs(tr.sample(1, averaged=True)[0, 0]))
    assert max(raw[-200:]) > 1.0  # 1.35: G keeps circling
    assert max(averaged[-200:]) < 0.2  # 0.08: its average sits near the real point 0
    assert abs(tr.snapshot()["fake_ema"][0, 0]) == pytest.approx(averaged[-1], abs=1e-6)
    metrics = tr.evaluate(500)
    assert metrics["w1_ema"] < 0.1 < 1.0 < metrics["w1"]  # 0.018 and 1.34


# ----- unrolled GAN on the ring -------------------------------------------------------------------
def test_unrolling_d_spreads_the_collapsed_fakes_over_the_modes() -> None:
    """One seed, 250 iterations (the several-seed measurement is bench/bench_unrolled.py):
    0 modes covered without unrolling, 7 with k = 5."""
    plain = pressed("unrolled_ring", None, 250).evaluate()
    unrolled = pressed("unrolled_ring", "Unroll D, k = 5", 250).evaluate()
    assert plain["modes_covered"] <= 2
    assert unrolled["modes_covered"] >= 4


# ----- consensus optimisation on the ring -------------------------------------------------------
def test_consensus_damps_simultaneous_steps_on_the_ring() -> None:
    """One seed, 500 iterations: W1 0.92 without consensus, 0.42 with gamma = 1 (1 and 5
    modes); seeds 0-2 at 1,000 iterations, as in the note: 1.1-2.2 against 0.3-0.4."""
    plain = pressed("consensus_ring", None, 500).evaluate()
    consensus = pressed("consensus_ring", "Consensus, gamma = 1", 500).evaluate()
    assert plain["w1"] > 0.7
    assert consensus["w1"] < 0.6
    assert consensus["modes_covered"] >= plain["modes_covered"] + 2
