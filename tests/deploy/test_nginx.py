"""Two replicas behind Debian's real nginx, routed by deploy/nginx/gandyn.conf, the file
docker-compose.yml's nginx uses: new sessions spread over the replicas, a resume reaches the
replica that holds its session, and when that replica is gone the resume gets a new session
on the other whose hello says so (``lost``), where the run is rebuilt bit for bit from the
replay exported before the loss (docs/protocol.md §6, docs/deploy.md)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import STARTUP_SECONDS, Client, Frame, ServerProcess, frame_tick, worker_pids
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
NGINX = Path("/usr/sbin/nginx")
ARTIFACTS = ROOT / "tests" / "artifacts"
PAGE_TIMEOUT = 30_000  # ms, for every wait of the page test on a condition
ROUTING = ROOT / "deploy" / "nginx" / "gandyn.conf"

pytestmark = pytest.mark.skipif(
    not NGINX.exists(),
    reason="Debian's nginx is not installed (/usr/sbin/nginx): `make nginx` installs it",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def nginx_conf(prefix: Path, port: int, replicas: dict[str, str]) -> str:
    """An nginx.conf with every path under ``prefix``: the upstreams of ``replicas`` (name:
    host:port), as deploy/nginx/compose.conf names them, around the shared routing."""
    each = "".join(
        f"upstream gandyn_replica_{name} {{ server {address}; }}\n"
        for name, address in replicas.items()
    )
    every = "".join(f"server {address}; " for address in replicas.values())
    temp = "".join(
        f"{kind}_temp_path {prefix / kind};\n" for kind in ("client_body", "proxy", "fastcgi")
    ) + "".join(f"{kind}_temp_path {prefix / kind};\n" for kind in ("uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # the workers write the temp paths
    return f"""{user}worker_processes 1;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"};
events {{ worker_connections 256; }}
http {{
access_log {prefix / "access.log"};
{temp}upstream gandyn_new {{ least_conn; {every}}}
{each}server {{
    listen 127.0.0.1:{port};
    include {ROUTING};
}}
}}
"""


class Nginx:
    def __init__(self, prefix: Path, port: int, replicas: dict[str, str]) -> None:
        prefix.mkdir()
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_conf(prefix, port, replicas))
        command = [str(NGINX), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
        self.log = prefix / "error.log"
        self.process = subprocess.Popen(command)
        self.url = f"http://127.0.0.1:{port}"

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not start:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[tuple[Nginx, dict[str, ServerProcess]]]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    replicas = {
        name: ServerProcess(
            {"replica": name, "workers": 1, "allow_origin": [origin]}, tmp_path / f"{name}.log"
        )
        for name in ("r1", "r2")
    }
    nginx = None
    try:
        addresses = {name: server.url.removeprefix("http://") for name, server in replicas.items()}
        nginx = Nginx(tmp_path / "nginx", port, addresses)
        nginx.wait_until_ready()
        yield nginx, replicas
    finally:
        if nginx:
            nginx.stop()
        for server in replicas.values():
            server.stop()


def opener(stack: ExitStack, nginx: Nginx) -> Callable[..., Client]:
    """``open_session(query="", origin=None)``: a session connection through the proxy,
    from the proxy's origin unless told; closed with ``stack``."""

    def open_session(query: str = "", origin: str | None = None) -> Client:
        url = nginx.url.replace("http://", "ws://") + "/ws" + query
        ws = connect(url, origin=origin or nginx.url, compression=None, open_timeout=20)  # type: ignore[arg-type]
        return Client(stack.enter_context(ws))

    return open_session


def sessions_on(server: ServerProcess) -> int:
    return httpx.get(server.url + "/api/health", timeout=10).json()["sessions"]


@pytest.mark.slow
def test_sessions_spread_resume_on_their_replica_and_survive_its_loss(
    hall: tuple[Nginx, dict[str, ServerProcess]],
) -> None:
    nginx, replicas = hall
    with ExitStack() as stack:
        check_the_hall(nginx, replicas, opener(stack, nginx))


