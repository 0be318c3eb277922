"""Server speed: what streaming costs training, how fast a change shows, how big a frame is.

- Streaming overhead: generator iterations/s of a session playing the default preset and
  streaming 30 frames/s to a client that reads every frame, divided by a headless Trainer's
  on the same config, measured alternately in the same run (never at the same time: they
  would share the cores). Target: at least 0.9. The session's worker process (server.worker)
  trains and builds its frames and evaluations in turns; the CPU ratio counts every process
  of the server.
- Command latency: from sending an ``update`` to receiving the first frame computed with the
  new config version, over 200 updates while playing. Target: p95 at most 100 ms.
- Frames: bytes of one frame for each view, the time to build its snapshot and to encode it.

The server runs as ``gandyn serve`` in a subprocess, as in use; the client is the
``websockets`` sync client.
"""

from __future__ import annotations

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from websockets.sync.client import ClientConnection, connect

from bench.procfs import child_pids
from gan_core import Trainer
from server.presets import DEFAULT_PRESET, PRESETS
from server.protocol import FrameHeader, ViewOptions, snapshot_frame
from server.worker import EVAL_INTERVAL, EVAL_MAX_INTERVAL, EVAL_SHARE

ROOT = Path(__file__).resolve().parent.parent
CONFIG = PRESETS[DEFAULT_PRESET].config
VIEWS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "2d default (grid 64, 256 samples)": (CONFIG, {}),
    "2d, field 16, manifold 16, trails 10": (CONFIG, {"field": 16, "manifold": 16, "trails": 10}),
    "2d, grid 128, 1024 samples": (CONFIG, {"grid": 128, "samples": 1024}),
    "2d default, f32": (CONFIG, {"precision": "f32"}),
    "1d (line 200)": (PRESETS["saturated_discriminator"].config, {"line": 200}),
    "dirac (field 21, 500 steps of trajectory)": (PRESETS["dirac_gan"].config, {}),
}


@contextmanager
def server() -> Iterator[tuple[str, int]]:
    """``gandyn serve --port 0`` in a subprocess; yields its ws:// URL and process id."""
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        found = re.search(r"http://([\d.]+:\d+)", process.stdout.readline())  # type: ignore[union-attr]
        if not found:
            raise RuntimeError("gandyn serve did not print its URL")
        yield f"ws://{found.group(1)}/ws", process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of each thread of a process and of its child processes
    (the worker processes), by "pid/tid" (Linux /proc)."""
    seconds = {}
    for process in [pid, *child_pids(pid)]:
        for task in Path(f"/proc/{process}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the thread ended meanwhile
                continue
            ticks = int(fields[11]) + int(fields[12])
            seconds[f"{process}/{task.name}"] = ticks / os.sysconf("SC_CLK_TCK")
    return seconds


@dataclass(frozen=True)
class Rate:
    """Generator iterations per wall-clock second and per CPU second of the process (with
    its worker processes), and the share of that CPU outside the session's worker (the web
    process: event loop, sockets)."""

    wall: float
    cpu: float
    outside: float = 0.0


def header_of(frame: bytes) -> dict[str, Any]:
    """A frame's JSON header (docs/protocol.md §7)."""
    (length,) = struct.unpack_from("<I", frame, 4)
    return json.loads(frame[8 : 8 + length])


