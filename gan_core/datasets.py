"""Toy targets by name: the real distributions a GAN learns.

Two shapes serve every dataset:

- ``GaussianMixture``: sum_k w_k N(mu_k, s_k^2 I). gaussian1d, mixture1d, separated1d,
  dirac (one mode, s = 0), points1d, ring8, grid25 and points. Modes and exact density are known.
- ``NoisyCurve``: x = f(u) + s * eps, u ~ U(0, 1), eps ~ N(0, I), for a parametric curve f.
  swissroll, moons and spiral. Modes and density are unknown (None).

``sample`` draws from the caller's ``torch.Generator`` only and is vectorised (it runs on the
training hot path). ``reference`` is a fixed sample for metrics and views: drawn once per size,
the same read-only array on every call. Targets never change after they are built, so
``make_target`` hands every run with the same parameters the same instance.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.spatial.distance import cdist
from scipy.special import ndtr

from gan_core.config import TargetConfig, TrainConfig

REFERENCE_SEED = 1234  # seed of every target's fixed reference sample


class Target(ABC):
    """A real distribution on R^dim.

    ``extent`` (lo, hi) is the view range (2D: both axes; 1D: the x axis). It always contains
    the generator's start near 0. ``modes`` (k, dim) and ``mode_std`` (a float, or (k,) per
    mode when the stds differ) are set for mixtures, else None.
    """

    name: str
    dim: int
    extent: tuple[float, float]
    modes: np.ndarray | None = None
    mode_std: float | np.ndarray | None = None

    @abstractmethod
    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """(n, dim) float32 samples drawn with ``rng`` only."""

    def density(self, x: np.ndarray, cell: float = 0.0) -> np.ndarray | None:
        """The exact pdf at points (n, dim), or with ``cell`` c > 0 its mean over the box of
        side c around each point; None where it is not known."""
        return None

    def reference(self, n: int) -> np.ndarray:
        """A fixed (n, dim) float32 sample: the same read-only array on every call."""
        return _reference(self, n)

    def draw_reference(self, n: int) -> np.ndarray:
        """The fixed sample ``reference`` keeps: n draws with REFERENCE_SEED."""
        return self.sample(n, torch.Generator().manual_seed(REFERENCE_SEED)).numpy()


class GaussianMixture(Target):
    """p(x) = sum_k w_k N(x; mu_k, s_k^2 I), weights normalised to sum to 1.

    A mode with s_k = 0 is a point mass (dirac; points and points1d with point_std 0); the
    density is then None. The extent, unless given, is [min(-2, mu - 4 s), max(2, mu + 4 s)]
    over all modes and axes, rounded outward to a multiple of 0.5.
    """

    def __init__(
        self,
        name: str,
        means: ArrayLike,
        stds: ArrayLike,
        weights: ArrayLike | None = None,
        extent: tuple[float, float] | None = None,
    ) -> None:
        means = np.asarray(means, dtype=np.float64)
        self.name, self.dim = name, means.shape[1]
        self.modes = means
        self.stds = np.broadcast_to(np.asarray(stds, dtype=np.float64), (len(means),)).copy()
        weights = np.ones(len(means)) if weights is None else np.asarray(weights, np.float64)
        self.weights = weights / weights.sum()
        same = np.all(self.stds == self.stds[0])
        self.mode_std = float(self.stds[0]) if same else self.stds
        self.extent = extent or _round_out(
            min(-2.0, float((means - 4 * self.stds[:, None]).min())),
            max(2.0, float((means + 4 * self.stds[:, None]).max())),
        )
        self._means_t = torch.tensor(means, dtype=torch.float32)
        self._stds_t = torch.tensor(self.stds, dtype=torch.float32)[:, None]
        self._weights_t = torch.tensor(self.weights, dtype=torch.float32)

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """k ~ Categorical(w), x = mu_k + s_k * eps, eps ~ N(0, I)."""
        k = torch.multinomial(self._weights_t, n, replacement=True, generator=rng)
        eps = torch.randn(n, self.dim, generator=rng)
        return self._means_t[k] + self._stds_t[k] * eps

    def density(self, x: np.ndarray, cell: float = 0.0) -> np.ndarray | None:
        """sum_k w_k (2 pi s_k^2)^(-dim/2) exp(-|x - mu_k|^2 / (2 s_k^2)) at each point; with
        ``cell`` c > 0 its mean over the box of side c around each point (the modes are
        isotropic, so per axis),

            sum_k w_k prod_axes [Phi((x + c/2 - mu_k) / s_k) - Phi((x - c/2 - mu_k) / s_k)] / c^dim,

        what a line through points c apart can show of a mode narrower than c. None if any
        s_k = 0."""
        if np.any(self.stds == 0):
            return None
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        if cell > 0:
            offsets = (x[:, None, :] - self.modes[None, :, :]) / self.stds[None, :, None]
            half = 0.5 * cell / self.stds[None, :, None]
            mass = (ndtr(offsets + half) - ndtr(offsets - half)).prod(-1)  # (n, k)
            return (self.weights * mass).sum(-1) / cell**self.dim
        sq = cdist(x, self.modes, "sqeuclidean")  # (n, k)
        var = self.stds**2
        norm = self.weights * (2 * math.pi * var) ** (-self.dim / 2)
        return (norm * np.exp(-sq / (2 * var))).sum(-1)

    def draw_reference(self, n: int) -> np.ndarray:
        """Stratified: round(n * w_k) samples of mode k (largest remainders get the extra ones),
        so equal weights give equal counts per mode."""
        raw = n * self.weights
        counts = np.floor(raw).astype(int)
        extra = np.argsort(counts - raw, kind="stable")[: n - counts.sum()]
        counts[extra] += 1
        eps = np.random.default_rng(REFERENCE_SEED).standard_normal((n, self.dim))
        x = np.repeat(self.modes, counts, axis=0) + np.repeat(self.stds, counts)[:, None] * eps
        return x.astype(np.float32)


class NoisyCurve(Target):
    """x = f(u) + s * eps with u ~ U(0, 1), eps ~ N(0, I): a 2D curve f blurred by noise s."""

    dim = 2

    def __init__(
        self,
        name: str,
        curve: Callable[[torch.Tensor], torch.Tensor],
        noise: float,
        extent: tuple[float, float],
    ) -> None:
        self.name, self.curve, self.noise, self.extent = name, curve, noise, extent

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        u = torch.rand(n, generator=rng)
        return self.curve(u) + self.noise * torch.randn(n, 2, generator=rng)


def swiss_roll(u: torch.Tensor) -> torch.Tensor:
    """gan_toy's swiss roll (make_swiss_roll columns 0 and 2, / 7.5):
    t = 1.5 pi (1 + 2u), f(u) = (t cos t, t sin t) / 7.5."""
    t = 1.5 * math.pi * (1 + 2 * u)
    return torch.stack((t * torch.cos(t), t * torch.sin(t)), 1) / 7.5


def two_moons(u: torch.Tensor) -> torch.Tensor:
    """make_moons, centred: u < 1/2 is the upper moon (cos a, sin a) with a = 2 pi u, else the
    lower moon (1 - cos a, 1/2 - sin a) with a = 2 pi u - pi; minus the centre (1/2, 1/4)."""
    upper = u < 0.5
    a = 2 * math.pi * u - math.pi * (~upper)
    x = torch.where(upper, torch.cos(a), 1 - torch.cos(a)) - 0.5
    y = torch.where(upper, torch.sin(a), 0.5 - torch.sin(a)) - 0.25
    return torch.stack((x, y), 1)


def spiral(u: torch.Tensor) -> torch.Tensor:
    """An Archimedean spiral of two turns: a = 4 pi sqrt(u), r = 0.4 a / pi (so r <= 1.6 and
    the arms are 0.8 apart), f(u) = r (cos a, sin a). sqrt(u) makes the density roughly uniform
    along the arc (arc length grows like a^2)."""
    a = 4 * math.pi * torch.sqrt(u)
    r = 0.4 * a / math.pi
    return torch.stack((r * torch.cos(a), r * torch.sin(a)), 1)


def ring8() -> GaussianMixture:
    """gan_toy: 8 Gaussians of std 0.02 on a circle of radius 2, all divided by 1.414."""
    a = 2 * math.pi * np.arange(8) / 8
    means = 2 * np.stack((np.cos(a), np.sin(a)), 1)
    return GaussianMixture("ring8", means / 1.414, 0.02 / 1.414, extent=(-2.0, 2.0))


def grid25() -> GaussianMixture:
    """gan_toy: 25 Gaussians of std 0.05 at (2i, 2j), i, j in -2..2, all divided by 2.828."""
    i, j = np.meshgrid(np.arange(-2, 3), np.arange(-2, 3), indexing="ij")
    means = 2 * np.stack((i.ravel(), j.ravel()), 1)
    return GaussianMixture("grid25", means / 2.828, 0.05 / 2.828, extent=(-2.0, 2.0))


def points(t: TargetConfig) -> GaussianMixture:
    """The user's 2D points, each blurred by N(0, point_std^2 I), equally weighted (the
    config holds 1 to MAX_POINTS of them: TrainConfig._own_data_given)."""
    return GaussianMixture("points", np.array(t.points), t.point_std)


def points1d(t: TargetConfig) -> GaussianMixture:
    """The user's 1D values, each blurred by N(0, point_std^2), equally weighted."""
    return GaussianMixture("points1d", np.array(t.values)[:, None], t.point_std)


