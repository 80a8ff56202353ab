"""Learning-rate schedules (stepped once per batch) and batch schedulers.

A batch scheduler decides the order in which the batches of several train
loaders are visited within one epoch; each loader's batches are visited
exactly once per epoch.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

import torch

from mtl_teach.data import Batch, DictDataLoader

OPTIMIZERS = ("sgd", "adam", "adamax")
LR_SCHEDULERS = ("constant", "linear", "exponential", "step")
BATCH_SCHEDULERS = ("shuffled", "sequential")


def make_optimizer(name: str, params: list[torch.nn.Parameter], lr: float, l2: float) -> torch.optim.Optimizer:
    """Build an optimizer; ``l2`` is weight decay, SGD uses momentum 0.9."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=l2, momentum=0.9)
    if name == "adamax":
        return torch.optim.Adamax(params, lr=lr, weight_decay=l2)
    return torch.optim.Adam(params, lr=lr, weight_decay=l2)


def lr_factor(
    name: str,
    *,
    total_steps: int,
    warmup_steps: int,
    lr: float,
    min_lr: float,
    exp_gamma: float,
    step_size: int,
    step_gamma: float,
) -> Callable[[int], float]:
    """Return ``f(step) -> lr multiplier`` for :class:`torch.optim.lr_scheduler.LambdaLR`.

    Warmup ramps the rate linearly up to ``lr`` over ``warmup_steps``
    batches; afterwards the named schedule applies, floored at ``min_lr``.
    """
    floor = min_lr / lr if lr > 0 else 0.0
    decay_steps = max(1, total_steps - warmup_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        done = step - warmup_steps
        if name == "linear":
            value = 1.0 - done / decay_steps
        elif name == "exponential":
            value = exp_gamma**done
        elif name == "step":
            value = step_gamma ** (done // step_size)
        else:
            value = 1.0
        return max(value, floor)

    return factor


def iterate_batches(
    name: str, loaders: Sequence[DictDataLoader], rng: random.Random
) -> Iterator[tuple[Batch, DictDataLoader]]:
    """Yield ``(batch, loader)`` for one epoch over all train loaders.

    ``"shuffled"`` visits the loaders' batches in a random order drawn from
    ``rng`` (so a seeded trainer repeats it); ``"sequential"`` visits all of
    the first loader, then the second, and so on.
    """
    iterators = [iter(loader) for loader in loaders]
    order = [i for i, loader in enumerate(loaders) for _ in range(len(loader))]
    if name == "shuffled":
        rng.shuffle(order)
    for i in order:
        yield next(iterators[i]), loaders[i]
