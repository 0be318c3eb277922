"""Training sessions: a Trainer in a worker thread, its pacing, and the sessions of a server.

Threads: the event loop only parses commands and writes sockets. Each Session has one
worker thread (torch.set_num_threads(1)) that owns its Trainer and all of its state; the
loop talks to it through an inbox queue, and it answers through an Outbox that the
connection's sender task drains. Frames and evaluations are built from the Trainer's
ReadingState in a frame process (server.frames), so training goes on meanwhile. Everything
a session produces is delivered in the order the worker asked for it; an unsent frame is
replaced by a newer one (latest frame wins), JSON messages never are.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from gan_core import ConfigError, TrainConfig, Trainer, validate_config
from gan_core.config import merge
from server.frames import EvaluationJob, FrameBuilder, FrameJob, FrameProcesses
from server.outbox import Outbox
from server.presets import DEFAULT_PRESET, PRESETS
from server.protocol import (
    Ack,
    Command,
    ConfigChanged,
    Diverged,
    End,
    Export,
    FrameHeader,
    Hello,
    Message,
    Pace,
    PaceOptions,
    Pause,
    Play,
    ProtocolError,
    Reset,
    Step,
    Update,
    View,
    ViewOptions,
    check_config_limits,
    config_changes,
    error_reply,
    summarise,
)
from server.settings import Limits, Settings

log = logging.getLogger("gandyn.session")

THREAD_PREFIX = "gandyn-session-"
CHUNK_SECONDS = 0.01  # longest stretch of training between two looks at the inbox
STEP_SECONDS = 10.0  # one step command trains at most this long (its ack says how far)
EVAL_INTERVAL = 0.5  # costly metrics at most twice a second,
EVAL_SHARE = 0.05  # taking at most 5 % of the time when that allows them
EVAL_MAX_INTERVAL = 2.0  # every 2 s (a target's first evaluation also measures a floor)
IDLE_WAIT = 1.0


class FairSlots:
    """A counting semaphore that hands a freed slot to the longest waiter (first in, first
    out). threading.Semaphore does not: the thread that releases it takes it straight back,
    and the other sessions starve."""

    def __init__(self, slots: int) -> None:
        self._lock = threading.Lock()
        self._free = slots
        self._waiting: deque[threading.Event] = deque()

    def __enter__(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the slot passes on without being freed
            else:
                self._free += 1


# At most one session computes per core: more threads would only fight over the GIL between
# small torch ops and get less done in total (bench/RESULTS.md, concurrency).
COMPUTE_SLOTS = FairSlots(os.cpu_count() or 1)
# Frames are built in other processes (server.frames): one per 4 cores (at least one) keeps
# up with 30 frames/s for every session the cores can train, at about 270 MiB each.
FRAME_PROCESSES = FrameProcesses(max(1, (os.cpu_count() or 1) // 4))


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


@contextmanager
def config_errors(locate: Callable[[str], str]) -> Iterator[None]:
    """Turn a config problem into an ``invalid`` error naming the field in the command."""
    try:
        yield
    except ConfigError as error:
        raise ProtocolError("invalid", error.message, locate(error.field)) from None
    except ProtocolError as error:
        error.field = locate(error.field) if error.field else None
        raise


class Session:
    """One training run streamed to (at most) one connection at a time.

    The public methods are called from the event loop; they only post to the worker.
    Everything else runs in the worker thread and is touched by it alone.
    """

    def __init__(self, config: dict[str, Any], preset: str | None, settings: Settings) -> None:
        self.id = new_session_id()
        self.settings = settings
        self.ended = False  # set by the worker after an ``end`` command
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._initial_config = config
        self.preset = preset
        self.thread = threading.Thread(
            target=self._run, name=THREAD_PREFIX + self.id[:8], daemon=True
        )
        # The worker's state: only the worker thread touches what follows.
        self.trainer: Trainer
        self._reset_config: TrainConfig  # the config of the last reset, for replays
        self.version = 0
        self.playing = False
        self.view = ViewOptions()
        self.pace = PaceOptions()
        self.outbox: Outbox | None = None
        self._resume_playing = False
        self._seq = 0
        self._part: str | None = None
        self._trails_epoch = 0  # changes when the trails start over
        self._builder: FrameBuilder
        self._frame_due = False
        self._next_frame_at = 0.0
        self._steps_since_frame = 0
        self._sec_per_iter = 0.01
        self._next_eval_at = 0.0
        self._eval_iteration = -1
        self._evaluating = False  # the frame process has an evaluation to make
        self._evaluation_seconds = 0.0  # how long the last one took
        self._halt_reported = False
        self._after: list[Message] = []

    # ----- called from the event loop -----------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def attach(self, outbox: Outbox, resumed: bool) -> None:
        self._inbox.put(("attach", outbox, resumed))

    def detach(self) -> None:
        self._inbox.put(("detach",))

    def submit(self, command: Command) -> None:
        self._inbox.put(("command", command))

    def reject(self, error: ProtocolError) -> None:
        """Answer a command that failed on the loop; through the worker, to keep the order."""
        self._inbox.put(("reject", error))

    def stop(self) -> None:
        """End the worker (gone within CHUNK_SECONDS) and its FrameBuilder."""
        self._stop.set()
        self._inbox.put(("stop",))

    # ----- the worker ---------------------------------------------------------------------
    def _run(self) -> None:
        torch.set_num_threads(1)
        try:
            self.trainer = Trainer(self._initial_config)
            self._warm_up()
        except Exception as error:  # a broken preset or plug-in: tell the client, end
            log.exception("session %s could not start", self.id)
            self._refuse_attach(error)
            return
        self._reset_config = self.trainer.config
        self._builder = FRAME_PROCESSES.builder(
            on_error=lambda reason: self._inbox.put(("failed", reason)),
            on_evaluated=lambda seconds: self._inbox.put(("evaluated", seconds)),
        )
        try:
            while not self._stop.is_set():
                try:
                    self._drain_inbox(self._wait_time())
                    if self.outbox is not None and not self._stop.is_set():
                        self._work()
                except Exception as error:  # a bug: say so, pause, keep the session alive
                    log.exception("session %s failed", self.id)
                    self._failed(f"the server failed: {error!r}; paused")
        finally:
            self._builder.stop()

    def _failed(self, message: str) -> None:
        """Pause and say what failed (a bug, or a plug-in that fails on a probe)."""
        self.playing = False
        self._send(error_reply(ProtocolError("internal", message), self.version))

    def _refuse_attach(self, error: Exception) -> None:
        """Answer the first connection of a session whose Trainer could not be built."""
        self.ended = True
        try:
            item = self._inbox.get(timeout=IDLE_WAIT)
        except queue.Empty:
            return
        if item[0] == "attach":
            message = f"the session could not start: {error}; try another preset"
            self.outbox = item[1]
            self._send(error_reply(ProtocolError("internal", message), None))
            item[1].close(1011, "session could not start")

    def _wait_time(self) -> float:
        """How long the worker may block on its inbox (0: there is work to do)."""
        if self.outbox is None:
            return IDLE_WAIT
        now = time.monotonic()
        if self._frame_due:
            return 0.0
        if self.playing:
            if self._steps_left() > 0:
                return 0.0
            return max(0.0, self._next_frame_at - now)
        if self._evaluation_wanted():
            return max(0.0, self._next_eval_at - now)
        return IDLE_WAIT

    def _drain_inbox(self, wait: float) -> None:
        try:
            item = self._inbox.get(timeout=wait) if wait else self._inbox.get_nowait()
            while True:
                self._handle(item)
                item = self._inbox.get_nowait()
        except queue.Empty:
            pass

    def _handle(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "command":
            self._command(item[1])
        elif kind == "reject":
            self._send(error_reply(item[1], self.version))
        elif kind == "attach":
            self._attach(item[1], item[2])
        elif kind == "evaluated":  # from the FrameBuilder
            self._evaluating, self._evaluation_seconds = False, item[1]
        elif kind == "failed":  # from the FrameBuilder
            self._failed(
                f"the frame or metrics could not be made ({item[1]}); paused. Press play to "
                "go on; if it happens again, a plug-in loss or regularizer may fail outside "
                "training: change it, or reset"
            )
        elif kind == "detach":
            self._resume_playing = self.playing
            self.playing = False
            self.outbox = None

    def _attach(self, outbox: Outbox, resumed: bool) -> None:
        self.outbox = outbox
        if resumed and self._resume_playing and self.trainer.halt is None:
            self._start_playing()
        self._resume_playing = False
        self._send(
            Hello(
                session=self.id,
                resumed=resumed,
                grace_seconds=self.settings.grace_seconds,
                preset=self.preset,
                version=self.version,
                iteration=self.trainer.iteration,
                playing=self.playing,
                config=self.trainer.config.model_dump(mode="json"),
                view=self.view,
                pace=self.pace,
                limits=self.settings.limits.as_json(),
            )
        )
        self._frame_due = True

    def _work(self) -> None:
        """One slice of work: a frame if one is due, else some training; then metrics; in
        one of the COMPUTE_SLOTS, taken in turn with the other sessions."""
        with COMPUTE_SLOTS:
            self._work_slice()

    def _work_slice(self) -> None:
        now = time.monotonic()
        on_clock = self.playing and now >= self._next_frame_at and self._steps_left() == 0
        if on_clock or self._frame_due:  # frames after commands keep the clock as it is
            self._send_frame()
            if on_clock:
                self._schedule_frame(after=self._next_frame_at)
        elif self.playing and self._steps_left() > 0:
            self._train_chunk(now)
        self._maybe_evaluate()

    # ----- pacing ---------------------------------------------------------------------
    def _period(self) -> float:
        return self.pace.slow_motion or 1.0 / self.pace.fps

    def _steps_left(self) -> float:
        """Iterations still to run before the next frame (inf: as many as time allows)."""
        per_frame = 1 if self.pace.slow_motion else self.pace.steps_per_frame
        if per_frame == 0:  # at least one iteration between frames, then until the clock
            due = time.monotonic() >= self._next_frame_at and self._steps_since_frame > 0
            return 0 if due else float("inf")
        return max(0, per_frame - self._steps_since_frame)

    def _schedule_frame(self, after: float) -> None:
        now = time.monotonic()
        self._next_frame_at = max(after + self._period(), now)
        self._steps_since_frame = 0

    def _start_playing(self) -> None:
        self.playing = True
        self._schedule_frame(after=time.monotonic())

    def _train_chunk(self, now: float) -> None:
        room = max(0.0, min(self._next_frame_at - now, CHUNK_SECONDS))
        n = int(min(self._steps_left(), max(1, room / self._sec_per_iter)))
        self._steps_since_frame += self._train(n, "both")

    def _train(self, n: int, part: str, budget: float = math.inf) -> int:
        """n steps in chunks of about CHUNK_SECONDS; stops early on stop, halt, or when the
        budget (seconds) is spent."""
        done, before = 0, self.trainer.iteration
        deadline = time.perf_counter() + budget
        while (
            done < n
            and not self._stop.is_set()
            and self.trainer.halt is None
            and time.perf_counter() < deadline
        ):
            chunk = min(n - done, max(1, int(CHUNK_SECONDS / self._sec_per_iter)))
            start = time.perf_counter()
            self.trainer.step(chunk, part=part)
            elapsed = time.perf_counter() - start
            self._sec_per_iter = 0.5 * self._sec_per_iter + 0.5 * elapsed / chunk
            done += chunk
        self._part = part
        self._check_halt()
        return self.trainer.iteration - before if part == "both" else done

    def _check_halt(self) -> None:
        """Report a new halt once: pause, send ``diverged`` and a frame."""
        halt = self.trainer.halt
        if halt is None:
            self._halt_reported = False
            return
        if self._halt_reported:
            return
        self._halt_reported = True
        self.playing = False
        self._frame_due = True
        self._send(Diverged(**halt.as_dict(), version=self.version))

    # ----- frames and metrics -------------------------------------------------------------
    def _send_frame(self) -> None:
        """Have the builder make a frame of the Trainer as it is now."""
        self._frame_due = False
        if self.outbox is None:
            return
        header = FrameHeader(
            seq=self._seq,
            iteration=self.trainer.iteration,
            version=self.version,
            playing=self.playing,
            part=self._part,
        )
        self._seq += 1
        self._builder.build(
            FrameJob(
                state=self.trainer.reading_state(),
                header=header,
                view=self.view,
                trails_epoch=self._trails_epoch,
                outbox=self.outbox,
                place=self.outbox.reserve_frame(),
            )
        )

    def _evaluation_wanted(self) -> bool:
        """The costly metrics are out of date and the builder is free to make them."""
        tr = self.trainer
        return tr.iteration != self._eval_iteration and not tr.halt and not self._evaluating

    def _maybe_evaluate(self) -> None:
        now = time.monotonic()
        if self.outbox is None or not self._evaluation_wanted() or now < self._next_eval_at:
            return
        spacing = self._evaluation_seconds / EVAL_SHARE  # the last one's: this one is to come
        self._next_eval_at = now + min(max(EVAL_INTERVAL, spacing), EVAL_MAX_INTERVAL)
        self._evaluating = True
        self._eval_iteration = self.trainer.iteration
        self._builder.build(
            EvaluationJob(
                state=self.trainer.reading_state(),
                version=self.version,
                samples=self.settings.evaluate_samples,
                outbox=self.outbox,
                place=self.outbox.reserve_message(),
            )
        )

    def _send(self, message: Message) -> None:
        if self.outbox is not None:
            self.outbox.put_message(message.to_json())

    # ----- commands -----------------------------------------------------------------------
    def _command(self, command: Command) -> None:
        """Carry out a command and answer it: ack (with extras) or error."""
        self._after = []
        try:
            extras = self._apply(command)
        except ProtocolError as error:
            error.command, error.id = command.type, command.id
            self._send(error_reply(error, self.version))
            return
        except Exception as failure:  # a bug: answer it, pause, keep the session
            log.exception("session %s failed on %s", self.id, command.type)
            self.playing = False
            message = f"the server failed on this command ({failure!r}); paused"
            error = ProtocolError("internal", message, command=command.type, id=command.id)
            self._send(error_reply(error, self.version))
            return
        self._send(
            Ack(
                id=command.id,
                command=command.type,
                version=self.version,
                iteration=self.trainer.iteration,
                playing=self.playing,
                **extras,
            )
        )
        for message in self._after:
            self._send(message)
        if isinstance(command, End) and self.outbox is not None:
            self.ended = True
            self.outbox.close(1000, "session ended")
            self._stop.set()
        self._check_halt()

    def _apply(self, command: Command) -> dict[str, Any]:
        """The command's effect; returns the ack's extra keys. Events go to ``_after``."""
        if isinstance(command, Play):
            self._refuse_if_halted()
            if not self.playing:
                self._start_playing()
        elif isinstance(command, Pause):
            self.playing = False
            self._frame_due = True
        elif isinstance(command, Step):
            self._refuse_if_halted()
            done = self._train(command.n, command.part, budget=STEP_SECONDS)
            self._frame_due = True
            if done < command.n and self.trainer.halt is None:
                return {
                    "steps": done,
                    "message": f"stopped after {done} of {command.n} steps: one step command "
                    f"may train for at most {STEP_SECONDS:g} s; send another to go on",
                }
            return {"steps": done}
        elif isinstance(command, Update):
            return self._update(command)
        elif isinstance(command, Reset):
            return self._reset(command)
        elif isinstance(command, View):
            return self._view(command)
        elif isinstance(command, Pace):
            self.pace = self.pace.model_copy(update=command.changes())
            if self.playing:
                self._schedule_frame(after=time.monotonic())
            return {"pace": self.pace.model_dump()}
        elif isinstance(command, Export):
            return {"replay": self._replay()}
        return {}

    def _refuse_if_halted(self) -> None:
        halt = self.trainer.halt
        if halt is not None:
            raise ProtocolError(
                "halted",
                f"{halt.message} (send update with a smaller learning rate, or reset)",
            )

    def _view(self, command: View) -> dict[str, Any]:
        changes = command.changes()
        self.view = self.view.model_copy(update=changes)
        if {"samples", "trails"} & changes.keys():
            self._trails_epoch += 1
        self._frame_due = True
        return {"view": self.view.model_dump()}

    def _update(self, command: Update) -> dict[str, Any]:
        old = self.trainer.config
        with config_errors(lambda field: "patch." + field):
            merged = validate_config(merge(old.model_dump(), command.patch))
            check_config_limits(merged, self.limits)
            self.trainer.update(command.patch, reset_moments=command.reset_moments)
        return self._config_applied(old.model_dump(mode="json"), reset=False)

    def _reset(self, command: Reset) -> dict[str, Any]:
        if command.preset is not None and command.preset not in PRESETS:
            allowed = ", ".join(PRESETS)
            raise ProtocolError(
                "invalid", f"unknown preset {command.preset!r}; allowed: {allowed}", "preset"
            )
        if command.config is not None:
            base = command.config
        elif command.preset is not None:
            base = PRESETS[command.preset].config
        else:
            base = self.trainer.config.model_dump()

        def locate(field: str) -> str:
            if field.split(".")[0] in (command.patch or {}):
                return "patch." + field
            return "config." + field if command.config is not None else "preset"

        old = self.trainer.config.model_dump(mode="json")
        with config_errors(locate):
            config = validate_config(merge(base, command.patch or {}))
            check_config_limits(config, self.limits)
            self.trainer.reset(config)  # the engine may refuse more (e.g. points without points)
        self._reset_config = config
        if command.config is not None:
            self.preset = None
        elif command.preset is not None:
            self.preset = command.preset
            self._warm_up()
        self._trails_epoch += 1
        self._eval_iteration = -1
        self._halt_reported = False
        if self.playing:
            self._schedule_frame(after=time.monotonic())
        return {**self._config_applied(old, reset=True), "preset": self.preset}

    def _warm_up(self) -> None:
        """The preset's teaching steps (e.g. D trained alone first); part of the replay."""
        if self.preset is not None:
            for part, n in PRESETS[self.preset].warmup:
                self.trainer.step(n, part=part)

    def _config_applied(self, old: dict[str, Any], reset: bool) -> dict[str, Any]:
        """After an update or reset: a new version, config_changed, a frame."""
        self.version += 1
        new = self.trainer.config.model_dump(mode="json")
        changes = config_changes(old, new)
        self._after.append(
            ConfigChanged(
                version=self.version,
                iteration=self.trainer.iteration,
                reset=reset,
                changes=changes,
                summary=summarise(changes),
            )
        )
        self._frame_due = True
        return {"config": new, "changes": [change.model_dump() for change in changes]}

    def _replay(self) -> dict[str, Any]:
        return {
            "config": self._reset_config.model_dump(mode="json"),
            "commands": [[at, kind, payload] for at, kind, payload in self.trainer.commands],
            "iteration": self.trainer.iteration,
            "version": self.version,
        }

    @property
    def limits(self) -> Limits:
        return self.settings.limits


