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
    total = 0.0
    for process in [pid, *child_pids(pid)]:
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:  # it ended meanwhile
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def pss_mib(pid: int) -> float:
    """Proportional memory of process ``pid`` and the processes it started, in MiB: pages
    shared by several of them (the workers share the template's, server.worker_start) are
    counted once, split between them; an RSS sum would count them in each."""
    total = 0.0
    for process in [pid, *child_pids(pid)]:
        try:
            rollup = Path(f"/proc/{process}/smaps_rollup").read_text()
        except OSError:  # it ended meanwhile
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) / 1024
    return total
