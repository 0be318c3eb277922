"""What the engine promises, measured: label smoothing only where it means something,
spectral norm right at once, the drawn optimal D of a narrow G, DRAGAN's perturbation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

from gan_core import ConfigError, Trainer, validate_config
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


def test_optimal_discriminator_of_a_narrow_generator_matches_the_closed_form():
    """D* = p_r / (p_r + p_g) for real N(0.5, 0.05) and fakes from N(0.5, 0.01): the KDE of
    2000 fakes must not be widened by a floor tied to the axis (2 % of it: off by 0.90)."""
    xs = np.linspace(-2.0, 2.0, 200)
    fakes = np.random.default_rng(0).normal(0.5, 0.01, 2000)
    xs = xs[np.abs(xs - 0.5) < 0.15]  # within 3 real stds (further out both densities underflow)
    p_r = norm.pdf(xs, 0.5, 0.05)
    exact = p_r / (p_r + norm.pdf(xs, 0.5, 0.01))
    drawn = p_r / (p_r + kde(fakes, xs))
    assert np.abs(drawn - exact).max() < 0.1


@pytest.mark.parametrize(
    ("centre", "spread", "dtype"),
    [
        (0.5, 0.01, np.float64),
        (0.0, 0.3, np.float32),
        (-2.3, 0.05, np.float32),
        (4.0, 3.0, np.float64),
    ],
)
def test_the_cut_kernel_density_is_the_full_sum(centre, spread, dtype):
    """kde sums each kernel within KDE_REACH bandwidths of its sample only; against the sum
    over every point: narrow and wide generators, samples beyond the line's ends (-2.3),
    float32 as the frames give it."""
    rng = np.random.default_rng(1)
    samples = rng.normal(centre, spread, 2000).astype(dtype)
    xs = np.linspace(-2.0, 5.0, 200).astype(dtype)
    h = 1.06 * float(samples.std()) * 2000 ** (-1 / 5)
    full = norm.pdf((xs[:, None] - samples[None, :].astype(np.float64)) / h).sum(1) / (2000 * h)
    cut = kde(samples, xs)
    assert cut.shape == xs.shape
    assert np.abs(cut - full).max() <= 1e-5 * full.max()
    spike = kde(np.full(2000, xs[85]), xs)  # a point mass (std 0) on a point of the line
    assert np.isfinite(spike).all() and spike.argmax() == 85


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
