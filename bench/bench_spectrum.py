"""What the live spectrum view (view.spectrum, server.worker) costs training: generator
iterations of the default session playing at 30 fps with it on against off, per second and
per CPU second of the server (every process: less sensitive to other load on the machine),
in alternating windows of the same run (A/B interleaved, medians); and how long each
spectrum took and how far apart they came.

Run: ``PYTHONPATH=. python -m bench.bench_spectrum [--pairs 6] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from websockets.sync.client import ClientConnection, connect

from bench.bench_server import command, receive, server, thread_cpu
from server.presets import DEFAULT_PRESET


def window(
    ws: ClientConnection, pid: int, spectrum: bool, seconds: float
) -> tuple[float, float, list[dict], float]:
    """Iterations per second and per CPU second over ``seconds`` of playing with the view's
    spectrum on or off (from the first frame after its first spectrum when on, so that each
    window is in its steady state); the window's spectrum events (the first, before the
    window, left out) and its length."""
    command(ws, type="view", spectrum=spectrum)
    events: list[dict] = []
    first = last = None
    while last is None or last[0] - first[0] < seconds:  # type: ignore[index]
        message = receive(ws)
        if message["type"] == "spectrum":
            events.append({**message, "at": time.perf_counter()})
        elif message["type"] == "frame" and message["playing"] and (events or not spectrum):
            last = (time.perf_counter(), message["iteration"], sum(thread_cpu(pid).values()))
            first = first or last
    done = last[1] - first[1]  # type: ignore[index]
    wall = last[0] - first[0]  # type: ignore[index]
    return done / wall, done / (last[2] - first[2]), events[1:], wall  # type: ignore[index]


def summary(what: str, table: dict[bool, list[float]]) -> None:
    for spectrum in (False, True):
        values = table[spectrum]
        print(
            f"{'on ' if spectrum else 'off'} {what}: median {statistics.median(values):.1f} "
            f"({min(values):.1f} to {max(values):.1f})"
        )
    ratios = [b / a for a, b in zip(table[False], table[True], strict=True)]
    print(
        f"slowdown in {what}: median {1 - statistics.median(ratios):.1%} "
        f"(pairs {1 - max(ratios):.1%} to {1 - min(ratios):.1%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    rates: dict[bool, list[float]] = {False: [], True: []}
    per_cpu: dict[bool, list[float]] = {False: [], True: []}
    spectra: list[dict] = []
    gaps: list[float] = []
    on_seconds = 0.0
    with server() as (url, pid), connect(url, compression=None) as ws:
        command(ws, type="reset", preset=DEFAULT_PRESET)
        command(ws, type="pace", fps=30, steps_per_frame=0)
        command(ws, type="play")
        for pair in range(args.pairs):
            for spectrum in (False, True) if pair % 2 == 0 else (True, False):
                rate, cpu_rate, events, wall = window(ws, pid, spectrum, args.seconds)
                on_seconds += wall if spectrum else 0.0
                rates[spectrum].append(rate)
                per_cpu[spectrum].append(cpu_rate)
                spectra += events
                gaps += [b["at"] - a["at"] for a, b in itertools.pairwise(events)]
                on = "on " if spectrum else "off"
                print(f"spectrum {on}: {rate:.1f} it/s, {cpu_rate:.1f} it/CPU s", flush=True)
        command(ws, type="pause")
    summary("it/s", rates)
    summary("it/CPU s", per_cpu)
    seconds = [event["seconds"] for event in spectra]
    print(
        f"spectrum: {len(spectra)} events, median {statistics.median(seconds):.2f} s "
        f"({min(seconds):.2f} to {max(seconds):.2f}), k {len(spectra[0]['eigenvalues'])}, "
        f"exact {spectra[0]['exact']}, P {spectra[0]['parameters']}; "
        f"median gap {statistics.median(gaps):.1f} s; share of the windows with the "
        f"view on spent on spectra {sum(seconds) / on_seconds:.1%}"
    )


if __name__ == "__main__":
    main()
