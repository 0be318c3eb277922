"""Unrolled GAN (Metz et al. 2016): the generator's loss is taken against the discriminator
after k further D steps, and its gradient flows through those steps.

    theta_D^0 = theta_D,   theta_D^{i+1} = theta_D^i + step_i(dL_D(theta_D^i, theta_G)/dtheta_D)
    L_G^unrolled(theta_G) = L_G(theta_G, theta_D^k(theta_G))

d L_G^unrolled / d theta_G includes the term through theta_D^k(theta_G) (the paper's eq. 12,
not the first-order variant that treats theta_D^k as a constant): the k steps are taken
functionally (torch.func.functional_call) with create_graph=True. Checked against the
paper's code (poolio/unrolled_gan, "Unrolled GAN demo.ipynb"): there the unrolled steps are
the D optimizer's own update ops (Keras Adam, moments included) replayed k times by
graph_replace on the same real and fake batch, and G minimises the loss at the last one;
the real D update is an ordinary step. Here likewise: the steps start from D's optimizer
state (SGD momentum buffer, Adam moments and step count, optimistic's last gradient) and
reuse one real and one fake batch; D and its optimizer are left untouched. Unlike the
trained D, the unrolled steps apply no constraint (weight clipping) and D runs in eval mode
(spectral norm keeps its power-iteration vector). Adam's sqrt(v) is sqrt(v + 1e-16) so that
its derivative stays finite where a gradient is exactly 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

Critic = Callable[[Tensor], Tensor]
Params = dict[str, Tensor]


def functional_step(
    params: Params, grads: dict[str, Tensor], opt: torch.optim.Optimizer, state: dict
) -> Params:
    """One differentiable step of D's optimizer (its first param group's settings), carrying
    its per-parameter state in ``state`` (keys: parameter names)."""
    group = opt.param_groups[0]
    lr = group["lr"]
    new: Params = {}
    for name, p in params.items():
        g, s = grads[name], state[name]
        if isinstance(opt, torch.optim.Adam):
            b1, b2 = group["betas"]
            s["step"] += 1
            s["m"] = b1 * s["m"] + (1 - b1) * g
            s["v"] = b2 * s["v"] + (1 - b2) * g * g
            m_hat = s["m"] / (1 - b1 ** s["step"])
            v_hat = s["v"] / (1 - b2 ** s["step"])
            new[name] = p - lr * m_hat / ((v_hat + 1e-16).sqrt() + group["eps"])
        elif isinstance(opt, torch.optim.SGD):
            s["buf"] = g if s["buf"] is None else group["momentum"] * s["buf"] + g
            new[name] = p - lr * s["buf"]
        else:  # OptimisticSGD
            new[name] = p - lr * (2 * g - s["last"])
            s["last"] = g
    return new


def optimizer_state(opt: torch.optim.Optimizer, named: list[tuple[str, nn.Parameter]]) -> dict:
    """A copy of D's optimizer state per parameter name, in the form ``functional_step`` uses."""
    out = {}
    for name, p in named:
        s = opt.state.get(p, {})
        if isinstance(opt, torch.optim.Adam):
            zero = torch.zeros_like(p)
            out[name] = {
                "step": int(s["step"]) if "step" in s else 0,
                "m": s.get("exp_avg", zero).detach(),
                "v": s.get("exp_avg_sq", zero).detach(),
            }
        elif isinstance(opt, torch.optim.SGD):
            buf = s.get("momentum_buffer")
            out[name] = {"buf": None if buf is None else buf.detach()}
        else:
            out[name] = {"last": s.get("previous_grad", torch.zeros_like(p)).detach()}
    return out


def unrolled_critic(
    d: nn.Module,
    opt: torch.optim.Optimizer,
    d_objective: Callable[[Critic], Tensor],
    k: int,
) -> Critic:
    """D after k differentiable optimizer steps on ``d_objective(critic)`` (which closes over
    one real and one fake batch; the fake one keeps its graph to G)."""
    named = list(d.named_parameters())
    params: Params = {name: p.detach().requires_grad_(True) for name, p in named}
    state = optimizer_state(opt, named)

    def critic_of(values: Params) -> Critic:
        return lambda x: functional_call(d, values, (x,))

    for _ in range(k):
        loss = d_objective(critic_of(params))
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        params = functional_step(params, dict(zip(params, grads, strict=True)), opt, state)
    return critic_of(params)
