"""Protocol fuzzing against the real server over a real websocket (docs/protocol.md §2, §3, §8).

Hypothesis sends random and malformed JSON, wrong types, huge and negative numbers, NaN and
infinity (as the JSON tokens ``NaN``/``Infinity``, as ``1e999`` and as huge integers),
unknown commands, oversized and binary messages. Every message must get exactly one reply,
``ack`` or an ``error`` with a documented code (never ``internal``), or a clean close; after
every burst the same connection and a bystander session must still step and stream.

The fuzzing client stays under the server's command rate (a client obeying §8), so that
every reply is about the fuzz, not ``rate_limited``; the rate limit has its own test in
test_faults.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import SMALL, Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from gan_core import LOSSES, REGULARIZERS, TrainConfig

Connect = Callable[..., Client]

pytestmark = pytest.mark.timeout(180)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Codes a fuzzed message may get (docs/protocol.md §3); ``internal`` is a server bug,
# ``busy`` only answers a connection, ``rate_limited`` is kept away by the throttle.
FUZZ_CODES = {"bad_json", "binary_not_accepted", "unknown_command", "invalid", "too_large"}
FUZZ_CODES |= {"halted"}
# Names from docs/protocol.md §2 (the contract), not from the server's code.
COMMANDS = ["play", "pause", "step", "reset", "update", "view", "pace", "export", "end",
            "lane_add", "lane_fork", "lane_close", "lane_keep"]  # fmt: skip
VIEW_FIELDS = ["grid", "samples", "field", "manifold", "line", "dirac_grid", "trails",
               "precision", "omit"]  # fmt: skip
PACE_FIELDS = ["fps", "steps_per_frame", "slow_motion"]
# "end" is left out of the random commands: it ends the session (tested on its own).
COMMAND_NAMES = sorted(set(COMMANDS) - {"end"})
FIELD_NAMES = sorted(
    {
        "id",
        "n",
        "part",
        "config",
        "preset",
        "patch",
        "reset_moments",
        *VIEW_FIELDS,
        *PACE_FIELDS,
        "lane",
        "lanes",
        "title",
        "replay",
        "warmup",
    }
)
CONFIG_FIELDS = sorted(TrainConfig.model_fields)


# ----- a client that stays under the rate limit ---------------------------------------------
class Throttle:
    """A client-side token bucket below the server's (50/s, burst 100): pacing, not syncing."""

    def __init__(self, rate: float = 45.0, burst: float = 90.0) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.last = burst, time.monotonic()

    def take(self, n: int = 1) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= n:
                self.tokens -= n
                return
            time.sleep((n - self.tokens) / self.rate)  # let the documented rate window pass


@dataclass
class Peer:
    client: Client
    throttle: Throttle

    def send_raw(self, data: str | bytes) -> None:
        self.throttle.take()
        self.client.ws.send(data)

    def reply(self, timeout: float = 15.0) -> dict[str, Any]:
        """The next ack or error (frames and events are skipped): the answer to the last send."""
        return self.client.next(  # type: ignore[return-value]
            lambda m: isinstance(m, dict) and m.get("type") in ("ack", "error"), timeout
        )

    def assert_alive(self, reset: bool = True) -> None:
        """Back to a small known run (clears a halt), then a step gets an ack and a frame."""
        self.throttle.take(2)
        if reset:
            self.client.ok("reset", config=SMALL)
        step = self.client.ok("step")
        frame = self.client.frame(lambda f: f.version == step["version"])
        assert frame.iteration >= step["iteration"] >= 1


@pytest.fixture
def peers(connect_ws: Connect) -> tuple[Peer, Peer]:
    """The fuzzed session and a bystander session on the same server."""
    fuzzed, bystander = Peer(connect_ws(), Throttle()), Peer(connect_ws(), Throttle())
    fuzzed.assert_alive()
    bystander.assert_alive()
    return fuzzed, bystander


# ----- JSON with the tokens Python's json module reads but strict JSON has not -----------------
@dataclass(frozen=True)
class Raw:
    """A number written as a raw token in the message text."""

    text: str


