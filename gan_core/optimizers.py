"""Optimizers from an OptimizerConfig: sgd (with momentum), adam (betas), rmsprop."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from gan_core.config import OptimizerConfig


def make_optimizer(params: Iterable[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """A fresh optimizer of the configured kind (its state empty), updating all parameters
    in one multi-tensor (foreach) call rather than one call per tensor."""
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, foreach=True)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, foreach=True)
    return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), foreach=True)
