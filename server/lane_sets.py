"""The lane set a ``reset`` asks for (docs/protocol.md §11), checked before it replaces a
session's: a preset's lanes, lane 1 of a config with more lanes from the start, or the lanes
of an exported replay with the plan that trains them back. Every config is checked against
the server's limits (server.protocol.check_config_limits: one iteration of all the lanes
together must fit a turn), and every error names the field inside the command."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gan_core import ConfigError, TrainConfig, validate_config
from gan_core.config import apply_patch, merge
from gan_core.lanes import LaneError, Lanes
from server.presets import PRESETS, start_lanes
from server.protocol import ProtocolError, Reset, check_config_limits
from server.settings import Limits

# A piece of a job trained in turns (server.worker.Training): (lane id, or None for every
# lane; part; n or payload).
Piece = tuple[int | None, str, Any]


@contextmanager
def config_errors(locate: Callable[[str], str], named: str = "") -> Iterator[None]:
    """Turn a config problem into an ``invalid`` error naming the field in the command (and
    ``named``, e.g. "lane 2: ", before its message)."""
    try:
        yield
    except ConfigError as error:
        raise ProtocolError("invalid", named + error.message, locate(error.field)) from None
    except ProtocolError as error:
        error.field = locate(error.field) if error.field else None
        raise


def new_lanes(command: Reset, current: TrainConfig, limits: Limits) -> Lanes:
    """The lane set of a reset with a preset, a config or a patch (``current``: the first
    lane's config, which a reset with only a patch patches), before any warm-up; every
    config checked against the server's ``limits``, the errors naming the field."""
    if command.preset is not None and command.preset not in PRESETS:
        allowed = ", ".join(PRESETS)
        raise ProtocolError(
            "invalid", f"unknown preset {command.preset!r}; allowed: {allowed}", "preset"
        )
    if command.config is not None:
        base = command.config
    elif command.preset is not None:
        base = PRESETS[command.preset].config
    else:
        base = current.model_dump()

    def locate(field: str) -> str:
        if field.split(".")[0] in (command.patch or {}):
            return "patch." + field
        return "config." + field if command.config is not None else "preset"

    with config_errors(locate):
        config = validate_config(merge(base, command.patch or {}))
        check_config_limits(config, limits)
        # Building the trainers, the engine may refuse more (e.g. points without points).
        lanes = start_lanes(config, command.preset) if command.preset else Lanes(config)
    for i, spec in enumerate(command.lanes or []):
        with config_errors(lambda field, i=i: f"lanes.{i}.patch.{field}"):
            lane = lanes.add(spec.patch, spec.title)
            check_config_limits(lane.trainer.config, limits)
    configs = [lane.trainer.config for lane in lanes]
    with config_errors(locate):
        check_config_limits(configs[0], limits, configs[1:])
    return lanes


def replayed_lanes(data: dict[str, Any], limits: Limits) -> tuple[Lanes, list[Piece]]:
    """The lanes of a replay (server.protocol.check_replay checked its shape) at their
    start, every config in it checked, and the plan that trains them there."""
    with config_errors(lambda field: "replay.base." + field):
        base = validate_config(data["base"])
        check_config_limits(base, limits)
    finals = []
    for i, item in enumerate(data["lanes"]):
        with config_errors(lambda field, i=i: f"replay.lanes.{i}.start.{field}"):
            config = validate_config(merge(base.model_dump(), item["start"]))
            check_config_limits(config, limits)
        for j, (_, kind, payload) in enumerate(item["commands"]):
            if kind != "update":
                continue
            where = f"replay.lanes.{i}.commands.{j}.2.patch."
            with config_errors(lambda field, where=where: where + field):
                config = apply_patch(config, payload["patch"])
                check_config_limits(config, limits)
        finals.append(config)
    with config_errors(lambda field: "replay.base." + field):
        check_config_limits(finals[0], limits, finals[1:])
        try:
            lanes, plan = Lanes.replaying(data)
        except LaneError as error:
            raise ProtocolError("invalid", str(error), "replay") from None
    return lanes, list(plan)
