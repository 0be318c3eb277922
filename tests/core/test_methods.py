"""Unrolled GAN, the generator's moving average and the game regularizers, each against an
independent computation in the test, switched live, and replayed."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from gan_core import ConfigError, Trainer, replay

SMALL = {"g_hidden": [16, 16], "d_hidden": [16, 16], "batch_size": 32}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


def test_g_ema_replays_and_a_follower_sees_the_average() -> None:
    config = {**SMALL, "seed": 2, "g_ema": 0.95}
    tr = Trainer(config)
    tr.step(4)
    tr.update({"g_ema": 0.5})
    tr.step(1, part="g")
    tr.step(3)
    again = replay(config, tr.commands, tr.iteration)
    np.testing.assert_array_equal(again.sample(200, averaged=True), tr.sample(200, averaged=True))
    follower = Trainer(SMALL)
    follower.follow(tr.reading_state())
    np.testing.assert_array_equal(follower.snapshot()["fake_ema"], tr.snapshot()["fake_ema"])
