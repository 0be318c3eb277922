"""Penalties and constraints on the discriminator, implemented: the hooks of each
regularizer declared in gan_core.regularizer_specs (description, formula, paper, strength
and parameters are there; its docstring says what each hook does), registered under its
name.

Only the workers and the engine import this module (it imports torch); ``REGULARIZERS``
entries import it on the first use of their hooks. Gradient norms are per sample:
||grad_x D(x_i)||, one per row of the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from gan_core.regularizer_specs import implement_regularizer

Critic = Callable[[Tensor], Tensor]


def input_gradient(critic: Critic, x: Tensor) -> Tensor:
    """grad_x D(x) for every row of x, kept in the graph so a penalty on it can be trained."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad


def gradient_norm(critic: Critic, x: Tensor) -> Tensor:
    """Per-sample ||grad_x D(x)||, shape (n,); a tiny epsilon keeps sqrt differentiable at 0."""
    return torch.sqrt(input_gradient(critic, x).pow(2).sum(dim=1) + 1e-12)


def interpolates(real: Tensor, fake: Tensor, rng: torch.Generator) -> Tensor:
    """x_hat = t x + (1 - t) x~, one t ~ U[0, 1] per pair."""
    t = torch.rand(real.shape[0], 1, generator=rng)
    return t * real + (1 - t) * fake


@implement_regularizer("weight_clip")
class WeightClip:
    def constrain(d: nn.Module, s: Any) -> None:
        with torch.no_grad():
            for p in d.parameters():
                p.clamp_(-s.weight, s.weight)


@implement_regularizer("gp")
class GradientPenalty:
    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        norms = gradient_norm(d, interpolates(real, fake, rng))
        return s.weight * (norms - 1).pow(2).mean()


@implement_regularizer("lp")
class LipschitzPenalty:
    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        norms = gradient_norm(d, interpolates(real, fake, rng))
        return s.weight * torch.relu(norms - 1).pow(2).mean()


@implement_regularizer("r1")
class R1:
    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        return 0.5 * s.weight * input_gradient(d, real).pow(2).sum(dim=1).mean()


@implement_regularizer("r2")
class R2:
    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        return 0.5 * s.weight * input_gradient(d, fake).pow(2).sum(dim=1).mean()


def dragan_points(real: Tensor, spread: float, rng: torch.Generator) -> Tensor:
    """x + alpha (x_p - x),  x_p = x + delta,  delta = C * std(x) * eps,  eps ~ N(0, I),
    alpha ~ U[0, 1] per sample; std(x) is one number, over every coordinate of the batch."""
    std = real.std() if real.numel() > 1 else torch.ones(())
    delta = spread * std * torch.randn(real.shape, generator=rng)
    alpha = torch.rand(real.shape[0], 1, generator=rng)
    return real + alpha * delta


@implement_regularizer("dragan")
class Dragan:
    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        norms = gradient_norm(d, dragan_points(real, s.spread, rng))
        return s.weight * (norms - 1).pow(2).mean()


@implement_regularizer("spectral_norm")
class SpectralNorm:
    spectral_norm = True


@implement_regularizer("instance_noise")
class InstanceNoise:
    def perturb(x: Tensor, s: Any, iteration: int, rng: torch.Generator) -> Tensor:
        return x + noise_level(s, iteration) * torch.randn(x.shape, generator=rng)


def noise_level(s: Any, iteration: int) -> float:
    """sigma_t of instance noise at a generator iteration."""
    if s.anneal_steps == 0:
        return s.weight
    return s.weight * max(0.0, 1.0 - iteration / s.anneal_steps)


@implement_regularizer("label_smoothing")
class LabelSmoothing:
    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        return s.weight * d(real).mean()


@implement_regularizer("two_sided_label_smoothing")
class TwoSidedLabelSmoothing:
    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        real_scores, fake_scores = d(real), d(fake)
        return s.weight * (real_scores.mean() - fake_scores.mean())


@implement_regularizer("gp0")
class ZeroCentredGradientPenalty:
    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        grad = input_gradient(d, interpolates(real, fake, rng))
        return s.weight * grad.pow(2).sum(dim=1).mean()


@implement_regularizer("consensus")
class Consensus:
    def joint_penalty(grads: list[Tensor], s: Any) -> Tensor:
        return 0.5 * s.weight * sum(g.pow(2).sum() for g in grads)


@implement_regularizer("historical_averaging")
class HistoricalAveraging:
    def param_penalty(params: list[Tensor], average: list[Tensor], s: Any) -> Tensor:
        return s.weight * sum((p - a).pow(2).sum() for p, a in zip(params, average, strict=True))
