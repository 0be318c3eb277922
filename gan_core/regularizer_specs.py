"""Penalties and constraints on the discriminator, declared: name, description, formula,
strength and parameters; several may be active.

This module imports no torch: the config, the schema and the web process read it. The hooks
of the built-in regularizers are in gan_core.regularizers (registered under these names
with ``implement_regularizer``), imported on the first use of an entry's hooks;
tests/core/test_regularizers.py checks that every declared regularizer is implemented.

A regularizer is implemented by a class with any of these optional hooks, each receiving
its settings ``s`` (``s.weight`` and its own parameters):

- ``penalty(D, real, fake, s, rng) -> Tensor``: a term added to D's loss on every D step.
- ``perturb(x, s, iteration, rng) -> Tensor``: applied to every input of D (real and fake,
  in D and G steps alike).
- ``constrain(D, s)``: called after every D optimizer step (e.g. clipping).
- ``spectral_norm = True``: D's linear layers divide their weight by its spectral norm.
- ``joint_penalty(grads, s) -> Tensor``: a term of the joint gradient field
  v = (grad_G L_G, grad_D L_D) (``grads``, kept in the graph), added to both players' losses.
- ``param_penalty(params, average, s) -> Tensor``: a term of one player's parameters and
  their running mean over past iterations (kept by the Trainer), added to that player's loss.

A declaration with ``logistic_only=True`` only means something for a logistic loss (a BCE
on sigmoid(D), the losses with ``labels="bce"``); TrainConfig refuses it with others.
A plug-in declares and implements in one class with ``register_regularizer`` (a class
attribute ``logistic_only = True`` there).

Gradient norms are per sample: ||grad_x D(x_i)||, one per row of the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gan_core.registry import Implementations, Implemented, Registry, describe

HOOKS = ("penalty", "perturb", "constrain", "spectral_norm", "joint_penalty", "param_penalty")


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


REGULARIZERS: Registry[Regularizer] = Registry("regularizer")
REGULARIZER_CODE = Implementations(REGULARIZERS, "gan_core.regularizers")  # their hooks


@dataclass(frozen=True)
class Regularizer:
    """A registered regularizer; ``weight`` is its one strength (lambda, gamma, c, sigma...).
    Its hooks (this module's docstring) are read from the implementing class on use."""

    name: str
    description: str
    formula: str
    weight_name: str
    default_weight: float
    weight_range: tuple[float, float]
    params: type[BaseModel]
    logistic_only: bool = False

    penalty = Implemented(REGULARIZER_CODE)
    perturb = Implemented(REGULARIZER_CODE)
    constrain = Implemented(REGULARIZER_CODE)
    spectral_norm = Implemented(REGULARIZER_CODE, default=False)
    joint_penalty = Implemented(REGULARIZER_CODE)
    param_penalty = Implemented(REGULARIZER_CODE)


def declare_regularizer(
    name: str,
    *,
    weight: float,
    weight_range: tuple[float, float],
    weight_name: str = "weight",
    params: type[BaseModel] = NoParams,
    logistic_only: bool = False,
) -> Callable[[type], type]:
    """Declare a regularizer by a class whose docstring's first line is the description and
    the rest the formula."""

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
                logistic_only=logistic_only,
            ),
        )
        return cls

    return decorator


def implement_regularizer(name: str) -> Callable[[type], type]:
    """Register the class holding a declared regularizer's hooks (at least one)."""

    def decorator(cls: type) -> type:
        if not any(getattr(cls, hook, None) for hook in HOOKS):
            raise TypeError(f"regularizer {name!r}: {cls.__name__} has none of {', '.join(HOOKS)}")
        return REGULARIZER_CODE.add(name, cls)

    return decorator


def register_regularizer(name: str, **settings: Any) -> Callable[[type], type]:
    """Declare and implement a regularizer in one class (a plug-in): its docstring and
    ``settings`` as for ``declare_regularizer``, its hooks as for ``implement_regularizer``,
    and ``logistic_only = True`` as a class attribute if it needs a logistic loss."""

    def decorator(cls: type) -> type:
        logistic_only = getattr(cls, "logistic_only", False)
        declare_regularizer(name, logistic_only=logistic_only, **settings)(cls)
        return implement_regularizer(name)(cls)

    return decorator


@declare_regularizer("weight_clip", weight=0.01, weight_range=(1e-4, 10.0), weight_name="c")
class WeightClip:
    """Weight clipping (Arjovsky et al. 2017): every parameter of D clipped after each D step.

    w <- clamp(w, -c, c)
    """


