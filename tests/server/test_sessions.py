"""Several sessions, dropped connections, the cap, Origin, limits and clean-up."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from conftest import Client, Frame, ServerFactory, get_json, wait_until
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gan_core import validate_config

Connect = Callable[..., Client]

# Two extra servers for the whole file (each start costs a few seconds of imports).
SHORT_GRACE = {"max_sessions": 2, "grace": 0.3}
CAPPED = {"max_sessions": 1, "grace": 30, "allow_origin": ["http://lab.example:8080"]}
PLUGIN = '''
import torch.nn.functional as F

from gan_core import register_loss


@register_loss("plugin_hinge", shows_probability=False)
class PluginHinge:
    """The hinge loss, from a plug-in file.
    L_D = E relu(1 - D(x)) + E relu(1 + D(G(z))),  L_G = -E D(G(z))"""

    def d_loss(real, fake):
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def g_loss(real, fake):
        return -fake.mean()
'''


@pytest.fixture(scope="module")
def servers(server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Base URLs: ``short_grace``, and ``capped`` (one session, an extra origin, a plug-in)."""
    plugin = tmp_path_factory.mktemp("plugins") / "plugin_hinge.py"
    plugin.write_text(PLUGIN)
    options = {"short_grace": SHORT_GRACE, "capped": {**CAPPED, "plugin": [str(plugin)]}}
    started = {name: server_factory.launch(**kwargs) for name, kwargs in options.items()}
    return {name: server.url for name, server in started.items()}


def health(base_url: str) -> dict:
    return get_json(base_url + "/api/health")


def test_two_sessions_are_isolated(connect_ws: Connect) -> None:
    a, b = connect_ws(), connect_ws()
    assert a.session != b.session
    a.small()
    b.small()
    a.ok("update", patch={"loss": "hinge"})
    a.ok("step", n=7)
    b_step = b.ok("step", n=2)
    assert b_step["iteration"] == 2 and b_step["version"] == 1
    b_view = b.ok("view", samples=32)
    assert b_view["view"]["samples"] == 32
    exported = b.ok("export")["replay"]
    assert exported["lanes"][0]["commands"] == []
    assert validate_config(exported["base"]).loss == "wgan"
    a_frame = a.frame(lambda f: f.iteration == 7)
    assert a_frame.arrays["fake"].shape == (256, 2) and a_frame.version == 2


def test_resume_after_a_drop(connect_ws: Connect, live_server: str) -> None:
    first = connect_ws()
    first.small()
    first.ok("step", n=4)
    first.ok("view", grid=16)
    first.ok("play")
    first.ws.close()  # a drop: no ``end``
    second = connect_ws(query=f"session={first.session}")
    hello = second.hello
    assert hello["resumed"] is True and hello["session"] == first.session
    assert hello["version"] == 1 and hello["iteration"] >= 4 and hello["playing"] is True
    assert hello["view"]["grid"] == 16
    frame = second.frame(lambda f: f.header["playing"])
    assert frame.arrays["d_grid"].shape == (16, 16)
    later = second.frame(lambda f: f.iteration > frame.iteration)
    assert later.version == 1


