"""A worker (server.worker) and an outbox (server.outbox) in-process: the parts a socket
cannot reach. The worker runs its real loop in a thread, on one end of a real pipe."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import SMALL

from gan_core import load_plugin
from server import presets
from server.channel import receive, send
from server.outbox import NOT_READING, Close, Outbox
from server.presets import LaneSpec, Preset
from server.protocol import parse_command
from server.settings import Limits, Settings
from server.worker import Worker


@contextmanager
def worker() -> Iterator[Any]:
    """A Worker looping in a thread; yields our end of its pipe."""
    ours, theirs = multiprocessing.Pipe()
    thread = threading.Thread(target=Worker(theirs, Settings()).run, daemon=True)
    thread.start()
    assert receive(ours)[0] == "ready"
    try:
        yield ours
    finally:
        ours.close()
        thread.join(timeout=10)
        assert not thread.is_alive(), "a worker returns when its pipe closes"


def messages_for(pipe: Any, sid: str, until: str, timeout: float = 30) -> list[tuple]:
    """The messages of session ``sid`` up to the first one whose kind (or JSON type) is
    ``until`` (checkpoints and load reports skipped)."""
    seen = []
    while pipe.poll(timeout):
        message = receive(pipe)
        if message[1] != sid or message[0] == "checkpoint":
            continue
        seen.append(message)
        kind = message[0]
        if kind == "out" and isinstance(message[3], str):
            kind = json.loads(message[3])["type"]
        if kind == until:
            return seen
    raise AssertionError(f"no {until} for {sid} within {timeout} s: {seen}")


def test_a_session_that_cannot_start_says_why_and_ends(monkeypatch) -> None:
    monkeypatch.setitem(presets.PRESETS, "broken", Preset("Broken", "", {"loss": "no_loss"}))
    with worker() as pipe:
        send(pipe, ("open", "s1", "broken"))
        out, close, ended = messages_for(pipe, "s1", "ended")
    error = json.loads(out[3])
    assert error["code"] == "internal" and "no_loss" in error["message"]
    assert close == ("close", "s1", None, 1011, "session could not start")
    assert ended == ("ended", "s1")


def test_a_frame_that_cannot_be_built_pauses_the_session_and_says_why(tmp_path) -> None:
    """A plug-in loss that works in training but fails in the probe of a frame."""
    plugin = tmp_path / "probe_fails.py"
    plugin.write_text(
        textwrap.dedent(
            '''
            from gan_core import register_loss

            @register_loss("fails_on_probe_for_test")
            class FailsOnProbe:
                """Fails when scored outside training (the probe's scores are a leaf)."""
                def d_loss(real, fake):
                    return fake.mean() - real.mean()
                def g_loss(real, fake):
                    if fake.is_leaf:
                        raise RuntimeError("no probes, please")
                    return -fake.mean()
            '''
        )
    )
    load_plugin(plugin)
    reset = parse_command(
        {"type": "reset", "id": 1, "config": {**SMALL, "loss": "fails_on_probe_for_test"}},
        Limits(),
    )
    with worker() as pipe:
        send(pipe, ("open", "s1", None))
        send(pipe, ("attach", "s1", False, 1))
        messages_for(pipe, "s1", "hello")
        send(pipe, ("command", "s1", reset))
        seen = messages_for(pipe, "s1", "error")
        error = json.loads(seen[-1][3])
        assert error["code"] == "internal" and "no probes, please" in error["message"]
        assert "paused" in error["message"]
        step = parse_command({"type": "step", "id": 2}, Limits())
        send(pipe, ("command", "s1", step))  # the session goes on serving
        ack = json.loads(messages_for(pipe, "s1", "ack")[-1][3])
        assert (ack["id"], ack["iteration"]) == (2, 1)


def test_a_preset_of_lanes_starts_them_warms_every_one_up_and_forks_after(monkeypatch) -> None:
    """How a comparison preset starts (server.presets.start_lanes / finish_lanes), in the
    worker's turns: lanes from iteration 0, the warm-up on each, then the forks."""
    comparison = Preset(
        "Two lanes and a fork",
        "",
        {**SMALL},
        warmup=[("d", 20)],
        lanes=[
            LaneSpec("hinge", {"loss": "hinge", "regularizers": []}),
            LaneSpec("slow G after", {"opt_g": {"lr": 5e-4}}, after_warmup=True),
        ],
        lane_title="base",
    )
    monkeypatch.setitem(presets.PRESETS, "comparison_for_test", comparison)

    def reply(pipe: Any, command: dict[str, Any]) -> dict[str, Any]:
        send(pipe, ("command", "s1", parse_command(command, Limits())))
        return json.loads(messages_for(pipe, "s1", "ack")[-1][3])

    with worker() as pipe:
        send(pipe, ("open", "s1", "comparison_for_test"))
        send(pipe, ("attach", "s1", False, 1))
        hello = json.loads(messages_for(pipe, "s1", "hello")[-1][3])
        lanes = hello["lanes"]
        assert [(lane["id"], lane["title"]) for lane in lanes] == [
            (1, "base"), (2, "hinge"), (3, "slow G after")
        ]  # fmt: skip
        assert lanes[2]["forked"] == {
            "lane": 1, "at": 0, "patch": {"opt_g": {"lr": 5e-4}}, "reset_moments": False
        }  # fmt: skip
        replay = reply(pipe, {"type": "export", "id": 1})["replay"]
        assert replay["preset"] == "comparison_for_test"
        warm = [0, "step_d", {"n": 20}]
        assert [lane["commands"][0] for lane in replay["lanes"]] == [warm, warm, warm]
        assert replay["lanes"][2]["commands"][1][1] == "update"  # the fork's patch, after
        again = reply(pipe, {"type": "reset", "id": 2, "preset": "comparison_for_test"})
        assert again["lanes"] == lanes and again["version"] == 1
        rebuilt = reply(pipe, {"type": "reset", "id": 3, "replay": replay})
        assert rebuilt["lanes"] == lanes and rebuilt["preset"] == "comparison_for_test"
        added = reply(pipe, {"type": "lane_add", "id": 4, "patch": {}})  # the warm-up too
        assert reply(pipe, {"type": "export", "id": 5})["replay"]["lanes"][3]["commands"] == [warm]
        assert added["added"] == 4


def test_what_the_worker_sends_names_the_connection_it_was_for() -> None:
    """A resumed session's earlier connection must not get the new one's messages: each
    message carries the epoch of the connection that owned the session."""
    with worker() as pipe:
        send(pipe, ("open", "s1", None))
        send(pipe, ("attach", "s1", False, 1))
        assert {m[2] for m in messages_for(pipe, "s1", "hello")} == {1}
        send(pipe, ("detach", "s1"))
        send(pipe, ("attach", "s1", True, 2))
        hello = messages_for(pipe, "s1", "hello")[-1]
        assert hello[2] == 2 and json.loads(hello[3])["resumed"] is True


def collect(outbox: Outbox) -> list[Any]:
    async def drain() -> list[Any]:
        items = []
        while True:
            item = await outbox.get()
            items.append(item)
            if isinstance(item, Close):
                return items

    return asyncio.run(asyncio.wait_for(drain(), 10))


def test_an_unsent_frame_is_replaced_but_messages_are_kept_in_order() -> None:
    async def scenario() -> list[Any]:
        outbox = Outbox(1024)
        outbox.put("a")
        outbox.put(b"frame 1")
        outbox.put("b")
        outbox.put(b"frame 2")  # frame 1 was not sent yet: it goes
        outbox.put("c")
        outbox.close(1000, "done")
        outbox.put("after the close")  # nothing is queued after a close
        return [await outbox.get() for _ in range(5)]

    assert asyncio.run(scenario()) == ["a", "b", b"frame 2", "c", Close(1000, "done")]


def test_a_lanes_unsent_frame_is_replaced_only_by_a_frame_of_the_same_lane() -> None:
    async def scenario() -> list[Any]:
        outbox = Outbox(1024)
        outbox.put(b"lane 1 a", lane=1)
        outbox.put(b"lane 2 a", lane=2)
        outbox.put("ack")
        outbox.put(b"lane 1 b", lane=1)  # replaces lane 1's, never lane 2's
        first = await outbox.get()
        outbox.put(b"lane 2 b", lane=2)  # lane 2's first frame was sent: this one is queued
        outbox.close(1000, "done")
        return [first] + [await outbox.get() for _ in range(4)]

    assert asyncio.run(scenario()) == [
        b"lane 2 a",
        "ack",
        b"lane 1 b",
        b"lane 2 b",
        Close(1000, "done"),
    ]


@pytest.mark.parametrize("size", [100, 400])
def test_unread_replies_beyond_the_bound_close_the_connection_with_4008(size: int) -> None:
    async def scenario() -> tuple[Outbox, list[Any]]:
        outbox = Outbox(1000)
        for _ in range(5):
            outbox.put("x" * size)
        outbox.close(1000, "end")
        items = []
        while not items or not isinstance(items[-1], Close):
            items.append(await outbox.get())
        return outbox, items

    outbox, items = asyncio.run(scenario())
    if size * 5 <= 1000:
        assert items[-1] == Close(1000, "end") and not outbox.not_reading.is_set()
    else:
        assert items == [Close(NOT_READING, outbox.reason)] and outbox.not_reading.is_set()
        assert "unread" in outbox.reason
