"""`gandyn run`: train without a browser and write the metrics history as JSON.

gandyn run --config run.json --steps 2000 --out history.json
gandyn run --preset minimax_vs_nonsaturating --steps 1000

A preset runs as the page starts it: all its lanes from one start, its warm-up applied
(``server.presets.start_comparison``). The JSON holds one entry per lane in ``lanes``: its id,
title, fork point, config, command log and history; a config alone is one lane.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

import torch

from gan_core import ConfigError, Lanes, TrainConfig, load_plugin, validate_config
from gan_core.lanes import Lane

T = TypeVar("T")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gandyn run", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, help="a JSON file with a TrainConfig")
    source.add_argument("--preset", help="a preset name (see GET /api/presets)")
    parser.add_argument("--steps", type=int, default=1000, help="generator iterations")
    parser.add_argument("--eval-every", type=int, default=100, help="iterations between metrics")
    parser.add_argument("--out", type=Path, help="write the history here as JSON")
    parser.add_argument("--plugin", action="append", default=[], help="a plug-in .py file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> dict[str, Any]:
    """The config dict from --config or --preset (empty: the interactive default)."""
    if args.config:
        return json.loads(args.config.read_text())
    if args.preset:
        from server.presets import preset_named

        return preset_named(args.preset).config
    return {}


def progress(done: int, total: int, started: float, stream: TextIO, unit: str = "it") -> None:
    width = 30
    filled = width * done // max(total, 1)
    rate = done / max(time.perf_counter() - started, 1e-9)
    bar = f"[{'#' * filled}{'.' * (width - filled)}]"
    shown = f"{rate:6.1f}" if rate >= 1 else f"{rate:6.3f}"  # a few runs a minute
    stream.write(f"\r{bar} {done}/{total} {shown} {unit}/s")
    stream.flush()


def summary(record: dict[str, Any]) -> str:
    """One line of the final metrics."""
    parts = [f"iteration {record['iteration']}"]
    if "w1" in record:
        parts.append(f"W1 {record['w1']:.4f} (real-vs-real floor {record['w1_floor']:.4f})")
    if "modes_total" in record:
        parts.append(f"modes {record['modes_covered']}/{record['modes_total']}")
        parts.append(f"high quality {100 * record['high_quality']:.0f}%")
    if "js" in record:
        parts.append(f"JS {record['js']:.3f}")
    parts += [f"{k} {record[k]:.4f}" for k in ("d_loss", "g_loss") if k in record]
    return " | ".join(parts)


def train(lanes: Lanes, steps: int, eval_every: int, bar: TextIO | None) -> dict[int, list]:
    """Train every lane to generator iteration ``steps``, recording each lane's metrics every
    ``eval_every``; a lane that halts stops alone (its history ends there), the others go on.
    The histories by lane id."""
    history: dict[int, list[dict[str, Any]]] = {lane.id: [] for lane in lanes}
    started = time.perf_counter()

    def running() -> list:
        return [lane for lane in lanes if lane.trainer.halt is None]

    while running() and (at := running()[0].trainer.iteration) < steps:
        lanes.step(min(eval_every, steps - at))
        for lane in lanes:
            trainer, records = lane.trainer, history[lane.id]
            if records and records[-1]["iteration"] == trainer.iteration:
                continue  # halted before this piece: nothing new to record
            records.append(
                {"iteration": trainer.iteration, **trainer.cheap_metrics(), **trainer.evaluate()}
            )
        if bar is not None:
            progress(max(lane.trainer.iteration for lane in lanes), steps, started, bar)
    if bar is not None:
        bar.write("\n")
    return history


def configured(
    args: argparse.Namespace, command: str, build: Callable[[TrainConfig], T]
) -> T | None:
    """Load the --plugin files and the --config or --preset config, then ``build(config)``;
    None, with what went wrong on stderr, when any of that fails."""
    try:
        for path in args.plugin:
            load_plugin(path)
        return build(validate_config(load_config(args)))
    except ConfigError as error:
        print(f"{command}: bad config: {error}", file=sys.stderr)
    except json.JSONDecodeError as error:
        print(f"{command}: {args.config} is not valid JSON: {error}", file=sys.stderr)
    except (OSError, ImportError) as error:
        print(f"{command}: cannot load {error.filename or 'a plug-in'}: {error}", file=sys.stderr)
    return None


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    from server.presets import start_comparison

    lanes = configured(args, "gandyn run", lambda config: start_comparison(config, args.preset))
    if lanes is None:
        return 2
    history = train(lanes, args.steps, args.eval_every, None if args.quiet else sys.stderr)
    if args.out:
        result = {"lanes": [lane_record(lane, history[lane.id]) for lane in lanes]}
        args.out.write_text(json.dumps(result, indent=1))
    named = len(lanes) > 1
    for lane in lanes:
        name = f"lane {lane.id} {lane.title}: ".replace(" :", ":") if named else ""
        records = history[lane.id]
        print(name + (summary(records[-1]) if records else "no iterations run"))
        if lane.trainer.halt is not None:
            print(f"gandyn run: {name}{lane.trainer.halt.message}", file=sys.stderr)
    return 1 if any(lane.trainer.halt is not None for lane in lanes) else 0


def lane_record(lane: Lane, history: list[dict[str, Any]]) -> dict[str, Any]:
    """One lane of the JSON output: who it is, where it came from, what it did."""
    trainer = lane.trainer
    return {
        "id": lane.id,
        "title": lane.title,
        "forked": lane.forked,
        "config": trainer.config.model_dump(mode="json"),
        "commands": [[at, kind, payload] for at, kind, payload in trainer.commands],
        "history": history,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