def receive(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    """The next message, a frame as its header (``type: frame``)."""
    message = ws.recv(timeout=timeout)
    return header_of(message) if isinstance(message, bytes) else json.loads(message)


def command(ws: ClientConnection, **fields: Any) -> dict[str, Any]:
    """Send a command with an id and return its ack."""
    ws.send(json.dumps({**fields, "id": "bench"}))
    while True:
        reply = receive(ws)
        if reply.get("id") == "bench":
            if reply["type"] != "ack":
                raise RuntimeError(f"the server refused {fields}: {reply}")
            return reply


def session_rate(ws: ClientConnection, pid: int, seconds: float) -> Rate:
    """Iterations/s while playing at 30 fps, reading every frame; CPU of the whole server
    (with its worker processes)."""
    command(ws, type="reset", preset=DEFAULT_PRESET)
    command(ws, type="pace", fps=30, steps_per_frame=0)
    command(ws, type="play")
    first = last = None
    while last is None or last[0] - first[0] < seconds:  # type: ignore[index]
        message = receive(ws)
        if message["type"] == "frame" and message["playing"]:
            last = (time.perf_counter(), thread_cpu(pid), message["iteration"])
            first = first or last
    command(ws, type="pause")
    done = last[2] - first[2]  # type: ignore[index]
    used = {name: cpu - first[1].get(name, 0.0) for name, cpu in last[1].items()}  # type: ignore[index]
    total = sum(used.values())
    worker = max(used.values())  # the session's worker is the busiest thread
    return Rate(done / (last[0] - first[0]), done / total, (total - worker) / total)  # type: ignore[index]


def headless_rate(seconds: float) -> Rate:
    """Iterations/s of a bare Trainer on the same config, one thread, in this process."""
    trainer = Trainer(CONFIG)
    trainer.step(5)
    wall, cpu, done = time.perf_counter(), time.process_time(), 0
    while time.perf_counter() - wall < seconds:
        trainer.step(10)
        done += 10
    return Rate(done / (time.perf_counter() - wall), done / (time.process_time() - cpu))


def update_latencies(ws: ClientConnection, count: int) -> list[float]:
    """Seconds from an update to the first frame of its version, while playing."""
    command(ws, type="reset", preset=DEFAULT_PRESET)
    command(ws, type="play")
    latencies = []
    for i in range(count):
        sent = time.perf_counter()
        ws.send(json.dumps({"type": "update", "patch": {"opt_d": {"lr": 1e-3 - (i % 2) * 1e-4}}}))
        version = None
        while True:
            message = receive(ws)
            if message["type"] == "ack" and message["command"] == "update":
                version = message["version"]
            elif message["type"] == "error":
                raise RuntimeError(f"update refused: {message}")
            elif (
                message["type"] == "frame" and version is not None and message["version"] >= version
            ):
                latencies.append(time.perf_counter() - sent)
                break
        time.sleep(max(0.0, 0.03 - (time.perf_counter() - sent)))  # stay under the rate limit
    command(ws, type="pause")
    return latencies


def frame_costs(repeats: int) -> tuple[list[list[str]], float]:
    """Bytes, snapshot and encode CPU time of one frame per view (in this process), and the
    CPU seconds of the default 2D frame."""
    rows, default_cost = [], 0.0
    for name, (config, view_options) in VIEWS.items():
        trainer = Trainer(config)
        trainer.step(500 if trainer.config.dataset == "dirac" else 20)
        view = ViewOptions.model_validate(view_options)
        trails = None
        build, encode = [], []
        for _ in range(repeats):
            start = time.thread_time()
            snapshot = trainer.snapshot(view.probe_options())
            built = time.thread_time()
            if view.trails:
                trails = np.stack([snapshot["fake"]] * view.trails)
            header = FrameHeader(
                seq=0, iteration=trainer.iteration, version=0, playing=True, part=None
            )
            data = snapshot_frame(snapshot, header, view, trails)
            build.append(built - start)
            encode.append(time.thread_time() - built)
        default = name.startswith("2d default (")
        if default:
            default_cost = statistics.median(build) + statistics.median(encode)
        rows.append(
            [
                f"frame: {name}",
                f"{len(data) / 1024:.1f} KiB; snapshot {ms(build)}, encode {ms(encode)} (CPU)",
                "≤ 16 KiB" if default else "",
            ]
        )
    return rows, default_cost


def streaming_share(frame_cpu: float, repeats: int) -> tuple[float, float]:
    """The CPU that 30 frames/s and the evaluations (spaced as the session spaces them,
    docs/protocol.md §5) take per second, as a share of one core; and one evaluation's CPU."""
    trainer = Trainer(CONFIG)
    trainer.step(20)
    trainer.evaluate(2500)  # the first call also measures the real-vs-real floor
    costs = []
    for _ in range(repeats):
        start = time.thread_time()
        trainer.evaluate(2500)
        costs.append(time.thread_time() - start)
    evaluation = statistics.median(costs)
    interval = min(max(EVAL_INTERVAL, evaluation / EVAL_SHARE), EVAL_MAX_INTERVAL)
    return 30 * frame_cpu + evaluation / interval, evaluation


def ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:.2f} ms"


