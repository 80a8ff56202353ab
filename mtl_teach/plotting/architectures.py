"""What soft-sharing architectures learn: MMoE/CGC gate weights over the plane, cross-stitch alphas over training.

:class:`GateWeightsDisplay` shows, for each task, how much its gate gives
each expert at every point of the toy tasks' plane: which expert a task uses
where. :class:`CrossStitchDisplay` draws the cross-stitch units' ``alpha``
per epoch, as :class:`~mtl_teach.architectures.CrossStitchLog` recorded them.
Both follow scikit-learn's Display pattern: compute once (``from_model``,
``from_log``), draw with ``plot``, keep ``axes_`` and ``figure_``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from mtl_teach._errors import fail, names
from mtl_teach.architectures import CGC, CrossStitchLog, MMoE, gate_modules
from mtl_teach.model import MultitaskClassifier, evaluating
from mtl_teach.plotting._common import FEATURE_CMAP, TASK_COLORS, check_model, new_axes
from mtl_teach.plotting.grid import make_grid
from mtl_teach.plotting.toy_data import draw_true_boundary

# The toy tasks' true boundaries, drawn over their gate maps for orientation.
TRUE_BOUNDARIES = {"circle_task": "circle", "inv_circle_task": "circle", "square_task": "square", "xor_task": "xor"}


class GateWeightsDisplay:
    """Each task's gate weight on each expert over the 2-D input plane.

    One row per task, one column per expert; a panel is blank where the task's
    gate cannot use that expert (CGC: another task's own experts). Bright =
    the task leans on that expert there; each row's panels sum to 1 at every point.
    Build it with :meth:`from_model`; draw (again) with :meth:`plot`.

    Parameters
    ----------
    xx0, xx1
        Grid coordinates, each ``(G, G)``.
    weights
        Task -> its gate weights on the grid, ``(G, G, n_experts of its gate)``.
    experts
        Task -> the names of the experts its gate mixes, in the order of ``weights``' last axis.
    module_name
        The gated module's name in the model's pool (for titles).
    """

    def __init__(
        self,
        *,
        xx0: np.ndarray,
        xx1: np.ndarray,
        weights: Mapping[str, np.ndarray],
        experts: Mapping[str, Sequence[str]],
        module_name: str = "mmoe",
    ) -> None:
        self.xx0, self.xx1 = xx0, xx1
        self.weights = dict(weights)
        self.experts = {task: list(e) for task, e in experts.items()}
        self.module_name = module_name
        self.axes_: Any = None
        self.figure_: Any = None

    @classmethod
    def from_model(
        cls,
        model: MultitaskClassifier,
        module_name: str | None = None,
        *,
        grid_resolution: int = 100,
        plot: bool = True,
        axes: Any = None,
    ) -> GateWeightsDisplay:
        """Evaluate every task's gate on a grid over [-1, 1]^2 (one batched pass) and, by default, draw.

        Parameters
        ----------
        model
            A model with an :class:`~mtl_teach.architectures.MMoE` or
            :class:`~mtl_teach.architectures.CGC` module reading 2-D points,
            e.g. ``build_model(["circle_task", "xor_task"], "mmoe", ...)``.
        module_name
            That module's name in the pool; None finds the model's only one.
        grid_resolution
            Grid points per axis.
        plot
            Draw at once (on ``axes``); False only computes.
        axes
            ``n_tasks x n_experts`` Axes to draw on; a new figure when None.
        """
        where = "GateWeightsDisplay.from_model"
        check_model(model, where)
        key, module = _gated_module(model, module_name, where)
        if module.in_features != 2:
            fail(
                f"{where}(model)",
                "must have a gated module that reads 2-D points (the input plane is drawn)",
                f"{key!r} with in_features={module.in_features}",
                "use it on the toy tasks' models, or read module.gate_weights(x) on your own inputs.",
                raw=True,
            )
        xx0, xx1 = make_grid(None, grid_resolution, 0.0, where)
        points = torch.from_numpy(np.column_stack([xx0.ravel(), xx1.ravel()]).astype(np.float32))  # (G*G, 2)
        with evaluating(model), torch.inference_mode():
            gates = module.gate_weights(points.to(model.device))  # {task: (G*G, n_experts)}
        weights = {task: g.float().cpu().numpy().reshape(*xx0.shape, -1) for task, g in gates.items()}
        display = cls(xx0=xx0, xx1=xx1, weights=weights, experts=module.gate_experts, module_name=key)
        return display.plot(axes=axes) if plot else display

    @property
    def expert_names(self) -> list[str]:
        """Every expert, in column order: first seen first (CGC: each task's own, then the shared)."""
        every = [expert for experts in self.experts.values() for expert in experts]
        own = [expert for expert in every if not expert.startswith("shared ")]
        return list(dict.fromkeys(own + every))  # CGC's shared experts in the last columns

    def plot(self, axes: Any = None, *, true_boundary: bool = True) -> GateWeightsDisplay:
        """Draw the ``tasks x experts`` grid of gate maps, one colour scale from 0 to 1.

        Parameters
        ----------
        axes
            ``n_tasks x n_experts`` Axes; a new figure when None.
        true_boundary
            Dash the toy task's true boundary over its row, to read the gates against it.
        """
        tasks, experts = list(self.weights), self.expert_names
        fig, grid = new_axes(len(experts), len(tasks), size=2.4, axes=axes)
        mesh = None
        for row, task in enumerate(tasks):
            labelled = False
            for column, expert in enumerate(experts):
                ax = grid[row, column]
                if expert not in self.experts[task]:
                    ax.set_axis_off()
                    ax.text(0.5, 0.5, f"not in\n{task}'s gate", ha="center", va="center", color="0.5")
                    continue
                values = self.weights[task][..., self.experts[task].index(expert)]  # (G, G)
                mesh = ax.pcolormesh(self.xx0, self.xx1, values, cmap=FEATURE_CMAP, vmin=0.0, vmax=1.0, shading="auto")
                if true_boundary and task in TRUE_BOUNDARIES:
                    draw_true_boundary(ax, TRUE_BOUNDARIES[task])
                ax.set_title(f"{expert}: {values.mean():.0%}", fontsize="medium")
                ax.set_xlim(self.xx0.min(), self.xx0.max())  # the xor boundary's lines overhang the grid
                ax.set_ylim(self.xx1.min(), self.xx1.max())
                ax.set_aspect("equal")
                ax.set_xticks([-1, 0, 1])
                ax.set_yticks([-1, 0, 1])
                if not labelled:  # the row's first map names its task
                    ax.set_ylabel(task, fontweight="bold", color=TASK_COLORS[row % len(TASK_COLORS)])
                    labelled = True
        if mesh is not None:
            fig.colorbar(mesh, ax=list(grid.flat), label="gate weight (each row sums to 1)", shrink=0.8)
        # Two short lines: a figure of 2 experts is only about 5 inches wide.
        fig.suptitle(f"{self.module_name}: which expert each task uses where\n(titles: mean weight over the plane)")
        self.axes_, self.figure_ = grid, fig
        return self

    def mean_weights(self) -> dict[str, dict[str, float]]:
        """Task -> expert -> its gate weight averaged over the plane."""
        return {
            task: {e: float(self.weights[task][..., k].mean()) for k, e in enumerate(self.experts[task])}
            for task in self.weights
        }

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.xx0.shape)
        means = "; ".join(
            f"{task}: " + ", ".join(f"{e} {w:.2f}" for e, w in experts.items())
            for task, experts in self.mean_weights().items()
        )
        return f"GateWeightsDisplay(grid={shape}, mean weights={{{means}}}, drawn={self.figure_ is not None})"


def _gated_module(model: MultitaskClassifier, module_name: str | None, where: str) -> tuple[str, MMoE | CGC]:
    found = gate_modules(model)
    if module_name is not None:
        if module_name not in found:
            fail(
                f"{where}(module_name)",
                f"must name an MMoE or CGC module of the model (gated modules: {names(found)})",
                module_name,
                "pass one of those, or leave module_name out.",
            )
        return module_name, found[module_name]
    if len(found) != 1:
        fail(
            f"{where}(model)",
            f"must have exactly one MMoE or CGC module, or name it with module_name (gated modules: {names(found)})",
            model.name,
            "build it with build_model(tasks, 'mmoe', ...) or 'cgc'.",
        )
    return next(iter(found.items()))


class CrossStitchDisplay:
    """The cross-stitch weights ``alpha`` over training: one panel per layer, one line per (task, source).

    ``alpha[l, t, s]`` is how much task ``t``'s column reads of task ``s``'s
    after layer ``l + 1``. Solid lines: a task's own column (``s = t``);
    dashed: another task's. Build it with :meth:`from_log`; draw (again) with :meth:`plot`.

    Parameters
    ----------
    epochs
        The recorded epochs, ``(n,)``; 0 is before training.
    alphas
        ``alpha`` at each, ``(n, n_layers, n_tasks, n_tasks)``.
    task_names
        The tasks, in ``alpha``'s order.
    """

    def __init__(self, *, epochs: np.ndarray, alphas: np.ndarray, task_names: Sequence[str]) -> None:
        self.epochs = np.asarray(epochs)
        self.alphas = np.asarray(alphas)
        self.task_names = list(task_names)
        self.axes_: Any = None
        self.figure_: Any = None

    @classmethod
    def from_log(cls, log: CrossStitchLog, *, plot: bool = True, axes: Any = None) -> CrossStitchDisplay:
        """Read what a :class:`~mtl_teach.architectures.CrossStitchLog` recorded and, by default, draw.

        Parameters
        ----------
        log
            The callback, after ``Trainer(callbacks=[log]).fit(...)``.
        plot
            Draw at once (on ``axes``: one Axes per layer); False only computes.
        axes
            The Axes to draw on; a new figure when None.
        """
        if not isinstance(log, CrossStitchLog):
            fail(
                "CrossStitchDisplay.from_log(log)",
                "must be a CrossStitchLog",
                type(log).__name__,
                "pass the callback you trained with: log = CrossStitchLog(); Trainer(callbacks=[log]).fit(...).",
                raw=True,
            )
        if not log.epochs:
            fail(
                "CrossStitchDisplay.from_log(log)",
                "must have recorded a training run",
                log,
                "pass it to the Trainer first: Trainer(callbacks=[log]).fit(model, dataloaders).",
            )
        display = cls(epochs=np.asarray(log.epochs), alphas=log.alphas, task_names=log.task_names)
        return display.plot(axes=axes) if plot else display

    def plot(self, axes: Any = None) -> CrossStitchDisplay:
        """Draw one panel per cross-stitch layer (a new figure when ``axes`` is None)."""
        from matplotlib.ticker import MaxNLocator

        n_layers = self.alphas.shape[1]
        fig, grid = new_axes(n_layers, size=3.4, axes=axes)
        for layer, ax in enumerate(grid.flat):
            for t, task in enumerate(self.task_names):
                for s, source in enumerate(self.task_names):
                    own = s == t
                    ax.plot(
                        self.epochs,
                        self.alphas[:, layer, t, s],
                        color=TASK_COLORS[t % len(TASK_COLORS)],
                        linestyle="-" if own else "--",
                        marker="o" if own else "^",
                        markersize=3,
                        label=f"{task} <- {'own column' if own else source}",
                    )
            ax.axhline(0.0, color="black", linewidth=0.8)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch (0: before training)")
            ax.set_ylabel("alpha")
            ax.set_title(f"cross-stitch after layer {layer + 1}", fontsize="medium")
            ax.grid(alpha=0.3)
        # Below the panels, where it hides no line (alphas wander anywhere in the panel).
        handles, labels = grid.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 2), fontsize="small")
        self.axes_, self.figure_ = grid, fig
        return self

    def final(self) -> np.ndarray:
        """``alpha`` after the last recorded epoch, ``(n_layers, n_tasks, n_tasks)``."""
        return self.alphas[-1]

    def __repr__(self) -> str:
        rows = "; ".join(
            f"layer {layer + 1}: " + np.array2string(self.final()[layer], precision=2, separator=", ").replace("\n", "")
            for layer in range(self.alphas.shape[1])
        )
        return (
            f"CrossStitchDisplay(tasks={self.task_names}, epochs={len(self.epochs)}, final alpha={{{rows}}}, "
            f"drawn={self.figure_ is not None})"
        )


__all__ = ["CrossStitchDisplay", "GateWeightsDisplay"]
