"""Spectrum events over the real websocket (docs/protocol.md §5): with ``view.spectrum`` on, the
eigenvalues of every MLP lane's game Jacobian (all of them for a small lane, the LIVE_K largest
for a larger one); none while it is off, none for a Dirac-GAN (its frames carry them)."""

from __future__ import annotations

import math
from collections.abc import Callable

from conftest import Client

from gan_core.spectrum import LIVE_EXACT_LIMIT, LIVE_K

Connect = Callable[..., Client]
TINY = {"g_hidden": [8], "d_hidden": [8]}  # under LIVE_EXACT_LIMIT parameters: exact


def until_ack(client: Client, **command: object) -> list[dict]:
    """Every event before the ack of ``command`` (the worker sends in order)."""
    seen: list[dict] = []
    client.send(id="fence", **command)
    while True:
        item = client.next(lambda m: isinstance(m, dict))
        if item.get("id") == "fence":
            assert item["type"] == "ack", item
            return seen
        seen.append(item)


def evaluated(client: Client, iteration: int, lanes: set[int]) -> None:
    """Wait for the evaluation of every lane at ``iteration`` (spectra come in the same turn)."""
    while lanes:
        event = client.event("evaluation")
        if event["iteration"] == iteration:
            lanes.discard(event["lane"])


def test_spectrum_events_come_for_each_lane_only_when_asked(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    client.ok("lane_add", patch=TINY)
    step = client.ok("step", n=5)
    evaluated(client, 5, {1, 2})
    assert not [e for e in until_ack(client, type="pace") if e["type"] == "spectrum"]
    client.ok("view", spectrum=True)
    spectra = {}
    while len(spectra) < 2:
        event = client.event("spectrum", timeout=20)
        spectra[event["lane"]] = event
    for event in spectra.values():
        assert event["iteration"] == 5 and event["version"] == step["version"]
        assert all(math.isfinite(re) and math.isfinite(im) for re, im in event["eigenvalues"])
        assert event["seconds"] >= 0
    big, tiny = spectra[1], spectra[2]
    assert not big["exact"] and len(big["eigenvalues"]) == LIVE_K
    assert big["parameters"] > LIVE_EXACT_LIMIT >= tiny["parameters"]
    assert tiny["exact"] and len(tiny["eigenvalues"]) == tiny["parameters"]
    magnitudes = [math.hypot(*v) for v in big["eigenvalues"]]
    assert magnitudes == sorted(magnitudes, reverse=True)


def test_a_dirac_gan_gets_no_spectrum_events(connect_ws: Connect) -> None:
    client = connect_ws(query="preset=dirac_gan")
    client.ok("view", spectrum=True)
    step = client.ok("step", n=3)
    evaluated(client, step["iteration"], {1})
    assert not [e for e in until_ack(client, type="pace") if e["type"] == "spectrum"]
