"""The FastAPI app: the page, Plotly, the REST routes and the session websocket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
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
from server.outbox import Close, Outbox
from server.presets import PRESETS, TryNext
from server.protocol import (
    PROTOCOL_VERSION,
    CommandRate,
    ErrorReply,
    PaceOptions,
    ProtocolError,
    ViewOptions,
    addressed,
    decode,
    parse_command,
)
from server.session import FRAME_PROCESSES, Session, SessionRegistry
from server.settings import Settings

log = logging.getLogger("gandyn.app")

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def package_version() -> str:
    try:
        return version("gandyn")
    except PackageNotFoundError:
        return "unknown"


VERSION = package_version()


class Health(BaseModel):
    status: str
    protocol: int
    version: str
    sessions: int
    detached: int
    workers: int
    builders: int
    frame_processes: int
    max_sessions: int


class PresetSummary(BaseModel):
    name: str
    title: str
    note: str


class NotFound(BaseModel):
    detail: str


class PresetDetail(PresetSummary):
    config: dict[str, Any]
    view: dict[str, Any]
    try_next: list[dict[str, Any]]
    warmup: list[tuple[str, int]] = Field(
        description="(part, n) teaching steps the server applies right after loading it"
    )


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """Same origin (the Origin's host:port is the request's Host), a listed origin, or no
    Origin at all (not a browser, which Origin checks cannot protect against anyway)."""
    if origin is None:
        return True
    if origin.rstrip("/").lower() in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and host is not None and parts.netloc == host.lower()


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
    preset = PRESETS[name]
    return PresetDetail(
        name=name,
        title=preset.title,
        note=preset.note,
        config=preset.config,
        view=preset.view,
        try_next=[try_next_json(item) for item in preset.try_next],
        warmup=preset.warmup,
    )


def try_next_json(item: TryNext) -> dict[str, Any]:
    return {key: value for key, value in vars(item).items() if value is not None}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The gandyn app; ``gandyn serve`` runs it with uvicorn."""
    settings = settings or Settings()
    registry = SessionRegistry(settings)
    allowed = tuple(origin.rstrip("/").lower() for origin in settings.allowed_origins)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        FRAME_PROCESSES.start()  # now, so that the first session does not wait for them
        yield
        registry.end_all()
        FRAME_PROCESSES.close()

    app = FastAPI(
        title="gandyn",
        version=VERSION,
        description="A browser lab for GAN training dynamics. The websocket /ws protocol "
        "is described in docs/protocol.md.",
        lifespan=lifespan,
    )

    @app.get("/api/health", response_model=Health, tags=["api"])
    async def health() -> Health:
        """Liveness, protocol version and session counts."""
        return Health(status="ok", protocol=PROTOCOL_VERSION, version=VERSION, **registry.stats())

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
        headers = websocket.headers
        if not origin_allowed(headers.get("origin"), headers.get("host"), allowed):
            log.warning("refused a websocket from origin %s", headers.get("origin"))
            await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
            return
        await websocket.accept()
        outbox = Outbox(asyncio.get_running_loop())
        opened = registry.open(session, preset, outbox)
        if opened is None:
            await refuse_busy(websocket, settings.max_sessions)
            return
        await serve_connection(websocket, opened, outbox, registry)

    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    else:
        log.warning("no web/ directory next to the server package: only the API is served")
    return app


async def refuse_busy(websocket: WebSocket, max_sessions: int) -> None:
    """The one message a connection gets when the server is full, then close 1013."""
    busy = ErrorReply(
        code="busy",
        message=f"server busy: all {max_sessions} training sessions are in use; "
        "try again in a minute",
    )
    await websocket.send_text(busy.to_json())
    await websocket.close(code=1013, reason="server busy")


async def serve_connection(
    websocket: WebSocket, session: Session, outbox: Outbox, registry: SessionRegistry
) -> None:
    """Pump the outbox to the socket and commands from it until either side stops."""
    tasks = [
        asyncio.create_task(send_outbox(websocket, outbox)),
        asyncio.create_task(receive_commands(websocket, session, registry.settings)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        registry.release(session, outbox)


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


async def receive_commands(websocket: WebSocket, session: Session, settings: Settings) -> None:
    """Check each message against the limits, parse it, hand it to the session's worker."""
    limits = settings.limits
    rate = CommandRate(limits.commands_per_second, limits.command_burst)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
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
                data = decode(text)
                if not rate.allow():
                    raise addressed(
                        ProtocolError(
                            "rate_limited",
                            f"more than {limits.commands_per_second:g} commands a second; "
                            "this one was ignored, send fewer",
                        ),
                        data,
                    )
                session.submit(parse_command(data, limits))
            except ProtocolError as error:
                session.reject(error)
    except WebSocketDisconnect:
        return
