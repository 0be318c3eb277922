"""Trainer: owns the models, the optimizers, the RNG and the step count of one run.

One generator iteration (alternating scheme) is ``d_steps`` discriminator updates followed by
``g_steps`` generator updates. The simultaneous scheme computes both players' gradients at
the same point and applies them together (the Dirac-GAN lesson needs both). The
extragradient scheme (Korpelevich 1976; Gidel et al. 2019) takes a simultaneous step to an
extrapolated point, then steps from the original point with the gradients found there.
In both joint schemes the first ``d_steps - 1`` D updates and the last ``g_steps - 1`` G
updates are plain ones.

Reproducible: the same config and the same ``commands`` replay the same run bit for bit on
the same machine (see ``replay``). Nothing raises past the Trainer while training: a
non-finite loss, gradient or parameter (or a plug-in that fails) halts the run in a
``Halt`` that names the quantity and the iteration, and restores the last finite state.
"""

from __future__ import annotations

import copy
import io
import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from gan_core.config import ConfigError, TrainConfig, apply_patch, merge, validate_config
from gan_core.datasets import make_target, tanh_scale
from gan_core.losses import LOSSES, flipped_label_loss
from gan_core.metrics import evaluator_for
from gan_core.models import build_models, draw_latent
from gan_core.optimizers import make_optimizer
from gan_core.probes import snapshot
from gan_core.regularizers import REGULARIZERS, Critic
from gan_core.unrolled import unrolled_critic

CHECKPOINT_EVERY = 50
# A loss or gradient norm beyond this has exploded: a few more steps overflow float32.
EXPLODED = 1e10
# The Dirac trajectory keeps at most this many points (plus the current one): when it is
# full, every other point is dropped and points are then kept half as often, so that it
# always spans the whole run (iterations 0, s, 2s, ... for a stride s that doubles).
TRAJECTORY_POINTS = 1024
# The command log (for replay) keeps at most this many entries, and patches of at most this
# many bytes in all (as JSON; a patch may carry a whole target.points list): live edits made at
# one iteration are merged into one entry. Past either cap, ``update`` refuses. A run's log, and
# so a lane's part of an export, is then at most about 1.5 MiB (1 MiB of patches, and 10,000
# entries of some 50 bytes besides).
MAX_COMMANDS = 10_000
MAX_COMMAND_BYTES = 2**20
Part = Literal["both", "d", "g"]


@dataclass(frozen=True)
class Halt:
    """Why training stopped by itself."""

    kind: Literal["diverged", "error"]
    quantity: str
    iteration: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("kind", "quantity", "iteration", "message")}


class NonFinite(Exception):
    def __init__(self, quantity: str) -> None:
        super().__init__(quantity)
        self.quantity = quantity


