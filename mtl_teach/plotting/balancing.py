"""Displays of task balancing from ``Trainer.history``: gradient cosines and learned task weights.

:class:`ToyTrajectoriesDisplay` draws the CAGrad paper's two-parameter toy.
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
from mtl_teach._validation import is_integer
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


def _table(
    history: Mapping[str, Any], keys: Sequence[str], epochs: np.ndarray, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """The epochs, and each key's values as one row, ``(len(keys), n_epochs)``.

    Histories merged from several fits (``histories.update(trainer.history)``,
    one pair of tasks per fit) keep the last fit's ``"epoch"`` list and each
    key as long as its own run: a shorter run's row ends in NaN (drawn blank),
    and the epochs run 1, 2, ... to the longest.
    """
    rows = []
    for key in keys:
        try:
            rows.append(np.asarray(history[key], dtype=float).reshape(-1))  # (its run's epochs,)
        except (TypeError, ValueError) as error:
            fail(
                f"{where}(history)[{key!r}]",
                "must be a list of numbers, one per epoch",
                history[key],
                "pass trainer.history, or a dict merged from several (histories.update(trainer.history)).",
                cause=error,
            )
    n_epochs = max([len(epochs), *(len(row) for row in rows)])
    table = np.full((len(rows), n_epochs), np.nan)
    for i, row in enumerate(rows):
        table[i, : len(row)] = row
    if len(epochs) != n_epochs:
        epochs = np.arange(1, n_epochs + 1, dtype=float)  # a Trainer's runs count epochs from 1
    return epochs, table


def _new_ax(ax: Any, where: str) -> Any:
    check_axes(ax, where)
    if ax is None:
        _, ax = pyplot().subplots(figsize=(6.4, 2.8), layout="constrained")
    return ax


def _integer_epochs(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers


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
            ``trainer.history``, or several merged (``histories.update(trainer.history)``,
            one pair of tasks per fit; runs of different lengths are padded with NaN).
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
        epochs, cosines = _table(history, keys, epochs, "GradCosineDisplay.from_history")  # cosines: (pairs, epochs)
        display = cls(pairs=[k.removesuffix(COSINE_SUFFIX) for k in keys], epochs=epochs, cosines=cosines)
        return display.plot(ax=ax) if plot else display

    def plot(self, ax: Any = None, *, colorbar: bool = True) -> GradCosineDisplay:
        """Draw the heatmap on ``ax`` (a new figure when None), colours fixed to [-1, 1]."""
        ax = _new_ax(ax, "GradCosineDisplay.plot")
        # Cell edges half an epoch either side, so each epoch is one column centred on its number.
        edges = np.concatenate([self.epochs - 0.5, self.epochs[-1:] + 0.5])
        rows = np.arange(len(self.pairs) + 1) - 0.5
        # Grey where a pair was not measured (a shorter run of a merged history): white means cosine 0.
        from matplotlib import colormaps

        cmap = colormaps[PROB_CMAP].with_extremes(bad="0.8")
        mesh = ax.pcolormesh(edges, rows, np.ma.masked_invalid(self.cosines), cmap=cmap, vmin=-1.0, vmax=1.0)
        ax.set_yticks(range(len(self.pairs)), [p.replace("+", " vs\n") for p in self.pairs])
        ax.set_ylim(len(self.pairs) - 0.5, -0.5)  # the first pair on top, as in a table
        _integer_epochs(ax)
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
        epochs, weights = _table(history, keys, epochs, "TaskWeightsDisplay.from_history")  # weights: (tasks, epochs)
        display = cls(tasks=[k.removesuffix(WEIGHT_SUFFIX) for k in keys], epochs=epochs, weights=weights)
        return display.plot(ax=ax) if plot else display

    def plot(self, ax: Any = None) -> TaskWeightsDisplay:
        """One line per task on ``ax`` (a new figure when None); log scale (ticks 1-2-5) when the weights span 10x."""
        ax = _new_ax(ax, "TaskWeightsDisplay.plot")
        for i, task in enumerate(self.tasks):
            ax.plot(self.epochs, self.weights[i], marker="o", markersize=3, color=TASK_COLORS[i % 8], label=task)
        positive = self.weights[np.isfinite(self.weights) & (self.weights > 0)]
        if positive.size and positive.max() / positive.min() > 10:
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

            ax.set_yscale("log")
            # Ticks at 1, 2 and 5 times each power of 10: a range such as 0.3 to 4 still gets
            # several labelled ticks (0.5, 1, 2), where powers of 10 alone would give just "1".
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # 0.1, 1, not 10^-1
            ax.yaxis.set_minor_formatter(NullFormatter())
        _integer_epochs(ax)
        ax.set_xlabel("epoch")
        ax.set_ylabel("task weight")
        ax.set_title("learned task weights")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def final(self) -> dict[str, float]:
        """Each task's weight after the last epoch of its run."""
        last = {}
        for task, row in zip(self.tasks, self.weights, strict=True):
            logged = row[np.isfinite(row)]  # a shorter run of a merged history ends in NaN
            last[task] = float(logged[-1]) if logged.size else float("nan")
        return last

    def __repr__(self) -> str:
        last = ", ".join(f"{t}: {w:.3g}" for t, w in self.final().items())
        return f"TaskWeightsDisplay(epochs={len(self.epochs)}, final weights={{{last}}}, drawn={self.ax_ is not None})"


