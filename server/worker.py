"""A worker process: it trains many sessions in turns, builds their frames and evaluations
itself, and sends finished, encoded messages up to the web process (server.workers).

``gandyn serve`` starts one per core (``--workers N``). Each is a single thread: no GIL is
shared with anything, and no lock is needed. The loop takes the sessions that have work in
turn (round robin); a turn builds the session's frame if one is due, trains for at most
``turn_budget`` seconds (TURN_MIN to TURN_MAX: shorter when more sessions wait, so that each
gets a turn about every ROUND_SECONDS), and makes an evaluation if one is due. Between turns
it reads its pipe, so a command waits for at most one turn. A config whose one iteration is
too heavy for a turn is refused (server.protocol.check_config_limits), so no turn is long.

Messages from the web process (server.channel framing):
- ``("open", sid, preset[, why])``: a new session at a preset (its warm-up runs as a job);
- ``("restore", sid, saved, meta, why, epoch)``: a session rebuilt from its last checkpoint
  (``epoch`` None: no connection owns it);
- ``("attach", sid, resumed, epoch)`` / ``("detach", sid)``: connection number ``epoch``
  owns it now / is gone;
- ``("command", sid, command)``: a parsed command; ``("reject", sid, error)``: answer a
  message the web process refused, in order with the rest;
- ``("end", sid)``: forget the session.

Messages to it: ``("ready", pid)``; ``("out", sid, epoch, text or frame)``;
``("close", sid, epoch, code, reason)`` (epoch None: whichever connection owns it);
``("ended", sid)`` (it ended itself); ``("checkpoint", sid, saved, meta)`` (at most every
CHECKPOINT_SECONDS while it changes); ``("load", None, stats)`` once a second.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from gan_core import ConfigError, TrainConfig, Trainer, load_plugin, validate_config
from gan_core.config import merge
from server.channel import receive, send
from server.presets import DEFAULT_PRESET, PRESETS, preset_named
from server.protocol import (
    Ack,
    Command,
    ConfigChanged,
    Diverged,
    End,
    Evaluation,
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
    Restored,
    Step,
    Update,
    View,
    ViewOptions,
    check_config_limits,
    config_changes,
    error_reply,
    plain,
    snapshot_frame,
    summarise,
)
from server.settings import Settings

log = logging.getLogger("gandyn.worker")

ROUND_SECONDS = 0.05  # each waiting session gets a turn about this often...
TURN_MIN = 0.004  # ...with at least this much training a turn (frames then come less often)
TURN_MAX = 0.02  # and at most this much: a turn never holds the worker longer (+1 iteration)
STEP_SECONDS = 10.0  # one step command trains at most this long (its ack says how far)
# Commands that may wait behind a running step or warm-up; more are refused (queue_full).
# The rate limit (50/s) would let a 10 s step gather 500.
MAX_WAITING = 32
EVAL_INTERVAL = 0.5  # costly metrics at most twice a second,
EVAL_SHARE = 0.05  # taking at most 5 % of the worker's time when that allows them,
EVAL_MAX_INTERVAL = 2.0  # and at least every 2 s while the run changes
FRAME_SHARE = 0.5  # a session's frames take at most half of the wall clock (adaptive fps)
CHECKPOINT_SECONDS = 5.0  # a session changed since its last checkpoint sends one this often
FIRST_CHECKPOINT_SECONDS = 0.5  # and its first this soon after it starts
LOAD_SECONDS = 1.0
IDLE_WAIT = 1.0


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


class Training:
    """A job trained in turns: ``parts`` [(part, n), ...] in order, then ``done(steps, why)``
    with the steps made and why it stopped early (None: it did not). A step command's job
    can be cut short (by its deadline, a halt, pause or end); a preset's warm-up cannot."""

    def __init__(
        self,
        parts: list[tuple[str, int]],
        done: Callable[[int, str | None], None],
        seconds: float = math.inf,
        cuttable: bool = False,
    ) -> None:
        self.parts = deque(parts)
        self.done = done
        self.deadline = time.monotonic() + seconds
        self.cuttable = cuttable
        self.steps = 0


