"""The session protocol (docs/protocol.md, version 2): every message in and out, and frames.

Commands are parsed and checked against the server's limits here, on the event loop, so
the worker only ever sees valid commands. Outgoing JSON messages are pydantic models;
frames are a small binary container of a JSON header and row-major arrays.
"""

from __future__ import annotations

import itertools
import json
import math
import struct
import time
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from gan_core.view_options import ViewOptions as ProbeOptions
from server.settings import Limits

PROTOCOL_VERSION = 2
FRAME_MAGIC = b"GDF1"
Q16_STEPS = 65534  # q in 0..65534 maps linearly onto [lo, hi]
Q16_NOT_FINITE = 65535

CommandId = int | str | None


MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer every JSON client (JavaScript) can hold


def valid_id(value: Any) -> bool:
    """None, an integer JavaScript can hold exactly, or a string of at most 64 characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) <= MAX_SAFE_INTEGER
    return value is None or (isinstance(value, str) and len(value) <= 64)


def _check_id(value: Any) -> CommandId:
    if not valid_id(value):
        raise ValueError(
            "id must be an integer within ±(2**53 - 1) or a string of at most 64 characters"
        )
    return value  # type: ignore[no-any-return]


ClientId = Annotated[Any, AfterValidator(_check_id)]
Part = Literal["both", "d", "g"]
PROBE_OPTIONS = set(ProbeOptions.model_fields)
RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


class ProtocolError(Exception):
    """A command that cannot be carried out; becomes an ``error`` reply."""

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        command: str | None = None,
        id: CommandId = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.command = command
        self.id = id

    def __reduce__(self) -> tuple[Any, ...]:  # sent to a worker process whole
        return (ProtocolError, (self.code, self.message, self.field, self.command, self.id))


# --- the state a client tunes: what frames contain, how fast they come ------------------


class ViewOptions(ProbeOptions):
    """What frames contain (docs/protocol.md §2 view, §7 arrays): the engine's view options
    (their defaults and ranges, gan_core.probes.ViewOptions) and the frame's own."""

    model_config = ConfigDict(extra="forbid", strict=True)

    trails: int = Field(0, description="past positions of each fake sample sent (0 = off)")
    precision: Literal["q16", "f32"] = Field("q16", description="array encoding in frames")
    omit: list[str] = Field(default_factory=list, max_length=32, description="arrays not sent")
    spectrum: bool = Field(
        False, description="spectrum events: the eigenvalues of the game's Jacobian (MLP lanes)"
    )

    def probe_options(self) -> dict[str, int]:
        """The part the engine's snapshot understands (gan_core ViewOptions)."""
        return self.model_dump(include=PROBE_OPTIONS)


class PaceOptions(BaseModel):
    """How fast frames come and training runs while playing (docs/protocol.md §4)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    fps: int = Field(30, description="frames per second while playing")
    steps_per_frame: int = Field(0, description="iterations between frames (0 = full speed)")
    slow_motion: float = Field(
        0.0,
        strict=False,  # false and true are read as 0 and 1 second (protocol.md §4)
        description="seconds per iteration, one frame after each (0 = off)",
    )


# --- commands ------------------------------------------------------------------------------


class Command(BaseModel):
    """JSON types are taken as they are (strict): "5" is not an integer, true is not 1."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: str
    id: ClientId = Field(None, description="echoed in the reply")


class Play(Command):
    type: Literal["play"]


class Pause(Command):
    type: Literal["pause"]


class Step(Command):
    type: Literal["step"]
    n: int = Field(1, ge=1)
    part: Part = "both"


Title = Annotated[str, Field(max_length=80, description="what the lane shows, for people")]


class LaneStart(BaseModel):
    """One more lane of a ``reset``: the start config with ``patch``, from iteration 0."""

    model_config = ConfigDict(extra="forbid", strict=True)

    patch: dict[str, Any] = Field(default_factory=dict)
    title: Title = ""


class Reset(Command):
    type: Literal["reset"]
    config: dict[str, Any] | None = None
    preset: str | None = None
    patch: dict[str, Any] | None = None
    lanes: list[LaneStart] | None = None
    replay: dict[str, Any] | None = None


