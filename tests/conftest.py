"""Fixtures that run the real gandyn server and talk to it as docs/protocol.md says.

- ``server_factory(**options)`` starts ``gandyn serve --port 0`` in a subprocess with the
  given options (``max_sessions=2``, ``grace=1.0``, ``allow_origin=["http://x:1"]``,
  ``plugin=["path.py"]``), once per distinct set of options per test run, and returns its
  base URL (``http://127.0.0.1:PORT``, no trailing slash).
- ``live_server``: the base URL of a server with the default options (but room for 8
  sessions, so that test files do not wait for one another).
- ``connect_ws(base_url=None, query="", origin=None)``: opens a session websocket and returns a
  ``Client`` (the hello already read); every client still open is ended at teardown.

The client decodes messages from the protocol document, not from server code.

Every test runs torch on one thread (set here, at import): on a shared machine more threads
fight over the cores (issue 14 measured 2.9 against 41 iterations a second under load).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

torch.set_num_threads(1)  # every test trains on one thread, as the server's workers do

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60.0

# A small, fast run for tests (about a millisecond per iteration).
SMALL = {"g_hidden": [32, 32], "d_hidden": [32, 32], "batch_size": 64}


# ----- the server --------------------------------------------------------------------------
def serve_argv(options: dict[str, Any]) -> list[str]:
    """``gandyn serve`` options from keyword options (lists repeat the flag)."""
    argv = []
    for name, value in sorted(options.items()):
        flag = "--" + name.replace("_", "-")
        for item in value if isinstance(value, list | tuple) else [value]:
            argv += [flag, str(item)]
    return argv


class ServerProcess:
    """``gandyn serve --port 0`` in a subprocess; ``url`` waits until it answers."""

    def __init__(self, options: dict[str, Any], log: Path) -> None:
        command = [sys.executable, "-m", "server.cli", "serve", "--port", "0"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as sink:
            self.process = subprocess.Popen(
                [*command, *serve_argv(options)],
                cwd=ROOT,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.options = options
        self.log = log
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The base URL, once the server prints it and /api/health answers."""
        if self._url is None:
            self._url = self._wait_until_ready()
        return self._url

    def _wait_until_ready(self) -> str:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            found = re.search(r"http://[\d.]+:\d+", self.log.read_text(errors="replace"))
            if found and answers(found.group(0) + "/api/health"):
                return found.group(0)
            time.sleep(0.05)
        self.stop()
        output = self.log.read_text(errors="replace")
        raise RuntimeError(f"gandyn serve {self.options} did not start:\n{output}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def child_processes(pid: int) -> list[int]:
    """The processes that process ``pid`` started (any of its threads; Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += map(int, (task / "children").read_text().split())
        except OSError:  # the thread ended meanwhile
            continue
    return found


def template_pids(pid: int) -> list[int]:
    """The worker template (server.worker_start: a forkserver) that server ``pid`` started."""
    found = []
    for child in child_processes(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"forkserver" in command:
            found.append(child)
    return found


def worker_pids(pid: int) -> list[int]:
    """The worker processes (server.workers) of server ``pid``: forks of its template."""
    return [worker for template in template_pids(pid) for worker in child_processes(template)]


def answers(url: str) -> bool:
    """/api/health answers, and says every worker is ready to serve sessions."""
    try:
        response = httpx.get(url, timeout=2)
    except httpx.TransportError:
        return False
    return response.status_code == 200 and response.json().get("status") == "ok"


class ServerFactory:
    """Servers by options, each started once per test run.

    ``factory(**options)`` returns the base URL of a ready server; ``factory.launch(**options)``
    starts one without waiting, so that several can start in parallel.
    """

    def __init__(self, logs: Path) -> None:
        self._servers: dict[str, ServerProcess] = {}
        self._logs = logs

    def launch(self, **options: Any) -> ServerProcess:
        key = json.dumps(options, sort_keys=True)
        if key not in self._servers:
            log = self._logs / f"server-{len(self._servers)}.log"
            self._servers[key] = ServerProcess(options, log)
        return self._servers[key]

    def __call__(self, **options: Any) -> str:
        return self.launch(**options).url

    def stop_all(self) -> None:
        for server in self._servers.values():
            server.stop()


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path_factory.mktemp("servers"))
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def live_server(server_factory: ServerFactory) -> str:
    return server_factory(max_sessions=8)


def get_json(url: str) -> Any:
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    return response.json()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.02)


# ----- the protocol, from docs/protocol.md --------------------------------------------------
@dataclass
class Frame:
    header: dict[str, Any]
    arrays: dict[str, np.ndarray]
    size: int

    @property
    def iteration(self) -> int:
        return self.header["iteration"]

    @property
    def version(self) -> int:
        return self.header["version"]


def decode_frame(data: bytes) -> Frame:
    """docs/protocol.md §7."""
    assert data[:4] == b"GDF1"
    (length,) = struct.unpack_from("<I", data, 4)
    assert (8 + length) % 4 == 0
    header = json.loads(data[8 : 8 + length].decode())
    base = 8 + length
    arrays = {}
    for info in header["arrays"]:
        count = int(np.prod(info["shape"]))
        assert info["offset"] % 4 == 0
        start = base + info["offset"]
        if info["dtype"] == "f32":
            values = np.frombuffer(data, "<f4", count, start).astype(np.float64)
        else:
            codes = np.frombuffer(data, "<u2", count, start)
            step = (info["hi"] - info["lo"]) / 65534
            values = np.where(codes == 65535, np.nan, info["lo"] + codes * step)
        arrays[info["name"]] = values.reshape(info["shape"])
    return Frame(header, arrays, len(data))


Item = dict[str, Any] | Frame


class Client:
    """A session connection: send commands, wait for replies, events and frames."""

    _ids = itertools.count(1)

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.hello: dict[str, Any] = self.next(lambda m: isinstance(m, dict))  # type: ignore[assignment]
        self.session = self.hello.get("session")

    def send(self, **command: Any) -> None:
        self.ws.send(json.dumps(command))

    def recv(self, timeout: float) -> Item:
        message = self.ws.recv(timeout=timeout)
        return decode_frame(message) if isinstance(message, bytes) else json.loads(message)

    def next(self, predicate: Callable[[Item], bool], timeout: float = 10.0) -> Item:
        """The next message that satisfies ``predicate`` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching message within {timeout} s")
            item = self.recv(left)
            if predicate(item):
                return item

    def command(self, type: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """Send a command with a fresh id and return its reply (ack or error)."""
        command_id = next(self._ids)
        self.send(type=type, id=command_id, **fields)
        return self.next(  # type: ignore[return-value]
            lambda m: isinstance(m, dict) and m.get("id") == command_id, timeout
        )

    def ok(self, type: str, **fields: Any) -> dict[str, Any]:
        """A command that must be acknowledged."""
        reply = self.command(type, **fields)
        assert reply["type"] == "ack", reply
        return reply

    def frame(self, predicate: Callable[[Frame], bool] = lambda f: True, timeout=10.0) -> Frame:
        return self.next(lambda m: isinstance(m, Frame) and predicate(m), timeout)  # type: ignore[return-value]

    def event(self, type: str, timeout: float = 10.0) -> dict[str, Any]:
        return self.next(lambda m: isinstance(m, dict) and m.get("type") == type, timeout)  # type: ignore[return-value]

    def small(self, **overrides: Any) -> dict[str, Any]:
        """Reset to a small, fast run (``SMALL`` plus overrides) and wait for its frame."""
        ack = self.ok("reset", patch={**SMALL, **overrides})
        self.frame(lambda f: f.version == ack["version"])
        return ack

    def end(self) -> None:
        """End the session (if the connection is still open) and wait for the server's close."""
        try:
            self.send(type="end")
            while True:
                self.ws.recv(timeout=5)
        except (ConnectionClosed, TimeoutError):
            pass


def frame_tick(client: Client, version: int, lanes: list[int]) -> dict[int, Frame]:
    """The next frame of each lane at ``version`` (a frame tick has one per lane)."""
    frames: dict[int, Frame] = {}
    while set(frames) != set(lanes):
        frame = client.frame(lambda f: f.version == version)
        frames[frame.header["lane"]] = frame
    return frames


def ws_url(base_url: str, query: str = "") -> str:
    return base_url.replace("http://", "ws://") + "/ws" + (f"?{query}" if query else "")


@pytest.fixture
def connect_ws(live_server: str) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []
    with ExitStack() as stack:

        def open_client(
            base_url: str | None = None, query: str = "", origin: str | None = None, **options: Any
        ) -> Client:
            ws = stack.enter_context(
                connect(
                    ws_url(base_url or live_server, query),
                    origin=origin,  # type: ignore[arg-type]
                    compression=None,
                    open_timeout=10,
                    **options,
                )
            )
            client = Client(ws)
            clients.append(client)
            return client

        yield open_client
        for client in clients:
            client.end()


# ----- Debian's Chromium for the browser tests ---------------------------------------------------
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """A headless Chromium browser (tools/chromium.py); skips where chromium is missing.
    Per module: Playwright's sync API runs an event loop in this thread while it is open,
    which later tests that call asyncio.run could not share."""
    from tools.chromium import CHROMIUM, launch

    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()
