"""Server settings and the limits a client must stay within (docs/protocol.md §8)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gan_core.limits import MAX_LANES


def default_workers() -> int:
    """One worker process per core: each trains its sessions in turns (server.worker)."""
    return os.cpu_count() or 1


def default_max_sessions() -> int:
    """8 sessions per core (16 on 2 cores). bench_concurrency measured 16 sessions, all
    playing, on 2 cores at about 12 frames per second each (bench/RESULTS.md); in a class most
    sessions are paused or reading a note. Raise it with --max-sessions for a lecture hall
    (every session still streams; each trains more slowly)."""
    return 8 * (os.cpu_count() or 1)


def default_max_sessions_per_client(max_sessions: int) -> int:
    """Half of the sessions per client address (at least 2): one careless or hostile client
    cannot take them all. A class behind one NAT router or proxy address shares this cap:
    raise it (--max-sessions-per-client) to the size of the class."""
    return max(2, max_sessions // 2)


@dataclass(frozen=True)
class Limits:
    """Server-side limits; they may be stricter than TrainConfig's own ranges."""

    max_message_bytes: int = 65536
    commands_per_second: float = 50.0
    command_burst: int = 100
    max_step: int = 1000
    grid: tuple[int, int] = (8, 128)
    samples: tuple[int, int] = (16, 2048)
    field: tuple[int, int] = (0, 32)
    manifold: tuple[int, int] = (0, 32)
    line: tuple[int, int] = (32, 1000)
    dirac_grid: tuple[int, int] = (5, 41)
    trails: tuple[int, int] = (0, 32)
    fps: tuple[int, int] = (1, 60)
    steps_per_frame: tuple[int, int] = (0, 1000)
    slow_motion: tuple[float, float] = (0.0, 10.0)
    slow_motion_min: float = 0.05  # seconds, when not 0: at most 20 frames a second
    max_batch_size: int = 1024
    max_width: int = 512
    max_depth: int = 4
    # Multiply-adds of one iteration (server.protocol.iteration_work). About 30 ms on one
    # core of the machine of bench/RESULTS.md: a worker's turn is never held longer by one
    # iteration. The default presets need at most a few M; gan_toy's 3 x 512 critic with 5
    # steps and the penalty needs 6 G and is refused (run it headless).
    max_iteration_work: float = 1e9
    max_lanes: int = MAX_LANES  # lanes of a session (gan_core.lanes: 4 panels at 1920x1080)
    # What a reset with a replay may train (iterations and part steps over its lanes), in the
    # session's turns: about 80 s of one core for the default model (250 it/s), at most 10
    # minutes for a config at max_iteration_work (30 ms an iteration).
    max_replay_iterations: int = 20_000

    def as_json(self) -> dict[str, Any]:
        """The ``limits`` object of ``hello`` and ``/api/schema``."""
        view = ("grid", "samples", "field", "manifold", "line", "dirac_grid", "trails")
        return {
            "max_message_bytes": self.max_message_bytes,
            "commands_per_second": self.commands_per_second,
            "command_burst": self.command_burst,
            "max_step": self.max_step,
            "view": {name: list(getattr(self, name)) for name in view},
            "pace": {
                "fps": list(self.fps),
                "steps_per_frame": list(self.steps_per_frame),
                "slow_motion": list(self.slow_motion),
            },
            "max_batch_size": self.max_batch_size,
            "max_width": self.max_width,
            "max_depth": self.max_depth,
            "max_iteration_work": self.max_iteration_work,
            "slow_motion_min": self.slow_motion_min,
            "max_lanes": self.max_lanes,
            "max_replay_iterations": self.max_replay_iterations,
        }


@dataclass(frozen=True)
class Settings:
    """Everything ``create_app`` needs; ``gandyn serve`` builds one from its options."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = field(default_factory=default_workers)
    max_sessions: int = field(default_factory=default_max_sessions)
    max_sessions_per_client: int = 0  # 0: default_max_sessions_per_client(max_sessions)
    allowed_origins: tuple[str, ...] = ()
    grace_seconds: float = 60.0
    evaluate_samples: int = 2500
    max_unread_bytes: int = 8 * 2**20  # replies a client may leave unread (server.outbox)
    replica: str = ""  # behind a proxy, named in every session id (SessionRegistry.new_id)
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if not self.max_sessions_per_client:
            cap = default_max_sessions_per_client(self.max_sessions)
            object.__setattr__(self, "max_sessions_per_client", cap)
