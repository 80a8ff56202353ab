"""Digit attributes: one rotated real digit, four things to say about it, one of them a number.

Each of scikit-learn's 8x8 digits is padded to 12x12 (so its corners stay
in the picture) and rotated about its centre by a random angle, uniform in
[-45, 45] degrees. One input, four tasks:

- three classifications of the digit: which digit (10-way), odd or even,
  greater than 4 or not; the last two are coarser views of the first;
- a regression: the angle it was turned by, in degrees. Its labels cost
  nothing (we turned the picture ourselves): a self-supervised auxiliary
  task, as rotation prediction is in Gidaris et al. (2018, "Unsupervised
  representation learning by predicting image rotations"), which predicts
  one of four right angles; here the angle is continuous.

One model then mixes cross-entropy (about 2.3 at the start for 10 classes)
with a mean squared error in degrees squared (about 675 when it predicts
the mean angle): the loss scales really differ.

With ``n_labelled`` it is the low-label setting: few training digits keep
their ``digit_task`` label, while every training digit keeps its parity,
size and angle labels.
"""

from __future__ import annotations

import numpy as np
import torch

from mtl_teach.data import SPLITS
from mtl_teach.datasets.digits import SIZE, keep_labels, rng_for, rotate, source_digits, split_sources
from mtl_teach.datasets.splits import DatasetSplits, TaskInfo, as_count, make_dict_dataset

NAME = "digit_attributes"
DATASET_NAME = "digitAttributes"
INPUT_KEY = "image_data"
PAD = 2  # 8x8 -> 12x12: the 8x8 box's diagonal (11.3 pixels) fits at any angle
SIDE = SIZE + 2 * PAD
MAX_ANGLE = 45.0  # degrees either way; within it no 6 turns into a 9
MAX_TRAIN = 100_000
TASKS = (
    TaskInfo("digit_task", "classification", 10, "which digit, 0-9"),
    TaskInfo("parity_task", "classification", 2, "1 if the digit is odd"),
    TaskInfo("greater_than_4_task", "classification", 2, "1 if the digit is 5-9"),
    TaskInfo("angle_task", "regression", None, "the angle the digit was turned by, degrees counter-clockwise"),
)


