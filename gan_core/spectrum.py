"""The spectrum of the game (Mescheder et al. 2017, "The Numerics of GANs"): eigenvalues of
the Jacobian of the joint gradient field at the current parameters w = (theta_G, theta_D),

    v(w) = -(grad_G L_G(w), grad_D L_D(w)),   J = dv/dw,

for the run's own objectives (the trainer's L_D with every penalty, and L_G) on one fixed
batch, with the models in training mode as a step runs them (fixed seeds, and the models'
buffers put back, so reading never changes the run; perturbations such as instance noise and
label noise are drawn once and held fixed). Near a local
Nash equilibrium the simultaneous-gradient flow converges where every eigenvalue has a
negative real part; large imaginary parts relative to real ones make gradient steps circle
(their one-step map I + h J has eigenvalues 1 + h lambda). Historical averaging's pull is
part of D's field (L_D includes it) and of G's; joint penalties (consensus) and constraints
(weight clipping) are not part of v. With the Dirac-GAN, J is the 2 x 2
matrix whose eigenvalues the Dirac snapshot shows.

Exact (the full Jacobian by batched vector-Jacobian products, numpy's eigvals) up to
EXACT_LIMIT parameters; above, the ``k`` eigenvalues of largest magnitude by ARPACK
(scipy.sparse.linalg.eigs) on vector-Jacobian products u -> J^T u, which has J's
eigenvalues (J^T and J share them). ARPACK's ``tol`` is the relative accuracy asked of each
eigenvalue; 0 (machine precision) costs most: for the default model (17,219 parameters,
one product 5 ms) k = 20 at tol 0 took 231 products and 8 s here, k = 8 at tol 1e-3 took 58
products and 0.33 s with the top four equal to two decimals (LIVE_K, LIVE_TOL: what a live
view asks for). A live view also asks for exact eigenvalues only up to LIVE_EXACT_LIMIT
parameters (numpy's eigvals of a 600 x 600 matrix: 0.17 s here, of 2000 x 2000: 1.6 s) and
bounds ARPACK by ``seconds`` (LIVE_SECONDS): past it, SpectrumTimeout, nothing returned.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigs
from torch import Tensor

from gan_core.models import draw_latent

if TYPE_CHECKING:
    from gan_core.trainer import Trainer

EXACT_LIMIT = 2000
SPECTRUM_SEED = 54321
LIVE_K, LIVE_TOL = 8, 1e-3
LIVE_EXACT_LIMIT = 600  # a live view's exact spectra: at most 0.17 s of eigvals
LIVE_SECONDS = 1.0  # a live view's ARPACK runs at most this long (+ one product)


class SpectrumTimeout(TimeoutError):
    """ARPACK did not finish within the ``seconds`` asked of game_eigenvalues."""


def joint_field(trainer: Trainer, n: int) -> tuple[Tensor, list[Tensor]]:
    """v(w) on a fixed batch of n real and n fake samples, kept in the graph; and w. The
    objectives are the trainer's own (its loss with its parameters, label noise, packing,
    feature matching, unrolling, every penalty), with both models in training mode as a step
    runs them (batch norm on the batch's statistics); the run's RNG, its last values and the
    models' buffers (batch norm's running statistics, spectral norm's vectors) are put back
    afterwards, so reading never changes the run."""
    rng = torch.Generator().manual_seed(SPECTRUM_SEED)
    with _as_in_a_step(trainer, rng):
        real = trainer.target.sample(n, rng)
        fake = trainer.G(draw_latent(trainer.config, n, rng))
        d_loss = trainer._d_objective(real, fake, record=False)
        g_loss = trainer._g_objective(fake)
        g_params, d_params = trainer.g_params, trainer.d_params
        g_grads = torch.autograd.grad(g_loss, g_params, create_graph=True)
        d_grads = torch.autograd.grad(d_loss, d_params, create_graph=True)
    field = -torch.cat([g.reshape(-1) for g in (*g_grads, *d_grads)])
    return field, [*g_params, *d_params]


@contextmanager
def _as_in_a_step(trainer: Trainer, rng: torch.Generator) -> Iterator[None]:
    """Both models in training mode with ``rng`` as the run's RNG; everything a forward pass
    or an objective may change is put back on the way out. The buffers are put back as the
    copies taken before (not copied into), so a graph that saved them stays valid."""
    models = (trainer.G, trainer.D)
    modes = [model.training for model in models]
    buffers = [
        (module, name, buffer.clone())
        for model in models
        for module in model.modules()
        for name, buffer in module._buffers.items()
        if buffer is not None
    ]
    run_rng, last = trainer.rng, dict(trainer.last)
    trainer.rng = rng
    for model in models:
        model.train()
    try:
        yield
    finally:
        trainer.rng, trainer.last = run_rng, last
        for module, name, saved in buffers:
            module._buffers[name] = saved
        for model, mode in zip(models, modes, strict=True):
            model.train(mode)


def game_jacobian(trainer: Trainer, n: int = 256) -> np.ndarray:
    """J = dv/dw (P x P, float64), row i = grad of v_i, by one batched backward pass."""
    field, params = joint_field(trainer, n)
    size = field.numel()
    rows = torch.autograd.grad(
        field, params, grad_outputs=torch.eye(size), is_grads_batched=True, allow_unused=True
    )
    blocks = [
        torch.zeros(size, p.numel()) if r is None else r.reshape(size, -1)
        for r, p in zip(rows, params, strict=True)
    ]
    return torch.cat(blocks, dim=1).double().numpy()


def parameter_count(trainer: Trainer) -> int:
    """P, the length of w = (theta_G, theta_D)."""
    return sum(p.numel() for p in (*trainer.g_params, *trainer.d_params))


def game_eigenvalues(
    trainer: Trainer,
    k: int = 20,
    n: int = 256,
    tol: float = 0.0,
    exact_limit: int = EXACT_LIMIT,
    seconds: float = math.inf,
) -> np.ndarray:
    """Eigenvalues of J (complex), sorted by decreasing magnitude: all of them when the
    models have at most ``exact_limit`` parameters, else the k of largest magnitude, each to
    the relative accuracy ``tol`` (0: machine precision), within ``seconds`` (else
    SpectrumTimeout)."""
    size = parameter_count(trainer)
    if size <= exact_limit:
        values = np.linalg.eigvals(game_jacobian(trainer, n))
    else:
        field, params = joint_field(trainer, n)
        deadline = time.perf_counter() + seconds

        def transposed_product(u: np.ndarray) -> np.ndarray:
            if time.perf_counter() > deadline:
                raise SpectrumTimeout(f"ARPACK took longer than {seconds} s")
            out = torch.autograd.grad(
                field,
                params,
                grad_outputs=torch.from_numpy(u.astype(np.float32)),
                retain_graph=True,
                allow_unused=True,
            )
            parts = [
                torch.zeros(p.numel()) if o is None else o.reshape(-1)
                for o, p in zip(out, params, strict=True)
            ]
            return torch.cat(parts).double().numpy()

        operator = LinearOperator((size, size), matvec=transposed_product, dtype=np.float64)
        values = eigs(operator, k=min(k, size - 2), which="LM", tol=tol, return_eigenvectors=False)
    return values[np.argsort(-np.abs(values), kind="stable")]