class Update(Command):
    type: Literal["update"]
    patch: dict[str, Any]
    reset_moments: bool = False
    lane: int | Literal["all"] | None = None  # None: the first lane


class LaneAdd(Command):
    type: Literal["lane_add"]
    patch: dict[str, Any] = Field(default_factory=dict)
    title: Title = ""
    warmup: bool = True  # the warm-up the lanes' start took (a preset's), on this lane alone


class LaneFork(Command):
    type: Literal["lane_fork"]
    lane: int
    patch: dict[str, Any] = Field(default_factory=dict)
    reset_moments: bool = False
    title: Title = ""


class LaneClose(Command):
    type: Literal["lane_close"]
    lane: int


class LaneKeep(Command):
    type: Literal["lane_keep"]
    lane: int


class Partial(Command):
    """A command whose other keys replace some of the session's options."""

    model_config = ConfigDict(extra="allow")
    options_model: ClassVar[type[BaseModel]]

    def changes(self) -> dict[str, Any]:
        """The options given, validated (raises ValidationError)."""
        options = self.options_model.model_validate(self.model_extra or {})
        return options.model_dump(include=options.model_fields_set)


class View(Partial):
    type: Literal["view"]
    options_model: ClassVar[type[BaseModel]] = ViewOptions


class Pace(Partial):
    type: Literal["pace"]
    options_model: ClassVar[type[BaseModel]] = PaceOptions


class Export(Command):
    type: Literal["export"]


class End(Command):
    type: Literal["end"]


COMMANDS: dict[str, type[Command]] = {
    "play": Play,
    "pause": Pause,
    "step": Step,
    "reset": Reset,
    "update": Update,
    "view": View,
    "pace": Pace,
    "export": Export,
    "end": End,
    "lane_add": LaneAdd,
    "lane_fork": LaneFork,
    "lane_close": LaneClose,
    "lane_keep": LaneKeep,
}


# --- a lane replay (docs/protocol.md §11), checked before a worker replays it ---------------


class ReplayFork(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lane: int
    at: int = Field(ge=0)
    patch: dict[str, Any]
    reset_moments: bool


class ReplayLane(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1)
    title: Title = ""
    start: dict[str, Any]
    forked: ReplayFork | None
    commands: list[tuple[int, str, dict[str, Any]]]
    iterations: int = Field(ge=0)


class LaneReplay(BaseModel):
    """gan_core.Lanes.to_replay() and the session's preset (what ``export`` gives)."""

    model_config = ConfigDict(extra="forbid")

    version: int
    preset: str | None = None
    base: dict[str, Any]
    next_id: int = Field(ge=1)
    lanes: list[ReplayLane] = Field(min_length=1)


class UpdatePayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patch: dict[str, Any]
    reset_moments: bool


class PartPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=1)


REPLAY_KINDS: dict[str, type[BaseModel]] = {
    "update": UpdatePayload,
    "step_d": PartPayload,
    "step_g": PartPayload,
}


