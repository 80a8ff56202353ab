"""How decision boundaries form over training: small multiples from ModelSnapshots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mtl_teach._errors import check_choice, fail
from mtl_teach.callbacks import ModelSnapshots
from mtl_teach.data import SPLITS
from mtl_teach.plotting._common import input_field, new_axes, points_for, task_names_of
from mtl_teach.plotting.boundary import DecisionBoundaryDisplay, finish_row
from mtl_teach.plotting.grid import grid_response, make_grid

if TYPE_CHECKING:
    from mtl_teach.data import DictDataLoader
    from mtl_teach.model import MultitaskClassifier

WHERE = "plot_boundary_evolution"


def plot_boundary_evolution(
    model: MultitaskClassifier,
    snapshots: ModelSnapshots,
    task_names: Sequence[str] | str | None = None,
    *,
    epochs: Sequence[int] | None = None,
    dataloaders: Sequence[DictDataLoader] | DictDataLoader | None = None,
    split: str = "test",
    grid_resolution: int = 60,
    eps: float = 0.1,
) -> list[list[DecisionBoundaryDisplay]]:
    """Draw each task's boundary at each snapshot epoch: rows = tasks, columns = epochs.

    Each snapshot is loaded into ``model`` in turn; its own weights are
    restored afterwards (also on error), so the model ends as it started.
    The outer panels carry the axes (``x0`` below, the task and ``x1`` on the
    left); one colour bar, P(class 1), and the gold-label legend serve them all.

    Parameters
    ----------
    model
        The model the snapshots were taken from.
    snapshots
        A :class:`~mtl_teach.ModelSnapshots` callback after ``Trainer.fit``
        (epoch 0 is the untrained model).
    task_names
        Tasks to plot (rows); all of the model's tasks when None.
    epochs
        Snapshot epochs to show (columns); all of them when None.
    dataloaders, split
        Loaders whose ``split`` points are drawn on every panel.
    grid_resolution, eps
        As for :meth:`DecisionBoundaryDisplay.from_model`.

    Returns
    -------
    list of list of DecisionBoundaryDisplay
        ``displays[row][column]``, one per task and epoch.
    """
    if not isinstance(snapshots, ModelSnapshots):
        fail(
            f"{WHERE}(snapshots)",
            "must be a ModelSnapshots callback",
            type(snapshots).__name__,
            "pass the ModelSnapshots() you gave Trainer(callbacks=[...]).",
            raw=True,
        )
    if not snapshots.snapshots:
        fail(
            f"{WHERE}(snapshots)",
            "must hold snapshots",
            "none (was it passed to Trainer(callbacks=[...]) before fit?)",
            "train with Trainer(callbacks=[snapshots]).fit(...).",
            raw=True,
        )
    chosen = task_names_of(model, task_names, WHERE)
    check_choice(f"{WHERE}(split)", split, SPLITS)
    states = dict(snapshots.snapshots)
    shown = list(states) if epochs is None else list(epochs)
    missing = [e for e in shown if e not in states]
    if missing or not shown:
        fail(
            f"{WHERE}(epochs)",
            f"must be epochs with a snapshot ({snapshots.epochs})",
            missing or shown,
            "pick from those epochs, or leave epochs out.",
        )
    xx0, xx1 = make_grid(None, grid_resolution, eps, WHERE)
    # Tasks hold scorers that cannot be deep-copied, so load each snapshot into
    # the model itself and put its current weights back at the end.
    current = {k: v.detach().clone() for k, v in model.state_dict().items()}
    _, grid = new_axes(len(shown), len(chosen), size=2.3)
    displays: list[list[DecisionBoundaryDisplay]] = [[] for _ in chosen]
    try:
        for column, epoch in enumerate(shown):
            model.load_state_dict(states[epoch])
            responses = grid_response(model, chosen, xx0, xx1, WHERE)  # one pass for all tasks
            for row, task in enumerate(chosen):
                X, y = points_for(dataloaders, task, input_field(model, task, WHERE), split)
                display = DecisionBoundaryDisplay(xx0=xx0, xx1=xx1, response=responses[task], task_name=task, X=X, y=y)
                ax = grid[row, column]
                display.plot(ax=ax, title=f"epoch {epoch}" if row == 0 else "")
                # Small multiples: only the outer panels carry tick labels and axis names.
                ax.set_xticks([-1, 0, 1], labels=None if row == len(chosen) - 1 else [])
                ax.set_yticks([-1, 0, 1], labels=None if column == 0 else [])
                ax.set_xlabel("x0" if row == len(chosen) - 1 else "")
                ax.set_ylabel(f"{task}\nx1" if column == 0 else "")
                displays[row].append(display)
    finally:
        model.load_state_dict(current)
    finish_row([display for row in displays for display in row], colorbar=True, legend=dataloaders is not None)
    return displays
