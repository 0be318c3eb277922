"""Concurrency: 1, 4, 16 and 32 sessions streaming at once from one server.

Each session plays the default preset with the default view and pace (30 frames/s
requested, training as fast as the CPU allows between frames), read by a client that reads
every frame; then the same with a lighter model (the tests' small run) at 1, 16 and 32
sessions. Per level, over the same wall-clock window: frames/s and generator iterations/s
of each session (median and min across sessions), the server's RSS, errors (error
messages, unexpected closes, refused connections: must be 0), and fairness, the min/max
ratio of the sessions' iterations/s. The baseline is the 1-session level of the same model
in the same run. Goal: 16 concurrent sessions at 10 or more frames/s each.

The server is ``gandyn serve --max-sessions 40`` in a subprocess; the clients are one
asyncio loop (``websockets``) in this process, which only parses frame headers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.procfs import rss_mib

ROOT = Path(__file__).resolve().parent.parent
LEVELS = [1, 4, 16, 32]
# The default preset as is, and with a lighter model (the tests' small run) for comparison.
MODELS: dict[str, tuple[dict[str, Any] | None, list[int]]] = {
    "default": (None, LEVELS),
    "light (2x32, batch 64)": ({"g_hidden": [32, 32], "d_hidden": [32, 32], "batch_size": 64},
                               [1, 16, 32]),
}  # fmt: skip
MAX_SESSIONS = 40
GOAL_SESSIONS, GOAL_FPS = 16, 10.0


@dataclass
class Server:
    url: str
    pid: int

    def rss_mib(self) -> float:
        """With the frame processes."""
        return rss_mib(self.pid)


@contextmanager
def server() -> Iterator[Server]:
    """``gandyn serve --port 0 --max-sessions 40`` in a subprocess."""
    command = [sys.executable, "-m", "server.cli", "serve", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--max-sessions", str(MAX_SESSIONS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        found = re.search(r"http://([\d.]+:\d+)", process.stdout.readline())  # type: ignore[union-attr]
        if not found:
            raise RuntimeError("gandyn serve did not print its URL")
        yield Server(f"ws://{found.group(1)}/ws", process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def header_of(frame: bytes) -> dict[str, Any]:
    (length,) = struct.unpack_from("<I", frame, 4)
    return json.loads(frame[8 : 8 + length])


@dataclass
class Tally:
    """What one session's client saw inside the measuring window."""

    frames: int = 0
    first: tuple[float, int] | None = None  # (arrival, iteration): the last frame before
    last: tuple[float, int] | None = None  # the window, and the last frame inside it
    errors: list[str] = field(default_factory=list)

    def iterations_per_second(self) -> float:
        if self.first is None or self.last is None or self.last[0] <= self.first[0]:
            return 0.0
        return (self.last[1] - self.first[1]) / (self.last[0] - self.first[0])


async def stream(
    url: str,
    patch: dict[str, Any] | None,
    started: asyncio.Event,
    window: tuple[float, float],
    tally: Tally,
) -> None:
    """One session: play, then count frames and iterations between the window's ends."""
    try:
        async with connect(url, compression=None, open_timeout=30, max_size=None) as ws:
            hello = json.loads(await ws.recv())
            if hello.get("type") != "hello":
                tally.errors.append(f"refused: {hello}")
                return
            if patch:
                await ws.send(json.dumps({"type": "reset", "patch": patch}))
            await ws.send(json.dumps({"type": "play", "id": "play"}))
            started.set()
            await count(ws, window, tally)
            await ws.send(json.dumps({"type": "end"}))
            await asyncio.wait_for(until_closed(ws), timeout=30)
    except (ConnectionClosed, OSError, TimeoutError) as error:
        tally.errors.append(repr(error))


async def until_closed(ws: ClientConnection) -> None:
    async for _ in ws:  # the server closes with 1000 after the end's ack
        pass


