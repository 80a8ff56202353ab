"""What :func:`mtl_teach.datasets.load` returns: three DictDatasets and what a model needs to know.

:class:`DatasetSplits` holds the train, valid and test :class:`DictDataset`
of one data set and its metadata: the input field and the shape of one
example, and per task a :class:`TaskInfo` (classification or regression,
how many classes, what it predicts). That is enough to build a trunk and
one head per task without looking inside the tensors.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from mtl_teach._errors import fail, names
from mtl_teach.data import SPLITS, DictDataLoader, DictDataset

Kind = Literal["classification", "regression"]


@dataclass(frozen=True)
class TaskInfo:
    """One task of a data set.

    Parameters
    ----------
    name
        The task's name: its ``Y_dict`` key and the first part of its score keys.
    kind
        ``"classification"``: labels are int64 class ids, -1 where missing.
        ``"regression"``: labels are float32 targets, NaN where missing.
    n_classes
        Number of classes; None for a regression task.
    description
        What the task predicts, in a few words.
    """

    name: str
    kind: Kind
    n_classes: int | None
    description: str

    @property
    def n_outputs(self) -> int:
        """Width of the task's head: one output per class, or 1 for a regression task."""
        return self.n_classes if self.n_classes is not None else 1

    def __repr__(self) -> str:
        size = f"{self.n_classes} classes" if self.n_classes is not None else "1 output"
        return f"TaskInfo({self.name!r}, {self.kind}, {size}: {self.description})"


@dataclass(frozen=True, eq=False, repr=False)
class DatasetSplits:
    """The train, valid and test splits of one data set, with its metadata.

    Unpacks as its three splits: ``train, valid, test = load("multi_digits")``.

    Parameters
    ----------
    name
        The name :func:`~mtl_teach.datasets.load` knows it by, e.g. ``"multi_digits"``.
    seed
        The seed it was made with.
    train, valid, test
        The splits; each ``X_dict`` holds ``input_key``, each ``Y_dict`` one key per task.
    tasks
        One :class:`TaskInfo` per task, in ``Y_dict`` order.
    input_key
        The ``X_dict`` field of the inputs (the same in every split).
    input_shape
        The shape of one example's input, e.g. ``(1, 10, 12)``: channels, rows, columns.
    main_task
        The task that ``n_labelled`` thins out.
    n_labelled
        How many training examples keep ``main_task``'s label (the rest are -1); None for all.
    source_index
        Split name -> ``(n, k)`` int64 indices into ``sklearn.datasets.load_digits()``
        of the ``k`` digits each example is made from; read-only.
    """

    name: str
    seed: int
    train: DictDataset
    valid: DictDataset
    test: DictDataset
    tasks: tuple[TaskInfo, ...]
    input_key: str
    input_shape: tuple[int, ...]
    main_task: str
    n_labelled: int | None
    source_index: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def dataset_name(self) -> str:
        """The DictDatasets' name, the second part of score keys (``task/dataset/split/metric``)."""
        return self.train.name

    @property
    def task_names(self) -> list[str]:
        """The tasks' names, in order."""
        return [task.name for task in self.tasks]

    @property
    def splits(self) -> tuple[DictDataset, DictDataset, DictDataset]:
        """``(train, valid, test)``."""
        return self.train, self.valid, self.test

    def __iter__(self) -> Iterator[DictDataset]:
        return iter(self.splits)

    def __len__(self) -> int:
        return len(SPLITS)

    def task(self, name: str) -> TaskInfo:
        """Return the :class:`TaskInfo` of the task called ``name``.

        Parameters
        ----------
        name
            A task name, e.g. ``"left_task"``.
        """
        for task in self.tasks:
            if task.name == name:
                return task
        fail(f"{self.name}.task(name)", f"must name one of its tasks ({names(self.task_names)})", name, "pick one.")

    def dataloaders(self, batch_size: int = 32, *, shuffle_train: bool = True) -> list[DictDataLoader]:
        """Return ``[train, valid, test]`` loaders, ready for ``Trainer.fit`` and ``score``.

        Parameters
        ----------
        batch_size
            Examples per batch, in every split.
        shuffle_train
            Reshuffle the training split every epoch (the valid and test splits stay in order).
        """
        return [
            DictDataLoader(dataset, batch_size=batch_size, shuffle=shuffle_train and dataset.split == "train")
            for dataset in self.splits
        ]

    def select_tasks(self, task_names: Sequence[str]) -> DatasetSplits:
        """The same data with only some tasks' labels: e.g. one task, for a single-task baseline.

        A model refuses labels for tasks it does not have, so a single-task
        model trains on ``data.select_tasks(["left_task"])``. The inputs are
        shared, not copied.

        Parameters
        ----------
        task_names
            Names of tasks to keep, at least one, in the order wanted.
        """
        if isinstance(task_names, str):
            task_names = [task_names]
        wanted = list(task_names)
        unknown = [name for name in wanted if name not in self.task_names]
        if not wanted or unknown or len(set(wanted)) != len(wanted):
            fail(
                f"{self.name}.select_tasks(task_names)",
                f"must name its tasks, each once, at least one ({names(self.task_names)})",
                wanted,
                f"pick from those, e.g. [{self.task_names[0]!r}].",
            )
        splits = [_with_labels(dataset, wanted) for dataset in self.splits]
        kept = tuple(self.task(name) for name in wanted)
        main = self.main_task if self.main_task in wanted else wanted[0]
        n_labelled = self.n_labelled if main == self.main_task else None
        return DatasetSplits(
            self.name,
            self.seed,
            *splits,
            tasks=kept,
            input_key=self.input_key,
            input_shape=self.input_shape,
            main_task=main,
            n_labelled=n_labelled,
            source_index=self.source_index,
        )

    def __repr__(self) -> str:
        shape = "x".join(str(size) for size in self.input_shape)
        lines = [
            f"DatasetSplits({self.name!r}, seed={self.seed}, dataset_name={self.dataset_name!r})",
            f"  input: X_dict[{self.input_key!r}], {shape} per example",
            f"  splits: train {len(self.train)}, valid {len(self.valid)}, test {len(self.test)}",
            "  tasks:",
        ]
        for task in self.tasks:
            size = f"{task.n_classes} classes" if task.n_classes is not None else "regression"
            labelled = ""
            if task.name == self.main_task and self.n_labelled is not None:
                labelled = f"; labelled on {self.n_labelled} of {len(self.train)} training examples"
            lines.append(f"    {task.name} ({size}{labelled}): {task.description}")
        return "\n".join(lines)


