"""Discriminator variants and generator losses that need more than D's score (issue 13):
each against an independent computation, switched live, replayed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gan_core import LOSSES, ConfigError, Trainer, replay

SMALL = {"g_hidden": [16, 16], "d_hidden": [16, 16], "batch_size": 32, "regularizers": []}


def by_hand_features(tr: Trainer, x: torch.Tensor) -> torch.Tensor:
    """D's last hidden layer, layer by layer from its weights (relu MLP)."""
    linears = [m for m in tr.D.body if isinstance(m, torch.nn.Linear)]
    for layer in linears[:-1]:
        x = torch.relu(x @ layer.weight.T + layer.bias)
    return x


# ----- feature matching --------------------------------------------------------------------
def test_feature_matching_loss_is_the_mean_feature_gap_squared() -> None:
    tr = Trainer({**SMALL, "loss": "feature_matching", "dataset": "ring8"})
    tr.step(3)
    real, fake = torch.tensor(tr.target.reference(64)), torch.tensor(tr.sample(64))
    f_real, f_fake = by_hand_features(tr, real), by_hand_features(tr, fake)
    assert torch.allclose(tr.D.features(real), f_real, atol=1e-6)
    gap = (f_real.mean(0) - f_fake.mean(0)).detach().numpy()
    expected = float(np.sum(gap**2) / len(gap))  # Salimans et al.: ||E f(x) - E f(G(z))||^2 / h
    got = tr.loss.g_loss(tr.D.features(real), tr.D.features(fake)).item()
    assert got == pytest.approx(expected, rel=1e-5)
    assert tr.loss.d_loss is LOSSES.get("nonsaturating").d_loss  # D keeps the GAN loss


def test_feature_matching_push_is_the_per_sample_gradient_of_the_loss() -> None:
    """The arrows on the fakes: -n dL_G/dx_i, by autograd through the whole loss here."""
    tr = Trainer({**SMALL, "loss": "feature_matching", "dataset": "ring8"})
    tr.step(5)
    view = {"samples": 64, "field": 8}
    snap = tr.snapshot(view)
    real, fake = torch.tensor(snap["real"]), torch.tensor(snap["fake"]).requires_grad_(True)
    tr.D.eval()
    loss = tr.loss.g_loss(by_hand_features(tr, real), by_hand_features(tr, fake))
    (grad,) = torch.autograd.grad(loss, fake)
    np.testing.assert_allclose(snap["fake_grad"], -grad.numpy() * 64, rtol=1e-4, atol=1e-7)
    assert np.isfinite(snap["field"]).all() and np.abs(snap["field"]).max() > 0


def test_feature_matching_switches_live_and_replays_bit_for_bit() -> None:
    config = {**SMALL, "seed": 3}
    tr = Trainer(config)
    tr.step(4)
    for loss in ("feature_matching", "fgan_kl", "feature_matching", "fgan_reverse_kl", "wgan"):
        tr.update({"loss": loss})
        tr.step(3)
        assert all(math.isfinite(v) for v in tr.cheap_metrics().values())
    tr.update({"loss": "feature_matching", "update_scheme": "simultaneous"})
    tr.step(3)
    assert tr.halt is None
    again = replay(config, tr.commands, tr.iteration)
    np.testing.assert_array_equal(again.sample(300), tr.sample(300))


def test_feature_matching_is_refused_for_the_dirac_gan() -> None:
    with pytest.raises(ConfigError) as error:
        Trainer({"dataset": "dirac", "loss": "feature_matching"})
    assert error.value.field == "loss" and "Dirac" in error.value.message
    tr = Trainer({"dataset": "dirac", "loss": "nonsaturating"})
    with pytest.raises(ConfigError):
        tr.update({"loss": "feature_matching"})


# ----- energy-based GAN --------------------------------------------------------------------
EBGAN = {**SMALL, "loss": "ebgan", "discriminator": "autoencoder", "dataset": "moons"}


def by_hand_energy(tr: Trainer, x: torch.Tensor) -> torch.Tensor:
    """||Dec(Enc(x)) - x||^2 from the autoencoder's weights (relu MLP dim -> 16 -> 16 -> dim)."""
    linears = [m for m in tr.D.body if isinstance(m, torch.nn.Linear)]
    h = x
    for layer in linears[:-1]:
        h = torch.relu(h @ layer.weight.T + layer.bias)
    reconstruction = h @ linears[-1].weight.T + linears[-1].bias
    return ((reconstruction - x) ** 2).sum(1)


