"""Training curves from ``Trainer.history``: per-task losses and validation metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mtl_teach._errors import fail, names
from mtl_teach.plotting._common import TASK_COLORS, new_axes

TOTAL_LOSS = "model/all/train/loss"


def _series(history: Mapping[str, Sequence[float]], key: str) -> np.ndarray:
    return np.asarray(history[key], dtype=float)


def plot_training_curves(history: Mapping[str, Sequence[float]], *, metric: str = "accuracy", axes: Any = None) -> Any:
    """Plot each task's training loss and validation ``metric`` per epoch.

    Left panel: the ``task/dataset/train/loss`` keys (and the model's total
    loss, dashed). Right panel: every ``task/dataset/valid/<metric>`` key.
    Epochs where a key was not logged (NaN) are left as gaps.

    Parameters
    ----------
    history
        ``Trainer.history``: metric key -> one value per epoch, plus ``"epoch"``.
    metric
        The validation metric to plot, e.g. ``"accuracy"`` or ``"f1"``.
    axes
        Two Axes; a new figure when None.

    Returns
    -------
    Figure
        The figure drawn on.
    """
    if not isinstance(history, Mapping) or "epoch" not in history:
        fail(
            "plot_training_curves(history)",
            "must be a Trainer's history: a dict with an 'epoch' list",
            type(history).__name__ if not isinstance(history, Mapping) else sorted(history)[:5],
            "pass trainer.history after trainer.fit(...).",
            raw=True,
        )
    epochs = _series(history, "epoch")
    if epochs.size == 0:
        fail(
            "plot_training_curves(history)",
            "must hold at least one epoch",
            "an empty history",
            "call trainer.fit(model, dataloaders) first.",
            raw=True,
        )
    losses = sorted(k for k in history if k.endswith("/train/loss") and k != TOTAL_LOSS)
    valid = sorted(k for k in history if k.split("/")[2:] == ["valid", metric])
    if not valid:
        logged = sorted({k.split("/")[-1] for k in history if k.count("/") == 3 and k.split("/")[2] == "valid"})
        fail(
            "plot_training_curves(metric)",
            f"must be a validation metric in the history (logged: {names(logged)})",
            metric,
            "pass one of those, or give Trainer.fit a valid loader.",
        )
    fig, grid = new_axes(2, size=3.6, axes=axes)
    loss_ax, metric_ax = grid.flat
    tasks = list(dict.fromkeys(k.split("/")[0] for k in losses + valid))
    color = {task: TASK_COLORS[i % len(TASK_COLORS)] for i, task in enumerate(tasks)}
    for ax, keys in ((loss_ax, losses), (metric_ax, valid)):
        for key in keys:
            task = key.split("/")[0]
            ax.plot(epochs, _series(history, key), marker="o", markersize=3, color=color[task], label=task)
    if TOTAL_LOSS in history:
        loss_ax.plot(epochs, _series(history, TOTAL_LOSS), linestyle="--", color="0.4", label="all tasks (per example)")
    loss_ax.set_title("training loss")
    metric_ax.set_title(f"validation {metric}")
    for ax in (loss_ax, metric_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig
