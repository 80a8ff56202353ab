"""A grid of a real-digit data set's pictures, each with its labels underneath."""

from __future__ import annotations

from typing import Any

import numpy as np

from mtl_teach._errors import check_choice, fail
from mtl_teach.data import SPLITS
from mtl_teach.datasets import DatasetSplits, TaskInfo
from mtl_teach.plotting._common import check_axes, pyplot

GAP = 1  # blank pixels between two pictures
CAPTION = 4  # rows of blank pixels under each picture for its labels


class DigitsDisplay:
    """A data set's first pictures in a grid, each captioned with its labels.

    Build it with :meth:`from_data`; draw (again) with :meth:`plot`. The
    caption lists one value per task, in the order the title names them:
    the class id (``?`` where the label is missing, -1), or a regression
    target rounded to a whole number (``?`` where NaN).

    Parameters
    ----------
    images
        ``(n, H, W)`` pictures, ink in [0, 1].
    labels
        Task name -> ``(n,)`` labels, in task order.
    tasks
        The tasks' :class:`~mtl_teach.datasets.TaskInfo`, in the same order.
    title
        What the grid shows, e.g. ``"multi_digits, train"``.
    n_cols
        Pictures per row of the grid.
    """

    def __init__(
        self,
        *,
        images: np.ndarray,
        labels: dict[str, np.ndarray],
        tasks: tuple[TaskInfo, ...],
        title: str,
        n_cols: int = 8,
    ) -> None:
        self.images = images
        self.n_cols = n_cols
        self.labels = labels
        self.tasks = tasks
        self.title = title
        self.ax_: Any = None
        self.figure_: Any = None

    @classmethod
    def from_data(
        cls,
        data: DatasetSplits,
        *,
        split: str = "train",
        n: int = 24,
        n_cols: int = 8,
        plot: bool = True,
        ax: Any = None,
    ) -> DigitsDisplay:
        """Take the first ``n`` examples of one split of ``data`` and (by default) draw them.

        Parameters
        ----------
        data
            What :func:`mtl_teach.datasets.load` returned.
        split
            ``"train"``, ``"valid"`` or ``"test"``.
        n
            How many pictures, 1 to 200.
        n_cols
            Pictures per row of the grid.
        plot
            Draw at once (on ``ax``); False only collects the pictures.
        ax
            The Axes to draw on; a new figure when None.
        """
        where = "DigitsDisplay.from_data"
        if not isinstance(data, DatasetSplits):
            fail(
                f"{where}(data)",
                "must be a data set from mtl_teach.datasets.load",
                type(data).__name__,
                'pass e.g. datasets.load("multi_digits").',
                raw=True,
            )
        check_choice(f"{where}(split)", split, SPLITS)
        for name, value, high in (("n", n, 200), ("n_cols", n_cols, 50)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 1 <= value <= high:
                fail(f"{where}({name})", f"must be an integer from 1 to {high}", value, f"pass e.g. {name}=8.")
        dataset = getattr(data, split)
        count = min(int(n), len(dataset))
        images = dataset.X_dict[data.input_key][:count, 0].numpy()  # (count, H, W): the one channel
        labels = {task.name: dataset.Y_dict[task.name][:count].numpy() for task in data.tasks}
        display = cls(images=images, labels=labels, tasks=data.tasks, title=f"{data.name}, {split}", n_cols=int(n_cols))
        return display.plot(ax=ax) if plot else display

    def captions(self) -> list[str]:
        """One caption per picture: each task's label, in task order."""
        columns = [[_label(task, value) for value in self.labels[task.name]] for task in self.tasks]
        return [" ".join(row) for row in zip(*columns, strict=True)]

    def plot(self, ax: Any = None) -> DigitsDisplay:
        """Draw the grid on ``ax`` (a new figure when None): dark ink on white, labels under each picture."""
        check_axes(ax, "DigitsDisplay.plot")
        count, height, width = self.images.shape
        n_cols = min(self.n_cols, count)
        n_rows = -(-count // n_cols)
        cell_h, cell_w = height + CAPTION, width + GAP
        # One mosaic, NaN (drawn white) between the pictures and under them for the captions.
        mosaic = np.full((n_rows * cell_h, n_cols * cell_w - GAP), np.nan)
        for i, image in enumerate(self.images):
            row, col = divmod(i, n_cols)
            mosaic[row * cell_h : row * cell_h + height, col * cell_w : col * cell_w + width] = image
        if ax is None:
            # About 0.08 inch per pixel, plus room for the title.
            size = (0.08 * n_cols * cell_w + 0.2, 0.08 * n_rows * cell_h + 0.4)
            _, ax = pyplot().subplots(figsize=size, layout="constrained")
        cmap = pyplot().get_cmap("gray_r").with_extremes(bad="white")
        ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        for i, caption in enumerate(self.captions()):
            row, col = divmod(i, n_cols)
            x = col * cell_w + (width - 1) / 2
            y = row * cell_h + height + 0.4
            ax.text(x, y, caption, ha="center", va="top", fontsize=7)
        ax.set_axis_off()
        order = ", ".join(_short(task) for task in self.tasks)
        ax.set_title(f"{self.title}: labels {order}", fontsize=9)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def __repr__(self) -> str:
        shape = "x".join(str(size) for size in self.images.shape[1:])
        return (
            f"DigitsDisplay({self.title!r}, {len(self.images)} pictures of {shape}, "
            f"tasks={[task.name for task in self.tasks]}, drawn={self.ax_ is not None})"
        )


def _short(task: TaskInfo) -> str:
    return task.name.removesuffix("_task")


def _label(task: TaskInfo, value: Any) -> str:
    if task.kind == "regression":
        return "?" if np.isnan(value) else f"{value:+.0f}"
    return "?" if value == -1 else str(int(value))