TARGETS: dict[str, Callable[[TargetConfig], Target]] = {
    "gaussian1d": lambda t: GaussianMixture("gaussian1d", [[t.mean]], t.std),
    "mixture1d": lambda t: GaussianMixture(
        "mixture1d", np.array(t.means)[:, None], t.stds, t.weights
    ),
    # WGAN paper, figure 2: the real N(d, 0.25) sits far from the generator's start near 0.
    "separated1d": lambda t: GaussianMixture("separated1d", [[t.separation]], 0.25),
    "dirac": lambda t: GaussianMixture("dirac", [[0.0]], 0.0),  # Dirac-GAN: delta_0
    "points1d": points1d,
    "ring8": lambda t: ring8(),
    "grid25": lambda t: grid25(),
    "swissroll": lambda t: NoisyCurve("swissroll", swiss_roll, 0.25 / 7.5, (-2.5, 2.5)),
    "moons": lambda t: NoisyCurve("moons", two_moons, 0.08, (-2.0, 2.0)),
    "spiral": lambda t: NoisyCurve("spiral", spiral, 0.05, (-2.0, 2.0)),
    "points": points,
}


def make_target(config: TrainConfig) -> Target:
    """The target named by ``config.dataset``, parameterised by ``config.target``: one shared
    instance per dataset and parameters, with its reference samples (and the metric floors
    measured on them) already computed for a run that came before."""
    return _shared_target(config.dataset, config.target.model_dump_json())


