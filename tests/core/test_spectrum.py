"""The spectrum of the game: the Jacobian of the joint gradient field, against the Dirac-GAN's
closed forms, finite differences, and the iterative top-k against the exact eigenvalues."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gan_core.spectrum as spectrum
from gan_core import Trainer

SMALL = {"g_hidden": [8, 8], "d_hidden": [8, 8], "loss": "nonsaturating"}


def closed_form(f1: float, gamma: float) -> list[complex]:
    """Dirac-GAN at (0, 0): J = [[0, f'(0)], [-f'(0), -gamma]] (Mescheder et al. 2018)."""
    root = complex(gamma**2 - 4 * f1**2) ** 0.5
    return [(-gamma + root) / 2, (-gamma - root) / 2]


@pytest.mark.parametrize(
    ("loss", "regularizers", "f1", "gamma"),
    [
        ("nonsaturating", [], 0.5, 0.0),
        ("wgan", [], 1.0, 0.0),
        ("wgan", [{"kind": "r1", "weight": 1.0}], 1.0, 1.0),
        ("minimax", [{"kind": "r1", "weight": 0.3}], 0.5, 0.3),
    ],
)
def test_dirac_gan_spectrum_matches_the_closed_form(loss, regularizers, f1, gamma) -> None:
    tr = Trainer(
        {"dataset": "dirac", "loss": loss, "regularizers": regularizers, "dirac_init": (0, 0)}
    )
    got = sorted(spectrum.game_eigenvalues(tr), key=lambda c: (c.imag, c.real))
    want = sorted(closed_form(f1, gamma), key=lambda c: (c.imag, c.real))
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_mlp_jacobian_matches_finite_differences_of_the_field() -> None:
    """tanh, so that the field is smooth (a ReLU net's field jumps where a unit switches,
    which central differences straddle); R1 for a penalty's second derivatives."""
    tr = Trainer({**SMALL, "activation": "tanh", "regularizers": [{"kind": "r1", "weight": 1.0}]})
    tr.step(5)
    jacobian = spectrum.game_jacobian(tr, n=64)
    params = [*tr.g_params, *tr.d_params]
    u = torch.randn(
        jacobian.shape[0], generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    start = [p.detach().clone() for p in params]

    def field_at(eps: float) -> np.ndarray:
        with torch.no_grad():
            for p, p0, du in zip(params, start, u.split([p.numel() for p in params]), strict=True):
                p.copy_(p0 + eps * du.view_as(p0).float())
        return spectrum.joint_field(tr, 64)[0].detach().double().numpy()

    e = 1e-3
    difference = (field_at(e) - field_at(-e)) / (2 * e)
    field_at(0.0)
    np.testing.assert_allclose(jacobian @ u.numpy(), difference, rtol=1e-3, atol=2e-4)


def test_iterative_top_k_agrees_with_the_exact_eigenvalues() -> None:
    tr = Trainer({**SMALL, "regularizers": []})
    tr.step(5)
    exact = spectrum.game_eigenvalues(tr, n=64)
    assert len(exact) == sum(p.numel() for p in (*tr.g_params, *tr.d_params))
    top = spectrum.game_eigenvalues(tr, k=4, n=64, exact_limit=10)
    np.testing.assert_allclose(np.abs(top), np.abs(exact[:4]), rtol=1e-3)
    assert math.isclose(top[0].real, exact[0].real, rel_tol=1e-3, abs_tol=1e-5)


def test_the_live_accuracy_keeps_the_top_eigenvalues() -> None:
    """LIVE_TOL (what a live view asks for) against the exact spectrum: the largest four
    within 1 % in magnitude and real part."""
    tr = Trainer({**SMALL, "regularizers": []})
    tr.step(5)
    exact = spectrum.game_eigenvalues(tr, n=64)
    live = spectrum.game_eigenvalues(
        tr, k=spectrum.LIVE_K, n=64, tol=spectrum.LIVE_TOL, exact_limit=10
    )
    np.testing.assert_allclose(np.abs(live[:4]), np.abs(exact[:4]), rtol=1e-2)
    scale = abs(exact[0])
    np.testing.assert_allclose(np.sort(live[:4].real), np.sort(exact[:4].real), atol=1e-2 * scale)


def test_a_live_spectrum_past_its_seconds_raises_spectrum_timeout() -> None:
    tr = Trainer({**SMALL, "regularizers": []})
    with pytest.raises(spectrum.SpectrumTimeout):
        spectrum.game_eigenvalues(tr, k=4, n=64, exact_limit=10, seconds=0.0)


def test_reading_the_spectrum_of_a_run_with_batch_norm_and_label_noise_changes_nothing() -> None:
    """The field is taken as a step takes it (batch norm on batch statistics, label noise,
    spectral norm's power iteration), on its own RNG: the run, its running statistics and
    its spectral-norm vectors go on bit for bit as if nobody had looked."""
    config = {
        **SMALL,
        "g_norm": "batch",
        "d_norm": "batch",
        "label_noise": 0.1,
        "regularizers": [{"kind": "spectral_norm"}],
    }
    tr = Trainer(config)
    tr.step(3)
    twin = Trainer.restore(tr.save())
    values = spectrum.game_eigenvalues(tr)
    assert np.isfinite(values).all() and len(values) == spectrum.parameter_count(tr)
    tr.step(5)
    twin.step(5)
    np.testing.assert_array_equal(tr.sample(200), twin.sample(200))
    for mine, theirs in zip(tr.D.buffers(), twin.D.buffers(), strict=True):
        assert torch.equal(mine, theirs)
