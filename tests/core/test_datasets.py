import math

import numpy as np
import pytest
import torch
from scipy.integrate import trapezoid
from scipy.spatial.distance import cdist

from gan_core.config import (
    DATASETS_1D,
    DATASETS_2D,
    MAX_POINTS,
    ConfigError,
    TrainConfig,
    validate_config,
)
from gan_core.datasets import make_target

ALL = DATASETS_1D + DATASETS_2D
POINTS = [(0.5, 1.0), (-1.0, 0.0), (1.5, -1.5)]
VALUES = [-1.5, 0.25, 3.0]


def target(dataset: str, **params):
    if dataset == "points":
        params.setdefault("points", POINTS)
    if dataset == "points1d":
        params.setdefault("values", VALUES)
    return make_target(TrainConfig(dataset=dataset, target=params))


def draw(t, n: int, seed: int = 0) -> np.ndarray:
    return t.sample(n, torch.Generator().manual_seed(seed)).numpy()


@pytest.mark.parametrize("dataset", ALL)
def test_sample_shape_dtype_and_seeding(dataset):
    t = target(dataset)
    assert t.dim == (1 if dataset in DATASETS_1D else 2)
    x = t.sample(300, torch.Generator().manual_seed(5))
    assert x.shape == (300, t.dim)
    assert x.dtype == torch.float32
    assert torch.equal(x, t.sample(300, torch.Generator().manual_seed(5)))
    other = t.sample(300, torch.Generator().manual_seed(6))
    assert torch.equal(x, other) == (dataset == "dirac")  # only delta_0 never varies


@pytest.mark.parametrize("dataset", ALL)
def test_sample_uses_only_its_generator(dataset):
    t = target(dataset)
    state = torch.get_rng_state()
    torch.manual_seed(1)
    a = draw(t, 50, seed=3)
    torch.manual_seed(2)
    b = draw(t, 50, seed=3)
    assert np.array_equal(a, b)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    draw(t, 50)
    assert torch.equal(before, torch.get_rng_state())
    torch.set_rng_state(state)


@pytest.mark.parametrize("dataset", ALL)
def test_extent_holds_the_target_and_the_origin(dataset):
    t = target(dataset)
    lo, hi = t.extent
    assert lo < 0 < hi
    x = draw(t, 4000)
    assert ((x >= lo) & (x <= hi)).mean() > 0.999


@pytest.mark.parametrize("dataset", ALL)
def test_reference_is_fixed(dataset):
    t = target(dataset)
    ref = t.reference(500)
    assert ref.shape == (500, t.dim)
    assert ref.dtype == np.float32
    assert np.array_equal(ref, t.reference(500))
    assert np.array_equal(ref, target(dataset).reference(500))
    assert not ref.flags.writeable  # one array serves every caller: nobody may change it


def test_runs_with_the_same_target_share_one_instance():
    assert target("ring8") is target("ring8")
    assert target("mixture1d", means=[0.0, 1.0]) is target("mixture1d", means=[0.0, 1.0])
    assert target("mixture1d", means=[0.0, 1.0]) is not target("mixture1d", means=[0.0, 2.0])


def test_ring8_radius_and_spread():
    t = target("ring8")
    x = draw(t, 20000).astype(np.float64)
    radius = np.linalg.norm(x, axis=1)
    assert radius.mean() == pytest.approx(2 / 1.414, abs=1e-3)
    assert radius.std() == pytest.approx(0.02 / 1.414, rel=0.05)
    angles = np.sort(np.mod(np.arctan2(t.modes[:, 1], t.modes[:, 0]), 2 * np.pi))
    assert np.allclose(angles, 2 * np.pi * np.arange(8) / 8)
    assert t.mode_std == pytest.approx(0.02 / 1.414)


def test_grid25_centres_and_std():
    t = target("grid25")
    expected = {(2 * i / 2.828, 2 * j / 2.828) for i in range(-2, 3) for j in range(-2, 3)}
    got = {tuple(m) for m in t.modes}
    assert len(got) == 25
    assert all(min(math.dist(m, e) for e in expected) < 1e-12 for m in got)
    x = draw(t, 20000).astype(np.float64)
    nearest = t.modes[cdist(x, t.modes).argmin(1)]
    assert (x - nearest).std(0) == pytest.approx([0.05 / 2.828] * 2, rel=0.05)
    assert np.abs(x - nearest).max() < 6 * 0.05 / 2.828  # every sample beside its own centre