@functools.lru_cache(maxsize=64)
def _shared_target(dataset: str, params: str) -> Target:
    return TARGETS[dataset](TargetConfig.model_validate_json(params))


@functools.lru_cache(maxsize=256)
def _reference(target: Target, n: int) -> np.ndarray:
    sample = target.draw_reference(n)
    sample.setflags(write=False)
    return sample


def _round_out(lo: float, hi: float) -> tuple[float, float]:
    """(lo, hi) widened to multiples of 0.5."""
    return math.floor(2 * lo) / 2, math.ceil(2 * hi) / 2


SCALE_SAMPLES = 2500  # reference samples the tanh scale is measured on
SCALE_FILL = 0.9  # the scaled reference sample spans [-0.9, 0.9], inside tanh's (-1, 1)


def tanh_scale(config: TrainConfig, target: Target) -> float:
    """s for g_output tanh with scale_target: the networks work on x / s, with
    s = max |x_i| / 0.9 over every coordinate of the target's reference sample (2,500
    points), so that it spans [-0.9, 0.9]: a tanh output need not saturate to reach it (as
    DCGAN scales images into tanh's [-1, 1]). One number for every axis (shapes stay
    round). Set when the models are built (reset); 1 otherwise. ring8: 1.61; mixture1d at
    +-2 with std 0.3: 3.32."""
    if config.g_output != "tanh" or not config.scale_target:
        return 1.0
    return float(np.abs(target.reference(SCALE_SAMPLES)).max()) / SCALE_FILL
