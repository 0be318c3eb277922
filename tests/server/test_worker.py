"""A session's worker in-process: the parts a socket cannot reach."""

from __future__ import annotations

import asyncio
import json
import threading

from conftest import wait_until

from server.session import Close, FairSlots, Outbox, Session
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
