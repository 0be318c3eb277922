"""What Linux /proc says of the server under benchmark: its child processes (the worker
processes), and its memory."""

from __future__ import annotations

from pathlib import Path


def child_pids(pid: int) -> list[int]:
    """The processes that process ``pid`` started (any of its threads), and theirs: the
    worker template and the workers forked from it (server.worker_start)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
        for child in children:
            found += [child, *child_pids(child)]
    return found


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` and of the processes it started, in MiB."""
    return summed_mib(pid, "status", "VmRSS:")


def pss_mib(pid: int) -> float:
    """Proportional memory of process ``pid`` and the processes it started, in MiB: pages
    shared by several of them (the workers share the template's, server.worker_start) are
    counted once, split between them; an RSS sum would count them in each."""
    return summed_mib(pid, "smaps_rollup", "Pss:")


def summed_mib(pid: int, file: str, key: str) -> float:
    """The kB line ``key`` of /proc/<process>/<file>, summed over ``pid`` and the processes
    it started, in MiB."""
    total = 0.0
    for process in [pid, *child_pids(pid)]:
        try:
            text = Path(f"/proc/{process}/{file}").read_text()
        except OSError:  # it ended meanwhile
            continue
        for line in text.splitlines():
            if line.startswith(key):
                total += int(line.split()[1]) / 1024
    return total
