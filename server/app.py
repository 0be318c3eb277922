"""The FastAPI app: the page, Plotly, the REST routes and the session websocket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import plotly
from fastapi import FastAPI, HTTPException, WebSocket
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketDisconnect

from gan_core import LOSSES, REGULARIZERS, TrainConfig
from gan_core.config import RESET_ONLY
from server.outbox import NOT_READING, Close, Outbox
from server.presets import PRESETS, TryNext
from server.protocol import (
    PROTOCOL_VERSION,
    CommandRate,
    ErrorReply,
    PaceOptions,
    ProtocolError,
    ViewOptions,
    decode,
    parse_command,
)
from server.sessions import Refused, Session, SessionRegistry
from server.settings import Limits, Settings

log = logging.getLogger("gandyn.app")


def find_web_dir() -> Path:
    """The page: server/web in an installed wheel (package data, pyproject.toml), else the
    source tree's web/ beside server/."""
    here = Path(__file__).resolve().parent
    installed = here / "web"
    return installed if installed.is_dir() else here.parent / "web"


WEB_DIR = find_web_dir()
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def package_version() -> str:
    try:
        return version("gandyn")
    except PackageNotFoundError:
        return "unknown"


VERSION = package_version()
CLOSE_SECONDS = 2.0  # for a close frame to a client that does not read
# Messages dropped by the rate limit within one second beyond which a connection is closed
# (10 times the default rate): a flood costs the web process even unparsed.
FLOOD_DROPS = 500
FLOOD_CLOSE = 1008
FLOOD_REASON = f"more than {FLOOD_DROPS} messages a second over the rate limit; reconnect"


class WorkerHealth(BaseModel):
    index: int
    pid: int | None
    ready: bool
    sessions: int
    playing: int
    busy: float = Field(description="share of the last second spent in turns of its sessions")


class Health(BaseModel):
    status: str = Field(description='"starting" until every worker can serve, then "ok"')
    protocol: int
    version: str
    sessions: int
    detached: int
    workers: int
    worker_details: list[WorkerHealth]
    max_sessions: int
    max_sessions_per_client: int


class PresetSummary(BaseModel):
    name: str
    title: str
    note: str


class NotFound(BaseModel):
    detail: str


class PresetDetail(PresetSummary):
    config: dict[str, Any]
    view: dict[str, Any]
    overlay: bool = Field(description="draw the lanes in one plot (1D axis, Dirac-GAN plane)")
    try_next: list[dict[str, Any]] = Field(
        description='{label, patch, lane: "start" | "fork"} opens a lane (from the preset\'s '
        "start, or forked from the lane in view); {label, preset} loads that preset"
    )
    warmup: list[tuple[str, int]] = Field(
        description="(part, n) teaching steps the server applies right after loading it"
    )
    lane_title: str = Field(description="lane 1's title")
    lanes: list[dict[str, Any]] = Field(
        description="the lanes beside lane 1: {title, patch, after_warmup} (protocol §11)"
    )
    charts: list[str] = Field(
        description="the metric charts its note talks about, by title (web/metrics.js CHARTS)"
    )


def normal_origin(origin: str) -> str | None:
    """``scheme://host:port`` in lower case with the port always written; None if it is
    not an http(s) origin."""
    try:
        parts = urlsplit(origin.strip().rstrip("/"))
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme.lower() not in ("http", "https") or not host or parts.path or port is None:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{host}:{port}"


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def own_origins(host: str, port: int) -> set[str]:
    """The origins of the page this server serves: the addresses it listens on (every
    loopback name for a loopback address; this machine's names and addresses for a wildcard),
    at its port. A DNS name the operator gives the machine goes in --allow-origin."""
    hosts = {host}
    if host in LOOPBACK:
        hosts.update(LOOPBACK)
    elif host in ("0.0.0.0", "::", ""):
        hosts.update(LOOPBACK)
        name = socket.gethostname()
        hosts.update({name, socket.getfqdn()})
        with contextlib.suppress(OSError):
            hosts.update(info[4][0] for info in socket.getaddrinfo(name, None))
    origins = set()
    for name in hosts:
        for scheme in ("http", "https"):
            shown = f"[{name}]" if ":" in name else name
            normal = normal_origin(f"{scheme}://{shown}:{port}")
            if normal:
                origins.add(normal)
    return origins


def origin_allowed(origin: str | None, allowed: set[str]) -> bool:
    """A listed origin (the server's own and --allow-origin), compared case-insensitively
    with default ports filled in, or no Origin at all (not a browser, which Origin checks
    cannot protect against anyway). The Host header is not trusted: a page of another site
    whose name was made to resolve here (DNS rebinding) sends its own Host."""
    if origin is None:
        return True
    return normal_origin(origin) in allowed


