"""The training tricks of issue 17 (tanh output and scaling, batch and layer norm, label noise
and two-sided smoothing, truncation): each against an independent computation, switched
live where it is live, replayed bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gan_core import LOSSES, REGULARIZERS, ConfigError, Lanes, TrainConfig, Trainer, replay
from gan_core.config import PER_SAMPLE_PENALTIES, RESET_ONLY
from gan_core.datasets import tanh_scale
from gan_core.losses import flipped_label_loss
from gan_core.models import among_batch_norm, draw_latent

SMALL = {"g_hidden": [16, 16], "d_hidden": [16, 16], "batch_size": 32, "regularizers": []}
LABELLED = [spec.name for spec in LOSSES if spec.label_loss is not None]


# ----- label noise and two-sided smoothing -------------------------------------------------
def test_the_losses_with_labels_are_the_bce_squares_and_hinge_ones() -> None:
    assert sorted(LABELLED) == ["feature_matching", "hinge", "lsgan", "minimax", "nonsaturating"]


@pytest.mark.parametrize("name", LABELLED)
def test_d_loss_is_the_label_loss_at_targets_one_and_zero(name: str) -> None:
    loss = LOSSES.get(name)
    real, fake = torch.randn(50) * 3, torch.randn(50) * 3
    by_labels = (
        loss.label_loss(real, torch.ones(50)).mean() + loss.label_loss(fake, torch.zeros(50)).mean()
    )
    assert float(by_labels) == pytest.approx(float(loss.d_loss(real, fake)), rel=1e-6)


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5])
def test_the_flip_rate_measured_over_many_batches_is_label_noise(p: float) -> None:
    """Scores of +-1000: a kept label costs softplus(-1000) = 0, a flipped one 1000, so the
    loss counts the flips; 400 batches of 256 real and 256 fake scores."""
    loss, rng, n = LOSSES.get("minimax"), torch.Generator().manual_seed(3), 256
    real, fake = torch.full((n,), 1000.0), torch.full((n,), -1000.0)
    rates = [float(flipped_label_loss(loss, real, fake, p, rng)) / 2000 for _ in range(400)]
    assert np.mean(rates) == pytest.approx(p, abs=0.005)  # std of the mean: <= 0.0016
    assert float(flipped_label_loss(loss, real, fake, 0.0, rng)) == 0.0


def test_label_noise_averages_to_two_sided_smoothing() -> None:
    """E over the flips of the noisy BCE = L_D + p (E[D(x)] - E[D(G(z))]), the two-sided
    smoothing penalty with alpha = p (BCE(s, 0) - BCE(s, 1) = s)."""
    loss, rng, p = LOSSES.get("nonsaturating"), torch.Generator().manual_seed(0), 0.3
    real, fake = torch.randn(128) + 1, torch.randn(128) - 1
    mean = np.mean([float(flipped_label_loss(loss, real, fake, p, rng)) for _ in range(2000)])
    smoothing = REGULARIZERS.get("two_sided_label_smoothing")
    settings = TrainConfig(
        loss="minimax", regularizers=[{"kind": "two_sided_label_smoothing", "weight": p}]
    ).regularizers[0]
    penalty = smoothing.penalty(lambda x: x, real, fake, settings, rng)
    expected = float(loss.d_loss(real, fake) + penalty)
    assert mean == pytest.approx(expected, abs=0.01)  # the flips' std over 2000 draws: ~0.003


def test_two_sided_smoothing_is_the_bce_against_soft_targets() -> None:
    real, fake, alpha = torch.randn(64), torch.randn(64), 0.15
    soft = torch.nn.functional.binary_cross_entropy_with_logits
    expected = soft(real, torch.full((64,), 1 - alpha)) + soft(fake, torch.full((64,), alpha))
    settings = TrainConfig(
        loss="minimax", regularizers=[{"kind": "two_sided_label_smoothing", "weight": alpha}]
    ).regularizers[0]
    spec = REGULARIZERS.get("two_sided_label_smoothing")
    got = LOSSES.get("minimax").d_loss(real, fake) + spec.penalty(
        lambda x: x, real, fake, settings, None
    )
    assert float(got) == pytest.approx(float(expected), rel=1e-6)


def test_label_noise_is_refused_for_a_loss_without_labels() -> None:
    with pytest.raises(ConfigError) as error:
        Trainer({**SMALL, "loss": "wgan", "label_noise": 0.1})
    assert error.value.field == "label_noise" and "'wgan' has none" in error.value.message
    tr = Trainer({**SMALL, "loss": "minimax", "label_noise": 0.1})
    with pytest.raises(ConfigError) as error:  # switching live to a loss without labels
        tr.update({"loss": "rsgan"})
    assert error.value.field == "label_noise"


# ----- truncation --------------------------------------------------------------------------
@pytest.mark.parametrize("t", [0.25, 1.0, 2.0])
def test_a_truncated_latent_is_the_normal_resampled_inside_the_bound(t: float) -> None:
    """Against rejection sampling (numpy) and the truncated normal's variance,
    1 - 2 t phi(t) / (2 Phi(t) - 1)."""
    config = TrainConfig(z_dim=4)
    z = draw_latent(config, 20_000, torch.Generator().manual_seed(1), t).numpy()
    assert np.abs(z).max() <= t
    phi = math.exp(-(t**2) / 2) / math.sqrt(2 * math.pi)
    variance = 1 - 2 * t * phi / math.erf(t / math.sqrt(2))
    assert z.var() == pytest.approx(variance, rel=0.03)
    draws = np.random.default_rng(0).standard_normal(400_000)
    kept = draws[np.abs(draws) <= t][:80_000]
    assert np.quantile(np.abs(z), [0.25, 0.5, 0.9]) == pytest.approx(
        np.quantile(np.abs(kept), [0.25, 0.5, 0.9]), abs=0.02 * t
    )


def test_truncation_of_uniform_noise_narrows_the_interval() -> None:
    config = TrainConfig(noise="uniform", z_dim=3)
    z = draw_latent(config, 10_000, torch.Generator().manual_seed(0), 0.4).numpy()
    assert np.abs(z).max() <= 0.4 and np.abs(z).max() > 0.399
    full = draw_latent(config, 100, torch.Generator().manual_seed(0), 0.0)
    assert torch.equal(full, draw_latent(config, 100, torch.Generator().manual_seed(0), 2.0))


def test_truncation_changes_views_and_metrics_never_training() -> None:
    config = {**SMALL, "seed": 2}
    plain, truncated = Trainer(config), Trainer({**config, "truncation": 0.5})
    plain.step(10)
    truncated.step(10)
    for p, q in zip(plain.G.parameters(), truncated.G.parameters(), strict=True):
        assert torch.equal(p, q)
    z = draw_latent(truncated.config, 400, torch.Generator().manual_seed(3), 0.5)
    assert not np.array_equal(plain.sample(400), truncated.sample(400))
    assert np.array_equal(  # the view's fakes: G of the truncated display latent
        truncated.snapshot({"samples": 64})["fake"],
        plain.G(draw_latent(plain.config, 64, torch.Generator().manual_seed(12345), 0.5))
        .detach()
        .numpy(),
    )
    assert torch.equal(z.abs().max() <= 0.5, torch.tensor(True))
    plain.update({"truncation": 0.5})  # live
    assert np.array_equal(plain.sample(400), truncated.sample(400))


# ----- tanh output and the scale -----------------------------------------------------------
def test_the_scale_maps_the_target_into_tanh_range_and_back() -> None:
    tr = Trainer({**SMALL, "dataset": "mixture1d", "g_output": "tanh"})
    reference = tr.target.reference(2500)
    s = tr.data_scale
    assert s == pytest.approx(np.abs(reference).max() / 0.9) and s == tanh_scale(
        tr.config, tr.target
    )
    assert np.abs(reference / s).max() == pytest.approx(0.9)  # inside (-1, 1)
    np.testing.assert_allclose((reference / s) * s, reference, rtol=1e-6)  # round trip
    x = torch.tensor(reference[:50])
    body = list(tr.D.body)
    by_hand = x / s
    for layer in body[1:]:  # D works on x / s: its first layer is the scale
        by_hand = layer(by_hand)
    assert torch.allclose(tr.D(x), by_hand.squeeze(-1))
    z = draw_latent(tr.config, 50, torch.Generator().manual_seed(0))
    raw = tr.G[:-1](z)  # the MLP and tanh: in (-1, 1)
    assert raw.abs().max() < 1 and torch.allclose(tr.G(z), s * raw)
    snap = tr.snapshot({"samples": 64})  # views in data units
    np.testing.assert_array_equal(snap["real"], tr.target.reference(64))


def test_a_tanh_generator_without_the_scale_cannot_leave_minus_one_one() -> None:
    tr = Trainer({**SMALL, "dataset": "mixture1d", "g_output": "tanh", "scale_target": False})
    assert tr.data_scale == 1.0
    tr.step(20)
    assert np.abs(tr.sample(1000)).max() <= 1.0  # float32 tanh reaches 1.0 itself
    assert tanh_scale(TrainConfig(dataset="mixture1d"), tr.target) == 1.0  # linear: no scale


# ----- batch norm and layer norm -----------------------------------------------------------
@pytest.mark.parametrize("kind", PER_SAMPLE_PENALTIES)
def test_a_per_sample_penalty_with_batch_norm_in_d_is_refused_naming_both(kind: str) -> None:
    config = {**SMALL, "d_norm": "batch", "regularizers": [{"kind": kind}]}
    with pytest.raises(ConfigError) as error:
        Trainer(config)
    message = error.value.message
    assert error.value.field == "d_norm"
    assert "d_norm = batch" in message and f"{kind} (regularizers.0)" in message
    assert "depends on the whole batch" in message and "allow_batch_norm_penalty" in message
    tr = Trainer({**config, "allow_batch_norm_penalty": True})  # the documented override
    tr.step(3)
    assert tr.halt is None
    ok = Trainer({**SMALL, "d_norm": "layer", "regularizers": [{"kind": kind}]})
    with pytest.raises(ConfigError):  # adding the penalty live to a batch-norm D
        Trainer({**SMALL, "d_norm": "batch"}).update({"regularizers": [{"kind": kind}]})
    assert ok.config.d_norm == "layer"


def test_layer_norm_keeps_each_score_its_own_and_batch_norm_does_not() -> None:
    x = torch.randn(40, 2)
    for norm, alone in (("layer", True), ("batch", False)):
        tr = Trainer({**SMALL, "d_norm": norm})
        tr.step(2)
        tr.D.train()
        with torch.no_grad():
            together, half = tr.D(x)[:20], tr.D(x[:20])
        assert torch.allclose(together, half, atol=1e-6) is alone


def test_a_point_among_a_batch_norm_batch_is_scored_with_that_batchs_statistics() -> None:
    """Against torch's own batch norm in training mode on the batch itself."""
    tr = Trainer({**SMALL, "d_norm": "batch"})
    tr.step(3)
    batch = torch.randn(64, 2)
    d = tr.D
    state = {k: v.clone() for k, v in d.state_dict().items()}
    d.train()
    with torch.no_grad():
        trained_mode = d(batch)
    d.load_state_dict(state)  # that pass moved the running averages
    assert torch.allclose(d.score_among(batch, batch), trained_mode, atol=1e-5)
    assert torch.allclose(
        among_batch_norm(d.body, batch, batch).squeeze(-1), trained_mode, atol=1e-5
    )


