"""A worker process: it trains many sessions in turns, builds their frames and evaluations
itself, and sends finished, encoded messages up to the web process (server.workers).

``gandyn serve`` starts one per core (``--workers N``). Each is a single thread: no GIL is
shared with anything, and no lock is needed. The loop takes the sessions that have work in
turn (round robin); a turn builds the session's frames if due (one per lane), trains for at
most ``turn_budget`` seconds (TURN_MIN to TURN_MAX: shorter when more sessions wait, so that
each gets a turn about every ROUND_SECONDS), and makes evaluations and spectra if due.
Between turns it reads its pipe, so a command waits for at most one turn (a turn with a
spectrum: up to LIVE_SECONDS more). A session is a lane set
(gan_core.Lanes, docs/protocol.md §11): its lanes train together, one iteration of each per
session iteration, and a lane set whose one iteration is too heavy for a turn is refused
(server.protocol.check_config_limits sums the lanes), so no turn is long.

Messages from the web process (server.channel framing):
- ``("open", sid, preset[, why])``: a new session at a preset (its warm-up runs as a job);
- ``("restore", sid, saved, meta, why, epoch)``: a session rebuilt from its last checkpoint
  (``epoch`` None: no connection owns it);
- ``("attach", sid, resumed, epoch, lost)`` / ``("detach", sid)``: connection number
  ``epoch`` owns it now (``lost``: why a resumed id was not found, for its hello) / is gone;
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
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from gan_core import ConfigError, TrainConfig, Trainer, load_plugin, validate_config
from gan_core.config import apply_patch, merge
from gan_core.lanes import Lane, LaneError, Lanes, replay_piece
from gan_core.spectrum import (
    LIVE_EXACT_LIMIT,
    LIVE_K,
    LIVE_SECONDS,
    LIVE_TOL,
    SpectrumTimeout,
    game_eigenvalues,
    parameter_count,
)
from server.channel import receive, send
from server.lane_sets import Piece, config_errors, new_lanes, replayed_lanes
from server.presets import DEFAULT_PRESET, PRESETS, finish_lanes, preset_named, start_lanes
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
    LaneAdd,
    LaneClose,
    LaneFork,
    LaneKeep,
    Message,
    Pace,
    PaceOptions,
    Pause,
    Play,
    ProtocolError,
    Reset,
    Restored,
    Spectrum,
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
# Spectra (view.spectrum) at most once a second a lane, taking at most 5 % of the worker's
# time (a round waits 20 times its duration: training slows by about 5 %, under the 10 %
# asked of the view; measured in docs/engine-contract.md). Each is bounded by
# gan_core.spectrum's LIVE_K, LIVE_EXACT_LIMIT and LIVE_SECONDS (a turn that makes one
# holds the worker up to LIVE_SECONDS longer per lane).
SPECTRUM_INTERVAL = 1.0
SPECTRUM_SHARE = 0.05
FRAME_SHARE = 0.5  # a session's frames take at most half of the wall clock (adaptive fps)
CHECKPOINT_SECONDS = 5.0  # a session changed since its last checkpoint sends one this often
FIRST_CHECKPOINT_SECONDS = 0.5  # and its first this soon after it starts
LOAD_SECONDS = 1.0
IDLE_WAIT = 1.0


@dataclass
class Pacer:
    """When a session's costly extras (evaluations, spectra) may next run: at least
    ``interval`` after the last round and at most ``max_interval``; in between, a round of
    ``seconds`` waits ``seconds * sharing / share`` (``sharing``: the sessions that wait for
    the worker), so that the extras take at most ``share`` of the worker's time."""

    interval: float
    share: float
    max_interval: float = math.inf
    next_at: float = 0.0

    def spent(self, seconds: float, sharing: int, started: float) -> None:
        spacing = seconds * sharing / self.share
        self.next_at = started + min(max(self.interval, spacing), self.max_interval)


