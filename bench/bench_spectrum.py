"""What the live spectrum view (view.spectrum, server.worker) costs training: generator
iterations of the default session playing at 30 fps with it on against off, per second and
per CPU second of the server (every process: less sensitive to other load on the machine),
in alternating windows of the same run (A/B interleaved, medians); and how long each
spectrum took and how far apart they came.

Run: ``gandyn bench --only bench_spectrum`` (its section of RESULTS.md), or
``PYTHONPATH=. python -m bench.bench_spectrum [--quick]`` to print it.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from typing import Any

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


def measure(pairs: int, seconds: float) -> dict[str, Any]:
    """``pairs`` alternating on/off windows of ``seconds`` in one session of one server."""
    rates: dict[bool, list[float]] = {False: [], True: []}
    per_cpu: dict[bool, list[float]] = {False: [], True: []}
    spectra: list[dict] = []
    gaps: list[float] = []
    on_seconds = 0.0
    with server() as (url, pid), connect(url, compression=None) as ws:
        command(ws, type="reset", preset=DEFAULT_PRESET)
        command(ws, type="pace", fps=30, steps_per_frame=0)
        command(ws, type="play")
        for pair in range(pairs):
            for spectrum in (False, True) if pair % 2 == 0 else (True, False):
                rate, cpu_rate, events, wall = window(ws, pid, spectrum, seconds)
                on_seconds += wall if spectrum else 0.0
                rates[spectrum].append(rate)
                per_cpu[spectrum].append(cpu_rate)
                spectra += events
                gaps += [b["at"] - a["at"] for a, b in itertools.pairwise(events)]
        command(ws, type="pause")
    return {
        "rates": rates,
        "per_cpu": per_cpu,
        "spectra": spectra,
        "gaps": gaps,
        "on_seconds": on_seconds,
    }


def spread(values: list[float], digits: int = 1) -> str:
    """Median (min-max)."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def run(quick: bool) -> dict[str, Any]:
    pairs, seconds = (2, 5.0) if quick else (8, 8.0)
    got = measure(pairs, seconds)
    rows = []
    for what, table in (("it/s (wall)", got["rates"]), ("it per CPU second", got["per_cpu"])):
        ratios = [on / off for off, on in zip(table[False], table[True], strict=True)]
        rows.append([what, spread(table[False]), spread(table[True]), spread(ratios, 3)])
    seconds_each = [event["seconds"] for event in got["spectra"]]
    first = got["spectra"][0]
    share = sum(seconds_each) / got["on_seconds"]
    return {
        "title": "Spectrum view: what the live game spectrum costs training (default session)",
        "header": ["", "spectrum off", "spectrum on", "on / off (pairs)"],
        "rows": rows,
        "notes": (
            f"{pairs} alternating pairs of {seconds:.0f} s windows, one session playing the "
            f"default preset at 30 fps (`view.spectrum` on or off), one server; it per CPU "
            f"second counts every process of the server. {len(got['spectra'])} spectra, "
            f"k = {len(first['eigenvalues'])} of P = {first['parameters']} "
            f"(exact: {first['exact']}), each {spread(seconds_each, 2)} s, "
            f"{statistics.median(got['gaps']):.1f} s apart (median); spectra took "
            f"{share:.1%} of the time with the view on (target: slowdown < 10 %)."
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    section = run(args.quick)
    print(section["title"])
    for row in [section["header"], *section["rows"]]:
        print(" | ".join(str(cell) for cell in row))
    print(section["notes"])


if __name__ == "__main__":
    main()