def dumps(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)  # float('nan') -> NaN, inf -> Infinity


RAW_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e308", "-1e308", "-0",
               "4.9e-324", "1" + "0" * 400, "-" + "9" * 400, "0.5e-400"]  # fmt: skip
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2**31, 2**63, -(2**63), 1000, 1001, 65535, 1e-9, 10.0, 10.5]),
    st.sampled_from(RAW_NUMBERS).map(Raw),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=8), st.sampled_from(["type", *CONFIG_FIELDS, *FIELD_NAMES])),
            children,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
ids = st.one_of(st.integers(), st.text(max_size=70), numbers, st.none(), json_values)


# ----- command-shaped messages: each command with its own fields, plausible or wrong -------------
def not_many_steps(value: Any) -> bool:
    """Keep ``step.n`` (and what pydantic may coerce to it) small: a valid n of 1000 on a
    heavy random config would take minutes, which tests patience, not robustness."""
    try:
        return not 30 < float(value) <= 1000
    except (TypeError, ValueError, OverflowError):
        return True


def maybe(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value (valid or at and beyond its range), sometimes anything."""
    return st.one_of(plausible, plausible, json_values)


wrong_types = st.one_of(
    st.text(max_size=6), st.booleans(), st.none(), st.lists(scalars, max_size=2)
)
step_n = st.one_of(
    st.integers(-3, 30), numbers, wrong_types, st.sampled_from(["5", "1e3", " 7 "])
).filter(not_many_steps)
optimizer = st.fixed_dictionaries(
    {},
    optional={
        "name": maybe(st.sampled_from(["sgd", "adam", "rmsprop", "lbfgs"])),
        "lr": maybe(st.one_of(numbers, st.sampled_from([1e-4, 10.0, 10.000001, 0.0, -1e-3]))),
        "betas": maybe(st.lists(numbers, max_size=3)),
        "momentum": maybe(numbers),
    },
)
regularizer = st.fixed_dictionaries(
    {"kind": maybe(st.sampled_from([*REGULARIZERS.names(), "nope"]))},
    optional={"weight": maybe(numbers), "gamma": numbers, "clip": numbers},
)
config_values: dict[str, st.SearchStrategy[Any]] = {
    "dataset": st.sampled_from([*TrainConfig.model_json_schema()["properties"]["dataset"]["enum"],
                                "nope"]),
    "target": st.fixed_dictionaries(
        {},
        optional={
            "mean": numbers, "std": numbers, "means": st.lists(numbers, max_size=6),
            "stds": st.lists(numbers, max_size=6), "weights": st.lists(numbers, max_size=6),
            "separation": numbers,
            "points": st.lists(st.lists(numbers, min_size=0, max_size=3), max_size=4),
            "point_std": numbers,
        },
    ),
    "loss": st.sampled_from([*LOSSES.names(), "nope"]),
    "regularizers": st.lists(regularizer, max_size=3),
    "opt_g": optimizer,
    "opt_d": optimizer,
    "d_steps": st.one_of(st.integers(-1, 21), numbers),
    "g_steps": st.one_of(st.integers(-1, 21), numbers),
    "update_scheme": st.sampled_from(["alternating", "simultaneous", "nope"]),
    "batch_size": st.one_of(st.integers(-1, 1100), numbers),
    "z_dim": st.one_of(st.integers(-1, 70), numbers),
    "noise": st.sampled_from(["gaussian", "uniform", "nope"]),
    "g_hidden": st.lists(st.one_of(st.integers(-1, 600), numbers), max_size=5),
    "d_hidden": st.lists(st.one_of(st.integers(-1, 600), numbers), max_size=5),
    "activation": st.sampled_from(["relu", "leaky_relu", "tanh", "elu", "nope"]),
    "seed": st.one_of(st.integers(-1, 2**31), numbers),
    "dirac_init": st.lists(numbers, max_size=3),
}  # fmt: skip
config_patch = st.fixed_dictionaries(
    {}, optional={name: maybe(values) for name, values in config_values.items()}
)
view_values = {
    **{name: st.one_of(st.integers(-2, 3000), numbers) for name in VIEW_FIELDS},
    "precision": st.sampled_from(["q16", "f32", "f16"]),
    "omit": st.lists(st.text(max_size=10), max_size=34),
}
pace_values = {name: st.one_of(st.integers(-2, 1100), numbers) for name in PACE_FIELDS}
lane_ids = st.one_of(st.integers(-1, 6), wrong_types, st.just("all"))
titles = st.one_of(st.text(max_size=90), wrong_types)
replay_command = st.tuples(
    st.one_of(st.integers(-1, 40), numbers),
    st.sampled_from(["update", "step_d", "step_g", "nope"]),
    st.one_of(
        st.fixed_dictionaries({"n": st.one_of(st.integers(-1, 30), numbers)}),
        st.fixed_dictionaries({"patch": config_patch, "reset_moments": st.booleans()}),
        json_values,
    ),
).map(list)
replay_lane = st.fixed_dictionaries(
    {
        "id": maybe(st.integers(0, 6)),
        "start": maybe(config_patch),
        "forked": st.none(),
        "commands": st.lists(replay_command, max_size=3),
        "iterations": maybe(st.sampled_from([0, 5, 30, 30_000])),
    },
    optional={"title": titles},
)
replay = st.fixed_dictionaries(
    {
        "version": maybe(st.just(1)),
        "base": maybe(config_patch),
        "next_id": maybe(st.integers(0, 8)),
        "lanes": maybe(st.lists(replay_lane, max_size=5)),
    },
    optional={"preset": maybe(st.sampled_from(["saturated_discriminator", "nope"]))},
)
fields_of: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "play": {},
    "pause": {},
    "export": {},
    "step": {"n": step_n, "part": maybe(st.sampled_from(["both", "d", "g", "dg"]))},
    "reset": {
        "config": maybe(config_patch),
        "preset": maybe(
            st.sampled_from(["ring8_wgan_gp", "saturated_discriminator", "dirac_gan", "nope"])
        ),
        "patch": maybe(config_patch),
        "lanes": maybe(
            st.lists(
                st.fixed_dictionaries({}, optional={"patch": config_patch, "title": titles}),
                max_size=5,
            )
        ),
        "replay": replay,
    },
    "update": {
        "patch": maybe(config_patch),
        "reset_moments": maybe(st.booleans()),
        "lane": maybe(lane_ids),
    },
    "lane_add": {"patch": maybe(config_patch), "title": titles, "warmup": maybe(st.booleans())},
    "lane_fork": {
        "lane": maybe(lane_ids),
        "patch": maybe(config_patch),
        "reset_moments": maybe(st.booleans()),
        "title": titles,
    },
    "lane_close": {"lane": maybe(lane_ids)},
    "lane_keep": {"lane": maybe(lane_ids)},
    "view": {name: maybe(values) for name, values in view_values.items()},
    "pace": {name: maybe(values) for name, values in pace_values.items()},
}


def stray_field(fields: dict[str, Any], index: int) -> str:
    """A field of another command: each command gets one, as a wrong key, now and then."""
    others = sorted(set(FIELD_NAMES) - set(fields) - {"id"})
    return others[index * 7 % len(others)]


commands_of = {
    kind: st.fixed_dictionaries(
        {"type": st.just(kind)},
        optional={
            "id": ids,
            **fields,
            stray_field(fields, index): json_values,
            "bogus": json_values,
        },
    )
    for index, (kind, fields) in enumerate(fields_of.items())
}


MAX_SAFE_INTEGER = 2**53 - 1  # protocol.md §2: integer ids within ±(2^53 - 1)


def readable_id(value: Any) -> bool:
    """An id the protocol promises to echo: an integer within ±(2^53 - 1) or a string of
    at most 64 characters."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_SAFE_INTEGER
    return isinstance(value, str) and len(value) <= 64


def check_reply(sent: Any, reply: dict[str, Any]) -> None:
    """What docs/protocol.md §3 promises for the reply to one message."""
    assert reply["type"] in ("ack", "error"), reply
    if reply["type"] == "error":
        assert reply["code"] in FUZZ_CODES, reply
        assert isinstance(reply["message"], str) and reply["message"], reply
        assert isinstance(reply["version"], int), reply
    if not isinstance(sent, dict):
        assert (reply["type"], reply["code"], reply["id"]) == ("error", "bad_json", None), reply
        return
    kind = sent.get("type")
    if not (isinstance(kind, str) and kind in COMMANDS):
        assert (reply["type"], reply["code"], reply["field"]) == (
            "error",
            "unknown_command",
            "type",
        ), reply
        assert reply["command"] is None, reply
    else:
        assert reply["command"] == kind, reply
    if readable_id(sent.get("id")):
        assert reply["id"] == sent["id"], reply


def fuzz_one(peer: Peer, value: Any) -> None:
    text = dumps(value)
    peer.send_raw(text)
    check_reply(json.loads(text), peer.reply())


# ----- the tests ----------------------------------------------------------------------------
def test_any_json_value_gets_one_reply_and_the_session_goes_on(peers: tuple[Peer, Peer]) -> None:
    """(Minus ``type`` being a list or an object: test_an_unhashable_type_is_unknown_command.)"""
    fuzzed, bystander = peers

    def hashable_type(value: Any) -> bool:
        return not (isinstance(value, dict) and isinstance(value.get("type"), list | dict))

    @FUZZ
    @given(burst=st.lists(json_values.filter(hashable_type), min_size=1, max_size=3))
    def run(burst: list[Any]) -> None:
        for value in burst:
            fuzz_one(fuzzed, value)
        fuzzed.assert_alive()
        bystander.assert_alive(reset=False)

    run()


@pytest.mark.parametrize("kind", COMMAND_NAMES)
def test_command_shaped_messages_with_wrong_types_and_extreme_numbers(
    peers: tuple[Peer, Peer], kind: str
) -> None:
    """Each command with its own fields (plausible, at and beyond their ranges, of the wrong
    type, NaN and infinities), a stray field now and then, an id of any kind."""
    fuzzed, bystander = peers

    @settings(FUZZ, max_examples=25)
    @given(burst=st.lists(commands_of[kind], min_size=1, max_size=3))
    def run(burst: list[dict[str, Any]]) -> None:
        for value in burst:
            fuzz_one(fuzzed, value)
        fuzzed.assert_alive()
        bystander.assert_alive(reset=False)

    run()


MALFORMED = ["", " ", "{", "}", "{]", "nul", "NaN", "[]", '{"type"}', "{'type': 1}",
             '{"type":"step",}', '{"type":"step"}{"type":"step"}', "\x00", "\ufeff{}"]  # fmt: skip


def test_malformed_text_and_binary_messages(peers: tuple[Peer, Peer]) -> None:
    fuzzed, bystander = peers
    valid = dumps({"type": "step", "n": 1, "id": 5})
    texts = st.one_of(
        st.text(max_size=60),
        st.integers(1, len(valid) - 1).map(lambda cut: valid[:cut]),  # truncated JSON
        st.sampled_from(MALFORMED),
    )

    @FUZZ
    @given(burst=st.lists(st.one_of(texts, st.binary(max_size=64)), min_size=1, max_size=4))
    def run(burst: list[str | bytes]) -> None:
        for message in burst:
            fuzzed.send_raw(message)
            reply = fuzzed.reply()
            if isinstance(message, bytes):
                expected = "binary_not_accepted"
            else:
                try:
                    decoded = json.loads(message)
                except ValueError:
                    decoded = None
                if isinstance(decoded, dict):
                    check_reply(decoded, reply)
                    continue
                expected = "bad_json"
            assert (reply["type"], reply["code"], reply["id"], reply["command"]) == (
                "error",
                expected,
                None,
                None,
            ), (message, reply)
        fuzzed.assert_alive()
        bystander.assert_alive(reset=False)

    run()


def test_oversized_messages_get_too_large_then_a_clean_close_above_the_frame_limit(
    peers: tuple[Peer, Peer], connect_ws: Connect
) -> None:
    fuzzed, bystander = peers
    limit = fuzzed.client.hello["limits"]["max_message_bytes"]
    for size in (limit + 1, 4 * limit, (1 << 20) - 64):  # above the limit, below 1 MiB
        fuzzed.send_raw(json.dumps({"type": "step", "id": 1, "pad": "x" * size}))
        reply = fuzzed.reply()
        assert (reply["code"], reply["id"], reply["command"]) == ("too_large", None, None)
    fuzzed.send_raw(json.dumps({"type": "step", "pad": "x" * (limit - 64)}))  # just under
    assert fuzzed.reply()["code"] == "invalid"  # read, and refused for its unknown key
    fuzzed.assert_alive()
    # Above 1 MiB the websocket layer closes the connection with 1009 (§9).
    fuzzed.client.ws.send("x" * ((1 << 20) + 1))
    with pytest.raises(ConnectionClosed) as closed:
        fuzzed.client.next(lambda m: False, timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    bystander.assert_alive()
    Peer(connect_ws(), Throttle()).assert_alive()


def test_end_closes_cleanly_with_1000(connect_ws: Connect) -> None:
    client = connect_ws()
    assert client.ok("end")["command"] == "end"
    with pytest.raises(ConnectionClosed) as closed:
        client.next(lambda m: False, timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


@pytest.mark.parametrize("kind", [[1], {}], ids=["list", "object"])
def test_an_unhashable_type_is_unknown_command(peers: tuple[Peer, Peer], kind: Any) -> None:
    fuzzed, bystander = peers
    fuzzed.send_raw(json.dumps({"type": kind, "id": 9}))
    reply = fuzzed.reply(timeout=10)
    assert (reply["code"], reply["field"], reply["id"]) == ("unknown_command", "type", 9), reply
    fuzzed.assert_alive()
    bystander.assert_alive()


def nested_patch(depth: int) -> str:
    return '{"type": "update", "patch": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


@pytest.mark.parametrize(
    "text",
    ["[" * 30000 + "]" * 30000, nested_patch(900), nested_patch(5000)],
    ids=["list-30000", "patch-900", "patch-5000"],
)
def test_deeply_nested_json_is_an_error_not_a_drop(peers: tuple[Peer, Peer], text: str) -> None:
    """Under the size limit but deep: Python's recursion limit must not become a crash."""
    fuzzed, bystander = peers
    fuzzed.send_raw(text)
    reply = fuzzed.reply(timeout=10)
    assert reply["code"] in ("bad_json", "invalid"), reply
    fuzzed.assert_alive()
    bystander.assert_alive()


@pytest.mark.parametrize(
    "text",
    ['{"type": "step", "id": "\\ud800"}', '{"type": "view", "id": 3, "omit": ["\\udfff"]}',
     '{"type": "step", "\\ud800": 1}'],
)  # fmt: skip
def test_lone_surrogates_are_bad_json_and_the_session_goes_on(
    peers: tuple[Peer, Peer], text: str
) -> None:
    """protocol.md §3: a lone UTF-16 surrogate escape is ``bad_json`` (it cannot be echoed)."""
    fuzzed, bystander = peers
    fuzzed.send_raw(text)
    reply = fuzzed.reply()
    assert (reply["code"], reply["id"], reply["command"]) == ("bad_json", None, None), reply
    fuzzed.assert_alive()
    bystander.assert_alive(reset=False)
    # A proper pair is Unicode like any other: echoed as sent.
    fuzzed.send_raw('{"type": "pause", "id": "\\ud83d\\ude00"}')
    assert fuzzed.reply()["id"] == "\U0001f600"


def test_a_config_the_engine_refuses_at_reset_is_invalid_not_internal(
    peers: tuple[Peer, Peer],
) -> None:
    fuzzed, _ = peers
    config = {"dataset": "points", "target": {"points": []}}
    fuzzed.send_raw(json.dumps({"type": "reset", "id": 4, "config": config}))
    reply = fuzzed.reply()
    assert (reply["type"], reply["code"], reply["command"], reply["id"]) == (
        "error",
        "invalid",
        "reset",
        4,
    ), reply
    assert reply["field"] == "config.target.points", reply
    fuzzed.assert_alive()


@pytest.mark.parametrize(
    "fields",
    [{"id": True}, {"id": 1.0}, {"id": "x" * 65}, {"n": "5"}, {"n": True}, {"n": 2.0}],
    ids=["id-true", "id-float", "id-long", "n-string", "n-true", "n-float"],
)
def test_wrong_json_types_are_refused_not_coerced(
    peers: tuple[Peer, Peer], fields: dict[str, Any]
) -> None:
    fuzzed, _ = peers
    fuzzed.send_raw(json.dumps({"type": "step", **fields}))
    reply = fuzzed.reply()
    assert (reply["type"], reply.get("code")) == ("error", "invalid"), reply
    assert reply["field"] == next(iter(fields)), reply


@pytest.mark.parametrize("sign", [1, -1])
def test_integer_ids_are_echoed_up_to_the_safe_range_and_refused_beyond(
    peers: tuple[Peer, Peer], sign: int
) -> None:
    fuzzed, _ = peers
    edge = sign * MAX_SAFE_INTEGER
    fuzzed.send_raw(json.dumps({"type": "pause", "id": edge}))
    ack = fuzzed.reply()
    fuzzed.send_raw(json.dumps({"type": "view", "id": edge, "grid": -1}))
    error = fuzzed.reply()
    assert (ack["type"], ack["id"], error["code"], error["id"]) == ("ack", edge, "invalid", edge)
    for beyond in (edge + sign, sign * 10**70):
        fuzzed.send_raw(json.dumps({"type": "pause", "id": beyond}))
        reply = fuzzed.reply()
        assert (reply["code"], reply["field"], reply["id"]) == ("invalid", "id", None), reply


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({"type": "update", "patch": {"batch_size": "64"}}, "patch.batch_size"),
        ({"type": "update", "patch": {"opt_d": {"lr": "0.01"}}}, "patch.opt_d.lr"),
        ({"type": "update", "patch": {"g_steps": True}}, "patch.g_steps"),
        ({"type": "update", "patch": {"d_steps": 2.0}}, "patch.d_steps"),
        (
            {"type": "update", "patch": {"regularizers": [{"kind": "gp", "weight": "1"}]}},
            "patch.regularizers.0.weight",
        ),
        (
            {"type": "update", "patch": {"regularizers": [{"kind": "gp", "weight": 1e6}]}},
            "patch.regularizers.0.weight",
        ),
        ({"type": "reset", "config": {"batch_size": "64"}}, "config.batch_size"),
        ({"type": "reset", "patch": {"seed": True}}, "patch.seed"),
    ],
    ids=[
        "string-int",
        "string-float",
        "bool-int",
        "float-int",
        "string-weight",
        "weight-range",
        "reset-config",
        "reset-patch",
    ],
)
def test_config_values_are_taken_as_the_json_types_they_are(
    connect_ws: Connect, command: dict[str, Any], field: str
) -> None:
    client = connect_ws()
    kind = command.pop("type")
    reply = client.command(kind, **command)
    assert (reply["type"], reply["code"], reply["field"]) == ("error", "invalid", field), reply
    assert reply["version"] == client.hello["version"], reply


def test_an_integer_where_a_number_is_expected_is_the_one_conversion(connect_ws: Connect) -> None:
    client = connect_ws()
    ack = client.ok("update", patch={"opt_d": {"lr": 1}, "target": {"std": 1}})
    assert (ack["config"]["opt_d"]["lr"], ack["config"]["target"]["std"]) == (1.0, 1.0)
