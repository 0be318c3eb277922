"""The ``gandyn`` command: ``serve`` the lab, ``run`` and ``compare`` headless, ``bench``."""

from __future__ import annotations

import argparse
import re
import socket
import sys
from pathlib import Path

from server.settings import Settings, default_max_sessions, default_workers

USAGE = """usage: gandyn {serve,run,compare,bench} [options]

  serve   start the lab (a web server); open the printed URL in a browser
  run     train without a browser (gandyn run --help)
  compare train a grid of configs over seeds: a table of mean and sd (gandyn compare --help)
  bench   measure the engine and the server (development only: needs a source checkout)
"""

WS_MAX_BYTES = 1 << 20  # the websocket layer closes a connection over this (code 1009)
# The kernel's send buffer per connection. Left to autotune it grows to megabytes, where a
# slow client's stale frames would queue; capped, frames wait in the session's outbox, where
# a newer frame replaces an unsent one (docs/protocol.md §4). About 10 default frames.
SEND_BUFFER_BYTES = 64 * 1024
REPLICA_NAME = re.compile(r"[a-z0-9-]{1,32}")


def replica_name(name: str) -> str:
    """A --replica name: what the proxy's map matches before the dot of a session id."""
    if not REPLICA_NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"{name!r} is not a replica name: 1 to 32 lower-case letters, digits or '-'"
        )
    return name


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gandyn serve", description="Start the gandyn lab.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="PATH",
        help="a Python file registering losses or regularizers (repeatable)",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=None,
        help=f"concurrent training sessions (default: 4 per CPU core; "
        f"here {default_max_sessions()})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"worker processes that train the sessions (default: one per CPU core; "
        f"here {default_workers()})",
    )
    parser.add_argument(
        "--max-sessions-per-client",
        type=int,
        default=None,
        metavar="N",
        help="sessions one client address may hold (default: half of --max-sessions, at "
        "least 2); a class behind one NAT router or proxy shares an address: raise it",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="URL",
        help="another origin whose pages may open sessions, e.g. http://lab.example:8080 "
        "(repeatable; the server's own origin is always allowed)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long a dropped connection may come back to its session (default 60)",
    )
    parser.add_argument(
        "--max-unread-mib",
        type=float,
        default=8.0,
        metavar="MIB",
        help="replies a client may leave unread before it is dropped (default 8)",
    )
    parser.add_argument(
        "--replica",
        type=replica_name,
        default=None,
        metavar="NAME",
        help="this server's name among replicas behind one proxy: session ids become "
        "NAME.TOKEN, so the proxy can send a resume to its replica (docs/deploy.md)",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn's log level")
    return parser


def serve(argv: list[str]) -> int:
    """Load the plug-ins, bind the port, print the URL, serve until interrupted."""
    args = serve_parser().parse_args(argv)
    for name in ("max_sessions", "workers", "max_sessions_per_client"):
        value = getattr(args, name)
        if value is not None and not 1 <= value <= 4096:
            flag = "--" + name.replace("_", "-")
            print(f"gandyn serve: {flag} must be from 1 to 4096, got {value}", file=sys.stderr)
            return 2
    if not 0.01 <= args.max_unread_mib <= 1024:
        print("gandyn serve: --max-unread-mib must be from 0.01 to 1024", file=sys.stderr)
        return 2
    from server.worker_start import start_template

    start_template()  # the workers' imports, while this process does its own
    import uvicorn

    from gan_core import load_plugin
    from server.app import create_app
    from server.http import MAX_CONNECTIONS, GuardedH11Protocol, raise_file_limit

    for path in args.plugin:
        try:
            load_plugin(path)
        except (OSError, ImportError) as error:
            print(f"gandyn serve: cannot load plug-in {path}: {error}", file=sys.stderr)
            return 2
    try:
        sock = socket.create_server((args.host, args.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)  # inherited
    except OSError as error:
        print(f"gandyn serve: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    settings = Settings(
        host=args.host,
        port=port,
        workers=args.workers or default_workers(),
        max_sessions=args.max_sessions or default_max_sessions(),
        max_sessions_per_client=args.max_sessions_per_client or 0,
        allowed_origins=tuple(args.allow_origin),
        grace_seconds=args.grace,
        max_unread_bytes=int(args.max_unread_mib * 2**20),
        replica=args.replica or "",
    )
    raise_file_limit()
    config = uvicorn.Config(
        create_app(settings),
        log_level=args.log_level,
        ws_max_size=WS_MAX_BYTES,
        ws_per_message_deflate=False,
        http=GuardedH11Protocol,
        timeout_keep_alive=5,  # seconds an idle keep-alive connection stays open
        limit_concurrency=MAX_CONNECTIONS,
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers
        timeout_graceful_shutdown=3,
    )
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(
        f"gandyn: the lab is at http://{shown}:{port}/ "
        f"(up to {settings.max_sessions} sessions on {settings.workers} workers; Ctrl-C stops)",
        flush=True,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def run(argv: list[str]) -> int:
    from server.headless import main as headless_main

    return headless_main(argv)


def compare(argv: list[str]) -> int:
    from server.compare import main as compare_main

    return compare_main(argv)


def bench(argv: list[str]) -> int:
    """bench/ lives in the source tree, next to server/."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        from bench.__main__ import main as bench_main
    except ModuleNotFoundError as error:
        if error.name not in ("bench", "bench.__main__"):
            raise
        print(
            "gandyn bench: needs the source tree (bench/ next to server/): it is a development "
            "command and the installed package does not carry the benchmarks; run `make "
            "bench` in a source checkout of gandyn",
            file=sys.stderr,
        )
        return 2
    return bench_main(argv)


COMMANDS = {"serve": serve, "run": run, "compare": compare, "bench": bench}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if not argv or argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
