"""What a view needs from the current state of a run (``Run``, a Trainer): pure reads.

Probes put both models in eval mode (so spectral norm's power iteration does not advance)
and back, use their own fixed-seed generators (so reading never changes the run), and show
D on clean inputs (instance noise is a training device, not part of D).

The push on a fake sample x is -dL_G/dx, per sample: the direction and strength with
which the generator's loss moves that sample (not divided by the batch size).

A D that judges batches (PacGAN packing, minibatch stddev) has no score for a lone point.
Every point a view shows D at (the surface, the line, the field, the fakes) is judged as
one more fake sample among the shown fakes, ``Discriminator.score_among``: packed with
shown fakes, its batch statistic that of the shown fakes with it. That is the situation of
a fake sample during G's update, so the field is the push such a sample gets through its
own pack's score (a sample in a pack of m carries m times the weight of a lone one, as in
the loss's mean over n / m packs); with minibatch stddev, the exact push on one more member
of the batch, through its own score and the statistic in every other (``stddev_push``).
The batch is the first ``batch_size`` shown fakes (the size D sees in training; packs take
their companions from it). With minibatch stddev the arrows on the shown fakes are their
exact pushes as one batch of all the shown fakes (``member_push``). Real samples are
judged among the shown reals.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from gan_core.config import RegularizerConfig, TrainConfig
from gan_core.datasets import Target
from gan_core.loss_specs import Loss
from gan_core.losses import probability_or_score
from gan_core.models import PACK_COMPANIONS, draw_latent, stddev_with
from gan_core.regularizer_specs import Regularizer
from gan_core.view_options import ViewOptions

DISPLAY_SEED = 12345
DIRAC_NOISE_DRAWS = 64


class Run(Protocol):
    """What probes read of a training run (a Trainer is one); they change none of it (D's
    train/eval mode is put back)."""

    @property
    def config(self) -> TrainConfig: ...
    @property
    def target(self) -> Target: ...
    @property
    def loss(self) -> Loss: ...
    @property
    def regularizers(self) -> list[tuple[Regularizer, RegularizerConfig]]: ...
    @property
    def G(self) -> nn.Module: ...
    @property
    def D(self) -> nn.Module: ...
    @property
    def G_ema(self) -> nn.Module: ...  # the moving average of G's weights (g_ema)
    @property
    def joint(self) -> list[tuple[Regularizer, RegularizerConfig]]: ...  # joint penalties
    @property
    def iteration(self) -> int: ...
    @property
    def trajectory(self) -> list[tuple[float, float]]: ...
    @property
    def halt(self) -> Any: ...  # None, or a gan_core.trainer.Halt (its as_dict() is sent)

    def sample(self, n: int) -> np.ndarray: ...
    def cheap_metrics(self) -> dict[str, float]: ...


@contextmanager
def evaluating(trainer: Run) -> Iterator[None]:
    """D in eval mode (spectral norm keeps its u), then back to the mode it was in (a
    reading copy stays in eval mode). G rests in eval mode (the Trainer trains it in train mode)."""
    training = trainer.D.training
    if training:
        trainer.D.eval()
    try:
        yield
    finally:
        if training:
            trainer.D.train()


def f32(x: Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


def display_latent(trainer: Run, n: int) -> Tensor:
    """A fixed latent batch, so the same fake points move from frame to frame (trails);
    truncated when config.truncation > 0 (views and metrics only)."""
    rng = torch.Generator().manual_seed(DISPLAY_SEED)
    return draw_latent(trainer.config, n, rng, trainer.config.truncation)


def d_scores(trainer: Run, x: Tensor, among: Tensor | None = None) -> Tensor:
    """D at each row of x; for a D that judges batches, each row as one more sample of
    ``among`` (see the module docstring)."""
    if among is not None and trainer.D.batch_dependent:
        return trainer.D.score_among(x, among)
    return trainer.D(x)


def scores_and_slopes(
    trainer: Run, x: Tensor, among: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """D(x) and grad_x D(x) for every row of x: one forward and one backward pass."""
    x = x.detach().requires_grad_(True)
    scores = d_scores(trainer, x, among)
    (slopes,) = torch.autograd.grad(scores.sum(), x)
    return scores.detach(), slopes


def push(
    loss: Loss, fake_scores: Tensor, slopes: Tensor, real_scores: Tensor, pack: int = 1
) -> Tensor:
    """-dL_G/dx per sample by the chain rule, -(n dL_G/ds_i) grad_x D(x_i): only the loss is
    differentiated here, not D again. A relativistic loss pairs each row with the mean real
    score. With packs of m, each score stands for m samples: m times the push."""
    s = fake_scores.detach().requires_grad_(True)
    real = real_scores.mean().expand_as(s)
    (dloss_ds,) = torch.autograd.grad(loss.g_loss(real, s), s)
    return -dloss_ds[:, None] * slopes * s.shape[0] * pack


def generator_push(
    trainer: Run, x: Tensor, real_scores: Tensor, among: Tensor | None = None
) -> Tensor:
    """-dL_G/dx at each row of x, times the number of rows (per-sample push)."""
    scores, slopes = scores_and_slopes(trainer, x, among)
    return push(trainer.loss, scores, slopes, real_scores, trainer.D.pack)


def feature_direction(trainer: Run, real: Tensor, fake: Tensor) -> Tensor:
    """c = n dL_G/df_i for a loss on D's features (feature matching), at the shown fakes:
    then the push on a fake at x is -grad_x <c, f(x)>. Exact for a loss of the fakes' mean
    feature, whose dL_G/df_i is the same for every fake i (c is their mean otherwise)."""
    with torch.no_grad():
        real_features = trainer.D.features(real)
        fake_features = trainer.D.features(fake)
    fake_features.requires_grad_(True)
    (grads,) = torch.autograd.grad(trainer.loss.g_loss(real_features, fake_features), fake_features)
    return grads.mean(0) * len(fake)


def feature_push(trainer: Run, x: Tensor, direction: Tensor) -> Tensor:
    """-grad_x <c, f(x)> at each row of x: the push of a feature loss, c from feature_direction."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad((trainer.D.features(x) @ direction).sum(), x)
    return -grad


