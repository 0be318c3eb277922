"""No session can hurt another: each way a careless or hostile client reached the others
before the worker processes (issue "every core"), tried against a real server on loopback,
with a well-behaved client playing beside it where that is the point.

Every wait has a generous timeout; nothing here times the server.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from conftest import Client, Frame, ServerFactory, get_json, wait_until
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.app import FLOOD_DROPS
from server.http import HEADER_SECONDS

Connect = Callable[..., Client]

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def url(server_factory: ServerFactory) -> str:
    return server_factory(max_sessions=6, max_sessions_per_client=6, max_unread_mib=0.25)


def playing_bystander(connect_ws: Connect, url: str) -> Client:
    client = connect_ws(url)
    client.small()
    client.ok("play")
    client.frame(lambda f: f.header["playing"])
    return client


def frames_keep_coming(client: Client, count: int = 5) -> None:
    """``count`` more frames, each of a later iteration than the one before."""
    last = client.frame().iteration
    for _ in range(count):
        last = client.frame(lambda f, last=last: f.iteration > last, timeout=30).iteration


def test_a_dirac_run_keeps_a_bounded_trajectory_that_ends_at_the_current_point(
    connect_ws: Connect, url: str
) -> None:
    """The trajectory used to grow for ever (and each frame carried all of it)."""
    client = connect_ws(url, query="preset=dirac_gan")
    client.ok("lane_keep", lane=1)  # the preset compares 4 methods; one trajectory is enough
    client.frame()
    for _ in range(6):
        client.ok("step", n=1000)
    frame = client.frame(lambda f: f.iteration == 6000)
    trajectory = frame.arrays["trajectory"]
    assert 500 <= len(trajectory) <= 1025, len(trajectory)
    theta, psi = frame.header["theta"], frame.header["psi"]
    assert abs(trajectory[-1][0] - theta) < 1e-3 and abs(trajectory[-1][1] - psi) < 1e-3
    client.end()


def test_the_most_costly_view_at_60_fps_still_gets_frames_and_others_keep_theirs(
    connect_ws: Connect, url: str
) -> None:
    """Frames that take longer than 1/fps to build used to give zero frames; now the frame
    rate adapts to what a frame costs."""
    bystander = playing_bystander(connect_ws, url)
    costly = connect_ws(url)
    costly.small()
    costly.ok("view", grid=128, samples=2048, field=32, manifold=32, trails=32, precision="f32")
    costly.ok("pace", fps=60)
    costly.ok("play")
    frames_keep_coming(costly)
    frames_keep_coming(bystander)
    costly.end()
    bystander.end()


def test_a_client_that_never_reads_its_replies_is_dropped_with_4008(
    connect_ws: Connect, url: str
) -> None:
    bystander = playing_bystander(connect_ws, url)
    address = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((address.hostname, address.port))
    stalled = connect_ws(url, sock=sock, max_queue=1, ping_interval=None)
    points = [[i / 1000, -i / 1000] for i in range(500)]  # an export of about 15 KB
    stalled.small(dataset="points", target={"points": points})
    for i in range(90):  # the replies are never read
        stalled.send(type="export", id=i)
    wait_until(  # dropped while it still has not read a thing
        lambda: get_json(url + "/api/health")["detached"] == 1, 60, "the server dropped it"
    )
    closed = None
    deadline = time.monotonic() + 60
    while closed is None and time.monotonic() < deadline:
        try:
            stalled.ws.recv(timeout=1)
        except TimeoutError:
            continue
        except ConnectionClosed as error:
            closed = error
    assert closed is not None, "the connection ended"
    if closed.rcvd is not None:  # the close frame, when it fitted before the socket went
        assert closed.rcvd.code == 4008 and "unread" in closed.rcvd.reason, closed.rcvd
    frames_keep_coming(bystander)
    resumed = connect_ws(url, query=f"session={stalled.session}")  # its session is kept
    assert resumed.hello["resumed"] is True
    resumed.end()
    bystander.end()


def test_a_flood_of_messages_is_closed_and_others_keep_their_frames(
    connect_ws: Connect, url: str
) -> None:
    """Beyond the rate, messages are dropped unparsed; a connection with more than
    FLOOD_DROPS of them dropped in a second is closed (1008), its session kept."""
    bystander = playing_bystander(connect_ws, url)
    flooding = connect_ws(url)
    with pytest.raises(ConnectionClosed) as closed:
        for i in range(20 * FLOOD_DROPS):
            flooding.ws.send(json.dumps({"type": "view", "id": i, "grid": 16}))
        while True:
            flooding.ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "over the rate limit" in closed.value.rcvd.reason
    frames_keep_coming(bystander)
    again = connect_ws(url, query=f"session={flooding.session}")
    assert again.hello["resumed"] is True
    again.end()
    bystander.end()


def test_half_open_http_requests_are_closed_and_health_keeps_answering(url: str) -> None:
    address = urlsplit(url)
    socks = []
    for _ in range(200):
        sock = socket.create_connection((address.hostname, address.port), timeout=30)
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # never finished
        socks.append(sock)
    assert get_json(url + "/api/health")["status"] == "ok"
    for sock in socks:  # each is closed by the server within HEADER_SECONDS
        sock.settimeout(HEADER_SECONDS + 30)
        assert sock.recv(1024) == b""
        sock.close()


def loopback_from(address: str, url: str) -> socket.socket:
    """A connection to the server from another loopback address (another 'client')."""
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), source_address=(address, 0))


def test_a_client_has_a_cap_and_strangers_never_evict_a_detached_session(
    server_factory: ServerFactory, connect_ws: Connect
) -> None:
    url = server_factory(max_sessions=3, max_sessions_per_client=2, grace=30)
    mine = [connect_ws(url), connect_ws(url)]
    refused = connect_ws(url).hello  # the one message a refused connection gets
    assert (refused["type"], refused["code"]) == ("error", "busy"), refused
    assert "this address already has 2 sessions" in refused["message"]
    # Another address takes the last place, then drops for a moment.
    other = connect_ws(url, sock=loopback_from("127.0.0.2", url))
    other_id = other.session
    other.ws.close()
    wait_until(lambda: get_json(url + "/api/health")["detached"] == 1, 10, "it is detached")
    mine[0].end()  # room for one: a new connection of the first address takes it ...
    third = connect_ws(url)
    busy = connect_ws(url, sock=loopback_from("127.0.0.3", url)).hello  # ... and a stranger
    assert busy["code"] == "busy" and "all 3 training sessions" in busy["message"], busy
    back = connect_ws(url, sock=loopback_from("127.0.0.2", url), query=f"session={other_id}")
    assert back.hello["resumed"] is True and back.session == other_id, "nobody evicted it"
    for client in (mine[1], third, back):
        client.end()


def test_end_then_close_leaves_no_zombie(connect_ws: Connect, url: str) -> None:
    client = connect_ws(url)
    session = client.session
    client.send(type="end")
    client.ws.close()
    again = connect_ws(url, query=f"session={session}")
    assert again.hello["resumed"] is False and again.session != session
    assert isinstance(again.frame(), Frame)
    again.end()


def test_the_origin_check_does_not_trust_the_host_header(connect_ws: Connect, url: str) -> None:
    port = urlsplit(url).port
    rebound = f"http://evil.example:{port}"  # a page whose name was made to resolve here
    with pytest.raises(InvalidStatus) as error:
        connect_ws(rebound, origin=rebound, sock=loopback_from("127.0.0.1", url))
    assert error.value.response.status_code == 403
    for origin in (f"HTTP://127.0.0.1:{port}", f"http://LOCALHOST:{port}/"):
        assert connect_ws(url, origin=origin).hello["type"] == "hello", origin


def test_slow_motion_has_a_floor(connect_ws: Connect, url: str) -> None:
    client = connect_ws(url)
    reply = client.command("pace", slow_motion=5e-324)
    assert (reply["type"], reply["code"], reply["field"]) == ("error", "invalid", "slow_motion")
    assert "0 (off) or from 0.05 to 10 seconds" in reply["message"]
    assert client.ok("pace", slow_motion=0.05)["pace"]["slow_motion"] == 0.05
    client.end()


def test_live_edits_at_one_iteration_are_one_entry_of_the_replay(
    connect_ws: Connect, url: str
) -> None:
    client = connect_ws(url)
    client.small()
    for i in range(120):  # a slider dragged while paused
        client.ok("update", patch={"opt_d": {"lr": 1e-4 * (1 + i)}})
    replay = client.ok("export")["replay"]
    assert replay["lanes"][0]["commands"] == [
        [0, "update", {"patch": {"opt_d": {"lr": pytest.approx(1.2e-2)}}, "reset_moments": False}]
    ]
    client.end()
