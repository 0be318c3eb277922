"""The lectures of the training tricks (issue 17), run headless as comparisons.

Each preset is started as the page starts it (``start_comparison``: its lanes, its warm-up),
trained on, and its phenomenon asserted between lanes with margins, over several seeds where
it is statistical; the numbers in comments are what this machine measured (runs are seeded).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from gan_core import Trainer
from gan_core.regularizers import gradient_norm, interpolates
from server.presets import PRESETS
from tests.presets.comparison import comparison, press


def lanes_of(name: str, seed: int) -> dict[str, Trainer]:
    """The preset's lanes after its warm-up (``comparison``), by title."""
    return {lane.title: lane.trainer for lane in comparison(name, seed)}


def fake_push(tr: Trainer) -> float:
    """The median |push| on the shown fakes (1D)."""
    return float(np.median(np.abs(tr.snapshot(PRESETS["noisy_labels"].view)["fake_grad"])))


# ----- batch norm under a gradient penalty -------------------------------------------------
def penalty_and_own_slopes(tr: Trainer) -> tuple[np.ndarray, np.ndarray]:
    """At one batch of interpolates: the norms the penalty sees (grad_x of the batch's summed
    score, D in training mode) and each point's own slope with the batch statistics held
    fixed (what the views show)."""
    rng = torch.Generator().manual_seed(7)
    real, fake = tr.target.sample(256, rng), torch.tensor(tr.sample(256))
    x = interpolates(real, fake, rng)
    d = copy.deepcopy(tr.D).train()  # a copy: the pass moves batch norm's running averages
    seen = gradient_norm(d, x).detach().numpy()
    points = x.clone().requires_grad_(True)
    (slopes,) = torch.autograd.grad(tr.D.score_among(points, x).sum(), points)
    return seen, slopes.norm(dim=1).numpy()


@pytest.mark.parametrize("seed", [0, 1])
def test_with_batch_norm_the_penalty_measures_no_samples_own_slope(seed: int) -> None:
    lanes = lanes_of("batchnorm_and_the_penalty", seed)
    batch, layer = lanes["batch norm, penalty forced"], lanes["layer norm"]
    for tr in (batch, layer):
        tr.step(100)
        assert tr.halt is None
    seen, own = penalty_and_own_slopes(batch)
    assert 0.6 < seen.mean() < 1.1  # 0.82 (seeds 0-2: 0.82-0.85): the penalty is content
    assert own.mean() > seen.mean() + 0.2  # 1.16 and 1.70 (seed 2: 1.44)
    assert own.std() > 0.4  # 0.56 and 0.80 (layer norm: 0.13-0.18)
    assert batch.snapshot({"samples": 256})["metrics"]["grad_norm_fake"] > 6  # 18.6-20.2
    seen, own = penalty_and_own_slopes(layer)
    np.testing.assert_allclose(seen, own, rtol=1e-4, atol=1e-6)  # the same number
    assert 0.8 < own.mean() < 1.2  # 0.97-1.04
    assert 0.7 < layer.snapshot({"samples": 256})["metrics"]["grad_norm_fake"] < 1.4  # 0.88-0.99


# ----- batch norm in G, or in D ------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_batch_norm_in_g_covers_the_ring_and_in_d_it_does_not(seed: int) -> None:
    lanes = lanes_of("batchnorm_in_g_or_d", seed)
    for tr in lanes.values():
        tr.step(200)
        assert tr.halt is None
    metrics = {title: tr.evaluate() for title, tr in lanes.items()}
    in_g = metrics["batch norm in G"]
    assert in_g["w1"] < 0.8 and in_g["modes_covered"] >= 4  # W1 0.53, 0.25; 5 modes (400: 6-7)
    for title in ("no norm", "batch norm in D"):
        other = metrics[title]
        assert other["w1"] > 1.1 and other["modes_covered"] <= 1  # W1 1.26-1.62, 0-1 modes
        assert other["w1"] > in_g["w1"] + 0.4


# ----- truncation trades recall ------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_truncation_cuts_recall_and_keeps_quality_on_one_run(seed: int) -> None:
    lanes = lanes_of("truncation_trades_recall", seed)
    metrics = {title: tr.evaluate() for title, tr in lanes.items()}
    off, one, half = metrics["no truncation"], metrics["truncation 1"], metrics["truncation 0.5"]
    assert off["recall"] > 0.8  # 0.88-0.96
    assert one["recall"] < off["recall"] - 0.25  # 0.44-0.52
    assert half["recall"] < one["recall"] - 0.1 and half["recall"] < 0.35  # 0.19-0.25
    assert off["high_quality"] < 0.99 < one["high_quality"]  # 0.97-0.98 -> 1.00
    assert half["high_quality"] > 0.99  # 1.00
    for m in (one, half):
        assert m["precision"] > off["precision"] - 0.03  # 0.96-0.98 -> 0.97-0.99
    fakes = [lane.sample(500) for lane in lanes.values()]
    for other in fakes[1:]:  # one run: the lanes' generators are the same
        assert not np.array_equal(fakes[0], other)
    weights = [list(lane.G.parameters()) for lane in lanes.values()]
    for other in weights[1:]:
        assert all(torch.equal(p, q) for p, q in zip(weights[0], other, strict=True))


# ----- noisy labels ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_label_noise_keeps_the_push_at_the_fakes_from_vanishing(seed: int) -> None:
    lanes = comparison("noisy_labels", seed)
    noisy, clean = (lane.trainer for lane in lanes)
    assert [lane.title for lane in lanes] == ["label noise 0.1", "no label noise"]
    # the smoothings, pressed: two-sided keeps a push, one-sided (Salimans et al.) does not
    assert fake_push(press(lanes, "noisy_labels", "Two-sided smoothing")) > 1e-3  # 0.0029, 0.0019
    assert fake_push(press(lanes, "noisy_labels", "One-sided smoothing")) < 1e-5  # 4e-7, 2e-7
    assert fake_push(clean) < 1e-4  # 1.7e-7 to 4.8e-6 (seeds 0-2)
    assert fake_push(noisy) > 3e-3  # 0.013-0.03
    start = float(clean.sample(1000).mean())
    noisy.step(200)
    clean.step(200)
    assert abs(float(clean.sample(1000).mean()) - start) < 0.05  # the fakes never move
    assert abs(float(noisy.sample(1000).mean()) - 4.0) < 0.5  # 4.03-4.06: at the real mode


# ----- a tanh output needs the data scaled -------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_a_tanh_generator_reaches_the_target_only_when_it_is_scaled(seed: int) -> None:
    lanes = lanes_of("tanh_output_and_scaling", seed)
    scaled, unscaled = lanes["tanh, target / 3.32"], lanes["tanh, no scaling"]
    assert scaled.data_scale == pytest.approx(3.32, abs=0.005)
    reference = scaled.target.reference(2500)[:, 0]
    bound = float(np.mean(np.maximum(np.abs(reference) - 1, 0)))
    assert bound == pytest.approx(0.98, abs=0.005)  # W1 of the best G inside (-1, 1)
    for tr in (scaled, unscaled):
        tr.step(300)
        assert tr.halt is None
    x = unscaled.sample(2000)[:, 0]
    assert np.abs(x).max() <= 1 and np.mean(np.abs(x) > 0.95) > 0.85  # 0.93-0.95
    assert unscaled.evaluate()["w1"] > bound  # 1.02-1.06
    assert scaled.evaluate()["w1"] < 0.5  # 0.22-0.24