def check_replay(data: dict[str, Any], limits: Limits) -> LaneReplay:
    """A replay's shape, command kinds, order and size; errors name the field in
    ``replay``. Its configs are the worker's to check (server.worker)."""
    try:
        replay = LaneReplay.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as error:
        item = error.errors()[0]
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a key of a lane replay (see export)"
        raise ProtocolError("invalid", message, _dotted(("replay", *item["loc"]))) from None
    if replay.version != 1:
        raise ProtocolError(
            "invalid",
            f"a lane replay of version {replay.version}; this server reads 1",
            "replay.version",
        )
    if len(replay.lanes) > limits.max_lanes:
        raise ProtocolError(
            "invalid", f"at most {limits.max_lanes} lanes on this server", "replay.lanes"
        )
    ids = [lane.id for lane in replay.lanes]
    if len(set(ids)) != len(ids) or replay.next_id <= max(ids):
        raise ProtocolError(
            "invalid", "lane ids must differ and be below next_id", "replay.next_id"
        )
    work = 0
    for i, lane in enumerate(replay.lanes):
        at_before = 0
        for j, (at, kind, payload) in enumerate(lane.commands):
            where = f"replay.lanes.{i}.commands.{j}"
            if kind not in REPLAY_KINDS:
                allowed = ", ".join(REPLAY_KINDS)
                raise ProtocolError(
                    "invalid", f"unknown kind {kind!r}; allowed: {allowed}", f"{where}.1"
                )
            if not at_before <= at <= lane.iterations:
                raise ProtocolError(
                    "invalid",
                    f"a command's iteration must be from {at_before} (the one before) to "
                    f"{lane.iterations} (the lane's iterations), got {at}",
                    f"{where}.0",
                )
            at_before = at
            try:
                parsed = REPLAY_KINDS[kind].model_validate_json(json.dumps(payload), strict=True)
            except ValidationError as error:
                item = error.errors()[0]
                field = _dotted((where, 2, *item["loc"]))
                raise ProtocolError("invalid", item["msg"], field) from None
            work += getattr(parsed, "n", 0)
        work += lane.iterations
        if work > limits.max_replay_iterations:
            raise ProtocolError(
                "invalid",
                f"this replay trains {work} iterations and part steps up to lane {lane.id}, "
                f"more than the {limits.max_replay_iterations} a replay may train on this "
                "server (limits.max_replay_iterations); replay fewer iterations",
                f"replay.lanes.{i}.iterations",
            )
    return replay


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def decode(text: str) -> dict[str, Any]:
    """The JSON object of a client's text message (``bad_json`` if it is not one)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "the message is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "a command is a JSON object with a 'type'")
    if "\\u" in text and has_lone_surrogate(data):
        raise ProtocolError(
            "bad_json", "the message has a lone UTF-16 surrogate (\\ud800-\\udfff); send Unicode"
        )
    return data


def has_lone_surrogate(data: Any) -> bool:
    """Whether a decoded JSON value holds a string that is not valid Unicode (iterative, as
    the value may be nested as deeply as the parser allows)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
    return False


def command_type(data: dict[str, Any]) -> str | None:
    """The message's ``type`` if it names a command of the protocol."""
    kind = data.get("type")
    return kind if isinstance(kind, str) and kind in COMMANDS else None


def addressed(error: ProtocolError, data: dict[str, Any]) -> ProtocolError:
    """The error, with the ``command`` and ``id`` of the message it answers when readable."""
    value = data.get("id")
    error.command = command_type(data)
    error.id = value if valid_id(value) else None
    return error


def parse_command(data: dict[str, Any], limits: Limits) -> Command:
    """A validated command from a decoded message, or an addressed ProtocolError."""
    try:
        kind = command_type(data)
        if kind is None:
            shown = json.dumps(data.get("type"))
            shown = shown if len(shown) <= 40 else shown[:39] + "…"
            raise ProtocolError(
                "unknown_command",
                f"unknown command {shown}; allowed: {', '.join(COMMANDS)}",
                "type",
            )
        model = COMMANDS[kind]
        try:
            command = model.model_validate(data)
            if isinstance(command, Partial):
                check_ranges(command.changes(), limits)
        except ValidationError as error:
            item = error.errors()[0]
            field = _dotted(item["loc"])
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "is not an option here"
            elif item["type"] in RANGE_ERRORS and isinstance(getattr(limits, field, None), tuple):
                message = out_of_range(field, item["input"], getattr(limits, field))
            raise ProtocolError("invalid", message, field or None) from None
        if isinstance(command, Step) and command.n > limits.max_step:
            raise ProtocolError("invalid", f"n must be at most {limits.max_step} per step", "n")
        if isinstance(command, Reset):
            check_reset(command, limits)
    except ProtocolError as error:
        raise addressed(error, data) from None
    return command


