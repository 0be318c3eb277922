"""Adversarial losses, implemented: the functions of each loss declared in gan_core.loss_specs
(description, formula, paper and settings are there), registered under its name.

Only the workers and the engine import this module (it imports torch); ``LOSSES`` entries
import it on the first use of their functions. D always returns a raw score s; every
function takes the scores of a real and of a fake batch (shape (n,)) and returns a scalar
to minimise.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_core.loss_specs import Loss, implement_loss

LossFn = Callable[[Tensor, Tensor], Tensor]


def bce(scores: Tensor, target: Tensor) -> Tensor:
    """Per-sample binary cross-entropy of sigmoid(s) against t, in softplus form:
    -t log sigmoid(s) - (1 - t) log(1 - sigmoid(s)) = t softplus(-s) + (1 - t) softplus(s)."""
    return target * F.softplus(-scores) + (1 - target) * F.softplus(scores)


@implement_loss("minimax")
class Minimax:
    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -F.softplus(fake).mean()

    label_loss = bce


@implement_loss("nonsaturating")
class NonSaturating:
    d_loss = Minimax.d_loss
    label_loss = bce

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-fake).mean()


@implement_loss("lsgan")
class LeastSquares:
    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * ((fake - 1) ** 2).mean()

    def label_loss(scores: Tensor, target: Tensor) -> Tensor:
        """1/2 (s - t)^2: the target is the label (b = 1 real, a = 0 fake)."""
        return 0.5 * (scores - target) ** 2


@implement_loss("wgan")
class Wasserstein:
    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -fake.mean()


@implement_loss("hinge")
class Hinge:
    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    g_loss = Wasserstein.g_loss

    def label_loss(scores: Tensor, target: Tensor) -> Tensor:
        """relu(1 - y s) with the label y = 2 t - 1 (+1 real, -1 fake)."""
        return F.relu(1 - (2 * target - 1) * scores)


@implement_loss("rsgan")
class Relativistic:
    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(fake - real).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(real - fake).mean()


# The f-GAN family (Nowozin et al. 2016): the derivation is in gan_core.loss_specs.


@implement_loss("fgan_kl")
class FGanKL:
    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -real.mean() + torch.exp(fake - 1).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -torch.exp(fake - 1).mean()


@implement_loss("fgan_reverse_kl")
class FGanReverseKL:
    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return torch.exp(-real).mean() + fake.mean() - 1

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return 1 - fake.mean()


@implement_loss("fgan_pearson")
class FGanPearson:
    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -real.mean() + (fake**2 / 4 + fake).mean()

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return -(fake**2 / 4 + fake).mean()


@implement_loss("fgan_hellinger")
class FGanHellinger:
    def d_loss(real: Tensor, fake: Tensor) -> Tensor:
        return torch.exp(-real).mean() + torch.exp(fake).mean() - 2

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return 1 - torch.exp(fake).mean()


@implement_loss("feature_matching")
class FeatureMatching:
    d_loss = Minimax.d_loss
    label_loss = bce

    def g_loss(real: Tensor, fake: Tensor) -> Tensor:
        return ((real.mean(0) - fake.mean(0)) ** 2).mean()


@implement_loss("ebgan")
class EnergyBased:
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
