"""Generator and discriminator builders: MLPs from the config, and the Dirac-GAN pair.

D always returns a raw score of shape (n,). Its linear layers carry their own spectral
normalisation (a flag, not a torch parametrization), so switching it on and off live keeps
the very same parameters and therefore the optimizer's state.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_core.config import TrainConfig

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


class SNLinear(nn.Linear):
    """A linear layer whose weight may be spectrally normalised.

    With ``sigma`` set: y = x (sigma * W / sigma_max(W))^T + b, where sigma_max comes from
    the power-iteration vector u: v = normalise(W^T u), sigma_max = u^T W v. One power
    iteration runs per forward pass in training mode (a D step makes several: the batch and
    each gradient penalty); in eval mode (probes) u is kept. When normalisation is switched
    on (at initialisation too) u starts converged, the top singular vector of W, so that
    the promised norm holds at once and not only after some steps.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.sigma: float | None = None
        self.register_buffer("u", F.normalize(torch.ones(out_features), dim=0))

    def normalised_weight(self) -> Tensor:
        with torch.no_grad():
            u = self.u
            if self.training:
                v = F.normalize(self.weight.t() @ u, dim=0)
                u = F.normalize(self.weight @ v, dim=0)
                self.u.copy_(u)
            v = F.normalize(self.weight.t() @ u, dim=0)
        sigma_max = torch.dot(u, self.weight @ v).abs().clamp_min(1e-12)
        return self.sigma * self.weight / sigma_max

    def converge(self) -> None:
        """u <- the top left singular vector of W: the power iteration's fixed point."""
        with torch.no_grad():
            self.u.copy_(torch.linalg.svd(self.weight, full_matrices=False).U[:, 0])

    def forward(self, x: Tensor) -> Tensor:
        if self.sigma is None:
            return super().forward(x)
        return F.linear(x, self.normalised_weight(), self.bias)


NORMS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


def mlp(widths: list[int], activation: str, norm: str = "none") -> nn.Sequential:
    """Linear layers of the given widths with the activation between them (none at the end).

    ``norm``: a normalisation layer between each hidden linear layer and its activation.
    batch (Ioffe & Szegedy 2015): each feature standardised over the batch, then
    gamma * (h - mean_batch) / sqrt(var_batch + 1e-5) + beta; in eval mode over running
    averages (momentum 0.1) instead. layer (Ba et al. 2016): the same over each sample's
    features, so a sample's output never depends on the others. DCGAN (Radford et al. 2016)
    puts batch norm after its layers likewise, but leaves D's first layer unnormalised; here
    every hidden layer is.
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(widths)):
        layers.append(SNLinear(n_in, n_out))
        if i < len(widths) - 2:
            if norm != "none":
                layers.append(NORMS[norm](n_out))
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class Scale(nn.Module):
    """x -> factor * x: the fixed change of units between the data and a network that works
    in (-1, 1) (g_output tanh with scale_target). No parameters, no state."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor) -> Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor:g}"


def among_batch_norm(body: nn.Sequential, x: Tensor, batch: Tensor) -> Tensor:
    """body(x) with every batch norm layer normalising by the statistics of ``batch`` (as it
    reaches that layer), held fixed: each row of x judged as one more sample of that batch,
    the batch statistics not moved by it (an O(1/n) difference), nor differentiated."""
    h, hb = x, batch.detach()
    for layer in body:
        if isinstance(layer, nn.BatchNorm1d):
            stats = hb.detach()
            mean, var = stats.mean(0), stats.var(0, unbiased=False)
            h, hb = (
                F.batch_norm(t, mean, var, layer.weight, layer.bias, False, 0.0, layer.eps)
                for t in (h, hb)
            )
        else:
            h, hb = layer(h), layer(hb)
    return h


PACK_COMPANIONS = 4  # companion sets a probe packs each point with (see score_among)
STDDEV_EPS = 1e-8  # under the square root of the minibatch variance, as in Karras et al.


def batch_stddev(x: Tensor) -> Tensor:
    """Minibatch stddev (Karras et al. 2018): the mean over features of each feature's std
    across the batch, sqrt(mean_i (x_ij - mean_i x_ij)^2 + eps), one scalar per batch. The
    official code (tkarras/progressive_growing_of_gans, minibatch_stddev_layer) takes it over
    groups of 4 samples of a batch; here the group is the whole batch."""
    return torch.sqrt(x.var(0, unbiased=False) + STDDEV_EPS).mean()


