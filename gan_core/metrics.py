"""Honest metrics of a generator against its target.

- ``wasserstein1``: W1 between equal-size samples, exact where affordable. ``Evaluator``
  reports it with its real-vs-real floor at the same n, without which W1 cannot be read.
- ``mode_stats``: mode coverage and high-quality rate as in VEEGAN / PacGAN.
- ``histogram_divergences``: KL and JS on a histogram grid, as GAN Lab shows them.
- ``frechet_distance``: the Frechet distance of Gaussians fitted to both samples (2D FID).
- ``precision_recall``: k-NN manifold precision and recall (Kynkaanniemi et al. 2019).
- ``kde_nll``: the Parzen-window NLL of held-out real samples under the fakes.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from gan_core.datasets import Target

# Exact assignment costs O(n^3). Measured on this 2-core machine: n = 512 takes 0.02-0.10 s,
# n = 1024 takes 0.07 s for like clouds but 0.5-0.7 s for a ring against a collapsed blob (the
# common early-training case). So the exact path stops at 512; above it W1 is sliced.
# Evaluator.evaluate of 2,500 2D samples: ~5 ms, ~45 ms on the first call at that n (floor).
EXACT_MAX_N = 512
SLICES = 64  # evenly spaced directions of the sliced W1 (128 changes it by < 0.1 %)
DIRAC_TOL = 0.01  # "within 3 std" when the mode is a point mass (std 0): within this distance
SMOOTHING = 1e-3  # total probability mass spread evenly over the bins of a histogram
FLOOR_SEED = 4321  # seeds FLOOR_SEED + i of the real samples the W1 floor is measured on
FLOOR_DRAWS = 8
PR_K = 3  # neighbours of the k-NN manifolds (the paper's k = 3)
# Precision/recall and kde_nll compare every pair of samples, O(n^2): they use the first
# PAIRWISE_MAX_N fake samples (1,000 of 2,500 keeps an evaluation near 10 ms, see Evaluator).
PAIRWISE_MAX_N = 1000
KDE_SEED = 4322  # seed of the held-out real samples of kde_nll (validation, then test)
KDE_HELD_OUT = (250, 500)  # real samples that choose the bandwidth, then that are scored
KDE_BANDWIDTHS = np.geomspace(1e-3, 1.0, 13)  # candidate bandwidths, times the real data's std


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    """W1 = min over couplings of E |x - y|, between equal-size samples (n, d), d in (1, 2).

    d = 1: exact, mean |a_(i) - b_(i)| of the sorted samples.
    d = 2, n <= EXACT_MAX_N: exact; with uniform weights the optimal coupling is a permutation,
    found by linear_sum_assignment on the Euclidean cost matrix.
    d = 2, n > EXACT_MAX_N: ``sliced_w1``, a lower bound of W1 that is exact for translations.
    """
    a, b = _points(a), _points(b)
    if a.shape != b.shape or a.shape[1] not in (1, 2):
        raise ValueError(f"need equal-size 1D or 2D samples, got {a.shape} and {b.shape}")
    if a.shape[1] == 1:
        return _w1_sorted(a, b).item()
    if len(a) > EXACT_MAX_N:
        return sliced_w1(a, b)
    cost = cdist(a, b)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def sliced_w1(a: np.ndarray, b: np.ndarray) -> float:
    """pi/2 * mean over directions theta of W1(<a, theta>, <b, theta>), for 2D samples.

    The directions are SLICES fixed angles evenly spaced over [0, pi). In 2D the mean of
    |<v, theta>| over directions is 2/pi |v|, hence the pi/2: the result is then <= W1, equal
    to it for a translated cloud, and on the scale of the exact W1 used for small n. Measured
    against exact W1 at n = 500: 0.95-0.99 W1 for a ring against a blob or against itself,
    0.7-0.8 W1 between clouds of different shapes (swiss roll against ring).
    """
    angles = np.pi * np.arange(SLICES) / SLICES
    directions = np.stack((np.cos(angles), np.sin(angles)), axis=1)  # (SLICES, 2)
    # One row per direction, in float32: numpy sorts contiguous float32 rows about 2.5 times
    # faster than float64 columns, and this sort is most of an evaluation's time.
    a_proj, b_proj = ((directions @ _points(x).T).astype(np.float32) for x in (a, b))
    w1_per_direction = np.abs(np.sort(a_proj, axis=1) - np.sort(b_proj, axis=1)).mean(1)
    return math.pi / 2 * float(w1_per_direction.mean(dtype=np.float64))


def mode_stats(samples: np.ndarray, modes: np.ndarray, std: float | np.ndarray) -> dict:
    """Mode coverage as in VEEGAN / PacGAN.

    A sample is high quality if it lies within 3 std of its nearest mode (``std`` a float, or
    (k,) per mode); when std is 0 (a point mass: dirac) the radius is DIRAC_TOL instead. A mode
    is covered if it is the nearest mode of at least one high-quality sample.
    Returns ``modes_covered``, ``modes_total`` and ``high_quality`` (the rate, in [0, 1]).
    """
    samples, modes = _points(samples), _points(modes)
    dist = cdist(samples, modes)
    nearest = dist.argmin(1)
    std = np.broadcast_to(np.asarray(std, dtype=np.float64), (len(modes),))
    radius = np.where(std > 0, 3 * std, DIRAC_TOL)
    good = dist[np.arange(len(samples)), nearest] <= radius[nearest]
    return {
        "modes_covered": len(np.unique(nearest[good])),
        "modes_total": len(modes),
        "high_quality": float(good.mean()),
    }


def histogram_divergences(
    real: np.ndarray, fake: np.ndarray, extent: tuple[float, float], bins: int = 32
) -> dict:
    """KL(p || q) and JS(p, q) in nats between histograms of real (p) and fake (q) samples.

    The grid is ``bins`` (1D) or bins x bins (2D) cells over the extent; samples outside it are
    clipped into the border cells, so no mass is silently dropped. With B cells, counts h and
    N samples, p_i = (h_i / N + eps / B) / (1 + eps), eps = SMOOTHING, keeps KL finite.
    KL(p || q) = sum p_i log(p_i / q_i); JS = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2,
    so 0 <= JS <= log 2.
    """
    p, q = (_histogram(x, extent, bins) for x in (real, fake))
    m = (p + q) / 2
    return {"kl": _kl(p, q), "js": (_kl(p, m) + _kl(q, m)) / 2}


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """The Frechet (2-Wasserstein) distance squared between Gaussians fitted to x and y.

    d^2 = ||mu_x - mu_y||^2 + tr(C_x + C_y - 2 (C_x C_y)^(1/2)), with the sample means and
    (unbiased) covariances: FID (Heusel et al. 2017) without the Inception features, the
    reading the toy lectures give it. In d <= 2 the matrix square root has a closed form:
    C_x C_y is similar to C_x^(1/2) C_y C_x^(1/2), so its eigenvalues l1, l2 are real and
    >= 0, and tr (C_x C_y)^(1/2) = sqrt(l1) + sqrt(l2) = sqrt(tr M + 2 sqrt(det M)) for
    M = C_x C_y (d = 1: sqrt(c_x c_y)). It sees only two moments: a blob with a mixture's
    mean and covariance scores 0 while covering none of its modes.
    """
    x, y = _points(x), _points(y)
    if x.shape[1] != y.shape[1] or x.shape[1] not in (1, 2):
        raise ValueError(f"need 1D or 2D samples of one dimension, got {x.shape} and {y.shape}")
    gap = x.mean(0) - y.mean(0)
    cx, cy = (np.atleast_2d(np.cov(v, rowvar=False)) for v in (x, y))
    m = cx @ cy
    if x.shape[1] == 1:
        cross = math.sqrt(max(float(m[0, 0]), 0.0))
    else:  # det M >= 0 and tr M >= 0 up to rounding
        cross = math.sqrt(max(float(np.trace(m)) + 2 * math.sqrt(max(np.linalg.det(m), 0)), 0))
    return float(gap @ gap + np.trace(cx) + np.trace(cy) - 2 * cross)


def knn_radii(x: np.ndarray, k: int = PR_K) -> np.ndarray:
    """Distance of each row of x to its k-th nearest other row: the k-NN manifold's balls."""
    return cKDTree(_points(x)).query(_points(x), k=k + 1)[0][:, k]


def precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = PR_K, real_radii: np.ndarray | None = None
) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019), on the samples themselves.

    Each set's manifold is the union of balls around its samples, of radius the distance to
    the sample's k-th nearest neighbour in its own set. precision = the fraction of fake
    samples inside the real manifold (quality); recall = the fraction of real samples
    inside the fake manifold (coverage). A ball reaches its boundary point (<=), as in the
    official code (kynkaat/improved-precision-and-recall-metric, distance <= radius).
    ``real_radii`` may pass the real set's radii, cached (they depend on the real set only).
    Both directions read one matrix of squared distances (fake i to real j; each entry is
    the same either way round): a fake i is inside if some d2_ij <= r_real_j^2, a real j if
    some d2_ij <= r_fake_i^2.
    """
    real, fake = _points(real), _points(fake)
    radii = knn_radii(real, k) if real_radii is None else real_radii
    d2 = _squared_distances(fake, real)
    precision = (d2 <= np.square(radii)[None, :]).any(1).mean()
    recall = (d2 <= np.square(knn_radii(fake, k))[:, None]).any(0).mean()
    return float(precision), float(recall)


def parzen_log_likelihood(x: np.ndarray, centres: np.ndarray, bandwidth: float) -> np.ndarray:
    """log p(x_i) under the Parzen window p = 1/n sum_j N(x; c_j, h^2 I), per row of x."""
    return _Parzen(x, centres).log_likelihood(bandwidth)


class _Parzen:
    """The squared distances of points to Parzen centres, kept to try many bandwidths.

    log p(x_i) = -m_i / 2h^2 + log sum_j exp(-(d2_ij - m_i) / 2h^2) - log n - d/2 log(2 pi h^2),
    m_i = min_j d2_ij: the exponents are <= 0 with one 0 per row (a log-sum-exp that cannot
    overflow), and small enough for float32, which makes the exp 7 times faster here
    (measured: within 1e-6 of float64 from h = 0.01 to 1).
    """

    def __init__(self, x: np.ndarray, centres: np.ndarray) -> None:
        d2 = _squared_distances(x, centres)
        self.nearest = d2.min(1)
        self.excess = (d2 - self.nearest[:, None]).astype(np.float32)
        self.dim = _points(x).shape[1]

    def log_likelihood(self, bandwidth: float) -> np.ndarray:
        scale = 0.5 / bandwidth**2
        sums = np.exp(self.excess * np.float32(-scale)).sum(1, dtype=np.float64)
        log_norm = math.log(self.excess.shape[1]) + self.dim / 2 * math.log(
            2 * math.pi * bandwidth**2
        )
        return -self.nearest * scale + np.log(sums) - log_norm


def kde_nll(
    fake: np.ndarray, validation: np.ndarray, test: np.ndarray, scale: float = 1.0
) -> float:
    """The Parzen-window negative log-likelihood (nats per sample) of held-out real samples
    under a Gaussian kernel density estimate on the fake samples (Goodfellow et al. 2014).

    NLL = -1/m sum_i log p_h(x_i), p_h(x) = 1/n sum_j N(x; G(z_j), h^2 I), over the test
    set; h is the candidate of KDE_BANDWIDTHS * scale (the real data's std) that maximises
    the likelihood of the separate validation set. Lower is better; it can be negative.
    Theis et al. (2016), "A note on the evaluation of generative models": the Parzen
    estimate is far from the model's true log-likelihood even in low dimensions, and ranks
    models differently from it and from sample quality; a generator that memorises a few
    real points, or one that puts a little mass everywhere, can score well. Read it as
    how well the fakes, blurred, explain unseen real data, not as a likelihood.
    """
    on_validation = _Parzen(validation, fake)
    candidates = KDE_BANDWIDTHS * max(scale, 1e-3)
    best = max(candidates, key=lambda h: on_validation.log_likelihood(h).mean())
    return -float(parzen_log_likelihood(test, fake, best).mean())


class Evaluator:
    """Costly metrics of fake samples against a target, for ``Trainer.evaluate``.

    Caches per n the target's reference sample and the floor: the mean W1 between the
    reference and FLOOR_DRAWS independent fixed samples of the target, i.e. what a perfect
    generator scores at that n on average (one draw alone varies by 25-50 %). Also caches
    the real side of precision/recall (the first PAIRWISE_MAX_N reference samples and their k-NN
    radii) and the held-out real samples of kde_nll (drawn with KDE_SEED).
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self._cache: dict[int, tuple[np.ndarray, float]] = {}
        self._manifold: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._held_out: tuple[np.ndarray, np.ndarray, float] | None = None

    def evaluate(self, fake: np.ndarray) -> dict:
        """``w1``, ``w1_floor``, ``kl``, ``js``, ``frechet``, ``precision``, ``recall``,
        ``kde_nll``, and the ``mode_stats`` keys where the target has modes. Precision and
        recall use the first PAIRWISE_MAX_N samples (their cost grows as n^2). Raises ValueError
        if a fake sample is not finite."""
        fake = _points(fake)
        if not np.isfinite(fake).all():
            raise ValueError("fake samples are not finite; no metric is meaningful")
        real, floor = self._reference(len(fake))
        out = {"w1": wasserstein1(real, fake), "w1_floor": floor}
        out |= histogram_divergences(real, fake, self.target.extent)
        if self.target.modes is not None:
            out |= mode_stats(fake, self.target.modes, self.target.mode_std)
        out["frechet"] = frechet_distance(real, fake)
        pr_real, radii = self._real_manifold(min(len(fake), PAIRWISE_MAX_N))
        out["precision"], out["recall"] = precision_recall(
            pr_real, fake[:PAIRWISE_MAX_N], real_radii=radii
        )
        out["kde_nll"] = kde_nll(fake[:PAIRWISE_MAX_N], *self._kde_held_out())
        return out

    def _reference(self, n: int) -> tuple[np.ndarray, float]:
        if n not in self._cache:
            real = self.target.reference(n)
            draws = (
                self.target.sample(n, torch.Generator().manual_seed(FLOOR_SEED + i)).numpy()
                for i in range(FLOOR_DRAWS)
            )
            self._cache[n] = real, float(np.mean([wasserstein1(real, x) for x in draws]))
        return self._cache[n]

    def _real_manifold(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n not in self._manifold:
            real = _points(self.target.reference(n))
            self._manifold[n] = real, knn_radii(real)
        return self._manifold[n]

    def _kde_held_out(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(validation, test, scale): real samples no other metric uses, and their std."""
        if self._held_out is None:
            n_val, n_test = KDE_HELD_OUT
            rng = torch.Generator().manual_seed(KDE_SEED)
            held_out = _points(self.target.sample(n_val + n_test, rng).numpy())
            self._held_out = held_out[:n_val], held_out[n_val:], float(held_out.std())
        return self._held_out


@functools.lru_cache(maxsize=64)
def evaluator_for(target: Target) -> Evaluator:
    """The Evaluator every run on ``target`` shares, so a reset does not measure the floor
    again (about 40 ms for 2,500 2D samples)."""
    return Evaluator(target)


def _points(x: np.ndarray) -> np.ndarray:
    """x as float64 (n, d); a flat array is n points of dimension 1."""
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """||a_i - b_j||^2 for every pair, (len(a), len(b)) (cdist: 5 times faster than numpy's
    broadcasting or a matrix product on this machine, and it uses no BLAS threads)."""
    return cdist(_points(a), _points(b), "sqeuclidean")


def _w1_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact 1D W1 of each column: mean |sorted a - sorted b|."""
    return np.abs(np.sort(a, axis=0) - np.sort(b, axis=0)).mean(0)


def _histogram(x: np.ndarray, extent: tuple[float, float], bins: int) -> np.ndarray:
    x = np.clip(_points(x), *extent)
    counts, _ = np.histogramdd(x, bins=bins, range=[extent] * x.shape[1])
    cells = counts.size
    return (counts.ravel() / len(x) + SMOOTHING / cells) / (1 + SMOOTHING)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum(p * np.log(p / q)))
