"""Spectrum events over the real websocket (docs/protocol.md §5): with ``view.spectrum`` on, the
eigenvalues of every MLP lane's game Jacobian (all of them for a small lane, the LIVE_K largest
for a larger one); none while it is off, none for a Dirac-GAN (its frames carry them)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from conftest import SMALL, Client

from gan_core.spectrum import LIVE_EXACT_LIMIT, LIVE_K

Connect = Callable[..., Client]
TINY = {"g_hidden": [8], "d_hidden": [8]}  # under LIVE_EXACT_LIMIT parameters: exact


class Recorder:
    """Every event a session sends after its hello (frames skipped), in order."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def until(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            item = self.client.next(lambda m: isinstance(m, dict), timeout=20)
            self.events.append(item)
            if done(item):
                return item

    def ok(self, type: str, **fields: Any) -> dict[str, Any]:
        """A command's ack; the worker sends in order, so it follows what came before it."""
        command_id = f"r{next(self._ids)}"
        self.client.send(type=type, id=command_id, **fields)
        reply = self.until(lambda m: m.get("id") == command_id)
        assert reply["type"] == "ack", reply
        return reply

    def evaluated(self, iteration: int, lanes: int) -> None:
        """Until each of ``lanes`` lanes' evaluation at ``iteration`` (one each; a spectrum
        due then follows in the same turn)."""
        for _ in range(lanes):
            self.until(lambda m: m.get("type") == "evaluation" and m["iteration"] == iteration)

    def spectra(self) -> list[dict[str, Any]]:
        return [event for event in self.events if event.get("type") == "spectrum"]


def test_spectrum_events_come_for_each_lane_only_when_asked(connect_ws: Connect) -> None:
    session = Recorder(connect_ws())
    session.ok("reset", patch=SMALL)
    session.ok("lane_add", patch=TINY)
    step = session.ok("step", n=5)
    session.evaluated(5, lanes=2)
    session.ok("pace")
    assert session.spectra() == []  # off by default
    session.ok("view", spectrum=True)
    session.until(lambda m: len({e["lane"] for e in session.spectra()}) == 2)
    spectra = {event["lane"]: event for event in session.spectra()}
    for event in spectra.values():
        assert event["iteration"] == 5 and event["version"] == step["version"]
        assert all(math.isfinite(re) and math.isfinite(im) for re, im in event["eigenvalues"])
    big, tiny = spectra[1], spectra[2]
    assert not big["exact"] and len(big["eigenvalues"]) == LIVE_K
    assert big["parameters"] > LIVE_EXACT_LIMIT >= tiny["parameters"]
    assert tiny["exact"] and len(tiny["eigenvalues"]) == tiny["parameters"]
    magnitudes = [math.hypot(*v) for v in big["eigenvalues"]]
    assert magnitudes == sorted(magnitudes, reverse=True)


def test_a_dirac_gan_gets_no_spectrum_events(connect_ws: Connect) -> None:
    session = Recorder(connect_ws(query="preset=dirac_gan"))
    session.ok("view", spectrum=True)
    step = session.ok("step", n=3)
    session.evaluated(step["iteration"], lanes=1)
    session.ok("pace")
    assert session.spectra() == []
