"""gan_core: the training engine of gandyn. Pure PyTorch + pydantic; knows nothing of HTTP.

The public names are listed in docs/engine-contract.md.
"""

from gan_core.config import ConfigError, TrainConfig, validate_config
from gan_core.lanes import MAX_LANES, LaneError, Lanes
from gan_core.losses import LOSSES, register_loss
from gan_core.probes import ViewOptions
from gan_core.registry import load_plugin
from gan_core.regularizers import REGULARIZERS, register_regularizer
from gan_core.trainer import Halt, Trainer, replay

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
