"""ViewOptions: how much of a run's state a frame carries (torch-free: the web process
validates them; gan_core.probes builds the frame)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ViewOptions(BaseModel):
    """How much of the state a frame carries (see docs/engine-contract.md)."""

    model_config = ConfigDict(extra="forbid")
    grid: int = Field(64, ge=8, le=256, description="2D: D on grid x grid points")
    samples: int = Field(256, ge=16, le=4096, description="real and fake samples sent")
    field: int = Field(0, ge=0, le=64, description="2D: generator push on field x field (0 off)")
    manifold: int = Field(0, ge=0, le=64, description="2D: z-grid warped by G (0 off)")
    line: int = Field(200, ge=32, le=2000, description="1D: points on the x line")
    dirac_grid: int = Field(21, ge=5, le=64, description="Dirac: (theta, psi) field resolution")
