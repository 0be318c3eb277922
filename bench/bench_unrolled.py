"""Unrolled GAN on the ring (Metz et al. 2016), several seeds: the measurement behind the
`unrolled_ring` preset, too slow for a test (tests/presets checks one seed at 250 iterations).

Modes covered (of 8) and the high-quality rate of 2,500 samples, without unrolling and with
k = 5, at 250 and 1,000 iterations of the preset's config, per seed.
"""

from __future__ import annotations

import statistics
from typing import Any

import torch

from gan_core import Trainer
from server.presets import PRESETS

CHECKPOINTS = (250, 1000)


def coverage(k: int, seed: int) -> list[tuple[int, float]]:
    tr = Trainer({**PRESETS["unrolled_ring"].config, "unroll_steps": k, "seed": seed})
    found = []
    for at in CHECKPOINTS:
        tr.step(at - tr.iteration)
        metrics = tr.evaluate()
        found.append((int(metrics["modes_covered"]), float(metrics["high_quality"])))
    return found


def run(quick: bool) -> dict[str, Any]:
    torch.set_num_threads(1)
    seeds = [0, 1] if quick else [0, 1, 2, 3, 4]
    rows, means = [], {}
    for k in (0, 5):
        per_seed = [coverage(k, seed) for seed in seeds]
        for i, at in enumerate(CHECKPOINTS):
            modes = [found[i][0] for found in per_seed]
            quality = [found[i][1] for found in per_seed]
            means[k, at] = statistics.mean(modes)
            rows.append(
                [
                    k,
                    at,
                    " ".join(str(m) for m in modes),
                    f"{statistics.mean(modes):.1f}",
                    f"{statistics.mean(quality):.3f}",
                ]
            )
    return {
        "title": "Unrolled GAN on the ring (unrolled_ring preset, modes covered of 8)",
        "header": ["unroll k", "iterations", "per seed", "mean", "high-quality rate (mean)"],
        "rows": rows,
        "notes": (
            f"Seeds {seeds[0]}-{seeds[-1]}; 2,500 samples per evaluation. Mean modes at 1,000 "
            f"iterations: {means[0, 1000]:.1f} without unrolling, {means[5, 1000]:.1f} with k = 5."
        ),
    }
