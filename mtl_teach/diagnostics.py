"""Spot a stalled task: a head stuck on one class, fed by dead ReLU units.

A task has *stalled* when its head predicts (almost) one class for every
training example although the labels are not that one-sided. The usual
cause on the toy tasks is that the trunk units feeding the head output zero
for all of the task's inputs ("dead ReLUs"), so the head has nothing to
work with and learns only its bias, i.e. the majority class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from mtl_teach.graph import run_tasks

if TYPE_CHECKING:
    from mtl_teach.data import DictDataLoader
    from mtl_teach.model import MultitaskClassifier

ONE_CLASS_SHARE = 0.99  # the head gives one class to >= 99% of examples ...
MAJORITY_MARGIN = 0.02  # ... while that class is rarer than 97% of labels


class StallWarning(UserWarning):
    """A task stopped learning during training (see :mod:`mtl_teach.diagnostics`)."""


@dataclass(frozen=True)
class Stall:
    """Evidence that one task has stalled."""

    task: str
    dataset: str
    predicted_class: int
    predicted_share: float  # fraction of examples given predicted_class
    label_share: float  # fraction of labels equal to predicted_class
    dead_units: int  # feature units that are zero on every example
    n_units: int  # feature units the head reads

    def message(self, epoch: int) -> str:
        dead = ""
        if self.n_units:
            dead = f" {self.dead_units} of the {self.n_units} units feeding its head are zero for every {self.task} input (dead ReLUs)."
        return (
            f"Task {self.task!r} has stalled after epoch {epoch}: its head predicts class {self.predicted_class} "
            f"for {self.predicted_share:.0%} of the {self.dataset!r} training examples, although only "
            f"{self.label_share:.0%} of the labels are {self.predicted_class}, so it is stuck at the majority class."
            f"{dead} What to try: a different seed, a smaller lr (e.g. lr=0.005), a wider shared trunk, or keep "
            "MultitaskClassifier(init='kaiming') (the default), which starts ReLU units alive."
        )


def _feature_units(model: MultitaskClassifier, task: str, X_dict: dict) -> tuple[int, int]:
    # Run the task's flow without its last op (the head) to get the features
    # it reads, shape (n, n_units); count units that are zero everywhere.
    plan = model._plans[task][:-1]
    if not plan:
        return 0, 0
    features = run_tasks(model.module_pool, {task: plan}, X_dict, [task])[task]
    if not isinstance(features, torch.Tensor) or features.dim() != 2:
        return 0, 0
    dead = int((features.abs().amax(dim=0) == 0).sum())
    return dead, int(features.shape[1])


@torch.inference_mode()
def find_stalls(model: MultitaskClassifier, loaders: list[DictDataLoader]) -> list[Stall]:
    """Return one :class:`Stall` for each (task, loader) whose head is stuck."""
    stalls = []
    for loader in loaders:
        results = model.predict(loader, return_preds=True)
        for label, task in model.label_tasks(loader.dataset.Y_dict).items():
            golds, preds = results["golds"][label], results["preds"][label]
            keep = golds != -1
            golds, preds = golds[keep], preds[keep]
            if golds.size == 0:
                continue
            values, counts = np.unique(preds, return_counts=True)
            top = int(values[counts.argmax()])
            share = counts.max() / preds.size
            label_share = float(np.mean(golds == top))
            if share >= ONE_CLASS_SHARE and label_share < 1 - MAJORITY_MARGIN - (1 - ONE_CLASS_SHARE):
                was_training = model.training
                model.eval()
                dead, units = _feature_units(model, task, loader.dataset.X_dict)
                model.train(was_training)
                stalls.append(Stall(task, loader.dataset.name, top, float(share), label_share, dead, units))
    return stalls
