"""uvicorn's HTTP/1.1 protocol with a deadline for a request's headers.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but waits without limit
for the first request of a connection: a client that opens sockets and sends half a request
holds them all, until the process runs out of file descriptors and even /api/health stops
answering. Here a connection whose first request (headers included) has not arrived within
HEADER_SECONDS is closed. A websocket upgrade hands the connection to the websocket protocol,
which this timer then leaves alone.
"""

from __future__ import annotations

import asyncio
import resource

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 10.0
# uvicorn answers 503 beyond this many connections (and running requests); each websocket
# session holds one. Below the descriptor limit set by raise_file_limit, so that /api/health
# and the page keep answering.
MAX_CONNECTIONS = 2000


class GuardedH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline = self.loop.call_later(HEADER_SECONDS, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_deadline.cancel()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        transport = self.transport
        if self.cycle is None and transport.get_protocol() is self and not transport.is_closing():
            transport.close()


def raise_file_limit(wanted: int = 4 * MAX_CONNECTIONS) -> int:
    """Raise this process's soft limit of open files towards ``wanted`` (within the hard
    limit); returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft
