"""Optimizers from an OptimizerConfig: sgd (with momentum), adam (betas), rmsprop, and the
two optimistic methods of Daskalakis et al. (2018), "Training GANs with Optimism"."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from gan_core.config import OptimizerConfig


class OptimisticSGD(torch.optim.Optimizer):
    """Optimistic gradient descent (Daskalakis et al. 2018, eq. 4; "optimistic mirror descent"
    with the Euclidean mirror map): each step extrapolates with the last gradient,

        theta_{t+1} = theta_t - lr * (2 g_t - g_{t-1}),   g_{-1} = 0

    as in the official code's OFRL optimizer, version 1 (vsyrgkanis/optimistic_GAN_training,
    script/optimizer.py: p + lr * (m - new_m - g), m = g_{t-1}, new_m = g_t, m starting at 0).
    On the bilinear game min_x max_y xy it converges for small lr where plain GD spirals out.
    """

    def __init__(self, params: Iterable[nn.Parameter], lr: float) -> None:
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                previous = state.get("previous_grad", torch.zeros_like(p))
                p.add_(2 * p.grad - previous, alpha=-group["lr"])
                state["previous_grad"] = p.grad.clone()


class OptimisticAdam(torch.optim.Optimizer):
    """Optimistic Adam (Daskalakis et al. 2018, Algorithm 1): Adam's moments, and each step
    twice the current Adam direction minus the previous one,

        m_t = b1 m_{t-1} + (1 - b1) g_t,   v_t = b2 v_{t-1} + (1 - b2) g_t^2
        u_t = m^_t / (sqrt(v^_t) + eps),   m^_t = m_t / (1 - b1^t),  v^_t = v_t / (1 - b2^t)
        theta_t = theta_{t-1} - lr * (2 u_t - u_{t-1}),   u_0 = 0

    The paper's Algorithm 1 has no bias correction; here m^ and v^ are Adam's bias-corrected
    moments (the official code, script/optimizer.py optimAdam, corrects with the factor of
    step t; written as Keras updates, its "old" moments lag one step more, m_{t-2})."""

    def __init__(
        self,
        params: Iterable[nn.Parameter],
        lr: float,
        betas: tuple[float, float],
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    state["previous_direction"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                state["exp_avg"].mul_(b1).add_(p.grad, alpha=1 - b1)
                state["exp_avg_sq"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                m_hat = state["exp_avg"] / (1 - b1**t)
                v_hat = state["exp_avg_sq"] / (1 - b2**t)
                direction = m_hat / (v_hat.sqrt() + group["eps"])
                p.add_(2 * direction - state["previous_direction"], alpha=-group["lr"])
                state["previous_direction"] = direction


def make_optimizer(params: Iterable[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """A fresh optimizer of the configured kind (its state empty); the torch ones update all
    parameters in one multi-tensor (foreach) call rather than one call per tensor."""
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, foreach=True)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, foreach=True)
    if cfg.name == "optimistic":
        return OptimisticSGD(params, lr=cfg.lr)
    if cfg.name == "optimistic_adam":
        return OptimisticAdam(params, lr=cfg.lr, betas=tuple(cfg.betas))
    return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), foreach=True)