def stddev_push(trainer: Run, x: Tensor, batch: Tensor, real_scores: Tensor) -> Tensor:
    """Minibatch stddev: -(n + 1) dL_G/dx at each row of x for the fake ``batch`` (n rows)
    with x added, exactly: x moves its own score and, through the batch statistic, every
    other score. One (n + 1)-row batch per row of x, all in one pass: a 16 x 16 field
    against a batch of 128 takes about 20 ms (a frame without the field, 2 ms)."""
    x = x.detach().requires_grad_(True)
    rows, n = x.shape[0], batch.shape[0]
    sigma = stddev_with(batch, x)[:, None, :]  # (rows, 1, 1)
    members = torch.cat([batch.expand(rows, n, -1), x[:, None]], dim=1)
    inputs = torch.cat([members, sigma.expand(rows, n + 1, 1)], dim=2)
    scores = trainer.D.body(inputs).squeeze(-1)  # (rows, n + 1)
    loss = trainer.loss.g_loss(real_scores.mean().expand_as(scores), scores)
    (grad,) = torch.autograd.grad(loss, x)
    return -grad * (n + 1) * rows  # the loss averaged over the rows' batches too


def member_push(trainer: Run, fake: Tensor, real_scores: Tensor) -> Tensor:
    """-n dL_G/dx_i for each row of ``fake`` judged as one training batch (minibatch stddev:
    the exact per-sample push of a batch, in one pass)."""
    fake = fake.detach().requires_grad_(True)
    scores = trainer.D(fake)
    loss = trainer.loss.g_loss(real_scores.mean().expand_as(scores), scores)
    (grad,) = torch.autograd.grad(loss, fake)
    return -grad * fake.shape[0]


