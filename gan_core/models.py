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


def mlp(widths: list[int], activation: str) -> nn.Sequential:
    """Linear layers of the given widths with the activation between them (none at the end)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(widths)):
        layers.append(SNLinear(n_in, n_out))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class Discriminator(nn.Module):
    """D(x) = a raw score per row of x (a logit for the logistic losses)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).squeeze(-1)

    def set_spectral_norm(self, sigma: float | None) -> None:
        """Every linear layer to norm ``sigma`` (None: off); switching on converges u."""
        for layer in self.modules():
            if isinstance(layer, SNLinear):
                if sigma is not None and layer.sigma is None:
                    layer.converge()
                layer.sigma = sigma


class DiracGenerator(nn.Module):
    """G = delta_theta: every sample is the one learnable point theta (Mescheder et al. 2018)."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([theta]))

    def forward(self, z: Tensor) -> Tensor:
        return self.theta.expand(z.shape[0], 1)


def draw_latent(config: TrainConfig, n: int, rng: torch.Generator) -> Tensor:
    """n latent vectors z of G, drawn with ``rng``: N(0, I) or U[-1, 1]^z_dim (config.noise)."""
    if config.noise == "uniform":
        return torch.rand(n, config.z_dim, generator=rng) * 2 - 1
    return torch.randn(n, config.z_dim, generator=rng)


def build_models(config: TrainConfig) -> tuple[nn.Module, Discriminator]:
    """(G, D) for a config: the Dirac pair for dataset 'dirac', MLPs otherwise.

    Dirac D(x) = psi * x is a bias-free 1x1 linear layer, so every regularizer (spectral
    norm and clipping included) applies to it unchanged.
    """
    if config.dataset == "dirac":
        theta, psi = config.dirac_init
        d_layer = SNLinear(1, 1, bias=False)
        with torch.no_grad():
            d_layer.weight.fill_(psi)
        return DiracGenerator(theta), Discriminator(d_layer)
    g = mlp([config.z_dim, *config.g_hidden, config.dim], config.activation)
    d = mlp([config.dim, *config.d_hidden, 1], config.activation)
    return g, Discriminator(d)