def test_a_second_connection_takes_the_session_over(connect_ws: Connect) -> None:
    first = connect_ws()
    second = connect_ws(query=f"session={first.session}")
    assert second.hello["resumed"] is True
    with pytest.raises(ConnectionClosed) as closed:
        first.next(lambda m: False, timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    assert second.ok("step")["iteration"] == 1


def test_an_expired_session_id_starts_a_new_session(connect_ws: Connect, servers: dict) -> None:
    url = servers["short_grace"]
    first = connect_ws(url)
    first.ws.close()
    wait_until(lambda: health(url)["sessions"] == 0, 5, "the detached session expired")
    second = connect_ws(url, query=f"session={first.session}")
    assert second.hello["resumed"] is False and second.session != first.session


def test_the_session_cap_gives_a_clear_busy_message(connect_ws: Connect, servers: dict) -> None:
    url = servers["capped"]
    connect_ws(url)
    refused = connect_ws(url)
    hello = refused.hello  # the first and only message
    assert hello["type"] == "error" and hello["code"] == "busy"
    assert "try again" in hello["message"]
    with pytest.raises(ConnectionClosed) as closed:
        refused.ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


def test_a_detached_session_makes_room_for_a_new_one(connect_ws: Connect, servers: dict) -> None:
    url = servers["capped"]
    dropped = connect_ws(url)
    dropped.ws.close()
    wait_until(lambda: health(url)["detached"] == 1, 5, "the session is detached")
    newcomer = connect_ws(url)
    assert newcomer.hello["type"] == "hello"
    assert health(url)["sessions"] == 1


def test_a_foreign_origin_is_refused(connect_ws: Connect, live_server: str, servers: dict) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect_ws(origin="http://evil.example")
    assert refused.value.response.status_code == 403
    same = connect_ws(origin=live_server)
    assert same.hello["type"] == "hello"
    url = servers["capped"]
    allowed = connect_ws(url, origin="http://lab.example:8080")
    assert allowed.hello["type"] == "hello"
    with pytest.raises(InvalidStatus):
        connect_ws(url, origin="http://lab.example:9999")


def test_no_session_remains_after_the_clients_leave(connect_ws: Connect, servers: dict) -> None:
    url = servers["short_grace"]
    ended, dropped = connect_ws(url), connect_ws(url)
    for client in (ended, dropped):
        client.small()
        client.ok("play")
        client.frame(lambda f: f.header["playing"])
    assert held(url) == (2, 2)
    assert [w["sessions"] for w in health(url)["worker_details"]] == [1, 1], "spread by load"
    ended.end()
    wait_until(lambda: held(url) == (1, 1), 10, "the ended session is gone")
    dropped.ws.close()
    wait_until(lambda: held(url) == (0, 0), 10, "the dropped session is gone after its grace")


def held(url: str) -> tuple[int, int]:
    """(sessions the web process keeps, sessions its workers hold)."""
    state = health(url)
    return state["sessions"], sum(w["sessions"] for w in state["worker_details"])


def test_commands_beyond_the_rate_are_dropped_unread_and_counted(connect_ws: Connect) -> None:
    """The rate limit applies before a message is parsed: what comes beyond it gets no
    reply, and rate_limited errors (at most one a second) count every dropped one."""
    client = connect_ws()
    burst = client.hello["limits"]["command_burst"]
    count = burst + 200
    for i in range(count):
        client.send(type="view", id=i, grid=16)
    acked, dropped = [], 0
    while len(acked) + dropped < count:
        reply = client.next(lambda m: isinstance(m, dict) and m["type"] in ("ack", "error"))
        if reply["type"] == "error":
            assert reply["code"] == "rate_limited" and reply["id"] is None, reply
            dropped += int(re.search(r"(\d+) were dropped", reply["message"]).group(1))
        else:
            acked.append(reply["id"])
    assert acked == sorted(acked) and len(acked) >= burst, "admitted ones in order"
    assert dropped > 0 and len(acked) + dropped == count


def test_a_slow_client_gets_the_newest_frames_not_a_backlog(
    connect_ws: Connect, live_server: str
) -> None:
    address = urlsplit(live_server)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # little room for a backlog
    sock.connect((address.hostname, address.port))
    client = connect_ws(sock=sock, max_queue=1)
    client.small()
    client.ok("pace", fps=60)
    client.ok("play")
    last = client.frame(lambda f: f.header["playing"])
    # The client stops reading for a while (not synchronisation: the point of the test),
    # longer each time until the server made more than 30 frames meanwhile (a busy machine
    # makes fewer per second; no rate is asserted).
    for pause, samples in ((1.5, 32), (4.0, 33), (10.0, 34)):
        time.sleep(pause)
        client.send(type="view", id=f"slow-{samples}", samples=samples)
        backlog: list[Frame] = []

        def is_reply(
            message: Frame | dict, wanted: str = f"slow-{samples}", backlog: list = backlog
        ) -> bool:
            if isinstance(message, Frame):
                backlog.append(message)
                return False
            return message.get("id") == wanted

        assert client.next(is_reply)["type"] == "ack", "replies are never dropped"
        fresh = client.frame(lambda f, n=samples: f.arrays["fake"].shape == (n, 2))
        produced = fresh.header["seq"] - last.header["seq"]
        last = fresh
        if produced > 30:
            break
    assert produced > 30, f"only {produced} frames in the last pause"
    assert len(backlog) < produced / 2, "stale frames were replaced, not queued"
    client.ok("pause")


def test_a_plugin_loss_is_in_the_schema_and_trains(connect_ws: Connect, servers: dict) -> None:
    url = servers["capped"]
    losses = {loss["name"]: loss for loss in get_json(url + "/api/schema")["losses"]}
    assert losses["plugin_hinge"]["formula"].startswith("L_D = E relu")
    client = connect_ws(url)
    client.small()
    ack = client.ok("update", patch={"loss": "plugin_hinge", "regularizers": []})
    assert client.ok("step", n=3)["iteration"] == 3
    frame = client.frame(lambda f: f.iteration == 3)
    assert frame.version == ack["version"] and frame.header["display"] == "score"