def push_rule(
    trainer: Run, real: Tensor, fake: Tensor, real_scores: Tensor
) -> Callable[[Tensor], Tensor]:
    """x -> -dL_G/dx at each row of x taken as a fake sample (per sample), for the run's loss:
    through D's score, or through its features for a feature loss."""
    if trainer.loss.g_on_features:
        direction = feature_direction(trainer, real, fake)
        return lambda x: feature_push(trainer, x, direction)
    if trainer.D.minibatch_stddev:
        return lambda x: stddev_push(trainer, x, fake, real_scores)
    return lambda x: generator_push(trainer, x, real_scores, among=fake)


def undecided(loss: Loss, real_scores: Tensor, fake_scores: Tensor) -> float:
    """Where D cannot tell: the loss's own level, or for a shift-invariant critic the midpoint
    of its mean scores on real and fake samples."""
    if loss.undecided is not None:
        return loss.undecided
    midpoint = 0.5 * (real_scores.mean() + fake_scores.mean())
    return float(probability_or_score(loss, midpoint))


@functools.lru_cache(maxsize=16)
def grid_points(lo: float, hi: float, n: int) -> tuple[Tensor, Tensor]:
    """(axis, points): points in row-major order, row i = y[i], column j = x[j]. Cached:
    callers must not modify them."""
    axis = torch.linspace(lo, hi, n)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return axis, torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def extent(trainer: Run) -> tuple[float, float]:
    """The plotted range: the target's, or for Dirac-GAN one that holds the trajectory."""
    if trainer.config.dataset != "dirac":
        return trainer.target.extent
    reach = max(max(abs(theta), abs(psi)) for theta, psi in trainer.trajectory)
    lim = float(min(max(2.0, 1.15 * reach), 50.0))
    return -lim, lim


