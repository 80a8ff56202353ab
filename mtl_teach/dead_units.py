"""Dead ReLU units: find them, revive them between epochs, and warn when a task stalls.

Why: in the tutorial's 2-8-4 trunk, the first few dozen Adam steps can push
a unit's pre-activation below zero for *every* input. Its gradient is then
exactly zero and it never comes back; with 3 of 4 trunk units dead, heads
fall back to the majority class: the task has *stalled*. Over 100 seeds,
Kaiming init alone cut such stalls about 3x; reviving dead units after each
epoch removed them all.

One pass over the training set per epoch serves both jobs
(:class:`DeadUnitMonitor`, which the Trainer adds as a callback):

- **Revival** (``Trainer(revive_dead_units=True)``): every unit of a
  ``Linear -> ReLU`` pair (inside an ``nn.Sequential``) whose pre-activation
  is never above zero on the pass is re-drawn: its incoming weights
  He-normal and bias 0.01, retried until it is positive on at least one
  training input; its outgoing weights (the next ``Linear``, or the heads
  that read the module) are zeroed, so reviving changes nothing the model
  computes; the optimizer's running moments for those rows and columns are
  cleared.
- **The stall check** (``Trainer(detect_stalls=True)``): a task whose
  training accuracy is no better than always answering the majority class
  (within ``MAJORITY_MARGIN``), judged on the pass's predictions. On a task
  whose majority class holds ``RARE_CLASS_SHARE`` or more of the labels,
  answering it is also how a healthy head starts, so there only dead
  features count. Every head starts near the majority class, so checks
  start at epoch ``CHECK_FROM_EPOCH``, and a task must look stalled on two
  checks in a row (or at the last epoch). Over 30 seeds of the tutorial this
  flagged all 5 stalled runs and none of the 25 healthy ones.

A unit is *dead* on some inputs when its largest activation over them is
not above zero (:func:`dead_units`), for revival and stall check alike.

The course's appendix notebook ``notebooks/11_appendix_training_stalls.ipynb``
shows a stall, its cause and the kit's two fixes; every warning points there.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mtl_teach.callbacks import Callback, TrainerView
from mtl_teach.data import DictDataLoader
from mtl_teach.model import MultitaskClassifier, evaluating

MAX_ROWS = 4096  # inputs kept per layer to test a re-drawn unit
RETRIES = 20
REVIVED_BIAS = 0.01
MAJORITY_MARGIN = 0.02  # stalled: train accuracy <= majority-class rate + this
# On a task this imbalanced (e.g. a 2% slice indicator), answering the majority
# class is also how a healthy head starts, so only dead features make it a stall.
RARE_CLASS_SHARE = 0.9
CHECK_FROM_EPOCH = 5
# Where a student who meets a stall is sent: the course's appendix on dead units and their fixes.
GUIDE = " Why and what to do: notebooks/11_appendix_training_stalls.ipynb."

Predictions = dict[str, dict[str, np.ndarray]]  # model.predict(loader, return_preds=True)


def dead_units(activations: torch.Tensor) -> torch.Tensor:
    """Which units (columns) are dead: never above zero on any input (row).

    Parameters
    ----------
    activations
        Shape ``(n_inputs, n_units)``; pre-activations of ReLU units, or the
        ReLU outputs themselves (the same units are dead either way).

    Returns
    -------
    torch.Tensor
        Boolean, shape ``(n_units,)``.
    """
    return activations.amax(dim=0) <= 0


# ----------------------------------------------------------------- revival
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
    top: bool  # the ReLU ends the pool module: its readers are other ops
    peak: torch.Tensor | None = None  # (units,) max pre-activation seen
    inputs: torch.Tensor | None = None  # (<= MAX_ROWS, in_features)


def _relu_pairs(model: MultitaskClassifier) -> list[_Pair]:
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


def _watch(pair: _Pair):
    # A forward hook on the pair's Linear: keep each unit's largest
    # pre-activation, and up to MAX_ROWS of the inputs to test re-drawn units.
    def hook(linear: nn.Linear, args: tuple, output: torch.Tensor) -> None:
        if output.dim() != 2:
            return
        peak = output.amax(dim=0)  # (units,)
        pair.peak = peak if pair.peak is None else torch.maximum(pair.peak, peak)
        rows = args[0][:MAX_ROWS]
        if pair.inputs is None or len(pair.inputs) < MAX_ROWS:
            pair.inputs = rows if pair.inputs is None else torch.cat([pair.inputs, rows])[:MAX_ROWS]

    return hook


def _first_linear(module: nn.Module) -> nn.Linear | None:
    first = module[0] if isinstance(module, nn.Sequential) and len(module) else module
    return first if isinstance(first, nn.Linear) else None


def _clear_state(optimizer: torch.optim.Optimizer | None, param: torch.Tensor, index: tuple) -> None:
    if optimizer is None:
        return
    for value in optimizer.state.get(param, {}).values():
        if isinstance(value, torch.Tensor) and value.shape == param.shape:
            value[index] = 0


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


def _predict_watching(
    model: MultitaskClassifier, loaders: list[DictDataLoader], pairs: list[_Pair]
) -> list[Predictions]:
    # The one pass: predict every training example, with hooks recording the pairs' activations.
    handles = [pair.linear.register_forward_hook(_watch(pair)) for pair in pairs]
    try:
        return [model.predict(loader, return_preds=True) for loader in loaders]
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def _revive(
    model: MultitaskClassifier, pairs: list[_Pair], optimizer: torch.optim.Optimizer | None
) -> list[RevivedUnit]:
    revived = []
    for pair in pairs:
        if pair.peak is None:
            continue  # not reached by any train input
        outgoing: list[nn.Linear | None] = [pair.after]
        if pair.after is None:
            outgoing = (
                [_first_linear(model.module_pool[name]) for name in model.readers(pair.module)] if pair.top else []
            )
        for unit in dead_units(pair.peak[None]).nonzero().flatten().tolist():
            _redraw(pair, unit)
            _clear_state(optimizer, pair.linear.weight, (unit,))
            if pair.linear.bias is not None:
                _clear_state(optimizer, pair.linear.bias, (unit,))
            for layer in outgoing:
                if layer is not None and layer.in_features == pair.linear.out_features:
                    layer.weight[:, unit] = 0
                    _clear_state(optimizer, layer.weight, (slice(None), unit))
            revived.append(RevivedUnit(pair.module, pair.index, unit))
    return revived


def revive_dead_units(
    model: MultitaskClassifier,
    loaders: list[DictDataLoader],
    optimizer: torch.optim.Optimizer | None = None,
) -> list[RevivedUnit]:
    """Find ReLU units dead on all train inputs and re-draw them (see the module doc).

    Parameters
    ----------
    model
        The model; its ``Linear -> ReLU`` pairs inside ``nn.Sequential`` modules are checked.
    loaders
        Train loaders; every example of each is run once.
    optimizer
        Its running moments for the re-drawn weights are cleared.

    Returns
    -------
    list of RevivedUnit
        The units that were re-drawn (empty when none was dead).
    """
    return revive_and_predict(model, loaders, optimizer)[0]


def revive_and_predict(
    model: MultitaskClassifier,
    loaders: list[DictDataLoader],
    optimizer: torch.optim.Optimizer | None = None,
) -> tuple[list[RevivedUnit], list[Predictions]]:
    """:func:`revive_dead_units`, also returning the pass's predictions for the stall check.

    Returns
    -------
    revived, predictions
        The re-drawn units, and each loader's ``model.predict(loader,
        return_preds=True)`` from the pass, still valid afterwards: reviving
        changes no output.
    """
    pairs = _relu_pairs(model)
    predictions = _predict_watching(model, loaders, pairs)
    return _revive(model, pairs, optimizer), predictions


# ----------------------------------------------------------------- stalls
class StallWarning(UserWarning):
    """A task stopped learning during training (see :mod:`mtl_teach.dead_units`)."""


@dataclass(frozen=True)
class Stall:
    """Evidence that one task has stalled."""

    task: str
    dataset: str
    accuracy: float  # train accuracy
    majority_class: int
    majority_share: float  # fraction of labels in the majority class
    dead_units: int  # feature units that are zero on every example
    n_units: int  # feature units the head reads

    def message(self, epoch: int) -> str:
        gap = self.accuracy - self.majority_share  # the stall rule allows a small margin above the floor
        compared = "no better than" if gap < 0.0005 else f"only {100 * gap:.1f} points above"
        head = (
            f"Task {self.task!r} has stalled after epoch {epoch}: its training accuracy on {self.dataset!r} is "
            f"{self.accuracy:.1%}, {compared} always answering the majority class {self.majority_class} "
            f"({self.majority_share:.1%} of the labels)."
        )
        if self.n_units and 2 * self.dead_units >= self.n_units:
            why = (
                f" {self.dead_units} of the {self.n_units} units feeding its head output zero for every "
                f"{self.task} input (dead ReLUs), so the head can only learn the class balance. What to try: "
                "a different seed, a smaller lr (e.g. lr=0.005), a wider shared trunk, or keep the defaults "
                "MultitaskClassifier(init='kaiming') and Trainer(revive_dead_units=True), which keep ReLU units alive."
            )
        else:
            why = (
                " Its features are alive, so it has not yet separated the classes: try more epochs, "
                "a larger lr, or a wider shared trunk."
            )
        return head + why + GUIDE


def _dead_features(model: MultitaskClassifier, task: str, X_dict: dict[str, Any]) -> tuple[int, int]:
    # The features the task's head reads, shape (n, n_units): how many are dead, of how many.
    with evaluating(model), torch.inference_mode():
        features = model.features(X_dict, task)
    if not isinstance(features, torch.Tensor) or features.dim() != 2:
        return 0, 0
    return int(dead_units(features).sum()), int(features.shape[1])


def find_stalls(
    model: MultitaskClassifier, loaders: list[DictDataLoader], predictions: list[Predictions] | None = None
) -> list[Stall]:
    """Return one :class:`Stall` for each (task, loader) whose head is stuck.

    Parameters
    ----------
    model
        The model being trained.
    loaders
        Its train loaders.
    predictions
        Each loader's ``model.predict(loader, return_preds=True)``, if already
        made (as :func:`revive_and_predict` returns them); else predicted here.
    """
    if predictions is None:
        predictions = [model.predict(loader, return_preds=True) for loader in loaders]
    stalls = []
    for loader, results in zip(loaders, predictions, strict=True):
        for label, task in model.label_tasks(loader.dataset.Y_dict).items():
            golds, preds = results["golds"][label], results["preds"][label]
            keep = golds != -1
            golds, preds = golds[keep], preds[keep]
            if golds.size == 0:
                continue
            classes, counts = np.unique(golds, return_counts=True)
            majority, share = int(classes[counts.argmax()]), counts.max() / golds.size
            accuracy = float(np.mean(golds == preds))
            if share < 1 and accuracy <= share + MAJORITY_MARGIN:
                dead, units = _dead_features(model, task, loader.dataset.X_dict)
                if share >= RARE_CLASS_SHARE and not (units and 2 * dead >= units):
                    continue
                stalls.append(Stall(task, loader.dataset.name, accuracy, majority, float(share), dead, units))
    return stalls


# ---------------------------------------------------------------- callback
class DeadUnitMonitor(Callback):
    """The Trainer's per-epoch pass: revive dead units and warn once per stalled task.

    Parameters
    ----------
    train_loaders
        The loaders the model trains on.
    revive
        Re-draw dead units (``Trainer(revive_dead_units=...)``); their list
        goes to ``revived`` and their count to the metric
        ``model/all/train/revived_units``.
    detect_stalls
        Warn with a :class:`StallWarning` (``Trainer(detect_stalls=...)``).
    revived
        The list to append ``(epoch, unit)`` to (the Trainer passes its
        ``revived``); a new one if omitted.
    """

    def __init__(
        self,
        train_loaders: list[DictDataLoader],
        *,
        revive: bool,
        detect_stalls: bool,
        revived: list[tuple[int, RevivedUnit]] | None = None,
    ) -> None:
        self.train_loaders, self.revive, self.detect_stalls = train_loaders, revive, detect_stalls
        self.revived = [] if revived is None else revived
        self.streaks: dict[str, int] = {}
        self.warned: set[str] = set()

    def __repr__(self) -> str:
        return f"DeadUnitMonitor(revive={self.revive}, detect_stalls={self.detect_stalls}, revived={len(self.revived)}, warned={sorted(self.warned)})"

    def on_train_epoch_end(
        self, trainer: TrainerView, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]
    ) -> None:
        predictions = None
        if self.revive:
            units, predictions = revive_and_predict(model, self.train_loaders, trainer.optimizer_)
            self.revived.extend((epoch, unit) for unit in units)
            metrics["model/all/train/revived_units"] = float(len(units))
        if self.detect_stalls and epoch >= CHECK_FROM_EPOCH:
            self._check_stalls(model, epoch, trainer.n_epochs, predictions)

    def _check_stalls(
        self, model: MultitaskClassifier, epoch: int, n_epochs: int, predictions: list[Predictions] | None
    ) -> None:
        stalled = {stall.task: stall for stall in find_stalls(model, self.train_loaders, predictions)}
        for task, stall in stalled.items():
            self.streaks[task] = self.streaks.get(task, 0) + 1
            if task not in self.warned and (self.streaks[task] >= 2 or epoch == n_epochs):
                self.warned.add(task)
                # stacklevel 4: this method, on_train_epoch_end, Trainer.fit, then the line that called fit.
                warnings.warn(stall.message(epoch), StallWarning, stacklevel=4)
        for task in set(self.streaks) - set(stalled):
            self.streaks[task] = 0
