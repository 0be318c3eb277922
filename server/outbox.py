"""What a session sends to its websocket: one ordered queue, filled from threads, drained by
the connection's sender task on the event loop.

Order is the order in which places were taken. A frame or an evaluation built on another
thread takes its place when it is asked for and is filled when it is ready; the sender waits
for a place that is not filled yet, so nothing overtakes it. JSON messages are never dropped.
At most one frame waits unsent: a newer frame takes the end of the queue and the older one
is dropped, built or not (latest frame wins).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from contextlib import suppress
from dataclasses import dataclass

Item = str | bytes


@dataclass(frozen=True)
class Close:
    """Ask the sender to close the socket."""

    code: int
    reason: str


class Place:
    """A reserved position in an Outbox, filled later (with None: nothing to send)."""

    __slots__ = ("filled", "item")

    def __init__(self) -> None:
        self.filled = False
        self.item: Item | None = None


class Outbox:
    """What a session sends to one websocket, in order; at most one unsent frame at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._items: deque[Place | Close] = deque()
        self._frame: Place | None = None
        self._ready = asyncio.Event()
        self.frames_replaced = 0

    def put_message(self, text: str) -> None:
        self.fill(self.reserve_message(), text)

    def put_frame(self, data: bytes) -> None:
        self.fill(self.reserve_frame(), data)

    def reserve_message(self) -> Place:
        """A place for a message that is still being made (the sender has nothing new to
        send until it is filled, so it is not woken)."""
        place = Place()
        with self._lock:
            self._items.append(place)
        return place

    def reserve_frame(self) -> Place:
        """A place for a frame that is still being built; an older frame not yet sent is
        dropped (latest frame wins), and the sender woken to look past it."""
        place = Place()
        with self._lock:
            old = self._frame
            if old is not None:
                self._items = deque(item for item in self._items if item is not old)
                self.frames_replaced += 1
            self._frame = place
            self._items.append(place)
        if old is not None:
            self._notify()
        return place

    def fill(self, place: Place, item: Item | None) -> None:
        """Put the item in its place; None when there is nothing to send after all."""
        with self._lock:
            place.item, place.filled = item, True
        self._notify()

    def close(self, code: int, reason: str) -> None:
        with self._lock:
            self._items.append(Close(code, reason))
        self._notify()

    def _notify(self) -> None:
        with suppress(RuntimeError):  # the loop is closed: the server is shutting down
            self._loop.call_soon_threadsafe(self._ready.set)

    async def get(self) -> Item | Close:
        """The next item to send (on the event loop); waits while the next place is empty."""
        while True:
            with self._lock:
                while self._items:
                    head = self._items[0]
                    if isinstance(head, Place) and not head.filled:
                        break
                    self._items.popleft()
                    if head is self._frame:
                        self._frame = None
                    if isinstance(head, Close):
                        return head
                    if head.item is not None:
                        return head.item
                self._ready.clear()
            await self._ready.wait()
