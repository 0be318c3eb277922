"""Adversarial losses, declared: name, description, formula and how views show them.

This module imports no torch: the config, the schema and the web process read it. The
functions of the built-in losses are in gan_core.losses (registered under these names with
``implement_loss``), imported on the first use of an entry's functions (``d_loss``,
``g_loss``, ``label_loss``); tests/core/test_losses.py checks that every declared loss is
implemented and agrees with its declaration.

D always returns a raw score s (a logit for the logistic losses). Every function takes
the scores of a real batch and of a fake batch, ``real`` and ``fake`` (shape (n,)), and
returns a scalar to *minimise*. Sigmoids appear only inside the softplus forms:
log sigmoid(s) = -softplus(-s) and log(1 - sigmoid(s)) = -softplus(s).

A plug-in declares and implements a loss in one class, with ``register_loss``::

    @register_loss("mine", shows_probability=False)
    class Mine:
        '''One line that says what it is.

        L_D = ...;  L_G = ...
        '''
        def d_loss(real, fake): ...
        def g_loss(real, fake): ...
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from gan_core.registry import Implementations, Implemented, Registry, describe

Labels = Literal["bce", "own"] | None

LOSSES: Registry[Loss] = Registry("loss")
LOSS_CODE = Implementations(LOSSES, "gan_core.losses")  # the functions of each loss


@dataclass(frozen=True)
class Loss:
    """A registered loss.

    shows_probability: D's score is a logit, so views show sigmoid(D) as a probability.
    undecided: the value (of the probability, or of the raw score) at which D cannot tell
        real from fake; views centre their diverging colour scale there. None (the default,
        and right for losses unchanged by adding a constant to D, like wgan and rsgan, whose
        level is arbitrary): halfway between D's mean scores on real and fake samples.
    uses_real_in_g: the generator loss needs D's scores on a real batch (relativistic).
    optimum_is_ratio: the optimal D for a fixed G is p_r / (p_r + p_g) (as a probability for
        the logistic losses, as the score itself for lsgan), so views may draw it.
    g_on_features: the generator loss takes D's last hidden features of a real and a fake
        batch, (n, h) each, instead of the scores (feature matching). Such a loss needs a D
        with hidden layers: not the Dirac-GAN's.
    needs_discriminator: the D shape (TrainConfig.discriminator) the loss needs, if any.
    config_params: TrainConfig fields passed to ``d_loss`` as keywords (ebgan's margin).
    labels: whether D's loss is a per-sample loss against labels (1 real, 0 fake), so that
        label_noise can flip them: "bce" (binary cross-entropy on sigmoid(D), a logistic
        loss), "own" (another per-sample loss, e.g. lsgan's square), None (no labels).

    Implemented (from the implementing class, on use): ``d_loss(real, fake)``,
    ``g_loss(real, fake)``, and for a loss with labels ``label_loss(s, t)``, the per-sample
    loss of a score s against a target t, of which ``d_loss`` is E_real[label_loss(s, 1)] +
    E_fake[label_loss(s, 0)] (label_noise flips those targets).
    """

    name: str
    description: str
    formula: str
    shows_probability: bool = True
    undecided: float | None = None
    uses_real_in_g: bool = False
    optimum_is_ratio: bool = False
    g_on_features: bool = False
    needs_discriminator: str | None = None
    config_params: tuple[str, ...] = ()
    labels: Labels = None

    d_loss = Implemented(LOSS_CODE)
    g_loss = Implemented(LOSS_CODE)
    label_loss = Implemented(LOSS_CODE)


def declare_loss(name: str, **settings: Any) -> Callable[[type], type]:
    """Declare a loss by a class whose docstring's first line is the description and the
    rest the formula; ``settings`` are the other fields of ``Loss`` (their defaults there)."""

    def decorator(cls: type) -> type:
        description, formula = describe(cls)
        LOSSES.add(name, Loss(name, description, formula, **settings))
        return cls

    return decorator


def implement_loss(name: str) -> Callable[[type], type]:
    """Register the class holding a declared loss's functions ``d_loss(real, fake)``,
    ``g_loss(real, fake)`` and, for a loss with labels, ``label_loss(s, t)``."""

    def decorator(cls: type) -> type:
        for function in ("d_loss", "g_loss"):
            if not callable(getattr(cls, function, None)):
                raise TypeError(f"loss {name!r}: {cls.__name__} needs a function {function}")
        labels = LOSS_CODE.declaration(name).labels
        if (labels is None) != (getattr(cls, "label_loss", None) is None):
            has = "a" if labels is None else "no"
            raise TypeError(
                f"loss {name!r} is declared with labels={labels!r} and {cls.__name__} has "
                f"{has} label_loss: make them agree"
            )
        return LOSS_CODE.add(name, cls)

    return decorator


def register_loss(name: str, **settings: Any) -> Callable[[type], type]:
    """Declare and implement a loss in one class (a plug-in): its docstring as for
    ``declare_loss``, its functions as for ``implement_loss``, the settings of ``Loss``
    as keywords (``labels`` is read from the class: a ``label_loss`` that is
    gan_core.losses.bce makes it a logistic loss)."""

    def decorator(cls: type) -> type:
        declare_loss(name, labels=labels_of(getattr(cls, "label_loss", None)), **settings)(cls)
        return implement_loss(name)(cls)

    return decorator


def labels_of(label_loss: Callable[..., Any] | None) -> Labels:
    """ "bce" for gan_core.losses.bce, "own" for another label loss, None for none. A class
    that uses bce imported gan_core.losses, so it is looked up there, not imported."""
    if label_loss is None:
        return None
    losses = sys.modules.get("gan_core.losses")
    return "bce" if losses is not None and label_loss is losses.bce else "own"


@declare_loss("minimax", undecided=0.5, optimum_is_ratio=True, labels="bce")
class Minimax:
    """The original saturating GAN (Goodfellow et al. 2014): G minimises log(1 - D(G(z))).

    L_D = -E[log sigmoid(D(x))] - E[log(1 - sigmoid(D(G(z))))]
        = E[softplus(-D(x))] + E[softplus(D(G(z)))];
    L_G = E[log(1 - sigmoid(D(G(z))))] = -E[softplus(D(G(z)))].
    The Jensen-Shannon member of the f-GAN family: at the optimal D, -L_D = 2 JS - log 4.
    """


@declare_loss("nonsaturating", undecided=0.5, optimum_is_ratio=True, labels="bce")
class NonSaturating:
    """The non-saturating GAN (Goodfellow et al. 2014): G maximises log D(G(z)).

    L_D = E[softplus(-D(x))] + E[softplus(D(G(z)))];
    L_G = -E[log sigmoid(D(G(z)))] = E[softplus(-D(G(z)))]
    """


@declare_loss("lsgan", shows_probability=False, undecided=0.5, optimum_is_ratio=True, labels="own")
class LeastSquares:
    """Least-squares GAN (Mao et al. 2017), targets a=0 (fake), b=1 (real), c=1.

    L_D = 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2];  L_G = 1/2 E[(D(G(z)) - 1)^2]
    """


@declare_loss("wgan", shows_probability=False, undecided=None)
class Wasserstein:
    """Wasserstein GAN (Arjovsky et al. 2017); D is a critic, keep it Lipschitz (clip, gp, sn).

    L_D = E[D(G(z))] - E[D(x)];  L_G = -E[D(G(z))]
    """


@declare_loss("hinge", shows_probability=False, undecided=0.0, labels="own")
class Hinge:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018).

    L_D = E[relu(1 - D(x))] + E[relu(1 + D(G(z)))];  L_G = -E[D(G(z))]
    """


@declare_loss("rsgan", shows_probability=False, undecided=None, uses_real_in_g=True)
class Relativistic:
    """Relativistic standard GAN (Jolicoeur-Martineau 2019), real and fake paired in order.

    L_D = E[softplus(-(D(x) - D(G(z))))];  L_G = E[softplus(-(D(G(z)) - D(x)))]
    """


# ----- the f-GAN family (Nowozin et al. 2016) ----------------------------------------------
# D's raw score v passes through the divergence's output activation T = g_f(v) (Table 2), and
# the players play the saddle F = E_real[T] - E_fake[f*(T)], F <= D_f(P || Q), with f* the
# convex conjugate of f:  L_D = -F,  L_G = F's fake term, -E_fake[f*(g_f(v))] (G minimises
# the divergence estimate; Section 3.2's alternative for G, maximising E_fake[g_f(v)], is
# not used, it changes the divergence). The GAN loss is the Jensen-Shannon member, with
# g_f(v) = -softplus(-v) and f*(t) = -log(1 - e^t): F = 2 JS - log 4, L_D as in ``minimax``.
# Each pair below is that table row simplified by hand (checked in tests/core/test_losses.py).
# No official code was published with the paper; the activations and conjugates were checked
# against the paper's Table 2 and its appendix (the optimal T* = f'(p/q)).


@declare_loss("fgan_kl", shows_probability=False, undecided=1.0)
class FGanKL:
    """f-GAN, Kullback-Leibler KL(P || Q) (Nowozin et al. 2016): mass-covering.

    f(u) = u log u; g_f(v) = v, f*(t) = exp(t - 1); optimal v = 1 + log(p_r / p_g), so
    D cannot tell at v = 1. L_D = -E[D(x)] + E[exp(D(G(z)) - 1)];
    L_G = -E[exp(D(G(z)) - 1)]
    """


@declare_loss("fgan_reverse_kl", undecided=0.5, optimum_is_ratio=True)
class FGanReverseKL:
    """f-GAN, reverse Kullback-Leibler KL(Q || P) (Nowozin et al. 2016): mode-seeking.

    f(u) = -log u; g_f(v) = -exp(-v), f*(t) = -1 - log(-t), so f*(g_f(v)) = v - 1; optimal
    v = log(p_r / p_g), a logit: sigmoid(v) is p_r / (p_r + p_g), as for the GAN.
    L_D = E[exp(-D(x))] + E[D(G(z))] - 1;  L_G = 1 - E[D(G(z))]
    """


@declare_loss("fgan_pearson", shows_probability=False, undecided=0.0)
class FGanPearson:
    """f-GAN, Pearson chi^2 (Nowozin et al. 2016).

    f(u) = (u - 1)^2; g_f(v) = v, f*(t) = t^2 / 4 + t; optimal v = 2 (p_r / p_g - 1), 0 where
    D cannot tell. L_D = -E[D(x)] + E[D(G(z))^2 / 4 + D(G(z))];
    L_G = -E[D(G(z))^2 / 4 + D(G(z))]
    """


@declare_loss("fgan_hellinger", shows_probability=False, undecided=0.0)
class FGanHellinger:
    """f-GAN, squared Hellinger (Nowozin et al. 2016).

    f(u) = (sqrt(u) - 1)^2; g_f(v) = 1 - exp(-v), f*(t) = t / (1 - t), so
    f*(g_f(v)) = exp(v) - 1; optimal v = log(p_r / p_g) / 2, 0 where D cannot tell.
    L_D = E[exp(-D(x))] + E[exp(D(G(z)))] - 2;  L_G = 1 - E[exp(D(G(z)))]
    """


@declare_loss(
    "feature_matching",
    undecided=0.5,
    optimum_is_ratio=True,
    g_on_features=True,
    labels="bce",
)
class FeatureMatching:
    """Feature matching (Salimans et al. 2016): G matches the mean of D's last hidden layer.

    D keeps the GAN loss, L_D = E[softplus(-D(x))] + E[softplus(D(G(z)))]; with f(x) D's last
    hidden activations (h of them), L_G = 1/h ||E[f(x)] - E[f(G(z))]||^2, the paper's squared
    distance averaged over the features as in the official code (openai/improved-gan,
    train_mnist_feature_matching.py: T.mean(T.square(mom_gen - mom_real))).
    """


@declare_loss(
    "ebgan",
    shows_probability=False,
    needs_discriminator="autoencoder",
    config_params=("ebgan_margin",),
)
class EnergyBased:
    """Energy-based GAN (Zhao et al. 2017): D is an autoencoder, its error an energy.

    The energy is low on real data and pushed up to the margin m on fakes:
    E(x) = ||Dec(Enc(x)) - x||^2, and D's score is -E(x) (high means real, as for every D);
    L_D = E[E(x)] + E[relu(m - E(G(z)))];  L_G = E[E(G(z))] (the paper's eq. 1-2, without
    the pulling-away term).
    """
