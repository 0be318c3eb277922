"""What the live spectrum view (view.spectrum, server.worker) costs training: generator
iterations/s of the default session playing at 30 fps with it on against off, in alternating
windows of the same run (A/B interleaved, medians), and how long each spectrum took and how
far apart they came.

Run: ``PYTHONPATH=. python -m bench.bench_spectrum [--pairs 5] [--seconds 12]``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from websockets.sync.client import ClientConnection, connect

from bench.bench_server import command, receive, server
from server.presets import DEFAULT_PRESET


def window(ws: ClientConnection, spectrum: bool, seconds: float) -> tuple[float, list[dict]]:
    """Iterations/s over ``seconds`` of playing with the view's spectrum on or off (from the
    first frame after its first spectrum when on, so each window is in its steady state);
    the spectrum events of the window."""
    command(ws, type="view", spectrum=spectrum)
    events: list[dict] = []
    first = last = None
    while last is None or last[0] - first[0] < seconds:  # type: ignore[index]
        message = receive(ws)
        if message["type"] == "spectrum":
            events.append({**message, "at": time.perf_counter()})
        elif message["type"] == "frame" and message["playing"] and (events or not spectrum):
            last = (time.perf_counter(), message["iteration"])
            first = first or last
    return (last[1] - first[1]) / (last[0] - first[0]), events  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    rates: dict[bool, list[float]] = {False: [], True: []}
    spectra: list[dict] = []
    gaps: list[float] = []
    with server() as (url, _), connect(url, compression=None) as ws:
        command(ws, type="reset", preset=DEFAULT_PRESET)
        command(ws, type="pace", fps=30, steps_per_frame=0)
        command(ws, type="play")
        for pair in range(args.pairs):
            for spectrum in (False, True) if pair % 2 == 0 else (True, False):
                rate, events = window(ws, spectrum, args.seconds)
                rates[spectrum].append(rate)
                spectra += events
                gaps += [b["at"] - a["at"] for a, b in itertools.pairwise(events)]
                print(f"spectrum {'on ' if spectrum else 'off'}: {rate:.1f} it/s", flush=True)
        command(ws, type="pause")
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    ratios = [b / a for a, b in zip(rates[False], rates[True], strict=True)]
    print(f"off: median {off:.1f} it/s ({min(rates[False]):.1f} to {max(rates[False]):.1f})")
    print(f"on:  median {on:.1f} it/s ({min(rates[True]):.1f} to {max(rates[True]):.1f})")
    print(
        f"slowdown: median {1 - statistics.median(ratios):.1%} "
        f"(pairs {1 - max(ratios):.1%} to {1 - min(ratios):.1%})"
    )
    seconds = [event["seconds"] for event in spectra]
    print(
        f"spectrum: {len(spectra)} events, median {statistics.median(seconds):.2f} s "
        f"({min(seconds):.2f} to {max(seconds):.2f}), k {len(spectra[0]['eigenvalues'])}, "
        f"exact {spectra[0]['exact']}, P {spectra[0]['parameters']}; "
        f"median gap {statistics.median(gaps):.1f} s"
    )


if __name__ == "__main__":
    main()
