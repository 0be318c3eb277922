"""The lectures on the game's dynamics (server/presets.py, issue 13), run headless: each
phenomenon between the lanes of one ``start_comparison`` run, with margins. A "try next" lane
is opened as the page's button opens it (a session holds 4 lanes: the tests close lanes to
make room, as a user would); the numbers in the comments are this machine's."""

from __future__ import annotations

import math

import pytest

from gan_core import Lanes, Trainer
from server.presets import PRESETS
from tests.presets.comparison import comparison, lane, press, radii, step_modulus


def with_room(name: str) -> Lanes:
    """Preset ``name``'s lanes with only lane 1 kept, room for three "try next" lanes."""
    lanes = comparison(name)
    lanes.keep(lanes.lanes[0].id)
    return lanes


# ----- the bilinear game --------------------------------------------------------------------------
def test_bilinear_game_four_update_schemes_from_one_start() -> None:
    lanes = comparison("bilinear_game")
    lanes.step(100)
    simultaneous, alternating = lane(lanes, "simultaneous"), lane(lanes, "alternating")
    extragradient, optimistic = lane(lanes, "extragradient"), lane(lanes, "optimistic")
    assert radii(simultaneous)[-1] > 7.0  # 10.05 = sqrt(2) * 1.04^50
    assert step_modulus(simultaneous) == pytest.approx(math.sqrt(1.04), abs=1e-4)
    lanes.step(200)
    r = radii(alternating)
    assert r[-100:].min() > 1.1 and r.max() < 1.7  # 1.28 to 1.56 from 1.41, round and round
    assert step_modulus(alternating) == pytest.approx(1.0, abs=1e-6)
    for tr, rate in ((extragradient, 0.9806), (optimistic, 0.9789)):
        assert radii(tr)[-1] < 0.05  # 0.0040 and 0.0025 from 1.41
        assert step_modulus(tr) == pytest.approx(rate, abs=1e-3)


def test_bilinear_game_historical_averaging_converges() -> None:
    name = "bilinear_game"
    lanes = with_room(name)
    averaged = press(lanes, name, "Historical averaging")
    lanes.step(300)
    assert radii(averaged)[-1] < 0.05  # 0.012 from 1.41
    assert radii(lanes.lanes[0].trainer)[-1] > 100  # 508: simultaneous steps beside it


# ----- the Dirac-GAN notebook's methods -----------------------------------------------------------
def test_dirac_gan_methods_four_lanes_two_converge() -> None:
    """Radius over the last 100 of 300 steps: GAN at least 2.45, WGAN-GP 1.62."""
    lanes = comparison("dirac_gan_methods")
    lanes.step(300)
    assert radii(lane(lanes, "GAN"))[-100:].min() > 2.0
    assert radii(lane(lanes, "WGAN-GP"))[-100:].min() > 1.2
    assert radii(lane(lanes, "+ R1, gamma 0.3"))[-1] < 0.05  # 0.0007
    assert radii(lane(lanes, "+ consensus, gamma 1"))[-1] < 0.05  # 1e-6


@pytest.mark.parametrize(
    ("words", "floor"),
    [("Non-saturating", 0.5), ("WGAN, clipped", 0.8), ("GAN, alternating", 0.8)],
)
def test_dirac_gan_methods_try_next_lanes_that_do_not_converge(words: str, floor: float) -> None:
    """Radius over the last 100 of 300 steps: at least 0.64, 1.0 and 1.34 here."""
    name = "dirac_gan_methods"
    lanes = with_room(name)
    tr = press(lanes, name, words)
    tr.step(300)
    assert radii(tr)[-100:].min() > floor


@pytest.mark.parametrize("words", ["Instance noise", "R1, gamma = 1", "Non-saturating +"])
def test_dirac_gan_methods_try_next_lanes_that_converge(words: str) -> None:
    name = "dirac_gan_methods"
    lanes = with_room(name)
    tr = press(lanes, name, words)
    tr.step(300)
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
    0 modes covered without unrolling, 7 with k = 5, in the lane beside it."""
    lanes = comparison("unrolled_ring")
    lanes.step(250)
    plain = lane(lanes, "no unrolling").evaluate()
    unrolled = lane(lanes, "unrolled D, k = 5").evaluate()
    assert plain["modes_covered"] <= 2
    assert unrolled["modes_covered"] >= 4
    assert plain["w1"] - unrolled["w1"] > 0.7  # 1.73 vs 0.23


# ----- consensus optimisation on the ring -------------------------------------------------------
def test_consensus_damps_simultaneous_steps_on_the_ring() -> None:
    """One seed, 500 iterations: W1 0.92 without consensus, 0.42 with gamma = 1 (1 and 5
    modes); seeds 0-2 at 1,000 iterations, as in the note: 1.1-2.2 against 0.3-0.4."""
    lanes = comparison("consensus_ring")
    lanes.step(500)
    plain = lane(lanes, "no consensus").evaluate()
    consensus = lane(lanes, "+ consensus, gamma 1").evaluate()
    assert plain["w1"] > 0.7
    assert consensus["w1"] < 0.6
    assert consensus["modes_covered"] >= plain["modes_covered"] + 2
