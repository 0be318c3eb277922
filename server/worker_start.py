"""How worker processes start: as forks of a template process that imported their code once.

A spawned worker imports torch, scipy and gan_core afresh: about 2 s of CPU on this 2-core
machine, for each worker, after the web process had done the same for itself. The template
is multiprocessing's forkserver with ``server.worker`` preloaded: ``gandyn serve`` starts it
first thing, so it imports while the web process imports its own modules (on another
core); each worker is then a fork of it, made in milliseconds, and so is a worker started
again after it died. The template is a process of its own, single-threaded, that has run
no torch operation: forking it is safe, where forking the web process (which has threads,
e.g. uvicorn's) would not be. Measured on this 2-core machine, 9 interleaved pairs
under other load (1-minute load average 3.9-11): CPU seconds of all the server's processes
from ``gandyn serve`` to the first frame of the first session 4.8 (4.0-5.4) forked against
6.4 (5.6-7.1) spawned; memory after one session, PSS of all its processes, 545 MiB against
635 (an RSS sum counts the shared pages in each fork: 1,046 against 929).

The web process imports no torch (nor scipy): 0.5 s of CPU for its imports against 2.4 s
with torch, 61 MiB of RSS against 282 (docs/reliability.md). So the template's imports
(about 2 s of CPU) are now the path to the first frame; ``run_worker`` is the workers'
entry point so that the web process need not import server.worker to name it.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from typing import Any

PRELOAD = ["server.worker"]  # what the template imports before it forks a worker


def worker_context() -> BaseContext:
    """The multiprocessing context workers are started with (the template's)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_template() -> None:
    """Start the template now; it imports PRELOAD in the background (the first worker's
    start waits for that)."""
    worker_context()
    forkserver.ensure_running()


def run_worker(*args: Any) -> None:
    """A worker's entry point, named here so that the web process can start one without
    importing server.worker (and torch); in the fork, the template has imported it."""
    from server.worker import serve_worker

    serve_worker(*args)
