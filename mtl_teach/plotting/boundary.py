"""Decision boundaries of a multi-task model's heads, in scikit-learn's Display style.

:class:`DecisionBoundaryDisplay` computes once (``xx0``, ``xx1``,
``response``) and draws on demand (``plot``), so tests can check the
numbers and notebooks can redraw without re-running the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mtl_teach._errors import check_choice, fail
from mtl_teach.data import SPLITS
from mtl_teach.plotting._common import (
    BOUNDARY_COLOR,
    CLASS_COLORS,
    CLASS_MARKERS,
    PROB_CMAP,
    as_array,
    check_axes,
    check_task,
    input_field,
    new_axes,
    points_for,
    pyplot,
    task_names_of,
)
from mtl_teach.plotting.grid import WHERE, grid_response, make_grid
from mtl_teach.plotting.toy_data import draw_true_boundary

if TYPE_CHECKING:
    from mtl_teach.data import DictDataLoader
    from mtl_teach.model import MultitaskClassifier


class DecisionBoundaryDisplay:
    """P(class 1) of one task's head over a grid of 2-D points, and its drawing.

    Build it with :meth:`from_model`; draw (again) with :meth:`plot`.

    Parameters
    ----------
    xx0, xx1
        Grid coordinates, each ``(G, G)`` (as from ``np.meshgrid``).
    response
        P(class 1) at each grid point, ``(G, G)``.
    task_name
        The task whose head this is (used as the title).
    X, y
        Optional points ``(n, 2)`` and their gold labels ``(n,)`` to overlay.

    Attributes
    ----------
    ax_, figure_
        The Axes and Figure drawn on; set by :meth:`plot`.
    """

    def __init__(
        self,
        *,
        xx0: np.ndarray,
        xx1: np.ndarray,
        response: np.ndarray,
        task_name: str = "",
        X: np.ndarray | None = None,
        y: np.ndarray | None = None,
    ) -> None:
        self.xx0 = xx0
        self.xx1 = xx1
        self.response = response
        self.task_name = task_name
        self.X = X
        self.y = y
        self.ax_: Any = None
        self.figure_: Any = None

    @classmethod
    def from_model(
        cls,
        model: MultitaskClassifier,
        task_name: str,
        *,
        X: np.ndarray | torch.Tensor | None = None,
        y: np.ndarray | torch.Tensor | None = None,
        grid_resolution: int = 100,
        eps: float = 0.1,
        ax: Any = None,
        plot: bool = True,
    ) -> DecisionBoundaryDisplay:
        """Evaluate ``task_name``'s head on a grid and (by default) draw it.

        Parameters
        ----------
        model
            A :class:`~mtl_teach.MultitaskClassifier` with 2-D point inputs.
        task_name
            The task whose head to plot.
        X, y
            Points ``(n, 2)`` and gold labels ``(n,)``: the grid spans ``X``
            and the points are drawn on top. Without ``X`` the grid spans [-1, 1]^2.
        grid_resolution
            Grid points per axis; the model sees ``grid_resolution**2`` points.
        eps
            Margin added around the points (or around [-1, 1]) on every side.
        ax
            Axes to draw on; a new figure when None.
        plot
            Draw right away (as scikit-learn does); False only computes.
        """
        check_task(model, task_name, WHERE)
        check_axes(ax, WHERE)
        X_np = None if X is None else np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X)
        y_np = None if y is None else np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
        if y_np is not None and (X_np is None or y_np.shape != (len(X_np),)):
            fail(
                f"{WHERE}(y)",
                "must be one gold label per point of X, shape (n,)",
                f"shape {y_np.shape} with X {None if X_np is None else X_np.shape}",
                "pass y together with the X it labels.",
                raw=True,
            )
        xx0, xx1 = make_grid(X_np, grid_resolution, eps)
        response = grid_response(model, [task_name], xx0, xx1)[task_name]
        display = cls(xx0=xx0, xx1=xx1, response=response, task_name=task_name, X=X_np, y=y_np)
        return display.plot(ax=ax) if plot else display

    def inside_fraction(self) -> float:
        """Share of grid points the head puts in class 1 (response > 0.5)."""
        return float(np.mean(self.response > 0.5))

    def plot(self, ax: Any = None, *, title: str | None = None, colorbar: bool = False) -> DecisionBoundaryDisplay:
        """Shade P(class 1), draw the 0.5 contour and the points; return self.

        Parameters
        ----------
        ax
            Axes to draw on; a new figure when None. Kept as ``ax_``, its
            figure as ``figure_``.
        title
            Panel title; the task name when None.
        colorbar
            Add a colour bar for P(class 1).

        Returns
        -------
        DecisionBoundaryDisplay
            ``self``, now drawn.
        """
        check_axes(ax, "DecisionBoundaryDisplay.plot")
        if ax is None:
            _, axes = new_axes(1)
            ax = axes[0, 0]
        levels = np.linspace(0.0, 1.0, 11)
        shading = ax.contourf(
            self.xx0, self.xx1, self.response, levels=levels, cmap=PROB_CMAP, vmin=0.0, vmax=1.0, alpha=0.8
        )
        if self.response.min() < 0.5 < self.response.max():
            ax.contour(self.xx0, self.xx1, self.response, levels=[0.5], colors=BOUNDARY_COLOR, linewidths=2)
        if self.X is not None:
            labels = self.y if self.y is not None else np.full(len(self.X), -1)
            if self.y is None:
                ax.scatter(self.X[:, 0], self.X[:, 1], s=10, c="0.3", marker=".")
            for cls_id, (color, marker) in enumerate(zip(CLASS_COLORS, CLASS_MARKERS, strict=True)):
                chosen = labels == cls_id
                if chosen.any():
                    ax.scatter(
                        self.X[chosen, 0],
                        self.X[chosen, 1],
                        s=14,
                        c=color,
                        marker=marker,
                        edgecolors="white",
                        linewidths=0.4,
                        label=f"gold {cls_id}",
                    )
        ax.set_aspect("equal")
        ax.set_xlim(self.xx0.min(), self.xx0.max())
        ax.set_ylim(self.xx1.min(), self.xx1.max())
        ax.set_xlabel("x0")
        ax.set_ylabel("x1")
        ax.set_title(self.task_name if title is None else title)
        if colorbar:
            ax.figure.colorbar(shading, ax=ax, label="P(class 1)", shrink=0.8)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.response.shape)
        points = 0 if self.X is None else len(self.X)
        return (
            f"DecisionBoundaryDisplay(task_name={self.task_name!r}, grid={shape}, "
            f"x0=[{self.xx0.min():.2f}, {self.xx0.max():.2f}], x1=[{self.xx1.min():.2f}, {self.xx1.max():.2f}], "
            f"inside_fraction={self.inside_fraction():.3f}, points={points}, drawn={self.ax_ is not None})"
        )


def plot_decision_boundaries(
    model: MultitaskClassifier,
    task_names: Sequence[str] | str | None = None,
    *,
    dataloaders: Sequence[DictDataLoader] | DictDataLoader | None = None,
    split: str = "test",
    grid_resolution: int = 100,
    eps: float = 0.1,
    axes: Any = None,
    suptitle: str | None = None,
    colorbar: bool = True,
    legend: bool = True,
) -> list[DecisionBoundaryDisplay]:
    """Draw every task's decision boundary in one row of panels.

    The row gets one colour bar for P(class 1) and, below the panels (never
    over a point), one legend for the gold-label markers and the boundary.

    Parameters
    ----------
    model
        The trained model.
    task_names
        Tasks to plot, in order; all of the model's tasks when None.
    dataloaders
        Loaders whose ``split`` points (gold-coloured) go on each panel.
    split
        Which split's points to draw.
    grid_resolution, eps
        As for :meth:`DecisionBoundaryDisplay.from_model`.
    axes
        One Axes per task; a new figure when None.
    suptitle
        Title above the row.
    colorbar
        Add one colour bar, P(class 1), for the whole row.
    legend
        Add the legend of :func:`class_legend` below the row.

    Returns
    -------
    list of DecisionBoundaryDisplay
        One per task; each keeps its ``ax_`` and ``figure_``.
    """
    where = "plot_decision_boundaries"
    chosen = task_names_of(model, task_names, where)
    check_choice(f"{where}(split)", split, SPLITS)
    fig, grid = new_axes(len(chosen), axes=axes)
    # One grid for all panels (over [-1, 1]^2), so every head sees the same
    # points and the model runs once for all tasks.
    xx0, xx1 = make_grid(None, grid_resolution, eps, where)
    responses = grid_response(model, chosen, xx0, xx1, where)
    displays = []
    for ax, task in zip(grid.flat, chosen, strict=True):
        X, y = points_for(dataloaders, task, input_field(model, task, where), split)
        display = DecisionBoundaryDisplay(xx0=xx0, xx1=xx1, response=responses[task], task_name=task, X=X, y=y)
        displays.append(display.plot(ax=ax))
    finish_row(displays, colorbar=colorbar, legend=legend)
    if suptitle:
        fig.suptitle(suptitle)
    return displays


def compare_boundaries(
    models: Mapping[str, MultitaskClassifier],
    task_name: str,
    *,
    X: np.ndarray | torch.Tensor | None = None,
    y: np.ndarray | torch.Tensor | None = None,
    true_boundary: str | None = None,
    grid_resolution: int = 100,
    axes: Any = None,
) -> list[DecisionBoundaryDisplay]:
    """One task's decision boundary in several models, side by side on the same grid.

    For comparing models of the same task (alone vs shared, before vs after):
    one panel per model, the same points on each, one colour bar and the
    legend below the row.

    Parameters
    ----------
    models
        ``{panel title: model}``; each must have the task ``task_name``.
    task_name
        The binary task to draw.
    X, y
        Points ``(n, 2)`` and gold labels ``(n,)`` drawn on every panel.
    true_boundary
        ``"circle"`` or ``"square"`` to draw that true boundary (dashed); None for none.
    grid_resolution
        Grid points per axis.
    axes
        One Axes per model; a new figure when None.

    Returns
    -------
    list of DecisionBoundaryDisplay
        One per model, drawn.
    """
    xx0, xx1 = make_grid(None, grid_resolution, 0.1, "compare_boundaries")  # the whole square, as for every head
    displays = draw_models(models, task_name, xx0, xx1, as_array(X), as_array(y), axes, "compare_boundaries")
    extra = []
    if true_boundary is not None:
        for display in displays:
            draw_true_boundary(display.ax_, true_boundary)
        extra = [pyplot().Line2D([], [], color=BOUNDARY_COLOR, linestyle="--", label="true boundary")]
    finish_row(displays, colorbar=True, legend=True, extra=extra)
    return displays


def draw_models(
    models: Mapping[str, MultitaskClassifier],
    task_name: str,
    xx0: np.ndarray,
    xx1: np.ndarray,
    X: np.ndarray | None,
    y: np.ndarray | None,
    axes: Any,
    where: str,
) -> list[DecisionBoundaryDisplay]:
    """Draw ``task_name``'s boundary of each model on the grid ``xx0, xx1``, one panel per model.

    The shared core of :func:`compare_boundaries` and
    :func:`mtl_teach.plotting.plot_slice_boundaries`; ``where`` names the caller in errors.
    """
    if not isinstance(models, Mapping) or not models:
        fail(f"{where}(models)", "must be a non-empty dict {title: model}", models, 'pass e.g. {"plain": plain}.')
    for model in models.values():
        check_task(model, task_name, where)
    _, grid = new_axes(len(models), axes=axes)
    displays = []
    for ax, (title, model) in zip(grid.flat, models.items(), strict=True):
        response = grid_response(model, [task_name], xx0, xx1, where)[task_name]
        displays.append(
            DecisionBoundaryDisplay(xx0=xx0, xx1=xx1, response=response, task_name=title, X=X, y=y).plot(ax=ax)
        )
    return displays


def finish_row(
    displays: Sequence[DecisionBoundaryDisplay], *, colorbar: bool, legend: bool, extra: Sequence[Any] = ()
) -> None:
    """Give a row of drawn boundary panels one colour bar, P(class 1), and the class legend below them."""
    drawn = [display.ax_ for display in displays]
    if colorbar:
        plt = pyplot()
        scale = plt.cm.ScalarMappable(norm=plt.Normalize(0.0, 1.0), cmap=PROB_CMAP)
        drawn[0].figure.colorbar(scale, ax=drawn, label="P(class 1)", shrink=0.8)
    if legend:
        class_legend(drawn[-1], extra)


def class_legend(ax: Any, extra: Sequence[Any] = ()) -> Any:
    """Add a legend for the two gold-label markers and the 0.5 boundary line, below the plots.

    It goes under the figure's panels, outside every Axes, so it never
    covers a point: in a figure with constrained layout (every figure the
    kit makes) the panels make room for it; elsewhere it hangs just below.

    Parameters
    ----------
    ax
        An Axes of the figure to label.
    extra
        More legend handles after the three, e.g. the slice outlines of
        :func:`mtl_teach.plotting.plot_slice_boundaries`.

    Returns
    -------
    Legend
        The figure legend.
    """
    if ax is None:
        fail(
            "class_legend(ax)", "must be a matplotlib Axes", None, "pass an Axes of the figure, e.g. displays[-1].ax_."
        )
    check_axes(ax, "class_legend")
    plt = pyplot()
    handles = [
        plt.Line2D([], [], color=CLASS_COLORS[i], marker=CLASS_MARKERS[i], linestyle="", label=f"gold label {i}")
        for i in (0, 1)
    ]
    handles.append(plt.Line2D([], [], color=BOUNDARY_COLOR, linewidth=2, label="P = 0.5 boundary"))
    handles += list(extra)
    figure = ax.figure
    constrained = type(figure.get_layout_engine()).__name__ == "ConstrainedLayoutEngine"
    placement = (
        {"loc": "outside lower center"} if constrained else {"loc": "upper center", "bbox_to_anchor": (0.5, 0.0)}
    )
    return figure.legend(handles=handles, ncol=min(len(handles), 5), fontsize="small", frameon=False, **placement)
