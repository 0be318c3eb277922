"""Named starting points for a session, each with a lecture note and what to try next.

A preset is one run or a comparison: ``lanes`` are more runs of the same start (gan_core's
``Lanes``: same seed, same initial weights where the architectures match), each the
preset's config with a patch, drawn side by side (or overlaid, ``overlay``). To add one,
add an entry to ``PRESETS``: a config (a partial TrainConfig; missing fields take their
defaults), its lanes, the view options that show it best, and "try next" suggestions
(``TryNext``: each opens a new lane, from the preset's start or forked from the lane in
view, or loads another preset). tests/server/test_presets.py checks every entry and every
lane against the engine and the server's limits; tests/presets/ runs every lecture headless,
as ``start_comparison`` builds it, and asserts its phenomenon between its lanes, with margins.

The 1D lectures use a linear generator (``g_hidden=[]``: G(z) = w.z + b, a Gaussian with a
learnable mean and spread) trained by plain SGD, so that a sample moves in proportion to the
gradient it receives. Adam would rescale even a vanishing gradient to a full step.

Every caller starts a preset the same way: ``start_comparison`` headless, or a session's
worker in turns (``start_lanes``, the warm-up on every lane, ``finish_lanes``); a single run
of the preset's own config (``gandyn run``, ``gandyn compare``) is ``start_run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gan_core import ConfigError, Lanes, TrainConfig, Trainer
from gan_core.lanes import Lane

LaneMode = Literal["start", "fork"]


@dataclass(frozen=True)
class TryNext:
    """A suggestion, of one of two kinds; neither ever changes a lane in place.

    - ``patch`` with ``lane``: opens a new lane titled ``label``. ``lane="start"``: from the
      preset's own start, as its lanes began: the session's base config (lane 1's start)
      with ``patch``, from iteration 0, with the preset's warm-up applied to it; it runs
      beside the others, iteration for iteration from its own 0. ``lane="fork"``: a fork of
      the lane in view (the one the user selected) at the moment of pressing: its whole
      state, ``patch`` applied live (``Trainer.update``), so "what if I switch now" keeps
      the original running beside it. A fork's patch applies on top of that lane's config,
      so it names every field the suggestion means (e.g. ``regularizers: []`` with a loss).
      A session holds at most 4 lanes: at 4 the server refuses ("close one first").
    - ``preset``: loads that preset (the session resets to it, its lanes replace these).

    ``open_try_next`` does the first kind headless, as the server does."""

    label: str
    patch: dict[str, Any] | None = None
    lane: LaneMode | None = None
    preset: str | None = None


@dataclass(frozen=True)
class LaneSpec:
    """One more lane of a comparison preset (lane 1 is the preset's own config). ``patch``:
    what differs from lane 1; ``title``: what the lane shows ("minimax", "+ r1 gamma 1");
    ``after_warmup``: forked from lane 1 once the warm-up is done (so it continues from
    exactly that state; the patch must be one ``update`` takes live), instead of starting
    beside lane 1 at iteration 0 and taking the warm-up under its own config."""

    title: str
    patch: dict[str, Any]
    after_warmup: bool = False


@dataclass(frozen=True)
class Preset:
    """A starting point. ``warmup``: (part, n) teaching steps applied in order right after
    the preset is loaded, e.g. ``[("d", 300)]`` trains D alone 300 times
    (``Trainer.step(300, part="d")``); part is "d", "g" or "both". ``lanes``: the lanes
    beside lane 1 (at most 3: a session holds 4), ``lane_title`` lane 1's title when there
    are any. ``overlay``: the lanes are meant to be drawn in one plot, not one panel each
    (1D: the D curves and samples of every lane on one axis; Dirac-GAN: every lane's
    trajectory in one (theta, psi) plane); only for 1D and Dirac-GAN presets with lanes.
    ``charts``: the metric charts the note talks about, by their titles in web/metrics.js's
    ``CHARTS`` ("JS stays at log 2": ``"JS, KL"``); the page draws them beside the plot,
    within the window, and folds the others behind "more charts". Empty when the note
    points at the view alone (the Dirac-GAN plane, the D curves)."""

    title: str
    note: str
    config: dict[str, Any]
    view: dict[str, Any] = field(default_factory=dict)
    try_next: list[TryNext] = field(default_factory=list)
    warmup: list[tuple[str, int]] = field(default_factory=list)
    lanes: list[LaneSpec] = field(default_factory=list)
    lane_title: str = ""  # lane 1's title when the preset has lanes
    overlay: bool = False
    charts: tuple[str, ...] = ()


ADAM = {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.9]}
ADAM_SLOW_D = {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.999]}
ADAM_FAST_G = {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]}
RMSPROP = {"name": "rmsprop", "lr": 5e-5}
SGD_DIRAC = {"name": "sgd", "lr": 0.2}

# 1D: real N(4, 0.25^2), the generator a Gaussian starting near 0.
SEPARATED: dict[str, Any] = {
    "dataset": "separated1d",
    "target": {"separation": 4.0},
    "g_hidden": [],
    "d_hidden": [64, 64],
    "batch_size": 128,
    "opt_d": ADAM,
}
VIEW_1D = {"line": 400, "samples": 256}
VIEW_2D = {"grid": 64, "samples": 512, "field": 16}

WGAN_GP_10 = {"loss": "wgan", "regularizers": [{"kind": "gp", "weight": 10.0}]}
WGAN_GP = [{"kind": "gp", "weight": 0.1}]
SPECTRAL = [{"kind": "spectral_norm", "weight": 1.0}]
# WGAN-GP as Gulrajani et al. train it (Adam), in place of clipping's RMSprop
GRADIENT_PENALTY = {"regularizers": WGAN_GP, "opt_g": ADAM, "opt_d": ADAM}


def r1(gamma: float) -> dict[str, Any]:
    return {"regularizers": [{"kind": "r1", "weight": gamma}]}


# the fix of the mode collapse lecture: R1, D's learning rate up to G's, two D steps
STRONGER_D = {**r1(1.0), "opt_d": {"lr": 1e-3}, "d_steps": 2}

DEFAULT_PRESET = "ring8_wgan_gp"

PRESETS: dict[str, Preset] = {
    "ring8_wgan_gp": Preset(
        title="Ring of 8 Gaussians, WGAN-GP",
        note=(
            "The gan_toy target of Gulrajani et al. (2017): eight Gaussians on a circle. "
            "The critic is a score, not a probability. With gan_toy's small lambda = 0.1 the "
            "gradient penalty holds its slope only loosely: the gradient-norm chart starts near "
            "2.4 and falls towards 1.3 by iteration 1500, never flat, so every fake sample "
            "keeps being pushed towards the modes."
        ),
        config={
            "dataset": "ring8",
            "loss": "wgan",
            "regularizers": [{"kind": "gp", "weight": 0.1}],
            "opt_g": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.9]},
            "opt_d": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.9]},
            "d_steps": 2,
        },
        view={"grid": 64, "samples": 256},
        charts=("‖∇ₓD‖",),
        try_next=[
            TryNext("No gradient penalty", patch={"regularizers": []}, lane="start"),
            TryNext(
                "The minimax GAN loss",
                patch={"loss": "minimax", "regularizers": []},
                lane="start",
            ),
        ],
    ),
    "saturated_discriminator": Preset(
        title="A saturated discriminator",
        note=(
            "WGAN paper, figure 2. The real data sits far from the fakes and D has been trained "
            "first: it is a step, 0 at every fake sample and flat there. With the minimax loss "
            "(lane 1) the push on the fakes is a few millionths and shrinks as D trains on: they "
            "do not move. Lane 2 is that same D, forked after the warm-up and trained on as a "
            "WGAN-GP critic: a slope, the push about 1, and the fakes walk 2.7 towards the data in "
            "100 iterations (seed 0; in 1 of seeds 1-5 D's step has a dip at the fakes and the "
            "slope sends them away)."
        ),
        config={
            **SEPARATED,
            "loss": "minimax",
            "regularizers": [],
            "d_steps": 5,
            "opt_g": {"name": "sgd", "lr": 0.02},
        },
        view=VIEW_1D,
        charts=("‖∇ₓD‖", "W₁"),
        warmup=[("d", 300)],
        lane_title="minimax",
        lanes=[LaneSpec("WGAN-GP, lambda 10", WGAN_GP_10, after_warmup=True)],
        try_next=[
            TryNext(
                "Non-saturating, from this moment",
                patch={"loss": "nonsaturating", "regularizers": []},
                lane="fork",
            ),
            TryNext("Minimax vs non-saturating", preset="minimax_vs_nonsaturating"),
        ],
    ),
    "js_blind_to_distance": Preset(
        title="JS cannot see distance",
        note=(
            "Three lanes from one start: the real data at 4, 2.5 and 1, a WGAN-GP critic walking "
            "the fakes towards it. At the start JS is log 2 = 0.69 in the lanes at 4 and at 2.5 "
            "while their W1 is 1.5 apart: JS cannot tell a far miss from a nearer one. W1 falls "
            "with the distance until the fakes arrive; JS stays at log 2 until the distributions "
            "overlap, as in the lane at 1 within 100 iterations. A loss built on JS gets no "
            "signal from getting closer: open minimax from the start beside them, it stalls."
        ),
        config={
            **SEPARATED,
            "loss": "wgan",
            "regularizers": [{"kind": "gp", "weight": 1.0}],
            "d_steps": 2,
            "opt_g": {"name": "sgd", "lr": 0.005},
        },
        view=VIEW_1D,
        charts=("JS, KL", "W₁"),
        warmup=[("d", 100)],
        lane_title="real data at 4",
        lanes=[
            LaneSpec("real data at 2.5", {"target": {"separation": 2.5}}),
            LaneSpec("real data at 1", {"target": {"separation": 1.0}}),
        ],
        try_next=[
            TryNext(
                "Minimax loss, real data at 4",
                patch={"loss": "minimax", "regularizers": []},
                lane="start",
            ),
            TryNext(
                "A faster generator, real data at 4", patch={"opt_g": {"lr": 0.02}}, lane="start"
            ),
        ],
    ),
    "minimax_vs_nonsaturating": Preset(
        title="Minimax vs non-saturating",
        note=(
            "Goodfellow et al. (2014): with log(1 - D(G(z))) the generator learns nothing when D "
            "rejects its samples confidently, exactly when it most needs to learn. Both lanes "
            "share the start and D's 100 warm-up steps. In the minimax lane the fakes sit still "
            "(W1 3.8 to 4.6 after 100 iterations, seeds 0-2); with the non-saturating -log D(G(z)) "
            "the same D pushes 10 to 140 times harder and the fakes reach the real data (W1 0.4 to "
            "0.6)."
        ),
        config={
            **SEPARATED,
            "loss": "minimax",
            "regularizers": [],
            "d_steps": 5,
            "opt_g": {"name": "sgd", "lr": 0.02},
        },
        view=VIEW_1D,
        charts=("W₁", "‖∇ₓD‖"),
        warmup=[("d", 100)],
        lane_title="minimax",
        lanes=[LaneSpec("non-saturating", {"loss": "nonsaturating"})],
        try_next=[
            TryNext(
                "Non-saturating, from this moment", patch={"loss": "nonsaturating"}, lane="fork"
            ),
            TryNext("The saturated discriminator", preset="saturated_discriminator"),
        ],
    ),
    "clip_vs_gradient_penalty": Preset(
        title="Weight clipping vs gradient penalty",
        note=(
            "Gulrajani et al. (2017), figure 1, two lanes from one start. The critic whose weights "
            "are clipped to 0.01 (RMSprop) piles them against the clip and is almost flat: its "
            "slope, and so the push on the fakes, stays below a thousandth, and W1 only creeps "
            "(1.3 to 1.0 in 100 iterations). With the gradient penalty (Adam, gan_toy's lambda = "
            "0.1) the critic becomes a smooth slope, its gradient norm 2.3 to 2.9 (the small "
            "lambda holds it near 1 only loosely), and W1 is 0.3 to 0.4 by then (seeds 0-2)."
        ),
        config={
            "dataset": "ring8",
            "loss": "wgan",
            "regularizers": [{"kind": "weight_clip", "weight": 0.01}],
            "d_steps": 5,
            "batch_size": 128,
            "g_hidden": [64, 64],
            "d_hidden": [64, 64],
            "opt_g": RMSPROP,
            "opt_d": RMSPROP,
        },
        view=VIEW_2D,
        charts=("‖∇ₓD‖", "W₁"),
        lane_title="weight clipping, 0.01",
        lanes=[LaneSpec("gradient penalty, 0.1 (Adam)", GRADIENT_PENALTY)],
        try_next=[
            TryNext("Gradient penalty, from this moment", patch=GRADIENT_PENALTY, lane="fork"),
            TryNext(
                "Clipping at 0.1",
                patch={"regularizers": [{"kind": "weight_clip", "weight": 0.1}]},
                lane="start",
            ),
        ],
    ),
    "mode_collapse_ring": Preset(
        title="Mode collapse on the ring",
        note=(
            "Lane 1: the generator learns ten times faster than the discriminator. D can only say "
            "where the fakes are not, so the whole cloud of fakes hops from mode to mode and "
            "covers at most one at a time (watch the coverage chart). Lane 2, from the same start, "
            "gives D the same learning rate, two steps per G step and an R1 penalty: 7 of 8 modes "
            "by iteration 100 and all 8 by 200 (seeds 0-2)."
        ),
        config={
            "dataset": "ring8",
            "loss": "nonsaturating",
            "regularizers": [],
            "d_steps": 1,
            "batch_size": 128,
            "z_dim": 2,
            "g_hidden": [64, 64],
            "d_hidden": [64, 64],
            "opt_g": ADAM_FAST_G,
            "opt_d": ADAM_SLOW_D,
            "seed": 0,
        },
        view=VIEW_2D,
        charts=("coverage",),
        lane_title="non-saturating, slow D",
        lanes=[LaneSpec("+ R1 gamma 1, D as fast, 2 D steps", STRONGER_D)],
        try_next=[
            TryNext("R1 and a stronger D, from this moment", patch=STRONGER_D, lane="fork"),
            TryNext(
                "WGAN-GP, 5 critic steps",
                patch={"loss": "wgan", "regularizers": WGAN_GP, "d_steps": 5, "opt_d": ADAM},
                lane="start",
            ),
        ],
    ),
    "grid25_wgan_gp": Preset(
        title="25 Gaussians, WGAN-GP",
        note=(
            "The grid of 25 Gaussians from the WGAN-GP paper's toy experiments. The critic "
            "stays a smooth slope, every fake keeps being pushed to its nearest modes, and the "
            "coverage chart climbs towards 25. Open a lane without the penalty to see what it did."
        ),
        config={
            "dataset": "grid25",
            "loss": "wgan",
            "regularizers": WGAN_GP,
            "d_steps": 2,
            "batch_size": 128,
            "g_hidden": [64, 64, 64],
            "d_hidden": [64, 64, 64],
            "opt_g": ADAM,
            "opt_d": ADAM,
        },
        view=VIEW_2D,
        charts=("coverage",),
        try_next=[
            TryNext("No penalty", patch={"regularizers": []}, lane="start"),
            TryNext("Minimax loss", patch={"loss": "minimax", "regularizers": []}, lane="start"),
        ],
    ),
    "swissroll_wgan_gp": Preset(
        title="Swiss roll, WGAN-GP",
        note=(
            "The swiss roll of the WGAN-GP paper: a curve, not a set of modes. The generator "
            "first makes a blob, then the critic's slope unrolls it along the curve; W1 falls "
            "towards its floor. Try weight clipping instead of the penalty."
        ),
        config={
            "dataset": "swissroll",
            "loss": "wgan",
            "regularizers": WGAN_GP,
            "d_steps": 2,
            "batch_size": 128,
            "g_hidden": [64, 64, 64],
            "d_hidden": [64, 64, 64],
            "opt_g": ADAM,
            "opt_d": ADAM,
        },
        view=VIEW_2D,
        charts=("W₁",),
        try_next=[
            TryNext(
                "Weight clipping", patch={"regularizers": [{"kind": "weight_clip"}]}, lane="start"
            ),
            TryNext(
                "Non-saturating loss",
                patch={"loss": "nonsaturating", "regularizers": []},
                lane="start",
            ),
        ],
    ),
    "dirac_gan": Preset(
        title="Dirac-GAN",
        note=(
            "Mescheder et al. (2018), four methods from one start in one plane: the data is a "
            "point at 0, G one point theta, D(x) = psi x. The GAN's eigenvalues are +-0.5i and one "
            "alternating step's modulus 1: no damping, only the loss's curvature shrinks its "
            "circles, slowly (radius 0.35 after 300 iterations, 0.19 after 1,200: like t^-1/2). "
            "WGAN (+-i) circles at the starting radius. R1 (gamma 1) and instance noise (sigma 1) "
            "give the eigenvalues a negative real part: both spiral in. Fork a lane with "
            "simultaneous steps: it spirals out."
        ),
        config={
            "dataset": "dirac",
            "loss": "nonsaturating",
            "regularizers": [],
            "update_scheme": "alternating",
            "d_steps": 1,
            "opt_g": SGD_DIRAC,
            "opt_d": SGD_DIRAC,
            "dirac_init": [1.0, 1.0],
        },
        view={"dirac_grid": 21},
        charts=(),
        lane_title="GAN (non-saturating)",
        lanes=[
            LaneSpec("+ R1, gamma 1", r1(1.0)),
            LaneSpec(
                "+ instance noise, sigma 1",
                {"regularizers": [{"kind": "instance_noise", "weight": 1.0}]},
            ),
            LaneSpec("WGAN", {"loss": "wgan", "regularizers": []}),
        ],
        overlay=True,
        try_next=[
            TryNext("R1, gamma = 0.3", patch=r1(0.3), lane="start"),
            TryNext("R1, gamma = 3", patch=r1(3.0), lane="start"),
            TryNext(
                "Simultaneous updates, from this moment",
                patch={"update_scheme": "simultaneous"},
                lane="fork",
            ),
            TryNext("All the notebook's methods", preset="dirac_gan_methods"),
        ],
    ),
    "lsgan_and_hinge": Preset(
        title="D curves: GAN, LSGAN, hinge",
        note=(
            "Three discriminators for the same data, from one start, overlaid. The GAN's D is a "
            "probability: 1 on the real data, 0 on the fakes. LSGAN regresses onto the targets 1 "
            "and 0, so its score stays within 0.07 of them. The hinge D only has to clear the "
            "margins, at least 1 on real and at most -1 on fake, and overshoots them unevenly "
            "(scores 1.4 to 2.5 on real, -1.6 to -5.7 on fake, seeds 0-1)."
        ),
        config={
            **SEPARATED,
            "target": {"separation": 3.0},
            "loss": "nonsaturating",
            "regularizers": [],
            "d_steps": 2,
            "opt_g": {"name": "sgd", "lr": 0.001},
        },
        view=VIEW_1D,
        charts=(),
        warmup=[("d", 200)],
        lane_title="GAN",
        lanes=[LaneSpec("LSGAN", {"loss": "lsgan"}), LaneSpec("hinge", {"loss": "hinge"})],
        overlay=True,
        try_next=[
            TryNext(
                "WGAN critic, gradient penalty 1",
                patch={"loss": "wgan", "regularizers": [{"kind": "gp", "weight": 1.0}]},
                lane="start",
            ),
        ],
    ),
    "spectral_norm_switch": Preset(
        title="Spectral normalisation, with and without",
        note=(
            "Miyato et al. (2018), two lanes from one start. With spectral normalisation every "
            "layer of D is divided by its largest singular value, so D is 1-Lipschitz: its slope "
            "stays below 1 (0.87 to 0.93 after 100 iterations, seeds 0-2). Without it D sharpens "
            "into a step, its slope 6.8 to 7.9 by then. Fork that lane with spectral norm on: the "
            "same weights, renormalised, are gentle at once (slope below 0.25 within 10 "
            "iterations)."
        ),
        config={
            **SEPARATED,
            "loss": "nonsaturating",
            "regularizers": SPECTRAL,
            "d_steps": 2,
            "opt_g": {"name": "sgd", "lr": 0.005},
        },
        view=VIEW_1D,
        charts=("‖∇ₓD‖",),
        lane_title="spectral norm",
        lanes=[LaneSpec("no spectral norm", {"regularizers": []})],
        try_next=[
            TryNext(
                "Spectral norm on, from this moment", patch={"regularizers": SPECTRAL}, lane="fork"
            ),
            TryNext("Spectral norm off, from this moment", patch={"regularizers": []}, lane="fork"),
        ],
    ),
    "instance_noise_annealed": Preset(
        title="Instance noise, annealed to zero",
        note=(
            "Sønderby et al. (2017): D sees every sample blurred by Gaussian noise, so real and "
            "fake overlap, D stays smooth and the fakes get a useful push from far away. The "
            "noise falls linearly from sigma = 2 to 0 over 300 iterations; by then the fakes "
            "sit on the real data and training goes on without it."
        ),
        config={
            **SEPARATED,
            "loss": "nonsaturating",
            "regularizers": [{"kind": "instance_noise", "weight": 2.0, "anneal_steps": 300}],
            "d_steps": 2,
            "opt_g": {"name": "sgd", "lr": 0.02},
        },
        view=VIEW_1D,
        charts=("W₁",),
        warmup=[("d", 100)],
        try_next=[
            TryNext("No noise", patch={"regularizers": []}, lane="start"),
            TryNext(
                "Constant noise, sigma = 0.5",
                patch={"regularizers": [{"kind": "instance_noise", "weight": 0.5}]},
                lane="start",
            ),
        ],
    ),
}


# ----- methods of the research on the game's dynamics (issue 13) --------------------------------
OPTIMISTIC = {"name": "optimistic", "lr": 0.2}
DIRAC_SGD = {
    "dataset": "dirac",
    "opt_g": SGD_DIRAC,
    "opt_d": SGD_DIRAC,
    "d_steps": 1,
    "dirac_init": [1.0, 1.0],
}


# the mode_collapse_ring lecture's run: non-saturating, a fast G and a slow D
RING_COLLAPSE = PRESETS["mode_collapse_ring"].config
ADAM_SLOW = {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.9]}


def minimax_with(*regularizers: dict[str, Any]) -> dict[str, Any]:
    return {"loss": "minimax", "regularizers": list(regularizers)}


PRESETS.update(
    {
        "bilinear_game": Preset(
            title="The bilinear game min max psi theta",
            note=(
                "The Dirac-GAN with the WGAN loss is the bilinear game min_theta max_psi psi "
                "theta: its flow is a pure rotation (eigenvalues +-i). Four update schemes from "
                "(1, 1), in one plane: simultaneous steps of 0.2 multiply the radius by sqrt(1 + "
                "h^2) = 1.02 per step and spiral out; alternating steps circle on an ellipse for "
                "ever; extragradient (0.98 per step) and optimistic steps (0.979) converge. "
                "Compare the one-step eigenvalues of each lane. Historical averaging (try next) "
                "converges too."
            ),
            config={
                **DIRAC_SGD,
                "loss": "wgan",
                "regularizers": [],
                "update_scheme": "simultaneous",
            },
            view={"dirac_grid": 21},
            charts=(),
            lane_title="simultaneous",
            lanes=[
                LaneSpec("alternating", {"update_scheme": "alternating"}),
                LaneSpec("extragradient", {"update_scheme": "extragradient"}),
                LaneSpec("optimistic", {"opt_g": OPTIMISTIC, "opt_d": OPTIMISTIC}),
            ],
            overlay=True,
            try_next=[
                TryNext(
                    "Historical averaging, lambda = 0.1",
                    patch={"regularizers": [{"kind": "historical_averaging", "weight": 0.1}]},
                    lane="start",
                ),
                TryNext("The Dirac-GAN's methods", preset="dirac_gan_methods"),
            ],
        ),
        "dirac_gan_methods": Preset(
            title="Dirac-GAN: which methods converge",
            note=(
                "The methods of GAN_stability's DiracGAN notebook, simultaneous steps of 0.2 from "
                "(1, 1), as Mescheder et al. (2018) report them. Four lanes: the unregularised GAN "
                "spirals out (radius 3.4 after 500 steps), WGAN-GP keeps circling (1.8), R1 with "
                "gamma 0.3 and consensus converge to (0, 0). Open the others beside them: "
                "non-saturating settles on a circle (0.64), WGAN clipped at 1 circles (1.1); "
                "instance noise, R1 with gamma 1 and non-saturating + R1 converge."
            ),
            config={**DIRAC_SGD, **minimax_with(), "update_scheme": "simultaneous"},
            view={"dirac_grid": 21},
            charts=(),
            lane_title="GAN",
            lanes=[
                LaneSpec(
                    "WGAN-GP", {"loss": "wgan", "regularizers": [{"kind": "gp", "weight": 0.35}]}
                ),
                LaneSpec("+ R1, gamma 0.3", minimax_with({"kind": "r1", "weight": 0.3})),
                LaneSpec(
                    "+ consensus, gamma 1", minimax_with({"kind": "consensus", "weight": 1.0})
                ),
            ],
            overlay=True,
            try_next=[
                TryNext(
                    "Non-saturating",
                    patch={"loss": "nonsaturating", "regularizers": []},
                    lane="start",
                ),
                TryNext(
                    "WGAN, clipped at 1",
                    patch={
                        "loss": "wgan",
                        "regularizers": [{"kind": "weight_clip", "weight": 1.0}],
                    },
                    lane="start",
                ),
                TryNext(
                    "Instance noise, sigma = 0.7",
                    patch=minimax_with({"kind": "instance_noise", "weight": 0.7}),
                    lane="start",
                ),
                TryNext(
                    "R1, gamma = 1", patch=minimax_with({"kind": "r1", "weight": 1.0}), lane="start"
                ),
                TryNext(
                    "Non-saturating + R1, gamma = 0.3",
                    patch={
                        "loss": "nonsaturating",
                        "regularizers": [{"kind": "r1", "weight": 0.3}],
                    },
                    lane="start",
                ),
                TryNext(
                    "GAN, alternating steps",
                    patch={"update_scheme": "alternating"},
                    lane="start",
                ),
                TryNext("The bilinear game", preset="bilinear_game"),
            ],
        ),
        "unrolled_ring": Preset(
            title="Unrolled GAN on the ring",
            note=(
                "Metz et al. (2016): the non-saturating GAN with a slow D (lane 1) gathers its "
                "fakes in one cloud that sits on at most one mode (0.4 of 8 on average after 1,000 "
                "iterations, seeds 0-4). Lane 2 unrolls D: G's loss is taken against D after 5 "
                "more D steps, differentiated through them, so G sees how D would answer. The "
                "fakes spread out: 7 of 8 modes after 250 iterations here, 6.6 on average after "
                "1,000. Each of its G steps costs about six times more."
            ),
            config={**RING_COLLAPSE, "seed": 1},
            view=VIEW_2D,
            charts=("coverage",),
            lane_title="no unrolling",
            lanes=[LaneSpec("unrolled D, k = 5", {"unroll_steps": 5})],
            try_next=[
                TryNext("Unroll D, k = 1", patch={"unroll_steps": 1}, lane="start"),
                TryNext(
                    "Unroll D, k = 5, from this moment", patch={"unroll_steps": 5}, lane="fork"
                ),
            ],
        ),
        "consensus_ring": Preset(
            title="Consensus optimisation on the ring",
            note=(
                "Mescheder et al. (2017): simultaneous gradient steps on the ring (Adam, lr 1e-4) "
                "wander in lane 1: W1 is still 1.1 to 2.2 after 1,000 iterations (seeds 0-2). Lane "
                "2 adds consensus, gamma/2 ||v||^2, the squared norm of both players' gradients, "
                "to both losses, damping the rotation of the game: with gamma = 1, W1 falls to "
                "0.3-0.4 and 3 to 7 modes appear. Too strong a pull (gamma = 10, try next) slows "
                "it again (W1 0.6-1.2)."
            ),
            config={
                **RING_COLLAPSE,
                "update_scheme": "simultaneous",
                "opt_g": ADAM_SLOW,
                "opt_d": ADAM_SLOW,
                "seed": 1,
            },
            view=VIEW_2D,
            charts=("W₁", "coverage"),
            lane_title="no consensus",
            lanes=[
                LaneSpec(
                    "+ consensus, gamma 1",
                    {"regularizers": [{"kind": "consensus", "weight": 1.0}]},
                ),
            ],
            try_next=[
                TryNext(
                    "Consensus, gamma = 10",
                    patch={"regularizers": [{"kind": "consensus", "weight": 10.0}]},
                    lane="start",
                ),
                TryNext("Alternating steps", patch={"update_scheme": "alternating"}, lane="start"),
            ],
        ),
        "ema_generator": Preset(
            title="An averaged generator settles",
            note=(
                "Yazici et al. (2019): keep an exponential moving average of the generator's "
                "weights. Here G circles the equilibrium of the bilinear game for ever (WGAN "
                "loss, alternating steps, |theta| up to 1.35), while its average with decay "
                "0.99 stays within 0.08 of the real point 0: the dashed arrow in the data view. "
                "Its W1 (w1_ema) is 0.02 where the raw G's is 1.3."
            ),
            config={
                **DIRAC_SGD,
                "loss": "wgan",
                "regularizers": [],
                "update_scheme": "alternating",
                "g_ema": 0.99,
            },
            view={"dirac_grid": 21},
            charts=(),  # its W1 is w1_ema, which no chart draws; the Dirac view needs the height
            try_next=[
                TryNext("A shorter average, decay 0.9", patch={"g_ema": 0.9}, lane="start"),
                TryNext("A longer average, decay 0.999", patch={"g_ema": 0.999}, lane="start"),
                TryNext(
                    "R1: the raw generator converges too",
                    patch={
                        "loss": "nonsaturating",
                        "regularizers": [{"kind": "r1", "weight": 1.0}],
                    },
                    lane="start",
                ),
            ],
        ),
    }
)


# ----- losses, discriminator variants and metrics (issue 13) -------------------------------
# Two separated 1D modes and a Gaussian generator (no hidden layer): which one it settles on
# depends only on the divergence.
TWO_MODES: dict[str, Any] = {
    "dataset": "mixture1d",
    "target": {"means": [-2.0, 2.0], "stds": [0.3, 0.3], "weights": [1.0, 1.0]},
    "regularizers": [],
    "g_hidden": [],
    "z_dim": 1,
    "d_hidden": [64, 64],
    "batch_size": 128,
    "d_steps": 2,
    "opt_g": {"name": "adam", "lr": 2e-2, "betas": [0.5, 0.9]},
    "opt_d": {"name": "adam", "lr": 3e-3, "betas": [0.5, 0.9]},
}

LOSS_AND_METRIC_PRESETS: dict[str, Preset] = {
    "mode_seeking_vs_covering": Preset(
        title="Mode seeking vs mode covering",
        note=(
            "Nowozin et al. (2016): one Gaussian generator, two separated modes, two f-divergences "
            "from one start, overlaid. Reverse KL(Q || P) punishes fakes where there is no real "
            "data: the Gaussian settles on one mode and shrinks to its width (std 0.3). Forward "
            "KL(P || Q) punishes real data without fakes: the Gaussian spreads over both (mean "
            "near 0, std 2.1 to 2.2) and puts about 40 % of its samples in the empty gap (600 "
            "iterations, seeds 0-2)."
        ),
        config={**TWO_MODES, "loss": "fgan_reverse_kl"},
        view=VIEW_1D,
        charts=(),
        lane_title="reverse KL",
        lanes=[LaneSpec("forward KL", {"loss": "fgan_kl"})],
        overlay=True,
        try_next=[
            TryNext("The GAN loss (Jensen-Shannon)", patch={"loss": "nonsaturating"}, lane="start"),
            TryNext("Forward KL alone", preset="mode_covering_forward_kl"),
        ],
    ),
    "mode_covering_forward_kl": Preset(
        title="Mode covering: forward KL",
        note=(
            "The same Gaussian generator and two modes, now with the f-GAN's forward "
            "KL(P || Q). Missing real data costs without bound, so the Gaussian covers both "
            "modes: it matches their mean 0 and spread 2, and puts about 40 % of its samples "
            "in the empty gap between them. Open reverse KL beside it to see it pick one mode."
        ),
        config={**TWO_MODES, "loss": "fgan_kl"},
        view=VIEW_1D,
        charts=(),
        try_next=[
            TryNext("Reverse KL, same start", patch={"loss": "fgan_reverse_kl"}, lane="start"),
            TryNext("Pearson chi-squared", patch={"loss": "fgan_pearson"}, lane="start"),
        ],
    ),
    "frechet_blind_to_modes": Preset(
        title="Frechet distance is blind to modes",
        note=(
            "A Gaussian generator (no hidden layer) trained with forward KL on the ring "
            "matches the ring's mean and covariance: the Frechet distance, the 2D FID, falls "
            "to 0.03 (a generator collapsed on the ring scores 1.5 to 5) while hardly any "
            "sample lies on a mode. Precision (fakes on the real data) stays near 0 and recall "
            "near 1: together they tell a blur from a good fit."
        ),
        config={
            "dataset": "ring8",
            "loss": "fgan_kl",
            "regularizers": [],
            "g_hidden": [],
            "z_dim": 2,
            "d_hidden": [64, 64],
            "batch_size": 256,
            "d_steps": 2,
            "opt_g": {"name": "adam", "lr": 1e-2, "betas": [0.5, 0.9]},
            "opt_d": {"name": "adam", "lr": 2e-3, "betas": [0.5, 0.9]},
        },
        view=VIEW_2D,
        charts=("Fréchet", "coverage"),
        try_next=[
            TryNext("An MLP generator (WGAN-GP)", preset="ring8_wgan_gp"),
            TryNext("Mode seeking in 1D", preset="mode_seeking_vs_covering"),
        ],
    ),
    "feature_matching": Preset(
        title="Feature matching on the ring",
        note=(
            "Salimans et al. (2016): G no longer fools D, it matches the mean of D's last "
            "hidden layer on real and fake data. Same models and learning rates as the mode "
            "collapse lecture, yet nothing collapses: the fakes spread over the whole ring "
            "(recall near 1) but as a blur, precision near 0. Then fork it with the GAN loss: "
            "from that state the blur sharpens onto the modes, while its source stays a blur."
        ),
        config={**PRESETS["mode_collapse_ring"].config, "loss": "feature_matching"},
        view=VIEW_2D,
        charts=("coverage",),
        try_next=[
            TryNext("The GAN loss, from this moment", patch={"loss": "nonsaturating"}, lane="fork"),
            TryNext("The GAN loss from the start", patch={"loss": "nonsaturating"}, lane="start"),
        ],
    ),
    "ebgan": Preset(
        title="Energy-based GAN on two moons",
        note=(
            "Zhao et al. (2017): D is an autoencoder, and its reconstruction error is an "
            "energy, pulled down on real data and pushed up to the margin m = 1 on fakes. The "
            "surface shows minus the energy: a ridge along the moons that the fakes climb. "
            "Within a thousand iterations the fakes lie on the moons, whose energy stays "
            "far below the margin."
        ),
        config={
            "dataset": "moons",
            "loss": "ebgan",
            "discriminator": "autoencoder",
            "ebgan_margin": 1.0,
            "regularizers": [],
            "g_hidden": [64, 64],
            "d_hidden": [64, 64],
            "batch_size": 128,
            "d_steps": 1,
            "opt_g": ADAM,
            "opt_d": ADAM,
        },
        view=VIEW_2D,
        charts=(),
        try_next=[
            TryNext("A wider margin, m = 4", patch={"ebgan_margin": 4.0}, lane="start"),
            TryNext("Hinge loss on the same autoencoder", patch={"loss": "hinge"}, lane="start"),
        ],
    ),
    "packing_and_minibatch_stddev": Preset(
        title="Packing and minibatch stddev",
        note=(
            "Three lanes with the models and learning rates of the mode collapse lecture. The "
            "plain GAN collapses: no mode after 1,000 iterations (seeds 0-1). With packing (Lin et "
            "al. 2018) D scores pairs of samples, both real or both fake; a collapsed generator "
            "makes pairs of near-copies, which real pairs never are, so D can punish the collapse: "
            "6 modes, recall 0.9 to 1. With minibatch stddev (Karras et al. 2018) D also sees the "
            "spread of the batch: 7 modes, recall above 0.9."
        ),
        config=PRESETS["mode_collapse_ring"].config,
        view=VIEW_2D,
        charts=("coverage",),
        lane_title="the plain GAN",
        lanes=[
            LaneSpec("packing, m = 2", {"pack": 2}),
            LaneSpec("minibatch stddev", {"minibatch_stddev": True}),
        ],
        try_next=[
            TryNext("Packing, m = 4", patch={"pack": 4}, lane="start"),
            TryNext("The mode collapse lecture", preset="mode_collapse_ring"),
        ],
    ),
    "minibatch_stddev_ring": Preset(
        title="Minibatch stddev against collapse",
        note=(
            "Karras et al. (2018): D gets one more input, the spread of the batch its sample "
            "came in (the mean over features of each feature's std). A collapsed batch has "
            "almost none, and D learns to call that fake. Same models and learning rates as "
            "the mode collapse lecture; within a thousand iterations seven or eight modes "
            "are reached and recall passes 0.9."
        ),
        config={**PRESETS["mode_collapse_ring"].config, "minibatch_stddev": True},
        view=VIEW_2D,
        charts=("coverage",),
        try_next=[
            TryNext("Packing instead", patch={"minibatch_stddev": False, "pack": 2}, lane="start"),
            TryNext("Neither: the plain GAN", patch={"minibatch_stddev": False}, lane="start"),
        ],
    ),
}
PRESETS |= LOSS_AND_METRIC_PRESETS

# ----- the training tricks (issue 17): each with when it helps and when it breaks ----------
WGAN_GP_RING = {k: v for k, v in PRESETS["ring8_wgan_gp"].config.items() if k != "regularizers"}
ONE_BLOB = {"dataset": "points", "target": {"points": [[0.0, 0.0]], "point_std": 0.5}}
TANH_TWO_MODES: dict[str, Any] = {
    **TWO_MODES,
    "loss": "nonsaturating",
    "regularizers": [{"kind": "r1", "weight": 1.0}],
    "g_hidden": [32, 32],
    "z_dim": 2,
    "g_output": "tanh",
    "opt_g": {**ADAM, "lr": 2e-3},
    "opt_d": {**ADAM, "lr": 2e-3},
}

TRICK_PRESETS: dict[str, Preset] = {
    "batchnorm_and_the_penalty": Preset(
        title="Batch norm under a gradient penalty",
        note=(
            "WGAN-GP (lambda 10) with batch norm in the critic, the penalty forced on, beside "
            "the same critic with layer norm. The penalty differentiates the batch's summed "
            "score, and with batch norm that is no sample's own slope: at iteration 100 the "
            "norms it sees are 0.82-0.85, so it is content, while the critic's slopes at those "
            "points, the batch held fixed, are 1.2-1.7 on average and 19-20 at the fakes (the "
            "gradient-norm chart). With layer norm the two are one number, 0.97-1.04."
        ),
        config={
            **WGAN_GP_RING,
            **WGAN_GP_10,
            "d_norm": "batch",
            "allow_batch_norm_penalty": True,
        },
        view=VIEW_2D,
        charts=("‖∇ₓD‖",),
        lanes=[LaneSpec("layer norm", {"d_norm": "layer", "allow_batch_norm_penalty": False})],
        lane_title="batch norm, penalty forced",
        try_next=[
            TryNext("gan_toy's lambda 0.1", patch={"regularizers": WGAN_GP}, lane="start"),
            TryNext("Remove the penalty", patch={"regularizers": []}, lane="start"),
        ],
    ),
    "batchnorm_in_g_or_d": Preset(
        title="Batch norm in G, or in D",
        note=(
            "The course notes say batch norm sometimes hurts in G and mostly helps in D. On "
            "mode collapse's ring (non-saturating GAN, G ten times faster than D) it goes the "
            "other way: after 400 iterations batch norm in G covers 6-7 of the 8 modes (W1 "
            "0.22), while with batch norm in D, or in neither, at most one mode is covered (W1 "
            "1.26-1.33 and 1.43-2.05). The views show G with its running averages, as at "
            "inference; it trains on batch statistics."
        ),
        config=PRESETS["mode_collapse_ring"].config,
        view=VIEW_2D,
        charts=("coverage", "W₁"),
        lanes=[
            LaneSpec("batch norm in G", {"g_norm": "batch"}),
            LaneSpec("batch norm in D", {"d_norm": "batch"}),
        ],
        lane_title="no norm",
        try_next=[
            TryNext("An R1 penalty on D", patch=r1(1.0), lane="start"),
            TryNext("Batch norm under a gradient penalty", preset="batchnorm_and_the_penalty"),
        ],
    ),
    "truncation_trades_recall": Preset(
        title="Truncation trades recall",
        note=(
            "BigGAN's truncation trick (Brock et al. 2019): the views and metrics draw each "
            "latent coordinate within [-t, t]; training never does. Three lanes of one run on "
            "a Gaussian blob, after 300 iterations: truncation at 1 cuts recall from 0.88-0.96 "
            "to 0.44-0.52, at 0.5 to 0.19-0.25, while the high-quality rate rises from "
            "0.97-0.98 to 1.00 and precision, already 0.96-0.98, barely moves."
        ),
        config={**WGAN_GP_RING, **ONE_BLOB, "regularizers": WGAN_GP},
        view=VIEW_2D,
        charts=("coverage",),
        warmup=[("both", 300)],
        lanes=[
            LaneSpec("truncation 1", {"truncation": 1.0}, after_warmup=True),
            LaneSpec("truncation 0.5", {"truncation": 0.5}, after_warmup=True),
        ],
        lane_title="no truncation",
        try_next=[
            TryNext("Truncate at 0.25", patch={"truncation": 0.25}, lane="fork"),
            TryNext("The ring of 8: train it, then truncate", preset="ring8_wgan_gp"),
        ],
    ),
    "noisy_labels": Preset(
        title="Noisy labels against a saturated D",
        note=(
            "The WGAN paper's separated setup, minimax loss, D trained 300 steps first. Without "
            "label noise D saturates: the push at the fakes is 2e-7 to 5e-6 and they never "
            "move. With each of D's labels flipped with probability 0.1, D's optimum at the "
            "fakes is 0.1, not 0: the push stays at 0.01-0.03 and G (SGD, lr 0.5) carries the "
            "fakes to the real mode at 4 within 200 iterations."
        ),
        config={
            **SEPARATED,
            "loss": "minimax",
            "regularizers": [],
            "d_steps": 5,
            "opt_g": {"name": "sgd", "lr": 0.5},
            "label_noise": 0.1,
        },
        view=VIEW_1D,
        charts=("‖∇ₓD‖", "W₁"),
        warmup=[("d", 300)],
        lanes=[LaneSpec("no label noise", {"label_noise": 0.0})],
        lane_title="label noise 0.1",
        try_next=[
            TryNext(
                "Two-sided smoothing instead",
                patch={
                    "label_noise": 0.0,
                    "regularizers": [{"kind": "two_sided_label_smoothing", "weight": 0.1}],
                },
                lane="start",
            ),
            TryNext(
                "One-sided smoothing instead",
                patch={"label_noise": 0.0, "regularizers": [{"kind": "label_smoothing"}]},
                lane="start",
            ),
        ],
    ),
    "tanh_output_and_scaling": Preset(
        title="A tanh output needs the data scaled",
        note=(
            "G ends in tanh, and the real modes sit at -2 and 2. Scaled by s = 3.32 (the "
            "reference sample's largest |x| over 0.9), the target fits tanh's range and G "
            "learns it: W1 0.15-0.31 at iteration 300-500. Unscaled, every fake stays within "
            "[-1, 1], 93-97% of them piled within 0.05 of the ends, and W1 stays at 1.01-1.09: "
            "it cannot go below 0.98, the mean distance of the real samples to [-1, 1]."
        ),
        config=TANH_TWO_MODES,
        view=VIEW_1D,
        charts=("W₁",),
        lanes=[LaneSpec("tanh, no scaling", {"scale_target": False})],
        lane_title="tanh, target / 3.32",
        try_next=[
            TryNext(
                "Modes at -0.8 and 0.8, inside tanh's range",
                patch={"target": {"means": [-0.8, 0.8]}},
                lane="start",
            ),
        ],
    ),
}
PRESETS |= TRICK_PRESETS


def preset_named(name: str) -> Preset:
    """The preset called ``name``; ConfigError (field ``preset``) listing the names if none."""
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    return PRESETS[name]


def start_run(config: TrainConfig | dict[str, Any], preset: str | None = None) -> Trainer:
    """A Trainer of ``config`` (the preset's own, or patched) with the preset's warm-up
    applied, so the run starts where the lesson starts: what ``gandyn run --preset`` and
    ``gandyn compare`` do (a session's worker runs the same warm-up in turns)."""
    trainer = Trainer(config)
    if preset is not None:
        warm_up(trainer, preset_named(preset))
    return trainer


def start_lanes(config: TrainConfig | dict[str, Any], preset: str | None = None) -> Lanes:
    """The lanes of ``preset`` that start at iteration 0, lane 1 of ``config`` (the
    preset's own, or patched) and each other lane the same config with its patch; before
    the warm-up. Then the caller applies the warm-up to every lane (``Lanes.step``, in the
    worker's turns) and ``finish_lanes``."""
    spec = preset_named(preset) if preset is not None else None
    lanes = Lanes(config, patches=[])
    lanes.add({}, spec.lane_title if spec else "")
    for lane in spec.lanes if spec else []:
        if not lane.after_warmup:
            lanes.add(lane.patch, lane.title)
    return lanes


def finish_lanes(lanes: Lanes, preset: str | None) -> None:
    """The lanes forked from lane 1 once the warm-up is done (``LaneSpec.after_warmup``)."""
    first = lanes.lanes[0].id
    for lane in preset_named(preset).lanes if preset is not None else []:
        if lane.after_warmup:
            lanes.fork(first, lane.patch, title=lane.title)


def start_comparison(config: TrainConfig | dict[str, Any], preset: str | None = None) -> Lanes:
    """A preset's lanes with its warm-up applied to each, headless (what a session's
    worker does in turns): ``start_lanes``, the warm-up, ``finish_lanes``."""
    lanes = start_lanes(config, preset)
    for part, n in preset_named(preset).warmup if preset is not None else []:
        lanes.step(n, part=part)  # type: ignore[arg-type]
    finish_lanes(lanes, preset)
    return lanes


def open_try_next(lanes: Lanes, preset: str, item: TryNext, in_view: int) -> Lane:
    """The new lane that pressing ``item`` (a suggestion of ``preset`` with a ``lane``)
    opens in ``lanes``, with lane ``in_view`` the lane in view: ``"start"`` adds the base
    config with the patch at iteration 0 and applies the preset's warm-up to that lane only
    (at most the preset's warm-up steps, each within the server's max_step); ``"fork"``
    forks lane ``in_view`` with the patch live. LaneError when the set is full (4 lanes)."""
    if item.patch is None or item.lane is None:
        raise ValueError(f"{item.label!r} loads a preset; it opens no lane")
    if item.lane == "fork":
        return lanes.fork(in_view, item.patch, title=item.label)
    lane = lanes.add(item.patch, item.label)
    for part, n in preset_named(preset).warmup:
        lane.trainer.step(n, part=part)  # type: ignore[arg-type]
    return lane


def warm_up(trainer: Trainer, preset: Preset) -> None:
    """The preset's teaching steps, in order (recorded in the run's commands, so replayed)."""
    for part, n in preset.warmup:
        trainer.step(n, part=part)  # type: ignore[arg-type]