def stddev_with(batch: Tensor, x: Tensor) -> Tensor:
    """(len(x), 1): for each row x_i, ``batch_stddev`` of the batch with x_i added, by the
    running moments (n mean + x_i) / (n + 1) and (n E[b^2] + x_i^2) / (n + 1)."""
    n = batch.shape[0]
    mean = (n * batch.mean(0) + x) / (n + 1)
    second = (n * (batch**2).mean(0) + x**2) / (n + 1)
    return torch.sqrt((second - mean**2).clamp_min(0) + STDDEV_EPS).mean(1, keepdim=True)


class Discriminator(nn.Module):
    """D(x) = a raw score per row of x (a logit for the logistic losses).

    Two variants judge a batch rather than a sample, so x must then be a batch of one kind
    (all real or all fake), and the scores are per pack. ``minibatch_stddev`` (Karras et al.
    2018): every row of D's input gets one more feature, ``batch_stddev(x)``; a collapsed
    batch has a small one, which D learns to call fake. ``pack = m`` (PacGAN, Lin et al.
    2018): m consecutive rows are concatenated into one input of m * dim, so D scores n / m
    packs; a collapsed generator makes packs of near-copies, which real packs never are.
    """

    def __init__(self, body: nn.Module, pack: int = 1, minibatch_stddev: bool = False) -> None:
        super().__init__()
        self.body = body
        self.pack = pack
        self.minibatch_stddev = minibatch_stddev
        self.batch_norm = any(isinstance(m, nn.BatchNorm1d) for m in body.modules())

    @property
    def batch_dependent(self) -> bool:
        """Whether a score depends on the other rows of the batch (in training mode, for
        batch norm: the trainer then scores real and fake batches apart, as the DCGAN code
        does, and views judge a point among a batch, ``score_among``)."""
        return self.pack > 1 or self.minibatch_stddev or self.batch_norm

    def forward(self, x: Tensor) -> Tensor:
        return self.body(self.inputs(x)).squeeze(-1)

    def inputs(self, x: Tensor, stddev: Tensor | None = None) -> Tensor:
        """What D's first layer sees of a batch x: with its stddev appended (``stddev`` if
        given, a scalar: probes differentiate by it), packed."""
        if self.minibatch_stddev:
            stddev = batch_stddev(x) if stddev is None else stddev
            x = torch.cat([x, stddev.expand(x.shape[0], 1)], dim=1)
        return x.reshape(-1, self.pack * x.shape[1]) if self.pack > 1 else x

    def score_among(self, x: Tensor, batch: Tensor) -> Tensor:
        """Each row of x scored as one more sample of ``batch`` (probes: D on a grid, as
        judging a fake sample at x among the shown fakes), differentiable in x.

        minibatch stddev: the statistic of batch + {x_i}, for each row. pack m: x_i packed
        with m - 1 rows of the batch, in PACK_COMPANIONS fixed companion sets (the first
        rows of the batch, x_i in slot k mod m of set k), and the scores averaged. batch
        norm: normalised by the batch's statistics (``among_batch_norm``). (The config allows
        one of the three at a time.)
        """
        if self.batch_norm:
            return among_batch_norm(self.body, x, batch).squeeze(-1)
        if self.pack == 1:
            rows = torch.cat([x, stddev_with(batch, x)], dim=1) if self.minibatch_stddev else x
            return self.body(rows).squeeze(-1)
        m, scores = self.pack, []
        for k in range(PACK_COMPANIONS):
            mates = batch[k * (m - 1) : (k + 1) * (m - 1)].expand(x.shape[0], -1, -1)
            slot = k % m
            pack = torch.cat([mates[:, :slot], x[:, None], mates[:, slot:]], dim=1)
            scores.append(self.body(pack.reshape(x.shape[0], -1)).squeeze(-1))
        return torch.stack(scores).mean(0)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer's activations, (n, h): every layer but the output one. A D
        without hidden layers has none; its features are then x itself."""
        return self.body[:-1](x) if isinstance(self.body, nn.Sequential) else x

    def set_spectral_norm(self, sigma: float | None) -> None:
        """Every linear layer to norm ``sigma`` (None: off); switching on converges u."""
        for layer in self.modules():
            if isinstance(layer, SNLinear):
                if sigma is not None and layer.sigma is None:
                    layer.converge()
                layer.sigma = sigma


class AutoencoderDiscriminator(Discriminator):
    """D(x) = -||body(x) - x||^2: minus the energy of ebgan (Zhao et al. 2017), the error of an
    MLP autoencoder body: dim -> d_hidden -> dim. High (near 0) where D reconstructs well."""

    def forward(self, x: Tensor) -> Tensor:
        return -((self.body(x) - x) ** 2).sum(-1)


class DiracGenerator(nn.Module):
    """G = delta_theta: every sample is the one learnable point theta (Mescheder et al. 2018)."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([theta]))

    def forward(self, z: Tensor) -> Tensor:
        return self.theta.expand(z.shape[0], 1)


