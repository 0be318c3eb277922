"""`gandyn bench` / `python -m bench`: run every benchmark and rewrite bench/RESULTS.md.

Each module in MODULES has ``run(quick: bool) -> section``, a section being
``{"title", "header", "rows", "notes"}``; every figure is measured beside its baseline in
the same run. ``--only NAME`` runs some of them and replaces only their sections (each
section says when and by which command it was measured); ``--quick`` fewer repeats (a
smoke run); ``--no-write`` prints without touching RESULTS.md.
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

MODULES = [
    "bench_engine",
    "bench_lanes",
    "bench_server",
    "bench_concurrency",
    "bench_isolation",
    "bench_browser",
    "bench_unrolled",
    "bench_spectrum",
]
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


HEADER = (
    "# Benchmark results\n\n"
    "Written by `gandyn bench`; do not edit by hand, rerun it.\n\n"
    "- machine: {machine}\n\n"
    "Medians of several runs, spread as (min-max); every ratio is against a baseline\n"
    "measured in the same run on the same machine. Each section says when it was measured\n"
    "and by which command.\n"
)
MARK = "<!-- section: {} -->\n"


def sections_of(text: str) -> dict[str, str]:
    """The sections of a RESULTS.md by module name, each from its MARK to the next one."""
    found: dict[str, str] = {}
    for part in text.split(MARK.split("{}")[0])[1:]:
        name, _, rest = part.partition(MARK.split("{}")[1])
        found[name] = MARK.format(name) + rest.rstrip("\n") + "\n"
    return found


def results(fresh: dict[str, str], previous: str) -> str:
    """RESULTS.md with the fresh sections, and the previous text's others, in MODULES order."""
    sections = {**sections_of(previous), **fresh}
    body = "\n".join(sections[name] for name in MODULES if name in sections)
    return HEADER.format(machine=machine()) + "\n" + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gandyn bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=MODULES, help="run only these")
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run")
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args(argv)
    command = ("gandyn bench " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    fresh: dict[str, str] = {}
    for name in args.only or MODULES:
        started = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"bench.{name}")
        section: dict[str, Any] = module.run(quick=args.quick)
        print(f"bench: {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        fresh[name] = MARK.format(name) + markdown_section(section, f"{now}, `{command}`")
        print(fresh[name])
    if not args.no_write:
        previous = RESULTS.read_text() if RESULTS.exists() else ""
        RESULTS.write_text(results(fresh, previous))
        print(f"bench: wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
