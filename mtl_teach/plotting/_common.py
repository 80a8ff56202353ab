"""Shared pieces of the plotting helpers: lazy matplotlib, colours, model lookups.

matplotlib is imported inside :func:`pyplot` only, so ``import mtl_teach``
(and even ``import mtl_teach.plotting``) never pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mtl_teach._errors import fail, names
from mtl_teach.model import MultitaskClassifier
from mtl_teach.task import INPUT

if TYPE_CHECKING:
    from mtl_teach.data import DictDataLoader

# Colour-blind-safe choices: 'RdBu' is a diverging map readable with the
# common colour-vision deficiencies (red vs blue, not red vs green), and the
# two classes also differ in marker shape, so the plots survive greyscale.
PROB_CMAP = "RdBu"  # P(class 1): 0 -> red, 0.5 -> white, 1 -> blue
FEATURE_CMAP = "cividis"  # non-negative ReLU activations: dark 0 -> bright max
CLASS_COLORS = ("#b2182b", "#2166ac")  # the ends of RdBu: class 0, class 1
CLASS_MARKERS = ("o", "^")
BOUNDARY_COLOR = "black"
# Okabe & Ito's palette, designed to stay distinct for colour-blind readers.
TASK_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def pyplot() -> Any:
    """Import and return ``matplotlib.pyplot`` (only when something is drawn)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - matplotlib is a dependency
        raise ImportError(
            "mtl_teach.plotting needs matplotlib, which is not installed. Fix: pip install matplotlib."
        ) from error
    return plt


def check_axes(ax: Any, where: str) -> None:
    """Fail clearly unless ``ax`` is a matplotlib Axes or None."""
    if ax is None:
        return
    from matplotlib.axes import Axes  # matplotlib is loaded already if ax is an Axes

    if not isinstance(ax, Axes):
        fail(
            f"{where}(ax)",
            "must be a matplotlib Axes or None",
            type(ax).__name__,
            "pass one Axes, e.g. from fig, ax = plt.subplots(), or leave ax out for a new figure.",
            raw=True,
        )


def check_model(model: Any, where: str) -> None:
    """Fail clearly unless ``model`` is a :class:`~mtl_teach.MultitaskClassifier`."""
    if not isinstance(model, MultitaskClassifier):
        fail(
            f"{where}(model)",
            "must be a MultitaskClassifier",
            type(model).__name__,
            "pass the trained model, e.g. model = MultitaskClassifier([circle_task, square_task]).",
            raw=True,
        )


def new_axes(ncols: int, nrows: int = 1, *, size: float = 3.2, axes: Any = None) -> tuple[Any, np.ndarray]:
    """Return ``(figure, axes)`` with ``axes`` a 2-D array, making them if needed."""
    if axes is not None:
        grid = np.asarray(axes, dtype=object).reshape(nrows, ncols) if np.size(axes) == nrows * ncols else None
        if grid is None:
            fail(
                "axes",
                f"must hold {nrows * ncols} matplotlib Axes ({nrows} x {ncols})",
                f"{np.size(axes)} axes",
                "pass axes=None to make a new figure, or the right number of Axes.",
                raw=True,
            )
        for ax in grid.flat:
            check_axes(ax, "axes: each entry")
        return grid.flat[0].figure, grid
    plt = pyplot()
    fig, grid = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False, layout="constrained")
    return fig, grid


def as_array(values: Any) -> np.ndarray | None:
    """``values`` (a tensor, array or list, or None) as a numpy array (None stays None)."""
    if values is None:
        return None
    return np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values)


def check_task(model: MultitaskClassifier, task_name: str, where: str) -> None:
    """Fail clearly unless ``task_name`` is a task of ``model``."""
    check_model(model, where)
    if task_name not in model.tasks:
        fail(
            f"{where}(task_name)",
            f"must name a task of the model (tasks: {names(model.tasks)})",
            task_name,
            "pass one of those names.",
        )


def task_names_of(model: MultitaskClassifier, task_names: Sequence[str] | str | None, where: str) -> list[str]:
    """``task_names`` as a checked list; all of the model's tasks when None."""
    check_model(model, where)
    if task_names is None:
        return list(model.tasks)
    if isinstance(task_names, str):
        task_names = [task_names]
    chosen = list(task_names)
    if not chosen:
        fail(f"{where}(task_names)", "must name at least one task", chosen, "leave it out to plot every task.")
    for task_name in chosen:
        check_task(model, task_name, where)
    return chosen


def input_field(model: MultitaskClassifier, task_name: str, where: str) -> str:
    """The ``X_dict`` field a task reads: its first ``("_input_", field)`` input."""
    for op in model.tasks[task_name].op_sequence:
        for item in op.inputs:
            if isinstance(item, tuple) and item[0] == INPUT:
                return str(item[1])
    fail(
        f"{where}(task_name)",
        "must name a task whose first op reads one input field, e.g. Operation('base_mlp', [('_input_', 'circle_data')])",
        task_name,
        "plot tasks that read 2-D points from one X_dict field.",
    )


def points_for(
    dataloaders: Sequence[DictDataLoader] | DictDataLoader | None, task_name: str, field: str, split: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Points ``(n, 2)`` and gold labels ``(n,)`` of ``task_name`` from the loader of ``split``.

    Returns ``(None, None)`` when no loader of that split holds the task.
    """
    if dataloaders is None:
        return None, None
    if not isinstance(dataloaders, Sequence):
        dataloaders = [dataloaders]
    for loader in dataloaders:
        data = loader.dataset
        if data.split == split and task_name in data.Y_dict and field in data.X_dict:
            X = data.X_dict[field]
            X = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
            return X, data.Y_dict[task_name].cpu().numpy()
    return None, None
