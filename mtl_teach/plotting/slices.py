"""Plots for slice-aware training: slices outlined on boundaries, attention over the plane.

- :func:`outline_slice` draws the border of a slicing function's region
  (its mask on a fine grid, contoured at 0.5), so any slice can be
  outlined, not only rectangles.
- :func:`plot_slice_boundaries` puts several models' decision boundaries
  side by side with the slices outlined, optionally zoomed on one slice.
- :class:`SliceAttentionDisplay` shows, at every point of the plane, how
  much a :class:`~mtl_teach.slicing.SliceAwareClassifier` leans on each slice.

matplotlib is imported only when something is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mtl_teach._errors import fail
from mtl_teach.plotting._common import FEATURE_CMAP, TASK_COLORS, as_array, new_axes, pyplot
from mtl_teach.plotting.boundary import DecisionBoundaryDisplay, draw_models, finish_row
from mtl_teach.plotting.grid import make_grid
from mtl_teach.plotting.toy_data import legend_below, plot_dataset

if TYPE_CHECKING:
    from mtl_teach.model import MultitaskClassifier
    from mtl_teach.slicing import SliceAwareClassifier, SlicingFunction

# Okabe-Ito orange, green, ...: the tasks' palette without its blue, which the
# probability shading already uses.
SLICE_COLORS = TASK_COLORS[1:]
OUTLINE_RESOLUTION = 400  # grid points per axis for slice borders: sharp at notebook size
ZOOM_MARGIN = 0.15  # space around a zoomed-on slice, in input units


def _grid_points(xx0: np.ndarray, xx1: np.ndarray) -> np.ndarray:
    return np.column_stack([xx0.ravel(), xx1.ravel()]).astype(np.float32)  # (G*G, 2)


def slice_box(sf: SlicingFunction, margin: float = ZOOM_MARGIN) -> tuple[float, float, float, float]:
    """Bounding box ``(x0_min, x0_max, x1_min, x1_max)`` of ``sf``'s region in [-1, 1]^2, plus ``margin``."""
    xx0, xx1 = make_grid(None, OUTLINE_RESOLUTION, 0.0, "slice_box")
    mask = sf(_grid_points(xx0, xx1)).reshape(xx0.shape)
    if not mask.any():
        fail(
            f"slice_box: slicing function {sf.name!r}",
            "must mark some points of [-1, 1]^2",
            "an empty region",
            "check the slicing function, or do not zoom on it.",
            raw=True,
        )
    x0, x1 = xx0[mask], xx1[mask]
    return (x0.min() - margin, x0.max() + margin, x1.min() - margin, x1.max() + margin)


def outline_slice(ax: Any, sf: SlicingFunction, *, color: str = SLICE_COLORS[0], label: str | None = None) -> Any:
    """Draw the border of ``sf``'s region on ``ax`` (dashed, in colour); return the contour set.

    The region is ``sf`` evaluated on a fine grid over the Axes' current
    limits (default [-1.1, 1.1]^2), contoured at 0.5. Slices are drawn in the
    colours of ``SLICE_COLORS``, never in the black of true and learned
    boundaries. If ``ax`` already has a legend (e.g. from ``plot_dataset``),
    it is redrawn below the panel with the slice added.

    Parameters
    ----------
    ax
        The Axes to draw on.
    sf
        The slicing function whose region is outlined.
    color
        Line colour.
    label
        Legend entry; ``"slice <name>"`` when None, none when ``""``.
    """
    x_low, x_high = ax.get_xlim()
    y_low, y_high = ax.get_ylim()
    if (x_low, x_high) == (0.0, 1.0) and (y_low, y_high) == (0.0, 1.0):  # nothing drawn yet
        x_low, x_high, y_low, y_high = -1.1, 1.1, -1.1, 1.1
    xx0, xx1 = np.meshgrid(
        np.linspace(x_low, x_high, OUTLINE_RESOLUTION), np.linspace(y_low, y_high, OUTLINE_RESOLUTION)
    )
    mask = sf(_grid_points(xx0, xx1)).reshape(xx0.shape).astype(float)
    contours = ax.contour(xx0, xx1, mask, levels=[0.5], colors=color, linestyles="--", linewidths=1.5)
    text = f"slice {sf.name}" if label is None else label
    if text:  # a legend entry; label="" leaves it out
        ax.plot([], [], color=color, linestyle="--", linewidth=1.5, label=text)
        if ax.get_legend() is not None:
            legend_below(ax)
    return contours