def schema(settings: Settings) -> dict[str, Any]:
    """Everything a client builds its controls from (GET /api/schema)."""
    return {
        "protocol": PROTOCOL_VERSION,
        "config": TrainConfig.model_json_schema(),
        "reset_only": list(RESET_ONLY),
        "losses": [
            {
                "name": loss.name,
                "description": loss.description,
                "formula": loss.formula,
                "shows_probability": loss.shows_probability,
                "undecided": loss.undecided,
            }
            for loss in LOSSES
        ],
        "regularizers": [
            {
                "name": reg.name,
                "description": reg.description,
                "formula": reg.formula,
                "weight_name": reg.weight_name,
                "default_weight": reg.default_weight,
                "weight_range": list(reg.weight_range),
                "params": reg.params.model_json_schema(),
            }
            for reg in REGULARIZERS
        ],
        "view": ViewOptions.model_json_schema(),
        "pace": PaceOptions.model_json_schema(),
        "limits": settings.limits.as_json(),
    }


def preset_detail(name: str) -> PresetDetail:
    """GET /api/presets/{name} (server.presets.Preset, TryNext, LaneSpec)::

        {"name", "title", "note", "config": <partial TrainConfig, lane 1>, "view": {...},
         "overlay": bool, "warmup": [[part, n], ...], "lane_title": "minimax",
         "lanes": [{"title": "non-saturating", "patch": {...}, "after_warmup": false}],
         "charts": ["W₁", "‖∇ₓD‖"],
         "try_next": [{"label", "patch": {...}, "lane": "start" | "fork"}
                      | {"label", "preset": "name"}]}

    ``lanes`` are the lanes beside lane 1 (0 to 3): each the config with its patch, from
    iteration 0 with the warm-up, or (after_warmup) forked from lane 1 after it. A try-next
    with ``lane`` opens a new lane titled by its label: "start" from the preset's start
    (the config with the patch, with the warm-up), "fork" from the lane in view with the
    patch live; one with ``preset`` loads that preset. None changes a lane in place."""
    preset = PRESETS[name]
    return PresetDetail(
        name=name,
        title=preset.title,
        note=preset.note,
        config=preset.config,
        view=preset.view,
        overlay=preset.overlay,
        try_next=[try_next_json(item) for item in preset.try_next],
        warmup=preset.warmup,
        lane_title=preset.lane_title,
        lanes=[vars(lane) for lane in preset.lanes],
        charts=list(preset.charts),
    )


def try_next_json(item: TryNext) -> dict[str, Any]:
    return {key: value for key, value in vars(item).items() if value is not None}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The gandyn app; ``gandyn serve`` runs it with uvicorn. Its lifespan starts the worker
    processes (server.workers) and ends them."""
    settings = settings or Settings()
    registry = SessionRegistry(settings)
    allowed = own_origins(settings.host, settings.port)
    allowed.update(filter(None, map(normal_origin, settings.allowed_origins)))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await registry.start()
        try:
            yield
        finally:
            await registry.close()

    app = FastAPI(
        title="gandyn",
        version=VERSION,
        description="A browser lab for GAN training dynamics. The websocket /ws protocol "
        "is described in docs/protocol.md.",
        lifespan=lifespan,
    )

    @app.get("/api/health", response_model=Health, tags=["api"])
    async def health() -> Health:
        """Liveness, protocol version, sessions and workers ("starting" until all are up)."""
        return Health(protocol=PROTOCOL_VERSION, version=VERSION, **registry.stats())

    @app.get("/api/schema", tags=["api"])
    def get_schema() -> dict[str, Any]:
        """TrainConfig's JSON Schema, the registered losses and regularizers, view and pace
        options, and the server's limits."""
        return schema(settings)

    @app.get("/api/presets", response_model=list[PresetSummary], tags=["api"])
    def list_presets() -> list[PresetSummary]:
        """The named starting points, in gallery order."""
        return [PresetSummary(name=n, title=p.title, note=p.note) for n, p in PRESETS.items()]

    @app.get(
        "/api/presets/{name}",
        response_model=PresetDetail,
        responses={404: {"model": NotFound, "description": "no such preset; lists the names"}},
        tags=["api"],
    )
    def get_preset(name: str) -> PresetDetail:
        """One preset: its config, view options and what to try next."""
        if name not in PRESETS:
            raise HTTPException(404, f"no preset {name!r}; the presets are: {', '.join(PRESETS)}")
        return preset_detail(name)

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    @app.websocket("/ws")
    async def session_socket(
        websocket: WebSocket, session: str | None = None, preset: str | None = None
    ) -> None:
        """One training session per connection (docs/protocol.md)."""
        origin = websocket.headers.get("origin")
        if not origin_allowed(origin, allowed):
            log.warning("refused a websocket from origin %s", origin)
            await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
            return
        await websocket.accept()
        outbox = Outbox(settings.max_unread_bytes)
        client = websocket.client.host if websocket.client else "unknown"
        try:
            opened = registry.open(session, preset, client, outbox)
        except Refused as refusal:
            await refuse_busy(websocket, str(refusal))
            return
        await serve_connection(websocket, opened, outbox, registry)

    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    else:
        log.warning("no page at %s: only the API is served", WEB_DIR)
    return app


