"""Each loss against its paper's formulas, computed here independently of gan_core.losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from gan_core import LOSSES

# Nowozin et al. (2016), Table 2: the output activation g_f and the conjugate f* of each
# divergence, written as in the table (not simplified), and the optimal T* = f'(p / q).
TABLE_2 = {
    "fgan_kl": (lambda v: v, lambda t: np.exp(t - 1), lambda r: 1 + np.log(r)),
    "fgan_reverse_kl": (lambda v: -np.exp(-v), lambda t: -1 - np.log(-t), lambda r: -1 / r),
    "fgan_pearson": (lambda v: v, lambda t: t**2 / 4 + t, lambda r: 2 * (r - 1)),
    "fgan_hellinger": (
        lambda v: 1 - np.exp(-v),
        lambda t: t / (1 - t),
        lambda r: 1 - 1 / np.sqrt(r),
    ),
    # the GAN row: the Jensen-Shannon member, F = 2 JS - log 4
    "minimax": (
        lambda v: -np.log1p(np.exp(-v)),
        lambda t: -np.log(1 - np.exp(t)),
        lambda r: np.log(r / (1 + r)),
    ),
}
# the inverse of each g_f, to turn T* into D's raw score v*
INVERSE_ACTIVATION = {
    "fgan_kl": lambda t: t,
    "fgan_reverse_kl": lambda t: -np.log(-t),
    "fgan_pearson": lambda t: t,
    "fgan_hellinger": lambda t: -np.log(1 - t),
    "minimax": lambda t: -np.log(np.expm1(-t)),
}
# P = N(0, 1), Q = N(1, 1): each D_f(P || Q) in closed form
SHIFT = 1.0
DIVERGENCE = {
    "fgan_kl": SHIFT**2 / 2,  # KL(P || Q)
    "fgan_reverse_kl": SHIFT**2 / 2,  # KL(Q || P)
    "fgan_pearson": math.exp(SHIFT**2) - 1,  # chi^2(P || Q)
    "fgan_hellinger": 2 * (1 - math.exp(-(SHIFT**2) / 8)),  # int (sqrt p - sqrt q)^2
}


def quantiles(shift: float, n: int = 200_000) -> np.ndarray:
    """n points of N(shift, 1) at evenly spaced quantiles: a mean over them is an expectation
    to about 1e-4 here, without Monte Carlo noise."""
    return norm.ppf((np.arange(n) + 0.5) / n) + shift


def table_objective(name: str, v_real: np.ndarray, v_fake: np.ndarray) -> float:
    """F = E_P[g_f(v)] - E_Q[f*(g_f(v))], which D maximises."""
    g, conjugate, _ = TABLE_2[name]
    return float(np.mean(g(v_real)) - np.mean(conjugate(g(v_fake))))


@pytest.mark.parametrize("name", TABLE_2)
def test_losses_are_the_table_2_saddle_on_arbitrary_scores(name: str) -> None:
    rng = np.random.default_rng(0)
    v_real, v_fake = rng.normal(0.3, 0.4, size=64), rng.normal(-0.2, 0.4, size=64)
    loss = LOSSES.get(name)
    d = loss.d_loss(torch.tensor(v_real), torch.tensor(v_fake)).item()
    g = loss.g_loss(torch.tensor(v_real), torch.tensor(v_fake)).item()
    assert d == pytest.approx(-table_objective(name, v_real, v_fake), rel=1e-9, abs=1e-12)
    _, conjugate, _ = TABLE_2[name]
    assert g == pytest.approx(-np.mean(conjugate(TABLE_2[name][0](v_fake))), rel=1e-9)


@pytest.mark.parametrize("name", DIVERGENCE)
def test_at_the_optimal_d_the_objective_is_the_divergence(name: str) -> None:
    """With T* = f'(p/q), F = D_f(P || Q) (Nowozin et al. 2016, eq. 5); the loss's D loss is -F,
    and the view's ``undecided`` is D's optimal score where p = q."""
    x_real, x_fake = quantiles(0.0), quantiles(SHIFT)

    def ratio(x: np.ndarray) -> np.ndarray:
        return norm.pdf(x) / norm.pdf(x, loc=SHIFT)

    def optimal_score(x: np.ndarray) -> torch.Tensor:
        return torch.tensor(INVERSE_ACTIVATION[name](TABLE_2[name][2](ratio(x))))

    loss = LOSSES.get(name)
    d = loss.d_loss(optimal_score(x_real), optimal_score(x_fake)).item()
    assert -d == pytest.approx(DIVERGENCE[name], rel=5e-3)  # chi^2: 0.25 % off, its heavy tail
    v_undecided = float(optimal_score(np.array([SHIFT / 2]))[0])  # p = q halfway
    shown = 1 / (1 + math.exp(-v_undecided)) if loss.shows_probability else v_undecided
    assert shown == pytest.approx(loss.undecided, abs=1e-9)


def test_the_gan_loss_is_the_jensen_shannon_member() -> None:
    """At the optimal D, the GAN objective is 2 JS(P, Q) - log 4."""
    x_real, x_fake = quantiles(0.0), quantiles(SHIFT)
    js = 0.5 * np.mean(np.log(2 * norm.pdf(x_real) / (norm.pdf(x_real) + norm.pdf(x_real, SHIFT))))
    js += 0.5 * np.mean(
        np.log(2 * norm.pdf(x_fake, SHIFT) / (norm.pdf(x_fake) + norm.pdf(x_fake, SHIFT)))
    )

    def logit(x: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.log(norm.pdf(x) / norm.pdf(x, SHIFT)))

    d = LOSSES.get("minimax").d_loss(logit(x_real), logit(x_fake)).item()
    assert -d == pytest.approx(2 * js - math.log(4), rel=1e-6)