class ToyTrajectoriesDisplay:
    """The CAGrad paper's two-task toy: both loss landscapes, and each method's path from the paper's starts.

    Build it with :meth:`from_methods` (runs :func:`mtl_teach.toy_objectives.optimize_toy`
    for each method, all starting points at once); draw (again) with :meth:`plot`.

    Parameters
    ----------
    trajectories
        Method name -> path, ``(steps + 1, n_starts, 2)``.
    xx0, xx1
        Grid coordinates, each ``(G, G)``.
    losses
        Both task losses on the grid, ``(G, G, 2)``.
    pareto
        Points of the Pareto set, ``(m, 2)``.
    settings
        The optimiser's settings the paths were run with (``steps``, ``lr``,
        ``betas``), shown in the figure's title; empty when unknown.
    """

    def __init__(
        self,
        *,
        trajectories: Mapping[str, np.ndarray],
        xx0: np.ndarray,
        xx1: np.ndarray,
        losses: np.ndarray,
        pareto: np.ndarray,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.trajectories = dict(trajectories)
        self.xx0, self.xx1, self.losses, self.pareto = xx0, xx1, losses, pareto
        self.settings = dict(settings or {})
        self.axes_: Any = None
        self.figure_: Any = None

    @classmethod
    def from_methods(
        cls,
        methods: Sequence[str] = ("equal", "pcgrad", "cagrad"),
        *,
        steps: int = 4000,
        lr: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.9),
        grid_resolution: int = 150,
        plot: bool = True,
        axes: Any = None,
    ) -> ToyTrajectoriesDisplay:
        """Optimise the toy with each method from :data:`~mtl_teach.toy_objectives.STARTS` and (by default) draw.

        Parameters
        ----------
        methods
            Names of :data:`mtl_teach.weighting.METHODS` (or functions ``f(G)``).
        steps, lr, betas
            Adam's steps per method, learning rate and ``(beta1, beta2)``, as for
            :func:`~mtl_teach.toy_objectives.optimize_toy`. The defaults keep the
            paper's lesson in few steps; PyTorch's own betas, ``(0.9, 0.999)``,
            change it (see :mod:`mtl_teach.toy_objectives`).
        grid_resolution
            Points per side of the landscape grid over [-10, 10]^2.
        plot
            Draw at once (on ``axes``: 2 + len(methods) Axes); False only computes.
        axes
            The Axes to draw on; a new figure when None.
        """
        import torch

        from mtl_teach.toy_objectives import optimize_toy, pareto_set, toy_losses

        if isinstance(methods, str) or not methods:
            fail(
                "ToyTrajectoriesDisplay.from_methods(methods)",
                "must be a non-empty list of method names",
                methods,
                "pass e.g. ('equal', 'pcgrad', 'cagrad').",
            )
        if not is_integer(grid_resolution) or not 2 <= grid_resolution <= 1000:
            fail(
                "ToyTrajectoriesDisplay.from_methods(grid_resolution)",
                "must be an integer from 2 to 1000",
                grid_resolution,
                "use the default, 150.",
            )
        trajectories = {}
        for method in methods:
            name = method if isinstance(method, str) else getattr(method, "__name__", "method")
            trajectories[name] = optimize_toy(method, steps=steps, lr=lr, betas=betas).numpy()
        axis = torch.linspace(-10, 10, grid_resolution, dtype=torch.float64)
        xx1, xx0 = torch.meshgrid(axis, axis, indexing="ij")  # (G, G) each; rows follow x1
        losses = toy_losses(torch.stack([xx0.flatten(), xx1.flatten()], dim=1)).reshape(*xx0.shape, 2)
        display = cls(
            trajectories=trajectories,
            xx0=xx0.numpy(),
            xx1=xx1.numpy(),
            losses=losses.numpy(),
            pareto=pareto_set(201).numpy(),
            settings={"steps": steps, "lr": lr, "betas": tuple(betas)},
        )
        return display.plot(axes=axes) if plot else display

    def plot(self, axes: Any = None) -> ToyTrajectoriesDisplay:
        """Panels: task 1's loss, task 2's loss, then each method's paths on the mean loss."""
        from mtl_teach.plotting._common import new_axes

        panels = [("task 1 loss L1", self.losses[..., 0]), ("task 2 loss L2", self.losses[..., 1])]
        mean = self.losses.mean(axis=-1)
        panels += [(f"{name}: paths on (L1 + L2) / 2", mean) for name in self.trajectories]
        fig, grid = new_axes(len(panels), size=3.0, axes=axes)
        for index, (ax, (title, surface)) in enumerate(zip(grid.flat, panels, strict=True)):
            ax.contourf(self.xx0, self.xx1, surface, levels=20, cmap="cividis")
            ax.plot(self.pareto[:, 0], self.pareto[:, 1], color="white", linewidth=2.5, label="Pareto set")
            if index >= 2:
                path = self.trajectories[list(self.trajectories)[index - 2]]  # (steps + 1, starts, 2)
                for start in range(path.shape[1]):
                    ax.plot(path[:, start, 0], path[:, start, 1], color=TASK_COLORS[1], linewidth=1.5)
                    ax.plot(*path[0, start], marker="o", color=TASK_COLORS[1], markersize=5)
                    ax.plot(*path[-1, start], marker="*", color="#D55E00", markersize=11)
            ax.set_title(title, fontsize="medium")
            ax.set_xlabel("x1")
            ax.set_ylabel("x2")
            ax.set_aspect("equal")
        if self.settings:
            s = self.settings
            fig.suptitle(f"Adam, lr {s['lr']:g}, betas {tuple(s['betas'])}, {s['steps']} steps", fontsize="medium")
        self.axes_, self.figure_ = grid, fig
        return self

    def final_distances(self) -> dict[str, list[float]]:
        """Method -> distance of each path's end to the Pareto set (one per starting point)."""
        import torch

        from mtl_teach.toy_objectives import distance_to_pareto_set

        return {
            name: distance_to_pareto_set(torch.from_numpy(path[-1])).tolist()
            for name, path in self.trajectories.items()
        }

    def __repr__(self) -> str:
        ends = ", ".join(f"{name}: {[round(d, 2) for d in dist]}" for name, dist in self.final_distances().items())
        settings = "".join(f", {key}={value}" for key, value in self.settings.items())
        return f"ToyTrajectoriesDisplay(distance to the Pareto set at the end={{{ends}}}{settings})"


__all__ = ["GradCosineDisplay", "TaskWeightsDisplay", "ToyTrajectoriesDisplay"]
