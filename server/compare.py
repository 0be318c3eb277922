"""`gandyn compare`: train a grid of configs over several seeds without a browser, in
parallel over the cores, and print a Markdown table of each config's mean and sd.

gandyn compare --preset ring8_wgan_gp --vary loss=wgan,hinge --vary regularizers=gp,r1 \\
    --seeds 5 --steps 2000 --out results.json [--plugin mine.py] [--csv results.csv]

``--vary KEY=V1,V2`` may repeat: every combination is a row. Keys may be dotted
(``opt_d.lr=1e-3,1e-4``); values are JSON where they parse (numbers, lists) and text
otherwise. For ``regularizers`` a value is a regularizer name at its default weight, ``name:w``
at weight w, several joined by ``+`` (``gp+spectral_norm``), or ``none``. Seeds are the base
config's seed, seed + 1, ...; a preset's warm-up runs on every seed before ``--steps``. A
preset with lanes (``minimax_vs_nonsaturating``) runs them all from one start on every seed, as
the page does, and each lane is a row (its title; with ``--vary``, each combination's lanes). A
run that halts (diverges, or a plug-in fails) is counted in ``diverged`` and left out of the
means.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import shlex
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from gan_core import ConfigError, TrainConfig, Trainer, load_plugin, validate_config
from gan_core.config import merge
from server.headless import configured, progress
from server.presets import preset_named, start_comparison

METRICS = ("w1", "w1_floor", "modes_covered", "high_quality", "kl", "js")
SHOWN = {"w1": "W1", "w1_floor": "W1 floor", "modes_covered": "modes", "high_quality": "HQ"}


class VaryError(ConfigError):
    """A --vary argument that cannot be used: ``field`` is the argument, ``message`` names
    the key and what is allowed."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gandyn compare", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, help="a JSON file with the base TrainConfig")
    source.add_argument("--preset", help="a preset as the base (its warm-up included)")
    parser.add_argument(
        "--vary", action="append", default=[], metavar="KEY=V1,V2", help="a grid axis"
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds per config (default 5)")
    parser.add_argument("--steps", type=int, default=2000, help="generator iterations per run")
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    parser.add_argument("--csv", type=Path, help="also write the table here as CSV")
    parser.add_argument("--plugin", action="append", default=[], help="a plug-in .py file")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: the cores)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    for name in ("seeds", "steps", "jobs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


# ----- the grid ---------------------------------------------------------------------------
def split_values(text: str) -> list[str]:
    """Comma-separated values, commas inside brackets kept: ``[32,32],[64]`` is two."""
    values, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            values.append(current)
            current = ""
        else:
            current += char
    return [*values, current]


def check_key(key: str) -> None:
    """A dotted key must name a TrainConfig option (VaryError lists those allowed there)."""
    model: type[BaseModel] = TrainConfig
    parts = key.split(".")
    for depth, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            where = ".".join(parts[:depth]) or "the config"
            allowed = ", ".join(fields)
            raise VaryError(f"--vary {key}", f"{where} has no option {part!r}; allowed: {allowed}")
        annotation = fields[part].annotation
        nested = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if depth < len(parts) - 1 and not nested:
            raise VaryError(f"--vary {key}", f"{'.'.join(parts[: depth + 1])} has no sub-options")
        if nested:
            model = annotation


def regularizers(value: str) -> list[dict[str, Any]]:
    """``none``, or names joined by ``+``, each ``name`` (default weight) or ``name:weight``."""
    if value == "none":
        return []
    out = []
    for item in value.split("+"):
        kind, _, weight = item.partition(":")
        try:
            out.append({"kind": kind} if not weight else {"kind": kind, "weight": float(weight)})
        except ValueError:
            raise VaryError(
                "--vary regularizers", f"the weight of {item!r} is not a number"
            ) from None
    return out


def parse_value(key: str, text: str) -> Any:
    if key == "regularizers":
        return regularizers(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def nested(key: str, value: Any) -> dict[str, Any]:
    """``opt_d.lr``, 1e-3 -> {"opt_d": {"lr": 1e-3}}."""
    *outer, last = key.split(".")
    patch: dict[str, Any] = {last: value}
    for part in reversed(outer):
        patch = {part: patch}
    return patch


def parse_vary(argument: str, base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One grid axis: (label, patch) per value, each value checked against the base config."""
    key, sep, values = argument.partition("=")
    if not sep or not key or not values:
        raise VaryError(f"--vary {argument}", "write KEY=V1,V2 (e.g. loss=wgan,hinge)")
    check_key(key)
    axis = []
    for text in split_values(values):
        patch = nested(key, parse_value(key, text))
        try:
            validate_config(merge(base, patch))
        except ConfigError as error:
            raise VaryError(f"--vary {key}={text}", str(error)) from None
        axis.append((f"{key}={text}", patch))
    return axis


def grid(base: dict[str, Any], varies: list[str]) -> list[tuple[str, TrainConfig]]:
    """Every combination of the axes as (label, config); one row "base" without --vary."""
    axes = [parse_vary(argument, base) for argument in varies]
    rows = []
    for combination in itertools.product(*axes):
        config = base
        for _, patch in combination:
            config = merge(config, patch)
        label = " ".join(label for label, _ in combination) or "base"
        try:
            rows.append((label, validate_config(config)))
        except ConfigError as error:
            raise VaryError(f"--vary combination {label}", str(error)) from None
    return rows


# ----- one run ------------------------------------------------------------------------------
def start_worker(plugins: list[str]) -> None:
    torch.set_num_threads(1)
    for path in plugins:
        load_plugin(path)


def run_seed(config: dict[str, Any], preset: str | None, steps: int) -> list[dict[str, Any]]:
    """Train one seed: the preset's lanes from one start (one lane for a config), ``steps``
    generator iterations each; per lane its title, config and final metrics, or its halt."""
    lanes = start_comparison(validate_config(config), preset)
    lanes.step(steps)
    return [lane_result(lane.trainer, lane.title or f"lane {lane.id}") for lane in lanes]


def lane_result(trainer: Trainer, title: str) -> dict[str, Any]:
    done = {"title": title, "config": trainer.config.model_dump(mode="json")}
    if trainer.halt is not None:
        return done | {"halt": trainer.halt.as_dict()}
    metrics = trainer.evaluate()
    if not metrics:
        what = f"samples not finite at iteration {trainer.iteration}"
        return done | {"halt": {"kind": "diverged", "quantity": "samples", "message": what}}
    return done | {"metrics": metrics}


# ----- the table ------------------------------------------------------------------------------
def summarise(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A row: mean and sd (over the seeds that did not halt) of every metric; its config is
    the first seed's."""
    good = [run["metrics"] for run in runs if "metrics" in run]
    metrics = {}
    for name in METRICS:
        values = [m[name] for m in good if name in m]
        if values and len(values) == len(good):
            sd = statistics.stdev(values) if len(values) > 1 else None
            metrics[name] = {"mean": statistics.fmean(values), "sd": sd}
    row = {
        "label": label,
        "config": runs[0]["config"],
        "seeds": len(runs),
        "metrics": metrics,
        "diverged": len(runs) - len(good),
        "halts": [{"seed": run["seed"], **run["halt"]} for run in runs if "halt" in run],
    }
    if good and "modes_total" in good[0]:
        row["modes_total"] = good[0]["modes_total"]
    return row


def cell(row: dict[str, Any], name: str) -> str:
    stat = row["metrics"].get(name)
    if stat is None:
        return "-"
    scale = 100 if name == "high_quality" else 1
    digits = 1 if name in ("modes_covered", "high_quality") else 3
    sd = "" if stat["sd"] is None else f" ± {scale * stat['sd']:.{digits}f}"
    return f"{scale * stat['mean']:.{digits}f}{sd}"


def markdown(rows: list[dict[str, Any]]) -> str:
    names = [n for n in METRICS if any(n in row["metrics"] for row in rows)]
    header = ["config", "seeds", "diverged", *(SHOWN.get(n, n.upper()) for n in names)]
    if "high_quality" in names:
        header[header.index("HQ")] = "high quality %"
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cells = [row["label"], str(row["seeds"]), str(row["diverged"])]
        cells += [cell(row, n) for n in names]
        if "modes_covered" in names and "modes_total" in row:
            cells[3 + names.index("modes_covered")] += f" of {row['modes_total']}"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as sink:
        out = csv.writer(sink)
        out.writerow(
            ["label", "seeds", "diverged", *(f"{n}_{s}" for n in METRICS for s in ("mean", "sd"))]
        )
        for row in rows:
            stats = [row["metrics"].get(n, {}).get(s) for n in METRICS for s in ("mean", "sd")]
            out.writerow([row["label"], row["seeds"], row["diverged"], *stats])


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, torch {torch.__version__}"
    )


# ----- the command ---------------------------------------------------------------------------
def compare(args: argparse.Namespace, configs: list[tuple[str, TrainConfig]]) -> list[dict]:
    """Every (config, seed) run in a pool of processes; the rows in grid order."""
    tasks = [
        (row, config.model_copy(update={"seed": config.seed + i}))
        for row, (_, config) in enumerate(configs)
        for i in range(args.seeds)
    ]
    runs: list[list[list[dict[str, Any]]]] = [[] for _ in configs]  # [row][seed][lane]
    started, bar = time.perf_counter(), None if args.quiet else sys.stderr
    context = get_context("spawn")  # a clean interpreter per worker
    workers = min(args.jobs, len(tasks))
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=start_worker, initargs=(args.plugin,)
    ) as pool:
        futures = {
            pool.submit(run_seed, seeded.model_dump(), args.preset, args.steps): (row, seeded)
            for row, seeded in tasks
        }
        for done, future in enumerate(as_completed(futures), 1):
            row, seeded = futures[future]
            runs[row].append([lane | {"seed": seeded.seed} for lane in future.result()])
            if bar is not None:
                progress(done, len(tasks), started, bar, unit="runs")
    if bar is not None:
        bar.write("\n")
    rows = []
    for (label, _), found in zip(configs, runs, strict=True):
        by_seed = sorted(found, key=lambda lanes: lanes[0]["seed"])
        for lane in range(len(by_seed[0])):
            seeds = [lanes[lane] for lanes in by_seed]
            rows.append(summarise(lane_label(label, seeds[0]["title"], len(by_seed[0])), seeds))
    return rows


def lane_label(label: str, title: str, lanes: int) -> str:
    """A row's label: the grid's, with the lane's title when the preset has lanes."""
    if lanes == 1:
        return label
    return title if label == "base" else f"{label} · {title}"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    configs = configured(args, "gandyn compare", lambda base: grid(base.model_dump(), args.vary))
    if configs is None:
        return 2
    rows = compare(args, configs)
    result = {
        "rows": rows,
        "command": shlex.join(["gandyn", "compare", *argv]),
        "machine": machine(),
        "steps": args.steps,
        "warmup": warmup_of(args.preset),
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    if args.csv:
        write_csv(args.csv, rows)
    print(markdown(rows))
    return 0


def warmup_of(preset: str | None) -> list:
    return [] if preset is None else [list(step) for step in preset_named(preset).warmup]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
