"""Isolation: a well-behaved session's frame rate beside each careless or hostile case.

A bystander plays the default preset at 30 frames/s asked, read by a client that reads every
frame. For each case, its frames/s in a window with the case going on are divided by its
frames/s in a window just before, without it (the baseline, measured in the same run).
Target (issue "every core"): at least 0.5 beside every case. The server's RSS (web process
and workers) is read before and after each case: the growth is reported.

Cases: a Dirac-GAN session playing flat out (its trajectory used to grow without bound); the
most costly view at 60 fps; a client that sends ``export`` and never reads; a flood of
small messages; 1,500 half-open HTTP requests; a step of 1,000 iterations on the heaviest
config the server takes; the other worker process killed. Then the time a session whose own
worker is killed takes to play again, and a Dirac-GAN session played for several minutes:
its frames/s in the last window over the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect

from bench.bench_concurrency import header_of, health, server

HEAVY = {"g_hidden": [128] * 3, "d_hidden": [128] * 3, "batch_size": 256, "d_steps": 5}
COSTLY_VIEW = {"grid": 128, "samples": 2048, "field": 32, "manifold": 32, "trails": 32,
               "precision": "f32"}  # fmt: skip
GOAL = 0.5
Case = Callable[[str], contextlib.AbstractAsyncContextManager[None]]


async def session(url: str, **options: Any) -> ClientConnection:
    ws = await connect(url, compression=None, open_timeout=60, max_size=None, **options)
    hello = json.loads(await ws.recv())
    if hello.get("type") != "hello":
        raise RuntimeError(f"refused: {hello}")
    return ws


async def frames_per_second(ws: ClientConnection, seconds: float) -> float:
    """Frames of a playing session received in a wall-clock window."""
    loop = asyncio.get_running_loop()
    end, count = loop.time() + seconds, 0
    while (left := end - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(ws.recv(), timeout=left)
        except TimeoutError:
            break
        if isinstance(message, bytes) and header_of(message)["playing"]:
            count += 1
    return count / seconds


async def drain(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


@contextlib.asynccontextmanager
async def background(work: Awaitable[Any]) -> AsyncIterator[None]:
    task = asyncio.ensure_future(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


def playing_at_60_fps(query: str = "", view: dict[str, Any] | None = None) -> Case:
    """A session (``query`` as in /ws?...) with ``view``, playing at 60 fps, read."""

    @contextlib.asynccontextmanager
    async def case(url: str) -> AsyncIterator[None]:
        ws = await session(url + query)
        if view:
            await ws.send(json.dumps({"type": "view", **view}))
        await ws.send(json.dumps({"type": "pace", "fps": 60}))
        await ws.send(json.dumps({"type": "play"}))
        async with background(drain(ws)):
            yield
        await ws.close()

    return case


@contextlib.asynccontextmanager
async def export_never_read(url: str) -> AsyncIterator[None]:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ws = await session(url, sock=sock, max_queue=1, ping_interval=None)

    async def flood() -> None:
        while True:  # at the rate limit: each one is answered, and the answers pile up
            await ws.send(json.dumps({"type": "export"}))
            await asyncio.sleep(1 / 50)

    async with background(flood()):
        yield
    ws.transport.abort()


FLOOD = """
import sys
from websockets.sync.client import connect
with connect(sys.argv[1], compression=None, max_size=None) as ws:
    while True:
        for _ in range(200):
            ws.send('{"type": "view", "grid": 16}')
        while True:  # read what came, without waiting
            try:
                ws.recv(timeout=0)
            except TimeoutError:
                break
"""


@contextlib.asynccontextmanager
async def message_flood(url: str) -> AsyncIterator[None]:
    """From a process of its own, so that the bench's clients keep their share of the CPU."""
    flooder = subprocess.Popen([sys.executable, "-c", FLOOD, url])
    try:
        yield
    finally:
        flooder.kill()
        flooder.wait()


@contextlib.asynccontextmanager
async def half_open(url: str) -> AsyncIterator[None]:
    parts = urlsplit(url)
    socks = []
    for _ in range(1500):
        try:
            sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        except OSError:
            break
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        socks.append(sock)
    yield
    for sock in socks:
        sock.close()


@contextlib.asynccontextmanager
async def heavy_step(url: str) -> AsyncIterator[None]:
    ws = await session(url)
    await ws.send(json.dumps({"type": "reset", "patch": HEAVY}))

    async def steps() -> None:
        while True:
            await ws.send(json.dumps({"type": "step", "n": 1000}))
            await asyncio.sleep(5)

    async with background(steps()), background(drain(ws)):
        yield
    await ws.close()


@contextlib.asynccontextmanager
async def other_worker_killed(url: str) -> AsyncIterator[None]:
    workers = health(url)["worker_details"]  # the bystander alone: it is on the busy one
    mine = max(workers, key=lambda w: w["sessions"])
    os.kill(next(w for w in workers if w is not mine)["pid"], signal.SIGKILL)
    yield