def load_digit_attributes(seed: int = 0, *, n_train: int | None = None, n_labelled: int | None = None) -> DatasetSplits:
    """One rotated digit; tasks: the digit, odd or even, greater than 4, and the rotation angle.

    Every digit of a split comes from its own pool of source digits (1078
    train, 360 valid, 359 test, disjoint, 60/20/20 of every class;
    :func:`mtl_teach.datasets.digits.split_sources`), each turned by its own
    random angle, uniform in [-45, 45] degrees.

    =========================  ==========================================================
    input                      ``X_dict["image_data"]``: float32 ``(n, 1, 12, 12)``, ink in [0, 1]
    ``digit_task``             int64 0..9 (main task: ``n_labelled`` thins it)
    ``parity_task``            int64, 1 = odd (1, 3, 5, 7, 9)
    ``greater_than_4_task``    int64, 1 = 5..9
    ``angle_task``             float32 degrees in [-45, 45], positive = counter-clockwise;
                               a **regression** task (float labels, NaN would mark a missing one)
    sizes                      train 1078 (each training digit once), valid 360, test 359
    dataset name               ``digitAttributes``
    memory                     0.6 kB per example: 1.1 MB at the default sizes
    =========================  ==========================================================

    Single-task baselines (``benchmarks/bench_datasets.py``): one MLP per
    classification task, 144-64-64-k ReLU, Adam lr 0.003, 30 epochs, batch 32,
    test accuracy over seeds 0-4, mean +/- std:

    - ``digit_task``: 0.930 +/- 0.009 (0.916 to 0.942)
    - ``parity_task``: 0.948 +/- 0.017 (0.919 to 0.958)
    - ``greater_than_4_task``: 0.939 +/- 0.011 (0.922 to 0.953)
    - ``digit_task`` with ``n_labelled=50`` (5 per digit), trained on those 50
      digits alone (batch 16, 100 epochs): 0.669 +/- 0.031 (0.638 to 0.705)

    About 1 s to train one of them on one core.

    ``angle_task`` cannot be trained with the kit's Trainer yet (the core has
    no regression tasks); measured with scikit-learn on the flattened pixels
    instead, test mean squared error in degrees squared over seeds 0-4:
    predicting the training mean 675 +/- 42 (its variance: 90^2 / 12 = 675);
    ridge regression on the 144 pixels (``Ridge(alpha=1.0)``) 39.6 +/- 6.0;
    ``MLPRegressor(hidden_layer_sizes=(64, 64))`` on targets divided by 45,
    15.8 +/- 2.9 (about 4 degrees off).

    Parameters
    ----------
    seed
        Seed of the source split and the angles (integer >= 0).
        The same seed gives the same pictures on every machine.
    n_train
        Training examples, 10 to 100000; None (default) for each of the 1078
        training digits once. Fewer takes a random subset of them; more
        shows each digit again at new angles (rotated copies, every digit
        ``n_train // 1078`` or one more times). Valid and test do not depend on it.
    n_labelled
        If given, only this many training examples keep their ``digit_task``
        label, spread evenly over the 10 digits; the others are -1 ("no label").
        ``parity_task``, ``greater_than_4_task`` and ``angle_task`` keep every
        label, and valid and test keep all of theirs.

    Returns
    -------
    DatasetSplits
        ``.train``, ``.valid``, ``.test`` and the metadata (``.tasks``,
        ``.input_shape``, ``.source_index``: each example's ``(n, 1)`` index
        into ``load_digits()``).
    """
    seed = as_count(f"load({NAME!r}, seed)", seed, 0, None, "seed=0")
    pools = split_sources(seed)
    if n_train is not None:
        n_train = as_count(
            f"load({NAME!r}, n_train)",
            n_train,
            10,
            MAX_TRAIN,
            f"n_train={len(pools['train'])}, or None for each training digit once",
        )
    size_train = len(pools["train"]) if n_train is None else n_train
    if n_labelled is not None:
        n_labelled = as_count(
            f"load({NAME!r}, n_labelled)",
            n_labelled,
            TASKS[0].n_classes or 1,
            size_train,
            f"n_labelled=50 (at least one per class, at most the {size_train} training examples), or None for every label",
        )
    images, labels = source_digits()
    padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD)))  # (1797, 12, 12)
    datasets, sources = {}, {}
    for split in SPLITS:
        rng = rng_for(f"{NAME}/{split}", seed)
        pool = pools[split]
        if split == "train" and n_train is not None:
            # Example i shows digit order[i % len(pool)]: a subset, or every digit again at a new angle.
            order = rng.permutation(pool)
            index = order[np.arange(n_train) % len(pool)]
        else:
            index = pool
        angles = rng.uniform(-MAX_ANGLE, MAX_ANGLE, size=len(index)).astype(np.float32)
        X = rotate(padded[index], angles)  # (n, 12, 12)
        digit = labels[index]
        Y = {
            "digit_task": digit,
            "parity_task": digit % 2,
            "greater_than_4_task": (digit > 4).astype(np.int64),
            "angle_task": angles,
        }
        if split == "train" and n_labelled is not None:
            Y["digit_task"] = keep_labels(digit, n_labelled, 10, rng_for(f"{NAME}/labelled", seed))
        X_dict = {INPUT_KEY: torch.from_numpy(X[:, None])}  # (n, 1, 12, 12): one channel
        datasets[split] = make_dict_dataset(DATASET_NAME, split, X_dict, {k: torch.from_numpy(v) for k, v in Y.items()})
        sources[split] = index[:, None].copy()
        sources[split].flags.writeable = False
    return DatasetSplits(
        NAME,
        seed,
        datasets["train"],
        datasets["valid"],
        datasets["test"],
        tasks=TASKS,
        input_key=INPUT_KEY,
        input_shape=(1, SIDE, SIDE),
        main_task="digit_task",
        n_labelled=n_labelled,
        source_index=sources,
    )