def test_views_of_a_batch_norm_generator_leave_its_running_statistics_alone() -> None:
    tr = Trainer({**SMALL, "g_norm": "batch", "g_ema": 0.9})
    tr.step(5)
    buffers = [b.clone() for b in tr.G.buffers()]
    tr.snapshot({"samples": 64, "field": 4, "manifold": 4})
    tr.evaluate(500)
    assert all(torch.equal(a, b) for a, b in zip(buffers, tr.G.buffers(), strict=True))
    assert not tr.G.training
    running = next(b for name, b in tr.G.named_buffers() if name.endswith("running_mean"))
    assert running.abs().sum() > 0  # training moved them
    for ema, b in zip(tr.G_ema.buffers(), tr.G.buffers(), strict=True):
        assert torch.equal(ema, b)  # the average's statistics are G's


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"dataset": "dirac", "g_output": "tanh"}, "g_output", "Dirac-GAN"),
        ({"g_hidden": [], "g_norm": "layer"}, "g_norm", "g_hidden is empty"),
        ({"d_norm": "batch", "batch_size": 1}, "d_norm", "batch_size must be >= 2"),
        ({"d_norm": "batch", "pack": 2}, "d_norm", "one batch-dependent D"),
        ({"d_norm": "batch", "unroll_steps": 2}, "d_norm", "unroll_steps"),
        ({"label_noise": 0.6, "loss": "minimax"}, "label_noise", "less than or equal to 0.5"),
        ({"truncation": -1.0}, "truncation", "greater than or equal to 0"),
    ],
)
def test_tricks_that_cannot_work_are_refused(config, field, words) -> None:
    with pytest.raises(ConfigError) as error:
        Trainer({**SMALL, **config})
    assert error.value.field == field and words in error.value.message


