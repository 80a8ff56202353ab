"""Revive dead ReLU units between epochs, so a shared trunk cannot silently die.

Why: in the tutorial's 2-8-4 trunk, the first few dozen Adam steps can push
a unit's pre-activation below zero for *every* input. Its gradient is then
exactly zero and it never comes back; with 3 of 4 trunk units dead, heads
fall back to the majority class (a "stalled" task). Over 100 seeds, Kaiming
init alone cut such stalls about 3x; reviving dead units after each epoch
removed them all.

What it does, after an epoch: run the train inputs through the model once
(no gradients) and find every unit of a ``Linear -> ReLU`` pair (inside an
``nn.Sequential``) that is zero on all of them. For each such unit:

- re-draw its incoming weights (He-normal) and bias (0.01), retrying until
  it is positive on at least one training input;
- zero its outgoing weights (the next ``Linear``, or the heads that read the
  module), so reviving changes nothing the model currently computes;
- clear the optimizer's running moments for the touched rows and columns.

Switch it off with ``Trainer(revive_dead_units=False)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from mtl_teach.evaluation import eval_batches, record

if TYPE_CHECKING:
    from mtl_teach.data import DictDataLoader
    from mtl_teach.model import MultitaskClassifier

MAX_ROWS = 4096  # inputs kept per layer to test a re-drawn unit
RETRIES = 20
REVIVED_BIAS = 0.01


@dataclass(frozen=True)
class RevivedUnit:
    """One unit brought back: ``module_pool[module][layer]`` row ``unit``."""

    module: str
    layer: int
    unit: int


@dataclass
class _Pair:
    module: str
    index: int  # position of the Linear inside its Sequential
    linear: nn.Linear
    after: nn.Linear | None  # next Linear in the same Sequential, if any
    top: bool  # the ReLU ends the pool module: its consumers are other ops
    peak: torch.Tensor | None = None  # (units,) max activation seen
    inputs: torch.Tensor | None = None  # (<= MAX_ROWS, in_features)


def _pairs(model: MultitaskClassifier) -> list[_Pair]:
    found = []
    for name, module in model.module_pool.items():
        for seq in module.modules():
            if not isinstance(seq, nn.Sequential):
                continue
            layers = list(seq)
            for i in range(len(layers) - 1):
                if isinstance(layers[i], nn.Linear) and isinstance(layers[i + 1], nn.ReLU):
                    after = next((m for m in layers[i + 2 :] if isinstance(m, nn.Linear)), None)
                    top = seq is module and after is None
                    found.append(_Pair(name, i, layers[i], after, top))
    return found


def _consumers(model: MultitaskClassifier, module_name: str) -> list[nn.Linear]:
    # Linear modules of ops that read this module's output (e.g. the heads).
    layers: dict[int, nn.Linear] = {}
    for plan in model._plans.values():
        uids = {node.uid for node in plan if node.module_name == module_name}
        for node in plan:
            if any(uid in uids for _, uid, _ in node.sources):
                module = model.module_pool[node.module_name]
                first = module[0] if isinstance(module, nn.Sequential) and len(module) else module
                if isinstance(first, nn.Linear):
                    layers[id(first)] = first
    return list(layers.values())


def _record(pair: _Pair):
    def hook(linear: nn.Linear, args: tuple, output: torch.Tensor) -> None:
        if output.dim() != 2:
            return
        peak = output.amax(dim=0)  # (units,): pre-activation max; ReLU keeps > 0
        pair.peak = peak if pair.peak is None else torch.maximum(pair.peak, peak)
        rows = args[0][:MAX_ROWS]
        if pair.inputs is None or len(pair.inputs) < MAX_ROWS:
            pair.inputs = rows if pair.inputs is None else torch.cat([pair.inputs, rows])[:MAX_ROWS]

    return hook


def _clear_state(optimizer: torch.optim.Optimizer | None, param: torch.Tensor, index: tuple) -> None:
    if optimizer is None:
        return
    for value in optimizer.state.get(param, {}).values():
        if isinstance(value, torch.Tensor) and value.shape == param.shape:
            value[index] = 0


@torch.no_grad()
def revive_dead_units(
    model: MultitaskClassifier,
    loaders: list[DictDataLoader],
    optimizer: torch.optim.Optimizer | None = None,
    outputs: dict[int, tuple[dict[str, list], dict[str, list]]] | None = None,
) -> list[RevivedUnit]:
    """Find ReLU units dead on all train inputs and re-draw them (see module doc).

    Parameters
    ----------
    model
        The model; its ``Linear -> ReLU`` pairs inside ``nn.Sequential`` modules are checked.
    loaders
        Train loaders; every example of each is run once.
    optimizer
        Its running moments for the re-drawn weights are cleared.
    outputs
        If given, filled with ``id(loader)`` -> ``(golds, probs)`` of this
        pass, as :func:`mtl_teach.evaluation.record` gathers them; reviving
        leaves them valid, so the stall check reuses them.

    Returns
    -------
    list of RevivedUnit
        The units that were re-drawn (empty when none was dead).
    """
    pairs = _pairs(model)
    if not pairs:
        return []
    handles = [pair.linear.register_forward_hook(_record(pair)) for pair in pairs]
    was_training = model.training
    model.eval()
    try:
        for loader in loaders:
            label_tasks = model.label_tasks(loader.dataset.Y_dict)
            task_names = list(dict.fromkeys(label_tasks.values()))
            seen = outputs.setdefault(id(loader), ({}, {})) if outputs is not None else None
            for X_dict, Y_dict in eval_batches(loader):
                logits = model.forward(X_dict, task_names)
                if seen is not None:
                    record(model, label_tasks, logits, Y_dict, *seen)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    revived = []
    for pair in pairs:
        if pair.peak is None:
            continue  # not reached by any train input
        dead = (pair.peak <= 0).nonzero().flatten().tolist()
        outgoing = [pair.after] if pair.after is not None else (_consumers(model, pair.module) if pair.top else [])
        for unit in dead:
            _redraw(pair, unit)
            _clear_state(optimizer, pair.linear.weight, (unit,))
            if pair.linear.bias is not None:
                _clear_state(optimizer, pair.linear.bias, (unit,))
            for layer in outgoing:
                if layer.in_features == pair.linear.out_features:
                    layer.weight[:, unit] = 0
                    _clear_state(optimizer, layer.weight, (slice(None), unit))
            revived.append(RevivedUnit(pair.module, pair.index, unit))
    return revived


def _redraw(pair: _Pair, unit: int) -> None:
    weight, bias = pair.linear.weight, pair.linear.bias
    std = math.sqrt(2.0 / weight.shape[1])  # He-normal for a ReLU unit
    for _ in range(RETRIES):
        weight[unit] = torch.randn_like(weight[unit]) * std
        if bias is not None:
            bias[unit] = REVIVED_BIAS
        if pair.inputs is None:
            return
        pre = pair.inputs @ weight[unit] + (bias[unit] if bias is not None else 0.0)  # (rows,)
        if bool((pre > 0).any()):
            return