async def refuse_busy(websocket: WebSocket, message: str) -> None:
    """The one message a connection gets when there is no room for it, then close 1013."""
    await websocket.send_text(ErrorReply(code="busy", message=message).to_json())
    await websocket.close(code=1013, reason="server busy")


async def serve_connection(
    websocket: WebSocket, session: Session, outbox: Outbox, registry: SessionRegistry
) -> None:
    """Pump the outbox to the socket and commands from it until either side stops, or the
    client stops reading (the outbox overflows)."""
    tasks = [
        asyncio.create_task(send_outbox(websocket, outbox)),
        asyncio.create_task(receive_commands(websocket, session, registry)),
        asyncio.create_task(outbox.not_reading.wait()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        registry.release(session, outbox)
    if outbox.not_reading.is_set():  # the close frame waits behind what the client left
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(NOT_READING, outbox.reason), CLOSE_SECONDS)


async def send_outbox(websocket: WebSocket, outbox: Outbox) -> None:
    """Write what the session produces, in order, until a Close."""
    while True:
        item = await outbox.get()
        if isinstance(item, Close):
            await websocket.close(code=item.code, reason=item.reason)
            return
        if isinstance(item, bytes):
            await websocket.send_bytes(item)
        else:
            await websocket.send_text(item)


class RateGate:
    """The rate limit, applied before a message is read: what comes beyond it is dropped
    unparsed, and ``tell`` gets one ``rate_limited`` error a second at most that says how
    many were (the last one a second after the flood ends). A connection that has more than
    FLOOD_DROPS dropped within one second is ``flooding``: even unparsed, its messages cost
    the web process more than a careless client's would, and it is closed."""

    def __init__(self, limits: Limits, tell: Callable[[ProtocolError], None]) -> None:
        self.limits = limits
        self.tell = tell
        self.bucket = CommandRate(limits.commands_per_second, limits.command_burst)
        self.dropped = 0
        self._told_at = -1.0
        self._report: asyncio.TimerHandle | None = None
        self._second, self._second_drops = 0, 0
        self.flooding = False

    def admit(self) -> bool:
        if self.bucket.allow():
            return True
        self.dropped += 1
        second = int(time.monotonic())
        if second != self._second:
            self._second, self._second_drops = second, 0
        self._second_drops += 1
        self.flooding = self._second_drops > FLOOD_DROPS
        if self._report is None:
            delay = max(0.0, self._told_at + 1.0 - time.monotonic())
            self._report = asyncio.get_running_loop().call_later(delay, self._tell)
        return False

    def _tell(self) -> None:
        self._report, self._told_at = None, time.monotonic()
        dropped, self.dropped = self.dropped, 0
        self.tell(
            ProtocolError(
                "rate_limited",
                f"more than {self.limits.commands_per_second:g} commands a second: {dropped} "
                "were dropped unread (no reply will come for them); send fewer",
            )
        )

    def close(self) -> None:
        if self._report is not None:
            self._report.cancel()


async def receive_commands(
    websocket: WebSocket, session: Session, registry: SessionRegistry
) -> None:
    """Rate-limit, size-check and parse each message, and hand it to the session's worker."""
    limits = registry.settings.limits
    gate = RateGate(limits, lambda error: registry.reject(session, error))
    try:
        await receive_loop(websocket, session, registry, gate)
    finally:
        gate.close()


async def receive_loop(
    websocket: WebSocket, session: Session, registry: SessionRegistry, gate: RateGate
) -> None:
    limits = registry.settings.limits
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if not gate.admit():
                if gate.flooding:
                    await websocket.close(FLOOD_CLOSE, FLOOD_REASON)
                    return
                continue
            text = message.get("text")
            try:
                if text is None:
                    raise ProtocolError(
                        "binary_not_accepted", "commands are JSON text messages, not binary"
                    )
                if len(text.encode()) > limits.max_message_bytes:
                    raise ProtocolError(
                        "too_large",
                        f"a command may be at most {limits.max_message_bytes} bytes",
                    )
                registry.command(session, parse_command(decode(text), limits))
            except ProtocolError as error:
                registry.reject(session, error)
