"""The tutorial's toy tasks: points uniform on [-1, 1)^2, split 80/10/10.

Each maker returns ``(train, valid, test)``, each an ``(X, Y)`` pair of numpy
arrays (``X``: float32 ``(n, 2)``, ``Y``: int64 ``(n,)``), exactly the shape
of the Snorkel tutorial's ``utils.py``. Unlike that file, every maker takes
an explicit seed, mixed with the task's name, so the data never depend on
call order and two tasks with one seed still get different points.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Sequence

import numpy as np
import torch

from mtl_teach._errors import fail, names
from mtl_teach._validation import is_integer, is_number
from mtl_teach.data import SPLITS, DictDataLoader, DictDataset

Split = tuple[np.ndarray, np.ndarray]
Splits = tuple[Split, Split, Split]


def _points(kind: str, n: int, seed: int) -> np.ndarray:
    if not is_integer(n) or n < 10:
        fail(f"make_{kind}_dataset(n)", "must be an integer >= 10 (it is split 80/10/10)", n, "pass e.g. n=1000.")
    if not is_integer(seed) or seed < 0:
        fail(f"make_{kind}_dataset(seed)", "must be an integer >= 0", seed, "pass e.g. seed=0.")
    rng = np.random.default_rng([int(seed), zlib.crc32(kind.encode())])
    return rng.uniform(-1.0, 1.0, size=(int(n), 2)).astype(np.float32)


def _split(X: np.ndarray, Y: np.ndarray) -> Splits:
    # The points are i.i.d., so a contiguous 80/10/10 cut is a random split.
    n = len(X)
    a, b = int(0.8 * n), int(0.9 * n)
    return (X[:a], Y[:a]), (X[a:b], Y[a:b]), (X[b:], Y[b:])


def _check_r(kind: str, r: float) -> None:
    if not is_number(r) or not r > 0:
        fail(f"make_{kind}_dataset(r)", "must be a number > 0", r, "pass e.g. r=1.")


# What each maker compares r with, and about which fraction of the points r puts inside the shape
# (the circle's pi r / 4 holds for r <= 1; both reach 1 at r = 2, where every point is inside).
_R_RULES: dict[str, tuple[str, Callable[[float], float]]] = {
    "circle": ("a point is inside when x0^2 + x1^2 < r, so r is the squared radius", lambda r: min(np.pi * r / 4, 1)),
    "inv_circle": (
        "a point is outside when x0^2 + x1^2 > r, so r is the squared radius",
        lambda r: min(np.pi * r / 4, 1),
    ),
    "square": (
        "a point is inside when |x0| < r/2 and |x1| < r/2, so r is the side of the square",
        lambda r: min(r / 2, 1) ** 2,
    ),
}


def _warn_one_class(
    maker: str, kind: str, r: float, Y: np.ndarray, *, points: str = "points", stacklevel: int = 4
) -> None:
    """Warn when the labels ``Y``, shape ``(n,)``, are all one class (``stacklevel``: the caller's call).

    A task with one class teaches nothing, and scores 1.0 on data made the same
    way. The warning says whether ``r`` is the cause (it leaves less than one
    point of the other class to expect) or chance with few points.
    """
    if Y.size == 0 or Y.min() != Y.max():
        return
    meaning, inside = _R_RULES.get(kind, ("", lambda r: 0.5))
    expected_other = Y.size * min(inside(r), 1 - inside(r))  # points of the rarer class r leads one to expect
    if meaning and expected_other < 1:
        why = f"{meaning}, and the points lie in [-1, 1)^2: r >= 2 takes in every point, a tiny r none"
        fix = "pass r between 0 and 2, e.g. r=1."
    else:
        why = f"with only {Y.size} points, chance gave them one class"
        fix = "pass more points, e.g. n=1000."
    warnings.warn(
        f"{maker}(r={r}) labels every one of its {Y.size} {points} {int(Y[0])}: {why}. A task with one class "
        f"teaches nothing, and its accuracy looks perfect on data made the same way. Fix: {fix}",
        UserWarning,
        stacklevel=stacklevel,
    )


def _labelled(kind: str, r: float, X: np.ndarray, Y: np.ndarray) -> Splits:
    _warn_one_class(f"make_{kind}_dataset", kind, r, Y)
    return _split(X, Y)


def make_circle_dataset(n: int = 1000, r: float = 1.0, *, seed: int = 0) -> Splits:
    """Label 1 inside the circle ``x0^2 + x1^2 < r`` (area pi/4 of the square for r=1).

    Parameters
    ----------
    n
        Number of points (>= 10), split 80/10/10.
    r
        The circle's *squared* radius (> 0): the points lie in [-1, 1)^2, so
        r >= 2 labels every point 1 (a warning says so).
    seed
        Seed of the points; mixed with the task's name.

    Returns
    -------
    (train, valid, test)
        Each an ``(X, Y)`` pair: float32 ``(n, 2)`` points, int64 ``(n,)`` labels.
    """
    _check_r("circle", r)
    X = _points("circle", n, seed)
    return _labelled("circle", r, X, (X[:, 0] ** 2 + X[:, 1] ** 2 < r).astype(np.int64))


def make_inv_circle_dataset(n: int = 1000, r: float = 1.0, *, seed: int = 0) -> Splits:
    """Label 1 *outside* the circle ``x0^2 + x1^2 > r``: the circle task inverted.

    Parameters
    ----------
    n
        Number of points (>= 10), split 80/10/10.
    r
        The circle's *squared* radius (> 0): r >= 2 labels every point 0
        (a warning says so).
    seed
        Seed of the points; mixed with the task's name.

    Returns
    -------
    (train, valid, test)
        Each an ``(X, Y)`` pair: float32 ``(n, 2)`` points, int64 ``(n,)`` labels.
    """
    _check_r("inv_circle", r)
    X = _points("inv_circle", n, seed)
    return _labelled("inv_circle", r, X, (X[:, 0] ** 2 + X[:, 1] ** 2 > r).astype(np.int64))


def make_square_dataset(n: int = 1000, r: float = 1.0, *, seed: int = 0) -> Splits:
    """Label 1 inside the square ``|x| < r/2 and |y| < r/2``.

    Parameters
    ----------
    n
        Number of points (>= 10), split 80/10/10.
    r
        The side of the square (> 0): the points lie in [-1, 1)^2, so r >= 2
        labels every point 1 (a warning says so).
    seed
        Seed of the points; mixed with the task's name.

    Returns
    -------
    (train, valid, test)
        Each an ``(X, Y)`` pair: float32 ``(n, 2)`` points, int64 ``(n,)`` labels.
    """
    _check_r("square", r)
    X = _points("square", n, seed)
    return _labelled("square", r, X, ((np.abs(X[:, 0]) < r / 2) & (np.abs(X[:, 1]) < r / 2)).astype(np.int64))


def make_xor_dataset(n: int = 1000, r: float = 1.0, *, seed: int = 0) -> Splits:
    """Label 1 where ``x0`` and ``x1`` have the same sign (XOR of the signs, inverted): a checkerboard.

    Not one of the Snorkel tutorial's tasks: the course adds it as a task whose
    rule needs other features than the circle's (two straight lines through the
    centre instead of a distance from it), so that it competes with the circle
    for a small trunk (notebook 07).

    Parameters
    ----------
    n
        Number of points (>= 10), split 80/10/10.
    r
        Accepted (> 0) so that every maker has the same signature; the rule has no size.
    seed
        Seed of the points; mixed with the task's name.

    Returns
    -------
    (train, valid, test)
        Each an ``(X, Y)`` pair: float32 ``(n, 2)`` points, int64 ``(n,)`` labels.
    """
    _check_r("xor", r)
    X = _points("xor", n, seed)
    return _labelled("xor", r, X, (X[:, 0] * X[:, 1] > 0).astype(np.int64))


# task name -> (maker, X_dict key, dataset name), as in the tutorial
TUTORIAL_TASKS: dict[str, tuple[Callable[..., Splits], str, str]] = {
    "circle_task": (make_circle_dataset, "circle_data", "circleDataset"),
    "square_task": (make_square_dataset, "square_data", "squareDataset"),
    "inv_circle_task": (make_inv_circle_dataset, "inv_circle_data", "invCircleDataset"),
}
# the tutorial's tasks and the ones the course adds (same layout as TUTORIAL_TASKS)
COURSE_TASKS: dict[str, tuple[Callable[..., Splits], str, str]] = {
    **TUTORIAL_TASKS,
    "xor_task": (make_xor_dataset, "xor_data", "xorDataset"),
}


def make_tutorial_dataloaders(
    task_names: Sequence[str] = ("circle_task", "square_task"),
    *,
    n: int = 1000,
    r: float = 1.0,
    seed: int = 0,
    batch_size: int = 32,
) -> list[DictDataLoader]:
    """Build the tutorial's train/valid/test loaders for each named task.

    Returns ``3 * len(task_names)`` loaders, task by task in the order
    train, valid, test, with the tutorial's keys: ``X_dict`` field
    ``circle_data``, ``Y_dict`` key ``circle_task``, dataset ``circleDataset``.

    Parameters
    ----------
    task_names
        Tutorial tasks: ``"circle_task"``, ``"square_task"``, ``"inv_circle_task"``.
    n, r, seed
        As for :func:`make_circle_dataset`.
    batch_size
        Batch size of every loader.
    """
    if isinstance(task_names, str):
        task_names = [task_names]
    loaders = []
    for task_name in task_names:
        if task_name not in TUTORIAL_TASKS:
            fail(
                "make_tutorial_dataloaders(task_names)",
                f"must name tutorial tasks ({names(TUTORIAL_TASKS)})",
                task_name,
                "pick from those names.",
            )
        maker, x_key, dataset_name = TUTORIAL_TASKS[task_name]
        for split, (X, Y) in zip(SPLITS, maker(n, r, seed=seed), strict=True):
            dataset = DictDataset(dataset_name, split, {x_key: torch.from_numpy(X)}, {task_name: torch.from_numpy(Y)})
            loaders.append(DictDataLoader(dataset, batch_size=batch_size))
    return loaders


def make_joint_dataloaders(
    task_names: Sequence[str] = ("circle_task", "inv_circle_task"),
    *,
    n: int = 1000,
    r: float = 1.0,
    seed: int = 0,
    batch_size: int = 32,
) -> list[DictDataLoader]:
    """Train/valid/test loaders whose points carry the labels of every named task.

    Every batch then holds all the tasks' labels for the same points, so the
    tasks' gradients of one step can be compared (what
    ``Trainer(weighting="pcgrad")`` and ``Trainer(log_grad_cosine=True)``
    need). The points sit under each task's tutorial field (``circle_data``,
    ...), so the tutorial's tasks read them unchanged; the dataset is
    ``jointDataset``.

    Parameters
    ----------
    task_names
        Tutorial tasks, at least one: ``"circle_task"``, ``"square_task"``, ``"inv_circle_task"``.
    n, r, seed
        As for :func:`make_circle_dataset` (the points do not depend on the tasks).
    batch_size
        Batch size of every loader.

    Returns
    -------
    list of DictDataLoader
        ``[train, valid, test]``.
    """
    task_names = [task_names] if isinstance(task_names, str) else list(task_names)  # read once: a generator too
    if not task_names or any(name not in TUTORIAL_TASKS for name in task_names):
        fail(
            "make_joint_dataloaders(task_names)",
            f"must name tutorial tasks ({names(TUTORIAL_TASKS)})",
            list(task_names),
            "pass e.g. ('circle_task', 'inv_circle_task').",
        )
    _check_r("joint", r)
    X = torch.from_numpy(_points("joint", n, seed))  # (n, 2), the same points for every task
    cuts = (0, int(0.8 * n), int(0.9 * n), n)  # the same 80/10/10 cut as the makers
    loaders = []
    for split, start, stop in zip(SPLITS, cuts[:-1], cuts[1:], strict=True):
        X_split = X[start:stop]  # (rows, 2)
        X_dict = {TUTORIAL_TASKS[name][1]: X_split for name in task_names}
        # Each task's rule (the same as its maker's) labels these points.
        Y_dict = {name: torch.from_numpy(_LABELS[name](X_split.numpy(), r)) for name in task_names}
        if split == "train":
            for name in task_names:
                kind = name.removesuffix("_task")
                points = f"training points for {name!r}"
                _warn_one_class("make_joint_dataloaders", kind, r, Y_dict[name].numpy(), points=points, stacklevel=3)
        dataset = DictDataset("jointDataset", split, X_dict, Y_dict)
        loaders.append(DictDataLoader(dataset, batch_size=batch_size, shuffle=split == "train"))
    return loaders


# task name -> labelling rule (points (n, 2), r) -> int64 labels (n,), the makers' rules
_LABELS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "circle_task": lambda X, r: (X[:, 0] ** 2 + X[:, 1] ** 2 < r).astype(np.int64),
    "inv_circle_task": lambda X, r: (X[:, 0] ** 2 + X[:, 1] ** 2 > r).astype(np.int64),
    "square_task": lambda X, r: ((np.abs(X[:, 0]) < r / 2) & (np.abs(X[:, 1]) < r / 2)).astype(np.int64),
}
