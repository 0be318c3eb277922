"""Adversarial losses: one small (d_loss, g_loss) pair each, registered by name.

D always returns a raw score s (a logit for the logistic losses). Every function takes
the scores of a real batch and of a fake batch, ``real`` and ``fake`` (shape (n,)), and
returns a scalar to *minimise*. Sigmoids appear only inside the softplus forms:
log sigmoid(s) = -softplus(-s) and log(1 - sigmoid(s)) = -softplus(s).

A plug-in adds a loss the same way the built-ins are written::

    @register_loss("mine", shows_probability=False)
    class Mine:
        '''One line that says what it is.

        L_D = ...;  L_G = ...
        '''
        def d_loss(real, fake): ...
        def g_loss(real, fake): ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_core.registry import Registry, describe

LossFn = Callable[[Tensor, Tensor], Tensor]


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
    label_loss: for a loss with labels, the per-sample loss ``label_loss(s, t)`` of a score s
        against a target t (1 real, 0 fake), of which ``d_loss`` is E_real[label_loss(s, 1)] +
        E_fake[label_loss(s, 0)]; label_noise flips those targets. None: the loss has none.
        A class gives it as a function ``label_loss`` beside d_loss and g_loss.
    """

    name: str
    d_loss: LossFn
    g_loss: LossFn
    shows_probability: bool
    undecided: float | None
    uses_real_in_g: bool
    optimum_is_ratio: bool
    g_on_features: bool
    needs_discriminator: str | None
    config_params: tuple[str, ...]
    description: str
    formula: str
    label_loss: LossFn | None = None


LOSSES: Registry[Loss] = Registry("loss")


def register_loss(
    name: str,
    *,
    shows_probability: bool = True,
    undecided: float | None = None,
    uses_real_in_g: bool = False,
    optimum_is_ratio: bool = False,
    g_on_features: bool = False,
    needs_discriminator: str | None = None,
    config_params: tuple[str, ...] = (),
) -> Callable[[type], type]:
    """Register a class holding two functions ``d_loss(real, fake)`` and ``g_loss(real, fake)``.

    The class docstring's first line is the description, the rest is the formula.
    """

    def decorator(cls: type) -> type:
        description, formula = describe(cls)
        LOSSES.add(
            name,
            Loss(
                name=name,
                d_loss=cls.d_loss,
                g_loss=cls.g_loss,
                shows_probability=shows_probability,
                undecided=undecided,
                uses_real_in_g=uses_real_in_g,
                optimum_is_ratio=optimum_is_ratio,
                g_on_features=g_on_features,
                needs_discriminator=needs_discriminator,
                config_params=config_params,
                description=description,
                formula=formula,
                label_loss=getattr(cls, "label_loss", None),
            ),
        )
        return cls

    return decorator


def bce(scores: Tensor, target: Tensor) -> Tensor:
    """Per-sample binary cross-entropy of sigmoid(s) against t, in softplus form:
    -t log sigmoid(s) - (1 - t) log(1 - sigmoid(s)) = t softplus(-s) + (1 - t) softplus(s)."""
    return target * F.softplus(-scores) + (1 - target) * F.softplus(scores)


@register_loss("minimax", undecided=0.5, optimum_is_ratio=True)
class Minimax:
    """The original saturating GAN (Goodfellow et al. 2014): G minimises log(1 - D(G(z))).

    L_D = -E[log sigmoid(D(x))] - E[log(1 - sigmoid(D(G(z))))]
        = E[softplus(-D(x))] + E[softplus(D(G(z)))];
    L_G = E[log(1 - sigmoid(D(G(z))))] = -E[softplus(D(G(z)))].
    The Jensen-Shannon member of the f-GAN family: at the optimal D, -L_D = 2 JS - log 4.
    """

    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -F.softplus(fake).mean()

    label_loss = bce


@register_loss("nonsaturating", undecided=0.5, optimum_is_ratio=True)
class NonSaturating:
    """The non-saturating GAN (Goodfellow et al. 2014): G maximises log D(G(z)).

    L_D = E[softplus(-D(x))] + E[softplus(D(G(z)))];
    L_G = -E[log sigmoid(D(G(z)))] = E[softplus(-D(G(z)))]
    """

    d_loss = Minimax.d_loss
    label_loss = bce

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-fake).mean()


@register_loss("lsgan", shows_probability=False, undecided=0.5, optimum_is_ratio=True)
class LeastSquares:
    """Least-squares GAN (Mao et al. 2017), targets a=0 (fake), b=1 (real), c=1.

    L_D = 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2];  L_G = 1/2 E[(D(G(z)) - 1)^2]
    """

    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * ((fake - 1) ** 2).mean()

    def label_loss(scores: Tensor, target: Tensor) -> Tensor:
        """1/2 (s - t)^2: the target is the label (b = 1 real, a = 0 fake)."""
        return 0.5 * (scores - target) ** 2


@register_loss("wgan", shows_probability=False, undecided=None)
class Wasserstein:
    """Wasserstein GAN (Arjovsky et al. 2017); D is a critic, keep it Lipschitz (clip, gp, sn).

    L_D = E[D(G(z))] - E[D(x)];  L_G = -E[D(G(z))]
    """

    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -fake.mean()


