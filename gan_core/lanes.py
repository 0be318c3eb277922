"""Lanes: one to four runs from one start, stepped together, so that a comparison shows
only what the user changed.

Every lane is a ``Trainer`` of its own config: the base config with a patch. All lanes share
the base's seed, so they draw the same batches where their configs draw the same amounts
(same batch size, steps and penalties), and every model whose architecture matches the
base's starts from bit-identical weights (G and D separately: a lane with another G keeps
the base's D). ``step(n)`` advances every lane n generator iterations, whatever its d_steps;
a lane that diverges halts alone (its ``Halt``) while the others go on.

A fork copies a lane's whole state (models, optimizer moments, RNG, iteration, command
log, trajectory) into a new lane and applies a patch there, as ``Trainer.update`` would.
``to_replay()`` is everything needed to rebuild the lanes exactly, small enough for a URL:
the base config, and per lane its start patch, its fork point and its command log;
``Lanes.from_replay`` rebuilds them by replaying each lane's log from the shared start
(``Lanes.replaying`` gives the same as a plan of bounded pieces, for a server that trains in
turns). ``save`` / ``restore`` keep the whole lane set as bytes (a checkpoint).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from gan_core.config import ConfigError, TrainConfig, merge, validate_config
from gan_core.limits import MAX_LANES
from gan_core.trainer import Part, Trainer

REPLAY_VERSION = 1


class LaneError(ValueError):
    """A lane operation that cannot be done (no such lane, too many, the last one)."""


@dataclass
class Lane:
    """One run of a lane set. ``start``: the patch of the base config it started from at
    iteration 0 (a fork's is its source's); ``forked``: ``{"lane", "at", "patch",
    "reset_moments"}`` when it was made by ``fork``, else None; ``title``: what the lane
    shows, for people ("minimax", "+ r1 gamma 1"; "" lets a client derive one)."""

    id: int
    trainer: Trainer
    start: dict[str, Any]
    forked: dict[str, Any] | None = None
    title: str = ""


class Lanes:
    """1 to MAX_LANES runs from one start: ``add``, ``fork``, ``close``, ``keep``, ``step``."""

    def __init__(
        self, base: TrainConfig | dict[str, Any] | None = None, patches: list[dict] | None = None
    ) -> None:
        """Lanes of ``base`` (the default config if None), one per patch (default: one lane
        of the base itself). Raises ConfigError for a bad base or patch."""
        self.base = validate_config(TrainConfig() if base is None else base)
        first = Trainer(self.base)  # the start: the models every matching lane begins from
        self._start_models = (first.G.state_dict(), first.D.state_dict())
        self.lanes: list[Lane] = []
        self.next_id = 1
        for patch in [{}] if patches is None else patches:
            self.add(patch)

    # ----- the set ---------------------------------------------------------------------
    def __iter__(self) -> Iterator[Lane]:
        return iter(self.lanes)

    def __len__(self) -> int:
        return len(self.lanes)

    def __getitem__(self, lane_id: int) -> Lane:
        for lane in self.lanes:
            if lane.id == lane_id:
                return lane
        raise LaneError(f"no lane {lane_id}; the lanes are {[lane.id for lane in self.lanes]}")

    def add(self, patch: dict[str, Any] | None = None, title: str = "") -> Lane:
        """A new lane from the start (iteration 0): the base config with ``patch``."""
        patch = {} if patch is None else patch
        self._room()
        config = validate_config(merge(self.base.model_dump(), patch))
        if config.seed != self.base.seed:
            raise ConfigError("seed", "lanes share the base's seed; start another lane set")
        trainer = Trainer(config)
        trainer.begin_from(*self._shared_models(config))
        return self._append(Lane(self.next_id, trainer, copy.deepcopy(patch), title=title))

    def fork(
        self, lane_id: int, patch: dict[str, Any], reset_moments: bool = False, title: str = ""
    ) -> Lane:
        """A new lane with lane ``lane_id``'s exact state and ``patch`` applied live, as
        ``Trainer.update(patch, reset_moments)`` (an empty patch: an exact copy)."""
        self._room()
        source = self[lane_id]
        trainer = copy.deepcopy(source.trainer)
        if patch:
            trainer.update(patch, reset_moments=reset_moments)
        forked = {
            "lane": lane_id,
            "at": source.trainer.iteration,
            "patch": copy.deepcopy(patch),
            "reset_moments": reset_moments,
        }
        return self._append(Lane(self.next_id, trainer, source.start, forked, title))

    def close(self, lane_id: int) -> None:
        """Remove a lane (never the last one)."""
        lane = self[lane_id]
        if len(self.lanes) == 1:
            raise LaneError(f"lane {lane_id} is the only lane; a lane set keeps at least one")
        self.lanes.remove(lane)

    def keep(self, lane_id: int) -> None:
        """Keep lane ``lane_id`` only; close every other."""
        self.lanes = [self[lane_id]]

    def _room(self) -> None:
        if len(self.lanes) >= MAX_LANES:
            raise LaneError(f"at most {MAX_LANES} lanes; close one first")

    def _append(self, lane: Lane) -> Lane:
        self.lanes.append(lane)
        self.next_id = lane.id + 1
        return lane

    def _shared_models(self, config: TrainConfig) -> tuple[dict | None, dict | None]:
        """The start's G and D state where this config builds them alike (None where not).
        Weights come from the seed, so a model is shared when the fields that shape it are
        equal; Dirac models come from dirac_init, not the seed, and are never shared."""
        if config.dataset == "dirac" or self.base.dataset == "dirac":
            return None, None
        g_state, d_state = self._start_models
        same_g = _g_shape(config) == _g_shape(self.base)
        same_d = _d_shape(config) == _d_shape(self.base)
        return (g_state if same_g else None), (d_state if same_d else None)

    # ----- training --------------------------------------------------------------------
    def step(self, n: int = 1, part: Part = "both") -> None:
        """Every lane n generator iterations (part 'd' or 'g': n single D or G updates, as
        ``Trainer.step``). Lanes are independent, so they are stepped in turn; a halted lane
        does nothing."""
        for lane in self.lanes:
            lane.trainer.step(n, part=part)

    # ----- reproducibility -------------------------------------------------------------
    def to_replay(self) -> dict[str, Any]:
        """What rebuilds these lanes exactly (JSON-ready): the base config (its non-default
        fields), and per lane its id, start patch, fork point, command log and the iteration
        to replay to (a halted lane replays through the iteration that halted it)."""
        return {
            "version": REPLAY_VERSION,
            "base": self.base.model_dump(mode="json", exclude_defaults=True),
            "next_id": self.next_id,
            "lanes": [
                {
                    "id": lane.id,
                    "title": lane.title,
                    "start": lane.start,
                    "forked": lane.forked,
                    "commands": [list(command) for command in lane.trainer.commands],
                    "iterations": _replay_target(lane.trainer),
                }
                for lane in self.lanes
            ],
        }

    @classmethod
    def from_replay(cls, data: dict[str, Any]) -> Lanes:
        """The lanes ``to_replay`` described, rebuilt bit for bit by replaying each lane's
        command log from the shared start."""
        lanes, plan = cls.replaying(data)
        for lane_id, kind, value in plan:
            replay_piece(lanes[lane_id].trainer, kind, value)
        return lanes

    @classmethod
    def replaying(cls, data: dict[str, Any]) -> tuple[Lanes, list[tuple[int, str, Any]]]:
        """The lanes of a replay at the shared start (iteration 0), and the plan that brings
        them where the replay says: ``(lane_id, kind, value)`` pieces, in order, each done by
        ``replay_piece(lanes[lane_id].trainer, kind, value)``: ``("until", at)`` full
        iterations up to iteration ``at``, ``("update", payload)``, ``("d" | "g", n)``.
        The same as ``gan_core.play`` of each lane's log (a server cuts "until" pieces into
        turns). Raises LaneError for what is not a replay, ConfigError for a bad config."""
        if data.get("version") != REPLAY_VERSION:
            raise LaneError(f"a lane replay of version {data.get('version')!r}; this reads 1")
        plan: list[tuple[int, str, Any]] = []
        try:
            lanes = cls(data["base"], patches=[])
            for item in data["lanes"]:
                lanes.next_id = item["id"]
                lane = lanes.add(item["start"], item.get("title", ""))
                lane.forked = item["forked"]
                for at, kind, payload in item["commands"]:
                    plan.append((lane.id, "until", at))
                    if kind == "update":
                        plan.append((lane.id, "update", payload))
                    else:
                        plan.append((lane.id, kind.removeprefix("step_"), payload["n"]))
                plan.append((lane.id, "until", item["iterations"]))
            lanes.next_id = data["next_id"]
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ConfigError):
                raise
            raise LaneError(f"not a lane replay (see Lanes.to_replay): {error!r}") from None
        if not lanes.lanes:
            raise LaneError("a lane replay holds at least one lane")
        return lanes, plan

    # ----- checkpoints -----------------------------------------------------------------
    def save(self) -> bytes:
        """The whole lane set as bytes (every lane's ``Trainer.save``, its id, title, start
        and fork point, the shared start models): ``Lanes.restore`` continues it exactly."""
        buffer = io.BytesIO()
        torch.save(
            {
                "base": self.base.model_dump(mode="json"),
                "start_models": self._start_models,
                "next_id": self.next_id,
                "lanes": [
                    (lane.id, lane.start, lane.forked, lane.title, lane.trainer.save())
                    for lane in self.lanes
                ],
            },
            buffer,
        )
        return buffer.getvalue()

    @classmethod
    def restore(cls, data: bytes) -> Lanes:
        """The lane set ``save`` returned (from our own ``save`` only: it is unpickled)."""
        saved = torch.load(io.BytesIO(data), weights_only=False)
        lanes = cls.__new__(cls)
        lanes.base = validate_config(saved["base"])
        lanes._start_models = saved["start_models"]
        lanes.next_id = saved["next_id"]
        lanes.lanes = [
            Lane(lane_id, Trainer.restore(trainer), start, forked, title)
            for lane_id, start, forked, title, trainer in saved["lanes"]
        ]
        return lanes


def replay_piece(trainer: Trainer, kind: str, value: Any) -> None:
    """One piece of a ``Lanes.replaying`` plan on its lane's trainer (all of it)."""
    if kind == "until":
        trainer.step(max(0, value - trainer.iteration))
    elif kind == "update":
        trainer.update(value["patch"], reset_moments=value["reset_moments"])
    else:
        trainer.step(value, part=kind)  # type: ignore[arg-type]


def _g_shape(config: TrainConfig) -> tuple:
    return (config.dim, config.z_dim, tuple(config.g_hidden), config.g_norm)


def _d_shape(config: TrainConfig) -> tuple:
    """What shapes D's layers (models.build_models): its input width depends on packing and
    minibatch stddev, an autoencoder D has another output, a tanh G with scaling puts a
    Scale layer first, and the norm adds layers."""
    scaled = config.g_output == "tanh" and config.scale_target
    layout = (config.discriminator, config.pack, config.minibatch_stddev)
    return (config.dim, tuple(config.d_hidden), config.d_norm, scaled, *layout)


def _replay_target(trainer: Trainer) -> int:
    """The iteration a replay steps to: a halted run is back at its last checkpoint, and its
    replay must run into the iteration that halted it to halt the same way."""
    halt = trainer.halt
    return trainer.iteration if halt is None else max(trainer.iteration, halt.iteration + 1)