def plot_sliced_dataset(
    X: np.ndarray,
    y: np.ndarray,
    sfs: Sequence[SlicingFunction],
    *,
    zoom: SlicingFunction | None = None,
    boundary: str | None = "circle",
    r: float = 1.0,
    axes: Any = None,
) -> Any:
    """The points with their slices outlined and, beside them, a zoom on one slice.

    A small slice is a few dots in the whole square; the zoom shows how its
    labels behave (in the toy patch world they follow ``x0 > x1``, not the circle).

    Parameters
    ----------
    X, y
        Points ``(n, 2)`` and gold labels ``(n,)`` (arrays or tensors).
    sfs
        Slicing functions whose regions are outlined (one colour each).
    zoom
        The slice to zoom on; the first of ``sfs`` when None.
    boundary, r
        The true boundary to draw, as for :func:`mtl_teach.plotting.plot_dataset`.
    axes
        Two Axes; a new figure when None.

    Returns
    -------
    numpy.ndarray
        The two Axes: the whole square, and the zoom.
    """
    if not sfs:
        fail("plot_sliced_dataset(sfs)", "must hold at least one slicing function", sfs, "pass e.g. [in_patch].")
    zoom = sfs[0] if zoom is None else zoom
    X, y = as_array(X), as_array(y)
    _, grid = new_axes(2, axes=axes)
    whole, close = grid.flat
    plot_dataset(X, y, boundary=boundary, r=r, ax=whole, title=f"{len(X)} points, slices outlined")
    x_low, x_high, y_low, y_high = slice_box(zoom)
    inside = (X[:, 0] >= x_low) & (X[:, 0] <= x_high) & (X[:, 1] >= y_low) & (X[:, 1] <= y_high)
    plot_dataset(X[inside], y[inside], boundary=boundary, r=r, ax=close, title=f"zoom on {zoom.name}")
    close.get_legend().remove()  # the same entries as the whole square's
    close.set_xlim(x_low, x_high)
    close.set_ylim(y_low, y_high)
    for ax in grid.flat:
        for sf, color in zip(sfs, SLICE_COLORS, strict=False):
            outline_slice(ax, sf, color=color, label=None if ax is whole else "")
    return grid.flat[:]


def plot_slice_boundaries(
    models: Mapping[str, MultitaskClassifier],
    task_name: str,
    sfs: Sequence[SlicingFunction],
    *,
    X: np.ndarray | torch.Tensor | None = None,
    y: np.ndarray | torch.Tensor | None = None,
    zoom: SlicingFunction | None = None,
    grid_resolution: int = 150,
    axes: Any = None,
) -> list[DecisionBoundaryDisplay]:
    """Each model's decision boundary for ``task_name``, side by side, slices outlined.

    Parameters
    ----------
    models
        ``{panel title: model}``; each must have the task ``task_name``.
    task_name
        The binary task to draw.
    sfs
        Slicing functions whose regions are outlined (one colour each).
    X, y
        Points ``(n, 2)`` and gold labels ``(n,)`` to draw on top (only those
        inside the view).
    zoom
        A slicing function to zoom on: the view is its region plus a margin.
    grid_resolution
        Grid points per axis of the view.
    axes
        One Axes per model; a new figure when None.

    Returns
    -------
    list of DecisionBoundaryDisplay
        One per model, drawn.
    """
    if zoom is None:
        xx0, xx1 = make_grid(None, grid_resolution, 0.1, "plot_slice_boundaries")
    else:
        x_low, x_high, y_low, y_high = slice_box(zoom)
        xx0, xx1 = np.meshgrid(np.linspace(x_low, x_high, grid_resolution), np.linspace(y_low, y_high, grid_resolution))
    points, labels = as_array(X), as_array(y)
    if points is not None:  # only the points inside the view
        inside = (points[:, 0] >= xx0.min()) & (points[:, 0] <= xx0.max())
        inside &= (points[:, 1] >= xx1.min()) & (points[:, 1] <= xx1.max())
        points, labels = points[inside], None if labels is None else labels[inside]
    displays = draw_models(models, task_name, xx0, xx1, points, labels, axes, "plot_slice_boundaries")
    for display in displays:
        for sf, color in zip(sfs, SLICE_COLORS, strict=False):
            outline_slice(display.ax_, sf, color=color, label="")
    plt = pyplot()
    outlines = [
        plt.Line2D([], [], color=color, linestyle="--", linewidth=1.5, label=f"slice {sf.name}")
        for sf, color in zip(sfs, SLICE_COLORS, strict=False)
    ]
    finish_row(displays, colorbar=True, legend=True, extra=outlines)
    return displays