def draw_latent(
    config: TrainConfig, n: int, rng: torch.Generator, truncation: float = 0.0
) -> Tensor:
    """n latent vectors z of G, drawn with ``rng``: N(0, I) or U[-1, 1]^z_dim (config.noise).

    ``truncation`` t > 0 (views and metrics: config.truncation; training never truncates):
    the truncation trick of BigGAN (Brock et al. 2019, section 4.1), each coordinate drawn
    within [-t, t], as if resampled until it falls inside. For N(0, 1) that is the normal
    conditioned on |z| <= t, drawn in one step by the inverse CDF,
    z = Phi^-1(Phi(-t) + u (Phi(t) - Phi(-t))), u ~ U(0, 1), so any t takes bounded time;
    for U[-1, 1] it is U[-t, t] (t >= 1: no change). t is the paper's threshold; the TF Hub
    sampling code (ajbrock/BigGAN-PyTorch, TFHub/biggan_v1.py) draws instead
    truncation * truncnorm(-2, 2), which also shrinks the values it keeps.
    """
    shape = (n, config.z_dim)
    if config.noise == "uniform":
        bound = min(truncation, 1.0) if truncation else 1.0
        return (torch.rand(shape, generator=rng) * 2 - 1) * bound
    if not truncation:
        return torch.randn(shape, generator=rng)
    lo = torch.special.ndtr(torch.tensor(-truncation))
    u = torch.rand(shape, generator=rng)
    return torch.special.ndtri(lo + u * (1 - 2 * lo)).clamp(-truncation, truncation)


def generator_mlp(config: TrainConfig, scale: float) -> nn.Sequential:
    """G's MLP z -> x; with g_output tanh, tanh at the end (and times ``scale``, back to data
    units, when the target is scaled)."""
    g = mlp([config.z_dim, *config.g_hidden, config.dim], config.activation, config.g_norm)
    if config.g_output == "tanh":
        g.append(nn.Tanh())
        if scale != 1.0:
            g.append(Scale(scale))
    return g


def build_models(config: TrainConfig, scale: float = 1.0) -> tuple[nn.Module, Discriminator]:
    """(G, D) for a config: the Dirac pair for dataset 'dirac', MLPs otherwise.

    Dirac D(x) = psi * x is a bias-free 1x1 linear layer, so every regularizer (spectral
    norm and clipping included) applies to it unchanged.

    ``scale`` s (``datasets.tanh_scale``, 1 unless g_output tanh with scale_target): the
    networks work on x / s: G = s * tanh(MLP(z)), D(x) = MLP(x / s) (the autoencoder
    reconstructs x / s and multiplies back). Everything outside the models (losses,
    penalties, instance noise, views, metrics) stays in data units.
    """
    if config.dataset == "dirac":
        theta, psi = config.dirac_init
        d_layer = SNLinear(1, 1, bias=False)
        with torch.no_grad():
            d_layer.weight.fill_(psi)
        return DiracGenerator(theta), Discriminator(d_layer)
    g = generator_mlp(config, scale)
    into = [Scale(1 / scale)] if scale != 1.0 else []
    if config.discriminator == "autoencoder":
        body = mlp([config.dim, *config.d_hidden, config.dim], config.activation, config.d_norm)
        back = [Scale(scale)] if scale != 1.0 else []
        return g, AutoencoderDiscriminator(nn.Sequential(*into, *body, *back))
    d_in = (config.dim + config.minibatch_stddev) * config.pack
    d = nn.Sequential(*into, *mlp([d_in, *config.d_hidden, 1], config.activation, config.d_norm))
    return g, Discriminator(d, pack=config.pack, minibatch_stddev=config.minibatch_stddev)
