"""What the web process sends to one websocket: one ordered queue, used on the event loop only.

Messages come finished from the session's worker process, in the order it made them, and
leave in that order. At most one frame of each lane waits unsent: a newer frame of a lane
takes the end of the queue and the lane's older one is dropped (latest frame wins, per lane:
a lane's frame never replaces another lane's; at most MAX_LANES frames wait). JSON messages
are never dropped; they are bounded instead: a client that leaves more than
``max_text_bytes`` of them unread is not reading, and its connection is closed with 4008
(docs/protocol.md §9) rather than buffered without limit. The bound is
Settings.max_unread_bytes (8 MiB; the largest reply is an export of 4 lanes, each log at most
MAX_COMMANDS entries and MAX_COMMAND_BYTES of patches: at most about 1.5 MiB a lane, 6 MiB in
all). Its session is kept for the grace period, as after any drop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

Item = str | bytes
NOT_READING = 4008


@dataclass(frozen=True)
class Close:
    """Ask the sender to close the socket."""

    code: int
    reason: str


class Outbox:
    """What a session sends to one websocket, in order; at most one unsent frame per lane."""

    def __init__(self, max_text_bytes: int) -> None:
        self._items: deque[Item | Close] = deque()
        self._frames: dict[int | None, bytes] = {}  # the unsent frame of each lane
        self._text_bytes = 0
        self._max_text_bytes = max_text_bytes
        self._ready = asyncio.Event()
        self.not_reading = asyncio.Event()  # set on overflow: the sender may be stuck
        self.closed = False
        self.reason = ""

    def put(self, item: Item, lane: int | None = None) -> None:
        """Queue a message; a frame (bytes) replaces the unsent frame of its ``lane``."""
        if self.closed:
            return
        if isinstance(item, bytes):
            older = self._frames.get(lane)
            if older is not None:
                self._items.remove(older)
            self._frames[lane] = item
        else:
            self._text_bytes += len(item)
            if self._text_bytes > self._max_text_bytes:
                self._overflow()
                return
        self._items.append(item)
        self._ready.set()

    def close(self, code: int, reason: str) -> None:
        """Send what is queued, then close (nothing is queued after this)."""
        if not self.closed:
            self._items.append(Close(code, reason))
            self.closed = True
            self._ready.set()

    def _overflow(self) -> None:
        """The client does not read: drop what waits and close at once."""
        self._items.clear()
        self._frames, self._text_bytes = {}, 0
        mib = self._max_text_bytes / 2**20
        self.reason = f"more than {mib:g} MiB of replies unread; reconnect to resume"
        self.close(NOT_READING, self.reason)
        self.not_reading.set()

    async def get(self) -> Item | Close:
        """The next item to send; waits while there is none."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, bytes):
            self._frames = {k: v for k, v in self._frames.items() if v is not item}
        elif isinstance(item, str):
            self._text_bytes -= len(item)
        return item
