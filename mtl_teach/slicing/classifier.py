"""SliceAwareClassifier: a MultitaskClassifier that pays extra attention to slices.

Snorkel's slice-based learning (Chen et al., NeurIPS 2019) on our core:
one base network, per slice an indicator head and an expert, and a final
head that reads the experts' representations mixed by attention. It trains
with the ordinary :class:`~mtl_teach.Trainer`. Beyond Snorkel it handles
more than two classes, never changes the modules you pass in, and reports
its attention weights (:meth:`SliceAwareClassifier.attention`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mtl_teach._errors import fail
from mtl_teach._validation import is_integer
from mtl_teach.data import EVAL_BATCH_SIZE, DictDataLoader, DictDataset
from mtl_teach.model import MultitaskClassifier, evaluating
from mtl_teach.scorer import Scorer
from mtl_teach.slicing.scores import score_on_slices
from mtl_teach.slicing.tasks import (
    add_slice_labels,
    convert_to_slice_tasks,
    with_base_slice,
)
from mtl_teach.task import INPUT, Operation, Task


def _output_width(module: nn.Module) -> int | None:
    """Features out of ``module``'s last layer that has a fixed width (e.g. an ``nn.Linear``), else None."""
    for layer in reversed(list(module.modules())):
        width = getattr(layer, "out_features", None)
        if isinstance(width, int):
            return width
    return None


