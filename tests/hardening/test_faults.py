"""Faults and limits: diverging runs, dropped connections, a stalled reader, the session cap,
the Origin check, the size and rate limits, and the isolation of sessions.

The server-side tests run one ``gandyn serve`` subprocess of their own (``server_factory.launch``
of tests/conftest.py, which exposes the process) so that its memory can be read from
/proc/PID/status; it loads a small regularizer plug-in to show plug-in state stays per session.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
import torch
from conftest import (
    SMALL,
    Client,
    Frame,
    ServerFactory,
    ServerProcess,
    get_json,
    wait_until,
    worker_pids,
)
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from gan_core import LOSSES, REGULARIZERS, ConfigError, Trainer, validate_config
from server.worker import MAX_WAITING, STEP_SECONDS

Connect = Callable[..., Client]

pytestmark = pytest.mark.timeout(240)

MIB = 1024 * 1024
ALLOWED_ORIGIN = "http://lab.example:8080"
PLUGIN = '''
from pydantic import BaseModel, ConfigDict

from gan_core import register_regularizer


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offset: float = 0.0


@register_regularizer("hardening_probe", weight=1.0, weight_range=(0.0, 10.0), params=Params)
class HardeningProbe:
    """A test penalty pulling D towards a per-session offset on real data.

    weight * E_real[(D(x) - offset)^2]
    """

    def penalty(d, real, fake, s, rng):
        return s.weight * (d(real) - s.offset).pow(2).mean()
'''


# ----- every loss x every regularizer at extreme learning rates (the engine directly) --------
# Losses whose conjugate is an exponential (Nowozin et al. 2016, Table 2): far from the data,
# on the view's grid, their push is beyond float32 although training is finite; frames encode
# such values as not finite (docs/protocol.md §7). Their samples and metrics must be finite.
EXPONENTIAL = {"fgan_kl", "fgan_hellinger"}
ON_THE_GRID = {"d_grid", "field", "d_line", "g_grad_line", "dirac_field", "d_optimal"}


def finite_snapshot(trainer: Trainer) -> bool:
    snapshot = trainer.snapshot({"grid": 8, "samples": 16, "line": 32, "dirac_grid": 5})
    exempt = ON_THE_GRID if trainer.config.loss in EXPONENTIAL else set()
    arrays = [v for k, v in snapshot.items() if isinstance(v, np.ndarray) and k not in exempt]
    return all(np.isfinite(a).all() for a in arrays) and all(
        math.isfinite(v) for v in snapshot["metrics"].values()
    )


# What the engine refuses outright, with the words its message must give the reason in.
REFUSED = {
    "label_smoothing": "logistic",  # smoothing is a BCE target: a free-level loss has none
    "two_sided_label_smoothing": "logistic",
    "feature_matching": "has none",  # the Dirac-GAN's D has no hidden features
    "ebgan": "psi * x",  # the Dirac-GAN's D is no autoencoder
}


COMBINATIONS = [
    pytest.param(loss, reg, id=f"{loss}-{reg}")
    for loss, reg in itertools.product(LOSSES.names(), REGULARIZERS.names())
]


@pytest.mark.parametrize(("loss", "regularizer"), COMBINATIONS)
def test_every_loss_and_regularizer_at_lr_10_is_finite_or_halted(
    loss: str, regularizer: str
) -> None:
    torch.set_num_threads(1)
    for dataset, optimizer in [("ring8", "sgd"), ("gaussian1d", "sgd"), ("dirac", "sgd"),
                               ("ring8", "adam")]:  # fmt: skip
        config = {
            "dataset": dataset,
            "loss": loss,
            "regularizers": [{"kind": regularizer}],
            "g_hidden": [16, 16],
            "d_hidden": [16, 16],
            "batch_size": 32,
            "opt_g": {"name": optimizer, "lr": 10.0},
            "opt_d": {"name": optimizer, "lr": 10.0},
            "discriminator": LOSSES.get(loss).needs_discriminator or "mlp",
        }
        try:
            trainer = Trainer(config)
        except ConfigError as refused:  # a combination the engine refuses, saying why
            reasons = [REFUSED[name] for name in (loss, regularizer) if name in REFUSED]
            assert any(reason in refused.message for reason in reasons), refused
            continue
        trainer.step(20)
        case = f"{dataset} {optimizer}"
        if trainer.halt is None:
            assert finite_snapshot(trainer), f"{case}: not finite and not halted"
            continue
        assert trainer.halt.kind == "diverged", (case, trainer.halt)
        assert trainer.halt.message, case
        # A smaller learning rate clears the halt; training goes on from finite parameters.
        trainer.update({"opt_g": {"lr": 1e-4}, "opt_d": {"lr": 1e-4}})
        assert trainer.halt is None, case
        trainer.step(2)
        assert trainer.halt is None and finite_snapshot(trainer), case


# ----- the server under test -----------------------------------------------------------------
def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, server_factory: ServerFactory
) -> ServerProcess:
    folder = tmp_path_factory.mktemp("faults")
    plugin = folder / "hardening_probe.py"
    plugin.write_text(PLUGIN)
    options = {
        "max_sessions": 12,
        "max_sessions_per_client": 12,  # every test client comes from 127.0.0.1
        "grace": 0.3,
        "allow_origin": [ALLOWED_ORIGIN],
        "plugin": [str(plugin)],
    }
    process = server_factory.launch(**options)
    assert process.url  # started and answering
    return process


def health(url: str) -> dict[str, Any]:
    return get_json(url + "/api/health")


def held(state: dict[str, Any]) -> int:
    """Sessions the workers hold (the web process's count is ``sessions``)."""
    return sum(worker["sessions"] for worker in state["worker_details"])


def idle(url: str) -> bool:
    state = health(url)
    return state["sessions"] == held(state) == 0


def workers_rss(server: ServerProcess) -> int:
    return sum(rss_bytes(pid) for pid in worker_pids(server.process.pid))


def frames_within(client: Client, seconds: float) -> int:
    """Frames received in a wall-clock window (sleeping past a window is measurement)."""
    count, end = 0, time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            if isinstance(client.recv(left), Frame):
                count += 1
        except TimeoutError:
            break
    return count


# ----- connections that come and go ----------------------------------------------------------
def one_cycle(connect_ws: Connect, url: str, cycle: int) -> None:
    """Four ways to leave: end, close while streaming, abort mid-frame, drop before a frame."""
    kind = cycle % 4
    client = connect_ws(
        url, query="preset=saturated_discriminator" if kind == 2 else "preset=dirac_gan"
    )
    if kind == 0:
        client.frame()
        client.end()
    elif kind == 1:
        client.send(type="pace", fps=60)
        client.send(type="play")
        client.frame(lambda f: f.header["playing"])
        client.ws.close()  # a clean websocket close while frames are streaming
    elif kind == 2:
        client.send(type="view", line=1000, samples=2048, trails=8, precision="f32")
        client.send(type="pace", fps=60)
        client.send(type="play")
        client.frame(lambda f: f.header["playing"])
        client.ws.socket.shutdown(socket.SHUT_RDWR)  # the network goes: no close frame
        client.ws.close()
    else:
        client.ws.close()  # gone right after hello, before the first frame is read


@pytest.mark.slow
def test_connect_drop_cycles_leave_no_session_and_no_memory_behind(
    server: ServerProcess, connect_ws: Connect
) -> None:
    url = server.url
    wait_until(lambda: idle(url), 10, "the server is idle")
    for cycle in range(20):  # warm-up: first use of torch kernels, allocator arenas, imports
        one_cycle(connect_ws, url, cycle)
    wait_until(lambda: idle(url), 10, "the warm-up sessions are gone")
    before = rss_bytes(server.process.pid)
    workers_before = workers_rss(server)
    for cycle in range(60):  # 15 of each way to leave
        one_cycle(connect_ws, url, cycle)
    wait_until(lambda: idle(url), 10, "every session is gone")
    state = health(url)
    assert not any(state[key] for key in ("sessions", "detached")) and not held(state), state
    after = rss_bytes(server.process.pid)
    # The session counts above are the exact leak check; RSS is a coarse bound. Tolerance
    # 40 MiB: after the warm-up RSS is flat within ~20 MiB over 350 cycles here (allocator
    # arenas stay mapped), so 40 MiB means a real leak (over 60 cycles, 0.7 MiB a session).
    assert after - before < 40 * MIB, f"RSS {before / MIB:.0f} -> {after / MIB:.0f} MiB"
    workers_after = workers_rss(server)  # they forget each ended session
    assert workers_after - workers_before < 40 * MIB, (
        f"workers' RSS {workers_before / MIB:.0f} -> {workers_after / MIB:.0f} MiB"
    )


def test_a_worker_that_dies_is_started_again_and_its_sessions_are_rebuilt(
    server_factory: ServerFactory, connect_ws: Connect
) -> None:
    """SIGKILLed (out of memory, a crash): the server starts another worker and rebuilds the
    dead one's sessions from their checkpoints, every lane of them; the session on the other
    worker misses nothing: its frames keep coming and it is told nothing."""
    server = server_factory.launch(workers=2, grace=5)  # its own: one of its workers is killed
    victim, bystander = connect_ws(server.url), connect_ws(server.url)
    for client in (victim, bystander):
        client.small()
        client.ok("lane_add", patch={"loss": "hinge", "regularizers": []}, title="hinge")
        client.ok("step", n=20)
    victim.ok("play")
    bystander.ok("play")
    victim.frame(lambda f: f.iteration > 40)
    bystander.frame(lambda f: f.iteration > 40)
    state = health(server.url)
    [(pid, index)] = [
        (w["pid"], w["index"]) for w in state["worker_details"] if w["sessions"] == 1
    ][:1]  # the two sessions sit on the two workers (least load): kill the first
    os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: all(w["ready"] and w["pid"] != pid for w in health(server.url)["worker_details"]),
        60,
        "another worker runs in its place",
    )
    # One of the two was rebuilt: it says so, is paused, and goes on from its checkpoint.
    events: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + 30
    while not events and time.monotonic() < deadline:
        for i, client in enumerate((victim, bystander)):
            try:
                item = client.recv(0.1)
            except TimeoutError:
                continue
            if isinstance(item, dict) and item["type"] in ("restored", "error", "hello"):
                events[i] = item
    [(i, event)] = events.items()
    assert event["type"] == "restored", event
    assert "exit code -9" in event["message"] and "press play" in event["message"]
    assert event["playing"] is False and event["iteration"] >= 0
    assert "2 lanes" in event["message"], event["message"]
    assert [(lane["id"], lane["title"]) for lane in event["lanes"]] == [(1, ""), (2, "hinge")]
    assert event["lanes"][1]["config"]["loss"] == "hinge"
    restored_client, other = (victim, bystander) if i == 0 else (bystander, victim)
    # Its checkpoint was taken at its reset (before the ack) at the latest: its config holds.
    replay = restored_client.ok("export")["replay"]
    assert validate_config(replay["base"]).g_hidden == SMALL["g_hidden"]
    frame = other.frame(timeout=10)  # the other session kept playing through it
    assert frame.header["playing"]
    step = restored_client.ok("step", n=3)
    assert [lane["iteration"] for lane in step["lanes"]] == [step["iteration"]] * 2
    for lane in (1, 2):
        restored_client.frame(
            lambda f, lane=lane: f.header["lane"] == lane and f.iteration == step["iteration"]
        )
    restored_client.ok("play")
    restored_client.frame(lambda f: f.header["playing"] and f.iteration > step["iteration"])
    assert index in [w["index"] for w in health(server.url)["worker_details"]]


