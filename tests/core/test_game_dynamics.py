"""Update schemes and optimizers on the bilinear game, against closed forms worked out here.

The Dirac-GAN with the WGAN loss is the bilinear game min_theta max_psi psi * theta:
L_D = psi * theta and L_G = -psi * theta, so the gradient field is
(theta', psi') = (psi, -theta) = A z, a rotation (eigenvalues +-i). With SGD of step h:
simultaneous steps multiply the radius by |1 + i h| = sqrt(1 + h^2); alternating steps (D
first) conserve theta^2 + psi^2 - h theta psi; extragradient steps are (1 - h^2) I + h A, a
contraction by sqrt(1 - h^2 + h^4); optimistic steps z_{t+1} = z_t + h A (2 z_t - z_{t-1})
contract by the largest root of lambda^2 - (1 + 2 h mu) lambda + h mu, mu = +-i.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gan_core import Trainer, replay
from gan_core.optimizers import OptimisticAdam, OptimisticSGD

H = 0.2
SMALL = {"g_hidden": [16, 16], "d_hidden": [16, 16], "batch_size": 32}


def bilinear(scheme: str, optimizer: str = "sgd", steps: int = 200, h: float = H) -> Trainer:
    opt = {"name": optimizer, "lr": h}
    tr = Trainer(
        {
            "dataset": "dirac",
            "loss": "wgan",
            "regularizers": [],
            "opt_g": opt,
            "opt_d": opt,
            "update_scheme": scheme,
            "d_steps": 1,
        }
    )
    tr.step(steps)
    assert tr.halt is None
    return tr


def radii(tr: Trainer) -> np.ndarray:
    return np.array([math.hypot(theta, psi) for theta, psi in tr.trajectory])


def test_simultaneous_gradient_steps_spiral_out_by_sqrt_1_plus_h2() -> None:
    r = radii(bilinear("simultaneous"))
    np.testing.assert_allclose(r[1:] / r[:-1], math.sqrt(1 + H**2), rtol=1e-5)
    assert r[-1] > 7 * r[0]  # 1.41 -> 63 in 200 steps


def test_alternating_gradient_steps_circle_on_a_conserved_ellipse() -> None:
    tr = bilinear("alternating", steps=600)
    theta, psi = np.array(tr.trajectory).T
    conserved = theta**2 + psi**2 - H * theta * psi
    np.testing.assert_allclose(conserved, conserved[0], rtol=1e-4)
    r = radii(tr)
    assert r.min() / r[0] > 0.85 and r.max() / r[0] < 1.15  # neither spirals in nor out
    assert np.count_nonzero(np.diff(np.sign(theta))) >= 30  # and goes round: 38 crossings


def test_extragradient_contracts_by_sqrt_1_minus_h2_plus_h4() -> None:
    r = radii(bilinear("extragradient"))
    np.testing.assert_allclose(r[1:] / r[:-1], math.sqrt(1 - H**2 + H**4), rtol=1e-5)
    assert r[-1] < 0.05  # 1.41 -> 0.02 in 200 steps


@pytest.mark.parametrize("h", [0.1, 0.2])
def test_optimistic_gradient_descent_converges_at_its_closed_form_rate(h: float) -> None:
    r = radii(bilinear("simultaneous", "optimistic", steps=400, h=h))
    roots = np.roots([1, -(1 + 2j * h), 1j * h])  # mu = i; mu = -i gives the conjugates
    rate = float(np.abs(roots).max())  # 0.979 at h = 0.2, 0.995 at h = 0.1
    measured = (r[400] / r[200]) ** (1 / 200)
    assert measured == pytest.approx(rate, abs=2e-4)
    assert rate < 1 and r[-1] < r[0]


def test_optimistic_sgd_steps_with_twice_the_gradient_minus_the_last() -> None:
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = OptimisticSGD([w], lr=0.1)
    grads = [torch.tensor([0.5, 1.0]), torch.tensor([-1.0, 2.0]), torch.tensor([3.0, 0.0])]
    expected, previous = np.array([1.0, -2.0]), np.zeros(2)
    for g in grads:
        w.grad = g.clone()
        opt.step()
        expected = expected - 0.1 * (2 * g.numpy() - previous)
        previous = g.numpy()
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-6)


def test_optimistic_adam_follows_algorithm_1_with_bias_correction() -> None:
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    b1, b2, lr, eps = 0.5, 0.9, 0.01, 1e-8
    opt = OptimisticAdam([w], lr=lr, betas=(b1, b2))
    m, v, u_last, expected = np.zeros(2), np.zeros(2), np.zeros(2), np.array([1.0, -2.0])
    for t, g in enumerate([[0.5, 1.0], [-1.0, 2.0], [3.0, 0.1], [0.2, -0.4]], start=1):
        g = np.array(g)
        w.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        u = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        expected = expected - lr * (2 * u - u_last)
        u_last = u
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("optimizer", ["optimistic", "optimistic_adam"])
def test_optimistic_optimizers_switch_on_and_off_live_and_stay_finite(optimizer: str) -> None:
    tr = Trainer({**SMALL, "loss": "nonsaturating", "regularizers": []})
    tr.step(3)
    tr.update({"opt_d": {"name": optimizer, "lr": 1e-3}})
    tr.step(3)
    tr.update({"opt_g": {"name": optimizer, "lr": 1e-3}, "opt_d": {"name": "adam"}})
    tr.step(3)
    tr.update({"opt_g": {"name": "adam"}})
    tr.step(3)
    assert tr.halt is None and np.isfinite(tr.sample(100)).all()


def test_extragradient_switches_live_with_any_loss_and_regularizer_and_stays_finite() -> None:
    tr = Trainer({**SMALL, "loss": "wgan", "regularizers": [{"kind": "gp"}]})
    tr.step(3)
    tr.update({"update_scheme": "extragradient", "d_steps": 3, "g_steps": 2})
    tr.step(3)
    tr.update({"loss": "hinge", "regularizers": [{"kind": "weight_clip"}]})
    tr.step(3)
    tr.update({"update_scheme": "alternating"})
    tr.step(3)
    assert tr.halt is None and np.isfinite(tr.sample(100)).all()


def test_extragradient_and_optimistic_runs_replay_bit_for_bit() -> None:
    config = {**SMALL, "seed": 3, "opt_g": {"name": "optimistic_adam", "lr": 1e-3}}
    tr = Trainer(config)
    tr.step(4)
    tr.update({"update_scheme": "extragradient", "opt_d": {"name": "optimistic", "lr": 0.01}})
    tr.step(5)
    again = replay(config, tr.commands, tr.iteration)
    np.testing.assert_array_equal(again.sample(300), tr.sample(300))


# ----- the one-step map of the Dirac-GAN snapshot --------------------------------------------
def ordered(values: list) -> list[complex]:
    """Complex numbers (or [re, im] pairs) in a fixed order."""
    numbers = [complex(*v) if isinstance(v, list) else complex(v) for v in values]
    return sorted(numbers, key=lambda c: (round(c.real, 3), round(c.imag, 3)))


def moduli(pairs: list[list[float]]) -> list[float]:
    return sorted(math.hypot(re, im) for re, im in pairs)


@pytest.mark.parametrize(
    ("scheme", "optimizer", "expected"),
    [
        ("simultaneous", "sgd", [complex(1, H), complex(1, -H)]),
        ("extragradient", "sgd", [complex(1 - H**2, H), complex(1 - H**2, -H)]),
        # alternating (D then G): theta' = (1 - h^2) theta + h psi, psi' = psi - h theta
        ("alternating", "sgd", list(np.linalg.eigvals([[1 - H**2, H], [-H, 1]]))),
        (
            "simultaneous",
            "optimistic",
            [*np.roots([1, -(1 + 2j * H), 1j * H]), *np.roots([1, -(1 - 2j * H), -1j * H])],
        ),
    ],
)
def test_step_eigenvalues_of_the_bilinear_game_match_the_closed_forms(
    scheme: str, optimizer: str, expected: list[complex]
) -> None:
    snap = bilinear(scheme, optimizer, steps=1).snapshot()
    np.testing.assert_allclose(ordered(snap["step_eigenvalues"]), ordered(expected), atol=1e-3)
    np.testing.assert_allclose(ordered(snap["eigenvalues"]), [-1j, 1j], atol=1e-3)  # rotation


@pytest.mark.parametrize(
    "config",
    [
        {"loss": "nonsaturating", "regularizers": [{"kind": "r1", "weight": 0.3}]},
        {"loss": "wgan", "update_scheme": "simultaneous", "d_steps": 3},
        {"loss": "nonsaturating", "opt_d": {"name": "sgd", "lr": 0.1, "momentum": 0.5}},
        {"loss": "minimax", "update_scheme": "extragradient", "g_steps": 2},
        {"loss": "wgan", "opt_g": {"name": "optimistic", "lr": 0.1}},
    ],
)
def test_step_eigenvalues_give_the_growth_rate_of_a_run_near_the_equilibrium(config) -> None:
    """Near (0, 0) every loss is its linearisation: the radius grows or shrinks per iteration
    by the largest modulus of the one-step map (measured on the run, not computed from it)."""
    sgd = {"name": "sgd", "lr": H}
    full = {"dataset": "dirac", "regularizers": [], "opt_g": sgd, "opt_d": sgd, "d_steps": 1}
    full = {**full, **config, "dirac_init": (1e-3, 1e-3)}
    tr = Trainer(full)
    rate = max(moduli(tr.snapshot()["step_eigenvalues"]))
    tr.step(400)
    r = radii(tr)
    envelope = [r[t - 40 : t].max() for t in (200, 400)]  # over several turns
    assert (envelope[1] / envelope[0]) ** (1 / 200) == pytest.approx(rate, abs=2e-3)


def test_step_eigenvalues_are_none_where_the_step_is_not_linear() -> None:
    for name in ("adam", "rmsprop", "optimistic_adam"):
        opt = {"name": name, "lr": 0.01}
        tr = Trainer({"dataset": "dirac", "opt_d": opt, "regularizers": []})
        snap = tr.snapshot()
        assert snap["step_eigenvalues"] is None and len(snap["eigenvalues"]) == 2


def test_wgan_gp_has_no_jacobian_at_the_dirac_equilibrium_and_says_so() -> None:
    """lambda (|psi| - 1)^2 makes the field jump by 4 lambda at psi = 0: no eigenvalues there
    (a central difference across the jump read 699 for lambda 0.35); a smooth field's stay."""
    sgd = {"name": "sgd", "lr": 0.1}
    base = {"dataset": "dirac", "loss": "wgan", "opt_g": sgd, "opt_d": sgd}
    gp = Trainer({**base, "regularizers": [{"kind": "gp", "weight": 0.35}]}).snapshot()
    assert gp["eigenvalues"] is None and gp["step_eigenvalues"] is None
    r1 = Trainer({**base, "regularizers": [{"kind": "r1", "weight": 1.0}]}).snapshot()
    flow = sorted(r1["eigenvalues"], key=lambda e: e[1])  # [re, im]: -1/2 -+ i sqrt(3)/2
    np.testing.assert_allclose(flow, [[-0.5, -(0.75**0.5)], [-0.5, 0.75**0.5]], atol=1e-5)
    assert len(r1["step_eigenvalues"]) == 2
