"""Frames and evaluations, built in frame processes (server.frame_process) while the
sessions' workers train on.

A frame costs a few milliseconds (the engine's snapshot, then encoding). Built in the
worker it would stop training for that long 30 times a second; built on another thread of
this process it would still slow training, as the two threads pass the GIL back and forth
at every small torch operation. So a session's worker only takes the run's ReadingState
(about 0.03 ms) and a place in its Outbox, and hands both to its FrameBuilder. Each frame
process has a feeding thread here that sends it one request at a time, sessions in turn,
and fills the place with the reply. It takes no compute slot (server.session): those keep
threads of this process from fighting over the GIL, and a frame process has its own; the
operating system shares the cores between it and the training workers. (Taking a slot
per build made every frame of every session wait a whole round of the workers: 16
sessions got 0.1 frames/s.)

One frame and one evaluation per session wait at most: a newer frame replaces one not yet
started (latest frame wins), as the Outbox does for unsent ones. A frame process that dies
is started again; the session whose build it was making pauses and says so.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from gan_core.registry import LOADED_PLUGINS
from gan_core.trainer import ReadingState
from server.frame_process import serve_frames
from server.outbox import Outbox, Place
from server.protocol import FrameHeader, ViewOptions

log = logging.getLogger("gandyn.frames")

FEEDER_PREFIX = "gandyn-frames-"  # names the feeding threads and the frame processes
RESTART_PAUSE = 1.0  # seconds before a frame process that died is started again
CLOSE_WAIT = 2.0


@dataclass
class FrameJob:
    """Build the frame of ``state`` into ``place``; ``trails_epoch`` changes when the trails
    start over (a reset, a new number of samples or trails)."""

    state: ReadingState
    header: FrameHeader
    view: ViewOptions
    trails_epoch: int
    outbox: Outbox
    place: Place

    def request(self, key: int) -> tuple[Any, ...]:
        return ("frame", key, self.state, self.header, self.view, self.trails_epoch)


@dataclass
class EvaluationJob:
    """Evaluate ``state`` on ``samples`` samples into ``place``."""

    state: ReadingState
    version: int
    samples: int
    outbox: Outbox
    place: Place

    def request(self, key: int) -> tuple[Any, ...]:
        return ("evaluate", key, self.state, self.version, self.samples)


Job = FrameJob | EvaluationJob
BUILDER_KEYS = count()


class FrameBuilder:
    """One session's frames and evaluations, built by one frame process.

    Called from the session's worker. On the feeding thread, ``on_error(reason)`` is called
    when a build fails and ``on_evaluated(seconds)`` after each evaluation, made or not.
    """

    def __init__(
        self,
        process: FrameProcess,
        on_error: Callable[[str], None],
        on_evaluated: Callable[[float], None],
    ) -> None:
        self.key = next(BUILDER_KEYS)
        self.on_error = on_error
        self.on_evaluated = on_evaluated
        self._process = process
        process.add(self)

    def build(self, job: Job) -> None:
        """Have ``job`` built; it replaces a job of its kind that has not started yet."""
        self._process.submit(self, job)

    def stop(self) -> None:
        """Drop the waiting builds; the frame process forgets this session."""
        self._process.remove(self)


class FrameProcess:
    """A frame process and the thread of this process that feeds it."""

    def __init__(self, index: int) -> None:
        self.name = f"{FEEDER_PREFIX}{index}"
        self._wake = threading.Condition()
        self._pending: dict[FrameBuilder, list[Job]] = {}  # in turn: the first goes next
        self._forgotten: list[int] = []
        self.builders: set[FrameBuilder] = set()
        self._closing = threading.Event()
        self._plugins_sent = 0
        self._start_process()
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()

    # ----- called from the sessions' workers ----------------------------------------------
    def add(self, builder: FrameBuilder) -> None:
        with self._wake:
            self.builders.add(builder)

    def submit(self, builder: FrameBuilder, job: Job) -> None:
        with self._wake:
            if builder not in self.builders or self._closing.is_set():
                self._skip(builder, job)
                return
            jobs = self._pending.setdefault(builder, [])
            for old in [old for old in jobs if type(old) is type(job)]:
                jobs.remove(old)  # never started: a newer one replaces it
                self._skip(builder, old)
            jobs.append(job)
            self._wake.notify()

    def remove(self, builder: FrameBuilder) -> None:
        with self._wake:
            self.builders.discard(builder)
            for job in self._pending.pop(builder, []):
                self._skip(builder, job)
            self._forgotten.append(builder.key)
            self._wake.notify()

    def close(self) -> None:
        """Drop the waiting builds, end the feeding thread and the process."""
        with self._wake:
            self._closing.set()
            self._wake.notify()
        self.thread.join(CLOSE_WAIT)

    def alive(self) -> bool:
        return self.thread.is_alive() and self._process.is_alive()

    # ----- the feeding thread ---------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._closing.is_set() or self._pending or self._forgotten):
                    self._wake.wait()
                if self._closing.is_set():
                    for builder, jobs in self._pending.items():
                        for job in jobs:
                            self._skip(builder, job)
                    self._pending.clear()
                    break
                forgotten, self._forgotten = self._forgotten, []
                turn = self._next_job()
            try:
                for key in forgotten:
                    self._connection.send(("forget", key))
                if turn is not None:
                    self._build(*turn)
            except (OSError, EOFError):  # the process died (killed, out of memory, a crash)
                self._died(turn)
            except Exception as error:  # the request cannot be pickled (a plug-in's params)
                log.exception("%s could not be sent a request", self.name)
                if turn is not None:
                    turn[0].on_error(repr(error))
                    self._skip(*turn)
        self._end_process()

    def _next_job(self) -> tuple[FrameBuilder, Job] | None:
        """The first session's oldest job; that session then goes to the end of the turn."""
        if not self._pending:
            return None
        builder = next(iter(self._pending))
        jobs = self._pending.pop(builder)
        job = jobs.pop(0)
        if jobs:
            self._pending[builder] = jobs
        return builder, job

    def _build(self, builder: FrameBuilder, job: Job) -> None:
        if self._plugins_sent < len(LOADED_PLUGINS):
            self._connection.send(("plugins", list(LOADED_PLUGINS)))
            self._plugins_sent = len(LOADED_PLUGINS)
        started = time.perf_counter()
        self._connection.send(job.request(builder.key))
        reply = self._connection.recv()
        if reply[0] == "built":
            self._done(builder, job, reply[1], started)
        else:
            log.error("building a %s failed in %s:\n%s", type(job).__name__, self.name, reply[2])
            builder.on_error(reply[1])
            self._done(builder, job, None, started)

    def _done(self, builder: FrameBuilder, job: Job, item: Any, started: float) -> None:
        job.outbox.fill(job.place, item)
        if isinstance(job, EvaluationJob):
            builder.on_evaluated(time.perf_counter() - started)

    def _skip(self, builder: FrameBuilder, job: Job) -> None:
        self._done(builder, job, None, time.perf_counter())

    def _died(self, turn: tuple[FrameBuilder, Job] | None) -> None:
        code = self._process.exitcode
        log.error("%s ended (exit code %s); starting it again", self.name, code)
        if turn is not None:
            builder, job = turn
            builder.on_error(f"the frame process ended (exit code {code}) and was started again")
            self._skip(builder, job)
        self._end_process()
        if self._closing.wait(RESTART_PAUSE):
            return
        try:
            self._start_process()
        except Exception:  # the next request finds the pipe closed and tries again
            log.exception("%s could not be started again", self.name)

    def _start_process(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process with threads
        self._connection, theirs = context.Pipe()
        self._process = context.Process(
            target=serve_frames, args=(theirs,), name=self.name, daemon=True
        )
        self._process.start()
        theirs.close()
        self._plugins_sent = 0

    def _end_process(self) -> None:
        self._connection.close()  # the process sees the end of its pipe and returns
        self._process.join(CLOSE_WAIT)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(CLOSE_WAIT)


class FrameProcesses:
    """The frame processes of this server process, started on first use; each session's
    builder goes to the one with the fewest sessions."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._lock = threading.Lock()
        self._processes: list[FrameProcess] = []
        atexit.register(self.close)  # before multiprocessing's own exit handler kills them

    def start(self) -> None:
        with self._lock:
            if not self._processes:
                self._processes = [FrameProcess(i) for i in range(self.count)]

    def builder(
        self, on_error: Callable[[str], None], on_evaluated: Callable[[float], None]
    ) -> FrameBuilder:
        self.start()
        with self._lock:
            process = min(self._processes, key=lambda p: len(p.builders))
            return FrameBuilder(process, on_error, on_evaluated)

    def close(self) -> None:
        with self._lock:
            processes, self._processes = self._processes, []
        for process in processes:
            process.close()

    def stats(self) -> dict[str, int]:
        with self._lock:
            processes = list(self._processes)
        return {
            "builders": sum(len(p.builders) for p in processes),
            "frame_processes": sum(p.alive() for p in processes),
        }
