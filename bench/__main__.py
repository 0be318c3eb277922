"""`gandyn bench` / `python -m bench`: run every benchmark and rewrite bench/RESULTS.md.

Each module in MODULES has ``run(quick: bool) -> section``, a section being
``{"title", "header", "rows", "notes"}``; every figure is measured beside its baseline in
the same run. ``--only NAME`` runs some of them; ``--quick`` fewer repeats (a smoke run);
``--no-write`` prints without touching RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from bench.report import markdown_section

MODULES = ["bench_engine", "bench_server", "bench_concurrency", "bench_browser"]
RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, torch {torch.__version__}"
    )


def header(command: str) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "# Benchmark results\n\n"
        "Written by `gandyn bench`; do not edit by hand, rerun it.\n\n"
        f"- machine: {machine()}\n- date: {now}\n- command: `{command}`\n\n"
        "Medians of several runs, spread as (min-max); every ratio is against a baseline\n"
        "measured in the same run on the same machine.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gandyn bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=MODULES, help="run only these")
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run")
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args(argv)
    command = "gandyn bench " + " ".join(argv if argv is not None else sys.argv[1:])
    sections: list[str] = []
    for name in args.only or MODULES:
        started = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"bench.{name}")
        section: dict[str, Any] = module.run(quick=args.quick)
        print(f"bench: {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        sections.append(markdown_section(section))
        print(sections[-1])
    if not args.no_write:
        RESULTS.write_text(header(command.strip()) + "\n" + "\n".join(sections))
        print(f"bench: wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
