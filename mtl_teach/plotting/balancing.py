"""Displays of task balancing from ``Trainer.history``: gradient cosines and learned task weights.

``Trainer(log_grad_cosine=True)`` logs ``"<a>+<b>/all/train/grad_cosine"``
per epoch; ``Trainer(weighting="uncertainty" or "gradnorm")`` logs
``"<task>/all/train/weight"``. Each Display computes its table with
``from_history`` and draws it with ``plot(ax=None)``, keeping ``ax_`` and
``figure_`` (scikit-learn's Display pattern).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mtl_teach._errors import fail, names
from mtl_teach.plotting._common import PROB_CMAP, TASK_COLORS, check_axes, pyplot

COSINE_SUFFIX = "/all/train/grad_cosine"
WEIGHT_SUFFIX = "/all/train/weight"


def _epochs(history: object, where: str) -> np.ndarray:
    if not isinstance(history, Mapping) or "epoch" not in history:
        fail(
            f"{where}(history)",
            "must be a Trainer's history: a dict with an 'epoch' list",
            type(history).__name__,
            "pass trainer.history after trainer.fit(...).",
            raw=True,
        )
    return np.asarray(history["epoch"], dtype=float)


def _new_ax(ax: Any, where: str) -> Any:
    check_axes(ax, where)
    if ax is None:
        _, ax = pyplot().subplots(figsize=(6.4, 2.8), layout="constrained")
    return ax


class GradCosineDisplay:
    """Cosine between two tasks' gradients on the shared trunk, per pair and epoch.

    Build it with :meth:`from_history`; draw (again) with :meth:`plot`: a
    pairs x epochs heatmap, red below 0 (the tasks pull the trunk apart),
    blue above (they pull together), white at 0.

    Parameters
    ----------
    pairs
        Task pairs, ``"a+b"``, one per row of ``cosines``.
    epochs
        Epoch numbers, ``(n_epochs,)``.
    cosines
        Mean cosine per pair and epoch, ``(n_pairs, n_epochs)``, in [-1, 1].
    """

    def __init__(self, *, pairs: Sequence[str], epochs: np.ndarray, cosines: np.ndarray) -> None:
        self.pairs = list(pairs)
        self.epochs = epochs
        self.cosines = cosines
        self.ax_: Any = None
        self.figure_: Any = None
        self.colorbar_: Any = None

    @classmethod
    def from_history(
        cls, history: Mapping[str, Sequence[float]], *, plot: bool = True, ax: Any = None
    ) -> GradCosineDisplay:
        """Read the ``.../grad_cosine`` keys of ``Trainer(log_grad_cosine=True)``'s history and (by default) draw.

        Parameters
        ----------
        history
            ``trainer.history``.
        plot
            Draw at once (on ``ax``); False only computes.
        ax
            The Axes to draw on; a new figure when None.
        """
        epochs = _epochs(history, "GradCosineDisplay.from_history")
        keys = sorted(k for k in history if k.endswith(COSINE_SUFFIX))
        if not keys:
            fail(
                "GradCosineDisplay.from_history(history)",
                "must hold gradient cosines ('<a>+<b>/all/train/grad_cosine' keys)",
                f"keys {names(history)[:120]}",
                "train with Trainer(log_grad_cosine=True, ...) on batches that carry two tasks' labels.",
                raw=True,
            )
        cosines = np.array([history[k] for k in keys], dtype=float)  # (pairs, epochs)
        display = cls(pairs=[k.removesuffix(COSINE_SUFFIX) for k in keys], epochs=epochs, cosines=cosines)
        return display.plot(ax=ax) if plot else display

    def plot(self, ax: Any = None, *, colorbar: bool = True) -> GradCosineDisplay:
        """Draw the heatmap on ``ax`` (a new figure when None), colours fixed to [-1, 1]."""
        ax = _new_ax(ax, "GradCosineDisplay.plot")
        # Cell edges half an epoch either side, so each epoch is one column centred on its number.
        edges = np.concatenate([self.epochs - 0.5, self.epochs[-1:] + 0.5])
        rows = np.arange(len(self.pairs) + 1) - 0.5
        mesh = ax.pcolormesh(edges, rows, self.cosines, cmap=PROB_CMAP, vmin=-1.0, vmax=1.0)
        ax.set_yticks(range(len(self.pairs)), [p.replace("+", " vs\n") for p in self.pairs])
        ax.set_xlabel("epoch")
        ax.set_title("cosine of the tasks' gradients on the shared trunk")
        self.colorbar_ = ax.figure.colorbar(mesh, ax=ax, label="cosine") if colorbar else None
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def mean(self, pair: str) -> float:
        """Mean cosine of ``pair`` (``"a+b"``) over the epochs."""
        if pair not in self.pairs:
            fail("GradCosineDisplay.mean(pair)", f"must be one of {names(self.pairs)}", pair, "pass one of those.")
        return float(np.nanmean(self.cosines[self.pairs.index(pair)]))

    def __repr__(self) -> str:
        means = ", ".join(f"{p}: {self.mean(p):+.2f}" for p in self.pairs)
        return f"GradCosineDisplay(epochs={len(self.epochs)}, mean cosine={{{means}}}, drawn={self.ax_ is not None})"


class TaskWeightsDisplay:
    """The task weights a weighting method learned, per epoch (``uncertainty``, ``gradnorm``).

    Parameters
    ----------
    tasks
        Task names, one per row of ``weights``.
    epochs
        Epoch numbers, ``(n_epochs,)``.
    weights
        Each task's weight at the end of each epoch, ``(n_tasks, n_epochs)``.
    """

    def __init__(self, *, tasks: Sequence[str], epochs: np.ndarray, weights: np.ndarray) -> None:
        self.tasks = list(tasks)
        self.epochs = epochs
        self.weights = weights
        self.ax_: Any = None
        self.figure_: Any = None

    @classmethod
    def from_history(
        cls, history: Mapping[str, Sequence[float]], *, plot: bool = True, ax: Any = None
    ) -> TaskWeightsDisplay:
        """Read the ``<task>/all/train/weight`` keys and (by default) draw.

        Parameters
        ----------
        history
            ``trainer.history`` of a fit with ``weighting="uncertainty"`` or ``"gradnorm"``.
        plot
            Draw at once (on ``ax``); False only computes.
        ax
            The Axes to draw on; a new figure when None.
        """
        epochs = _epochs(history, "TaskWeightsDisplay.from_history")
        keys = sorted(k for k in history if k.endswith(WEIGHT_SUFFIX))
        if not keys:
            fail(
                "TaskWeightsDisplay.from_history(history)",
                "must hold learned task weights ('<task>/all/train/weight' keys)",
                f"keys {names(history)[:120]}",
                "train with Trainer(weighting='uncertainty') or 'gradnorm': the other methods learn no weights.",
                raw=True,
            )
        weights = np.array([history[k] for k in keys], dtype=float)  # (tasks, epochs)
        display = cls(tasks=[k.removesuffix(WEIGHT_SUFFIX) for k in keys], epochs=epochs, weights=weights)
        return display.plot(ax=ax) if plot else display

    def plot(self, ax: Any = None) -> TaskWeightsDisplay:
        """One line per task on ``ax`` (a new figure when None); log scale when the weights span 10x."""
        ax = _new_ax(ax, "TaskWeightsDisplay.plot")
        for i, task in enumerate(self.tasks):
            ax.plot(self.epochs, self.weights[i], marker="o", markersize=3, color=TASK_COLORS[i % 8], label=task)
        positive = self.weights[np.isfinite(self.weights) & (self.weights > 0)]
        if positive.size and positive.max() / positive.min() > 10:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("task weight")
        ax.set_title("learned task weights")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def final(self) -> dict[str, float]:
        """Each task's weight after the last epoch."""
        return {task: float(self.weights[i, -1]) for i, task in enumerate(self.tasks)}

    def __repr__(self) -> str:
        last = ", ".join(f"{t}: {w:.3g}" for t, w in self.final().items())
        return f"TaskWeightsDisplay(epochs={len(self.epochs)}, final weights={{{last}}}, drawn={self.ax_ is not None})"


__all__ = ["GradCosineDisplay", "TaskWeightsDisplay"]
