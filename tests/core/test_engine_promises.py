"""What the engine promises, measured: label smoothing only where it means something,
spectral norm right at once, the drawn optimal D of a narrow G, DRAGAN's perturbation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

from gan_core import ConfigError, Trainer, probes, validate_config
from gan_core.models import SNLinear
from gan_core.probes import kde
from gan_core.regularizers import dragan_points

SMALL = {"g_hidden": [32, 32], "d_hidden": [64, 64, 64], "batch_size": 64}


@pytest.mark.parametrize("loss", ["wgan", "rsgan", "hinge", "lsgan", "fgan_reverse_kl"])
def test_label_smoothing_is_refused_with_a_loss_that_has_no_bce_target(loss):
    with pytest.raises(ConfigError) as refused:
        validate_config({"loss": loss, "regularizers": [{"kind": "label_smoothing"}]})
    assert refused.value.field == "regularizers"
    assert "regularizers.0" in refused.value.message and repr(loss) in refused.value.message
    assert "minimax, nonsaturating" in refused.value.message


def test_label_smoothing_is_refused_when_the_loss_is_switched_live():
    tr = Trainer({**SMALL, "loss": "minimax", "regularizers": [{"kind": "label_smoothing"}]})
    with pytest.raises(ConfigError, match="'wgan' has none"):
        tr.update({"loss": "wgan"})
    assert tr.config.loss == "minimax"


def layer_norms(tr: Trainer) -> list[float]:
    """The spectral norm of every layer's weight as D uses it (eval mode: u as it is)."""
    tr.D.eval()
    with torch.no_grad():
        norms = [
            float(torch.linalg.matrix_norm(layer.normalised_weight(), ord=2))
            for layer in tr.D.modules()
            if isinstance(layer, SNLinear)
        ]
    tr.D.train()
    return norms


def max_slope(tr: Trainer) -> float:
    """The largest ||grad_x D|| over the plotted grid."""
    grid = tr.snapshot({"grid": 64, "field": 16})
    lo, hi = grid["extent"]
    axis = torch.linspace(lo, hi, 64)
    x = torch.cartesian_prod(axis, axis).requires_grad_(True)
    (slope,) = torch.autograd.grad(tr.D(x).sum(), x)
    return float(slope.norm(dim=1).max())


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_spectral_norm_holds_right_after_it_is_switched_on(sigma):
    tr = Trainer({**SMALL, "loss": "nonsaturating", "regularizers": []})
    tr.step(200)  # the weights move away from the power iteration's starting vector
    tr.update({"regularizers": [{"kind": "spectral_norm", "weight": sigma}]})
    norms = layer_norms(tr)  # 13.9, 2.4, 5.9, 1.0 (product 198) before the fix, for sigma 1
    assert max(abs(n - sigma) for n in norms) < 1e-3 * sigma
    assert max_slope(tr) <= sigma ** len(norms) * 1.001


def test_spectral_norm_holds_at_initialisation():
    tr = Trainer({**SMALL, "loss": "nonsaturating", "regularizers": [{"kind": "spectral_norm"}]})
    assert max(abs(n - 1.0) for n in layer_norms(tr)) < 1e-3  # product 17.8 before the fix
    assert max_slope(tr) <= 1.001


def cell_average(cdf, xs: np.ndarray) -> np.ndarray:
    """A distribution's mass in each point's cell [x - d/2, x + d/2], over d."""
    d = xs[1] - xs[0]
    return (cdf(xs + d / 2) - cdf(xs - d / 2)) / d


def test_optimal_discriminator_of_a_narrow_generator_matches_the_closed_form():
    """D* = p_r / (p_r + p_g) for real N(0.5, 0.05) and fakes from N(0.5, 0.01), p_g as the
    line shows it (its mass in each cell of 0.02): the KDE of 2000 fakes must not be widened
    by a floor tied to the axis (2 % of it: off by 0.90)."""
    xs = np.linspace(-2.0, 2.0, 201)
    fakes = np.random.default_rng(0).normal(0.5, 0.01, 2000)
    near = np.abs(xs - 0.5) < 0.15  # within 3 real stds (further out both densities underflow)
    p_r = norm.pdf(xs[near], 0.5, 0.05)
    exact = p_r / (p_r + cell_average(lambda x: norm.cdf(x, 0.5, 0.01), xs)[near])
    drawn = p_r / (p_r + kde(fakes, xs)[near])
    assert np.abs(drawn - exact).max() < 0.05


@pytest.mark.parametrize(
    ("centre", "spread", "dtype"),
    [
        (0.5, 0.01, np.float64),
        (0.0, 0.3, np.float32),
        (-2.05, 0.05, np.float32),
        (4.0, 3.0, np.float64),
    ],
)
def test_the_cut_kernel_density_is_the_full_sum(centre, spread, dtype):
    """kde sums each kernel over the cells within KDE_REACH bandwidths of its sample only;
    against the sum over every cell (narrow kernels: each cell's mass) or every point (wide
    ones): narrow and wide generators, samples beyond the line's ends (-2.05), float32 as the
    frames give it."""
    samples = np.random.default_rng(1).normal(centre, spread, 2000).astype(dtype)
    xs = np.linspace(-2.0, 5.0, 200).astype(dtype)
    h = 1.06 * float(samples.std()) * 2000 ** (-1 / 5)
    each = samples[None, :].astype(np.float64)
    if h < probes.KDE_CELL_WIDTHS * (xs[1] - xs[0]):
        full = cell_average(lambda x: norm.cdf((x[:, None] - each) / h).sum(1) / 2000, xs)
    else:
        full = norm.pdf((xs[:, None] - each) / h).sum(1) / (2000 * h)
    cut = kde(samples, xs)
    assert cut.shape == xs.shape
    assert np.abs(cut - full).max() <= 1e-5 * full.max()