def spread(values: list[float], digits: int = 2) -> str:
    """median (min-max)"""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(quick: bool = False) -> dict[str, Any]:
    """The server section of bench/RESULTS.md."""
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    # Many short alternating runs: the host's speed drifts by tens of percent from one
    # minute to the next, so each ratio compares runs a few seconds apart.
    repeats, seconds, updates = (2, 2.0, 50) if quick else (15, 2.0, 200)
    with server() as (url, pid), connect(url, compression=None) as ws:
        receive(ws)  # hello
        session, headless = [], []
        for _ in range(repeats):
            headless.append(headless_rate(seconds))
            session.append(session_rate(ws, pid, seconds))
        latencies = [s * 1000 for s in update_latencies(ws, updates)]
        command(ws, type="end")
    wall_ratios = [s.wall / h.wall for s, h in zip(session, headless, strict=True)]
    cpu_ratios = [s.cpu / h.cpu for s, h in zip(session, headless, strict=True)]
    rows = [
        [
            "headless Trainer, default preset: it/s (wall)",
            spread([h.wall for h in headless], 1),
            "",
        ],
        ["headless Trainer: it per CPU second", spread([h.cpu for h in headless], 1), ""],
        [
            "session streaming 30 fps to a reading client: it/s (wall)",
            spread([s.wall for s in session], 1),
            "",
        ],
        [
            "session: it per CPU second of the whole server process",
            spread([s.cpu for s in session], 1),
            "",
        ],
        ["streaming overhead, session / headless (wall)", spread(wall_ratios), "≥ 0.9"],
        ["streaming overhead, session / headless (CPU)", spread(cpu_ratios), "≥ 0.9"],
        [
            "server CPU outside the session's worker (web process, other workers), share",
            spread([s.outside for s in session], 3),
            "",
        ],
        [
            f"command latency, update → first frame of its version ({len(latencies)} updates)",
            f"p50 {percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms",
            "p95 ≤ 100 ms",
        ],
    ]
    frames, frame_cpu = frame_costs(5 if quick else 20)
    share, evaluation = streaming_share(frame_cpu, 3 if quick else 10)
    rows += [
        [
            "CPU of 30 frames/s and the evaluations, share of one core: 30 × frame CPU + "
            f"evaluation share (evaluation {evaluation * 1000:.1f} ms CPU)",
            f"{share:.3f}",
            "",
        ],
        *frames,
    ]
    return {
        "title": "Server: streaming overhead, command latency, frame size",
        "header": ["measure", "median (min-max)", "target"],
        "rows": rows,
        "notes": (
            f"Default preset ({DEFAULT_PRESET}: ring of 8, WGAN-GP, 3x64 MLPs, batch 256). "
            f"Rates over {seconds:g} s, {repeats} alternating runs of each; the server is "
            "`gandyn serve` in its own processes, the headless Trainer runs in the bench "
            "process, never both at once. The session's worker process trains and, in the "
            "same thread, builds its frames and evaluations: the wall ratio (the target) is "
            "what a student sees. The CPU ratio counts every process of the server (the web "
            "process that writes the sockets, the workers). "
            "A frame's CPU is almost all the engine's snapshot (gan_core.probes); encoding "
            "is the rest. "
            "Frame sizes include the JSON header; q16 unless "
            f"marked f32. Load average (1 min) {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after: other work on the machine skews every figure."
        ),
    }


if __name__ == "__main__":
    from bench.report import markdown_section

    print(markdown_section(run(quick="--quick" in sys.argv)))
