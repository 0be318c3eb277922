"""The sessions of a server, as the web process keeps them: who may open one, which worker
holds it, which connection owns it, its grace period, and its last checkpoint.

Used from the event loop only. A session is attached while a connection owns it and
detached between a drop and its resume or expiry. Admission (docs/protocol.md §1):
- at most ``max_sessions`` sessions, and ``max_sessions_per_client`` of them per client
  address (behind a proxy, the address it forwards: uvicorn's proxy headers);
- a full server ends a detached session to make room only for that session's own client
  (same address); a stranger gets ``busy``, and detached sessions otherwise end by age
  (``grace_seconds`` after their drop).
The checkpoint (server.worker, at most every few seconds while a run changes) is what a
session is rebuilt from when its worker dies: one per session, its models' size.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any

from server.outbox import Outbox
from server.protocol import Command, End, ProtocolError
from server.settings import Settings
from server.workers import Worker, WorkerPool


@dataclass(eq=False)
class Session:
    id: str
    client: str
    worker: Worker
    preset: str | None
    owner: Outbox | None = None
    epoch: int = 0  # counts the connections that owned it; the worker tags what it sends
    expiry: asyncio.TimerHandle | None = None
    ending: bool = False  # an ``end`` was sent: it goes with its connection
    saved: bytes | None = None
    meta: dict[str, Any] | None = None


class Refused(Exception):
    """No session for this connection: ``busy`` with a message that says why."""


class SessionRegistry:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sessions: dict[str, Session] = {}
        self.pool = WorkerPool(settings, settings.workers, self._dispatch, self._rebuild)

    # ----- connections --------------------------------------------------------------------
    def open(
        self, session_id: str | None, preset: str | None, client: str, outbox: Outbox
    ) -> Session:
        """Resume ``session_id`` or start a new session; Refused when there is no room. A
        new session for an id this server does not hold says why in its hello (``lost``)."""
        session = self.sessions.get(session_id or "")
        resumed = session is not None and not session.ending
        lost = None
        if session is None or session.ending:
            lost = self.lost(session_id) if session_id else None
            session = self._new(preset, client)
        else:
            self._cancel_expiry(session)
            if session.owner is not None:
                session.owner.close(4001, "session taken over by another connection")
        session.owner = outbox
        session.epoch += 1
        session.worker.send(("attach", session.id, resumed, session.epoch, lost))
        return session

    def lost(self, session_id: str) -> dict[str, Any]:
        """Why ``session_id`` is not here (hello.lost, docs/protocol.md §6): an id another
        replica made (its name before the dot is not this server's --replica) is of a
        replica that is gone, since the proxy sends a resume to the replica named in it and
        passes it on only when that one does not answer; an id of this server's own kind
        ended (``end``, its grace period) or this server started again since."""
        replica = session_id.split(".", 1)[0] if "." in session_id else ""
        if replica != self.settings.replica:
            held_by = f"replica {replica}" if replica else "a server without a replica name"
            return {
                "reason": "replica_gone",
                "replica": replica or None,
                "message": f"the server that held this run ({held_by}) is gone or does not "
                "answer; this is a new session on another server. A client that kept the "
                "run's replay (export) rebuilds it here with reset {replay}",
            }
        return {
            "reason": "expired",
            "replica": replica or None,
            "message": "this server no longer holds that session: it ended, or it was "
            f"detached longer than its grace period ({self.settings.grace_seconds:g} s), or "
            "the server started again since; this is a new session",
        }

    def _new(self, preset: str | None, client: str) -> Session:
        settings = self.settings
        own = [s for s in self.sessions.values() if s.client == client]
        if len(own) >= settings.max_sessions_per_client and not self._end_own_detached(own):
            raise Refused(
                f"this address already has {len(own)} sessions, as many as one client may "
                "have; end one (close its tab) or wait a minute. Behind one router or proxy, "
                "ask the operator to raise gandyn serve --max-sessions-per-client"
            )
        if len(self.sessions) >= settings.max_sessions and not self._end_own_detached(own):
            raise Refused(
                f"server busy: all {settings.max_sessions} training sessions are in use; "
                "try again in a minute"
            )
        worker = self.pool.place()
        session = Session(self.new_id(), client, worker, preset)
        self.sessions[session.id] = session
        worker.sessions.add(session.id)
        worker.send(("open", session.id, preset))
        return session

    def new_id(self) -> str:
        """A random id; ``REPLICA.token`` for a named replica (gandyn serve --replica), so
        that a proxy sends a resume to the replica that holds it (docs/deploy.md). The
        token's alphabet (URL-safe base64) has no dot."""
        token = secrets.token_urlsafe(16)
        return f"{self.settings.replica}.{token}" if self.settings.replica else token

    def _end_own_detached(self, own: list[Session]) -> bool:
        """Make room by ending this client's session detached longest ago; False if none."""
        detached = [s for s in own if s.owner is None and s.expiry is not None]
        if not detached:
            return False
        self.end(min(detached, key=lambda s: s.expiry.when()))  # type: ignore[union-attr]
        return True

    def command(self, session: Session, command: Command) -> None:
        """Pass a parsed command to the session's worker; ProtocolError if it cannot be
        (a patch nested deeper than pickle goes)."""
        try:
            session.worker.send(("command", session.id, command))
        except RecursionError:
            raise ProtocolError(
                "invalid",
                "the message is nested too deeply to be carried out; flatten it",
                None,
                command.type,
                command.id,
            ) from None
        if isinstance(command, End):
            session.ending = True

    def reject(self, session: Session, error: ProtocolError) -> None:
        """Answer a message refused here, through the worker: in order with the rest."""
        session.worker.send(("reject", session.id, error))

    def release(self, session: Session, outbox: Outbox) -> None:
        """The connection that owned ``session`` through ``outbox`` is gone."""
        if session.owner is not outbox:
            return  # taken over by a newer connection
        session.owner = None
        if session.ending or session.id not in self.sessions:
            self.end(session)
            return
        session.worker.send(("detach", session.id))
        session.expiry = asyncio.get_running_loop().call_later(
            self.settings.grace_seconds, self._expire, session
        )

    def end(self, session: Session) -> None:
        """Forget a session; its worker drops it."""
        self._cancel_expiry(session)
        if self.sessions.pop(session.id, None) is not None:
            session.worker.sessions.discard(session.id)
            session.worker.send(("end", session.id))

    def _expire(self, session: Session) -> None:
        session.expiry = None
        if session.owner is None:
            self.end(session)

    def _cancel_expiry(self, session: Session) -> None:
        if session.expiry is not None:
            session.expiry.cancel()
            session.expiry = None

    # ----- workers ------------------------------------------------------------------------
    def _dispatch(self, worker: Worker, message: tuple[Any, ...]) -> None:
        kind, sid, *rest = message
        session = self.sessions.get(sid)
        if session is None or session.worker is not worker:
            return
        if kind in ("out", "close"):
            epoch, *rest = rest
            if session.owner is None or epoch not in (None, session.epoch):
                return  # for a connection that is gone
            if kind == "out":
                session.owner.put(*rest)  # a frame comes with its lane
            else:
                session.owner.close(*rest)
        elif kind == "ended":
            session.ending = True
            if session.owner is None:
                self.end(session)
        elif kind == "checkpoint":
            session.saved, session.meta = rest

    def _rebuild(self, old: Worker, new: Worker, why: str) -> None:
        """A worker died: its sessions go to its successor, from their checkpoints (or from
        their preset, when they had none yet)."""
        for session in [s for s in self.sessions.values() if s.worker is old]:
            session.worker = new
            new.sessions.add(session.id)
            epoch = session.epoch if session.owner is not None else None
            if session.saved is None or session.meta is None:
                new.send(("open", session.id, session.preset, why))
                if epoch is not None:
                    new.send(("attach", session.id, True, epoch))
            else:
                new.send(("restore", session.id, session.saved, session.meta, why, epoch))

    # ----- reports ------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        workers = [worker.stats() for worker in self.pool.workers]
        return {
            "status": "ok" if self.pool.ready else "starting",
            "sessions": len(self.sessions),
            "detached": sum(1 for s in self.sessions.values() if s.owner is None),
            "workers": sum(1 for w in self.pool.workers if w.process.is_alive()),
            "worker_details": workers,
            "max_sessions": self.settings.max_sessions,
            "max_sessions_per_client": self.settings.max_sessions_per_client,
        }

    async def start(self) -> None:
        await self.pool.start()

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            if session.owner is not None:
                session.owner.close(1012, "the server is shutting down")
        await self.pool.close()
