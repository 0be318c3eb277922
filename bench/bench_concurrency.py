"""Concurrency: 1, 4, 16 and 32 sessions streaming at once from one server.

Each session plays the default preset with the default view and pace (30 frames/s
requested, training as fast as the CPU allows between frames), read by a client that reads
every frame; then the same with a lighter model (the tests' small run) at 1, 16 and 32
sessions. Per level, over the same wall-clock window: frames/s and generator iterations/s
of each session (median and min across sessions), the server's memory (PSS of the web
process, the worker template and the workers: pages they share counted once), errors
(error messages, unexpected closes, refused connections: must be 0), fairness (the min/max
ratio of the sessions' iterations/s), and the latency of a command (an empty ``view``,
send to ack) that the first session sends 10 times a second. The
baseline is the 1-session level of the same model in the same run.

Then: scaling with cores (16 default sessions, the server pinned with taskset to one core,
then to two, alternately), and cold start (from starting ``gandyn serve`` to the first frame
of the first session).

Targets (issue "every core"): 16 sessions >= 1.6x the iterations/s of one alone, each >= 12
fps; 32 sessions >= 6 fps each; fairness >= 0.9; command p95 <= 50 ms with 16 playing;
2 cores / 1 core >= 1.7; cold start <= 3 s; 32 sessions under 1.5 GiB.

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

from bench.procfs import pss_mib

ROOT = Path(__file__).resolve().parent.parent
LEVELS = [1, 4, 16, 32]
# The default preset as is, and with a lighter model (the tests' small run) for comparison.
MODELS: dict[str, tuple[dict[str, Any] | None, list[int]]] = {
    "default": (None, LEVELS),
    "light (2x32, batch 64)": ({"g_hidden": [32, 32], "d_hidden": [32, 32], "batch_size": 64},
                               [1, 16, 32]),
}  # fmt: skip
MAX_SESSIONS = 40
GOALS_FPS = {16: 12.0, 32: 6.0}  # sessions: frames/s each
GOAL_THROUGHPUT = 1.6  # 16 sessions' iterations/s over one session's
GOAL_FAIRNESS = 0.9
GOAL_LATENCY_MS = 50.0
GOAL_SCALING = 1.7
GOAL_COLD_START = 3.0
GOAL_MEMORY_32_MIB = 1536.0
PROBE_INTERVAL = 0.1  # the first session's latency probes
SERVE_OPTIONS = [
    "--max-sessions",
    str(MAX_SESSIONS),
    "--max-sessions-per-client",
    str(MAX_SESSIONS),
]


@dataclass
class Server:
    url: str
    pid: int

    def memory_mib(self) -> float:
        """With the worker template and the workers (PSS)."""
        return pss_mib(self.pid)


@contextmanager
def server(cpus: str | None = None, *options: str) -> Iterator[Server]:
    """``gandyn serve --port 0 --max-sessions 40`` in a subprocess (on ``cpus`` only, with
    taskset, if given); ready when every worker is."""
    command = [sys.executable, "-m", "server.cli", "serve", "--port", "0"]
    pinned = ["taskset", "-c", cpus] if cpus else []
    process = subprocess.Popen(
        [*pinned, *command, *SERVE_OPTIONS, *options],
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
        srv = Server(f"ws://{found.group(1)}/ws", process.pid)
        deadline = time.monotonic() + 60
        while health(srv.url)["status"] != "ok":
            if time.monotonic() > deadline:
                raise RuntimeError("gandyn serve's workers did not start")
            time.sleep(0.1)
        yield srv
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
    latencies: list[float] = field(default_factory=list)  # seconds, command to ack

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
    probe: bool = False,
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
            await count(ws, window, tally, probe)
            await ws.send(json.dumps({"type": "end"}))
            await asyncio.wait_for(until_closed(ws), timeout=30)
    except (ConnectionClosed, OSError, TimeoutError) as error:
        tally.errors.append(repr(error))


async def until_closed(ws: ClientConnection) -> None:
    async for _ in ws:  # the server closes with 1000 after the end's ack
        pass


async def count(
    ws: ClientConnection, window: tuple[float, float], tally: Tally, probe: bool
) -> None:
    """Count frames in the window; with ``probe``, also time a command every PROBE_INTERVAL
    inside it."""
    start, end = window
    loop = asyncio.get_running_loop()
    sent: dict[str, float] = {}
    next_probe = start
    while (left := end - loop.time()) > 0:
        if probe and start <= loop.time() >= next_probe:
            probe_id = f"probe-{len(sent)}"
            sent[probe_id] = loop.time()
            next_probe = loop.time() + PROBE_INTERVAL
            await ws.send(json.dumps({"type": "view", "id": probe_id}))
        wait = min(left, max(0.001, next_probe - loop.time())) if probe else left
        try:
            message = await asyncio.wait_for(ws.recv(), timeout=wait)
        except asyncio.TimeoutError:
            continue
        if isinstance(message, str):
            data = json.loads(message)
            if data.get("type") == "error":
                tally.errors.append(data.get("code", "?"))
            elif data.get("id") in sent:
                tally.latencies.append(loop.time() - sent[data["id"]])
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
        *(stream(url, patch, started[i], window, tallies[i], i == 0) for i in range(sessions))
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
        if health(url)["sessions"] == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("sessions of the previous level did not end")


def run(quick: bool = False) -> dict[str, Any]:
    """The concurrency section of bench/RESULTS.md."""
    seconds, warmup = (3.0, 1.0) if quick else (10.0, 2.0)
    load = os.getloadavg()[0]
    rows, fps_min, totals, fairness, latencies, peaks = [], {}, {}, {}, [], {}
    with server() as srv:
        asyncio.run(level(srv.url, None, 1, warmup, 1.0))  # PyTorch loaded and used everywhere
        wait_idle(srv.url)
        memory_idle = srv.memory_mib()
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
                fps_min[model, sessions] = min(fps)
                totals[model, sessions] = sum(its) / max(1e-9, sum(baseline[1]))
                fairness[model, sessions] = min(its) / max(1e-9, max(its))
                peaks[model, sessions] = sampler.peak
                if model == "default" and sessions == 16:
                    latencies = tallies[0].latencies
                rows.append(row(model, sessions, fps, its, baseline, sampler, memory_idle, tallies))
        wait_idle(srv.url)
    scaling = core_scaling(2 if quick else 3, seconds, warmup)
    cold = [cold_start() for _ in range(2 if quick else 5)]
    p95 = percentile_ms(latencies, 0.95)
    checks = [
        ("16 sessions, iterations/s vs 1 session", f"{totals['default', 16]:.2f}",
         totals["default", 16] >= GOAL_THROUGHPUT, f">= {GOAL_THROUGHPUT}"),
        ("16 sessions, min frames/s", f"{fps_min['default', 16]:.1f}",
         fps_min["default", 16] >= GOALS_FPS[16], f">= {GOALS_FPS[16]:g}"),
        ("32 sessions, min frames/s", f"{fps_min['default', 32]:.1f}",
         fps_min["default", 32] >= GOALS_FPS[32], f">= {GOALS_FPS[32]:g}"),
        ("fairness at 16 and 32 sessions", f"{fairness['default', 16]:.2f}, "
         f"{fairness['default', 32]:.2f}",
         min(fairness["default", 16], fairness["default", 32]) >= GOAL_FAIRNESS,
         f">= {GOAL_FAIRNESS}"),
        (f"command latency with 16 playing ({len(latencies)} commands)",
         f"p50 {percentile_ms(latencies, 0.5):.1f} ms, p95 {p95:.1f} ms",
         p95 <= GOAL_LATENCY_MS, f"p95 <= {GOAL_LATENCY_MS:g} ms"),
        ("16 sessions: 2 cores / 1 core (taskset), total iterations/s",
         f"{statistics.median(scaling):.2f} ({min(scaling):.2f}-{max(scaling):.2f})",
         statistics.median(scaling) >= GOAL_SCALING, f">= {GOAL_SCALING}"),
        ("cold start: gandyn serve to the first frame, s",
         f"{statistics.median(cold):.2f} ({min(cold):.2f}-{max(cold):.2f})",
         statistics.median(cold) <= GOAL_COLD_START, f"<= {GOAL_COLD_START:g}"),
        ("memory (PSS): idle (after one session), per session at 32, all at 32 (MiB)",
         f"{memory_idle:.0f}, {(peaks['default', 32] - memory_idle) / 32:.1f}, "
         f"{peaks['default', 32]:.0f}",
         peaks["default", 32] <= GOAL_MEMORY_32_MIB, f"all <= {GOAL_MEMORY_32_MIB:g}"),
    ]  # fmt: skip
    summary = "; ".join(
        f"{name}: {value} ({'met' if ok else 'NOT met'}, target {target})"
        for name, value, ok, target in checks
    )
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
            "server memory (PSS) MiB, peak (+ over idle)",
            "errors",
        ],
        "rows": rows,
        "notes": (
            f"Targets: {summary}. "
            f"{seconds:g} s window per level after {warmup:g} s of warm-up, every session "
            f"playing; `gandyn serve --max-sessions {MAX_SESSIONS}` in a subprocess on "
            f"{os.cpu_count()} cores with one worker process per core (1-minute load average "
            f"{load:.1f} when the run started: other work on the machine lowers every row "
            "alike); clients in one asyncio loop in the bench process, reading frame headers "
            "only. Baseline: the 1-session row of the same model in the same run. Scaling: "
            f"{len(scaling)} alternating pairs of 16-session levels, the server started with "
            "`taskset -c 0` and with `taskset -c 0,1` (two workers either way). Cold start: "
            "from Popen to the first frame of a session opened as soon as the port answers."
        ),
    }


def core_scaling(pairs: int, seconds: float, warmup: float) -> list[float]:
    """Total iterations/s of 16 default sessions on two cores over one core, per pair."""
    ratios = []
    for _ in range(pairs):
        total = {}
        for cpus in ("0", "0,1"):
            with server(cpus) as srv:
                asyncio.run(level(srv.url, None, 1, 1.0, 1.0))
                wait_idle(srv.url)
                tallies = asyncio.run(level(srv.url, None, 16, warmup, seconds))
                total[cpus] = sum(t.iterations_per_second() for t in tallies)
        ratios.append(total["0,1"] / max(1e-9, total["0"]))
    return ratios


def cold_start() -> float:
    """Seconds from starting ``gandyn serve`` to the first frame of the first session."""
    started = time.monotonic()
    command = [sys.executable, "-m", "server.cli", "serve", "--port", "0"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        found = re.search(r"http://([\d.]+:\d+)", process.stdout.readline())  # type: ignore[union-attr]
        if not found:
            raise RuntimeError("gandyn serve did not print its URL")
        return asyncio.run(first_frame(f"ws://{found.group(1)}/ws")) - started
    finally:
        process.terminate()
        process.wait(timeout=30)


async def first_frame(url: str) -> float:
    async with connect(url, compression=None, open_timeout=60, max_size=None) as ws:
        async for message in ws:
            if isinstance(message, bytes):
                return time.monotonic()
    raise RuntimeError("no frame")


def percentile_ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(
    model: str,
    sessions: int,
    fps: list[float],
    its: list[float],
    baseline: tuple[list[float], list[float]],
    sampler: RssSampler,
    memory_idle: float,
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
        f"{sampler.peak:.0f} (+{sampler.peak - memory_idle:.0f})",
        str(errors) + (f": {tallies_errors(tallies)}" if errors else ""),
    ]


def tallies_errors(tallies: list[Tally]) -> str:
    seen = sorted({error for t in tallies for error in t.errors})
    return "; ".join(seen)[:200]


class RssSampler:
    """The server's peak memory while a level runs, sampled every 0.2 s in a thread."""

    def __init__(self, srv: Server) -> None:
        import threading

        self.srv = srv
        self.peak = srv.memory_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.srv.memory_mib())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, self.srv.memory_mib())


if __name__ == "__main__":
    from bench.report import markdown_section

    print(markdown_section(run(quick="--quick" in sys.argv)))