def check_reset(command: Reset, limits: Limits) -> None:
    """What may go together in a reset, and the size of its lane set."""
    if command.config is not None and command.preset:
        raise ProtocolError("invalid", "give either config or preset, not both", "preset")
    if command.replay is not None:
        given = [k for k in ("config", "preset", "patch", "lanes") if getattr(command, k)]
        if given:
            raise ProtocolError(
                "invalid", "a replay rebuilds every lane by itself: send it alone", given[0]
            )
        check_replay(command.replay, limits)
    if command.lanes is not None:
        if command.preset:
            raise ProtocolError(
                "invalid", "a preset brings its own lanes: send lane_add after it", "lanes"
            )
        if len(command.lanes) > limits.max_lanes - 1:
            raise ProtocolError(
                "invalid",
                f"at most {limits.max_lanes - 1} lanes beside lane 1 on this server "
                f"(limits.max_lanes {limits.max_lanes})",
                "lanes",
            )


def check_ranges(values: dict[str, Any], limits: Limits) -> None:
    """View and pace options against the server's limits."""
    slow = values.get("slow_motion", 0)
    if 0 < slow < limits.slow_motion_min:
        raise ProtocolError(
            "invalid",
            f"slow_motion must be 0 (off) or from {limits.slow_motion_min:g} to "
            f"{limits.slow_motion[1]:g} seconds, got {slow:g}",
            "slow_motion",
        )
    for name, value in values.items():
        bounds = getattr(limits, name, None)
        if isinstance(bounds, tuple) and not bounds[0] <= value <= bounds[1]:
            raise ProtocolError("invalid", out_of_range(name, value, bounds), name)


def out_of_range(name: str, value: Any, bounds: tuple[Any, Any]) -> str:
    """What a view or pace option must be on this server (its limits, stricter than the
    engine's ranges)."""
    return f"{name} must be in [{bounds[0]}, {bounds[1]}] on this server, got {value}"


# Regularizers that add no double-backward pass over D (constraints, input or label noise,
# a parameter pull); every other one, plug-ins included, counts as a gradient penalty.
CHEAP_REGULARIZERS = (
    "weight_clip",
    "spectral_norm",
    "instance_noise",
    "label_smoothing",
    "two_sided_label_smoothing",
    "historical_averaging",
)


def iteration_work(config: Any) -> float:
    """Multiply-adds of one generator iteration, roughly: each D update passes a real and a
    fake batch forward and back (x3) after a G forward pass, a gradient penalty adds about a
    double-backward pass over D (x3 more); each G update passes G and D forward and back,
    and with unroll_steps = k also k differentiable D updates, each kept for the backward
    through it (x2); extragradient evaluates both players' gradients twice."""
    g_widths = [config.z_dim, *config.g_hidden, 2]
    d_widths = [2, *config.d_hidden, 1]
    g = sum(a * b for a, b in itertools.pairwise(g_widths))
    d = sum(a * b for a, b in itertools.pairwise(d_widths))
    penalties = sum(1 for r in config.regularizers if r.kind not in CHEAP_REGULARIZERS)
    batch = config.batch_size
    d_update = 3 * 2 * batch * d + batch * g + 3 * penalties * batch * d
    g_update = 3 * batch * (g + d) + config.unroll_steps * 2 * d_update
    work = config.d_steps * d_update + config.g_steps * g_update
    return 2 * work if config.update_scheme == "extragradient" else work