async def rebuild_seconds(url: str) -> float:
    """Kill the worker of a playing session: seconds until it plays again (it is rebuilt
    paused, says so, and is told to play at once)."""
    ws = await session(url)
    await ws.send(json.dumps({"type": "play"}))
    await frames_per_second(ws, 1.0)
    mine = max(health(url)["worker_details"], key=lambda w: w["sessions"])
    killed = time.monotonic()
    os.kill(mine["pid"], signal.SIGKILL)
    restored = False
    async for message in ws:
        if isinstance(message, str) and json.loads(message)["type"] == "restored":
            restored = True
            await ws.send(json.dumps({"type": "play"}))
        elif restored and isinstance(message, bytes) and header_of(message)["playing"]:
            break  # playing again (frames on their way at the kill came before the event)
    seconds = time.monotonic() - killed
    await ws.send(json.dumps({"type": "end"}))
    await drain(ws)
    return seconds


CASES: dict[str, Case] = {
    "a Dirac-GAN session playing at 60 fps": playing_at_60_fps("?preset=dirac_gan"),
    "the most costly view at 60 fps (grid 128, 2048 samples, field, manifold, trails, f32)":
        playing_at_60_fps(view=COSTLY_VIEW),
    "a client that sends export 50 times a second and never reads": export_never_read,
    "a flood of small messages (as fast as one client sends)": message_flood,
    "1,500 half-open HTTP requests": half_open,
    "step n=1000 on a 3x128, batch 256, 5 D steps config, again every 5 s": heavy_step,
    "the other worker process killed": other_worker_killed,
}  # fmt: skip


async def bystander_ratio(
    url: str, case: Case, seconds: float, rss: Callable[[], float]
) -> tuple[float, float, float]:
    """(baseline fps, fps beside the case, RSS growth MiB)."""
    bystander = await session(url)
    await bystander.send(json.dumps({"type": "play"}))
    await frames_per_second(bystander, 1.0)
    baseline = await frames_per_second(bystander, seconds)
    before = rss()
    async with case(url):
        await bystander.send(json.dumps({"type": "play"}))  # again, if it was rebuilt paused
        during = await frames_per_second(bystander, seconds)
        growth = rss() - before
    await bystander.send(json.dumps({"type": "end"}))
    await drain(bystander)
    return baseline, during, growth


async def dirac_long(url: str, minutes: float, window: float) -> tuple[float, float]:
    ws = await session(url + "?preset=dirac_gan")
    await ws.send(json.dumps({"type": "play"}))
    first = await frames_per_second(ws, window)
    await frames_per_second(ws, max(0.0, minutes * 60 - 2 * window))
    last = await frames_per_second(ws, window)
    await ws.close()
    return first, last


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = health(url)
        if state["status"] == "ok" and state["sessions"] == 0:
            return
        time.sleep(0.2)
    raise RuntimeError("the server did not become idle")


def run(quick: bool = False) -> dict[str, Any]:
    """The isolation section of bench/RESULTS.md."""
    seconds, minutes = (3.0, 0.5) if quick else (6.0, 3.0)
    repeats = 1 if quick else 3
    load = os.getloadavg()[0]
    rows, worst = [], 1.0
    with server(None, "--grace", "0.5") as srv:  # a dropped session goes at once
        for name, case in CASES.items():
            ratios, growths = [], []
            for _ in range(repeats):
                wait_ready(srv.url)
                base, during, growth = asyncio.run(
                    bystander_ratio(srv.url, case, seconds, srv.rss_mib)
                )
                ratios.append(during / base if base else 0.0)
                growths.append(growth)
            worst = min(worst, statistics.median(ratios))
            rows.append([
                name, f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
                f"{statistics.median(growths):+.0f}", "yes" if statistics.median(ratios) >= GOAL
                else "no",
            ])  # fmt: skip
        rebuilds = []
        for _ in range(repeats):
            wait_ready(srv.url)
            rebuilds.append(asyncio.run(rebuild_seconds(srv.url)))
        wait_ready(srv.url)
        first, last = asyncio.run(dirac_long(srv.url, minutes, seconds))
    rows.append([
        "a session's own worker process killed: seconds until it plays again (rebuilt from "
        "its checkpoint, told, played)", f"{statistics.median(rebuilds):.1f} s "
        f"({min(rebuilds):.1f}-{max(rebuilds):.1f})", "", "",
    ])  # fmt: skip
    rows.append([
        f"a Dirac-GAN session alone for {minutes:g} minutes: its fps in the last window over "
        "the first", f"{last / first:.2f} ({first:.1f} -> {last:.1f} fps)", "", "",
    ])  # fmt: skip
    return {
        "title": "Isolation: a bystander's frame rate beside each case",
        "header": ["case", "bystander fps beside it / before it", "RSS change MiB", ">= 0.5"],
        "rows": rows,
        "notes": (
            f"Worst case {worst:.2f} (target >= {GOAL}). Each ratio: the bystander's frames "
            f"in {seconds:g} s with the case going on over {seconds:g} s just before, median "
            f"of {repeats} (min-max); `gandyn serve` with 2 workers in a subprocess, clients "
            f"in the bench process; RSS of the web process and the workers. Load average "
            f"(1 min) {load:.1f} when the run started."
        ),
    }


if __name__ == "__main__":
    from bench.report import markdown_section

    print(markdown_section(run(quick="--quick" in sys.argv)))
