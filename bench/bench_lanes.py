"""Lanes: generator iterations per second of each lane when 2 or 4 lanes of the default model
step together, against one lane, measured interleaved in the same process (1 thread)."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import torch

from gan_core import Lanes

COUNTS = (1, 2, 4)
TARGET = 0.3  # each of 4 lanes at >= 0.3 of one lane's it/s (issue 12)


def per_lane_rate(count: int, iterations: int) -> float:
    """Generator iterations per second of each of ``count`` lanes of the default config."""
    lanes = Lanes(None, [{}] * count)
    started = time.perf_counter()
    lanes.step(iterations)
    return iterations / (time.perf_counter() - started)


def run(quick: bool = False) -> dict[str, Any]:
    """Median per-lane rate of 1, 2 and 4 lanes over several interleaved runs."""
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    repeats, iterations = (3, 40) if quick else (5, 150)
    per_lane_rate(1, 5)  # warm up
    rates: dict[int, list[float]] = {count: [] for count in COUNTS}
    for _ in range(repeats):
        for count in COUNTS:
            rates[count].append(per_lane_rate(count, iterations))
    one = statistics.median(rates[1])
    rows = []
    for count in COUNTS:
        median = statistics.median(rates[count])
        low, high = min(rates[count]), max(rates[count])
        rows.append(
            [
                count,
                f"{median:.1f} ({low:.1f}-{high:.1f})",
                f"{median / one:.2f}",
                f"{count * median:.1f}",
                f">= {TARGET}" if count == 4 else "",
            ]
        )
    return {
        "title": "Lanes: generator iterations/s of each lane (default model, 1 thread)",
        "header": [
            "lanes",
            "it/s of each lane: median (min-max)",
            "vs 1 lane",
            "all lanes' it/s",
            "target",
        ],
        "rows": rows,
        "notes": (
            f"Default config (ring of 8, WGAN-GP 0.1, 3x64 MLPs, batch 256, 2 critic steps) in "
            f"every lane; {iterations} iterations per lane, {repeats} interleaved runs of each "
            "count. Lanes are stepped in turn (gan_core.Lanes.step), so n lanes share one "
            "core: 1/n of one lane's rate is what running them in turn can give (why not "
            "as one stack: docs/engine-contract.md, Lanes). Load "
            f"average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after: other "
            "work on the machine skews every figure."
        ),
    }


if __name__ == "__main__":
    from bench.report import markdown_section

    print(markdown_section(run()))
