"""What a shared trunk has learned: each output unit as a heatmap over the plane."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mtl_teach._errors import fail, names
from mtl_teach.model import MultitaskClassifier, evaluating
from mtl_teach.plotting._common import BOUNDARY_COLOR, FEATURE_CMAP, check_model, new_axes
from mtl_teach.plotting.grid import make_grid
from mtl_teach.task import INPUT

WHERE = "plot_trunk_features"


def _reads_points(model: MultitaskClassifier, module_name: str) -> bool:
    # True when some task feeds this module straight from an input field.
    for task in model.tasks.values():
        for op in task.op_sequence:
            if op.module_name == module_name and any(isinstance(i, tuple) and i[0] == INPUT for i in op.inputs):
                return True
    return False


def trunk_features(
    model: MultitaskClassifier, module_name: str = "base_mlp", *, grid_resolution: int = 100, eps: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``module_name`` on a grid over [-1, 1]^2 in one batched pass.

    Parameters
    ----------
    model
        A model whose trunk reads 2-D points.
    module_name
        The trunk module, e.g. ``"base_mlp"``.
    grid_resolution
        Grid points per axis.
    eps
        Margin added around [-1, 1] on every side.

    Returns
    -------
    xx0, xx1, features
        Grid coordinates ``(G, G)`` each, and the module's outputs
        ``(n_units, G, G)``: one map per output unit.
    """
    check_model(model, WHERE)
    # A `with` block rather than torch's decorator keeps torch's frames out of error tracebacks.
    with torch.inference_mode():
        return _trunk_features(model, module_name, grid_resolution, eps)


def _trunk_features(
    model: MultitaskClassifier, module_name: str, grid_resolution: int, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if module_name not in model.module_pool:
        fail(
            f"{WHERE}(module_name)",
            f"must name a module of the model (modules: {names(model.module_pool)})",
            module_name,
            "pass e.g. 'base_mlp'.",
        )
    if not _reads_points(model, module_name):
        fail(
            f"{WHERE}(module_name)",
            "must name a module that reads an input field directly (a trunk)",
            module_name,
            "pass the shared trunk, e.g. 'base_mlp'.",
        )
    xx0, xx1 = make_grid(None, grid_resolution, eps, WHERE)
    points = torch.from_numpy(np.column_stack([xx0.ravel(), xx1.ravel()]).astype(np.float32))  # (G*G, 2)
    module = model.module_pool[module_name]
    try:
        with evaluating(module):
            out = module(points.to(model.device))  # (G*G, n_units)
    except (RuntimeError, TypeError, ValueError) as error:
        fail(
            f"{WHERE}(module_name)",
            "must name a module that takes 2-D points, shape (n, 2)",
            f"{module_name!r} ({str(error).splitlines()[0]})",
            "pass a trunk that reads the toy tasks' points.",
            raw=True,
        )
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        fail(
            f"{WHERE}(module_name)",
            "must name a module whose output is one vector per point, shape (n, units)",
            module_name,
            "pass the trunk, e.g. 'base_mlp'.",
        )
    features = out.float().cpu().numpy().T.reshape(-1, *xx0.shape)  # (n_units, G, G)
    return xx0, xx1, features


def plot_trunk_features(
    model: MultitaskClassifier, module_name: str = "base_mlp", *, grid_resolution: int = 100, axes: Any = None
) -> Any:
    """Show each output unit of the shared trunk as a heatmap over [-1, 1]^2.

    Bright = large activation (each panel's colour bar gives its scale, from 0);
    the dotted line outlines where the unit is zero (a ReLU unit is "off" there). A unit that is zero everywhere is
    dead: no head can learn anything from it.

    Parameters
    ----------
    model
        A model whose trunk reads 2-D points.
    module_name
        The trunk module, e.g. ``"base_mlp"``.
    grid_resolution
        Grid points per axis.
    axes
        One Axes per unit; a new figure when None.

    Returns
    -------
    Figure
        The figure drawn on.
    """
    xx0, xx1, features = trunk_features(model, module_name, grid_resolution=grid_resolution)
    fig, grid = new_axes(len(features), size=2.6, axes=axes)
    for unit, (ax, values) in enumerate(zip(grid.flat, features, strict=True)):
        top = float(values.max())
        image = ax.pcolormesh(xx0, xx1, values, cmap=FEATURE_CMAP, vmin=0.0, vmax=max(top, 1e-6), shading="auto")
        if values.min() <= 0.0 < top:
            ax.contour(xx0, xx1, values, levels=[1e-6], colors=BOUNDARY_COLOR, linestyles=":", linewidths=1)
        alive = float(np.mean(values > 0))
        ax.set_title(f"unit {unit}: active on {alive:.0%}" if top > 0 else f"unit {unit}: dead", fontsize="medium")
        ax.set_aspect("equal")
        ax.set_xticks([-1, 0, 1])
        ax.set_yticks([-1, 0, 1])
        ax.set_xlabel("x0")
        ax.set_ylabel("x1" if unit == 0 else "")
        fig.colorbar(image, ax=ax, shrink=0.7, label="activation")
    fig.suptitle(f"{module_name}: each output unit over the plane")
    return fig
