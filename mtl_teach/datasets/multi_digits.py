"""MultiDigits: two real digits on one small canvas; read the left one and the right one.

After MultiMNIST (Sabour et al. 2017), the two-task benchmark of Sener &
Koltun (2018, "Multi-task learning as multi-objective optimization"): there
two 28x28 MNIST digits overlap on a 36x36 canvas. Here two of scikit-learn's
8x8 digits overlap by half on a 10x12 canvas; each is moved up or down by up
to 2 rows at random, and where they overlap the canvas shows the darker ink
of the two (pixel-wise maximum).

::

    columns  0 1 2 3 | 4 5 6 7 | 8 9 10 11
             left    | both    | right

One input, two 10-way tasks that need the same skill (reading a digit) in
different places of the picture: the classic case for a shared trunk.
"""

from __future__ import annotations

import numpy as np
import torch

from mtl_teach.data import SPLITS
from mtl_teach.datasets.digits import SIZE, keep_labels, rng_for, source_digits, split_sources
from mtl_teach.datasets.splits import DatasetSplits, TaskInfo, as_count, make_dict_dataset

NAME = "multi_digits"
DATASET_NAME = "multiDigits"
INPUT_KEY = "image_data"
HEIGHT, WIDTH = SIZE + 2, SIZE + 4  # 10 x 12: 2 rows of vertical jitter, a 4-column shift
RIGHT_COLUMN = 4  # the right digit starts here, so the two share columns 4-7
MAX_SHIFT = HEIGHT - SIZE  # each digit's top row is drawn from 0..2
N_VALID, N_TEST = 1000, 2000
MAX_TRAIN = 100_000
TASKS = (
    TaskInfo("left_task", "classification", 10, "the digit on the left (columns 0-7)"),
    TaskInfo("right_task", "classification", 10, "the digit on the right (columns 4-11)"),
)


def load_multi_digits(seed: int = 0, *, n_train: int = 5000, n_labelled: int | None = None) -> DatasetSplits:
    """Two overlapping real digits per picture; tasks: the left digit and the right digit.

    Each split's pairs are drawn only from its own pool of source digits
    (1078 train, 360 valid, 359 test digits, disjoint, 60/20/20 of every
    class; :func:`mtl_teach.datasets.digits.split_sources`), so no test
    picture contains a training digit. A pair never repeats one digit in
    both places (the two may still show the same class).

    ================  ==========================================================
    input             ``X_dict["image_data"]``: float32 ``(n, 1, 10, 12)``, ink in [0, 1]
    ``left_task``     int64 0..9, the left digit (main task: ``n_labelled`` thins it)
    ``right_task``    int64 0..9, the right digit
    sizes             train ``n_train`` (default 5000), valid 1000, test 2000 pairs
    dataset name      ``multiDigits`` (score keys ``left_task/multiDigits/test/accuracy``)
    memory            0.5 kB per pair: 4 MB at the default sizes
    ================  ==========================================================

    Single-task baselines (``benchmarks/bench_datasets.py``): one MLP per task,
    120-64-64-10 ReLU, Adam lr 0.003, 20 epochs, batch 64, the default
    5000 training pairs, test accuracy over seeds 0-4, mean +/- std:

    - ``left_task``: 0.934 +/- 0.014 (0.913 to 0.952)
    - ``right_task``: 0.930 +/- 0.014 (0.909 to 0.945)

    About 3 s to train one of them on one core. With ``n_train=1000`` (40
    epochs, about 1 s): ``left_task`` 0.850 +/- 0.010 (0.839 to 0.864),
    ``right_task`` 0.858 +/- 0.021 (0.835 to 0.887).

    Parameters
    ----------
    seed
        Seed of the source split, the pairs and their placement (integer >= 0).
        The same seed gives the same pictures on every machine.
    n_train
        Training pairs, 10 to 100000. Valid and test do not depend on it.
    n_labelled
        If given, only this many training pairs keep their ``left_task`` label,
        spread evenly over the 10 digits; the others are -1 ("no label").
        ``right_task`` keeps every label, and so do valid and test.

    Returns
    -------
    DatasetSplits
        ``.train``, ``.valid``, ``.test`` and the metadata (``.tasks``,
        ``.input_shape``, ``.source_index``: the ``(n, 2)`` left and right
        digits' indices into ``load_digits()``).
    """
    seed = as_count(f"load({NAME!r}, seed)", seed, 0, None, "seed=0")
    n_train = as_count(f"load({NAME!r}, n_train)", n_train, 10, MAX_TRAIN, "n_train=5000 (training pairs)")
    if n_labelled is not None:
        n_labelled = as_count(
            f"load({NAME!r}, n_labelled)",
            n_labelled,
            TASKS[0].n_classes or 1,
            n_train,
            f"n_labelled=100 (at least one per class, at most n_train={n_train}), or None for every label",
        )
    images, labels = source_digits()
    pools = split_sources(seed)
    sizes = {"train": n_train, "valid": N_VALID, "test": N_TEST}
    datasets, sources = {}, {}
    for split in SPLITS:
        rng = rng_for(f"{NAME}/{split}", seed)
        pairs = _draw_pairs(pools[split], sizes[split], rng)  # (n, 2) source indices
        X = _compose(images, pairs, rng.integers(0, MAX_SHIFT + 1, size=pairs.shape))  # (n, 10, 12)
        Y = {"left_task": labels[pairs[:, 0]], "right_task": labels[pairs[:, 1]]}
        if split == "train" and n_labelled is not None:
            Y["left_task"] = keep_labels(Y["left_task"], n_labelled, 10, rng_for(f"{NAME}/labelled", seed))
        X_dict = {INPUT_KEY: torch.from_numpy(X[:, None])}  # (n, 1, 10, 12): one channel
        datasets[split] = make_dict_dataset(DATASET_NAME, split, X_dict, {k: torch.from_numpy(v) for k, v in Y.items()})
        pairs.flags.writeable = False
        sources[split] = pairs
    return DatasetSplits(
        NAME,
        seed,
        datasets["train"],
        datasets["valid"],
        datasets["test"],
        tasks=TASKS,
        input_key=INPUT_KEY,
        input_shape=(1, HEIGHT, WIDTH),
        main_task="left_task",
        n_labelled=n_labelled,
        source_index=sources,
    )


def _draw_pairs(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    # (n, 2) indices from the pool, the left and the right digit always two different pictures.
    pairs = rng.choice(pool, size=(n, 2))
    same = pairs[:, 0] == pairs[:, 1]
    while same.any():
        pairs[same, 1] = rng.choice(pool, size=int(same.sum()))
        same = pairs[:, 0] == pairs[:, 1]
    return pairs


def _compose(images: np.ndarray, pairs: np.ndarray, tops: np.ndarray) -> np.ndarray:
    """Draw each pair on a 10x12 canvas: left digit at columns 0-7, right at 4-11, each at its own top row.

    ``images`` ``(N, 8, 8)``, ``pairs`` and ``tops`` ``(n, 2)``; returns float32 ``(n, 10, 12)``.
    """
    canvas = np.zeros((len(pairs), HEIGHT, WIDTH), dtype=np.float32)
    for side, left in ((0, 0), (1, RIGHT_COLUMN)):
        layer = np.zeros_like(canvas)
        for top in range(MAX_SHIFT + 1):
            rows = tops[:, side] == top
            layer[rows, top : top + SIZE, left : left + SIZE] = images[pairs[rows, side]]
        np.maximum(canvas, layer, out=canvas)  # overlapping ink: the darker of the two
    return canvas
