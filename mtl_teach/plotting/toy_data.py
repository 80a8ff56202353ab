"""Scatter plots of the toy datasets with their true boundary drawn in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mtl_teach._errors import check_choice, fail, names
from mtl_teach._validation import is_number
from mtl_teach.plotting._common import BOUNDARY_COLOR, CLASS_COLORS, CLASS_MARKERS, new_axes
from mtl_teach.toy_data import TUTORIAL_TASKS

# kind of true boundary for each tutorial task
BOUNDARIES = {"circle_task": "circle", "square_task": "square", "inv_circle_task": "circle"}
BOUNDARY_KINDS = ("circle", "square", "xor")


def draw_true_boundary(ax: Any, kind: str, r: float = 1.0) -> None:
    """Draw the toy task's true boundary as a dashed line.

    Parameters
    ----------
    ax
        Axes to draw on.
    kind
        ``"circle"`` (``x0^2 + x1^2 = r``, also the inverted circle's) or
        ``"square"`` (``|x| = r/2`` or ``|y| = r/2``) or ``"xor"`` (the axes
        ``x0 = 0`` and ``x1 = 0``, where the xor task's label flips).
    r
        The datasets' ``r``.
    """
    check_choice("draw_true_boundary(kind)", kind, BOUNDARY_KINDS)
    if not is_number(r) or not r > 0:
        fail("draw_true_boundary(r)", "must be a number > 0", r, "pass the r the data were made with, e.g. r=1.")
    if kind == "circle":
        angle = np.linspace(0.0, 2.0 * np.pi, 200)
        radius = np.sqrt(r)  # the label is x0^2 + x1^2 < r, so the radius is sqrt(r)
        x0, x1 = radius * np.cos(angle), radius * np.sin(angle)
    elif kind == "xor":
        # Two lines, joined through a NaN gap so they are one artist with one legend entry.
        x0 = np.array([-1.05, 1.05, np.nan, 0.0, 0.0])
        x1 = np.array([0.0, 0.0, np.nan, -1.05, 1.05])
    else:
        half = r / 2
        x0 = np.array([-half, half, half, -half, -half])
        x1 = np.array([-half, -half, half, half, -half])
    ax.plot(x0, x1, color=BOUNDARY_COLOR, linestyle="--", linewidth=1.5, label="true boundary")


def plot_dataset(
    X: Any, y: Any, *, boundary: str | None = None, r: float = 1.0, ax: Any = None, title: str | None = None
) -> Any:
    """Scatter 2-D points coloured (and shaped) by gold label; return the Axes.

    Parameters
    ----------
    X
        Points, shape ``(n, 2)``.
    y
        Gold labels 0/1, shape ``(n,)``.
    boundary
        ``"circle"``, ``"square"`` or ``"xor"`` to draw that true boundary; None for none.
    r
        The datasets' ``r`` (size of the true boundary).
    ax
        Axes to draw on; a new figure when None.
    title
        Axes title; shows the class balance when None.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        fail(
            "plot_dataset(X)",
            "must be 2-D points of shape (n, 2)",
            f"shape {X.shape}",
            "pass e.g. X_train from make_circle_dataset.",
            raw=True,
        )
    if y.shape != (len(X),):
        fail(
            "plot_dataset(y)",
            "must hold one label per point, shape (n,)",
            f"shape {y.shape} for {len(X)} points",
            "pass the labels of X.",
            raw=True,
        )
    if ax is None:
        _, grid = new_axes(1)
        ax = grid[0, 0]
    for cls_id, (color, marker) in enumerate(zip(CLASS_COLORS, CLASS_MARKERS, strict=True)):
        chosen = y == cls_id
        ax.scatter(
            X[chosen, 0],
            X[chosen, 1],
            s=12,
            c=color,
            marker=marker,
            edgecolors="white",
            linewidths=0.3,
            label=f"label {cls_id} ({chosen.mean():.0%})",
        )
    if boundary is not None:
        draw_true_boundary(ax, boundary, r)
    ax.set_aspect("equal")
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.set_title(title if title is not None else f"{len(X)} points, {np.mean(y == 1):.0%} label 1")
    legend_below(ax)
    return ax


def legend_below(ax: Any) -> Any:
    """(Re)draw ``ax``'s legend under the panel, so it hides none of the points; return it.

    Call it again after adding labelled artists (e.g. :func:`outline_slice`)
    to bring the legend up to date.
    """
    return ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize="small", markerscale=1.5, frameon=False
    )


def plot_tutorial_datasets(
    task_names: Sequence[str] = ("circle_task", "square_task", "inv_circle_task"),
    *,
    n: int = 1000,
    r: float = 1.0,
    seed: int = 0,
    split: str = "train",
    axes: Any = None,
) -> Any:
    """Plot each tutorial task's points and true boundary, one panel per task.

    Uses the same makers (and so the same points, for the same ``n``, ``r``
    and ``seed``) as :func:`mtl_teach.make_tutorial_dataloaders`. Returns the figure.

    Parameters
    ----------
    task_names
        Tutorial tasks to plot.
    n, r, seed
        As for the dataset makers.
    split
        ``"train"``, ``"valid"`` or ``"test"``.
    axes
        One Axes per task; a new figure when None.
    """
    if isinstance(task_names, str):
        task_names = [task_names]
    split_index = {"train": 0, "valid": 1, "test": 2}[
        check_choice("plot_tutorial_datasets(split)", split, ("train", "valid", "test"))
    ]
    for task in task_names:
        if task not in TUTORIAL_TASKS:
            fail(
                "plot_tutorial_datasets(task_names)",
                f"must name tutorial tasks ({names(TUTORIAL_TASKS)})",
                task,
                "pick from those names.",
            )
    fig, grid = new_axes(len(task_names), axes=axes)
    for ax, task in zip(grid.flat, task_names, strict=True):
        maker = TUTORIAL_TASKS[task][0]
        X, y = maker(n, r, seed=seed)[split_index]
        plot_dataset(
            X,
            y,
            boundary=BOUNDARIES[task],
            r=r,
            ax=ax,
            title=f"{task}\n{split}: {len(X)} points, {np.mean(y == 1):.0%} label 1",
        )
    return fig