@register_loss("hinge", shows_probability=False, undecided=0.0)
class Hinge:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018).

    L_D = E[relu(1 - D(x))] + E[relu(1 + D(G(z)))];  L_G = -E[D(G(z))]
    """

    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    g_loss = Wasserstein.g_loss

    def label_loss(scores: Tensor, target: Tensor) -> Tensor:
        """relu(1 - y s) with the label y = 2 t - 1 (+1 real, -1 fake)."""
        return F.relu(1 - (2 * target - 1) * scores)


@register_loss("rsgan", shows_probability=False, undecided=None, uses_real_in_g=True)
class Relativistic:
    """Relativistic standard GAN (Jolicoeur-Martineau 2019), real and fake paired in order.

    L_D = E[softplus(-(D(x) - D(G(z))))];  L_G = E[softplus(-(D(G(z)) - D(x)))]
    """

    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(fake - real).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(real - fake).mean()


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


@register_loss("fgan_kl", shows_probability=False, undecided=1.0)
class FGanKL:
    """f-GAN, Kullback-Leibler KL(P || Q) (Nowozin et al. 2016): mass-covering.

    f(u) = u log u; g_f(v) = v, f*(t) = exp(t - 1); optimal v = 1 + log(p_r / p_g), so
    D cannot tell at v = 1. L_D = -E[D(x)] + E[exp(D(G(z)) - 1)];
    L_G = -E[exp(D(G(z)) - 1)]
    """

    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -real.mean() + torch.exp(fake - 1).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -torch.exp(fake - 1).mean()


@register_loss("fgan_reverse_kl", undecided=0.5, optimum_is_ratio=True)
class FGanReverseKL:
    """f-GAN, reverse Kullback-Leibler KL(Q || P) (Nowozin et al. 2016): mode-seeking.

    f(u) = -log u; g_f(v) = -exp(-v), f*(t) = -1 - log(-t), so f*(g_f(v)) = v - 1; optimal
    v = log(p_r / p_g), a logit: sigmoid(v) is p_r / (p_r + p_g), as for the GAN.
    L_D = E[exp(-D(x))] + E[D(G(z))] - 1;  L_G = 1 - E[D(G(z))]
    """

    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return torch.exp(-real).mean() + fake.mean() - 1

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return 1 - fake.mean()


@register_loss("fgan_pearson", shows_probability=False, undecided=0.0)
class FGanPearson:
    """f-GAN, Pearson chi^2 (Nowozin et al. 2016).

    f(u) = (u - 1)^2; g_f(v) = v, f*(t) = t^2 / 4 + t; optimal v = 2 (p_r / p_g - 1), 0 where
    D cannot tell. L_D = -E[D(x)] + E[D(G(z))^2 / 4 + D(G(z))];
    L_G = -E[D(G(z))^2 / 4 + D(G(z))]
    """

    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -real.mean() + (fake**2 / 4 + fake).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -(fake**2 / 4 + fake).mean()


@register_loss("fgan_hellinger", shows_probability=False, undecided=0.0)
class FGanHellinger:
    """f-GAN, squared Hellinger (Nowozin et al. 2016).

    f(u) = (sqrt(u) - 1)^2; g_f(v) = 1 - exp(-v), f*(t) = t / (1 - t), so
    f*(g_f(v)) = exp(v) - 1; optimal v = log(p_r / p_g) / 2, 0 where D cannot tell.
    L_D = E[exp(-D(x))] + E[exp(D(G(z)))] - 2;  L_G = 1 - E[exp(D(G(z)))]
    """

    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return torch.exp(-real).mean() + torch.exp(fake).mean() - 2

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return 1 - torch.exp(fake).mean()


@register_loss("feature_matching", undecided=0.5, optimum_is_ratio=True, g_on_features=True)
class FeatureMatching:
    """Feature matching (Salimans et al. 2016): G matches the mean of D's last hidden layer.

    D keeps the GAN loss, L_D = E[softplus(-D(x))] + E[softplus(D(G(z)))]; with f(x) D's last
    hidden activations (h of them), L_G = 1/h ||E[f(x)] - E[f(G(z))]||^2, the paper's squared
    distance averaged over the features as in the official code (openai/improved-gan,
    train_mnist_feature_matching.py: T.mean(T.square(mom_gen - mom_real))).
    """

    d_loss = Minimax.d_loss
    label_loss = bce

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return ((real.mean(0) - fake.mean(0)) ** 2).mean()


@register_loss(
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

    def d_loss(real: Tensor, fake: Tensor, ebgan_margin: float = 1.0) -> Tensor:
        return -real.mean() + F.relu(ebgan_margin + fake).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -fake.mean()


def flipped_label_loss(
    loss: Loss, real: Tensor, fake: Tensor, p: float, rng: torch.Generator
) -> Tensor:
    """D's loss with noisy labels (label_noise): each real and each fake score's label is
    flipped with probability p, independently ("flip the labels when training the
    discriminator", Chintala et al., ganhacks, 2016):

        L_D = E_real[l(D(x), 1 - m)] + E_fake[l(D(G(z)), m')],   m, m' ~ Bernoulli(p)

    with l the loss's ``label_loss``; p = 0 is ``d_loss``. For a logistic loss its mean over
    the flips is two-sided label smoothing with alpha = p. The flips are drawn from ``rng``
    (the run's), so a replay draws the same ones.
    """
    flip_real = torch.rand(real.shape, generator=rng) < p
    flip_fake = torch.rand(fake.shape, generator=rng) < p
    return (
        loss.label_loss(real, (~flip_real).to(real.dtype)).mean()
        + loss.label_loss(fake, flip_fake.to(fake.dtype)).mean()
    )


def probability_or_score(loss: Loss, scores: Tensor) -> Tensor:
    """What a view shows of D: sigmoid(score) for logistic losses, the raw score otherwise."""
    return torch.sigmoid(scores) if loss.shows_probability else scores