@declare_regularizer("gp", weight=0.1, weight_range=(0.0, 1000.0), weight_name="lambda")
class GradientPenalty:
    """WGAN-GP (Gulrajani et al. 2017), two-sided, at random interpolates of real and fake.

    lambda * E[(||grad D(x_hat)|| - 1)^2],  x_hat = t x + (1 - t) G(z),  t ~ U[0, 1]
    """


@declare_regularizer("lp", weight=0.1, weight_range=(0.0, 1000.0), weight_name="lambda")
class LipschitzPenalty:
    """WGAN-LP (Petzka et al. 2018), one-sided: only gradients steeper than 1 are penalised.

    lambda * E[max(0, ||grad D(x_hat)|| - 1)^2],  x_hat = t x + (1 - t) G(z)
    """


@declare_regularizer("r1", weight=1.0, weight_range=(0.0, 1000.0), weight_name="gamma")
class R1:
    """R1 (Mescheder et al. 2018): gradient penalty on real data only.

    gamma / 2 * E_real[||grad_x D(x)||^2]
    """


@declare_regularizer("r2", weight=1.0, weight_range=(0.0, 1000.0), weight_name="gamma")
class R2:
    """R2 (Mescheder et al. 2018): gradient penalty on fake data only.

    gamma / 2 * E_fake[||grad_x D(G(z))||^2]
    """


class DraganParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spread: float = Field(
        0.5, ge=0.0, le=10.0, description="C: perturbation scale, in stds of the real batch"
    )


@declare_regularizer(
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


@declare_regularizer("spectral_norm", weight=1.0, weight_range=(0.1, 10.0), weight_name="sigma")
class SpectralNorm:
    """Spectral normalisation (Miyato et al. 2018): every linear layer of D has norm sigma.

    W_SN = sigma * W / sigma_max(W),  sigma_max by one power iteration per training-mode
    forward pass of D, from the top singular vector when it is switched on
    """


class InstanceNoiseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anneal_steps: int = Field(
        0, ge=0, le=1_000_000, description="sigma falls linearly to 0 over this many iterations"
    )


@declare_regularizer(
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


@declare_regularizer(
    "label_smoothing", weight=0.1, weight_range=(0.0, 0.5), weight_name="alpha", logistic_only=True
)
class LabelSmoothing:
    """One-sided label smoothing (Salimans et al. 2016): real targets 1 - alpha, for logistic D.

    BCE(D(x), 1 - alpha) = softplus(-D(x)) + alpha * D(x), so the penalty is alpha * E[D(x)]
    (logistic losses only: with wgan or rsgan D's level is free and alpha * E[D(x)] drives it
    down without bound, mean D(real) about -1000 after 1000 iterations of ring8)
    """


@declare_regularizer(
    "two_sided_label_smoothing",
    weight=0.1,
    weight_range=(0.0, 0.5),
    weight_name="alpha",
    logistic_only=True,
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


@declare_regularizer("gp0", weight=10.0, weight_range=(0.0, 1000.0), weight_name="lambda")
class ZeroCentredGradientPenalty:
    """Zero-centred gradient penalty at interpolates (Thanh-Tung et al. 2019).

    lambda * E[||grad D(x_hat)||^2],  x_hat = t x + (1 - t) G(z),  t ~ U[0, 1]
    (as cal_gradpen with center=0 in htt210/GeneralizationAndStabilityInGANs, LAMBDA 10 there)
    """


@declare_regularizer("consensus", weight=1.0, weight_range=(0.0, 100.0), weight_name="gamma")
class Consensus:
    """Consensus optimisation (Mescheder et al. 2017): both players also descend the squared
    norm of the joint gradient field v, which pulls the iteration towards where v = 0.

    L_D + gamma / 2 * ||v||^2  and  L_G + gamma / 2 * ||v||^2,  v = (grad_G L_G, grad_D L_D)
    (as ConsensusOptimizer in LMescheder/TheNumericsOfGANs: grad + gamma * grad(||v||^2 / 2);
    GAN_stability's DiracGAN notebook, GAN_Consensus, halves the second term of that gradient)
    """


@declare_regularizer(
    "historical_averaging", weight=0.1, weight_range=(0.0, 100.0), weight_name="lambda"
)
class HistoricalAveraging:
    """Historical averaging (Salimans et al. 2016): each player is pulled to the mean of its
    own past parameters, theta_bar_t = (1/t) sum_i theta_i over the iterations since it was
    switched on (a running mean: one copy of the parameters and a count).

    lambda * ||theta - theta_bar||^2, for G and for D
    """
