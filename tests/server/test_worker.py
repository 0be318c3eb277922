"""A session's worker in-process: the parts a socket cannot reach."""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading

from conftest import SMALL, wait_until

from gan_core import load_plugin
from server.outbox import Close, Outbox
from server.session import FRAME_PROCESSES, FairSlots, Session
from server.settings import Settings


def test_a_session_that_cannot_start_says_why_and_ends() -> None:
    async def scenario() -> tuple[dict, Close | str | bytes, Session]:
        outbox = Outbox(asyncio.get_running_loop())
        session = Session({"loss": "no_such_loss"}, None, Settings())
        session.start()
        session.attach(outbox, resumed=False)
        error = await asyncio.wait_for(outbox.get(), 10)
        close = await asyncio.wait_for(outbox.get(), 10)
        return json.loads(error), close, session  # type: ignore[arg-type]

    error, close, session = asyncio.run(scenario())
    assert error["code"] == "internal" and "no_such_loss" in error["message"]
    assert close == Close(1011, "session could not start")
    session.thread.join(timeout=1)
    assert session.ended and not session.thread.is_alive()


def test_a_frame_that_cannot_be_built_pauses_the_session_and_says_why(tmp_path) -> None:
    """A plug-in loss that works in training but fails in the frame process's probe."""
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

    async def scenario() -> tuple[list[dict], Session]:
        outbox = Outbox(asyncio.get_running_loop())
        session = Session({**SMALL, "loss": "fails_on_probe_for_test"}, None, Settings())
        session.start()
        session.attach(outbox, resumed=False)
        messages: list[dict] = []
        while not messages or messages[-1]["type"] != "error":
            item = await asyncio.wait_for(outbox.get(), 10)
            assert isinstance(item, str), "no frame can be built"
            messages.append(json.loads(item))
        return messages, session

    messages, session = asyncio.run(scenario())
    assert [m["type"] for m in messages if m["type"] != "evaluation"] == ["hello", "error"]
    error = messages[-1]
    assert error["code"] == "internal" and "no probes, please" in error["message"]
    assert "paused" in error["message"]
    session.stop()
    session.thread.join(timeout=2)
    assert not session.thread.is_alive()
    wait_until(lambda: FRAME_PROCESSES.stats()["builders"] == 0, 2, "the builder is gone")


def test_an_unsent_frame_is_replaced_but_messages_are_kept_in_order() -> None:
    async def scenario() -> list[str | bytes | Close]:
        outbox = Outbox(asyncio.get_running_loop())
        outbox.put_message("a")
        outbox.put_frame(b"1")
        outbox.put_message("b")
        outbox.put_frame(b"2")
        outbox.put_frame(b"3")
        outbox.close(1000, "done")
        return [await outbox.get() for _ in range(4)]

    assert asyncio.run(scenario()) == ["a", "b", b"3", Close(1000, "done")]


def test_a_place_not_yet_filled_holds_back_what_comes_after_it() -> None:
    """A frame built on another thread keeps the place it was asked for: the message
    after it waits; a newer frame drops it even unbuilt; a place filled with None is
    skipped."""

    async def scenario() -> list[str | bytes | Close]:
        outbox = Outbox(asyncio.get_running_loop())
        evaluation = outbox.reserve_message()
        frame = outbox.reserve_frame()
        outbox.put_message("ack")
        waiting = asyncio.ensure_future(outbox.get())
        await asyncio.sleep(0)  # let it run: it must wait on the empty place
        assert not waiting.done()
        outbox.fill(evaluation, "evaluation")
        received = [await asyncio.wait_for(waiting, 5)]
        newer = outbox.reserve_frame()  # the first frame, never filled, is dropped
        outbox.fill(frame, b"late")
        skipped = outbox.reserve_message()
        outbox.fill(newer, b"newer")
        outbox.fill(skipped, None)
        outbox.close(1000, "done")
        return received + [await asyncio.wait_for(outbox.get(), 5) for _ in range(3)]

    assert asyncio.run(scenario()) == ["evaluation", "ack", b"newer", Close(1000, "done")]


def test_compute_slots_pass_to_the_longest_waiter_not_back_to_the_releaser() -> None:
    """A worker that frees its slot and asks again queues behind the sessions already
    waiting: with threading.Semaphore it would take the slot straight back and starve them."""
    slots = FairSlots(1)
    order: list[str] = []

    def worker(name: str) -> None:
        with slots:
            order.append(name)

    slots.__enter__()
    threads = []
    for waiting, name in enumerate(("b", "c"), start=1):
        threads.append(threading.Thread(target=worker, args=(name,)))
        threads[-1].start()
        wait_until(lambda n=waiting: len(slots._waiting) == n, 5, f"{name} waits")
    slots.__exit__(None, None, None)
    threads.append(threading.Thread(target=worker, args=("a",)))  # the releaser asks again
    threads[-1].start()
    for thread in threads:
        thread.join(5)
    assert order == ["b", "c", "a"]