def make_dict_dataset(
    name: str, split: str, X_dict: Mapping[str, torch.Tensor], Y_dict: Mapping[str, torch.Tensor]
) -> DictDataset:
    """Build a DictDataset whose regression labels (float) sit beside its class labels.

    DictDataset checks integer class labels only: until the core learns
    regression tasks (issue 24, part 2), the float labels join ``Y_dict``
    after its checks, in task order; they are checked here instead.

    Parameters
    ----------
    name, split, X_dict
        As for :class:`DictDataset`; tensors are kept, not copied.
    Y_dict
        Task name -> int64 class ids (-1: missing) or float32 targets (NaN: missing), ``(n,)``.
    """
    classes = {key: labels for key, labels in Y_dict.items() if not labels.is_floating_point()}
    dataset = DictDataset(name, split, X_dict, classes)
    for key, labels in Y_dict.items():
        if labels.is_floating_point():
            # Made by this package, so a broken rule here is a bug, not a user's mistake.
            assert labels.dtype == torch.float32 and labels.shape == (len(dataset),), (key, labels.dtype, labels.shape)
            assert not torch.isinf(labels).any(), key  # NaN marks a missing label; inf is never one
    dataset.Y_dict = dict(Y_dict)  # every task, in order
    return dataset


def _with_labels(dataset: DictDataset, keys: Sequence[str]) -> DictDataset:
    # The same input tensors (not copies), only those labels.
    return make_dict_dataset(dataset.name, dataset.split, dataset.X_dict, {key: dataset.Y_dict[key] for key in keys})


def as_count(where: str, value: object, low: int, high: int | None, example: str) -> int:
    """Return ``value`` as an int if it is an integer in ``[low, high]`` (numpy integers too), else fail.

    Parameters
    ----------
    where
        The parameter, for the message, e.g. ``"load('multi_digits', n_train)"``.
    value
        What was passed.
    low, high
        The allowed range; ``high=None`` for no upper bound.
    example
        The fix's example, e.g. ``"n_train=2000"``.
    """
    rule = f"must be an integer >= {low}" if high is None else f"must be an integer from {low} to {high}"
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or int(value) < low
        or (high is not None and int(value) > high)
    ):
        fail(where, rule, value, f"pass e.g. {example}.")
    return int(value)
