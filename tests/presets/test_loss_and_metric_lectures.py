"""The lectures of losses, discriminator variants and metrics (issue 13), run headless.

As in test_lectures.py: the preset's lanes, started as a session starts them, its phenomenon
asserted between them with margins; a single-lane preset that is also a lane of a comparison
is tested there (the test checks the configs are the same). The numbers in comments are what
this machine measured (runs are seeded; one number per seed, in order).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_core import Trainer, validate_config
from gan_core.datasets import make_target
from gan_core.metrics import Evaluator
from server.presets import PRESETS
from tests.presets.comparison import comparison, lane, press


def trained(name: str, iterations: int, seed: int | None = None) -> Trainer:
    config = PRESETS[name].config
    tr = Trainer(config if seed is None else {**config, "seed": seed})
    tr.step(iterations)
    assert tr.halt is None
    return tr


def mean_and_std(tr: Trainer) -> tuple[float, float]:
    x = tr.sample(2000)[:, 0]
    return float(x.mean()), float(x.std())


# ----- mode seeking vs mode covering -------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reverse_kl_settles_on_one_mode_where_forward_kl_spreads_over_both(seed: int) -> None:
    lanes = comparison("mode_seeking_vs_covering", seed)
    lanes.step(600)
    seeking, covering = lane(lanes, "reverse KL"), lane(lanes, "forward KL")
    mean, std = mean_and_std(seeking)
    assert 1.6 < abs(mean) < 2.4  # 1.94, 1.92, 2.01: one of the modes at -2 and 2
    assert std < 0.6  # 0.31, 0.30, 0.31: the width of one mode (0.3)
    mean, spread = mean_and_std(covering)
    assert abs(mean) < 0.5  # -0.26, 0.15, -0.11
    assert 1.6 < spread < 2.6  # 2.10, 2.10, 2.18; the moment-matching optimum is 2.02
    assert spread > 4 * std
    x = covering.sample(2000)[:, 0]
    assert 0.25 < np.mean(np.abs(x) < 1.1) < 0.6  # 0.40, 0.39, 0.38 in the gap, > 3 std off


def test_the_forward_kl_lecture_is_the_comparisons_second_lane() -> None:
    lanes = comparison("mode_seeking_vs_covering")
    alone = validate_config(PRESETS["mode_covering_forward_kl"].config)
    assert lane(lanes, "forward KL").config == alone


# ----- the Frechet distance is blind to modes ----------------------------------------------
def test_a_blob_with_the_rings_moments_scores_a_perfect_frechet_and_no_precision() -> None:
    """Direct samples: a Gaussian with the ring's mean and covariance against the ring itself,
    and against a generator that is perfect on one mode of eight."""
    target = make_target(validate_config(PRESETS["frechet_blind_to_modes"].config))
    ring = target.reference(2500)
    rng = np.random.default_rng(0)
    blob = rng.multivariate_normal(ring.mean(0), np.cov(ring.T), size=2500)
    perfect = target.sample(2500, torch.Generator().manual_seed(99)).numpy()
    evaluator = Evaluator(target)
    of_blob, of_perfect = evaluator.evaluate(blob), evaluator.evaluate(perfect)
    assert of_blob["frechet"] < 0.01 and of_perfect["frechet"] < 0.01  # 0.0009 and 0.0008
    assert of_blob["high_quality"] < 0.02  # 0.004
    assert of_blob["precision"] < 0.05 < 0.8 < of_perfect["precision"]  # 0.003 vs 0.96
    assert of_blob["recall"] > 0.8  # 1.0: the blur covers the ring
    assert of_perfect["recall"] > 0.8  # 0.97


@pytest.mark.parametrize("seed", [0, 1])
def test_the_trained_gaussian_generator_matches_the_rings_moments_not_its_modes(seed) -> None:
    metrics = trained("frechet_blind_to_modes", 400, seed).evaluate()
    assert metrics["frechet"] < 0.2  # 0.024-0.031 (mode_collapse_ring at 1500: 3.6)
    assert metrics["high_quality"] < 0.02  # 0.002
    assert metrics["precision"] < 0.05  # 0.004-0.005
    assert metrics["recall"] > 0.7  # 0.88-1.0


# ----- feature matching --------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_feature_matching_covers_the_ring_as_a_blur_that_a_gan_loss_fork_sharpens(seed) -> None:
    name = "feature_matching"
    lanes = comparison(name, seed)
    lanes.step(500)
    matching = lanes.lanes[0].trainer
    blur = matching.evaluate()
    assert blur["recall"] > 0.8  # 0.99, 1.0 (mode_collapse_ring, same models: about 0)
    assert blur["frechet"] < 0.1  # 0.002, 0.012
    assert blur["precision"] < 0.05  # 0.008, 0.005
    gan = press(lanes, name, "The GAN loss, from this moment")
    lanes.step(600)
    sharp, still = gan.evaluate(), matching.evaluate()
    assert gan.halt is None
    assert sharp["precision"] > 0.1  # 0.20-0.26
    assert sharp["precision"] > 3 * still["precision"]  # its source lane: 0.018, 0.012
    assert sharp["recall"] > 0.5  # 0.77-0.88: no collapse


# ----- energy-based GAN --------------------------------------------------------------------
def energy(tr: Trainer, x: np.ndarray) -> float:
    """Mean reconstruction error of D's autoencoder: minus its score."""
    with torch.no_grad():
        return -float(tr.D(torch.tensor(x)).mean())


@pytest.mark.parametrize("seed", [0, 1])
def test_ebgan_fakes_reach_the_moons_in_the_energy_valley(seed: int) -> None:
    name = "ebgan"
    tr = trained(name, 1000, seed)
    metrics = tr.evaluate()
    assert metrics["w1"] < 0.3  # 0.11-0.17 (0.8 at the start)
    assert metrics["precision"] > 0.5  # 0.75-0.89
    assert energy(tr, tr.target.reference(500)) < 0.5  # 0.2-0.27, the margin is 1
    snap = tr.snapshot({"grid": 32})
    assert snap["display"] == "score" and np.isfinite(snap["d_grid"]).all()
    assert snap["d_grid"].max() <= 0  # minus an energy
    lanes = comparison(name, seed)
    for item in PRESETS[name].try_next:  # every "try next" lane trains
        press(lanes, name, item.label).step(50)
    assert all(other.trainer.halt is None for other in lanes)


# ----- packing and minibatch stddev --------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_packing_and_minibatch_stddev_spread_where_the_plain_gan_collapses(seed: int) -> None:
    lanes = comparison("packing_and_minibatch_stddev", seed)
    lanes.step(1000)
    plain = lane(lanes, "the plain GAN").evaluate()
    packed = lane(lanes, "packing, m = 2").evaluate()
    spread = lane(lanes, "minibatch stddev").evaluate()
    assert plain["recall"] < 0.3  # 0.0, 0.0
    assert plain["modes_covered"] <= 2  # 0, 0
    assert packed["recall"] > 0.6  # 1.0, 0.91
    assert packed["modes_covered"] >= 4  # 6, 6
    assert spread["recall"] > 0.7  # 0.96, 0.92
    assert spread["modes_covered"] >= 5  # 7, 7


def test_the_single_lane_lectures_are_lanes_of_the_packing_comparison() -> None:
    lanes = comparison("packing_and_minibatch_stddev")
    for name, title in (
        ("mode_collapse_ring", "the plain GAN"),
        ("minibatch_stddev_ring", "minibatch stddev"),
    ):
        assert lane(lanes, title).config == validate_config(PRESETS[name].config)
