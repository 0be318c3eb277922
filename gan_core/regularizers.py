"""Penalties and constraints on the discriminator, registered by name; several may be active.

A regularizer is a class with any of four optional hooks, each receiving its settings
``s`` (``s.weight`` and its own parameters):

- ``penalty(D, real, fake, s, rng) -> Tensor``: a term added to D's loss on every D step.
- ``perturb(x, s, iteration, rng) -> Tensor``: applied to every input of D (real and fake,
  in D and G steps alike).
- ``constrain(D, s)``: called after every D optimizer step (e.g. clipping).
- ``spectral_norm = True``: D's linear layers divide their weight by its spectral norm.
- ``joint_penalty(grads, s) -> Tensor``: a term of the joint gradient field
  v = (grad_G L_G, grad_D L_D) (``grads``, kept in the graph), added to both players' losses.
- ``param_penalty(params, average, s) -> Tensor``: a term of one player's parameters and
  their running mean over past iterations (kept by the Trainer), added to that player's loss.
- ``logistic_only = True``: it only means something for a logistic loss (a BCE on
  sigmoid(D), the losses with ``shows_probability``); TrainConfig refuses it with others.

Gradient norms are per sample: ||grad_x D(x_i)||, one per row of the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from gan_core.registry import Registry, describe

Critic = Callable[[Tensor], Tensor]


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Regularizer:
    """A registered regularizer; ``weight`` is its one strength (lambda, gamma, c, sigma...)."""

    name: str
    description: str
    formula: str
    weight_name: str
    default_weight: float
    weight_range: tuple[float, float]
    params: type[BaseModel]
    penalty: Callable[..., Tensor] | None
    perturb: Callable[..., Tensor] | None
    constrain: Callable[..., None] | None
    spectral_norm: bool
    joint_penalty: Callable[..., Tensor] | None = None
    param_penalty: Callable[..., Tensor] | None = None
    logistic_only: bool = False


REGULARIZERS: Registry[Regularizer] = Registry("regularizer")


def register_regularizer(
    name: str,
    *,
    weight: float,
    weight_range: tuple[float, float],
    weight_name: str = "weight",
    params: type[BaseModel] = NoParams,
) -> Callable[[type], type]:
    """Register a class with the optional hooks described in this module's docstring.

    The class docstring's first line is the description, the rest is the formula.
    """

    def decorator(cls: type) -> type:
        description, formula = describe(cls)
        REGULARIZERS.add(
            name,
            Regularizer(
                name=name,
                description=description,
                formula=formula,
                weight_name=weight_name,
                default_weight=weight,
                weight_range=weight_range,
                params=params,
                penalty=getattr(cls, "penalty", None),
                perturb=getattr(cls, "perturb", None),
                constrain=getattr(cls, "constrain", None),
                spectral_norm=getattr(cls, "spectral_norm", False),
                joint_penalty=getattr(cls, "joint_penalty", None),
                param_penalty=getattr(cls, "param_penalty", None),
                logistic_only=getattr(cls, "logistic_only", False),
            ),
        )
        return cls

    return decorator


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


@register_regularizer("weight_clip", weight=0.01, weight_range=(1e-4, 10.0), weight_name="c")
class WeightClip:
    """Weight clipping (Arjovsky et al. 2017): every parameter of D clipped after each D step.

    w <- clamp(w, -c, c)
    """

    def constrain(d: nn.Module, s: Any) -> None:
        with torch.no_grad():
            for p in d.parameters():
                p.clamp_(-s.weight, s.weight)


@register_regularizer("gp", weight=0.1, weight_range=(0.0, 1000.0), weight_name="lambda")
class GradientPenalty:
    """WGAN-GP (Gulrajani et al. 2017), two-sided, at random interpolates of real and fake.

    lambda * E[(||grad D(x_hat)|| - 1)^2],  x_hat = t x + (1 - t) G(z),  t ~ U[0, 1]
    """

    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        norms = gradient_norm(d, interpolates(real, fake, rng))
        return s.weight * (norms - 1).pow(2).mean()


@register_regularizer("lp", weight=0.1, weight_range=(0.0, 1000.0), weight_name="lambda")
class LipschitzPenalty:
    """WGAN-LP (Petzka et al. 2018), one-sided: only gradients steeper than 1 are penalised.

    lambda * E[max(0, ||grad D(x_hat)|| - 1)^2],  x_hat = t x + (1 - t) G(z)
    """

    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        norms = gradient_norm(d, interpolates(real, fake, rng))
        return s.weight * torch.relu(norms - 1).pow(2).mean()


@register_regularizer("r1", weight=1.0, weight_range=(0.0, 1000.0), weight_name="gamma")
class R1:
    """R1 (Mescheder et al. 2018): gradient penalty on real data only.

    gamma / 2 * E_real[||grad_x D(x)||^2]
    """

    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        return 0.5 * s.weight * input_gradient(d, real).pow(2).sum(dim=1).mean()


@register_regularizer("r2", weight=1.0, weight_range=(0.0, 1000.0), weight_name="gamma")
class R2:
    """R2 (Mescheder et al. 2018): gradient penalty on fake data only.

    gamma / 2 * E_fake[||grad_x D(G(z))||^2]
    """

    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        return 0.5 * s.weight * input_gradient(d, fake).pow(2).sum(dim=1).mean()


class DraganParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spread: float = Field(
        0.5, ge=0.0, le=10.0, description="C: perturbation scale, in stds of the real batch"
    )


def dragan_points(real: Tensor, spread: float, rng: torch.Generator) -> Tensor:
    """x + alpha (x_p - x),  x_p = x + delta,  delta = C * std(x) * eps,  eps ~ N(0, I),
    alpha ~ U[0, 1] per sample; std(x) is one number, over every coordinate of the batch."""
    std = real.std() if real.numel() > 1 else torch.ones(())
    delta = spread * std * torch.randn(real.shape, generator=rng)
    alpha = torch.rand(real.shape[0], 1, generator=rng)
    return real + alpha * delta


@register_regularizer(
    "dragan", weight=10.0, weight_range=(0.0, 1000.0), weight_name="lambda", params=DraganParams
)
class Dragan:
    """DRAGAN (Kodali et al. 2017): gradient penalty in a neighbourhood of the real samples.

    lambda * E[(||grad D(x_hat)|| - 1)^2],  x_hat = x + alpha * delta,  delta = C * std(x) * eps,
    eps ~ N(0, I) (the paper's delta ~ N(0, cI), zero mean),  alpha ~ U[0, 1],  C = 0.5,
    lambda = 10. The global std(x), C = 0.5, lambda = 10 and the interpolation alpha come from
    the official code (github.com/kodalinaveen3/DRAGAN, DRAGAN.ipynb), whose perturbation is
    0.5 * std(x) * U[0, 1), one-sided; this one is symmetric, as the paper writes.
    """

    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        norms = gradient_norm(d, dragan_points(real, s.spread, rng))
        return s.weight * (norms - 1).pow(2).mean()


@register_regularizer("spectral_norm", weight=1.0, weight_range=(0.1, 10.0), weight_name="sigma")
class SpectralNorm:
    """Spectral normalisation (Miyato et al. 2018): every linear layer of D has norm sigma.

    W_SN = sigma * W / sigma_max(W),  sigma_max by one power iteration per training-mode
    forward pass of D, from the top singular vector when it is switched on
    """

    spectral_norm = True


class InstanceNoiseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anneal_steps: int = Field(
        0, ge=0, le=1_000_000, description="sigma falls linearly to 0 over this many iterations"
    )


@register_regularizer(
    "instance_noise",
    weight=0.1,
    weight_range=(0.0, 5.0),
    weight_name="sigma",
    params=InstanceNoiseParams,
)
class InstanceNoise:
    """Instance noise (Sønderby et al. 2017): Gaussian noise on every input of D.

    D sees x + sigma_t * eps,  eps ~ N(0, I),  sigma_t = sigma * max(0, 1 - t / anneal_steps)
    (anneal_steps = 0: constant sigma)
    """

    def perturb(x: Tensor, s: Any, iteration: int, rng: torch.Generator) -> Tensor:
        return x + noise_level(s, iteration) * torch.randn(x.shape, generator=rng)


def noise_level(s: Any, iteration: int) -> float:
    """sigma_t of instance noise at a generator iteration."""
    if s.anneal_steps == 0:
        return s.weight
    return s.weight * max(0.0, 1.0 - iteration / s.anneal_steps)


@register_regularizer("label_smoothing", weight=0.1, weight_range=(0.0, 0.5), weight_name="alpha")
class LabelSmoothing:
    """One-sided label smoothing (Salimans et al. 2016): real targets 1 - alpha, for logistic D.

    BCE(D(x), 1 - alpha) = softplus(-D(x)) + alpha * D(x), so the penalty is alpha * E[D(x)]
    (logistic losses only: with wgan or rsgan D's level is free and alpha * E[D(x)] drives it
    down without bound, mean D(real) about -1000 after 1000 iterations of ring8)
    """

    logistic_only = True

    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        return s.weight * d(real).mean()


@register_regularizer(
    "two_sided_label_smoothing", weight=0.1, weight_range=(0.0, 0.5), weight_name="alpha"
)
class TwoSidedLabelSmoothing:
    """Two-sided label smoothing: real targets 1 - alpha and fake targets alpha, for logistic D.

    BCE(s, t) = softplus(s) - t s, so against BCE(s, 1) and BCE(s, 0) the penalty is
    alpha * (E[D(x)] - E[D(G(z))]). Why Salimans et al. (2016, section 3.4) smooth only the
    real side: with targets a (real) and b (fake) the optimal D is (a p_data + b p_model) /
    (p_data + p_model); the p_model term in the numerator means that where p_data is near 0
    and p_model large, D is b there, and erroneous samples have no incentive to move nearer
    to the data. Flipping each label with probability alpha (label_noise) has this penalty
    as its mean.
    """

    logistic_only = True

    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        real_scores, fake_scores = d(real), d(fake)
        return s.weight * (real_scores.mean() - fake_scores.mean())


@register_regularizer("gp0", weight=10.0, weight_range=(0.0, 1000.0), weight_name="lambda")
class ZeroCentredGradientPenalty:
    """Zero-centred gradient penalty at interpolates (Thanh-Tung et al. 2019).

    lambda * E[||grad D(x_hat)||^2],  x_hat = t x + (1 - t) G(z),  t ~ U[0, 1]
    (as cal_gradpen with center=0 in htt210/GeneralizationAndStabilityInGANs, LAMBDA 10 there)
    """

    def penalty(d: Critic, real: Tensor, fake: Tensor, s: Any, rng: torch.Generator) -> Tensor:
        grad = input_gradient(d, interpolates(real, fake, rng))
        return s.weight * grad.pow(2).sum(dim=1).mean()


@register_regularizer("consensus", weight=1.0, weight_range=(0.0, 100.0), weight_name="gamma")
class Consensus:
    """Consensus optimisation (Mescheder et al. 2017): both players also descend the squared
    norm of the joint gradient field v, which pulls the iteration towards where v = 0.

    L_D + gamma / 2 * ||v||^2  and  L_G + gamma / 2 * ||v||^2,  v = (grad_G L_G, grad_D L_D)
    (as ConsensusOptimizer in LMescheder/TheNumericsOfGANs: grad + gamma * grad(||v||^2 / 2);
    GAN_stability's DiracGAN notebook, GAN_Consensus, halves the second term of that gradient)
    """

    def joint_penalty(grads: list[Tensor], s: Any) -> Tensor:
        return 0.5 * s.weight * sum(g.pow(2).sum() for g in grads)


@register_regularizer(
    "historical_averaging", weight=0.1, weight_range=(0.0, 100.0), weight_name="lambda"
)
class HistoricalAveraging:
    """Historical averaging (Salimans et al. 2016): each player is pulled to the mean of its
    own past parameters, theta_bar_t = (1/t) sum_i theta_i over the iterations since it was
    switched on (a running mean: one copy of the parameters and a count).

    lambda * ||theta - theta_bar||^2, for G and for D
    """

    def param_penalty(params: list[Tensor], average: list[Tensor], s: Any) -> Tensor:
        return s.weight * sum((p - a).pow(2).sum() for p, a in zip(params, average, strict=True))
