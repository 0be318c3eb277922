"""Server settings and the limits a client must stay within (docs/protocol.md §8)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


def default_max_sessions() -> int:
    """4 sessions per core (8 on 2 cores). A playing session would use a whole core, but in a
    class most sessions are paused or reading a note; bench_concurrency measured 4 playing
    sessions on 2 busy cores at about 18 frames per second each. Raise it with --max-sessions
    for a lecture hall (every session still streams; each trains more slowly)."""
    return 4 * (os.cpu_count() or 1)


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
    max_batch_size: int = 1024
    max_width: int = 512
    max_depth: int = 4

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
        }


@dataclass(frozen=True)
class Settings:
    """Everything ``create_app`` needs; ``gandyn serve`` builds one from its options."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_sessions: int = field(default_factory=default_max_sessions)
    allowed_origins: tuple[str, ...] = ()
    grace_seconds: float = 60.0
    evaluate_samples: int = 2500
    limits: Limits = field(default_factory=Limits)