def test_every_session_of_a_full_server_gets_frames(
    server: ServerProcess, connect_ws: Connect
) -> None:
    """Twelve sessions playing on two workers take turns: none is starved."""
    url = server.url
    wait_until(lambda: idle(url), 10, "the server is idle")
    clients = [connect_ws(url) for _ in range(12)]
    for client in clients:
        client.ok("pace", fps=30)
        client.ok("play")
    for client in clients:
        client.frame(lambda f: f.header["playing"], timeout=30)
    progressed = [False] * len(clients)

    def five_more_frames(i: int) -> None:  # each of a later iteration than the one before
        last = clients[i].frame(timeout=60).iteration
        for _ in range(5):
            last = clients[i].frame(lambda f, last=last: f.iteration > last, timeout=60).iteration
        progressed[i] = True

    readers = [threading.Thread(target=five_more_frames, args=(i,)) for i in range(12)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    # How many frames each gets in a second is a benchmark (bench/RESULTS.md, concurrency).
    assert all(progressed), progressed
    for client in clients:
        client.end()


# The heaviest kind of config a shared server takes (about 0.35 G multiply-adds an
# iteration, below Limits.max_iteration_work): step n=1000 is many seconds of work.
HEAVY = {"g_hidden": [128] * 3, "d_hidden": [128] * 3, "batch_size": 256, "d_steps": 5}


def test_a_long_step_stops_when_its_client_leaves(
    server: ServerProcess, connect_ws: Connect
) -> None:
    """``step n=1000`` on a heavy config trains in turns: the other sessions go on meanwhile,
    and leaving frees the session."""
    url = server.url
    wait_until(lambda: idle(url), 10, "the server is idle")
    client = connect_ws(url)
    client.ok("reset", patch=HEAVY)
    client.send(type="step", n=1000, id="long")
    bystanders = [connect_ws(url), connect_ws(url)]  # one of them shares the worker
    for bystander in bystanders:
        step = bystander.ok("step")
        bystander.frame(lambda f, step=step: f.iteration == step["iteration"])
        bystander.end()
    client.ws.close()
    wait_until(lambda: idle(url), 0.3 + 15, "the long step stopped and its session is gone")


def test_pause_cuts_a_long_step_short_and_answers(
    server: ServerProcess, connect_ws: Connect
) -> None:
    """A step trains in turns, so a pause does not wait for it: the step's ack says how far
    it got and why it stopped, then the pause is acknowledged."""
    client = connect_ws(server.url)
    client.ok("reset", patch=HEAVY)
    client.send(type="step", n=1000, id="long")
    client.send(type="pause", id="pause")
    step = client.next(lambda m: isinstance(m, dict) and m.get("id") == "long", 30)
    assert step["type"] == "ack" and step["steps"] < 1000, step
    assert f"stopped after {step['steps']} of 1000 steps by a pause command" == step["message"]
    pause = client.next(lambda m: isinstance(m, dict) and m.get("id") == "pause", 30)
    assert pause["type"] == "ack" and pause["iteration"] == step["iteration"]
    client.end()


def test_commands_behind_a_long_step_are_bounded(
    server: ServerProcess, connect_ws: Connect
) -> None:
    """At most MAX_WAITING commands wait behind a running step; beyond, each gets
    queue_full at once; those that waited are answered in order after the step."""
    client = connect_ws(server.url)
    client.ok("reset", patch=HEAVY)
    client.send(type="step", n=1000, id="long")
    count = MAX_WAITING + 20  # within the rate limit's burst
    for i in range(count):
        client.send(type="view", id=i)
    replies, step = [], None
    while len(replies) < count or step is None:
        reply = client.next(lambda m: isinstance(m, dict) and "id" in m, 60)
        if reply["id"] == "long":
            step = reply
        else:
            replies.append(reply)
    refused = [r["id"] for r in replies if r["type"] == "error"]
    assert {r["code"] for r in replies if r["type"] == "error"} == {"queue_full"}
    assert len(refused) >= count - MAX_WAITING, "no more than MAX_WAITING waited"
    assert step["type"] == "ack"
    waited = [r["id"] for r in replies if r["type"] == "ack"]
    assert waited == sorted(waited) and len(waited) <= MAX_WAITING
    client.end()


def test_a_config_too_heavy_for_a_turn_is_refused_naming_what_makes_it_heavy(
    server: ServerProcess, connect_ws: Connect
) -> None:
    client = connect_ws(server.url)
    heaviest = {"g_hidden": [512] * 4, "d_hidden": [512] * 4, "batch_size": 1024,
                "d_steps": 20, "g_steps": 20}  # fmt: skip
    for command in ({"type": "reset", "patch": heaviest}, {"type": "update", "patch": heaviest}):
        reply = client.command(**command)
        assert (reply["type"], reply["code"], reply["version"]) == ("error", "too_heavy", 0)
        for named in ("batch_size 1024", "d_steps 20", "[512, 512, 512, 512]", "G multiply-adds"):
            assert named in reply["message"], reply["message"]
    assert client.ok("step")["iteration"] == 1  # the session goes on as it was


def test_a_long_step_is_cut_at_its_time_budget_and_says_so(
    server: ServerProcess, connect_ws: Connect
) -> None:
    """One step command trains at most STEP_SECONDS; its ack says how far it got."""
    client = connect_ws(server.url)
    client.ok("reset", patch=HEAVY)
    ack = client.ok("step", n=1000, timeout=STEP_SECONDS + 30)
    assert 0 < ack["steps"] < 1000 and ack["iteration"] == ack["steps"]
    assert f"stopped after {ack['steps']} of 1000 steps" in ack["message"]
    assert client.ok("step")["steps"] == 1  # the session goes on
    client.end()


# ----- a client that stops reading ---------------------------------------------------------------
@pytest.mark.slow
def test_a_stalled_reader_costs_bounded_memory_and_not_other_sessions_frames(
    server: ServerProcess, connect_ws: Connect
) -> None:
    url = server.url
    wait_until(lambda: idle(url), 10, "the server is idle")
    address = urlsplit(url)
    sock = socket.socket()
    # A bounded receive buffer (no autotuning to megabytes), still above the loopback MSS:
    # a buffer below it makes TCP wait for persist-timer probes, seconds per frame.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
    sock.connect((address.hostname, address.port))
    stalled = connect_ws(url, sock=sock, max_queue=1)
    stalled.small()
    # Big frames (~260 KB in f32): queued instead of replaced, 10 s at 60 fps would be ~150 MB.
    stalled.ok("view", grid=128, samples=2048, trails=8, precision="f32")
    stalled.ok("pace", fps=60)
    stalled.ok("play")
    stalled.frame(lambda f: f.header["playing"])
    other = connect_ws(url)
    other.small()
    other.ok("pace", fps=20)
    other.ok("play")
    other.frame(lambda f: f.header["playing"])

    reading = threading.Event()
    reading.set()

    def drain() -> None:  # reads the big frames until told to stop (bounded by the test)
        end = time.monotonic() + 60
        while reading.is_set() and time.monotonic() < end:
            try:
                stalled.ws.recv(timeout=0.1)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    frames_within(other, 4.0)  # both sessions playing, both read
    reading.clear()
    drainer.join(timeout=5)
    assert not drainer.is_alive()
    # The stall: 10 s in which ``stalled`` is not read at all; the other session's frames
    # keep coming meanwhile (how many, beside such cases, is bench/bench_isolation.py's).
    frames_within(other, 1.0)
    rss_start = rss_bytes(server.process.pid)
    last = other.frame().iteration
    stall_ends = time.monotonic() + 9.0
    while time.monotonic() < stall_ends:
        last = other.frame(lambda f, last=last: f.iteration > last, timeout=30).iteration
    rss_end = rss_bytes(server.process.pid)
    assert rss_end - rss_start < 40 * MIB, f"RSS {rss_start / MIB:.0f} -> {rss_end / MIB:.0f}"
    # The stalled session is still alive: once read again, its reply comes after a short
    # backlog (what the kernel buffers held), not after the ~600 frames made meanwhile.
    backlog: list[Frame] = []

    def is_reply(message: Frame | dict[str, Any]) -> bool:
        if isinstance(message, Frame):
            backlog.append(message)
            return False
        return message.get("id") == "after-stall"

    stalled.send(type="pause", id="after-stall")
    reply = stalled.next(is_reply, timeout=30)
    assert reply["type"] == "ack", reply
    fresh = stalled.frame()
    first = backlog[0].header["seq"] if backlog else fresh.header["seq"]
    made = fresh.header["seq"] - first + 1  # frames the session made since the stale ones
    assert len(backlog) < 40 and made > 100, (len(backlog), made)
    other.ok("pause")


# ----- the session cap -------------------------------------------------------------------------
def test_the_session_cap_holds_and_frees_up(server: ServerProcess, connect_ws: Connect) -> None:
    url = server.url
    wait_until(lambda: idle(url), 10, "the server is idle")
    cap = health(url)["max_sessions"]
    sessions = [connect_ws(url) for _ in range(cap)]
    assert health(url)["sessions"] == cap
    for _ in range(3):
        with connect(url.replace("http", "ws") + "/ws", open_timeout=10) as refused:
            message = json.loads(refused.recv(timeout=10))
            assert (message["type"], message["code"]) == ("error", "busy"), message
            assert str(cap) in message["message"]
            with pytest.raises(ConnectionClosed) as closed:
                refused.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    state = health(url)
    assert (state["sessions"], held(state)) == (cap, cap), state
    step = sessions[-1].ok("step")  # those inside are unaffected
    sessions[-1].frame(lambda f: f.iteration == step["iteration"])
    sessions[0].end()
    wait_until(lambda: health(url)["sessions"] == cap - 1, 5, "an ended session frees a place")
    assert connect_ws(url).hello["type"] == "hello"
    for client in sessions:
        client.end()


# ----- the Origin check --------------------------------------------------------------------------
def test_only_the_own_and_the_allowed_origins_may_open_a_session(
    server: ServerProcess, connect_ws: Connect
) -> None:
    url = server.url
    wait_until(lambda: idle(url), 10, "the server is idle")
    host = urlsplit(url).netloc
    port = urlsplit(url).port
    refused = [
        "http://evil.example",
        f"http://127.0.0.1:{port + 1}",
        f"http://{host}.evil.example",
        f"http://evil.example/{host}",
        f"ws://{host}",
        "null",
        ALLOWED_ORIGIN + ".evil.example",
        "http://lab.example:8081",
    ]
    for origin in refused:
        with pytest.raises(InvalidStatus) as error:
            connect_ws(url, origin=origin)
        assert error.value.response.status_code == 403, origin
    assert health(url)["sessions"] == 0, "a refused handshake starts no session"
    for origin in (None, f"http://{host}", ALLOWED_ORIGIN, ALLOWED_ORIGIN + "/"):
        assert connect_ws(url, origin=origin).hello["type"] == "hello", origin


# ----- size and rate limits ---------------------------------------------------------------------
LIMIT_CASES = [
    ({"type": "view", "grid": 129}, "grid"),
    ({"type": "view", "samples": 2049}, "samples"),
    ({"type": "view", "field": 33}, "field"),
    ({"type": "view", "manifold": 33}, "manifold"),
    ({"type": "view", "line": 1001}, "line"),
    ({"type": "view", "dirac_grid": 42}, "dirac_grid"),
    ({"type": "view", "trails": 33}, "trails"),
    ({"type": "pace", "fps": 61}, "fps"),
    ({"type": "pace", "steps_per_frame": 1001}, "steps_per_frame"),
    ({"type": "pace", "slow_motion": 10.5}, "slow_motion"),
    ({"type": "step", "n": 1001}, "n"),
    ({"type": "reset", "patch": {"batch_size": 1025}}, "patch.batch_size"),
    ({"type": "reset", "patch": {"g_hidden": [513]}}, "patch.g_hidden.0"),
    ({"type": "reset", "patch": {"d_hidden": [8] * 5}}, "patch.d_hidden"),
    ({"type": "reset", "config": {"batch_size": 4096}}, "config.batch_size"),
]


def test_the_size_limits_hold(server: ServerProcess, connect_ws: Connect) -> None:
    client = connect_ws(server.url)
    limits = client.hello["limits"]
    for command, field in LIMIT_CASES:
        reply = client.command(**command)
        assert (reply["type"], reply["code"], reply["field"]) == ("error", "invalid", field), (
            command,
            reply,
        )
        assert reply["version"] == 0, "nothing was applied"
    # At the limits themselves, the commands are accepted.
    assert client.ok("view", grid=128, samples=2048)["view"]["grid"] == 128
    assert client.ok("pace", fps=60, steps_per_frame=1000)["pace"]["fps"] == 60
    client.ok("view", grid=16, samples=16)
    client.ok("reset", patch={**SMALL, "batch_size": 1024})
    # The message size: too_large above max_message_bytes, and the session goes on.
    pad = "x" * limits["max_message_bytes"]
    client.ws.send(json.dumps({"type": "step", "id": "big", "pad": pad}))
    reply = client.event("error")
    assert (reply["code"], reply["id"]) == ("too_large", None)
    assert client.ok("step")["iteration"] == 1


def test_the_rate_limit_holds_for_one_connection_only(
    server: ServerProcess, connect_ws: Connect
) -> None:
    """A flood is cut before it is parsed: beyond the bucket, messages get no reply, only
    rate_limited errors counting them; another connection's bucket is untouched."""
    flooding, bystander = connect_ws(server.url), connect_ws(server.url)
    bystander.small()
    bystander.ok("play")
    limits = flooding.hello["limits"]
    burst = limits["command_burst"]
    count = burst + 300  # below the flood that closes the connection
    for i in range(count):
        flooding.send(type="pause", id=i)
    acked, dropped = 0, 0
    while acked + dropped < count:
        reply = flooding.next(lambda m: isinstance(m, dict) and m["type"] in ("ack", "error"))
        if reply["type"] == "ack":
            acked += 1
        else:
            assert reply["code"] == "rate_limited", reply
            dropped += int(reply["message"].split(": ")[1].split()[0])
    assert acked >= burst, "the burst is admitted"
    bystander.frame(lambda f: f.header["playing"])  # its frames kept coming
    # The bystander's own bucket is full: a burst of its commands is all accepted.
    for i in range(20):
        bystander.send(type="view", id=i, grid=16)
    replies = [bystander.next(lambda m: isinstance(m, dict) and "id" in m) for _ in range(20)]
    assert all(reply["type"] == "ack" for reply in replies), replies  # type: ignore[index]
    bystander.ok("pause")
    wait_until(lambda: flooding.command("step")["type"] == "ack", 5, "the bucket refilled")


# ----- isolation -------------------------------------------------------------------------------
def test_sessions_are_isolated_config_samples_and_plugin_state(
    server: ServerProcess, connect_ws: Connect
) -> None:
    a, b = connect_ws(server.url), connect_ws(server.url)
    b.small()
    b_hello_config = b.hello["config"]
    secret = {
        **SMALL,
        "dataset": "points",
        "target": {"points": [[0.0, 0.0]], "point_std": 0.01},
        "loss": "hinge",
        "regularizers": [{"kind": "hardening_probe", "weight": 2.0, "offset": 3.0}],
        "seed": 7,
    }
    a_reset = a.ok("reset", config=secret)
    a.ok("update", patch={"opt_d": {"lr": 0.0005}})
    a.ok("view", grid=16, samples=32, field=4)
    a.ok("pace", fps=5)
    a.ok("step", n=5)
    a_frame = a.frame(lambda f: f.iteration == 5)
    assert "penalty.hardening_probe" in a_frame.header["metrics"]
    assert np.abs(a_frame.arrays["real"]).max() < 0.2, "A trains on its own point"
    assert a_frame.arrays["d_grid"].shape == (16, 16)
    assert a_reset["config"]["regularizers"][0]["offset"] == 3.0

    # Nothing of A shows in B's acks, frames, events or export.
    b_step = b.ok("step", n=2)
    assert (b_step["version"], b_step["iteration"]) == (1, 2)
    b_frame = b.frame(lambda f: f.iteration == 2)
    assert "penalty.hardening_probe" not in b_frame.header["metrics"]
    assert "penalty.gp" in b_frame.header["metrics"]
    assert b_frame.arrays["d_grid"].shape == (64, 64)
    assert b_frame.arrays["real"].shape == (256, 2)
    radius = np.linalg.norm(b_frame.arrays["real"], axis=1)
    assert radius.min() > 1.0, "B's real samples are its ring, not A's point"
    assert b.ok("view")["view"]["grid"] == 64
    assert b.ok("pace")["pace"]["fps"] == 30
    exported = b.ok("export")["replay"]
    assert exported["lanes"][0]["commands"] == []
    b_config = validate_config(exported["base"])
    assert b_config.loss == b_hello_config["loss"] == "wgan"
    assert b_config.dataset == "ring8"
    assert all(r.kind != "hardening_probe" for r in b_config.regularizers)
    # B uses the same plug-in with its own parameters; A keeps its own.
    b_update = b.ok("update", patch={"regularizers": [{"kind": "hardening_probe", "offset": -1}]})
    assert b_update["config"]["regularizers"] == [
        {"kind": "hardening_probe", "weight": 1.0, "offset": -1.0}
    ]
    a_export = a.ok("export")["replay"]
    assert a_export["base"]["regularizers"] == [
        {"kind": "hardening_probe", "weight": 2.0, "offset": 3.0}
    ]
    assert a.ok("step")["version"] == a_reset["version"] + 1  # B's update did not count for A
    # Events of one session never reach the other: B saw only its own config_changed.
    seen: list[dict[str, Any]] = []
    b.ok("pause")
    while True:
        try:
            item = b.recv(0.5)
        except TimeoutError:
            break
        if isinstance(item, dict):
            seen.append(item)
    assert all(m.get("version", 0) <= b_update["version"] for m in seen), seen
