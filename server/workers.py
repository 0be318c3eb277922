"""The worker processes of a server, seen from the web process: start them, place sessions
on them, carry messages both ways, start a dead one again and rebuild its sessions.

Each worker (server.worker) is a fork of a template process that imported its code once
(server.worker_start; never a fork of the web process, which has threads of its own, e.g.
uvicorn's) with one socket pair to this process, read and written by the event loop
(server.channel). A worker that dies (killed, out of memory, a crash) is
started again at once; the sessions it held are rebuilt on the new one from their last
checkpoints (server.sessions keeps them), and their connections are told (a ``restored``
event). Sessions of the other workers notice nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from gan_core.registry import LOADED_PLUGINS
from server.channel import AsyncChannel
from server.settings import Settings
from server.worker_start import run_worker, worker_context

log = logging.getLogger("gandyn.workers")

PROCESS_PREFIX = "gandyn-worker-"
STOP_SECONDS = 3.0  # a worker has this long to end after its pipe closes, then it is killed
RESTART_PAUSE = 1.0  # before a worker that died young is started again (no crash loop)
YOUNG_SECONDS = 10.0


@dataclass(eq=False)
class Worker:
    """One worker process and what this process knows of it."""

    index: int
    process: multiprocessing.process.BaseProcess
    channel: AsyncChannel
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    sessions: set[str] = field(default_factory=set)
    load: dict[str, Any] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    started: float = field(default_factory=time.monotonic)

    def send(self, message: tuple[Any, ...]) -> None:
        self.channel.send(message)

    def stats(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pid": self.process.pid,
            "ready": self.ready.is_set(),
            "sessions": len(self.sessions),
            "playing": self.load.get("playing", 0),
            "busy": round(self.load.get("busy", 0.0), 3),
        }


Dispatch = Callable[[Worker, tuple[Any, ...]], None]
Died = Callable[[Worker, Worker, str], None]


class WorkerPool:
    """``count`` worker processes; ``dispatch(worker, message)`` gets what they send and
    ``died(old, new, why)`` is called when one was replaced."""

    def __init__(self, settings: Settings, count: int, dispatch: Dispatch, died: Died) -> None:
        self.settings = settings
        self.count = count
        self._dispatch = dispatch
        self._died = died
        self.workers: list[Worker] = []
        self.closing = False

    async def start(self) -> None:
        self.workers = [await self._spawn(i) for i in range(self.count)]

    def place(self) -> Worker:
        """The worker for a new session: the one with the fewest sessions (ready first)."""
        return min(self.workers, key=lambda w: (not w.ready.is_set(), len(w.sessions), w.index))

    @property
    def ready(self) -> bool:
        return bool(self.workers) and all(w.ready.is_set() for w in self.workers)

    async def close(self) -> None:
        """End every worker: close its pipe, wait STOP_SECONDS, then kill what is left."""
        self.closing = True
        for worker in self.workers:
            worker.channel.close()
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(None, stop_process, w.process) for w in self.workers)
        )
        for worker in self.workers:
            if worker.reader is not None:
                worker.reader.cancel()

    async def _spawn(self, index: int) -> Worker:
        context = worker_context()
        ours, theirs = context.Pipe()
        process = context.Process(
            target=run_worker,
            args=(theirs, self.settings, [str(path) for path in LOADED_PLUGINS]),
            name=f"{PROCESS_PREFIX}{index}",
            daemon=True,
        )
        worker = Worker(index, process, await AsyncChannel.open(ours))
        worker.reader = asyncio.create_task(self._run(worker, theirs))
        return worker

    async def _run(self, worker: Worker, theirs: Connection) -> None:
        """Start the process, then read what it sends until it ends. The first start waits
        for the template's imports (server.worker_start), a second or more: it runs in a
        thread, so the server answers meanwhile (health "starting"), and what is sent to
        the worker before it runs waits in its pipe."""
        await asyncio.get_running_loop().run_in_executor(None, worker.process.start)
        theirs.close()
        try:
            while True:
                message = await worker.channel.receive()
                if message[0] == "ready":
                    worker.ready.set()
                elif message[0] == "load":
                    worker.load = message[2]
                else:
                    self._dispatch(worker, message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        if not self.closing:
            await self._replace(worker)

    async def _replace(self, old: Worker) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, stop_process, old.process)
        why = f"the worker process that trained it ended (exit code {old.process.exitcode})"
        log.error("worker %d %s; starting it again", old.index, why.removeprefix("the "))
        old.channel.close()
        if time.monotonic() - old.started < YOUNG_SECONDS:
            await asyncio.sleep(RESTART_PAUSE)
        if self.closing:
            return
        new = await self._spawn(old.index)
        self.workers[old.index] = new
        self._died(old, new, why)


def stop_process(process: multiprocessing.process.BaseProcess) -> None:
    """Wait for a process whose pipe is closed to end; kill it if it does not (blocking).
    A process not started yet (the server stopped while starting) has nothing to stop."""
    if process.pid is None:
        return
    process.join(STOP_SECONDS)
    if process.is_alive():
        process.kill()
        with contextlib.suppress(Exception):
            process.join(STOP_SECONDS)