class WorkerSession:
    """One training run and what its connection sees; lives in one worker process."""

    def __init__(self, worker: Worker, sid: str, trainer: Trainer, preset: str | None) -> None:
        self.worker = worker
        self.id = sid
        self.settings = worker.settings
        self.trainer = trainer
        self.preset = preset
        self.reset_config: TrainConfig = trainer.config  # the config of the last reset
        self.version = 0
        self.playing = False
        self.attached = False
        self.view = ViewOptions()
        self.pace = PaceOptions()
        self.job: Training | None = None
        self.queue: deque[Command] = deque()  # commands that wait for the job to end
        self._resume_playing = False
        self._pending_attach: bool | None = None  # an attach that waits for the warm-up
        self._restoring: str | None = None  # rebuilt after its worker died: why
        self._seq = 0
        self._part: str | None = None
        self._trails: deque[np.ndarray] = deque(maxlen=1)
        self._frame_due = False
        self._next_frame_at = 0.0
        self._frame_seconds = 0.0  # what the last frame cost
        self._steps_since_frame = 0
        self._sec_per_iter = 0.005
        self._next_eval_at = 0.0
        self._eval_iteration = -1
        self._eval_seconds = 0.0
        self._halt_reported = False
        self.changed = True  # since the last checkpoint
        self.checkpoint_at = time.monotonic() + FIRST_CHECKPOINT_SECONDS
        self._after: list[Message] = []

    # ----- what the worker asks -----------------------------------------------------------
    def runnable(self, now: float) -> bool:
        if self.job is not None:
            return True
        if not self.attached:
            return False
        if self._frame_due or (self.playing and self._steps_left(now) > 0):
            return True
        return now >= self.wake_at()

    def wake_at(self) -> float:
        """When this session next has work, if nothing arrives (inf: never)."""
        if not self.attached:
            return math.inf
        due = self._next_eval_at if self._evaluation_wanted() else math.inf
        return min(self._next_frame_at, due) if self.playing else due

    def turn(self, budget: float, sharing: int) -> None:
        """One bounded slice of work: about ``budget`` seconds of training. ``sharing``: the
        sessions that wait for this worker now; when others do, the turn trains for its
        whole budget (the next frame comes at the next turn: turns of equal length are what
        makes it fair); alone, it stops at its frame clock."""
        try:
            if self.job is not None:
                if self._frame_due and self.job.cuttable:  # the last step's, before the next
                    self._send_frame()
                self._run_job(budget)
            else:
                self._play(budget, shared=sharing > 1)
            self._maybe_evaluate(sharing)
        except Exception as error:  # a bug, or a plug-in failing in a probe: say so, pause
            log.exception("session %s failed", self.id)
            self.playing = False
            self.job = None
            self.send(
                error_reply(
                    ProtocolError(
                        "internal",
                        f"the server failed on this session ({error!r}); paused. Press play "
                        "to go on; if it happens again, a plug-in loss or regularizer may fail "
                        "outside training: change it, or reset",
                    ),
                    self.version,
                )
            )

    def _play(self, budget: float, shared: bool) -> None:
        now = time.monotonic()
        on_clock = self.playing and now >= self._next_frame_at and self._steps_left(now) == 0
        if on_clock or self._frame_due:
            self._send_frame()
            if on_clock:
                self._schedule_frame(after=self._next_frame_at)
        if self.playing and self._steps_left(time.monotonic()) > 0:
            until_frame = self._next_frame_at - time.monotonic()
            room = budget if shared else max(0.0, min(until_frame, budget))
            n = int(min(self._steps_left(now), max(1, room / self._sec_per_iter)))
            self._steps_since_frame += self._train(n, "both", room)

    # ----- connection ---------------------------------------------------------------------
    def send(self, message: Message | bytes) -> None:
        """To the connection that owns the session now (``epoch`` names it: what was sent
        to an earlier one is dropped by the web process)."""
        if self.attached:
            item = message if isinstance(message, bytes) else message.to_json()
            self.worker.send(("out", self.id, self.epoch, item))

    def attach(self, resumed: bool, epoch: int) -> None:
        self.epoch = epoch
        if self.job is not None and not self.job.cuttable and not self.attached:
            self._pending_attach = resumed  # the preset's warm-up first: hello comes after
            return
        self.attached = True
        if resumed and self._resume_playing and self.trainer.halt is None:
            self._start_playing()
        self._resume_playing = False
        self.send(
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
        if self._restoring is not None:
            self.tell_restored()

    def detach(self) -> None:
        self._resume_playing = self.playing
        self.playing = False
        self.attached = False
        self._pending_attach = None

    def restored(self, meta: dict[str, Any], why: str) -> None:
        """Rebuilt from a checkpoint after its worker died: the state the checkpoint kept."""
        self.version = meta["version"]
        self.preset = meta["preset"]
        self.reset_config = validate_config(meta["reset_config"])
        self.view = ViewOptions(**meta["view"])
        self.pace = PaceOptions(**meta["pace"])
        self._seq = meta["seq"]
        self.restart_trails()
        self._restoring = (
            f"{why}; this session was rebuilt from its last checkpoint, at iteration "
            f"{self.trainer.iteration} (at most {CHECKPOINT_SECONDS:g} s of training before "
            "it was lost, and the replies to commands sent meanwhile), and is paused: press "
            "play to go on"
        )

    def tell_restored(self) -> None:
        """After a rebuild, say what happened (once, to the first connection)."""
        message, self._restoring = self._restoring, None
        if message is not None:
            self.send(
                Restored(version=self.version, iteration=self.trainer.iteration, message=message)
            )
        self._frame_due = True

    def meta(self) -> dict[str, Any]:
        """What a checkpoint keeps beside the Trainer."""
        return {
            "version": self.version,
            "preset": self.preset,
            "reset_config": self.reset_config.model_dump(mode="json"),
            "view": self.view.model_dump(),
            "pace": self.pace.model_dump(),
            "seq": self._seq,
        }

    # ----- pacing -------------------------------------------------------------------------
    def _period(self) -> float:
        """Seconds between frames: the asked rate, slower when frames are costly."""
        asked = self.pace.slow_motion or 1.0 / self.pace.fps
        return max(asked, self._frame_seconds / FRAME_SHARE)

    def _steps_left(self, now: float) -> float:
        """Iterations still to run before the next frame (inf: as many as time allows)."""
        per_frame = 1 if self.pace.slow_motion else self.pace.steps_per_frame
        if per_frame == 0:  # at least one iteration between frames, then until the clock
            due = now >= self._next_frame_at and self._steps_since_frame > 0
            return 0 if due else math.inf
        return max(0, per_frame - self._steps_since_frame)

    def _schedule_frame(self, after: float) -> None:
        self._next_frame_at = max(after + self._period(), time.monotonic())
        self._steps_since_frame = 0

    def _start_playing(self) -> None:
        self.playing = True
        self._schedule_frame(after=time.monotonic())

    def _train(self, n: int, part: str, budget: float = TURN_MAX) -> int:
        """Up to n steps within about ``budget`` seconds (at least one); the steps made."""
        tr = self.trainer
        before, done = tr.iteration, 0
        deadline = time.perf_counter() + budget
        while done < n and tr.halt is None:
            left = deadline - time.perf_counter()
            chunk = min(n - done, max(1, int(left / self._sec_per_iter)))
            start = time.perf_counter()
            tr.step(chunk, part=part)  # type: ignore[arg-type]
            took = (time.perf_counter() - start) / chunk
            self._sec_per_iter = 0.5 * self._sec_per_iter + 0.5 * took
            if tr.halt is not None:  # the steps before the failing one were made
                done += max(0, tr.halt.iteration - before) if part == "both" else 0
                break
            done += chunk
            if time.perf_counter() >= deadline:
                break
        self._part = part
        self.changed = True
        self._check_halt()
        return done

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
        self.send(Diverged(**halt.as_dict(), version=self.version))

    # ----- jobs ---------------------------------------------------------------------------
    def _run_job(self, budget: float) -> None:
        job = self.job
        assert job is not None
        while job.parts and budget > 0:
            part, n = job.parts[0]
            start = time.perf_counter()
            done = self._train(n, part, budget)
            budget -= time.perf_counter() - start
            job.steps += done
            if done >= n:
                job.parts.popleft()
            else:
                job.parts[0] = (part, n - done)
            if self.trainer.halt is not None:
                self._finish_job("halted")
                return
        if not job.parts:
            self._finish_job(None)
        elif time.monotonic() >= job.deadline:
            self._finish_job("time")

    def _finish_job(self, why: str | None) -> None:
        """End the job (``why`` it stopped early, or None), then the commands it held back."""
        job, self.job = self.job, None
        if job is not None:
            job.done(job.steps, why)
        self._drain_queue()

    def _drain_queue(self) -> None:
        while self.job is None and self.queue:
            self._command(self.queue.popleft())

    # ----- frames and metrics -------------------------------------------------------------
    def _send_frame(self) -> None:
        self._frame_due = False
        if not self.attached:
            return
        start = time.perf_counter()
        header = FrameHeader(
            seq=self._seq,
            iteration=self.trainer.iteration,
            version=self.version,
            playing=self.playing,
            part=self._part,
        )
        self._seq += 1
        snapshot = self.trainer.snapshot(self.view.probe_options())
        trails = np.stack(self._trails) if self.view.trails and self._trails else None
        if self.view.trails:
            self._trails.append(snapshot["fake"])
        self.send(snapshot_frame(snapshot, header, self.view, trails))
        self._frame_seconds = time.perf_counter() - start

    def _evaluation_wanted(self) -> bool:
        tr = self.trainer
        return tr.iteration != self._eval_iteration and tr.halt is None

    def _maybe_evaluate(self, sharing: int) -> None:
        """The costly metrics when due: they take at most EVAL_SHARE of the time of the
        worker, shared by ``sharing`` sessions (at least every EVAL_MAX_INTERVAL)."""
        now = time.monotonic()
        if not self.attached or not self._evaluation_wanted() or now < self._next_eval_at:
            return
        if self.job is not None:
            return
        start = time.perf_counter()
        self._eval_iteration = self.trainer.iteration
        metrics = self.trainer.evaluate(n=self.settings.evaluate_samples)
        seconds = time.perf_counter() - start
        self.send(
            Evaluation(
                iteration=self.trainer.iteration,
                version=self.version,
                seconds=seconds,
                metrics=plain(metrics),
            )
        )
        spacing = seconds * sharing / EVAL_SHARE
        self._next_eval_at = now + min(max(EVAL_INTERVAL, spacing), EVAL_MAX_INTERVAL)

    # ----- commands -----------------------------------------------------------------------
    def submit(self, command: Command) -> None:
        """Carry out a command now, or after the running job (pause and end cut it short)."""
        if self.job is not None and not (self.job.cuttable and isinstance(command, Pause | End)):
            if len(self.queue) >= MAX_WAITING:
                self.reject(
                    ProtocolError(
                        "queue_full",
                        f"{MAX_WAITING} commands already wait for the running step; this one "
                        "was ignored: wait for the step's ack, or send pause",
                        command=command.type,
                        id=command.id,
                    )
                )
                return
            self.queue.append(command)
            return
        if self.job is not None:
            self._finish_job(f"a {command.type} command")
        self._command(command)
        self._drain_queue()

    def reject(self, error: ProtocolError) -> None:
        self.send(error_reply(error, self.version))

    def _command(self, command: Command) -> None:
        """Carry out a command and answer it: ack (with extras) or error; a step or a reset
        to a preset with a warm-up answers when its job ends."""
        self._after = []
        try:
            extras = self._apply(command)
        except ProtocolError as error:
            error.command, error.id = command.type, command.id
            self.send(error_reply(error, self.version))
            return
        except Exception as failure:  # a bug: answer it, pause, keep the session
            log.exception("session %s failed on %s", self.id, command.type)
            self.playing = False
            message = f"the server failed on this command ({failure!r}); paused"
            error = ProtocolError("internal", message, command=command.type, id=command.id)
            self.send(error_reply(error, self.version))
            return
        self.changed = True
        if extras is not None:
            self._acknowledge(command, extras)

    def _acknowledge(self, command: Command, extras: dict[str, Any]) -> None:
        if isinstance(command, Reset):  # a new run: its first checkpoint before the ack
            self.worker.checkpoint(self)
        elif isinstance(command, Update):
            self.checkpoint_at = min(
                self.checkpoint_at, time.monotonic() + FIRST_CHECKPOINT_SECONDS
            )
        self.send(
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
            self.send(message)
        self._after = []
        if isinstance(command, End):
            self.worker.end(self, "session ended")
            return
        self._check_halt()

    def _apply(self, command: Command) -> dict[str, Any] | None:
        """The command's effect; returns the ack's extra keys (None: the ack comes later).
        Events go to ``_after``."""
        if isinstance(command, Play):
            self._refuse_if_halted()
            if not self.playing:
                self._start_playing()
        elif isinstance(command, Pause):
            self.playing = False
            self._frame_due = True
        elif isinstance(command, Step):
            self._refuse_if_halted()
            if command.part != "both" and self.trainer.commands_full():
                raise ProtocolError(
                    "invalid",
                    "this run has had as many changes and part steps as its replay keeps; "
                    "reset to go on",
                    "part",
                )
            self._start_step(command)
            return None
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

    def _start_step(self, command: Step) -> None:
        def done(steps: int, cut: str | None) -> None:
            self._frame_due = True
            extras: dict[str, Any] = {"steps": steps}
            if cut == "time":
                extras["message"] = (
                    f"stopped after {steps} of {command.n} steps: one step command may train "
                    f"for at most {STEP_SECONDS:g} s; send another to go on"
                )
            elif cut == "halted":
                extras["message"] = (
                    f"stopped after {steps} of {command.n} steps: training halted (see the "
                    "diverged event)"
                )
            elif cut is not None:
                extras["message"] = f"stopped after {steps} of {command.n} steps by {cut}"
            self._acknowledge(command, extras)

        self.job = Training([(command.part, command.n)], done, STEP_SECONDS, cuttable=True)

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
            self.restart_trails()
        self._frame_due = True
        return {"view": self.view.model_dump()}

    def restart_trails(self) -> None:
        self._trails = deque(maxlen=max(1, self.view.trails))

    def _update(self, command: Update) -> dict[str, Any]:
        old = self.trainer.config
        with config_errors(lambda field: "patch." + field):
            merged = validate_config(merge(old.model_dump(), command.patch))
            check_config_limits(merged, self.settings.limits)
            self.trainer.update(command.patch, reset_moments=command.reset_moments)
        return self._config_applied(old.model_dump(mode="json"), reset=False)

    def _reset(self, command: Reset) -> dict[str, Any] | None:
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
            check_config_limits(config, self.settings.limits)
            self.trainer.reset(config)  # the engine may refuse more (e.g. points without points)
        self.reset_config = config
        self._part = None
        if command.config is not None:
            self.preset = None
        elif command.preset is not None:
            self.preset = command.preset
        self.restart_trails()
        self._eval_iteration = -1
        self._halt_reported = False
        if self.playing:
            self._schedule_frame(after=time.monotonic())
        extras = {**self._config_applied(old, reset=True), "preset": self.preset}
        warmup = preset_named(self.preset).warmup if command.preset is not None else []
        if not warmup:
            return extras
        after = self._after

        def done(steps: int, cut: str | None) -> None:
            self._after = after
            self._part = warmup[-1][0]
            self._acknowledge(command, extras)  # its iteration: after the warm-up

        self.job = Training(list(warmup), done)
        return None

    def warm_up(self) -> None:
        """The preset's teaching steps (e.g. D trained alone first), before the first hello;
        part of the replay."""
        warmup = preset_named(self.preset).warmup if self.preset is not None else []
        if not warmup:
            return

        def done(steps: int, cut: str | None) -> None:
            self._part = warmup[-1][0]
            if self._pending_attach is not None:
                resumed, self._pending_attach = self._pending_attach, None
                self.attach(resumed, self.epoch)

        self.job = Training(list(warmup), done)

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
            "config": self.reset_config.model_dump(mode="json"),
            "commands": [[at, kind, payload] for at, kind, payload in self.trainer.commands],
            "iteration": self.trainer.iteration,
            "version": self.version,
        }


class Worker:
    """The loop of one worker process and the sessions it holds."""

    def __init__(self, connection: Connection, settings: Settings) -> None:
        self.connection = connection
        self.settings = settings
        self.sessions: dict[str, WorkerSession] = {}
        self.gone = False  # the web process closed its end
        self._busy = 0.0
        self._load_at = time.monotonic() + LOAD_SECONDS

    def send(self, message: tuple[Any, ...]) -> None:
        """To the web process; if it is gone, the loop ends after this turn."""
        try:
            send(self.connection, message)
        except OSError:
            self.gone = True

    def run(self) -> None:
        self.send(("ready", os.getpid()))
        while self._read(self._wait_time()):
            now = time.monotonic()
            waiting = [s for s in self.sessions.values() if s.runnable(now)]
            budget = min(TURN_MAX, max(TURN_MIN, ROUND_SECONDS / max(1, len(waiting))))
            for session in waiting:
                if session.id not in self.sessions:
                    continue  # ended by a command read between two turns
                start = time.perf_counter()
                session.turn(budget, sharing=len(waiting))
                self._busy += time.perf_counter() - start
                if not self._read(0):
                    return
            self._housekeeping()

    def _wait_time(self) -> float:
        now = time.monotonic()
        if any(s.runnable(now) for s in self.sessions.values()):
            return 0.0
        wake = min((s.wake_at() for s in self.sessions.values()), default=math.inf)
        return max(0.0, min(wake - now, self._load_at - now, IDLE_WAIT))

    def _read(self, timeout: float) -> bool:
        """Handle what the web process sent; False when it is gone."""
        if self.gone:
            return False
        try:
            while self.connection.poll(timeout):
                timeout = 0
                message = receive(self.connection)
                try:
                    self._handle(message)
                except Exception:  # a bug: this message is lost, the other sessions go on
                    log.exception("worker could not handle %r", message[:2])
        except (EOFError, OSError):
            return False
        return True

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind, sid, *rest = message
        if kind == "open":
            self._open(sid, *rest)
            return
        if kind == "restore":
            self._restore(sid, *rest)
            return
        session = self.sessions.get(sid)
        if session is None:
            return  # ended meanwhile
        if kind == "attach":
            session.attach(*rest)
        elif kind == "detach":
            session.detach()
        elif kind == "command":
            session.submit(rest[0])
        elif kind == "reject":
            session.reject(rest[0])
        elif kind == "end":
            self.sessions.pop(sid, None)

    def _open(self, sid: str, preset: str | None, why: str | None = None) -> None:
        """A new session at ``preset``; ``why``: it is the rebuild of one that had no
        checkpoint yet, whose worker died (said after its hello)."""
        name = preset if preset in PRESETS else DEFAULT_PRESET
        try:
            trainer = Trainer(PRESETS[name].config)
        except Exception as error:  # a broken preset or plug-in: tell the client, end
            log.exception("session %s could not start", sid)
            self._refuse(sid, f"the session could not start: {error}; try another preset")
            return
        session = self.sessions[sid] = WorkerSession(self, sid, trainer, name)
        if why is not None:
            session._restoring = (
                f"{why}; this session had no checkpoint yet and was started again from its "
                "preset, paused: press play to go on"
            )
        session.warm_up()

    def _restore(
        self, sid: str, saved: bytes, meta: dict[str, Any], why: str, epoch: int | None
    ) -> None:
        """Rebuild a session of a worker that died; tell its connection now, if it has one,
        else after the hello of its resume."""
        trainer = Trainer.restore(saved)
        session = self.sessions[sid] = WorkerSession(self, sid, trainer, meta["preset"])
        session.restored(meta, why)
        if epoch is not None:
            session.attached, session.epoch = True, epoch
            session.tell_restored()

    def _refuse(self, sid: str, message: str) -> None:
        reply = error_reply(ProtocolError("internal", message), None).to_json()
        self.send(("out", sid, None, reply))
        self.send(("close", sid, None, 1011, "session could not start"))
        self.send(("ended", sid))

    def end(self, session: WorkerSession, reason: str) -> None:
        self.sessions.pop(session.id, None)
        self.send(("close", session.id, session.epoch, 1000, reason))
        self.send(("ended", session.id))

    def checkpoint(self, session: WorkerSession) -> None:
        session.changed = False
        session.checkpoint_at = time.monotonic() + CHECKPOINT_SECONDS
        self.send(("checkpoint", session.id, session.trainer.save(), session.meta()))

    def _housekeeping(self) -> None:
        now = time.monotonic()
        for session in list(self.sessions.values()):
            if now >= session.checkpoint_at and session.changed and session.job is None:
                self.checkpoint(session)
        if now >= self._load_at:
            elapsed = now - self._load_at + LOAD_SECONDS
            sessions = self.sessions.values()
            self.send(
                (
                    "load",
                    None,
                    {
                        "sessions": len(self.sessions),
                        "playing": sum(1 for s in sessions if s.playing),
                        "busy": min(1.0, self._busy / elapsed),
                    },
                )
            )
            self._busy, self._load_at = 0.0, now + LOAD_SECONDS


def serve_worker(connection: Connection, settings: Settings, plugins: list[str]) -> None:
    """A worker process's main (the target of its multiprocessing.Process, forked from
    the template of server.worker_start)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    for path in plugins:
        load_plugin(path)  # it loaded in the server already
    Worker(connection, settings).run()