async def count(ws: ClientConnection, window: tuple[float, float], tally: Tally) -> None:
    start, end = window
    loop = asyncio.get_running_loop()
    while (left := end - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(ws.recv(), timeout=left)
        except asyncio.TimeoutError:
            return
        if isinstance(message, str):
            data = json.loads(message)
            if data.get("type") == "error":
                tally.errors.append(data.get("code", "?"))
            continue
        header = header_of(message)
        if not header["playing"]:
            continue
        now = loop.time()
        if now < start:
            tally.first = (now, header["iteration"])
            continue
        tally.frames += 1
        tally.first = tally.first or (now, header["iteration"])
        tally.last = (now, header["iteration"])


async def level(
    url: str, patch: dict[str, Any] | None, sessions: int, warmup: float, seconds: float
) -> list[Tally]:
    """``sessions`` clients at once; all count frames in one shared wall-clock window, which
    opens after every session had time to connect and play, plus a warm-up."""
    loop = asyncio.get_running_loop()
    opening = loop.time() + 1.0 + 0.1 * sessions + warmup
    window = (opening, opening + seconds)
    tallies = [Tally() for _ in range(sessions)]
    started = [asyncio.Event() for _ in range(sessions)]
    await asyncio.gather(
        *(stream(url, patch, started[i], window, tallies[i]) for i in range(sessions))
    )
    for tally, event in zip(tallies, started, strict=True):
        if not event.is_set() and not tally.errors:
            tally.errors.append("never started")
    return tallies


def health(url: str) -> dict[str, Any]:
    import httpx

    return httpx.get(url.replace("ws://", "http://").replace("/ws", "/api/health")).json()


def wait_idle(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health(url)["workers"] == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("sessions of the previous level did not end")


def run(quick: bool = False) -> dict[str, Any]:
    """The concurrency section of bench/RESULTS.md."""
    seconds, warmup = (3.0, 1.0) if quick else (10.0, 2.0)
    load = os.getloadavg()[0]
    rows, goal = [], {}
    with server() as srv:
        asyncio.run(level(srv.url, None, 1, warmup, 1.0))  # PyTorch loaded and used everywhere
        wait_idle(srv.url)
        rss_idle = srv.rss_mib()
        for model, (patch, levels) in MODELS.items():
            baseline: tuple[list[float], list[float]] | None = None
            for sessions in levels:
                wait_idle(srv.url)
                sampler = RssSampler(srv)
                sampler.start()
                tallies = asyncio.run(level(srv.url, patch, sessions, warmup, seconds))
                sampler.stop()
                fps = [t.frames / seconds for t in tallies]
                its = [t.iterations_per_second() for t in tallies]
                baseline = baseline or (fps, its)
                goal[model, sessions] = min(fps)
                rows.append(row(model, sessions, fps, its, baseline, sampler, rss_idle, tallies))
        wait_idle(srv.url)
    met = goal["default", GOAL_SESSIONS] >= GOAL_FPS
    light = next(m for m in MODELS if m != "default")
    return {
        "title": "Concurrency: sessions streaming at once (default preset and view, 30 fps asked)",
        "header": [
            "model",
            "sessions",
            "frames/s per session: median / min",
            "frames/s vs 1 session",
            "iterations/s per session: median / min",
            "iterations/s vs 1 session",
            "all sessions' iterations/s (vs 1)",
            "fairness (min/max iterations)",
            "server RSS MiB, peak (+ over idle)",
            "errors",
            f"every session >= {GOAL_FPS:g} fps",
        ],
        "rows": rows,
        "notes": (
            f"Goal: {GOAL_SESSIONS} concurrent sessions at {GOAL_FPS:g} or more frames/s each "
            f"(default preset): {'met' if met else 'NOT met'} "
            f"(min {goal['default', GOAL_SESSIONS]:.1f} fps; with the light model: min "
            f"{goal[light, GOAL_SESSIONS]:.1f} fps). {seconds:g} s window per level after "
            f"{warmup:g} s of warm-up, every session playing; `gandyn serve --max-sessions "
            f"{MAX_SESSIONS}` in a subprocess on {os.cpu_count()} cores (1-minute load average "
            f"{load:.1f} when the run started: other work on the machine lowers every row "
            "alike); clients in one asyncio loop in the bench process, reading frame headers "
            "only. Baseline: the 1-session row of the same model in the same run. A playing "
            "session trains at least one iteration between two frames, so when the cores are "
            "shared, frames/s and iterations/s fall together; the sum of iterations/s shows "
            "what the machine delivers in total."
        ),
    }


def row(
    model: str,
    sessions: int,
    fps: list[float],
    its: list[float],
    baseline: tuple[list[float], list[float]],
    sampler: RssSampler,
    rss_idle: float,
    tallies: list[Tally],
) -> list[str]:
    base_fps, base_its = baseline
    errors = sum(len(t.errors) for t in tallies)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b > 0 else "n/a"

    return [
        model,
        str(sessions),
        f"{statistics.median(fps):.1f} / {min(fps):.1f}",
        ratio(statistics.median(fps), statistics.median(base_fps)),
        f"{statistics.median(its):.0f} / {min(its):.0f}",
        ratio(statistics.median(its), statistics.median(base_its)),
        f"{sum(its):.0f} ({ratio(sum(its), sum(base_its))})",
        ratio(min(its), max(its)),
        f"{sampler.peak:.0f} (+{sampler.peak - rss_idle:.0f})",
        str(errors) + (f": {tallies_errors(tallies)}" if errors else ""),
        "yes" if min(fps) >= GOAL_FPS else "no",
    ]


def tallies_errors(tallies: list[Tally]) -> str:
    seen = sorted({error for t in tallies for error in t.errors})
    return "; ".join(seen)[:200]


class RssSampler:
    """The server's peak RSS while a level runs, sampled every 0.2 s in a thread."""

    def __init__(self, srv: Server) -> None:
        import threading

        self.srv = srv
        self.peak = srv.rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.srv.rss_mib())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, self.srv.rss_mib())


if __name__ == "__main__":
    from bench.report import markdown_section

    print(markdown_section(run(quick="--quick" in sys.argv)))
