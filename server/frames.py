"""A session's frame builder: frames and evaluations made on their own thread, from reading
copies of the Trainer (``Trainer.reading_copy``), while the session's worker trains on.

A frame costs a few milliseconds (the engine's snapshot, then encoding); built in the worker
it would stop training for that long 30 times a second. Here it takes another core when one
is free, and a compute slot like any worker when none is (so it never adds to the number of
threads computing at once). The worker only takes a copy (about 0.05 ms) and a place in the
Outbox; the builder fills the place. One frame and one evaluation wait at most: a newer
frame replaces one not yet started (latest frame wins), as the Outbox does for unsent ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import torch

from gan_core import Trainer
from server.outbox import Outbox, Place
from server.protocol import Evaluation, FrameHeader, ViewOptions, plain, snapshot_frame

log = logging.getLogger("gandyn.frames")

BUILDER_PREFIX = "gandyn-frames-"
SPARE_COPIES = 2  # reading copies kept for reuse: one in the making, one waiting


@dataclass
class FrameJob:
    """Build the frame of ``reader`` into ``place``; ``trails_epoch`` changes when the trails
    start over (a reset, a new number of samples or trails)."""

    reader: Trainer
    header: FrameHeader
    view: ViewOptions
    trails_epoch: int
    outbox: Outbox
    place: Place


@dataclass
class EvaluationJob:
    """Evaluate ``reader`` on ``samples`` samples into ``place``."""

    reader: Trainer
    version: int
    samples: int
    outbox: Outbox
    place: Place


class FrameBuilder:
    """Builds one session's frames and evaluations on a thread of its own.

    On the builder's thread, ``on_error(error)`` is called when building fails and
    ``on_evaluated(seconds)`` after each evaluation, made or failed. ``slots`` is entered
    around each build.
    """

    def __init__(
        self,
        name: str,
        slots: AbstractContextManager[None],
        on_error: Callable[[Exception], None],
        on_evaluated: Callable[[float], None],
    ) -> None:
        self._slots = slots
        self._on_error = on_error
        self._on_evaluated = on_evaluated
        self._wake = threading.Condition()
        self._frame: FrameJob | None = None
        self._evaluation: EvaluationJob | None = None
        self._stopping = False
        self._spares: deque[Trainer] = deque(maxlen=SPARE_COPIES)
        self._trails: deque[np.ndarray] = deque(maxlen=1)
        self._trails_epoch = -1
        self.thread = threading.Thread(target=self._run, name=BUILDER_PREFIX + name, daemon=True)
        self.thread.start()

    # ----- called from the session's worker ------------------------------------------------
    def reading_copy(self, trainer: Trainer) -> Trainer:
        """A reading copy of ``trainer``, reusing the models of one built before."""
        with self._wake:
            spare = self._spares.popleft() if self._spares else None
        return trainer.reading_copy(spare)

    def frame(self, job: FrameJob) -> None:
        with self._wake:
            if self._frame is not None:  # never started: its outbox has dropped its place
                self._frame.outbox.fill(self._frame.place, None)
                self._spares.append(self._frame.reader)
            self._frame = job
            self._wake.notify()

    def evaluate(self, job: EvaluationJob) -> None:
        with self._wake:
            self._evaluation = job
            self._wake.notify()

    def stop(self, timeout: float) -> None:
        """Finish the build under way, drop the waiting ones, end the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self.thread.join(timeout)

    # ----- the builder's thread ------------------------------------------------------------
    def _run(self) -> None:
        torch.set_num_threads(1)
        while True:
            with self._wake:
                while not (self._stopping or self._frame or self._evaluation):
                    self._wake.wait()
                if self._stopping:
                    self._drop_waiting()
                    return
                job: FrameJob | EvaluationJob
                if self._frame is not None:
                    job, self._frame = self._frame, None
                else:
                    job, self._evaluation = self._evaluation, None  # type: ignore[assignment]
            started = time.perf_counter()
            try:
                with self._slots:
                    item = self._build(job)
            except Exception as error:  # a bug, or a plug-in that fails on a probe
                log.exception("building a %s failed", type(job).__name__)
                item = None
                self._on_error(error)
            job.outbox.fill(job.place, item)
            with self._wake:
                self._spares.append(job.reader)
            if isinstance(job, EvaluationJob):
                self._on_evaluated(time.perf_counter() - started)

    def _build(self, job: FrameJob | EvaluationJob) -> str | bytes:
        if isinstance(job, EvaluationJob):
            return self._evaluation_message(job)
        return self._frame_data(job)

    def _frame_data(self, job: FrameJob) -> bytes:
        if job.trails_epoch != self._trails_epoch:
            self._trails = deque(maxlen=max(1, job.view.trails))
            self._trails_epoch = job.trails_epoch
        snapshot = job.reader.snapshot(job.view.probe_options())
        trails = np.stack(self._trails) if job.view.trails and self._trails else None
        if job.view.trails:
            self._trails.append(snapshot["fake"])
        return snapshot_frame(snapshot, job.header, job.view, trails)

    def _evaluation_message(self, job: EvaluationJob) -> str:
        start = time.perf_counter()
        metrics = job.reader.evaluate(n=job.samples)
        return Evaluation(
            iteration=job.reader.iteration,
            version=job.version,
            seconds=time.perf_counter() - start,
            metrics=plain(metrics),
        ).to_json()

    def _drop_waiting(self) -> None:
        for job in (self._frame, self._evaluation):
            if job is not None:
                job.outbox.fill(job.place, None)
        self._frame = self._evaluation = None
