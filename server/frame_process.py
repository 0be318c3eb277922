"""The frame process: builds the frames and evaluations of sessions, in a process of its
own, so that training (in the server process) never waits for the GIL while a frame is made.

The server (server.frames) sends requests over a pipe and reads one reply per build:

- ``("plugins", paths)``: import these plug-in files (the server loaded them); no reply.
- ``("frame", key, state, header, view, trails_epoch)``: the encoded frame (bytes) of the
  run ``state`` (a gan_core ReadingState) of session ``key``.
- ``("evaluate", key, state, version, samples)``: the evaluation message (JSON text).
- ``("forget", key)``: the session ended; no reply.

A reply is ``("built", item)`` or ``("failed", repr of the error, traceback)``. Each session
has its own follower Trainer and trails here; the process ends when the pipe is closed.
"""

from __future__ import annotations

import signal
import time
import traceback
from collections import deque
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_core import Trainer, load_plugin
from gan_core.trainer import ReadingState
from server.protocol import Evaluation, FrameHeader, ViewOptions, plain, snapshot_frame


class Follower:
    """One session's run as seen here: a Trainer that follows it, and the trails."""

    def __init__(self, state: ReadingState) -> None:
        self.trainer = Trainer(state.config)
        self.trails: deque[np.ndarray] = deque(maxlen=1)
        self.trails_epoch = -1

    def frame(
        self, state: ReadingState, header: FrameHeader, view: ViewOptions, trails_epoch: int
    ) -> bytes:
        """The frame of ``state``; trails start over when ``trails_epoch`` changes."""
        self.trainer.follow(state)
        if trails_epoch != self.trails_epoch:
            self.trails = deque(maxlen=max(1, view.trails))
            self.trails_epoch = trails_epoch
        snapshot = self.trainer.snapshot(view.probe_options())
        trails = np.stack(self.trails) if view.trails and self.trails else None
        if view.trails:
            self.trails.append(snapshot["fake"])
        return snapshot_frame(snapshot, header, view, trails)

    def evaluation(self, state: ReadingState, version: int, samples: int) -> str:
        self.trainer.follow(state)
        start = time.perf_counter()
        metrics = self.trainer.evaluate(n=samples)
        return Evaluation(
            iteration=state.iteration,
            version=version,
            seconds=time.perf_counter() - start,
            metrics=plain(metrics),
        ).to_json()


def build(followers: dict[int, Follower], request: tuple[Any, ...]) -> str | bytes:
    kind, key, state, *rest = request
    follower = followers.get(key)
    if follower is None:
        follower = followers[key] = Follower(state)
    if kind == "frame":
        return follower.frame(state, *rest)
    return follower.evaluation(state, *rest)


def serve_frames(connection: Connection) -> None:
    """The frame process's loop (the target of its multiprocessing.Process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    torch.set_num_threads(1)
    followers: dict[int, Follower] = {}
    loaded: set[Path] = set()
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):  # the server closed the pipe, or is gone
            return
        except Exception as error:  # a build request that cannot be unpickled here
            connection.send(("failed", repr(error), traceback.format_exc()))
            continue
        kind = request[0]
        if kind == "plugins":
            for path in set(request[1]) - loaded:
                loaded.add(path)
                try:
                    load_plugin(path)
                except Exception:  # it loaded in the server: builds that need it will say so
                    traceback.print_exc()
        elif kind == "forget":
            followers.pop(request[1], None)
        else:
            try:
                reply: tuple[Any, ...] = ("built", build(followers, request))
            except Exception as error:  # a bug, or a plug-in that fails on a probe
                reply = ("failed", repr(error), traceback.format_exc())
            connection.send(reply)
