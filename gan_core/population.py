"""A population: lanes of one architecture trained as one stack (issue 12).

Lanes whose networks are alike (the same layers of the same sizes, ``stack_key``) and that
update in lockstep (alternating scheme, the same d_steps, g_steps and batch size) are stepped
together by ``step_together``: each network evaluation that is the same for every lane (G on
its latent batch, D on its real and fake batch, D on G's batch in the G update) is one
batched product per layer over the lanes' stacked weights, ``stacked_forward``. Everything
that differs between lanes stays each lane's own and runs through its own Trainer's code:
the RNG draws (every lane keeps its generator), instance noise, the loss and label noise on
the lane's slice of the scores, every penalty (on the lane's own D), the optimizer step and
its settings, clipping, the averages, checkpoints. The lanes' losses are summed and
differentiated once: lanes share no parameter, so each lane's gradients are those of its
own loss. A lane that fails (a non-finite loss, gradient or parameter, or a plug-in that
raises) halts alone, as it would alone, and the others go on.

Each lane's parameters stay its own leaf tensors (the stack is rebuilt in every forward, a
copy of a few KB), so fork, save, restore, update and views are untouched. On this
machine's torch (CPU, MKL) a stacked lane is bit for bit the lane trained alone
(tests/core/test_population.py checks it); a BLAS whose batched product rounds differently
from its plain one would make a lane's last bits depend on its lane set (still replayed
exactly, as the same lane set replays the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from gan_core.models import Discriminator, Scale, SNLinear
from gan_core.trainer import Trainer

# Parameter-free layers that act on each number alone: applied once to the whole stack.
ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.ELU, Scale)


def stack_key(trainer: Trainer) -> tuple | None:
    """What must be equal for lanes to be stepped as one stack; None: this lane steps alone.

    Stacked: MLP networks made only of linear layers and parameter-free elementwise layers
    (activations, tanh, scaling), a D that scores each row on its own (an MLP D without
    packing, batch stddev or batch norm), an alternating update without unrolling or a joint
    penalty, a loss of D's scores (not its features). The key holds the layers, the batch
    size, d_steps, g_steps and whether G's loss takes a real batch."""
    cfg = trainer.config
    alone = (
        cfg.update_scheme != "alternating"
        or cfg.unroll_steps
        or trainer.joint
        or trainer.loss.g_on_features
        or type(trainer.D) is not Discriminator
        or trainer.D.batch_dependent
        or not isinstance(trainer.G, nn.Sequential)  # the Dirac G
        or not isinstance(trainer.D.body, nn.Sequential)  # the Dirac D
    )
    if alone:
        return None
    layers = [_layer_key(layer) for layer in (*trainer.G, None, *trainer.D.body)]
    if None in layers:
        return None
    return (cfg.batch_size, cfg.d_steps, cfg.g_steps, trainer.loss.uses_real_in_g, *layers)


def _layer_key(layer: nn.Module | None) -> Any:
    """What makes two layers at one place stackable; None for a layer that cannot be."""
    if layer is None:
        return "G | D"
    if isinstance(layer, SNLinear):
        return None if layer.bias is None else ("linear", layer.in_features, layer.out_features)
    if not isinstance(layer, ELEMENTWISE):
        return None
    settings = {k: v for k, v in vars(layer).items() if not k.startswith("_") and k != "training"}
    return (type(layer).__name__, tuple(sorted(settings.items())))


def stack_groups(trainers: Iterable[Trainer]) -> list[list[Trainer]]:
    """The trainers grouped by ``stack_key``, in order of first appearance; one that cannot
    be stacked is a group of its own."""
    groups: dict[Any, list[Trainer]] = {}
    for i, trainer in enumerate(trainers):
        key = stack_key(trainer)
        groups.setdefault(("alone", i) if key is None else key, []).append(trainer)
    return list(groups.values())


def stacked_forward(models: Sequence[nn.Sequential], x: Tensor) -> Tensor:
    """``models[i](x[i])`` for every i at once: x (L, n, in) -> (L, n, out). Each linear
    layer is one batched product over the lanes' stacked (effective) weights; the lanes'
    parameters stay leaves, so gradients flow back to each. The models share a
    ``stack_key``: their other layers are elementwise and alike, applied once."""
    for layers in zip(*models, strict=True):
        if isinstance(layers[0], SNLinear):
            weight = torch.stack([layer.effective_weight() for layer in layers])
            bias = torch.stack([layer.bias for layer in layers])
            x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
        else:
            x = layers[0](x)
    return x


