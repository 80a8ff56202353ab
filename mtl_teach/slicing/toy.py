"""The slicing notebook's toy world: the circle task with a small patch that follows another rule.

Points are uniform on [-1, 1)^2 and labelled 1 inside the circle
``x0^2 + x1^2 < 1``, as in the tutorial, except in a small square *patch*
centred on the circle's edge at 45 degrees (think of one sensor region
wired differently). There the label is 1 when ``x0 > x1``: a diagonal cut
across the patch instead of the arc. The patch holds 2% of the points, and
the circle rule is right on only about half of them, so a model that
ignores the patch loses just ~1 point of overall accuracy: a model trained
for the average has little reason to fix it.
"""

from __future__ import annotations

import zlib

import numpy as np

from mtl_teach._errors import fail
from mtl_teach._validation import is_integer
from mtl_teach.slicing.slicing_functions import slicing_function

# The patch: a square centred on the circle's edge at 45 degrees, (0.707, 0.707).
PATCH_LOW, PATCH_HIGH = 0.565, 0.848

Split = tuple[np.ndarray, np.ndarray]


@slicing_function()
def in_patch(X: np.ndarray) -> np.ndarray:
    """The critical slice: points in the patch, ``PATCH_LOW <= x0, x1 < PATCH_HIGH`` (2% of the square)."""
    return (X[:, 0] >= PATCH_LOW) & (X[:, 0] < PATCH_HIGH) & (X[:, 1] >= PATCH_LOW) & (X[:, 1] < PATCH_HIGH)


@slicing_function()
def left_half(X: np.ndarray) -> np.ndarray:
    """A big, harmless slice (x0 < 0): its labels follow the usual circle rule."""
    return X[:, 0] < 0


def sliced_circle_labels(X: np.ndarray) -> np.ndarray:
    """Labels of points ``X`` of shape ``(n, 2)``: the circle rule, and ``x0 > x1`` in the patch."""
    Y = (X[:, 0] ** 2 + X[:, 1] ** 2 < 1.0).astype(np.int64)
    patch = in_patch(X)
    Y[patch] = (X[patch, 0] > X[patch, 1]).astype(np.int64)
    return Y


def make_sliced_circle_dataset(
    n_train: int = 4000, n_eval: int = 20000, *, seed: int = 0
) -> tuple[Split, Split, Split]:
    """The circle task with its own rule inside the patch (see the module doc).

    Parameters
    ----------
    n_train
        Number of training points.
    n_eval
        Number of points in each of valid and test. The patch holds only 2%
        of them, so its scores need many more points than training does;
        scoring is cheap.
    seed
        Seed of the points (an integer >= 0).

    Returns
    -------
    tuple
        ``(train, valid, test)``, each ``(X, Y)``: float32 ``(m, 2)`` and
        int64 ``(m,)``, like :func:`mtl_teach.make_circle_dataset`.
    """
    for param, value, low in (("n_train", n_train, 10), ("n_eval", n_eval, 10)):
        if not is_integer(value) or value < low:
            fail(
                f"make_sliced_circle_dataset({param})",
                f"must be an integer >= {low}",
                value,
                f"pass e.g. {param}=4000.",
            )
    if not is_integer(seed) or seed < 0:
        fail("make_sliced_circle_dataset(seed)", "must be an integer >= 0", seed, "pass e.g. seed=0.")
    n_train, n_eval = int(n_train), int(n_eval)
    rng = np.random.default_rng([int(seed), zlib.crc32(b"sliced_circle")])
    X = rng.uniform(-1.0, 1.0, size=(n_train + 2 * n_eval, 2)).astype(np.float32)
    Y = sliced_circle_labels(X)
    a, b = n_train, n_train + n_eval
    return (X[:a], Y[:a]), (X[a:b], Y[a:b]), (X[b:], Y[b:])
