"""Spot a stalled task: a head stuck on one class, fed by dead ReLU units.

A task has *stalled* when its training accuracy is no better than always
answering the majority class (within ``MAJORITY_MARGIN``). The usual cause
on the toy tasks is that the trunk units feeding the head output zero for
all of the task's inputs ("dead ReLUs"), so the head has nothing to work
with and learns only its bias, i.e. the majority class. On a task whose
majority class holds ``RARE_CLASS_SHARE`` or more of the labels, answering it
is also how a healthy head starts, so there only dead features count.

Every head starts near the majority class, so the Trainer checks only from
epoch ``CHECK_FROM_EPOCH`` on (or at the last epoch of a shorter run). Over
30 seeds of the tutorial, this flagged all 5 stalled runs and none of the
25 healthy ones at epoch 10.

The course's appendix notebook ``notebooks/11_appendix_training_stalls.ipynb``
shows a stall, its cause and the kit's two fixes; every warning points there.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from mtl_teach.evaluation import assemble
from mtl_teach.graph import run_tasks

if TYPE_CHECKING:
    from mtl_teach.data import DictDataLoader
    from mtl_teach.model import MultitaskClassifier

MAJORITY_MARGIN = 0.02  # stalled: train accuracy <= majority-class rate + this
# On a task this imbalanced (e.g. a 2% slice indicator), answering the majority
# class is also how a healthy head starts, so only dead features make it a stall.
RARE_CLASS_SHARE = 0.9
CHECK_FROM_EPOCH = 5
# Where a student who meets a stall is sent: the course's appendix on dead units and their fixes.
GUIDE = " Why and what to do: notebooks/11_appendix_training_stalls.ipynb."


class StallWarning(UserWarning):
    """A task stopped learning during training (see :mod:`mtl_teach.diagnostics`)."""


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
def find_stalls(
    model: MultitaskClassifier,
    loaders: list[DictDataLoader],
    outputs: Mapping[int, tuple[dict[str, list], dict[str, list]]] | None = None,
) -> list[Stall]:
    """Return one :class:`Stall` for each (task, loader) whose head is stuck.

    Parameters
    ----------
    model
        The model being trained.
    loaders
        Its train loaders.
    outputs
        ``id(loader)`` -> ``(golds, probs)`` batches of every example, as
        :func:`~mtl_teach.revival.revive_dead_units` gathers them; loaders
        not in it are predicted afresh.
    """
    stalls = []
    for loader in loaders:
        label_tasks = model.label_tasks(loader.dataset.Y_dict)
        seen = (outputs or {}).get(id(loader))
        results = assemble(label_tasks, *seen, return_preds=True) if seen else model.predict(loader, return_preds=True)
        for label, task in label_tasks.items():
            golds, preds = results["golds"][label], results["preds"][label]
            keep = golds != -1
            golds, preds = golds[keep], preds[keep]
            if golds.size == 0:
                continue
            classes, counts = np.unique(golds, return_counts=True)
            majority, share = int(classes[counts.argmax()]), counts.max() / golds.size
            accuracy = float(np.mean(golds == preds))
            if share < 1 and accuracy <= share + MAJORITY_MARGIN:
                was_training = model.training
                model.eval()
                dead, units = _feature_units(model, task, loader.dataset.X_dict)
                model.train(was_training)
                if share >= RARE_CLASS_SHARE and not (units and 2 * dead >= units):
                    continue
                stalls.append(Stall(task, loader.dataset.name, accuracy, majority, float(share), dead, units))
    return stalls


class StallMonitor:
    """Warn once per task when it looks stalled on two checks in a row.

    Heads start near the majority class and may leave it late, so checks
    start at epoch ``CHECK_FROM_EPOCH``; a task must look stalled on two
    epochs in a row, or at the last epoch. Shorter runs are not judged.
    """

    def __init__(self, n_epochs: int) -> None:
        self.n_epochs = n_epochs
        self.streaks: dict[str, int] = {}
        self.warned: set[str] = set()

    def __repr__(self) -> str:
        return f"StallMonitor(n_epochs={self.n_epochs}, warned={sorted(self.warned)})"

    def check(
        self,
        model: MultitaskClassifier,
        loaders: list[DictDataLoader],
        epoch: int,
        outputs: Mapping[int, tuple[dict[str, list], dict[str, list]]] | None = None,
    ) -> None:
        """Check the train loaders after ``epoch``; warn for newly stalled tasks.

        Parameters
        ----------
        model, loaders
            The model and its train loaders.
        epoch
            The epoch just finished (1-based).
        outputs
            Predictions already made this epoch, see :func:`find_stalls`.
        """
        if epoch < CHECK_FROM_EPOCH:
            return
        stalled = {stall.task: stall for stall in find_stalls(model, loaders, outputs)}
        for task, stall in stalled.items():
            self.streaks[task] = self.streaks.get(task, 0) + 1
            if task not in self.warned and (self.streaks[task] >= 2 or epoch == self.n_epochs):
                self.warned.add(task)
                warnings.warn(stall.message(epoch), StallWarning, stacklevel=3)  # points at fit()
        for task in set(self.streaks) - set(stalled):
            self.streaks[task] = 0