class SliceAttentionDisplay:
    """Attention weight of each slice over a grid of 2-D points, and its drawing.

    Build it with :meth:`from_model`; draw (again) with :meth:`plot`.

    Parameters
    ----------
    xx0, xx1
        Grid coordinates, each ``(G, G)``.
    weights
        Attention weights, ``(G, G, n_slices)``; they sum to 1 over the last axis.
    slice_names
        Names of the slices, in the order of ``weights``' last axis.
    """

    def __init__(self, *, xx0: np.ndarray, xx1: np.ndarray, weights: np.ndarray, slice_names: Sequence[str]) -> None:
        self.xx0 = xx0
        self.xx1 = xx1
        self.weights = weights
        self.slice_names = list(slice_names)
        self.figure_: Any = None

    @classmethod
    def from_model(
        cls,
        model: SliceAwareClassifier,
        sfs: Sequence[SlicingFunction] = (),
        *,
        grid_resolution: int = 100,
        plot: bool = True,
        axes: Any = None,
    ) -> SliceAttentionDisplay:
        """Compute ``model.attention`` over [-1.1, 1.1]^2 and (by default) draw it, outlining ``sfs``."""
        if not hasattr(model, "attention") or not hasattr(model, "slice_names"):
            fail(
                "SliceAttentionDisplay.from_model(model)",
                "must be a SliceAwareClassifier (it reports attention weights)",
                type(model).__name__,
                "pass the slice-aware model.",
                raw=True,
            )
        xx0, xx1 = make_grid(None, grid_resolution, 0.1, "SliceAttentionDisplay.from_model")
        weights = model.attention(_grid_points(xx0, xx1)).reshape(*xx0.shape, -1)
        display = cls(xx0=xx0, xx1=xx1, weights=weights, slice_names=model.slice_names)
        return display.plot(sfs, axes=axes) if plot else display

    def plot(self, sfs: Sequence[SlicingFunction] = (), *, axes: Any = None) -> SliceAttentionDisplay:
        """One panel per slice: its attention weight (one shared colour scale), slices outlined."""
        fig, grid = new_axes(len(self.slice_names), axes=axes)
        top = float(self.weights.max())
        shading = None
        for index, (ax, name) in enumerate(zip(grid.flat, self.slice_names, strict=True)):
            shading = ax.pcolormesh(
                self.xx0, self.xx1, self.weights[..., index], cmap=FEATURE_CMAP, vmin=0.0, vmax=top, shading="auto"
            )
            for sf, color in zip(sfs, SLICE_COLORS, strict=False):
                outline_slice(ax, sf, color=color, label="")
            ax.set_aspect("equal")
            ax.set_title(f"attention on {name!r}")
            ax.set_xlabel("x0")
            ax.set_ylabel("x1")
        fig.colorbar(shading, ax=list(grid.flat), label="attention weight", shrink=0.8)
        self.figure_ = fig
        return self

    def mean_weight(self, slice_name: str, sf: SlicingFunction) -> tuple[float, float]:
        """Mean weight on ``slice_name`` inside and outside ``sf``'s region (grid points)."""
        if slice_name not in self.slice_names:
            fail(
                "SliceAttentionDisplay.mean_weight(slice_name)",
                f"must be one of {self.slice_names}",
                slice_name,
                "pass a slice of the model.",
            )
        inside = sf(_grid_points(self.xx0, self.xx1)).reshape(self.xx0.shape)
        weight = self.weights[..., self.slice_names.index(slice_name)]
        return float(weight[inside].mean()), float(weight[~inside].mean())

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.xx0.shape)
        means = ", ".join(f"{name}: {self.weights[..., i].mean():.3f}" for i, name in enumerate(self.slice_names))
        return f"SliceAttentionDisplay(grid={shape}, mean weights={{{means}}}, drawn={self.figure_ is not None})"