def check_config_limits(config: Any, limits: Limits, others: list[Any] | tuple = ()) -> None:
    """A validated TrainConfig against the server's (stricter) limits on size, and on the
    work of one iteration of the session, ``config``'s lane and the ``others`` lanes
    together: a worker's turn must not wait long for one (server.worker)."""
    own = iteration_work(config)
    work = own + sum(iteration_work(other) for other in others)
    if work > limits.max_iteration_work:
        heavy = {
            "batch_size": config.batch_size,
            "d_hidden": config.d_hidden,
            "g_hidden": config.g_hidden,
            "d_steps": config.d_steps,
            "g_steps": config.g_steps,
            "unroll_steps": config.unroll_steps,
        }
        shown = ", ".join(f"{name} {value}" for name, value in heavy.items())
        what = "this config"
        if others:  # lanes count: one iteration of the session is one of every lane
            what = (
                f"this session's {len(others) + 1} lanes (lanes count: each makes one per "
                f"iteration; this lane {own / 1e9:.2f} G)"
            )
        raise ProtocolError(
            "too_heavy",
            f"one iteration of {what} is about {work / 1e9:.1f} G multiply-adds, more "
            f"than the {limits.max_iteration_work / 1e9:g} G a shared server allows ({shown}): "
            "lower the batch size, the hidden widths or the steps per iteration"
            + (", or close a lane" if others else "")
            + ", or run it headless with gandyn run",
            "batch_size",
        )
    if config.batch_size > limits.max_batch_size:
        raise ProtocolError(
            "invalid",
            f"batch_size must be at most {limits.max_batch_size} on this server",
            "batch_size",
        )
    for name in ("g_hidden", "d_hidden"):
        widths = getattr(config, name)
        if len(widths) > limits.max_depth:
            raise ProtocolError(
                "invalid", f"at most {limits.max_depth} hidden layers on this server", name
            )
        for i, width in enumerate(widths):
            if width > limits.max_width:
                raise ProtocolError(
                    "invalid",
                    f"a hidden width must be at most {limits.max_width} on this server",
                    f"{name}.{i}",
                )


# --- server to client: JSON messages -------------------------------------------------------


class Message(BaseModel):
    def to_json(self) -> str:
        return self.model_dump_json()


class Hello(Message):
    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL_VERSION
    session: str
    resumed: bool
    lost: dict[str, Any] | None = None  # why a ?session= id was not resumed (§6)
    grace_seconds: float
    preset: str | None
    version: int
    iteration: int
    playing: bool
    config: dict[str, Any]
    lanes: list[dict[str, Any]]
    view: ViewOptions
    pace: PaceOptions
    limits: dict[str, Any]


class Ack(Message):
    """``ack``; extra keys (config, changes, preset, view, pace, replay, added) by command."""

    model_config = ConfigDict(extra="allow")

    type: Literal["ack"] = "ack"
    id: CommandId
    command: str
    version: int
    iteration: int
    playing: bool
    lanes: list[dict[str, Any]]


class ErrorReply(Message):
    type: Literal["error"] = "error"
    id: CommandId = None
    command: str | None = None
    code: str
    field: str | None = None
    message: str
    version: int | None = None


class Change(BaseModel):
    field: str
    old: Any
    new: Any


class ConfigChanged(Message):
    type: Literal["config_changed"] = "config_changed"
    lane: int
    version: int
    iteration: int
    reset: bool
    changes: list[Change]
    summary: str


class Diverged(Message):
    type: Literal["diverged"] = "diverged"
    lane: int
    kind: str
    quantity: str
    iteration: int
    message: str
    version: int


class Restored(Message):
    """The session's worker process died and the session was rebuilt on another (§5)."""

    type: Literal["restored"] = "restored"
    iteration: int
    version: int
    playing: bool = False
    lanes: list[dict[str, Any]]
    message: str


class Evaluation(Message):
    type: Literal["evaluation"] = "evaluation"
    lane: int
    iteration: int
    version: int
    seconds: float
    metrics: dict[str, float | None]


class Spectrum(Message):
    """The eigenvalues of the Jacobian of an MLP lane's joint gradient field
    (gan_core.spectrum, docs/protocol.md §5): all P when ``exact``, else the k largest."""

    type: Literal["spectrum"] = "spectrum"
    lane: int
    iteration: int
    version: int
    eigenvalues: list[tuple[float, float]]
    exact: bool
    parameters: int
    seconds: float


def error_reply(error: ProtocolError, version: int | None) -> ErrorReply:
    """The ``error`` message for a ProtocolError raised by parse_command or the worker."""
    return ErrorReply(
        id=error.id,
        command=error.command,
        code=error.code,
        field=error.field,
        message=error.message,
        version=version,
    )


def config_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[Change]:
    """Dotted fields whose values differ; nested objects are compared key by key, lists whole."""
    changes = []
    for key in new.keys() | old.keys():
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            changes += config_changes(before, after, f"{prefix}{key}.")
        elif before != after:
            changes.append(Change(field=prefix + key, old=before, new=after))
    return sorted(changes, key=lambda change: change.field)