class Trainer:
    """A GAN training run: ``step``, ``update`` (live, validated), ``reset``, ``snapshot``."""

    def __init__(self, config: TrainConfig | dict[str, Any] | None = None) -> None:
        self.reset(TrainConfig() if config is None else config)

    # ----- lifecycle -------------------------------------------------------------------
    def reset(self, config: TrainConfig | dict[str, Any] | None = None) -> TrainConfig:
        """Back to iteration 0, with a new config if given (validated, ConfigError if not)."""
        cfg = self.config if config is None else validate_config(config)
        target = make_target(cfg)
        self.config = cfg
        self.target = target
        self.data_scale = tanh_scale(cfg, target)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.G, self.D = build_models(cfg, self.data_scale)
        self.G.eval()  # G rests in eval mode (views, metrics); ``step`` trains it in train mode
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.g_params, self.d_params = list(self.G.parameters()), list(self.D.parameters())
        self.rng = torch.Generator().manual_seed(cfg.seed)
        self.opt_g = make_optimizer(self.g_params, cfg.opt_g)
        self.opt_d = make_optimizer(self.d_params, cfg.opt_d)
        self.iteration = 0
        self.halt: Halt | None = None
        self.commands: list[tuple[int, str, dict[str, Any]]] = []
        self._log_bytes = 0  # the JSON bytes of every patch logged (bounded: MAX_COMMAND_BYTES)
        self.last: dict[str, Tensor | float] = {}
        self.trajectory: list[tuple[float, float]] = []
        self.averages: dict[str, Any] | None = None
        self._trajectory_stride, self._trajectory_tail = 1, False
        self._merge_next_update = False
        self._configure()
        self._record_trajectory()
        self._checkpoint = self._state()
        return cfg

    def begin_from(self, g_state: dict | None, d_state: dict | None) -> None:
        """At iteration 0 only: take these initial weights (state dicts of a G and a D of the
        same architecture) instead of the seed's; None keeps the model as built. Lanes use it
        so that runs of one start share every model whose architecture matches."""
        if self.iteration or self.commands:
            raise RuntimeError("begin_from applies at iteration 0, before any command")
        for model, state in ((self.G, g_state), (self.D, d_state)):
            if state is not None:
                model.load_state_dict(state)
        self.G_ema.load_state_dict(self.G.state_dict())  # the average starts at G
        self.averages = None
        self._configure()  # historical averaging's means start at these weights
        self._checkpoint = self._state()

    def update(self, patch: dict[str, Any], reset_moments: bool = False) -> TrainConfig:
        """Apply a live config change; returns the new config.

        Learning rates, betas and momentum are edited in the optimizers' param_groups in
        place. A change of optimizer kind makes a fresh optimizer (its moments cannot carry
        over to another algorithm). ``reset_moments=True`` also clears both optimizers'
        state; the default keeps it (so a loss switch keeps Adam's moments). Layer sizes,
        activation, z_dim, seed and dirac_init raise ConfigError: they apply on reset.
        An update clears a halt, training resumes from the restored finite state.
        """
        new = apply_patch(self.config, patch)
        size = len(json.dumps(patch))
        if self.commands_full() or self._log_bytes + size > MAX_COMMAND_BYTES:
            raise ConfigError(
                "patch",
                f"this run has had as many changes as its replay keeps ({MAX_COMMANDS} changes, "
                f"{MAX_COMMAND_BYTES // 2**10} KiB of them in all); reset (or export the run "
                "and start again) to change it further",
            )
        self._log_bytes += size
        old = self.config
        self.config = new
        if new.dataset != old.dataset or new.target != old.target:
            self.target = make_target(new)
        for who, params in (("opt_g", self.g_params), ("opt_d", self.d_params)):
            opt = getattr(self, who)
            updated = self._updated_optimizer(
                opt, params, getattr(old, who), getattr(new, who), reset_moments
            )
            if updated is not opt:  # a halt must not load the old kind's state into it
                self._checkpoint[who] = copy.deepcopy(updated.state_dict())
            setattr(self, who, updated)
        self._configure()
        self.halt = None
        # An edit that keeps both optimizers' kinds merges with one made just before it at
        # the same iteration: applying the merged patch once is the same change.
        keeps_kinds = new.opt_g.name == old.opt_g.name and new.opt_d.name == old.opt_d.name
        last = self.commands[-1] if self.commands else None
        if keeps_kinds and self._merge_next_update and last and last[0] == self.iteration:
            merged = merge(last[2]["patch"], patch)
            reset = last[2]["reset_moments"] or reset_moments
            self.commands[-1] = (
                self.iteration,
                "update",
                {"patch": merged, "reset_moments": reset},
            )
        else:
            self.commands.append(
                (self.iteration, "update", {"patch": patch, "reset_moments": reset_moments})
            )
        self._merge_next_update = keeps_kinds
        return new

    def _updated_optimizer(self, opt: Any, params: list, old: Any, new: Any, reset: bool) -> Any:
        if new.name != old.name or reset:
            return make_optimizer(params, new)
        for group in opt.param_groups:
            group["lr"] = new.lr
            if "betas" in group:
                group["betas"] = tuple(new.betas)
            if "momentum" in group:
                group["momentum"] = new.momentum
        return opt

    def _configure(self) -> None:
        """Resolve the config's names to the registered loss and regularizers."""
        cfg = self.config
        self.loss = LOSSES.get(cfg.loss)
        self.loss_params = {name: getattr(cfg, name) for name in self.loss.config_params}
        self.regularizers = [(REGULARIZERS.get(r.kind), r) for r in cfg.regularizers]
        spectral = [s for spec, s in self.regularizers if spec.spectral_norm]
        self.D.set_spectral_norm(spectral[0].weight if spectral else None)
        self.joint = [(spec, s) for spec, s in self.regularizers if spec.joint_penalty]
        if not any(spec.param_penalty for spec, _ in self.regularizers):
            self.averages = None
        elif self.averages is None:  # switched on: the mean starts at the parameters now
            self.averages = {
                "count": 1,
                "g": [p.detach().clone() for p in self.g_params],
                "d": [p.detach().clone() for p in self.d_params],
            }

    # ----- training ----------------------------------------------------------------------
    def step(self, n: int = 1, part: Part = "both") -> None:
        """n generator iterations; part 'd' or 'g' makes n single D or G updates (teaching)
        that do not advance the iteration count. Does nothing while halted."""
        if self.halt is not None:
            return
        if part != "both":
            self._log_part_step(f"step_{part}", n)
        self.G.train()  # batch norm in G: batch statistics, running averages updated
        try:
            self._steps(n, part)
        finally:
            self.G.eval()

    def _steps(self, n: int, part: Part) -> None:
        for _ in range(n):
            try:
                if part == "d":
                    self._d_step()
                    self._move_current_point()
                elif part == "g":
                    self._g_step()
                    self._average_generator()
                    self._move_current_point()
                else:
                    self._iteration()
            except NonFinite as bad:
                self._stop(
                    "diverged", bad.quantity, f"{bad.quantity} exploded (NaN, inf or > 1e10)"
                )
                return
            except Exception as error:  # a plug-in, or torch, failed: report it, keep serving
                self._stop("error", type(error).__name__, str(error))
                return

    def commands_full(self) -> bool:
        """The command log holds MAX_COMMANDS entries: ``update`` refuses, and a server
        should refuse part steps too (they are logged)."""
        return len(self.commands) >= MAX_COMMANDS or self._log_bytes >= MAX_COMMAND_BYTES

    def _log_part_step(self, kind: str, n: int) -> None:
        """Log a D-only or G-only step; one of the same kind just before, at the same
        iteration, grows by n instead (the same updates in the same order)."""
        last = self.commands[-1] if self.commands else None
        if last and last[0] == self.iteration and last[1] == kind:
            self.commands[-1] = (self.iteration, kind, {"n": last[2]["n"] + n})
        else:
            self.commands.append((self.iteration, kind, {"n": n}))
        self._merge_next_update = False

    def _iteration(self) -> None:
        cfg = self.config
        if cfg.update_scheme != "alternating":
            for _ in range(cfg.d_steps - 1):
                self._d_step()
            if cfg.update_scheme == "extragradient":
                self._extragradient_step()
            else:
                self._simultaneous_step()
            for _ in range(cfg.g_steps - 1):
                self._g_step()
        else:
            for _ in range(cfg.d_steps):
                self._d_step()
            for _ in range(cfg.g_steps):
                self._g_step()
        self._average_generator()
        self._average_parameters()
        self.iteration += 1
        self._merge_next_update = False
        self._record_trajectory()
        if self.iteration % CHECKPOINT_EVERY == 0:
            self._check_parameters()
            self._checkpoint = self._state()

    def _average_generator(self) -> None:
        """The generator's exponential moving average (Yazici et al. 2019), once per
        generator iteration (and per teaching G step), after its updates:

            theta_ema <- beta theta_ema + (1 - beta) theta,   beta = g_ema

        With beta = 0 (off) it is G itself, so switching it on starts the average at G.
        Batch norm's running statistics are copied from G (the usual stand-in: there are no
        statistics of the averaged weights without another pass)."""
        beta = self.config.g_ema
        with torch.no_grad():
            for ema, p in zip(self.G_ema.parameters(), self.g_params, strict=True):
                ema.lerp_(p, 1.0 - beta)
            for ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
                ema.copy_(b)  # batch norm's running statistics: G's own, not averaged

    def _average_parameters(self) -> None:
        """The running means of both players' parameters that historical averaging pulls
        towards: theta_bar <- theta_bar + (theta - theta_bar) / t, once per iteration."""
        if self.averages is None:
            return
        self.averages["count"] += 1
        with torch.no_grad():
            for who, params in (("g", self.g_params), ("d", self.d_params)):
                for mean, p in zip(self.averages[who], params, strict=True):
                    mean.add_((p - mean) / self.averages["count"])

    def _param_penalty(self, who: str, params: list[Tensor]) -> Tensor | float:
        """The terms of ``param_penalty`` regularizers for one player ('g' or 'd')."""
        total: Tensor | float = 0.0
        if self.averages is None:
            return total
        for spec, settings in self.regularizers:
            if spec.param_penalty is not None:
                value = spec.param_penalty(params, self.averages[who], settings)
                self.last[f"penalty.{spec.name}.{who}"] = value.detach()
                total = total + value
        return total

    def _noise(self, n: int) -> Tensor:
        return draw_latent(self.config, n, self.rng)

    def _real(self) -> Tensor:
        return self.target.sample(self.config.batch_size, self.rng)

    def _perturb(self, x: Tensor) -> Tensor:
        for spec, settings in self.regularizers:
            if spec.perturb is not None:
                x = spec.perturb(x, settings, self.iteration, self.rng)
        return x

    def _d_objective(
        self, real: Tensor, fake: Tensor, critic: Critic | None = None, record: bool = True
    ) -> Tensor:
        """L_D plus every active penalty, on D's (perturbed) inputs (one D pass for both);
        ``critic`` is D unless given (an unrolled D); ``record``: keep the values in last."""
        critic = self.D if critic is None else critic
        real, fake = self._perturb(real), self._perturb(fake)
        if self.D.batch_dependent:  # a batch of one kind per call (packs, batch stddev)
            real_scores, fake_scores = critic(real), critic(fake)
        else:
            real_scores, fake_scores = critic(torch.cat([real, fake])).split(real.shape[0])
        if self.config.label_noise:
            d_loss = flipped_label_loss(
                self.loss, real_scores, fake_scores, self.config.label_noise, self.rng
            )
        else:
            d_loss = self.loss.d_loss(real_scores, fake_scores, **self.loss_params)
        total = d_loss
        if record:
            self.last["d_loss"] = d_loss.detach()
        for spec, settings in self.regularizers:
            if spec.penalty is not None:
                value = spec.penalty(critic, real, fake, settings, self.rng)
                if record:
                    self.last[f"penalty.{spec.name}"] = value.detach()
                total = total + value
        if critic is self.D:
            total = total + self._param_penalty("d", self.d_params)
        return total

    def _g_objective(self, fake: Tensor) -> Tensor:
        """L_G, against D or, with unroll_steps = k, against D after k differentiable D steps
        on one real and this fake batch (gan_core.unrolled); a real batch is drawn for losses
        that compare with it (relativistic, feature matching). A feature loss sees D's last
        hidden features, not its scores (config refuses it with unrolling)."""
        k = self.config.unroll_steps
        if not k:
            return self._g_loss_against(
                self.D.features if self.loss.g_on_features else self.D, fake
            )
        real = self._real()
        self.D.eval()  # spectral norm's power iteration is not part of the lookahead
        try:
            critic = unrolled_critic(
                self.D, self.opt_d, lambda c: self._d_objective(real, fake, c, False), k
            )
            return self._g_loss_against(critic, fake)
        finally:
            self.D.train()

    def _g_loss_against(self, d_out: Critic, fake: Tensor) -> Tensor:
        fake_scores = d_out(self._perturb(fake))
        uses_real = self.loss.uses_real_in_g or self.loss.g_on_features
        real_scores = d_out(self._perturb(self._real())) if uses_real else fake_scores
        g_loss = self.loss.g_loss(real_scores, fake_scores)
        self.last["g_loss"] = g_loss.detach()
        return g_loss + self._param_penalty("g", self.g_params)

    def _d_step(self) -> None:
        if self.joint:  # a joint penalty needs both players' gradients
            loss, _ = self._joint_gradients()
        else:
            real = self._real()
            with torch.no_grad():
                fake = self.G(self._noise(self.config.batch_size))
            loss = self._d_objective(real, fake)
            self.opt_d.zero_grad(set_to_none=True)
            loss.backward()
        self._apply(self.opt_d, self.d_params, loss, "d")
        self._constrain()

    def _g_step(self) -> None:
        if self.joint:
            _, loss = self._joint_gradients()
            self._apply(self.opt_g, self.g_params, loss, "g")
            return
        fake = self.G(self._noise(self.config.batch_size))
        for p in self.d_params:
            p.requires_grad_(False)
        try:
            loss = self._g_objective(fake)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            for p in self.d_params:
                p.requires_grad_(True)
        self._apply(self.opt_g, self.g_params, loss, "g")

    def _joint_gradients(self) -> tuple[Tensor, Tensor]:
        """Both players' gradients at the same parameters, into ``.grad``; (L_D total, L_G).
        A joint penalty P(v) of the field v = (grad_G L_G, grad_D L_D) (consensus) adds
        grad P to both: v is kept in the graph, and L_D sees G's samples undetached so that
        grad_D L_D depends on G."""
        real = self._real()
        fake = self.G(self._noise(self.config.batch_size))
        joint = bool(self.joint)
        d_total = self._d_objective(real, fake if joint else fake.detach())
        g_loss = self._g_objective(fake)
        d_grads = torch.autograd.grad(d_total, self.d_params, create_graph=joint)
        g_grads = torch.autograd.grad(g_loss, self.g_params, create_graph=joint)
        if joint:
            d_grads, g_grads = self._with_joint_penalty(d_grads, g_grads)
        for params, grads in ((self.d_params, d_grads), (self.g_params, g_grads)):
            for p, grad in zip(params, grads, strict=True):
                p.grad = grad
        return d_total, g_loss

    def _with_joint_penalty(self, d_grads: tuple, g_grads: tuple) -> tuple[list, list]:
        penalty: Tensor | float = 0.0
        for spec, settings in self.joint:
            value = spec.joint_penalty([*d_grads, *g_grads], settings)
            self.last[f"penalty.{spec.name}"] = value.detach()
            penalty = penalty + value
        extra = torch.autograd.grad(penalty, self.d_params + self.g_params, allow_unused=True)
        total = [
            v.detach() if e is None else (v + e).detach()
            for v, e in zip([*d_grads, *g_grads], extra, strict=True)
        ]
        return total[: len(d_grads)], total[len(d_grads) :]

    def _joint_update(self, d_total: Tensor, g_loss: Tensor) -> None:
        self._apply(self.opt_d, self.d_params, d_total, "d")
        self._apply(self.opt_g, self.g_params, g_loss, "g")
        self._constrain()

    def _simultaneous_step(self) -> None:
        """Both players' gradients at the same parameters, then both updates."""
        self._joint_update(*self._joint_gradients())

    def _extragradient_step(self) -> None:
        """Extragradient (Korpelevich 1976; Gidel et al. 2019, Algorithm "extra" + optimizer):

            w_{t+1/2} = w_t - eta F(w_t),   w_{t+1} = w_t - eta F(w_{t+1/2})

        with F = (grad_theta L_G, grad_psi L_D) and each "- eta F" the player's own optimizer
        step (a fresh batch at each point). As in Gidel et al.'s Extra-Adam
        (GauthierGidel/Variational-Inequality-GAN, optim/extragradient.py), both steps update
        the optimizer's state, and constraints (clipping) project both points. With SGD on the
        bilinear game the map is (1 - h^2) I + h A: it contracts by sqrt(1 - h^2 + h^4)."""
        start = [p.detach().clone() for p in self.g_params + self.d_params]
        self._simultaneous_step()
        gradients = self._joint_gradients()
        with torch.no_grad():
            for p, value in zip(self.g_params + self.d_params, start, strict=True):
                p.copy_(value)
        self._joint_update(*gradients)

    def _constrain(self) -> None:
        for spec, settings in self.regularizers:
            if spec.constrain is not None:
                spec.constrain(self.D, settings)

    def _apply(self, opt: Any, params: list[Tensor], loss: Tensor, who: str) -> None:
        """Take the optimizer step unless the loss or the gradient is not finite or beyond
        EXPLODED (one comparison: it is false for NaN and inf too)."""
        grad_norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        if not bool(loss.abs() + grad_norm < EXPLODED):
            raise NonFinite(f"{who}_loss" if not bool(loss.abs() < EXPLODED) else f"grad_{who}")
        opt.step()

    def _check_parameters(self) -> None:
        """Parameters can only turn non-finite through an exploding step, which the loss check
        catches one step later; this check keeps checkpoints finite."""
        for who, params in (("g", self.g_params), ("d", self.d_params)):
            if not bool(torch.isfinite(torch.cat([p.reshape(-1) for p in params])).all()):
                raise NonFinite(f"param_{who}")

    # ----- halting and checkpoints -------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "G": self.G.state_dict(),
                "G_ema": self.G_ema.state_dict(),
                "averages": self.averages,
                "D": self.D.state_dict(),
                "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(),
                "rng": self.rng.get_state(),
                "iteration": self.iteration,
                "trajectory": (self.trajectory, self._trajectory_stride, self._trajectory_tail),
            }
        )

    def _stop(self, kind: Literal["diverged", "error"], quantity: str, what: str) -> None:
        at = self.iteration
        self._load(self._checkpoint)
        self.last = {}  # the losses of the failed step do not describe the restored models
        self._merge_next_update = False
        advice = (
            "Lower the learning rate or reset"
            if kind == "diverged"
            else "Change the configuration or reset"
        )
        self.halt = Halt(
            kind=kind,
            quantity=quantity,
            iteration=at,
            message=(
                f"Training {'diverged' if kind == 'diverged' else 'failed'} at iteration {at}: "
                f"{what}. The models are back at iteration {self.iteration}, the last finite "
                f"state. {advice} to go on."
            ),
        )

    def _load(self, state: dict[str, Any]) -> None:
        """Back to a ``_state()``."""
        self.G.load_state_dict(state["G"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.averages = copy.deepcopy(state["averages"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.rng.set_state(state["rng"])
        self.iteration = state["iteration"]
        trajectory, self._trajectory_stride, self._trajectory_tail = state["trajectory"]
        self.trajectory = list(trajectory)
        self._configure()  # historical averaging switched on or off since that state

    def _record_trajectory(self) -> None:
        """Keep (theta, psi) of the Dirac-GAN: its last point is always the current one, the
        others lie every ``_trajectory_stride`` iterations (TRAJECTORY_POINTS at most)."""
        if self.config.dataset != "dirac":
            return
        point = (self.G.theta.item(), self.D.body.weight.item())
        if self._trajectory_tail:  # the previous current point lies between strides
            self.trajectory.pop()
        self.trajectory.append(point)
        self._trajectory_tail = self.iteration % self._trajectory_stride != 0
        if not self._trajectory_tail and len(self.trajectory) > TRAJECTORY_POINTS:
            self.trajectory = self.trajectory[::2]  # iterations 0, 2s, 4s, ...
            self._trajectory_stride *= 2
            if self.iteration % self._trajectory_stride:  # the current point went: keep it
                self.trajectory.append(point)
                self._trajectory_tail = True

    def _move_current_point(self) -> None:
        """After a D-only or G-only update the Dirac point has moved within the iteration:
        it becomes the trajectory's last point (a tail, replaced by the next iteration's)."""
        if self.config.dataset != "dirac":
            return
        point = (self.G.theta.item(), self.D.body.weight.item())
        if self._trajectory_tail:
            self.trajectory[-1] = point
        else:
            self.trajectory.append(point)
            self._trajectory_tail = True

    # ----- saving ------------------------------------------------------------------------
    def save(self) -> bytes:
        """The whole run as bytes (models, optimizer moments, RNG, iteration, trajectory,
        command log, halt): ``Trainer.restore`` continues it exactly where it was. A few
        times the models' size (Adam keeps two moments per parameter)."""
        buffer = io.BytesIO()
        torch.save(
            {
                "config": self.config.model_dump(mode="json"),
                "state": self._state(),
                "commands": self.commands,
                "log_bytes": self._log_bytes,
                "halt": self.halt,
                "last": self.cheap_metrics(),
            },
            buffer,
        )
        return buffer.getvalue()

    @classmethod
    def restore(cls, data: bytes) -> Trainer:
        """The run ``save`` returned, to go on training (from our own ``save`` only: it is
        unpickled)."""
        saved = torch.load(io.BytesIO(data), weights_only=False)
        tr = cls(saved["config"])
        tr._checkpoint = saved["state"]
        tr._load(saved["state"])
        tr.commands = saved["commands"]
        tr._log_bytes = saved["log_bytes"]
        tr.halt = saved["halt"]
        tr.last = saved["last"]
        return tr

    # ----- reading -----------------------------------------------------------------------
    def sample(self, n: int, averaged: bool = False) -> np.ndarray:
        """n fake samples as numpy (n, dim), of G or (``averaged``) of its moving average;
        uses its own fixed-seed latent draw, so reading never changes the training run, and
        truncated when config.truncation > 0 (draw_latent)."""
        rng = torch.Generator().manual_seed(self.config.seed + 1)
        z = draw_latent(self.config, n, rng, self.config.truncation)
        with torch.no_grad():
            return (self.G_ema if averaged else self.G)(z).numpy().astype(np.float32)

    def snapshot(self, view: Any = None) -> dict[str, Any]:
        """What a view needs now: see docs/engine-contract.md."""
        return snapshot(self, view)

    def evaluate(self, n: int = 2500) -> dict[str, float]:
        """Costly metrics of n fake samples: W1 (and its real-vs-real floor), modes, KL/JS;
        with g_ema on, the same of the averaged generator's samples as ``<name>_ema``."""
        metrics = self._evaluate(self.sample(n))
        if self.config.g_ema > 0:
            averaged = self._evaluate(self.sample(n, averaged=True))
            metrics.update({f"{key}_ema": value for key, value in averaged.items()})
        return metrics

    def _evaluate(self, fake: np.ndarray) -> dict[str, float]:
        if not np.isfinite(fake).all():
            return {}  # samples far out of range: no honest number to give
        return evaluator_for(self.target).evaluate(fake)

    def cheap_metrics(self) -> dict[str, float]:
        """The losses and penalty values of the last updates."""
        return {key: float(value) for key, value in self.last.items()}


def replay(config: TrainConfig | dict[str, Any], commands: list, iterations: int) -> Trainer:
    """Rebuild a run: the config, then each (iteration, kind, payload) command at its iteration."""
    return play(Trainer(config), commands, iterations)


def play(tr: Trainer, commands: list, iterations: int) -> Trainer:
    """Run a fresh Trainer through each (iteration, kind, payload) command at its iteration,
    then on to ``iterations``."""
    for at, kind, payload in commands:
        tr.step(at - tr.iteration)
        if kind == "update":
            tr.update(payload["patch"], reset_moments=payload["reset_moments"])
        else:
            tr.step(payload["n"], part=kind.removeprefix("step_"))
    tr.step(iterations - tr.iteration)
    return tr
