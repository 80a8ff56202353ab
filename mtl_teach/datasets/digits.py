"""The source digits: scikit-learn's 1797 handwritten 8x8 digits, split once per seed.

Every data set of :mod:`mtl_teach.datasets` is made from these pictures.
They ship inside the scikit-learn wheel (``sklearn/datasets/data/digits.csv.gz``,
what ``sklearn.datasets.load_digits()`` reads): nothing is ever downloaded.
The UCI "Optical Recognition of Handwritten Digits" set: 43 writers, each
32x32 bitmap counted in 4x4 blocks, so a pixel is 0..16 ink.

The digits are split into train, valid and test *source* pools, disjoint and
stratified by class, before any example is made: an example of the test
split is built only from test digits, so the test never reuses a training
picture. (The writers are not recorded in ``load_digits``, so a writer may
appear in more than one pool.)
"""

from __future__ import annotations

import functools
import importlib.util
import zlib
from pathlib import Path

import numpy as np

from mtl_teach.data import SPLITS

N_DIGITS = 1797
SIZE = 8  # each digit is 8x8 pixels
FRACTIONS = (0.6, 0.2, 0.2)  # train, valid, test share of each class's digits


def _csv_in_wheel() -> Path | None:
    # find_spec locates scikit-learn without importing it (importing sklearn.datasets
    # costs ~1.3 s on a 2-core laptop; reading the file costs ~0.02 s).
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


@functools.cache
def source_digits() -> tuple[np.ndarray, np.ndarray]:
    """Return all 1797 digits, the same as ``sklearn.datasets.load_digits()``.

    Read once per process, from the file inside the scikit-learn wheel (no
    network, no cache folder); where a scikit-learn release moves that file,
    through ``load_digits()`` itself.

    Returns
    -------
    images
        float32 ``(1797, 8, 8)``, ink in [0, 1] (``load_digits().images / 16``); read-only.
    labels
        int64 ``(1797,)``, the digit 0..9; read-only.
    """
    path = _csv_in_wheel()
    if path is not None:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)  # (1797, 65): 64 pixels, then the label
        pixels, labels = table[:, :-1], table[:, -1].astype(np.int64)
    else:  # pragma: no cover - only if scikit-learn moves its data file
        from sklearn.datasets import load_digits

        bunch = load_digits()
        pixels, labels = bunch.data, bunch.target.astype(np.int64)
    images = (pixels.reshape(-1, SIZE, SIZE) / 16.0).astype(np.float32)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def rng_for(name: str, seed: int) -> np.random.Generator:
    """A generator for data set ``name`` and ``seed``: the same pair always draws the same numbers."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def split_sources(seed: int) -> dict[str, np.ndarray]:
    """Cut the 1797 digits into disjoint train, valid and test pools (60/20/20 of every class).

    Parameters
    ----------
    seed
        The split's seed; every data set made with this seed uses the same pools.

    Returns
    -------
    dict
        Split name -> indices into :func:`source_digits`, int64, shuffled:
        1078, 360 and 359 digits (the same for every seed).
    """
    _, labels = source_digits()
    rng = rng_for("source_split", seed)
    pools: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        cuts = np.round(np.cumsum(FRACTIONS[:-1]) * len(members)).astype(int)  # e.g. 178 -> 107, 142
        for split, part in zip(SPLITS, np.split(members, cuts), strict=True):
            pools[split].append(part)
    # Shuffle each pool so that its order does not group the classes.
    return {split: rng.permutation(np.concatenate(parts)) for split, parts in pools.items()}


def rotate(images: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Rotate each image by its own angle, counter-clockwise as drawn, about its centre.

    Bilinear interpolation in float64 (numpy, so every CPU gives the same
    pixels after rounding to float32); ink rotated in from outside is 0.
    Pad first if the corners must stay in the picture.

    Parameters
    ----------
    images
        ``(n, H, W)``.
    degrees
        ``(n,)`` angles in degrees; positive turns counter-clockwise.

    Returns
    -------
    np.ndarray
        float32 ``(n, H, W)``.
    """
    n, height, width = images.shape
    theta = np.deg2rad(np.asarray(degrees, dtype=np.float64))[:, None, None]  # (n, 1, 1)
    rows, cols = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    cy, cx = (height - 1) / 2, (width - 1) / 2
    x, y = cols - cx, cy - rows  # (H, W), y points up as the picture is drawn
    # Each output pixel reads the input at the point the rotation carried there: R(-theta) (x, y).
    x_in = np.cos(theta) * x + np.sin(theta) * y  # (n, H, W)
    y_in = -np.sin(theta) * x + np.cos(theta) * y
    r_in, c_in = cy - y_in, x_in + cx
    r0, c0 = np.floor(r_in).astype(np.int64), np.floor(c_in).astype(np.int64)
    fr, fc = r_in - r0, c_in - c0
    padded = np.pad(images.astype(np.float64), ((0, 0), (1, 1), (1, 1)))  # zeros around: reads off the edge give 0
    index = np.arange(n)[:, None, None]

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        inside = (r >= -1) & (r <= height) & (c >= -1) & (c <= width)
        return np.where(inside, padded[index, np.clip(r + 1, 0, height + 1), np.clip(c + 1, 0, width + 1)], 0.0)

    out = (
        at(r0, c0) * (1 - fr) * (1 - fc)
        + at(r0, c0 + 1) * (1 - fr) * fc
        + at(r0 + 1, c0) * fr * (1 - fc)
        + at(r0 + 1, c0 + 1) * fr * fc
    )
    return out.astype(np.float32)


def keep_labels(labels: np.ndarray, n_labelled: int, n_classes: int | None, rng: np.random.Generator) -> np.ndarray:
    """Keep ``n_labelled`` labels and mark every other one missing: -1 (classes) or NaN (regression).

    For a classification task the kept labels are spread over the classes as
    evenly as possible (the usual low-label protocol, e.g. "4 labels per
    class"), so that no class goes unseen; for a regression task they are a
    random subset.

    Parameters
    ----------
    labels
        ``(n,)`` int64 class ids, or float32 targets.
    n_labelled
        How many to keep, ``0 < n_labelled <= n``.
    n_classes
        The task's classes; None for a regression task.
    rng
        Draws which examples keep their label.

    Returns
    -------
    np.ndarray
        A copy of ``labels`` with the rest set missing.
    """
    if n_classes is None:
        kept = rng.choice(len(labels), size=n_labelled, replace=False)
        out = np.full_like(labels, np.nan)
        out[kept] = labels[kept]
        return out
    # Class c keeps n_labelled // n_classes labels, and a random n_labelled % n_classes of
    # the classes one more; a class with too few examples gives its share to the others.
    members = [rng.permutation(np.flatnonzero(labels == c)) for c in range(n_classes)]
    quota = np.full(n_classes, n_labelled // n_classes)
    quota[rng.permutation(n_classes)[: n_labelled % n_classes]] += 1
    sizes = np.array([len(m) for m in members])
    while (quota > sizes).any():  # ends: n_labelled <= n, so the labels always fit
        spare = int((quota - sizes).clip(min=0).sum())
        quota = np.minimum(quota, sizes)
        room = np.flatnonzero(quota < sizes)
        quota[room] += spare // len(room)
        quota[rng.permutation(room)[: spare % len(room)]] += 1
    kept = np.concatenate([m[:q] for m, q in zip(members, quota, strict=True)])
    out = np.full_like(labels, -1)
    out[kept] = labels[kept]
    return out