def test_1d_gaussians_mean_and_std():
    x = draw(target("gaussian1d", mean=1.5, std=0.7), 50000)
    assert x.mean() == pytest.approx(1.5, abs=0.02)
    assert x.std() == pytest.approx(0.7, rel=0.02)
    x = draw(target("separated1d", separation=6.0), 50000)
    assert x.mean() == pytest.approx(6.0, abs=0.01)
    assert x.std() == pytest.approx(0.25, rel=0.02)
    assert target("separated1d", separation=6.0).extent[1] >= 7.0


def test_mixture1d_moments_follow_normalised_weights():
    means, stds, weights = [-2.0, 1.0], [0.3, 0.6], [1.0, 3.0]
    t = target("mixture1d", means=means, stds=stds, weights=weights)
    w = np.array(weights) / sum(weights)
    mean = float(w @ means)  # 0.25
    var = float(w @ (np.square(stds) + np.square(means))) - mean**2
    x = draw(t, 100000).astype(np.float64)
    assert x.mean() == pytest.approx(mean, abs=0.02)
    assert x.std() == pytest.approx(math.sqrt(var), rel=0.01)
    assert (x < -0.5).mean() == pytest.approx(0.25, abs=0.01)
    assert np.array_equal(t.mode_std, stds)


def test_dirac_is_a_point_mass_at_zero():
    t = target("dirac")
    assert not draw(t, 1000).any()
    assert t.modes.tolist() == [[0.0]]
    assert t.mode_std == 0
    assert t.density(np.zeros((3, 1))) is None


@pytest.mark.parametrize(
    "params",
    [
        {"dataset": "gaussian1d", "mean": -1.0, "std": 0.4},
        {"dataset": "mixture1d", "means": [-3, 0, 2], "stds": [0.2, 1, 0.5], "weights": [1, 2, 5]},
        {"dataset": "separated1d"},
    ],
)
def test_1d_density_integrates_to_one_and_matches_samples(params):
    t = target(**params)
    xs = np.linspace(-20, 20, 40001)
    pdf = t.density(xs[:, None])
    assert trapezoid(pdf, xs) == pytest.approx(1.0, abs=1e-6)
    x = draw(t, 100000)[:, 0]
    counts, edges = np.histogram(x, bins=40, range=t.extent)
    centres = (edges[:-1] + edges[1:]) / 2
    empirical = counts / (len(x) * (edges[1] - edges[0]))
    assert np.abs(empirical - t.density(centres[:, None])).max() < 0.05 * pdf.max()


def test_gaussian1d_density_value():
    t = target("gaussian1d", mean=1.0, std=0.5)
    assert t.density(np.array([[1.0]]))[0] == pytest.approx(1 / (math.sqrt(2 * math.pi) * 0.5))


@pytest.mark.parametrize(
    ("params", "cell"),
    [
        ({"dataset": "mixture1d", "means": [-1, 2.013], "stds": [0.4, 0.01]}, 0.035),
        ({"dataset": "ring8"}, 0.05),
    ],
)
def test_the_density_over_a_cell_is_the_mean_of_the_pdf_there(params, cell):
    """density(x, cell) against the pdf averaged over 400^dim points of each cell; a mode of
    std 0.01 off the points of a 0.035 line keeps its mass there."""
    t = target(**params)
    rng = np.random.default_rng(0)
    points = rng.uniform(*t.extent, size=(5, t.dim))
    points[0] = t.modes[-1] + 0.3 * cell  # a mode off the points, within a cell
    u = (np.arange(400) + 0.5) / 400 - 0.5
    box = np.stack(np.meshgrid(*[u] * t.dim, indexing="ij"), -1).reshape(-1, t.dim) * cell
    mean = np.array([t.density(p + box).mean() for p in points])
    assert t.density(points, cell=cell) == pytest.approx(mean, rel=1e-4, abs=1e-12)
    if t.dim == 1:
        line = np.arange(-4.0, 4.0, cell)[:, None]
        assert t.density(line, cell=cell).sum() * cell == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("dataset", ["ring8", "grid25", "points"])
def test_2d_density_integrates_to_one(dataset):
    t = target(dataset)
    lo, hi = t.extent
    step = 0.01  # below the smallest std (0.0141): a Riemann sum of a Gaussian is then exact
    g = np.arange(lo, hi + step, step)
    xx, yy = np.meshgrid(g, g)
    pdf = t.density(np.stack((xx.ravel(), yy.ravel()), 1))
    assert pdf.sum() * step**2 == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("dataset", ["swissroll", "moons", "spiral"])