def step_together(trainers: list[Trainer], n: int) -> None:
    """n generator iterations of every trainer as one stack (they share a ``stack_key``):
    the same as ``trainer.step(n)`` for each. A halted trainer does nothing; one that fails
    halts alone and the others go on."""
    live = [trainer for trainer in trainers if trainer.halt is None]
    for trainer in live:
        trainer.G.train()
    try:
        for _ in range(n):
            if not live:
                return
            cfg = live[0].config
            for _ in range(cfg.d_steps):
                live = _d_step(live)
            for _ in range(cfg.g_steps):
                live = _g_step(live)
            live = _each(live, lambda i, trainer: trainer._end_iteration())[0]
    finally:
        for trainer in trainers:
            trainer.G.eval()


Failure = tuple[Trainer, Exception]


def _each(
    trainers: list[Trainer], work: Callable[[int, Trainer], Any], halt: bool = True
) -> tuple[list[Trainer], list[Any], list[Failure]]:
    """``work(i, trainer)`` for each: (those that did not raise, their results, the failures).
    A trainer that raised halts at once (``Trainer._halt_on``, as in Trainer._steps) unless
    ``halt`` is False: then the caller halts it, after the backward its loss was left out of."""
    going, results, failed = [], [], []
    for i, trainer in enumerate(trainers):
        try:
            results.append(work(i, trainer))
            going.append(trainer)
        except Exception as error:  # this lane halts, the others go on
            failed.append((trainer, error))
    if halt:
        _halt(failed)
    return going, results, failed


def _halt(failed: list[Failure]) -> None:
    for trainer, error in failed:
        trainer._halt_on(error)


def _update(
    trainers: list[Trainer], losses: list[Tensor], failed: list[Failure], who: str
) -> list[Trainer]:
    """One backward of the sum of the lanes' losses (each lane's gradients are its own
    loss's: lanes share no parameter), the failed lanes halted after it, then each lane's
    own optimizer step (Trainer._apply) and, for D, its constraints."""
    optimizers = {trainer: getattr(trainer, f"opt_{who}") for trainer in trainers}
    for optimizer in optimizers.values():
        optimizer.zero_grad(set_to_none=True)
    if losses:
        torch.stack(losses).sum().backward()
    _halt(failed)

    def step(i: int, trainer: Trainer) -> None:
        trainer._apply(optimizers[trainer], getattr(trainer, f"{who}_params"), losses[i], who)
        if who == "d":
            trainer._constrain()

    return _each(trainers, step)[0]


def _d_step(trainers: list[Trainer]) -> list[Trainer]:
    """One D update of every lane: Trainer._d_step (no joint penalty), with G's and D's
    passes stacked."""
    n = trainers[0].config.batch_size
    real = [trainer._real() for trainer in trainers]
    with torch.no_grad():
        noise = torch.stack([trainer._noise(n) for trainer in trainers])
        fake = stacked_forward([trainer.G for trainer in trainers], noise)
    trainers, inputs, _ = _each(trainers, lambda i, t: (t._perturb(real[i]), t._perturb(fake[i])))
    if not trainers:
        return []
    batches = torch.stack([torch.cat(pair) for pair in inputs])
    scores = stacked_forward([trainer.D.body for trainer in trainers], batches).squeeze(-1)

    def loss(i: int, trainer: Trainer) -> Tensor:
        (real_in, fake_in), (real_scores, fake_scores) = inputs[i], scores[i].split(n)
        return trainer._d_total(trainer.D, real_in, fake_in, real_scores, fake_scores)

    return _update(*_each(trainers, loss, halt=False), "d")


def _g_step(trainers: list[Trainer]) -> list[Trainer]:
    """One G update of every lane: Trainer._g_step (no joint penalty, no unrolling), with
    G's and D's passes stacked."""
    n = trainers[0].config.batch_size
    noise = torch.stack([trainer._noise(n) for trainer in trainers])
    fake = stacked_forward([trainer.G for trainer in trainers], noise)
    trainers, inputs, _ = _each(trainers, lambda i, t: t._g_inputs(fake[i]))
    if not trainers:
        return []
    bodies = [trainer.D.body for trainer in trainers]
    for trainer in trainers:
        trainer.D.requires_grad_(False)
    try:
        fake_scores = stacked_forward(bodies, torch.stack([f for f, _ in inputs])).squeeze(-1)
        real_scores = fake_scores
        if trainers[0].loss.uses_real_in_g:
            real_in = torch.stack([r for _, r in inputs])
            real_scores = stacked_forward(bodies, real_in).squeeze(-1)
        losses = _each(
            trainers, lambda i, t: t._g_total(real_scores[i], fake_scores[i]), halt=False
        )
        return _update(*losses, "g")
    finally:
        for trainer in trainers:
            trainer.D.requires_grad_(True)
