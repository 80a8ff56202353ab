"""MultitaskClassifier: many tasks over one pool of modules shared by name."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mtl_teach import checkpointing, evaluation
from mtl_teach._errors import check_choice, fail, names
from mtl_teach.data import DictDataLoader
from mtl_teach.evaluation import EVAL_BATCH_SIZE  # noqa: F401  (re-exported)
from mtl_teach.graph import Node, compile_task, run_tasks
from mtl_teach.initialization import INIT_SCHEMES, initialize
from mtl_teach.model_checks import check_labels, map_labels, resolve_device
from mtl_teach.task import Task


class MultitaskClassifier(nn.Module):
    """A multi-task classifier: tasks share modules whose names match.

    Parameters
    ----------
    tasks
        The tasks; each brings its module pool and op sequence.
    name
        Model name (shown in ``repr`` and saved checkpoints).
    device
        ``"cpu"`` (default), ``"cuda"`` or ``"auto"`` (CUDA when available).
    init
        How to (re)initialise the weights of modules as they join the model:
        ``"kaiming"`` (default) draws every ``nn.Linear`` with He-normal
        weights and zero bias, which keeps small ReLU trunks from starting
        with dead units (see :mod:`mtl_teach.initialization`); ``None``
        keeps your modules' weights exactly as they are.
    """

    def __init__(
        self,
        tasks: Iterable[Task],
        name: str | None = None,
        *,
        device: str = "cpu",
        init: str | None = "kaiming",
    ) -> None:
        super().__init__()
        if init is not None:
            check_choice("MultitaskClassifier(init)", init, INIT_SCHEMES)
        self.name = name or type(self).__name__
        self.device = resolve_device(device)
        self.init = init
        self.module_pool = nn.ModuleDict()
        self.tasks: dict[str, Task] = {}
        self._plans: dict[str, tuple[Node, ...]] = {}
        if isinstance(tasks, Task):
            tasks = [tasks]
        for task in tasks:
            self.add_task(task)

    # ----------------------------------------------------------- structure
    def add_task(self, task: Task) -> None:
        """Add ``task``; its modules join the pool, shared with others by name.

        Parameters
        ----------
        task
            A :class:`~mtl_teach.Task` with a new name. A module under a name
            already in the pool must be that same object.
        """
        if not isinstance(task, Task):
            fail(
                "MultitaskClassifier.add_task(task)",
                "must be a Task",
                type(task).__name__,
                "build one with Task(name, module_pool, op_sequence).",
                raw=True,
            )
        if task.name in self.tasks:
            fail(
                "MultitaskClassifier.add_task(task)",
                f"must have a new name (tasks: {names(self.tasks)})",
                task.name,
                "rename the task, or remove_task() the old one first.",
            )
        for key, module in task.module_pool.items():
            if key in self.module_pool and self.module_pool[key] is not module:
                owners = [t.name for t in self.tasks.values() if key in t.module_pool]
                fail(
                    f"Task {task.name!r} module_pool[{key!r}]",
                    f"is a different module object from the {key!r} already used by {names(owners)}; modules are shared by name",
                    type(module).__name__,
                    f"pass the same {key!r} object to share it, or use another name to keep a separate module.",
                )
        new = [key for key in task.module_pool if key not in self.module_pool]
        for key in new:
            module = task.module_pool[key]
            if self.init is not None:
                initialize(module, self.init)
            self.module_pool[key] = module.to(self.device)
        self.tasks[task.name] = task
        self._plans[task.name] = compile_task(task)

    def remove_task(self, task_name: str) -> None:
        """Remove a task and every module no remaining task uses.

        Parameters
        ----------
        task_name
            The name of a task of the model.
        """
        if task_name not in self.tasks:
            fail(
                "MultitaskClassifier.remove_task(task_name)",
                f"must name a task of the model (tasks: {names(self.tasks)})",
                task_name,
                "pass one of those names.",
            )
        del self.tasks[task_name], self._plans[task_name]
        used = {key for task in self.tasks.values() for key in task.module_pool}
        for key in [k for k in self.module_pool if k not in used]:
            del self.module_pool[key]

    @property
    def task_names(self) -> list[str]:
        return list(self.tasks)

    @property
    def op_sequences(self) -> dict[str, tuple[Any, ...]]:
        return {name: task.op_sequence for name, task in self.tasks.items()}

    @property
    def scorers(self) -> dict[str, Any]:
        return {name: task.scorer for name, task in self.tasks.items()}

    def shared_modules(self) -> list[str]:
        """Names of modules used by more than one task."""
        return [k for k in self.module_pool if sum(k in t.module_pool for t in self.tasks.values()) > 1]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, tasks={list(self.tasks)}, "
            f"modules={list(self.module_pool)}, shared={self.shared_modules()}, device={str(self.device)!r})"
        )

    # -------------------------------------------------------------- forward
    def label_tasks(
        self, Y_dict: Mapping[str, Any], remap_labels: Mapping[str, str | None] | None = None, where: str = "Y_dict"
    ) -> dict[str, str]:
        """Map each label key of ``Y_dict`` to the task that predicts it.

        Parameters
        ----------
        Y_dict
            Label key -> labels; a key names its task unless remapped.
        remap_labels
            Label key -> task name, or None to leave that label out.
        where
            Where the labels come from, for error messages.
        """
        return map_labels(self.tasks, Y_dict, remap_labels, where)

    def check_training_data(self, train_loaders: Sequence[DictDataLoader]) -> None:
        """Warn about tasks that no train loader has labels for: their heads would never learn.

        Called by ``Trainer.fit`` on its train loaders; a subclass can require more
        (``SliceAwareClassifier`` requires its slice labels).

        Parameters
        ----------
        train_loaders
            The loaders ``Trainer.fit`` trains on.
        """
        labelled = {task for loader in train_loaders for task in self.label_tasks(loader.dataset.Y_dict).values()}
        missing = [task for task in self.tasks if task not in labelled]
        if missing:
            warnings.warn(
                f"No train loader has labels for task(s) {missing}: their heads will not learn. "
                f"Add a train loader whose Y_dict key is the task's name, or leave the task out of the model.",
                UserWarning,
                stacklevel=4,
            )

    def forward(self, X_dict: Mapping[str, Any], task_names: Sequence[str]) -> dict[str, Any]:
        """Return ``{task_name: output of its last op}`` (the logits).

        Parameters
        ----------
        X_dict
            Field name -> batch of inputs.
        task_names
            The tasks to run; ops they share run once.
        """
        if self.device.type != "cpu":
            X_dict = {
                k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in X_dict.items()
            }
        return run_tasks(self.module_pool, self._plans, X_dict, task_names)

    def calculate_loss(
        self,
        X_dict: Mapping[str, Any],
        Y_dict: Mapping[str, torch.Tensor],
        *,
        label_ranges: Mapping[str, tuple[int, int]] | None = None,
    ) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        """Per-task loss and number of labelled examples; label -1 is masked out.

        Parameters
        ----------
        X_dict
            Field name -> batch of inputs.
        Y_dict
            Task name -> batch of integer labels.
        label_ranges
            Label key -> ``(lowest, highest)`` label of the whole dataset the
            batch comes from (the Trainer passes these). Where the lowest is
            not -1, the batch's own range check is skipped; omit to check
            every batch.

        Returns
        -------
        loss_dict, count_dict
            Task -> loss, and task -> number of labelled examples.
        """
        label_tasks = self.label_tasks(Y_dict)
        outputs = self.forward(X_dict, list(dict.fromkeys(label_tasks.values())))
        loss_dict: dict[str, torch.Tensor] = {}
        count_dict: dict[str, int] = {}
        for label, task_name in label_tasks.items():
            Y = Y_dict[label].to(self.device)
            logits = outputs[task_name]
            # One reduction and one sync per task: the label range tells both
            # whether any -1 must be masked and whether a label is too big. A
            # dataset's range without -1 bounds every batch: no sync needed.
            known = label_ranges.get(label) if label_ranges else None
            if known is not None and known[0] >= 0:
                low, high = known
            else:
                low, high = (int(v) for v in torch.aminmax(Y)) if Y.shape[0] else (-1, -1)
            if low < -1:  # DictDataset rejects these, but a raw batch may not have gone through it
                fail(
                    f"Labels of task {task_name!r}",
                    "must be class ids >= 0, or -1 for 'no label'",
                    f"label {low}",
                    "relabel the classes as 0, 1, ..., n_classes - 1 and mark unlabelled examples with -1.",
                    raw=True,
                )
            if high == -1:
                continue  # nothing labelled for this task in this batch
            if low == -1:
                active = Y != -1
                logits, Y = logits[active], Y[active]
            check_labels(task_name, high, logits.dim(), logits.shape[-1])
            loss_dict[label] = self.tasks[task_name].loss_func(logits, Y)
            count_dict[label] = Y.shape[0]
        return loss_dict, count_dict

    # ---------------------------------------------------- predict / score
    def predict(
        self,
        dataloader: DictDataLoader,
        return_preds: bool = False,
        remap_labels: Mapping[str, str | None] | None = None,
    ) -> dict[str, dict[str, np.ndarray]]:
        """Return ``{"golds", "probs"[, "preds"]}``, each ``{label: array}``.

        Parameters
        ----------
        dataloader
            The loader to predict.
        return_preds
            Also return ``"preds"``, the argmax of the probabilities.
        remap_labels
            Label key -> task that predicts it (None: skip that label).

        See :func:`mtl_teach.evaluation.predict` for the shapes.
        """
        return evaluation.predict(self, dataloader, return_preds=return_preds, remap_labels=remap_labels)

    def score(
        self,
        dataloaders: Sequence[DictDataLoader],
        remap_labels: Mapping[str, str | None] | None = None,
        as_dataframe: bool = False,
    ) -> Any:
        """Score every loader with its tasks' scorers.

        Parameters
        ----------
        dataloaders
            The loaders to score (one loader is accepted too).
        remap_labels
            Label key -> task that predicts it (None: skip that label).
        as_dataframe
            Return a pandas DataFrame with columns label, dataset, split,
            metric, score (needs pandas).

        Returns
        -------
        dict or DataFrame
            ``{"task/dataset/split/metric": value}`` by default.
        """
        return evaluation.score(self, dataloaders, remap_labels=remap_labels, as_dataframe=as_dataframe)

    # ---------------------------------------------------------- save/load
    def save(self, model_path: str | Path) -> None:
        """Save the weights (plain tensors: loadable with ``weights_only=True``).

        Parameters
        ----------
        model_path
            File to write, e.g. ``"model.pth"``.
        """
        torch.save({"name": self.name, "tasks": list(self.tasks), "model": self.state_dict()}, model_path)

    def load(self, model_path: str | Path) -> None:
        """Load weights saved by :meth:`save` into this model (same tasks).

        Parameters
        ----------
        model_path
            File written by :meth:`save`.
        """
        checkpointing.load_weights(self, model_path)