def snapshot(trainer: Run, view: ViewOptions | dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a frame needs, as plain floats and float32 arrays."""
    view = ViewOptions.model_validate(view or {})
    cfg, loss = trainer.config, trainer.loss
    lo, hi = extent(trainer)
    with evaluating(trainer):
        real = torch.tensor(trainer.target.reference(view.samples))
        with torch.no_grad():
            fake = trainer.G(display_latent(trainer, view.samples))
        batch = fake
        if trainer.D.batch_dependent:  # each kind judged among a batch of its kind
            size = max(cfg.batch_size, PACK_COMPANIONS * (trainer.D.pack - 1))
            batch = fake[:size]
            real_scores, real_slopes = scores_and_slopes(trainer, real, among=real[:size])
            fake_scores, fake_slopes = scores_and_slopes(trainer, fake, among=batch)
        else:
            scores, slopes = scores_and_slopes(trainer, torch.cat([real, fake]))
            real_scores, fake_scores = scores.split(len(real))
            real_slopes, fake_slopes = slopes.split(len(real))
        push_at = push_rule(trainer, real, batch, real_scores)
        if trainer.D.minibatch_stddev:  # the shown fakes are one batch
            fake_push = member_push(trainer, fake, real_scores)
        elif loss.g_on_features:
            fake_push = push_at(fake)
        else:  # the slopes are at hand: only the loss is differentiated
            fake_push = push(loss, fake_scores, fake_slopes, real_scores, trainer.D.pack)
        out: dict[str, Any] = {
            "iteration": trainer.iteration,
            "kind": "dirac" if cfg.dataset == "dirac" else f"{cfg.dim}d",
            "display": "probability" if loss.shows_probability else "score",
            "undecided": undecided(loss, real_scores, fake_scores),
            "extent": [lo, hi],
            "real": f32(real),
            "fake": f32(fake),
            "fake_grad": f32(fake_push),
            **averaged_fakes(trainer, view),
            "metrics": {
                **trainer.cheap_metrics(),
                "grad_norm_real": float(real_slopes.norm(dim=1).mean()),
                "grad_norm_fake": float(fake_slopes.norm(dim=1).mean()),
            },
            "halt": trainer.halt.as_dict() if trainer.halt else None,
        }
        if cfg.dim == 2:
            out.update(surface_2d(trainer, view, push_at, batch))
        else:
            out.update(line_1d(trainer, view, push_at, batch, lo, hi))
        if cfg.dataset == "dirac":
            out.update(dirac(trainer, view, lo, hi))
    return out


def averaged_fakes(trainer: Run, view: ViewOptions) -> dict[str, np.ndarray]:
    """``fake_ema``: the averaged generator on the displayed latent batch, when g_ema is on."""
    if trainer.config.g_ema == 0:
        return {}
    with torch.no_grad():
        return {"fake_ema": f32(trainer.G_ema(display_latent(trainer, view.samples)))}


def surface_2d(
    trainer: Run, view: ViewOptions, push_at: Callable[[Tensor], Tensor], fake: Tensor
) -> dict[str, Any]:
    lo, hi = trainer.target.extent
    _, points = grid_points(lo, hi, view.grid)
    with torch.no_grad():
        d = probability_or_score(trainer.loss, d_scores(trainer, points, among=fake))
    d = d.reshape(view.grid, view.grid)
    out: dict[str, Any] = {"d_grid": f32(d)}
    if view.field:
        _, field_points = grid_points(lo, hi, view.field)
        out["field"] = f32(push_at(field_points).reshape(view.field, view.field, 2))
    if view.manifold:
        out["manifold"] = f32(manifold(trainer, view.manifold))
    return out


def manifold(trainer: Run, m: int) -> Tensor:
    """G on an m x m grid of the first two latent coordinates (the others 0): GAN Lab's
    picture of how G warps the latent space. Gaussian noise: [-2, 2]; uniform: [-1, 1]."""
    cfg = trainer.config
    span = 1.0 if cfg.noise == "uniform" else 2.0
    _, zgrid = grid_points(-span, span, m)
    z = torch.zeros(m * m, cfg.z_dim)
    z[:, : min(2, cfg.z_dim)] = zgrid[:, : min(2, cfg.z_dim)]
    with torch.no_grad():
        return trainer.G(z).reshape(m, m, 2)


KDE_MIN_BANDWIDTH = 1e-6  # only so that a point mass (std 0) does not divide by zero
# A kernel narrower than this many cells of the line is averaged over each cell (its mass);
# a wider one is taken at the points, where the two differ by at most d^2 / 24h^2 ~ 1 %.
KDE_CELL_WIDTHS = 2.0
# Each kernel is summed over the cells within this many bandwidths of its sample: beyond, it
# is below exp(-32) ~ 1e-14 of its peak (its mass below Phi(-8) ~ 6e-16), under the 1e-12
# floor of the optimal-D ratio, and no far value underflows into the slow denormals.
KDE_REACH = 8.0
# Values evaluated in one pass at most (128 kB an array): the samples go in blocks whose
# arrays stay in the cache and are not fresh pages each time (the memory bound, too).
KDE_BLOCK = 16_384


def kde(samples: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The samples' density on the evenly spaced, increasing points xs (spacing d), as a line
    through them can show it: a Gaussian kernel density estimate with Scott's bandwidth
    h = 1.06 std n^(-1/5),

        p(x_j) = sum_i exp(-(x_j - s_i)^2 / 2h^2) / (n h sqrt(2 pi))             (h >= 2 d),
        p(x_j) = sum_i [Phi((x_j + d/2 - s_i) / h) - Phi((x_j - d/2 - s_i) / h)] / (n d),

    the second, the estimate's mean over each point's cell, for kernels narrower than
    KDE_CELL_WIDTHS cells (within 1 % of the first at the switch). The bandwidth follows the
    samples' spread, however narrow (a floor tied to the axis would flatten a narrow G and so
    p_r / (p_r + p_g)), and the cells keep a generator narrower than them on the line: sampled
    at the points instead, 2000 fakes within 0.002 of 2.013 read 5e-9 everywhere on a grid of
    0.035. Each kernel is cut at KDE_REACH h from its sample."""
    n, m = len(samples), len(xs)
    h = max(1.06 * float(samples.std()) * n ** (-1 / 5), KDE_MIN_BANDWIDTH)
    s = samples.astype(np.float64)
    d = float(xs[-1] - xs[0]) / (m - 1) if m > 1 else 1.0
    x0 = float(xs[0])
    per_cell = h < KDE_CELL_WIDTHS * d
    # the cells around a sample's nearest point that reach within KDE_REACH h of it
    reach = KDE_REACH * h / d + 1 if np.isfinite(h) else math.inf
    spans = 2 * reach + 1 >= m  # every kernel spans the line: every cell of every sample
    if spans:
        first, r = np.zeros(n, dtype=np.int64), m
    else:
        r = 2 * math.ceil(reach) + 1
        first = np.rint((s - x0) / d).astype(np.int64) - math.ceil(reach)
    density, block = np.zeros(m), max(1, KDE_BLOCK // (r + 1))
    for i in range(0, n, block):
        f, si = first[i : i + block], s[i : i + block]
        # the sample's r cells in bandwidths from it: their r + 1 edges, or their r points
        start, count = (f - 0.5, r + 1) if per_cell else (f, r)
        z = ((x0 + start * d - si) / h)[None, :] + (np.arange(count) * (d / h))[:, None]
        if per_cell:
            weight = np.diff(ndtr(z), axis=0) / d
        else:  # in place: a new array a step costs as much as the step
            np.square(z, out=z)
            np.exp(np.multiply(z, -0.5, out=z), out=z)
            weight = z / (h * math.sqrt(2 * math.pi))
        if spans:
            density += weight.sum(axis=1)
            continue
        cells = f[None, :] + np.arange(r)[:, None]
        on_line = (cells >= 0) & (cells < m)
        density += np.bincount(cells[on_line], weights=weight[on_line], minlength=m)
    return density / n


def ndtr(z: np.ndarray) -> np.ndarray:
    """Phi(z), the standard normal CDF, elementwise (torch's: three times scipy's speed here)."""
    return torch.special.ndtr(torch.from_numpy(z)).numpy()


def line_1d(
    trainer: Run,
    view: ViewOptions,
    push_at: Callable[[Tensor], Tensor],
    fake: Tensor,
    lo: float,
    hi: float,
) -> dict[str, Any]:
    xs = torch.linspace(lo, hi, view.line).unsqueeze(1)
    with torch.no_grad():
        d_line = probability_or_score(trainer.loss, d_scores(trainer, xs, among=fake))
    xs_np = xs[:, 0].numpy()
    fake_density = kde(trainer.sample(2000)[:, 0], xs_np)
    out: dict[str, Any] = {
        "xs": f32(xs_np),
        "d_line": f32(d_line),
        "fake_density": f32(fake_density),
        "g_grad_line": f32(push_at(xs)[:, 0]),
    }
    # both densities as the line shows them: averaged over each point's cell (see kde)
    real_density = trainer.target.density(xs.numpy(), cell=(hi - lo) / (view.line - 1))
    if real_density is not None:
        out["real_density"] = f32(real_density)
        if trainer.loss.optimum_is_ratio:
            out["d_optimal"] = f32(real_density / np.maximum(real_density + fake_density, 1e-12))
    return out


# ----- Dirac-GAN ---------------------------------------------------------------------------
def dirac_vector_field(trainer: Run, theta: Tensor, psi: Tensor) -> Tensor:
    """(d theta/dt, d psi/dt) = (-dL_G/dtheta, -dL_D/dpsi) at each (theta, psi) pair, for
    the run's loss and penalties (perturbations averaged over a fixed set of draws), joint
    penalties (consensus) included. Constraints (clipping, spectral norm) and historical
    averaging (a pull towards the past, not a field on the plane) are not part of it."""
    regs = trainer.regularizers
    draws = DIRAC_NOISE_DRAWS if any(spec.perturb for spec, _ in regs) else 1
    rng = torch.Generator().manual_seed(DISPLAY_SEED)
    theta = theta.detach().repeat(draws).requires_grad_(True)
    psi = psi.detach().repeat(draws).requires_grad_(True)

    def critic(x: Tensor) -> Tensor:
        return psi * x[:, 0]

    def perturb(x: Tensor) -> Tensor:
        for spec, s in regs:
            if spec.perturb is not None:
                x = spec.perturb(x, s, trainer.iteration, rng)
        return x

    real = perturb(torch.zeros(theta.shape[0], 1))
    fake = perturb(theta.unsqueeze(1))
    d_total = trainer.loss.d_loss(critic(real), critic(fake))  # grad_psi L_D depends on theta
    for spec, s in regs:
        if spec.penalty is not None:
            d_total = d_total + spec.penalty(critic, real, fake.detach(), s, rng)
    g_loss = trainer.loss.g_loss(critic(real), critic(fake))
    scale = theta.shape[0]  # undo the batch mean: each row is its own (theta, psi)
    joint = trainer.joint
    (d_theta,) = torch.autograd.grad(g_loss, theta, create_graph=bool(joint))
    (d_psi,) = torch.autograd.grad(d_total, psi, create_graph=bool(joint))
    d_theta, d_psi = d_theta * scale, d_psi * scale
    if joint:  # rows are independent, so the sum's gradient is each row's own
        penalty = sum(spec.joint_penalty([d_theta, d_psi], s) for spec, s in joint)
        extra_theta, extra_psi = torch.autograd.grad(penalty, (theta, psi))
        d_theta, d_psi = d_theta + extra_theta, d_psi + extra_psi
    field = -torch.stack([d_theta, d_psi], dim=1).detach()
    return field.reshape(draws, -1, 2).mean(dim=0)


def dirac_jacobian(trainer: Run, h: float = 1e-3) -> np.ndarray | None:
    """The field's Jacobian at the equilibrium (0, 0), (2, 2), by central differences; each
    point is evaluated alone with the same noise draws, so they cancel. None where the field
    is not differentiable there, seen as central differences at h and 2h that disagree (a
    smooth field's agree to O(h^2); across a jump the difference grows as 1 / h). WGAN-GP's
    penalty (|psi| - 1)^2 is such a case: its slope in psi jumps from +2 lambda to -2 lambda
    at psi = 0, so the field jumps by 4 lambda there and has no Jacobian at the equilibrium."""

    def central(step: float) -> torch.Tensor:
        at = torch.tensor([[step, 0.0], [-step, 0.0], [0.0, step], [0.0, -step]])
        v = torch.cat([dirac_vector_field(trainer, p[:1], p[1:]) for p in at]).double()
        return torch.stack([v[0] - v[1], v[2] - v[3]], dim=1) / (2 * step)

    near, far = central(h), central(2 * h)
    if (near - far).abs().max() > JUMP_TOLERANCE * (1 + near.abs().max()):
        return None
    return near.numpy()


# Central differences at h and 2h of a smooth field agree to within about h^2 (1e-6 of the
# slope at h = 1e-3); across a jump they differ by half of the larger one.
JUMP_TOLERANCE = 0.01


def as_pairs(values: np.ndarray) -> list[list[float]]:
    return [[float(e.real), float(e.imag)] for e in values]


# The optimizers whose step is linear in the gradient, so that the update has a one-step map.
LINEAR_OPTIMIZERS = ("sgd", "optimistic")


def player_step(rows: np.ndarray, k: int, grad: np.ndarray, opt: Any) -> np.ndarray:
    """One optimizer step of player k (0: theta, 1: psi) on the linearised game. ``rows`` are
    the state (theta, psi, slot_theta, slot_psi) as linear functions of the state before
    the iteration; ``grad`` is the player's gradient as such a function. The slot is SGD's
    momentum buffer (buf = mu buf + g; z -= lr buf, as torch.optim.SGD) or optimistic's
    last gradient (z -= lr (2 g - g_last))."""
    rows = rows.copy()
    z, slot = rows[k].copy(), rows[2 + k].copy()
    if opt.name == "sgd":
        rows[2 + k] = opt.momentum * slot + grad
        rows[k] = z - opt.lr * rows[2 + k]
    else:
        rows[k] = z - opt.lr * (2 * grad - slot)
        rows[2 + k] = grad
    return rows


def dirac_step_map(trainer: Run, jacobian: np.ndarray) -> np.ndarray | None:
    """The matrix M of one training iteration on the game linearised at (0, 0), z' = J z:
    x_{t+1} = M x_t for the state x = (theta, psi) plus the optimizers' linear state where
    they keep one (SGD momentum, optimistic's last gradient), for the run's scheme, step
    counts and learning rates. None when an optimizer's step is not linear in the gradient
    (adam, rmsprop, optimistic_adam rescale it) or G's update is unrolled (not worked out).
    Constraints (clipping) and historical averaging are not part of it."""
    cfg = trainer.config
    opts = (cfg.opt_g, cfg.opt_d)
    if any(o.name not in LINEAR_OPTIMIZERS for o in opts) or cfg.unroll_steps:
        return None

    def grad(rows: np.ndarray, k: int) -> np.ndarray:
        return -jacobian[k] @ rows[:2]  # the gradient is minus the field

    def alone(rows: np.ndarray, k: int) -> np.ndarray:
        return player_step(rows, k, grad(rows, k), opts[k])

    def joint(rows: np.ndarray, grads: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        for k in (0, 1):
            rows = player_step(rows, k, grads[k], opts[k])
        return rows

    rows = np.eye(4)
    if cfg.update_scheme == "alternating":
        for _ in range(cfg.d_steps):
            rows = alone(rows, 1)
        for _ in range(cfg.g_steps):
            rows = alone(rows, 0)
    else:
        for _ in range(cfg.d_steps - 1):
            rows = alone(rows, 1)
        grads = (grad(rows, 0), grad(rows, 1))
        if cfg.update_scheme == "extragradient":
            half = joint(rows, grads)
            grads = (grad(half, 0), grad(half, 1))
            rows = np.concatenate([rows[:2], half[2:]])  # from the start, the moved slots
        rows = joint(rows, grads)
        for _ in range(cfg.g_steps - 1):
            rows = alone(rows, 0)
    kept = [0, 1] + [2 + k for k in (0, 1) if opts[k].name == "optimistic" or opts[k].momentum]
    return rows[np.ix_(kept, kept)]  # a slot nothing reads only adds an eigenvalue 0


def dirac_eigenvalues(
    trainer: Run,
) -> tuple[list[list[float]] | None, list[list[float]] | None]:
    """(flow, step): eigenvalues [re, im] of the field's Jacobian at (0, 0), and of the
    one-step map of the discrete update (``dirac_step_map``; None where there is none).
    The flow spirals in where every Re < 0; the iteration where every modulus < 1. Both
    None where the field has no Jacobian at (0, 0) (``dirac_jacobian``)."""
    jacobian = dirac_jacobian(trainer)
    if jacobian is None:
        return None, None
    step = dirac_step_map(trainer, jacobian)
    flow = as_pairs(np.linalg.eigvals(jacobian))
    return flow, None if step is None else as_pairs(np.linalg.eigvals(step))


def dirac(trainer: Run, view: ViewOptions, lo: float, hi: float) -> dict[str, Any]:
    _, points = grid_points(lo, hi, view.dirac_grid)
    field = dirac_vector_field(trainer, points[:, 0], points[:, 1])
    theta, psi = trainer.trajectory[-1]
    flow, step = dirac_eigenvalues(trainer)
    return {
        "theta": theta,
        "psi": psi,
        "dirac_extent": [lo, hi],
        "dirac_field": f32(field.reshape(view.dirac_grid, view.dirac_grid, 2)),
        "trajectory": np.asarray(trainer.trajectory, dtype=np.float32),
        "eigenvalues": flow,
        "step_eigenvalues": step,
    }
