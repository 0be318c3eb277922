"""Unrolled GAN, the generator's moving average and the game regularizers, each against an
independent computation in the test, switched live, and replayed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gan_core import ConfigError, Trainer, replay

SMALL = {"g_hidden": [16, 16], "d_hidden": [16, 16], "batch_size": 32}


def dirac(**config) -> Trainer:
    base = {"dataset": "dirac", "loss": "wgan", "regularizers": [], "dirac_init": (0.5, 1.0)}
    return Trainer({**base, **config})


def theta_psi(tr: Trainer) -> tuple[float, float]:
    return tr.G.theta.item(), tr.D.body.weight.item()


# ----- unrolled GAN -------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3, 5])
def test_unrolled_gradient_flows_through_the_d_steps_on_the_bilinear_game(k: int) -> None:
    """WGAN Dirac-GAN: L_D = psi theta, so k SGD steps give psi_k = psi - k h theta and
    L_G = -psi_k theta has dL_G/dtheta = -psi + 2 k h theta (first order would be + k h)."""
    h, theta, psi = 0.2, 0.5, 1.0
    tr = dirac(opt_g={"name": "sgd", "lr": h}, opt_d={"name": "sgd", "lr": h}, unroll_steps=k)
    tr.step(1, part="g")
    assert theta_psi(tr)[0] == pytest.approx(theta - h * (-psi + 2 * k * h * theta), abs=1e-6)
    assert theta_psi(tr)[1] == psi  # the real D did not move


def test_unrolled_adam_steps_start_from_d_s_moments_and_are_differentiated() -> None:
    """After one real Adam step of D, G's gradient is the derivative of -psi_k(theta) theta
    with psi_k from k more Adam steps: here by central differences of a numpy Adam."""
    b1, b2, lr_d, lr_g, eps, k = 0.5, 0.9, 0.1, 0.2, 1e-8, 3

    def unrolled_g_loss(theta: float) -> float:
        psi, m, v = 1.0, 0.0, 0.0
        for t in range(1, k + 2):  # the real step (t = 1, at theta0), then k unrolled ones
            g = 0.5 if t == 1 else theta  # dL_D/dpsi = theta
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            psi -= lr_d * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
        return -psi * theta

    e = 1e-6
    grad = (unrolled_g_loss(0.5 + e) - unrolled_g_loss(0.5 - e)) / (2 * e)
    adam = {"name": "adam", "lr": lr_d, "betas": (b1, b2)}
    tr = dirac(opt_g={"name": "sgd", "lr": lr_g}, opt_d=adam, unroll_steps=k)
    tr.step(1, part="d")
    state = {key: value.clone() for key, value in tr.opt_d.state[tr.D.body.weight].items()}
    tr.step(1, part="g")
    assert theta_psi(tr)[0] == pytest.approx(0.5 - lr_g * grad, abs=1e-5)
    after = tr.opt_d.state[tr.D.body.weight]
    assert all(torch.equal(value, after[key]) for key, value in state.items())  # untouched


def test_unrolling_needs_an_optimizer_it_can_differentiate() -> None:
    with pytest.raises(ConfigError) as caught:
        Trainer({**SMALL, "opt_d": {"name": "rmsprop"}, "unroll_steps": 2})
    assert caught.value.field == "unroll_steps" and "sgd, adam, optimistic" in caught.value.message


def test_unrolling_switches_live_with_penalties_and_replays_bit_for_bit() -> None:
    config = {**SMALL, "seed": 5, "loss": "nonsaturating", "regularizers": []}
    tr = Trainer(config)
    tr.step(3)
    tr.update({"unroll_steps": 3, "regularizers": [{"kind": "r1"}, {"kind": "spectral_norm"}]})
    tr.step(3)
    tr.update({"update_scheme": "simultaneous", "opt_d": {"name": "sgd", "momentum": 0.5}})
    tr.step(2)
    tr.update({"unroll_steps": 0})
    tr.step(2)
    assert tr.halt is None and np.isfinite(tr.sample(100)).all()
    again = replay(config, tr.commands, tr.iteration)
    np.testing.assert_array_equal(again.sample(300), tr.sample(300))


# ----- the generator's moving average ---------------------------------------------------------
def test_g_ema_is_the_exponential_average_of_g_after_each_iteration() -> None:
    beta = 0.9
    tr = Trainer({**SMALL, "g_ema": 0.0})
    tr.step(2)
    tr.update({"g_ema": beta})  # switched on: the average starts at G as it is now
    average = [p.detach().clone() for p in tr.G.parameters()]
    for _ in range(5):
        tr.step(1)
        now = [p.detach() for p in tr.G.parameters()]
        average = [beta * a + (1 - beta) * p for a, p in zip(average, now, strict=True)]
    for a, p in zip(average, tr.G_ema.parameters(), strict=True):
        torch.testing.assert_close(p, a, rtol=1e-5, atol=1e-6)
    assert not torch.equal(next(tr.G_ema.parameters()), next(tr.G.parameters()))


def test_g_ema_shows_in_the_snapshot_and_the_metrics_only_while_on() -> None:
    tr = Trainer({**SMALL, "g_ema": 0.99})
    tr.step(20)
    snap = tr.snapshot({"samples": 64})
    assert snap["fake_ema"].shape == snap["fake"].shape
    assert not np.array_equal(snap["fake_ema"], snap["fake"])
    metrics = tr.evaluate(500)
    assert {"w1_ema", "modes_covered_ema"} <= metrics.keys()
    assert metrics["w1_ema"] != metrics["w1"]
    tr.update({"g_ema": 0.0})
    tr.step(1)
    assert "fake_ema" not in tr.snapshot() and "w1_ema" not in tr.evaluate(500)
    np.testing.assert_array_equal(tr.sample(50, averaged=True), tr.sample(50))  # off: G itself


def test_g_ema_and_historical_averaging_replay_and_survive_save_and_restore() -> None:
    config = {**SMALL, "seed": 2, "g_ema": 0.95}
    tr = Trainer(config)
    tr.step(4)
    tr.update({"g_ema": 0.5, "regularizers": [{"kind": "historical_averaging"}]})
    tr.step(1, part="g")
    tr.step(3)
    again = replay(config, tr.commands, tr.iteration)
    np.testing.assert_array_equal(again.sample(200, averaged=True), tr.sample(200, averaged=True))
    restored = Trainer.restore(tr.save())
    np.testing.assert_array_equal(restored.snapshot()["fake_ema"], tr.snapshot()["fake_ema"])
    tr.step(3)
    restored.step(3)  # goes on exactly as the run: the average and the means came along
    for averaged in (True, False):
        np.testing.assert_array_equal(
            restored.sample(200, averaged=averaged), tr.sample(200, averaged=averaged)
        )


# ----- regularizers of the game ----------------------------------------------------------------
def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def minimax_field(theta: float, psi: float) -> np.ndarray:
    """The minimax Dirac-GAN field in this engine's convention (L_D = softplus(psi theta) +
    log 2, L_G = -softplus(psi theta)): (psi s, -theta s), s = sigmoid(psi theta)."""
    s = sigmoid(psi * theta)
    return np.array([psi * s, -theta * s])


def consensus_field(theta: float, psi: float, gamma: float) -> np.ndarray:
    """v - gamma grad(||v||^2 / 2) of the minimax field, the gradient by central differences.
    (GAN_stability's DiracGAN notebook writes its GAN_Consensus with half of the second term
    of that gradient; this is the gradient itself.)"""
    e = 1e-6

    def half_norm(t: float, p: float) -> float:
        return 0.5 * float(np.sum(minimax_field(t, p) ** 2))

    grad = np.array(
        [
            (half_norm(theta + e, psi) - half_norm(theta - e, psi)) / (2 * e),
            (half_norm(theta, psi + e) - half_norm(theta, psi - e)) / (2 * e),
        ]
    )
    return minimax_field(theta, psi) - gamma * grad


def test_consensus_field_of_the_dirac_gan_is_v_minus_gamma_grad_half_norm_v() -> None:
    points = [(0.5, 1.0), (-1.0, 0.3), (1.5, -0.7)]
    tr = dirac(loss="minimax", regularizers=[{"kind": "consensus", "weight": 2.0}])
    snap = tr.snapshot({"dirac_grid": 5})
    lo, hi = snap["dirac_extent"]
    axis = np.linspace(lo, hi, 5)
    for i, psi in enumerate(axis):
        for j, theta in enumerate(axis):
            want = consensus_field(theta, psi, 2.0)
            np.testing.assert_allclose(snap["dirac_field"][i, j], want, rtol=1e-4, atol=1e-5)
    for theta, psi in points:  # and one simultaneous SGD step of the trainer follows it
        sgd = {"name": "sgd", "lr": 0.1}
        step = dirac(
            loss="minimax",
            regularizers=[{"kind": "consensus", "weight": 2.0}],
            update_scheme="simultaneous",
            d_steps=1,
            opt_g=sgd,
            opt_d=sgd,
            dirac_init=(theta, psi),
        )
        step.step(1)
        want = np.array([theta, psi]) + 0.1 * consensus_field(theta, psi, 2.0)
        np.testing.assert_allclose(theta_psi(step), want, rtol=1e-4, atol=1e-5)


def test_consensus_makes_the_dirac_gan_converge() -> None:
    sgd = {"name": "sgd", "lr": 0.2}
    tr = dirac(loss="minimax", opt_g=sgd, opt_d=sgd, update_scheme="simultaneous", d_steps=1)
    tr.update({"regularizers": [{"kind": "consensus", "weight": 1.0}]})
    eigenvalues = tr.snapshot()["eigenvalues"]
    assert max(re for re, _ in eigenvalues) < -0.1  # -0.125 +- 0.48i: damped
    tr.step(300)
    assert math.hypot(*theta_psi(tr)) < 0.01


def test_gp0_is_lambda_times_the_squared_slope_at_interpolates() -> None:
    """D(x) = psi x has slope psi everywhere, so gp0 = lambda psi^2 whatever the interpolates."""
    tr = dirac(regularizers=[{"kind": "gp0", "weight": 3.0}], dirac_init=(0.5, 0.7))
    tr.step(1, part="d")
    assert float(tr.last["penalty.gp0"]) == pytest.approx(3.0 * 0.7**2, rel=1e-6)


def test_historical_averaging_follows_the_running_mean_of_the_past() -> None:
    """Bilinear game, alternating SGD: each player's gradient gains 2 lambda (z - mean), the
    mean of the parameters at every iteration since the penalty was switched on."""
    h, lam = 0.2, 0.1
    sgd = {"name": "sgd", "lr": h}
    tr = dirac(opt_g=sgd, opt_d=sgd, d_steps=1)
    tr.step(5)
    theta, psi = theta_psi(tr)
    tr.update({"regularizers": [{"kind": "historical_averaging", "weight": lam}]})
    means, count = np.array([theta, psi]), 1
    for _ in range(40):
        psi = psi - h * (theta + 2 * lam * (psi - means[1]))  # dL_D/dpsi = theta
        theta = theta - h * (-psi + 2 * lam * (theta - means[0]))  # dL_G/dtheta = -psi
        count += 1
        means = means + (np.array([theta, psi]) - means) / count
    tr.step(40)
    np.testing.assert_allclose(theta_psi(tr), [theta, psi], rtol=1e-4, atol=1e-6)
    tr.step(300)
    assert math.hypot(*theta_psi(tr)) < 0.02  # the circling stops: 0.007 here


@pytest.mark.parametrize("kind", ["consensus", "historical_averaging", "gp0"])
def test_game_regularizers_switch_live_and_replay_bit_for_bit(kind: str) -> None:
    config = {**SMALL, "seed": 4, "loss": "nonsaturating", "regularizers": []}
    tr = Trainer(config)
    tr.step(2)
    tr.update({"regularizers": [{"kind": kind}, {"kind": "r1"}]})
    tr.step(3)
    tr.update({"update_scheme": "extragradient", "unroll_steps": 1})
    tr.step(2)
    tr.update({"regularizers": [], "update_scheme": "alternating", "unroll_steps": 0})
    tr.step(2)
    assert tr.halt is None and np.isfinite(tr.sample(100)).all()
    again = replay(config, tr.commands, tr.iteration)
    np.testing.assert_array_equal(again.sample(300), tr.sample(300))


def test_a_lane_s_averages_start_at_the_shared_weights() -> None:
    """A lane with another G keeps the base's D (Lanes.begin_from): historical averaging's
    mean of D starts at that D, not at the one its own seed built."""
    from gan_core import Lanes

    averaging = {"regularizers": [{"kind": "historical_averaging"}], "g_ema": 0.9}
    lanes = Lanes({**SMALL, "seed": 3}, [{}, {"g_hidden": [8], **averaging}])
    first, second = (lane.trainer for lane in lanes)
    for shared, mean in zip(first.D.parameters(), second.averages["d"], strict=True):
        assert torch.equal(shared, mean)
    for g, averaged in zip(second.G.parameters(), second.G_ema.parameters(), strict=True):
        assert torch.equal(g, averaged)
    lanes.step(2)
    assert second.halt is None and "fake_ema" in second.snapshot({"samples": 16})
