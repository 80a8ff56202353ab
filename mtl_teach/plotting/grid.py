"""Evaluate heads on a grid of 2-D points: the numbers behind every boundary plot.

The whole grid goes through the model in ONE batched forward pass, so a
200x200 grid for three heads costs a few milliseconds, not 40,000 calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mtl_teach._errors import MTLConfigError, fail
from mtl_teach._validation import is_integer, is_number
from mtl_teach.model import MultitaskClassifier, evaluating
from mtl_teach.plotting._common import check_model, input_field

DEFAULT_BOUNDS = (-1.0, 1.0)  # the toy tasks' points lie in [-1, 1)^2
WHERE = "DecisionBoundaryDisplay.from_model"
MAX_GRID_RESOLUTION = 1000


def make_grid(
    X: np.ndarray | None, grid_resolution: int, eps: float, where: str = WHERE
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``xx0, xx1``, each ``(grid_resolution, grid_resolution)``.

    The grid spans the points ``X`` (or [-1, 1] on both axes when ``X`` is
    None), widened by ``eps`` on every side.
    """
    if not is_integer(grid_resolution) or not 2 <= grid_resolution <= MAX_GRID_RESOLUTION:
        # The model sees grid_resolution**2 points: 1000 is a million already.
        fail(
            f"{where}(grid_resolution)",
            f"must be an integer from 2 to {MAX_GRID_RESOLUTION} (points per axis)",
            grid_resolution,
            "pass e.g. grid_resolution=100.",
        )
    if not is_number(eps) or not eps >= 0 or not np.isfinite(eps):
        fail(f"{where}(eps)", "must be a finite number >= 0 (margin around the points)", eps, "pass e.g. eps=0.1.")
    if X is None:
        low = np.array([DEFAULT_BOUNDS[0]] * 2)
        high = np.array([DEFAULT_BOUNDS[1]] * 2)
    else:
        X = np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
            fail(
                f"{where}(X)",
                "must be 2-D points of shape (n, 2), n >= 1",
                f"shape {X.shape}",
                "pass the task's inputs, e.g. X_train.",
                raw=True,
            )
        bad = int(np.size(X) - np.isfinite(X).sum())
        if bad:
            fail(
                f"{where}(X)",
                "must hold finite coordinates",
                f"{bad} NaN or infinite value(s)",
                "drop those points, e.g. X[np.isfinite(X).all(axis=1)].",
                raw=True,
            )
        low, high = X.min(axis=0), X.max(axis=0)
    axis0 = np.linspace(low[0] - eps, high[0] + eps, int(grid_resolution))
    axis1 = np.linspace(low[1] - eps, high[1] + eps, int(grid_resolution))
    return np.meshgrid(axis0, axis1)  # "xy" indexing: xx0 varies along columns


def grid_response(
    model: MultitaskClassifier, task_names: Sequence[str], xx0: np.ndarray, xx1: np.ndarray, where: str = WHERE
) -> dict[str, np.ndarray]:
    """P(class 1) of each task's head at every grid point, shape of ``xx0``.

    All grid points go through the model in ONE batched forward pass (per
    input field; tasks that read the same field share the trunk's output),
    in eval mode, through each task's own ``output_func``.

    Parameters
    ----------
    model
        The model whose heads to evaluate.
    task_names
        The tasks to evaluate; each must read 2-D points and have 2 classes.
    xx0, xx1
        Grid coordinates of equal shape, e.g. from :func:`make_grid`.
    where
        The caller's name, used in error messages.

    Returns
    -------
    dict
        Task name -> P(class 1), an array of the shape of ``xx0``.
    """
    check_model(model, where)
    # A `with` block, not torch's decorator, which would add a frame of
    # torch's code to the traceback of every error raised here.
    with torch.inference_mode():
        return _grid_response(model, task_names, xx0, xx1, where)


def _grid_response(
    model: MultitaskClassifier, task_names: Sequence[str], xx0: np.ndarray, xx1: np.ndarray, where: str
) -> dict[str, np.ndarray]:
    points = torch.from_numpy(np.column_stack([xx0.ravel(), xx1.ravel()]).astype(np.float32))  # (G*G, 2)
    fields = {task: input_field(model, task, where) for task in task_names}
    X_dict = dict.fromkeys(fields.values(), points)
    try:
        with evaluating(model):
            logits = model(X_dict, list(task_names))  # {task: (G*G, n_classes)}
    except MTLConfigError as error:
        fail(
            f"{where}(task_name)",
            "must name a task whose input is 2-D points, shape (n, 2)",
            f"{list(task_names)} (running them on (n, 2) grid points failed: {error})",
            "plot tasks that read 2-D points, like the toy circle and square tasks.",
            raw=True,
        )
    responses = {}
    for task in task_names:
        probs = model.tasks[task].output_func(logits[task]).float()  # (G*G, n_classes)
        if probs.dim() != 2 or probs.shape[1] != 2:
            fail(
                f"{where}(task_name)",
                "must name a binary task (a head with 2 outputs)",
                f"{task!r} with output shape {tuple(probs.shape)}",
                "plot a 2-class task.",
                raw=True,
            )
        responses[task] = probs[:, 1].cpu().numpy().reshape(xx0.shape)
    return responses