def thread_count(prefix: str) -> int:
    """Live threads whose name starts with ``prefix`` in this process."""
    return sum(1 for thread in threading.enumerate() if thread.name.startswith(prefix))


class SessionRegistry:
    """The sessions of one server: the cap, attach and detach, the grace period.

    Used from the event loop only. A session is attached while a connection owns it and
    detached between a drop and its resume or expiry.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sessions: dict[str, Session] = {}
        self._owners: dict[str, Outbox] = {}
        self._expiry: dict[str, asyncio.TimerHandle] = {}

    def open(self, session_id: str | None, preset: str | None, outbox: Outbox) -> Session | None:
        """Resume ``session_id`` or start a new session; None when the server is full."""
        session = self._sessions.get(session_id or "")
        resumed = session is not None
        if session is None:
            full = len(self._sessions) >= self.settings.max_sessions
            if full and not self._end_oldest_detached():
                return None
            name = preset if preset in PRESETS else DEFAULT_PRESET
            session = Session(PRESETS[name].config, name, self.settings)
            self._sessions[session.id] = session
            session.start()
        else:
            self._cancel_expiry(session.id)
            previous = self._owners.get(session.id)
            if previous is not None:
                previous.close(4001, "session taken over by another connection")
        self._owners[session.id] = outbox
        session.attach(outbox, resumed)
        return session

    def release(self, session: Session, outbox: Outbox) -> None:
        """The connection that owned ``session`` through ``outbox`` is gone."""
        if self._owners.get(session.id) is not outbox:
            return  # taken over by a newer connection
        del self._owners[session.id]
        if session.ended:
            self.end(session)
            return
        session.detach()
        self._expiry[session.id] = asyncio.get_running_loop().call_later(
            self.settings.grace_seconds, self._expire, session.id
        )

    def end(self, session: Session) -> None:
        """Forget a session and stop its worker."""
        session.stop()
        self._cancel_expiry(session.id)
        self._sessions.pop(session.id, None)
        self._owners.pop(session.id, None)

    def end_all(self) -> None:
        for session in list(self._sessions.values()):
            self.end(session)

    def stats(self) -> dict[str, int]:
        return {
            "sessions": len(self._sessions),
            "detached": len(self._sessions) - len(self._owners),
            "workers": thread_count(THREAD_PREFIX),
            **FRAME_PROCESSES.stats(),
            "max_sessions": self.settings.max_sessions,
        }

    def _expire(self, session_id: str) -> None:
        self._expiry.pop(session_id, None)
        session = self._sessions.get(session_id)
        if session is not None and session_id not in self._owners:
            self.end(session)

    def _cancel_expiry(self, session_id: str) -> None:
        timer = self._expiry.pop(session_id, None)
        if timer is not None:
            timer.cancel()

    def _end_oldest_detached(self) -> bool:
        """Make room by ending the session detached longest ago; False if none is."""
        if not self._expiry:
            return False
        oldest = min(self._expiry, key=lambda session_id: self._expiry[session_id].when())
        self.end(self._sessions[oldest])
        return True