class SliceAwareClassifier(MultitaskClassifier):
    """A slice-aware classifier: Snorkel's API, any number of classes.

    Parameters
    ----------
    base_architecture
        Network from the inputs ``X_dict[input_data_key]`` to features of
        shape ``(batch, head_dim)``. The model trains a *copy*: your module
        is never changed; the trained one is ``model.module_pool["base_architecture"]``.
    head_dim
        Size of the base architecture's output features.
    slice_names
        Names of the slices (the slicing functions' names); ``"base"``, the
        slice of all points, is appended. The model's ``slice_names`` include it.
    input_data_key
        Field of ``X_dict`` holding the inputs.
    task_name
        Name of the base task: the key of its labels in ``Y_dict``.
    scorer
        Metrics of the base task and the ``_pred`` tasks; by default
        accuracy and f1 (f1_macro for more than two classes).
    n_classes
        Number of classes of the base task (Snorkel: always 2).
    temperature
        Attention temperature of the slice combiner (below 1: sharper).
    **multitask_kwargs
        Passed on to :class:`~mtl_teach.MultitaskClassifier` (``name``,
        ``device``, ``init``).

    Examples
    --------
    >>> from torch import nn
    >>> model = SliceAwareClassifier(nn.Sequential(nn.Linear(2, 8), nn.ReLU()), 8, ["corner"])
    >>> model.slice_names
    ['corner', 'base']
    """

    def __init__(
        self,
        base_architecture: nn.Module,
        head_dim: int,
        slice_names: Sequence[str],
        input_data_key: str = "input_data",
        task_name: str = "task",
        scorer: Scorer | None = None,
        *,
        n_classes: int = 2,
        temperature: float = 1.0,
        **multitask_kwargs: Any,
    ) -> None:
        if not isinstance(base_architecture, nn.Module):
            fail(
                "SliceAwareClassifier(base_architecture)",
                "must be an nn.Module",
                type(base_architecture).__name__,
                "pass e.g. nn.Sequential(nn.Linear(2, 8), nn.ReLU()).",
                raw=True,
            )
        for param, value, low in (("head_dim", head_dim, 1), ("n_classes", n_classes, 2)):
            if not is_integer(value) or value < low:
                fail(
                    f"SliceAwareClassifier({param})",
                    f"must be an integer >= {low}",
                    value,
                    f"pass e.g. {param}={max(low, 4)}."
                    if param == "head_dim"
                    else "pass the number of classes, e.g. n_classes=3.",
                )
        head_dim, n_classes = int(head_dim), int(n_classes)
        width = _output_width(base_architecture)
        if width is not None and width != head_dim:
            fail(
                "SliceAwareClassifier(head_dim)",
                "must equal the width of base_architecture's output (the features each slice head reads)",
                f"head_dim={head_dim} for a base_architecture whose last layer gives {width} features",
                f"pass head_dim={width}, or change the last layer of base_architecture.",
                raw=True,
            )
        if not isinstance(input_data_key, str) or not input_data_key:
            fail(
                "SliceAwareClassifier(input_data_key)",
                "must be a non-empty string",
                input_data_key,
                'pass the X_dict field, e.g. "input_data".',
            )
        if scorer is None:
            scorer = Scorer(metrics=["accuracy", "f1" if n_classes == 2 else "f1_macro"])
        slices = with_base_slice(slice_names, "SliceAwareClassifier(slice_names)")
        base_task = Task(
            name=task_name,
            module_pool=nn.ModuleDict(
                {"base_architecture": base_architecture, "prediction_head": nn.Linear(head_dim, n_classes)}
            ),
            op_sequence=[
                Operation("base_architecture", [(INPUT, input_data_key)], name="input_op"),
                Operation("prediction_head", ["input_op"], name="head_op"),
            ],
            scorer=scorer,
        )
        # convert_to_slice_tasks deep-copies the pool, so the caller's
        # base_architecture keeps its weights, even through kaiming init.
        tasks = convert_to_slice_tasks(base_task, slices, temperature=temperature)
        multitask_kwargs.setdefault("name", f"{task_name}_sliceaware_classifier")
        super().__init__(tasks, **multitask_kwargs)
        self.slice_names: list[str] = slices
        self.task_name = task_name
        self.input_data_key = input_data_key
        self.head_dim = head_dim
        self.n_classes = n_classes
        self.temperature = float(temperature)

    @property
    def base_task(self) -> Task:
        """The slice-aware base task (its final head reads the combined experts)."""
        return self.tasks[self.task_name]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, task={self.task_name!r}, slices={self.slice_names}, "
            f"n_classes={self.n_classes}, head_dim={self.head_dim}, n_tasks={len(self.tasks)}, "
            f"n_modules={len(self.module_pool)}, device={str(self.device)!r})"
        )

    # ----------------------------------------------------------------- data
    def make_slice_dataloader(self, dataset: DictDataset, S: Any, **loader_kwargs: Any) -> DictDataLoader:
        """A loader over ``dataset`` with every slice's ``_ind`` / ``_pred`` labels.

        Parameters
        ----------
        dataset
            Must hold the base task's labels under ``task_name``; not modified.
        S
            Slice matrix of this dataset, from :func:`apply_slicing_functions`,
            with a column for each of the model's slices (``base`` may be left out).
        **loader_kwargs
            Passed to :class:`~mtl_teach.DictDataLoader` (``batch_size``, ``shuffle``...).
        """
        if not isinstance(dataset, DictDataset):
            fail(
                "make_slice_dataloader(dataset)",
                "must be a DictDataset",
                type(dataset).__name__,
                "wrap your data: DictDataset.from_tensors(X, Y, split).",
                raw=True,
            )
        return DictDataLoader(add_slice_labels(dataset, self.task_name, S, self.slice_names), **loader_kwargs)

    def check_training_data(self, train_loaders: Sequence[DictDataLoader]) -> None:
        """Require the slice labels: without them the slice tasks never learn.

        Parameters
        ----------
        train_loaders
            The loaders ``Trainer.fit`` trains on.

        Raises
        ------
        MTLConfigError
            If no train loader has the slices' ``_ind`` / ``_pred`` labels.
        """
        slice_tasks = [task for task in self.tasks if task != self.task_name]
        labelled = {label for loader in train_loaders for label in loader.dataset.Y_dict}
        if not labelled & set(slice_tasks):
            fail(
                "Trainer.fit(dataloaders)",
                f"must hold the slice labels of this SliceAwareClassifier (e.g. {slice_tasks[0]!r})",
                f"train loaders with labels {sorted(labelled)}",
                "build them with model.make_slice_dataloader(dataset, S), S from apply_slicing_functions(sfs, X).",
                raw=True,
            )
        super().check_training_data(train_loaders)

    def _own_label_tasks(self) -> list[str]:
        # The slice tasks' labels are derived from the base task's and the slice matrix: one
        # class is normal there (the "base" slice holds every point; a slice may be one class).
        return [self.task_name]

    # -------------------------------------------------------------- scoring
    def score_slices(self, dataloaders: Sequence[DictDataLoader], as_dataframe: bool = False) -> Any:
        """Score the base task's final head on every slice.

        Each ``{task}_slice:{slice}_pred`` label set is scored with the *base*
        head's predictions (only the slice's members carry labels); indicator
        labels are skipped. Keys are ``label/dataset/split/metric``, e.g.
        ``task_slice:corner_pred/circle/test/accuracy``, plus the base task's
        own ``task/circle/test/accuracy``.
        """
        return score_on_slices(self, dataloaders, self.slice_names, task_name=self.task_name, as_dataframe=as_dataframe)

    # ------------------------------------------------------------ attention
    @torch.inference_mode()
    def attention(self, data: DictDataLoader | DictDataset | np.ndarray | torch.Tensor) -> np.ndarray:
        """Attention weights of the final head: which slice each prediction leaned on.

        Parameters
        ----------
        data
            A loader or dataset (its ``X_dict[input_data_key]`` is used), or
            the inputs themselves, shape ``(n, ...)``.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, len(slice_names))``, columns in ``slice_names`` order;
            each row sums to 1.
        """
        if isinstance(data, DictDataLoader):
            data = data.dataset
        if isinstance(data, DictDataset):
            if self.input_data_key not in data.X_dict:
                fail(
                    f"SliceAwareClassifier.attention: dataset {data.name!r} X_dict",
                    f"must hold the field {self.input_data_key!r}",
                    list(data.X_dict),
                    "pass a dataset built for this model.",
                )
            X = data.X_dict[self.input_data_key]
        else:
            X = data
        if isinstance(X, np.ndarray):
            X = torch.from_numpy(X)
            X = X.float() if X.dtype == torch.float64 else X
        if not isinstance(X, torch.Tensor):
            fail(
                "SliceAwareClassifier.attention(data)",
                "must be a DictDataLoader, DictDataset, numpy array or tensor",
                type(data).__name__,
                "pass e.g. the test loader, or X of shape (n, d).",
                raw=True,
            )
        # The base task's plan minus its final head ends at the combiner,
        # whose output dict carries the attention, (batch, n_slices).
        with evaluating(self):
            parts = [
                self.features({self.input_data_key: X[start : start + EVAL_BATCH_SIZE]}, self.task_name)["attention"]
                for start in range(0, len(X), EVAL_BATCH_SIZE)
            ]
        if not parts:
            return np.zeros((0, len(self.slice_names)), dtype=np.float32)
        return torch.cat(parts).float().cpu().numpy()