def test_norms_and_the_output_apply_on_reset_and_are_in_the_schema() -> None:
    properties = TrainConfig.model_json_schema()["properties"]
    for field in ("g_output", "scale_target", "g_norm", "d_norm", "label_noise", "truncation"):
        assert field in properties and properties[field]["description"]
    assert properties["d_norm"]["enum"] == ["none", "batch", "layer"]
    assert properties["label_noise"]["maximum"] == 0.5
    for field in ("g_output", "scale_target", "g_norm", "d_norm"):
        assert field in RESET_ONLY
    with pytest.raises(ConfigError) as error:
        Trainer(SMALL).update({"g_norm": "layer"})
    assert error.value.field == "g_norm" and "reset" in error.value.message


# ----- determinism -------------------------------------------------------------------------
def test_every_trick_switched_live_replays_bit_for_bit_and_survives_save() -> None:
    config = {
        **SMALL,
        "loss": "minimax",
        "g_output": "tanh",
        "g_norm": "batch",
        "d_norm": "layer",
        "g_ema": 0.9,
        "seed": 5,
    }
    tr = Trainer(config)
    tr.step(3)
    tr.update({"label_noise": 0.2, "truncation": 1.0})
    tr.step(3)
    tr.update({"regularizers": [{"kind": "two_sided_label_smoothing"}]})
    tr.step(2)
    tr.update({"regularizers": [], "loss": "lsgan"})
    tr.update({"loss": "hinge", "label_noise": 0.4})
    tr.step(1, part="d")
    tr.step(3)
    assert tr.halt is None and all(math.isfinite(v) for v in tr.cheap_metrics().values())
    again = replay(config, tr.commands, tr.iteration)
    np.testing.assert_array_equal(again.sample(300), tr.sample(300))
    np.testing.assert_array_equal(again.sample(300, averaged=True), tr.sample(300, averaged=True))
    restored = Trainer.restore(tr.save())
    restored.step(2)
    tr.step(2)
    np.testing.assert_array_equal(restored.sample(300), tr.sample(300))


