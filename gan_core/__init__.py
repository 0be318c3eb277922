"""gan_core: the training engine of gandyn. Pure PyTorch + pydantic; knows nothing of HTTP.

The public names are listed in docs/engine-contract.md. Importing gan_core imports no torch:
the config, the declared losses and regularizers, ViewOptions and load_plugin are all the
web process needs. The training names (Trainer, Lanes, ...) import their modules, and torch,
on first use (``from gan_core import Trainer``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gan_core.config import ConfigError, TrainConfig, validate_config
from gan_core.limits import MAX_LANES
from gan_core.loss_specs import LOSSES, register_loss
from gan_core.registry import load_plugin
from gan_core.regularizer_specs import REGULARIZERS, register_regularizer
from gan_core.view_options import ViewOptions

if TYPE_CHECKING:
    from gan_core.lanes import LaneError, Lanes
    from gan_core.trainer import Halt, Trainer, replay

# The names that need torch, and the module that defines each (imported on first use).
TRAINING = {
    "Halt": "gan_core.trainer",
    "LaneError": "gan_core.lanes",
    "Lanes": "gan_core.lanes",
    "Trainer": "gan_core.trainer",
    "replay": "gan_core.trainer",
}


def __getattr__(name: str) -> Any:
    if name not in TRAINING:
        raise AttributeError(f"module 'gan_core' has no attribute {name!r}")
    return getattr(importlib.import_module(TRAINING[name]), name)


__all__ = [
    "LOSSES",
    "MAX_LANES",
    "REGULARIZERS",
    "ConfigError",
    "Halt",
    "LaneError",
    "Lanes",
    "TrainConfig",
    "Trainer",
    "ViewOptions",
    "load_plugin",
    "register_loss",
    "register_regularizer",
    "replay",
    "validate_config",
]
