import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from scipy.spatial.distance import cdist

from gan_core.config import TrainConfig
from gan_core.datasets import make_target
from gan_core.metrics import (
    DIRAC_TOL,
    EXACT_MAX_N,
    KDE_BANDWIDTHS,
    Evaluator,
    evaluator_for,
    frechet_distance,
    histogram_divergences,
    kde_nll,
    knn_radii,
    mode_stats,
    parzen_log_likelihood,
    precision_recall,
    sliced_w1,
    wasserstein1,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


NEW_METRICS = ("frechet", "precision", "recall", "kde_nll")


def ring_modes() -> np.ndarray:
    return make_target(TrainConfig(dataset="ring8")).modes


def test_w1_1d_of_a_shift_is_the_shift(rng):
    a = rng.normal(0.3, 1.0, size=(5000, 1))
    b = rng.permutation(a) + 1.7
    assert wasserstein1(a, b) == pytest.approx(1.7, abs=1e-12)
    assert wasserstein1(a[:, 0], b[:, 0]) == pytest.approx(1.7, abs=1e-12)  # flat arrays too


def test_w1_1d_by_hand():
    # sorted pairs (0, 0.5) and (1, 3): (0.5 + 2) / 2
    assert wasserstein1(np.array([[1.0], [0.0]]), np.array([[0.5], [3.0]])) == 1.25


def test_w1_1d_of_independent_gaussians_is_the_mean_gap(rng):
    a = rng.normal(-1.0, 0.5, size=(20000, 1))
    b = rng.normal(2.0, 0.5, size=(20000, 1))
    assert wasserstein1(a, b) == pytest.approx(3.0, abs=0.02)


def test_w1_2d_exact_by_hand():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    b = np.array([[1.0, 1.0], [0.0, 1.0]])
    assert wasserstein1(a, b) == pytest.approx(1.0)  # straight up, not across (sqrt 2)


def test_w1_2d_exact_of_a_translated_cloud_is_the_shift_length(rng):
    a = rng.normal(size=(EXACT_MAX_N, 2)) * [1.0, 0.3]
    b = rng.permutation(a) + np.array([0.3, -0.4])
    assert wasserstein1(a, b) == pytest.approx(0.5, abs=1e-9)


def test_w1_above_the_exact_size_is_sliced_and_exact_for_a_shift(rng):
    a = rng.normal(size=(EXACT_MAX_N + 100, 2))
    b = rng.permutation(a) + np.array([0.6, 0.8])
    assert wasserstein1(a, b) == sliced_w1(a, b)
    assert wasserstein1(a, b) == pytest.approx(1.0, abs=2e-3)


def test_sliced_w1_is_a_close_lower_bound_of_exact(rng):
    ring = make_target(TrainConfig(dataset="ring8")).reference(400)
    for fake in (0.3 * rng.normal(size=(400, 2)), ring * [1.0, 0.2], ring[::-1] + 0.5):
        exact, sliced = wasserstein1(ring, fake), sliced_w1(ring, fake)
        assert 0.7 * exact <= sliced <= exact + 1e-9
    blob = 0.3 * rng.normal(size=(400, 2))
    assert sliced_w1(ring, blob) == pytest.approx(wasserstein1(ring, blob), rel=0.03)


def test_w1_rejects_unequal_sizes():
    with pytest.raises(ValueError):
        wasserstein1(np.zeros((3, 2)), np.zeros((4, 2)))


def test_mode_stats_seven_of_eight_modes_half_off_mode():
    modes, std = ring_modes(), 0.02 / 1.414
    # 2.5 std from a mode: high quality
    on = np.repeat(modes[:7], 2, axis=0) + np.array([2 * std, -1.5 * std])
    off = np.repeat(modes[:7], 2, axis=0) * 0.5  # halfway to the centre
    stats = mode_stats(np.concatenate((on, off)), modes, std)
    assert stats == {"modes_covered": 7, "modes_total": 8, "high_quality": 0.5}


def test_mode_stats_three_std_boundary_and_off_mode_samples_cover_nothing():
    modes = np.array([[0.0, 0.0], [1.0, 0.0]])
    inside, outside = np.array([[0.0, 0.299]]), np.array([[1.0, 0.301]])
    assert mode_stats(inside, modes, 0.1)["modes_covered"] == 1
    assert mode_stats(outside, modes, 0.1) == {
        "modes_covered": 0,
        "modes_total": 2,
        "high_quality": 0.0,
    }


def test_mode_stats_per_mode_std_and_point_mass():
    modes = np.array([[-2.0], [2.0]])
    samples = np.array([[-1.0], [1.0]])  # 1 from each mode
    assert mode_stats(samples, modes, np.array([0.5, 0.2]))["high_quality"] == 0.5
    dirac = np.array([[0.0]])
    near, far = np.array([[DIRAC_TOL / 2]]), np.array([[2 * DIRAC_TOL]])
    assert mode_stats(near, dirac, 0.0)["modes_covered"] == 1
    assert mode_stats(far, dirac, 0.0)["high_quality"] == 0.0


def test_js_of_identical_histograms_is_zero(rng):
    x = rng.normal(size=(2000, 2))
    out = histogram_divergences(x, x.copy(), (-3, 3))
    assert out["kl"] == pytest.approx(0.0, abs=1e-12)
    assert out["js"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("dim", [1, 2])
def test_js_of_disjoint_histograms_is_log2(dim, rng):
    real = rng.uniform(-2, -1, size=(1000, dim))
    fake = rng.uniform(1, 2, size=(1000, dim))
    out = histogram_divergences(real, fake, (-2, 2))
    assert out["js"] == pytest.approx(math.log(2), abs=0.01)
    assert out["js"] <= math.log(2)
    assert 5 < out["kl"] < 30  # finite thanks to the smoothing


def test_histogram_divergences_clip_samples_outside_the_extent():
    real = np.full((100, 1), 1.99)
    far = histogram_divergences(real, np.full((100, 1), 50.0), (-2, 2))
    assert far["js"] == pytest.approx(0.0, abs=1e-12)  # 50 lands in the last bin, as 1.99 does


def test_js_grows_with_the_gap_and_is_symmetric(rng):
    a = rng.normal(size=(3000, 1))
    js = [histogram_divergences(a, a + d, (-4, 6))["js"] for d in (0.2, 1.0, 3.0)]
    assert js[0] < js[1] < js[2] < math.log(2)
    b = a + 1.0
    ab, ba = histogram_divergences(a, b, (-4, 6)), histogram_divergences(b, a, (-4, 6))
    assert ab["js"] == pytest.approx(ba["js"])


def test_evaluator_on_ring8():
    target = make_target(TrainConfig(dataset="ring8"))
    ev = Evaluator(target)
    bad = ev.evaluate(np.zeros((300, 2)))  # total mode collapse at the centre
    assert set(bad) == {"w1", "w1_floor", "kl", "js", "modes_covered", "modes_total"} | {
        "high_quality",
        *NEW_METRICS,
    }
    assert bad["w1"] == pytest.approx(2 / 1.414, abs=1e-3)  # every sample travels to the ring
    assert bad["w1_floor"] < 0.2 * bad["w1"]
    assert bad["modes_covered"] == 0 and bad["modes_total"] == 8
    good = ev.evaluate(target.reference(300) + np.array([0.001, 0.0]))  # the reference, nudged
    assert good["w1"] < bad["w1_floor"] and good["modes_covered"] == 8
    assert good["js"] < 0.01
    # a perfect 2D Gaussian lies within 3 std of its centre with probability 1 - exp(-9 / 2)
    assert good["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.02)


def test_every_run_on_a_target_shares_its_evaluator_and_floors():
    """A reset does not measure the floor again: runs share the Evaluator of their target."""
    ring = evaluator_for(make_target(TrainConfig(dataset="ring8")))
    assert ring is evaluator_for(make_target(TrainConfig(dataset="ring8", seed=5)))
    assert ring is not evaluator_for(make_target(TrainConfig(dataset="grid25")))


def test_evaluator_floor_is_cached_per_n_and_falls_with_n(rng):
    ev = Evaluator(make_target(TrainConfig(dataset="gaussian1d")))
    fake = rng.normal(size=(200, 1))
    first = ev.evaluate(fake)["w1_floor"]
    assert ev.evaluate(rng.normal(size=(200, 1)))["w1_floor"] == first
    assert ev.evaluate(rng.normal(size=(5000, 1)))["w1_floor"] < first / 2


def test_evaluator_without_modes_and_for_dirac():
    out = Evaluator(make_target(TrainConfig(dataset="swissroll"))).evaluate(np.zeros((100, 2)))
    assert set(out) == {"w1", "w1_floor", "kl", "js", *NEW_METRICS}
    dirac = Evaluator(make_target(TrainConfig(dataset="dirac")))
    perfect = dirac.evaluate(np.zeros((100, 1)))
    assert perfect["w1"] == 0.0 and perfect["w1_floor"] == 0.0 and perfect["modes_covered"] == 1
    assert dirac.evaluate(np.full((100, 1), 0.3))["w1"] == pytest.approx(0.3)


def test_evaluator_rejects_non_finite_samples():
    ev = Evaluator(make_target(TrainConfig(dataset="ring8")))
    with pytest.raises(ValueError, match="finite"):
        ev.evaluate(np.array([[0.0, np.nan]] * 10))


# ----- Frechet distance -------------------------------------------------------------------
def frechet_by_sqrtm(x: np.ndarray, y: np.ndarray) -> float:
    """The FID formula with scipy's general matrix square root (as pytorch-fid computes it)."""
    cx, cy = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    gap = x.mean(0) - y.mean(0)
    root = scipy.linalg.sqrtm(cx @ cy).real
    return float(gap @ gap + np.trace(cx + cy - 2 * root))


def test_frechet_of_one_sample_with_itself_is_zero_and_a_shift_adds_its_square(rng):
    x = rng.normal(size=(4000, 2)) @ np.array([[1.0, 0.4], [0.0, 0.5]])
    assert frechet_distance(x, x.copy()) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([0.6, -0.8])
    assert frechet_distance(x, x + shift) == pytest.approx(1.0, abs=1e-9)  # ||shift||^2
    y = rng.normal(size=(4000, 2)) @ np.array([[1.0, 0.4], [0.0, 0.5]])  # same law
    assert frechet_distance(x, y) < 0.01


@pytest.mark.parametrize("dim", [1, 2])
def test_frechet_closed_form_agrees_with_the_general_matrix_square_root(dim, rng):
    for _ in range(5):
        x = rng.normal(size=(300, dim)) @ rng.normal(size=(dim, dim)) + rng.normal(size=dim)
        y = rng.normal(size=(200, dim)) @ rng.normal(size=(dim, dim))
        assert frechet_distance(x, y) == pytest.approx(frechet_by_sqrtm(x, y), rel=1e-9)


def test_frechet_of_gaussians_with_different_spread_by_hand(rng):
    """1D: d^2 = (m1 - m2)^2 + (s1 - s2)^2."""
    x, y = rng.normal(0.0, 1.0, size=(20000, 1)), rng.normal(1.0, 3.0, size=(20000, 1))
    assert frechet_distance(x, y) == pytest.approx(1.0 + 4.0, rel=0.03)


# ----- precision and recall ---------------------------------------------------------------
def precision_recall_by_loops(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    def radii(x):
        d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def covered(points, centres, r):
        return np.mean(
            [
                any(np.linalg.norm(p - c) <= rc for c, rc in zip(centres, r, strict=True))
                for p in points
            ]
        )

    return covered(fake, real, radii(real)), covered(real, fake, radii(fake))


def test_precision_recall_of_a_set_covering_half_the_real_modes(rng):
    left, right = rng.normal(-3, 0.2, size=(150, 2)), rng.normal(3, 0.2, size=(150, 2))
    real = np.concatenate((left, right))
    fake = rng.normal(-3, 0.2, size=(300, 2))  # all on the left mode, as dense
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.9  # the fakes are real-looking
    assert 0.4 < recall < 0.55  # but explain only the left half
    assert (precision, recall) == pytest.approx(precision_recall_by_loops(real, fake, 3))


def test_precision_recall_of_the_same_law_is_high_and_of_disjoint_sets_zero(rng):
    real, fake = rng.normal(size=(400, 2)), rng.normal(size=(400, 2))
    precision, recall = precision_recall(real, fake)
    assert precision > 0.7 and recall > 0.7
    assert precision_recall(real, fake + 20.0) == (0.0, 0.0)
    few, more = rng.normal(size=(40, 1)), rng.normal(size=(60, 1))
    assert precision_recall(few, more, k=5) == pytest.approx(
        precision_recall_by_loops(few, more, 5)
    )


def test_precision_recall_reads_one_distance_matrix_as_two_did(rng):
    """The shared matrix gives exactly what a matrix per direction gave (boundary ties
    included: the points sit on a lattice, so many distances equal a radius)."""
    real = rng.integers(0, 12, size=(500, 2)).astype(float)
    fake = rng.integers(-4, 6, size=(400, 2)).astype(float) + 0.5 * rng.integers(0, 2, (400, 1))

    def inside(points, centres, radii):
        return (cdist(points, centres, "sqeuclidean") <= np.square(radii)[None, :]).any(1)

    two_matrices = (
        inside(fake, real, knn_radii(real)).mean(),
        inside(real, fake, knn_radii(fake)).mean(),
    )
    assert precision_recall(real, fake) == two_matrices
    assert 0 < two_matrices[0] < 1 and 0 < two_matrices[1] < 1


# ----- Parzen-window NLL ------------------------------------------------------------------
def test_parzen_log_likelihood_agrees_with_scipy_and_kde_nll_picks_the_best_bandwidth(rng):
    centres, x = rng.normal(size=(300, 2)), rng.normal(size=(50, 2))
    for h in (0.05, 0.3, 1.0):
        by_scipy = np.log(
            np.mean(
                [scipy.stats.multivariate_normal(c, h**2 * np.eye(2)).pdf(x) for c in centres],
                axis=0,
            )
        )
        assert parzen_log_likelihood(x, centres, h) == pytest.approx(by_scipy, rel=1e-5)
    validation, test = rng.normal(size=(100, 2)), rng.normal(size=(100, 2))
    nll = kde_nll(centres, validation, test, scale=1.0)
    fits = [parzen_log_likelihood(validation, centres, h).mean() for h in KDE_BANDWIDTHS]
    best = KDE_BANDWIDTHS[int(np.argmax(fits))]
    assert nll == pytest.approx(-parzen_log_likelihood(test, centres, best).mean())
    assert 0.1 < best < 1.0


def test_kde_nll_of_a_good_fake_sample_approaches_the_entropy(rng):
    """N(0, 1) fakes, N(0, 1) held-out reals: the NLL tends to the entropy 1/2 log(2 pi e)."""
    fake = rng.normal(size=(2000, 1))
    nll = kde_nll(fake, rng.normal(size=(500, 1)), rng.normal(size=(2000, 1)))
    assert nll == pytest.approx(0.5 * math.log(2 * math.pi * math.e), abs=0.05)
    shifted = kde_nll(fake + 2.0, rng.normal(size=(500, 1)), rng.normal(size=(2000, 1)))
    assert shifted > nll + 1.0  # a fake 2 std away explains the reals far worse


def test_evaluator_precision_recall_on_a_collapsed_ring_generator():
    """Fakes that are real samples of one of the eight modes: precision stays high, recall
    falls to about 1/8."""
    target = make_target(TrainConfig(dataset="ring8"))
    real = target.reference(2500)
    nearest = ring_modes()[np.argmin(((real[:, None] - ring_modes()[None]) ** 2).sum(-1), 1)]
    fake = np.resize(real[nearest[:, 0] == nearest[:, 0].max()], (2500, 2))  # the mode at x = 1
    out = Evaluator(target).evaluate(fake)
    assert out["precision"] > 0.9
    assert 0.08 < out["recall"] < 0.2
