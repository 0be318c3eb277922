"""The pipe between the web process and a worker process: pickled messages, each behind a
4-byte big-endian length, the framing of multiprocessing's Connection.

The worker uses the Connection it was given (``send``/``receive`` below, blocking); the web
process reads and writes the same socket with asyncio (``AsyncChannel``), so that no thread
and no blocking call stands between the event loop and a worker. Messages are tuples whose
first item names them (server.worker lists them).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import struct
from multiprocessing.connection import Connection
from typing import Any

HEADER = struct.Struct("!i")


def send(connection: Connection, message: tuple[Any, ...]) -> None:
    connection.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def receive(connection: Connection) -> tuple[Any, ...]:
    return pickle.loads(connection.recv_bytes())


class AsyncChannel:
    """The web process's end of a worker's pipe."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, connection: Connection) -> AsyncChannel:
        """Take over ``connection`` (a socket pair end; it is closed here)."""
        sock = socket.socket(fileno=os.dup(connection.fileno()))
        connection.close()
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=2**20)
        return cls(reader, writer)

    async def receive(self) -> tuple[Any, ...]:
        """The next message; IncompleteReadError when the worker is gone."""
        (length,) = HEADER.unpack(await self._reader.readexactly(HEADER.size))
        return pickle.loads(await self._reader.readexactly(length))

    def send(self, message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._writer.write(HEADER.pack(len(data)) + data)

    def close(self) -> None:
        self._writer.close()