def test_ebgan_losses_are_the_papers_on_the_autoencoders_energy() -> None:
    tr = Trainer({**EBGAN, "ebgan_margin": 0.7})
    tr.step(3)
    real, fake = torch.tensor(tr.target.reference(64)), torch.tensor(tr.sample(64))
    e_real, e_fake = by_hand_energy(tr, real), by_hand_energy(tr, fake)
    assert torch.allclose(-tr.D(real), e_real, atol=1e-6)
    d = tr.loss.d_loss(tr.D(real), tr.D(fake), **tr.loss_params).item()
    expected = (e_real.mean() + torch.clamp(0.7 - e_fake, min=0).mean()).item()  # eq. 1
    assert d == pytest.approx(expected, rel=1e-5)
    assert tr.loss.g_loss(tr.D(real), tr.D(fake)).item() == pytest.approx(e_fake.mean().item())


def test_ebgan_margin_and_loss_switch_live_and_replay() -> None:
    tr = Trainer({**EBGAN, "seed": 2})
    tr.step(4)
    tr.update({"ebgan_margin": 3.0})
    tr.step(3)
    for loss in ("hinge", "feature_matching", "ebgan"):
        tr.update({"loss": loss})
        tr.step(3)
    assert tr.halt is None
    assert all(math.isfinite(v) for v in tr.cheap_metrics().values())
    again = replay({**EBGAN, "seed": 2}, tr.commands, tr.iteration)
    np.testing.assert_array_equal(again.sample(300), tr.sample(300))


def test_ebgan_needs_the_autoencoder_and_the_dirac_gan_cannot_have_one() -> None:
    with pytest.raises(ConfigError) as error:
        Trainer({"loss": "ebgan"})
    assert error.value.field == "discriminator" and "autoencoder" in error.value.message
    with pytest.raises(ConfigError) as error:
        Trainer({"dataset": "dirac", "loss": "wgan", "discriminator": "autoencoder"})
    assert error.value.field == "discriminator"
    with pytest.raises(ConfigError) as error:
        Trainer({**EBGAN, "ebgan_margin": 0.0})
    assert error.value.field == "ebgan_margin"


# ----- minibatch stddev and packing --------------------------------------------------------
def test_batch_stddev_is_the_mean_of_the_per_feature_population_std() -> None:
    from gan_core.models import batch_stddev

    x = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    by_hand = (np.std([0, 2, 4]) + np.std([1, 1, 4])) / 2  # numpy's std is the population one
    assert batch_stddev(x).item() == pytest.approx(by_hand, rel=1e-6)


def test_a_packed_d_scores_consecutive_rows_concatenated() -> None:
    tr = Trainer({**SMALL, "pack": 3, "batch_size": 30, "loss": "nonsaturating"})
    x = torch.randn(6, 2)
    first = tr.D.body[0]
    packed = torch.cat([x[0:3].reshape(1, 6), x[3:6].reshape(1, 6)])  # (2 packs, 3 x 2)
    assert first.in_features == 6
    torch.testing.assert_close(tr.D(x), tr.D.body(packed).squeeze(-1))


def test_score_among_is_the_score_of_one_more_sample_of_the_batch() -> None:
    """minibatch stddev: the row's score when it is appended to the batch and D judges that
    batch as in training."""
    tr = Trainer({**SMALL, "minibatch_stddev": True, "loss": "nonsaturating"})
    batch, x = torch.randn(40, 2), torch.randn(5, 2)
    with torch.no_grad():
        among = tr.D.score_among(x, batch)
        one_by_one = [tr.D(torch.cat([batch, x[i : i + 1]]))[-1] for i in range(5)]
    torch.testing.assert_close(among, torch.stack(one_by_one), rtol=1e-5, atol=1e-6)


def test_score_among_a_packing_d_averages_packs_with_shown_samples() -> None:
    tr = Trainer({**SMALL, "pack": 2, "loss": "nonsaturating"})
    batch, x = torch.randn(10, 2), torch.randn(3, 2)
    with torch.no_grad():
        among = tr.D.score_among(x, batch)
        # set k packs x with batch row k, x first for even k, second for odd k
        packs = [
            tr.D(torch.stack([x[i], batch[k]] if k % 2 == 0 else [batch[k], x[i]]))
            for i in range(3)
            for k in range(4)
        ]
    torch.testing.assert_close(among, torch.cat(packs).reshape(3, 4).mean(1))


def test_the_minibatch_stddev_field_is_the_push_on_one_more_fake_of_the_batch() -> None:
    """At each field point x: -(n + 1) dL_G/dx for the shown batch of fakes with x added,
    judged as D judges a training batch (x moves its own score and, through the statistic,
    all the others), by autograd here, one point at a time."""
    tr = Trainer({**SMALL, "minibatch_stddev": True, "loss": "nonsaturating"})
    tr.step(20)
    snap = tr.snapshot({"samples": 64, "field": 4})
    fake = torch.tensor(snap["fake"])[: SMALL["batch_size"]]  # the batch D is shown among
    tr.D.eval()
    lo, hi = tr.target.extent
    axis = torch.linspace(lo, hi, 4)
    points = torch.stack(torch.meshgrid(axis, axis, indexing="ij")[::-1], -1).reshape(-1, 2)
    by_hand = []
    for x in points:
        x = x[None].clone().requires_grad_(True)
        scores = tr.D(torch.cat([fake, x]))
        loss = torch.nn.functional.softplus(-scores).mean()  # the non-saturating L_G
        (grad,) = torch.autograd.grad(loss, x)
        by_hand.append(-grad[0] * (len(fake) + 1))
    field = snap["field"].reshape(-1, 2)
    np.testing.assert_allclose(field, torch.stack(by_hand).numpy(), rtol=1e-4, atol=1e-7)
    # the arrows on the shown fakes: each one's exact push as a member of their batch
    shown = torch.tensor(snap["fake"]).requires_grad_(True)
    loss = torch.nn.functional.softplus(-tr.D(shown)).mean()
    (grad,) = torch.autograd.grad(loss, shown)
    np.testing.assert_allclose(snap["fake_grad"], -grad.numpy() * 64, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("variant", [{"pack": 2}, {"pack": 3, "batch_size": 33}])
def test_the_push_on_the_fakes_of_a_packing_d_is_their_push_in_packs(variant) -> None:
    """The arrows: -m dL_G/ds * grad_x s for s the score among the shown fakes (m = pack)."""
    tr = Trainer({**SMALL, **variant, "loss": "nonsaturating", "dataset": "ring8"})
    tr.step(5)
    snap = tr.snapshot({"samples": 32, "field": 4})
    fake = torch.tensor(snap["fake"]).requires_grad_(True)
    tr.D.eval()
    scores = tr.D.score_among(fake, fake.detach())
    (slopes,) = torch.autograd.grad(scores.sum(), fake)
    g_prime = torch.sigmoid(-scores.detach())  # d softplus(-s)/ds = -sigmoid(-s)
    expected = g_prime[:, None] * slopes * tr.D.pack
    np.testing.assert_allclose(snap["fake_grad"], expected.numpy(), rtol=1e-4, atol=1e-7)
    assert np.isfinite(snap["field"]).all() and np.isfinite(snap["d_grid"]).all()


@pytest.mark.parametrize("variant", [{"pack": 2}, {"minibatch_stddev": True}])
def test_packing_and_minibatch_stddev_train_with_every_penalty_and_replay(variant) -> None:
    config = {**SMALL, **variant, "loss": "nonsaturating", "seed": 4}
    tr = Trainer(config)
    for kind in ("gp", "r1", "dragan", "spectral_norm", "instance_noise"):
        tr.update({"regularizers": [{"kind": kind}]})
        tr.step(2)
    tr.update({"regularizers": [], "loss": "fgan_hellinger", "update_scheme": "simultaneous"})
    tr.step(3)
    assert tr.halt is None
    assert all(math.isfinite(v) for v in tr.cheap_metrics().values())
    again = replay(config, tr.commands, tr.iteration)
    np.testing.assert_array_equal(again.sample(300), tr.sample(300))


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"pack": 3}, "pack", "multiple of pack"),
        ({"pack": 5}, "pack", "less than or equal to 4"),
        ({"dataset": "dirac", "minibatch_stddev": True}, "minibatch_stddev", "Dirac"),
        ({"pack": 2, "loss": "feature_matching"}, "pack", "feature_matching"),
        ({"pack": 2, "minibatch_stddev": True}, "minibatch_stddev", "one at a time"),
    ],
)
def test_batch_variants_that_cannot_work_are_refused(config, field, words) -> None:
    with pytest.raises(ConfigError) as error:
        Trainer(config)
    assert error.value.field == field and words in error.value.message