@pytest.mark.parametrize("spread", [0.05, 3.0])  # each kernel on a part of the line, on all
def test_the_density_in_blocks_of_samples_is_the_same(spread, monkeypatch):
    """KDE_BLOCK bounds the edges evaluated at once (the samples go in blocks): blocks of a
    few samples give the density of one block."""
    samples = np.random.default_rng(4).normal(1.0, spread, 2000)
    xs = np.linspace(-2.0, 5.0, 200)
    whole = kde(samples, xs)
    monkeypatch.setattr(probes, "KDE_BLOCK", 3000)  # 14 samples a block on the whole line
    assert kde(samples, xs) == pytest.approx(whole, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("at", [2.0, 2.013])
def test_a_generator_narrower_than_the_cells_keeps_its_mass_on_the_line(at):
    """All fakes within 0.002 of a point of the line or between two (2.013, on a grid of
    0.035): sampled at the points the estimate read 5e-9 there; the cells hold its mass."""
    xs = np.linspace(-2.0, 5.0, 200)
    fakes = np.random.default_rng(2).normal(at, 0.002, 2000)
    density = kde(fakes, xs)
    assert density.sum() * (xs[1] - xs[0]) == pytest.approx(1.0, abs=1e-6)
    assert abs(xs[density.argmax()] - at) <= (xs[1] - xs[0]) / 2
    spike = kde(np.full(2000, xs[85]), xs)  # a point mass (std 0): a spike, no division by 0
    assert np.isfinite(spike).all() and spike.argmax() == 85


@pytest.mark.parametrize("spread", [0.25, 1.0, 3.0])
def test_kernels_just_narrower_than_two_cells_are_within_a_percent_of_the_points(spread):
    """The docstring's promise: at the switch (h just under KDE_CELL_WIDTHS cells) the
    cells' mean is within about 1 % (of the peak) of the estimate at the points, so a
    generator whose width crosses it does not jump on screen."""
    fakes = np.random.default_rng(3).normal(1.0, spread, 2000)
    h = 1.06 * fakes.std() * 2000 ** (-1 / 5)
    xs = np.linspace(-2.0, 5.0, int(7.0 / (h / 1.99)) + 1)  # cells a little over h / 2
    assert h < probes.KDE_CELL_WIDTHS * (xs[1] - xs[0])
    at_points = norm.pdf((xs[:, None] - fakes[None, :]) / h).sum(1) / (2000 * h)
    assert np.abs(kde(fakes, xs) - at_points).max() <= 0.011 * at_points.max()


def test_dragan_perturbs_symmetrically_around_the_real_samples():
    rng = torch.Generator().manual_seed(0)
    real = torch.randn(20000, 2, generator=rng) * torch.tensor([0.5, 2.0]) + 3.0
    moved = dragan_points(real, 0.5, rng) - real
    std = float(real.std())  # one global std, as in the official code
    assert abs(float(moved.mean())) < 0.01 * std  # 0.25 std for 0.5 std U[0, 1)
    assert (moved > 0).float().mean().item() == pytest.approx(0.5, abs=0.02)
    # x + alpha delta, alpha ~ U[0, 1], delta ~ N(0, (0.5 std)^2): E[moved^2] = (0.5 std)^2 / 3
    assert float(moved.pow(2).mean()) == pytest.approx((0.5 * std) ** 2 / 3, rel=0.05)


def test_dragan_default_lambda_is_the_papers_10():
    (reg,) = validate_config({"regularizers": [{"kind": "dragan"}]}).regularizers
    assert reg.weight == 10.0 and reg.spread == 0.5


@pytest.mark.parametrize("part", ["d", "g"])
def test_a_dirac_half_step_moves_the_point_the_frame_shows(part):
    tr = Trainer({"dataset": "dirac", "loss": "nonsaturating", "regularizers": []})
    tr.step(2, part=part)
    now = (tr.G.theta.item(), tr.D.body.weight.item())
    snap = tr.snapshot()
    assert (snap["theta"], snap["psi"]) == pytest.approx(now)  # psi was 1.0 for 0.85
    assert tuple(snap["trajectory"][-1]) == pytest.approx(now) and len(snap["trajectory"]) == 2
    tr.step(1)  # a full iteration replaces the moved point with its own
    assert len(tr.trajectory) == 2 and tr.trajectory[-1] == (tr.G.theta.item(), psi(tr))


def psi(tr: Trainer) -> float:
    return tr.D.body.weight.item()


def test_a_collapsed_generator_shows_in_the_1d_frame():
    """G's weights 0.002 and its bias 2.013 (between two points of the line): the frame's fake
    density holds G's mass where the fakes are, and the optimal D is low there, not 1."""
    tr = Trainer({"dataset": "mixture1d", "loss": "nonsaturating", "g_hidden": [], "z_dim": 1})
    weight, bias = tr.G.parameters()
    with torch.no_grad():
        weight.fill_(0.002)
        bias.fill_(2.013)
    frame = tr.snapshot({"line": 200})
    xs, density = frame["xs"], frame["fake_density"]
    at = int(np.argmin(np.abs(xs - 2.013)))
    assert density.sum() * (xs[1] - xs[0]) == pytest.approx(1.0, abs=1e-3)
    assert density.argmax() == at
    assert frame["d_optimal"][at] < 0.1