class Training:
    """A job trained in turns: ``parts``, pieces ``(lane, part, value)`` in order (``lane``
    None: every lane; ``part`` "both", "d" or "g" with ``value`` steps, or a replay's
    "until" and "update", gan_core.lanes.replay_piece), then ``done(steps, why)`` with the
    steps made and why it stopped early (None: it did not). A step command's job can be cut
    short (by its deadline, every lane halting, pause or end); a warm-up or replay cannot."""

    def __init__(
        self,
        parts: list[Piece],
        done: Callable[[int, str | None], None],
        seconds: float = math.inf,
        cuttable: bool = False,
    ) -> None:
        self.parts = deque(parts)
        self.done = done
        self.deadline = time.monotonic() + seconds
        self.cuttable = cuttable
        self.steps = 0


@dataclass
class LaneScreen:
    """What the connection has seen of one lane: its frame counter, the trails of its fake
    samples, the iterations of its last evaluation and spectrum, whether its halt was told."""

    seq: int = 0
    trails: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=1))
    eval_iteration: int = -1
    spectrum_iteration: int = -1
    halt_told: bool = False


class WorkerSession:
    """One lane set (gan_core.Lanes: 1 to 4 runs stepped together) and what its connection
    sees; lives in one worker process. A session of one lane is a lane set of one."""

    def __init__(self, worker: Worker, sid: str, lanes: Lanes, preset: str | None) -> None:
        self.worker = worker
        self.id = sid
        self.settings = worker.settings
        self.lanes = lanes
        self.preset = preset
        self.warmup: list[tuple[str, int]] = []  # what the lane set's start took (lane_add too)
        self.version = 0
        self.playing = False
        self.attached = False
        self.view = ViewOptions()
        self.pace = PaceOptions()
        self.job: Training | None = None
        self.queue: deque[Command] = deque()  # commands that wait for the job to end
        self.screens: dict[int, LaneScreen] = {}
        self._frames_built = 0  # by this session, over every lane
        self._resume_playing = False
        self._pending_attach: tuple[bool, dict | None] | None = None  # waits for the warm-up
        self._restoring: str | None = None  # rebuilt after its worker died: why
        self._part: str | None = None
        self._frame_due = False
        self._next_frame_at = 0.0
        self._frame_seconds = 0.0  # what the last frame tick (every lane's frame) cost
        self._steps_since_frame = 0
        self._sec_per_iter = 0.005  # of one iteration of every lane
        self._evaluations = Pacer(EVAL_INTERVAL, EVAL_SHARE, EVAL_MAX_INTERVAL)
        self._spectra = Pacer(SPECTRUM_INTERVAL, SPECTRUM_SHARE)
        self.changed = True  # since the last checkpoint
        self.checkpoint_at = time.monotonic() + FIRST_CHECKPOINT_SECONDS
        self._after: list[Message] = []

    # ----- the lanes ----------------------------------------------------------------------
    @property
    def first(self) -> Trainer:
        """The first lane's trainer: whose iteration and config hello and acks carry."""
        return self.lanes.lanes[0].trainer

    def screen(self, lane: Lane) -> LaneScreen:
        if lane.id not in self.screens:
            trails: deque[np.ndarray] = deque(maxlen=max(1, self.view.trails))
            # A new lane's frames count on from every frame the session built: a lane's seq
            # never repeats one the session sent (clients key redraws on it).
            self.screens[lane.id] = LaneScreen(seq=self._frames_built, trails=trails)
        return self.screens[lane.id]

    def lane(self, lane_id: int | None) -> Lane:
        """Lane ``lane_id`` (None: the first); ``invalid`` naming ``lane`` if there is none."""
        if lane_id is None:
            return self.lanes.lanes[0]
        try:
            return self.lanes[lane_id]
        except LaneError as error:
            raise ProtocolError("invalid", str(error), "lane") from None

    def all_halted(self) -> bool:
        return all(lane.trainer.halt is not None for lane in self.lanes)

    def lanes_json(self) -> list[dict[str, Any]]:
        """The ``lanes`` of hello, acks and restored (docs/protocol.md §11)."""
        return [
            {
                "id": lane.id,
                "title": lane.title,
                "iteration": lane.trainer.iteration,
                "start": plain(lane.start),
                "forked": plain(lane.forked),
                "halted": None if lane.trainer.halt is None else lane.trainer.halt.as_dict(),
                "config": lane.trainer.config.model_dump(mode="json"),
            }
            for lane in self.lanes
        ]

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
        due = min(
            pacer.next_at if any(wants(lane) for lane in self.lanes) else math.inf
            for pacer, wants, _ in self._extras()
        )
        return min(self._next_frame_at, due) if self.playing else due

    def turn(self, budget: float, sharing: int) -> None:
        """One bounded slice of work: about ``budget`` seconds of training. ``sharing``: the
        sessions that wait for this worker now; when others do, the turn trains for its
        whole budget (the next frame comes at the next turn: turns of equal length are what
        makes it fair); alone, it stops at its frame clock."""
        try:
            if self.job is not None:
                if self._frame_due and self.job.cuttable:  # the last step's, before the next
                    self._send_frames()
                self._run_job(budget)
            else:
                self._play(budget, shared=sharing > 1)
            for pacer, wants, make in self._extras():
                self._run_extras(pacer, wants, make, sharing)
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
            self._send_frames()
            if on_clock:
                self._schedule_frame(after=self._next_frame_at)
        if self.playing and self._steps_left(time.monotonic()) > 0:
            until_frame = self._next_frame_at - time.monotonic()
            room = budget if shared else max(0.0, min(until_frame, budget))
            n = int(min(self._steps_left(now), max(1, room / self._sec_per_iter)))
            self._steps_since_frame += self._train(n, "both", room)

    # ----- connection ---------------------------------------------------------------------
    def send(self, message: Message | bytes, lane: int | None = None) -> None:
        """To the connection that owns the session now (``epoch`` names it: what was sent
        to an earlier one is dropped by the web process); a frame names its ``lane`` (the
        outbox keeps the newest unsent frame of each lane)."""
        if self.attached:
            item = message if isinstance(message, bytes) else message.to_json()
            self.worker.send(("out", self.id, self.epoch, item, lane))

    def attach(self, resumed: bool, epoch: int, lost: dict[str, Any] | None = None) -> None:
        self.epoch = epoch
        if self.job is not None and not self.job.cuttable and not self.attached:
            self._pending_attach = (resumed, lost)  # the preset's warm-up first: hello after
            return
        self.attached = True
        if resumed and self._resume_playing and not self.all_halted():
            self._start_playing()
        self._resume_playing = False
        self.send(
            Hello(
                session=self.id,
                resumed=resumed,
                lost=lost,
                grace_seconds=self.settings.grace_seconds,
                preset=self.preset,
                version=self.version,
                iteration=self.first.iteration,
                playing=self.playing,
                config=self.first.config.model_dump(mode="json"),
                lanes=self.lanes_json(),
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
        self.warmup = [tuple(piece) for piece in meta["warmup"]]
        self.view = ViewOptions(**meta["view"])
        self.pace = PaceOptions(**meta["pace"])
        self._frames_built = meta["frames_built"]
        for lane in self.lanes:
            self.screen(lane).seq = meta["seqs"].get(lane.id, self._frames_built)
        self._restoring = (
            f"{why}; this session was rebuilt from its last checkpoint, with its "
            f"{len(self.lanes)} lane{'s' if len(self.lanes) > 1 else ''} at iteration "
            f"{', '.join(str(lane.trainer.iteration) for lane in self.lanes)} (at most "
            f"{CHECKPOINT_SECONDS:g} s of training before it was lost, and the replies to "
            "commands sent meanwhile), and is paused: press play to go on"
        )

    def tell_restored(self) -> None:
        """After a rebuild, say what happened (once, to the first connection)."""
        message, self._restoring = self._restoring, None
        if message is not None:
            self.send(
                Restored(
                    version=self.version,
                    iteration=self.first.iteration,
                    lanes=self.lanes_json(),
                    message=message,
                )
            )
        self._frame_due = True

    def meta(self) -> dict[str, Any]:
        """What a checkpoint keeps beside the lane set."""
        return {
            "version": self.version,
            "preset": self.preset,
            "warmup": self.warmup,
            "view": self.view.model_dump(),
            "pace": self.pace.model_dump(),
            "seqs": {lane_id: screen.seq for lane_id, screen in self.screens.items()},
            "frames_built": self._frames_built,
        }

    # ----- pacing -------------------------------------------------------------------------
    def _period(self) -> float:
        """Seconds between frame ticks: the asked rate, slower when frames are costly."""
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

    def _train(
        self, n: int, part: str, budget: float = TURN_MAX, lane_id: int | None = None
    ) -> int:
        """Up to n steps of every lane that is not halted (or of lane ``lane_id`` only)
        within about ``budget`` seconds (at least one); the steps made (by the lanes that
        went on; when every one halted, by the one that went furthest)."""
        lanes = list(self.lanes) if lane_id is None else [self.lanes[lane_id]]
        active = [lane.trainer for lane in lanes if lane.trainer.halt is None]
        done = 0
        deadline = time.perf_counter() + budget
        while done < n and active:
            left = deadline - time.perf_counter()
            chunk = min(n - done, max(1, int(left / self._sec_per_iter)))
            before = [tr.iteration for tr in active]
            start = time.perf_counter()
            for tr in active:
                tr.step(chunk, part=part)  # type: ignore[arg-type]
            took = (time.perf_counter() - start) / chunk
            self._sec_per_iter = 0.5 * self._sec_per_iter + 0.5 * took
            going = [tr for tr in active if tr.halt is None]
            if not going:  # the steps before each failing one were made
                if part == "both":
                    done += max(tr.halt.iteration - b for tr, b in zip(active, before, strict=True))  # type: ignore[union-attr]
                break
            active = going
            done += chunk
            if time.perf_counter() >= deadline:
                break
        self._part = part
        self.changed = True
        self._check_halts()
        return max(0, done)

    def _check_halts(self) -> None:
        """Report each new halt once (``diverged`` naming the lane, a frame); pause when
        every lane is halted."""
        for lane in self.lanes:
            screen, halt = self.screen(lane), lane.trainer.halt
            if halt is None:
                screen.halt_told = False
            elif not screen.halt_told:
                screen.halt_told = True
                self._frame_due = True
                self.send(Diverged(lane=lane.id, **halt.as_dict(), version=self.version))
        if self.all_halted():
            self.playing = False

    # ----- jobs ---------------------------------------------------------------------------
    def _run_job(self, budget: float) -> None:
        job = self.job
        assert job is not None
        while job.parts and budget > 0:
            lane_id, part, value = job.parts[0]
            if part == "update":
                replay_piece(self.lanes[lane_id].trainer, part, value)  # type: ignore[index]
                job.parts.popleft()
                continue
            if self._halted(lane_id):  # as gan_core.play: a halted run's steps do nothing
                if job.cuttable:
                    self._finish_job("halted")
                    return
                job.parts.popleft()
                continue
            n = value - self.lanes[lane_id].trainer.iteration if part == "until" else value  # type: ignore[index]
            if n <= 0:
                job.parts.popleft()
                continue
            start = time.perf_counter()
            done = self._train(n, "both" if part == "until" else part, budget, lane_id)
            budget -= time.perf_counter() - start
            job.steps += done
            if done >= n:
                job.parts.popleft()
            elif part != "until":
                job.parts[0] = (lane_id, part, n - done)
        if not job.parts:
            self._finish_job(None)
        elif job.cuttable and self.all_halted():
            self._finish_job("halted")
        elif time.monotonic() >= job.deadline:
            self._finish_job("time")

    def _halted(self, lane_id: int | None) -> bool:
        return (
            self.all_halted() if lane_id is None else self.lanes[lane_id].trainer.halt is not None
        )

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
    def _send_frames(self) -> None:
        """A frame tick: one frame of every lane, in lane order."""
        self._frame_due = False
        if not self.attached:
            return
        start = time.perf_counter()
        for lane in self.lanes:
            screen = self.screen(lane)
            header = FrameHeader(
                lane=lane.id,
                seq=screen.seq,
                iteration=lane.trainer.iteration,
                version=self.version,
                playing=self.playing,
                part=self._part,
            )
            screen.seq += 1
            self._frames_built += 1
            snapshot = lane.trainer.snapshot(self.view.probe_options())
            trails = np.stack(screen.trails) if self.view.trails and screen.trails else None
            if self.view.trails:
                screen.trails.append(snapshot["fake"])
            self.send(snapshot_frame(snapshot, header, self.view, trails), lane=lane.id)
        self._frame_seconds = time.perf_counter() - start

    def _extras(self) -> list[tuple[Pacer, Callable[[Lane], bool], Callable[[Lane], Any]]]:
        """The costly extras a lane may want, each paced (Pacer): evaluations, spectra."""
        return [
            (self._evaluations, self._wants_evaluation, self._evaluation),
            (self._spectra, self._wants_spectrum, self._spectrum),
        ]

    def _run_extras(
        self,
        pacer: Pacer,
        wants: Callable[[Lane], bool],
        make: Callable[[Lane], Message | None],
        sharing: int,
    ) -> None:
        """One round of an extra for every lane that wants it, when ``pacer`` says it is due
        (never during a job), one message per lane in lane order."""
        now = time.monotonic()
        if not self.attached or self.job is not None or now < pacer.next_at:
            return
        due = [lane for lane in self.lanes if wants(lane)]
        if not due:
            return
        start = time.perf_counter()
        for lane in due:
            message = make(lane)
            if message is not None:
                self.send(message)
        pacer.spent(time.perf_counter() - start, sharing, now)

    def _wants_evaluation(self, lane: Lane) -> bool:
        tr = lane.trainer
        return tr.iteration != self.screen(lane).eval_iteration and tr.halt is None

    def _evaluation(self, lane: Lane) -> Evaluation:
        """The costly metrics of a lane (Trainer.evaluate)."""
        start = time.perf_counter()
        tr = lane.trainer
        self.screen(lane).eval_iteration = tr.iteration
        metrics = tr.evaluate(n=self.settings.evaluate_samples)
        return Evaluation(
            lane=lane.id,
            iteration=tr.iteration,
            version=self.version,
            seconds=time.perf_counter() - start,
            metrics=plain(metrics),
        )

    def _wants_spectrum(self, lane: Lane) -> bool:
        """Asked for, changed, and not a Dirac-GAN (its frames carry its eigenvalues)."""
        tr = lane.trainer
        return (
            self.view.spectrum
            and tr.config.dataset != "dirac"
            and tr.iteration != self.screen(lane).spectrum_iteration
            and tr.halt is None
        )

    def _spectrum(self, lane: Lane) -> Spectrum | None:
        """The eigenvalues of the lane's game Jacobian (gan_core.spectrum, live bounds);
        None when ARPACK ran out of its LIVE_SECONDS (the time still counts)."""
        start = time.perf_counter()
        tr = lane.trainer
        self.screen(lane).spectrum_iteration = tr.iteration
        try:
            values = game_eigenvalues(
                tr, k=LIVE_K, tol=LIVE_TOL, exact_limit=LIVE_EXACT_LIMIT, seconds=LIVE_SECONDS
            )
        except SpectrumTimeout:
            return None
        size = parameter_count(tr)
        return Spectrum(
            lane=lane.id,
            iteration=tr.iteration,
            version=self.version,
            eigenvalues=[(float(v.real), float(v.imag)) for v in values],
            exact=size <= LIVE_EXACT_LIMIT,
            parameters=size,
            seconds=time.perf_counter() - start,
        )

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
        with a warm-up or a replay answers when its job ends."""
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
        if isinstance(command, Reset | LaneAdd | LaneFork | LaneClose | LaneKeep):
            self.worker.checkpoint(self)  # a new lane set: its checkpoint before the ack
        elif not isinstance(command, Step | View | Pace | Export | Play | Pause):
            self.checkpoint_at = min(
                self.checkpoint_at, time.monotonic() + FIRST_CHECKPOINT_SECONDS
            )
        self.send(
            Ack(
                id=command.id,
                command=command.type,
                version=self.version,
                iteration=self.first.iteration,
                playing=self.playing,
                lanes=self.lanes_json(),
                **extras,
            )
        )
        for message in self._after:
            self.send(message)
        self._after = []
        if isinstance(command, End):
            self.worker.end(self, "session ended")
            return
        self._check_halts()

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
            if command.part != "both" and any(lane.trainer.commands_full() for lane in self.lanes):
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
        elif isinstance(command, LaneAdd | LaneFork | LaneClose | LaneKeep):
            return self._lane_command(command)
        elif isinstance(command, View):
            return self._view(command)
        elif isinstance(command, Pace):
            self.pace = self.pace.model_copy(update=command.changes())
            if self.playing:
                self._schedule_frame(after=time.monotonic())
            return {"pace": self.pace.model_dump()}
        elif isinstance(command, Export):
            return {"replay": {**self.lanes.to_replay(), "preset": self.preset}}
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

        piece: Piece = (None, command.part, command.n)
        self.job = Training([piece], done, STEP_SECONDS, cuttable=True)

    def _refuse_if_halted(self) -> None:
        if self.all_halted():
            halt = self.first.halt
            assert halt is not None
            every = "every lane is halted; the first: " if len(self.lanes) > 1 else ""
            raise ProtocolError(
                "halted",
                f"{every}{halt.message} (send update with a smaller learning rate, or reset)",
            )

    def _view(self, command: View) -> dict[str, Any]:
        changes = command.changes()
        self.view = self.view.model_copy(update=changes)
        if {"samples", "trails"} & changes.keys():
            self.restart_trails()
        self._frame_due = True
        return {"view": self.view.model_dump()}

    def restart_trails(self) -> None:
        for screen in self.screens.values():
            screen.trails = deque(maxlen=max(1, self.view.trails))

    def _check_work(self, config: TrainConfig, others: list[TrainConfig]) -> None:
        check_config_limits(config, self.settings.limits, others)

    def _update(self, command: Update) -> dict[str, Any]:
        """A live change of one lane or of every lane: all checked (the server's limits
        first, over every lane's work), then all applied."""
        targets = list(self.lanes) if command.lane == "all" else [self.lane(command.lane)]
        new: dict[int, TrainConfig] = {}
        for lane in targets:
            named = f"lane {lane.id}: " if len(targets) > 1 else ""
            with config_errors(lambda field: "patch." + field, named):
                new[lane.id] = validate_config(
                    merge(lane.trainer.config.model_dump(), command.patch)
                )
        configs = [new.get(lane.id, lane.trainer.config) for lane in self.lanes]
        with config_errors(lambda field: "patch." + field):
            for config in new.values():
                self._check_work(config, [c for c in configs if c is not config])
        for lane in targets:  # what the engine refuses live (reset-only fields, a full log)
            named = f"lane {lane.id}: " if len(targets) > 1 else ""
            with config_errors(lambda field: "patch." + field, named):
                if lane.trainer.commands_full():
                    raise ConfigError(
                        "patch",
                        "this lane has had as many changes as its replay keeps; reset to go on",
                    )
                apply_patch(lane.trainer.config, command.patch)
        old = {lane.id: lane.trainer.config.model_dump(mode="json") for lane in targets}
        for lane in targets:
            lane.trainer.update(command.patch, reset_moments=command.reset_moments)
        self.version += 1
        changes = [self._changed(lane, old[lane.id], reset=False) for lane in targets]
        return {"lane": command.lane if command.lane == "all" else targets[0].id, **changes[0]}

    def _changed(self, lane: Lane, old: dict[str, Any], reset: bool) -> dict[str, Any]:
        """A lane's config_changed (to ``_after``, with a frame); its config and changes."""
        new = lane.trainer.config.model_dump(mode="json")
        changes = config_changes(old, new)
        self._after.append(
            ConfigChanged(
                lane=lane.id,
                version=self.version,
                iteration=lane.trainer.iteration,
                reset=reset,
                changes=changes,
                summary=summarise(changes),
            )
        )
        self._frame_due = True
        return {"config": new, "changes": [change.model_dump() for change in changes]}

    def _lane_command(
        self, command: LaneAdd | LaneFork | LaneClose | LaneKeep
    ) -> dict[str, Any] | None:
        """Add, fork, close or keep; a lane added from the start of a preset with a warm-up
        takes the warm-up alone, in turns, and is acknowledged after it."""
        extras: dict[str, Any] = {}
        if isinstance(command, LaneAdd | LaneFork):
            limit = self.settings.limits.max_lanes
            if len(self.lanes) >= limit:
                raise ProtocolError(
                    "invalid", f"at most {limit} lanes in a session; close one first", "lane"
                )
            others = [lane.trainer.config for lane in self.lanes]
            source = self.lane(command.lane if isinstance(command, LaneFork) else None)
            with config_errors(lambda field: "patch." + field):
                if isinstance(command, LaneAdd):
                    config = validate_config(merge(self.lanes.base.model_dump(), command.patch))
                    self._check_work(config, others)
                    lane = self.lanes.add(command.patch, command.title)
                    old = self.lanes.base.model_dump(mode="json")
                else:
                    config = source.trainer.config
                    if command.patch:
                        config = apply_patch(config, command.patch)
                    self._check_work(config, others)
                    old = source.trainer.config.model_dump(mode="json")
                    lane = self.lanes.fork(
                        source.id, command.patch, command.reset_moments, command.title
                    )
            self.version += 1
            self._changed(lane, old, reset=isinstance(command, LaneAdd))
            extras["added"] = lane.id
            if isinstance(command, LaneAdd) and command.warmup and self.warmup:
                after = self._after

                def done(steps: int, cut: str | None) -> None:
                    self._after = after
                    self._frame_due = True
                    self._acknowledge(command, extras)

                pieces: list[Piece] = [(lane.id, part, n) for part, n in self.warmup]
                self.job = Training(pieces, done)
                return None
        else:
            lane = self.lane(command.lane)
            try:
                if isinstance(command, LaneClose):
                    self.lanes.close(lane.id)
                else:
                    self.lanes.keep(lane.id)
            except LaneError as error:
                raise ProtocolError("invalid", str(error), "lane") from None
            kept = {lane.id for lane in self.lanes}
            self.screens = {k: v for k, v in self.screens.items() if k in kept}
            self.version += 1
            if self.all_halted():
                self.playing = False
        self._frame_due = True
        return extras

    def _reset(self, command: Reset) -> dict[str, Any] | None:
        old = {lane.id: lane.trainer.config.model_dump(mode="json") for lane in self.lanes}
        first_old = self.first.config.model_dump(mode="json")
        if command.replay is not None:
            lanes, pieces = replayed_lanes(command.replay, self.settings.limits)
            named = command.replay.get("preset")
            preset = named if named in PRESETS else None
        else:
            lanes = new_lanes(command, self.first.config, self.settings.limits)
            preset = command.preset if command.config is None else None
            if command.preset is None and command.config is None:
                preset = self.preset  # a reset with only a patch keeps the name
            warmup = preset_named(command.preset).warmup if command.preset else []
            pieces = [(None, part, n) for part, n in warmup]
        started = preset is not None and (command.preset or command.replay)  # with its warm-up
        self.warmup = preset_named(preset).warmup if started else []
        self.lanes = lanes
        self.screens = {}
        self.preset = preset
        self._part = None
        self.version += 1
        if self.playing:
            self._schedule_frame(after=time.monotonic())

        def finished(steps: int = 0, cut: str | None = None) -> dict[str, Any]:
            if command.preset is not None:
                finish_lanes(self.lanes, command.preset)
            if pieces:
                self._part = pieces[-1][1] if pieces[-1][1] in ("both", "d", "g") else "both"
            self._after = []
            changed = [
                self._changed(lane, old.get(lane.id, first_old), reset=True) for lane in self.lanes
            ]
            return {**changed[0], "preset": self.preset}

        if not pieces:
            return finished()
        self.job = Training(pieces, lambda steps, cut: self._acknowledge(command, finished()))
        return None

    def warm_up(self) -> None:
        """A new session's preset: its warm-up on every lane, then the lanes forked after it
        (server.presets.finish_lanes), before the first hello; part of the replay."""
        warmup = self.warmup = preset_named(self.preset).warmup if self.preset else []

        def done(steps: int = 0, cut: str | None = None) -> None:
            finish_lanes(self.lanes, self.preset)
            if warmup:
                self._part = warmup[-1][0]
            if self._pending_attach is not None:
                (resumed, lost), self._pending_attach = self._pending_attach, None
                self.attach(resumed, self.epoch, lost)

        if not warmup:
            done()
            return
        self.job = Training([(None, part, n) for part, n in warmup], done)


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
            lanes = start_lanes(PRESETS[name].config, name)
        except Exception as error:  # a broken preset or plug-in: tell the client, end
            log.exception("session %s could not start", sid)
            self._refuse(sid, f"the session could not start: {error}; try another preset")
            return
        session = self.sessions[sid] = WorkerSession(self, sid, lanes, name)
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
        lanes = Lanes.restore(saved)
        session = self.sessions[sid] = WorkerSession(self, sid, lanes, meta["preset"])
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
        self.send(("checkpoint", session.id, session.lanes.save(), session.meta()))

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