def test_batch_norm_in_d_with_the_override_replays_bit_for_bit() -> None:
    config = {
        **SMALL,
        "loss": "wgan",
        "d_norm": "batch",
        "allow_batch_norm_penalty": True,
        "regularizers": [{"kind": "gp", "weight": 1.0}],
        "seed": 6,
    }
    tr = Trainer(config)
    tr.step(4)
    snap = tr.snapshot({"samples": 64, "field": 4})
    assert np.isfinite(snap["d_grid"]).all() and np.isfinite(snap["field"]).all()
    again = replay(config, tr.commands, tr.iteration)
    for p, q in zip(tr.D.state_dict().values(), again.D.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_lanes_of_other_norms_start_from_the_same_linear_weights() -> None:
    """A norm changes D's state (batch norm's running averages), so lanes do not share it;
    the seed gives every lane the same linear layers all the same."""
    lanes = Lanes(
        {**SMALL, "d_norm": "batch"}, patches=[{}, {"d_norm": "layer"}, {"g_norm": "layer"}]
    )
    packed = Lanes(SMALL, patches=[{}, {"pack": 2}, {"minibatch_stddev": True}])
    assert len(packed) == 3  # D's input is wider: not shared, built from the seed
    linears = [
        [p for name, p in lane.trainer.D.named_parameters() if p.dim() == 2] for lane in lanes
    ]
    for other in linears[1:]:
        assert all(torch.equal(p, q) for p, q in zip(linears[0], other, strict=True))
    lanes.step(2)
    assert all(lane.trainer.halt is None for lane in lanes)