def check_the_hall(
    nginx: Nginx, replicas: dict[str, ServerProcess], open_session: Callable[..., Client]
) -> None:
    page = httpx.get(nginx.url + "/", timeout=30)
    plotly = httpx.get(nginx.url + "/vendor/plotly.min.js", timeout=30)
    assert page.status_code == plotly.status_code == 200 and "app.js" in page.text

    # new sessions: least_conn over open connections spreads them evenly
    clients = [open_session() for _ in range(4)]
    ids = [client.session for client in clients]
    assert Counter(session.split(".")[0] for session in ids) == {"r1": 2, "r2": 2}
    assert [sessions_on(server) for server in replicas.values()] == [2, 2]

    # a dropped connection resumes through the proxy on the replica that holds it
    for client in clients:
        client.ws.close()
    resumed = [open_session(f"?session={session}") for session in ids]
    assert [(c.hello["resumed"], c.session) for c in resumed] == [(True, s) for s in ids]

    # the proxy's public origin is allowed (--allow-origin); another is refused
    with pytest.raises(InvalidStatus) as refused:
        open_session(origin="http://elsewhere.example")
    assert refused.value.response.status_code == 403

    # a run on r1 with two lanes, a live change and a fork: its replay and frames as they are
    held = next(client for client in resumed if client.session.startswith("r1."))
    shown, replay = run_with_lanes(held)

    # replica r1 dies (SIGKILL, as a crash): a resume of its session gets a new session on r2
    for client in resumed:
        client.ws.close()
    dead = replicas["r1"].process
    workers = worker_pids(dead.pid)
    dead.kill()
    dead.wait()
    lost = next(session for session in ids if session.startswith("r1."))
    again = open_session(f"?session={lost}")
    assert again.hello["resumed"] is False
    assert again.session.startswith("r2.") and again.session != lost
    why = again.hello["lost"]
    assert (why["reason"], why["replica"]) == ("replica_gone", "r1")
    assert "(replica r1) is gone" in why["message"]

    # ... where the replay kept from before the loss rebuilds the run, bit for bit
    again.ok("view", **VIEW)
    rebuilt = again.ok("reset", replay=replay)
    assert [(lane["id"], lane["iteration"]) for lane in rebuilt["lanes"]] == [(1, 9), (2, 9)]
    frames = frame_tick(again, rebuilt["version"], [1, 2])
    for lane in (1, 2):
        assert frames[lane].iteration == shown[lane].iteration == 9
        for name in ("fake", "fake_grad", "d_grid", "real"):
            np.testing.assert_array_equal(frames[lane].arrays[name], shown[lane].arrays[name])
    again.ws.close()
    assert workers and all(gone(pid) for pid in workers), "its workers end with it"


VIEW = {"precision": "f32", "samples": 32}
FORK = {"type": "lane_fork", "lane": 1, "patch": {"loss": "hinge", "regularizers": []}}
SHOWN = "(want) => window.gandyn.lanes.map((l) => l.latest?.iteration).join() === want.join()"
FAKES = "window.gandyn.lanes.map((l) => Array.from(l.latest.fake))"


def run_with_lanes(client: Client) -> tuple[dict[int, Frame], dict]:
    """Train a small run with a live change and a fork; its frames now and its replay."""
    client.small()
    client.ok("step", n=4)
    client.ok("update", lane=1, patch={"opt_d": {"lr": 5e-4}})
    client.ok("lane_fork", lane=1, patch={"loss": "hinge", "regularizers": []}, title="hinge")
    client.ok("step", n=5)
    view = client.ok("view", **VIEW)
    return frame_tick(client, view["version"], [1, 2]), client.ok("export")["replay"]


def gone(pid: int) -> bool:
    """``pid`` has exited, within a minute (a worker ends when its web process's pipe does);
    a zombie counts as exited (its new parent may never reap it)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_rebuilds_its_run_when_its_replica_is_gone(
    hall: tuple[Nginx, dict[str, ServerProcess]], chromium: object
) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    nginx, replicas = hall
    context = chromium.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(nginx.url + "/?g_hidden=32,32&d_hidden=32,32&batch_size=64")
        page.wait_for_function("window.gandyn?.ready && window.gandyn.stats.framesRendered > 0")
        page.wait_for_function("window.gandyn.state.config.batch_size === 64")
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        page.wait_for_function("window.gandyn.latest.iteration === 3")
        page.evaluate(f"window.gandyn.session.send({json.dumps(FORK)})")
        page.wait_for_function("window.gandyn.lanes.length === 2")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(SHOWN, arg=[4, 4])
        # the page keeps the run's replay (every few seconds while the run changed)
        page.wait_for_function(
            "window.gandyn.keeper.kept?.replay.lanes.map((l) => l.iterations).join() === '4,4'"
        )
        before = page.evaluate(FAKES)
        kept = page.evaluate("window.gandyn.keeper.kept")
        held = page.evaluate("window.gandyn.session.sessionId")
        replicas[held.split(".")[0]].process.kill()
        page.wait_for_function(
            "(held) => window.gandyn.status === 'open' && window.gandyn.session.sessionId !== held",
            arg=held,
        )
        notice = page.locator("#notice")
        expected = (
            "The server that ran your 2 lanes went away; rebuilt them on another server from "
            "iteration 4"
        )
        expect(notice).to_contain_text(expected, timeout=PAGE_TIMEOUT)
        page.wait_for_function(SHOWN, arg=[4, 4])
        assert page.evaluate(FAKES) == before
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "replica_gone_rebuilt.png"))
        # a replay beyond the server's bound restarts the lanes from 0 with their settings
        beyond = page.evaluate(
            "(kept) => import('/rebuild.js').then(({ rebuildReset }) => rebuildReset(kept, 2))",
            kept,
        )
        assert [lane["iterations"] for lane in beyond["body"]["replay"]["lanes"]] == [0, 0]
        assert beyond["body"]["replay"]["base"]["batch_size"] == 64
        assert "restarted them from iteration 0 with the same settings" in beyond["says"]
        restarted = page.evaluate(
            "(body) => window.gandyn.session.send({ type: 'reset', ...body })", beyond["body"]
        )
        assert [lane["iteration"] for lane in restarted["lanes"]] == [0, 0]
        assert restarted["config"]["batch_size"] == 64
        assert restarted["lanes"][1]["config"]["loss"] == "hinge"
        assert errors == []
    finally:
        context.close()