def test_curves_have_no_modes_or_density(dataset):
    t = target(dataset)
    assert t.modes is None and t.mode_std is None
    assert t.density(np.zeros((4, 2))) is None


def test_swissroll_radii():
    x = draw(target("swissroll"), 20000).astype(np.float64)
    radius = np.linalg.norm(x, axis=1)  # |(t cos t, t sin t)| / 7.5 = t / 7.5
    noise = 0.25 / 7.5
    assert radius.min() > 1.5 * math.pi / 7.5 - 5 * noise
    assert radius.max() < 4.5 * math.pi / 7.5 + 5 * noise
    assert radius.mean() == pytest.approx(3 * math.pi / 7.5, abs=0.01)  # t uniform


def test_moons_are_centred_and_spiral_bounded():
    x = draw(target("moons"), 20000)
    assert np.abs(x.mean(0)).max() < 0.02
    assert np.ptp(x[:, 0]) == pytest.approx(3.0, abs=0.5)
    radius = np.linalg.norm(draw(target("spiral"), 20000), axis=1)
    assert radius.max() < 1.6 + 5 * 0.05
    assert radius.mean() == pytest.approx(1.6 * 2 / 3, abs=0.02)  # r ~ 1.6 sqrt(u)


def test_reference_has_equal_counts_per_mode():
    t = target("ring8")
    ref = t.reference(803)
    counts = np.bincount(cdist(ref, t.modes).argmin(1), minlength=8)
    assert sorted(counts.tolist()) == [100] * 5 + [101] * 3
    t = target("grid25")
    counts = np.bincount(cdist(t.reference(2500), t.modes).argmin(1), minlength=25)
    assert counts.tolist() == [100] * 25


def test_reference_follows_unequal_weights():
    t = target("mixture1d", means=[-3.0, 3.0], stds=[0.3, 0.3], weights=[1.0, 3.0])
    ref = t.reference(1000)
    assert (ref < 0).sum() == 250


def test_points_target():
    t = target("points", point_std=0.1)
    assert np.allclose(t.modes, POINTS)
    assert t.mode_std == pytest.approx(0.1)
    assert target("points", points=[(6.0, -7.0)]).extent == (-7.5, 6.5)
    assert target("points", point_std=0.0).density(np.zeros((1, 2))) is None


def test_points1d_target_is_a_1d_mixture_of_the_values():
    t = target("points1d", point_std=0.1)
    assert t.dim == 1 and TrainConfig(dataset="points1d", target={"values": VALUES}).dim == 1
    assert np.allclose(t.modes[:, 0], VALUES) and t.mode_std == pytest.approx(0.1)
    assert t.extent == (-2.0, 3.5)
    x = draw(t, 3000)
    nearest = np.abs(x - np.array(VALUES)[None, :]).min(1)
    assert (nearest < 0.5).all()  # 5 std: every sample sits by one of the values


@pytest.mark.parametrize(("dataset", "field"), [("points", "points"), ("points1d", "values")])
def test_own_data_needs_one_to_max_points(dataset, field):
    with pytest.raises(ConfigError) as err:
        validate_config({"dataset": dataset})
    assert err.value.field == f"target.{field}"
    assert f"1 to {MAX_POINTS} {field}" in err.value.message and "upload" in err.value.message
    one = [0.5, 0.5] if dataset == "points" else 0.5
    validate_config({"dataset": dataset, "target": {field: [one] * MAX_POINTS}})
    with pytest.raises(ConfigError) as err:
        validate_config({"dataset": dataset, "target": {field: [one] * (MAX_POINTS + 1)}})
    assert err.value.field == f"target.{field}"
    assert f"at most {MAX_POINTS}" in err.value.message


def test_own_data_coordinates_are_bounded():
    with pytest.raises(ConfigError) as err:
        validate_config({"dataset": "points", "target": {"points": [[0.0, 0.0], [0.0, 11.0]]}})
    assert err.value.field == "target.points.1.1" and "10" in err.value.message
    with pytest.raises(ConfigError) as err:
        validate_config({"dataset": "points1d", "target": {"values": [1.0, -12.0]}})
    assert err.value.field == "target.values.1"