def summarise(changes: list[Change]) -> str:
    """A short line for chart annotations: ``loss wgan → hinge; opt_d.lr 0.001 → 0.0002``."""

    def short(value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        return text if len(text) <= 40 else text[:39] + "…"

    return "; ".join(f"{c.field} {short(c.old)} → {short(c.new)}" for c in changes) or "no change"


# --- frames --------------------------------------------------------------------------------


class ArrayInfo(BaseModel):
    name: str
    shape: list[int]
    dtype: Literal["q16", "f32"]
    offset: int
    lo: float | None = None
    hi: float | None = None


class FrameHeader(BaseModel):
    """The JSON header of a frame; the engine snapshot's scalars ride along as extra keys."""

    model_config = ConfigDict(extra="allow")

    type: Literal["frame"] = "frame"
    lane: int = 1  # the lane's id (a session's first lane is 1)
    seq: int
    iteration: int
    version: int
    playing: bool
    part: Part | None
    arrays: list[ArrayInfo] = Field(default_factory=list)


def plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, tuples to lists, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def quantise(array: np.ndarray) -> tuple[bytes, float, float]:
    """uint16 codes of an array, and the [lo, hi] they span (docs/protocol.md §7, q16)."""
    values = np.asarray(array, dtype=np.float64)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    finite = None
    if not (math.isfinite(lo) and math.isfinite(hi)):  # the rare slow path
        finite = np.isfinite(values)
        inside = values[finite]
        lo, hi = (float(inside.min()), float(inside.max())) if inside.size else (0.0, 0.0)
        values = np.where(finite, values, lo)
    if hi > lo:  # round to nearest: every scaled value is in [0, Q16_STEPS]
        codes = ((values - lo) * (Q16_STEPS / (hi - lo)) + 0.5).astype("<u2")
    else:
        codes = np.zeros(values.shape, dtype="<u2")
    if finite is not None:
        codes[~finite] = Q16_NOT_FINITE
    return codes.tobytes(), lo, hi


def snapshot_frame(
    snapshot: dict[str, Any],
    header: FrameHeader,
    view: ViewOptions,
    trails: np.ndarray | None = None,
) -> bytes:
    """The frame of an engine snapshot: its arrays (plus ``trails``, minus ``view.omit``) in the
    data section, its other values as header keys next to the session's own (``header``)."""
    arrays = {k: v for k, v in snapshot.items() if isinstance(v, np.ndarray)}
    extras = {k: plain(v) for k, v in snapshot.items() if k not in arrays}
    if trails is not None:
        arrays["trails"] = trails
    for name in view.omit:
        arrays.pop(name, None)
    header = header.model_copy(update={k: v for k, v in extras.items() if k != "iteration"})
    return encode_frame(header, arrays, view.precision)


def encode_frame(header: FrameHeader, arrays: dict[str, np.ndarray], precision: str) -> bytes:
    """One binary frame: magic, header length, padded JSON header, 4-byte-aligned arrays."""
    chunks, infos, offset = [], [], 0
    for name, array in arrays.items():
        if precision == "f32":
            data = np.ascontiguousarray(array, dtype="<f4").tobytes()
            info = ArrayInfo(name=name, shape=list(array.shape), dtype="f32", offset=offset)
        else:
            data, lo, hi = quantise(array)
            info = ArrayInfo(
                name=name, shape=list(array.shape), dtype="q16", offset=offset, lo=lo, hi=hi
            )
        data += b"\0" * (-len(data) % 4)
        chunks.append(data)
        infos.append(info)
        offset += len(data)
    header.arrays = infos
    text = json.dumps(plain(header.model_dump()), separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 4)
    return b"".join([FRAME_MAGIC, struct.pack("<I", len(text)), text, *chunks])


class CommandRate:
    """A token bucket per connection: ``rate`` commands a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()

    def allow(self) -> bool:
        """Take a token if there is one."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
