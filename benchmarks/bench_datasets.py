"""Real-digit data sets: how long they take to load, and their single-task baselines over seeds.

For each data set of :mod:`mtl_teach.datasets`:

- loading time: the first ``load`` in the process (it reads the digits from
  the scikit-learn wheel) and the median of later ones (other seeds);
- each classification task alone: a small MLP (Flatten, two hidden layers
  of 64 ReLU units, a head), trained with the kit's ``Trainer`` (Adam, lr
  0.003; multi_digits: 20 epochs, batch 64, 5000 training pairs, and 40
  epochs on 1000 pairs; digit_attributes: 30 epochs, batch 32), test
  accuracy over seeds;
- the low-label setting (``digit_attributes``, ``n_labelled=50``): the digit
  task alone, trained on its 50 labelled training digits only (batch 16,
  100 epochs, ~400 steps);
- ``angle_task`` (regression, degrees), which the kit cannot train yet:
  test mean squared error of predicting the training mean, of scikit-learn's
  ``Ridge(alpha=1.0)`` on the 144 pixels, and of ``MLPRegressor(64, 64)``
  on targets divided by 45.

The figures go into the data sets' docstrings. One torch thread (tiny
models only lose from threading); times are wall-clock on this machine and
move with its load.

Run: python benchmarks/bench_datasets.py [--seeds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np
import torch
from _common import single_thread
from torch import nn

from mtl_teach import DictDataLoader, DictDataset, MultitaskClassifier, Operation, Task, Trainer, datasets, set_seed
from mtl_teach.datasets import DatasetSplits
from mtl_teach.datasets.digits import source_digits

HIDDEN = 64
# (data set, n_train or None for its default, epochs, batch size) of the single-task baselines
SETUPS = [("multi_digits", None, 20, 64), ("multi_digits", 1000, 40, 64), ("digit_attributes", None, 30, 32)]
LR = 0.003
LOW_LABEL = 50
LOW_LABEL_SETUP = (100, 16)


def mlp(data: DatasetSplits, task_name: str) -> MultitaskClassifier:
    """One task: Flatten -> 64 -> 64 (ReLU) -> the task's classes."""
    n_in = int(np.prod(data.input_shape))
    trunk = nn.Sequential(nn.Flatten(), nn.Linear(n_in, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU())
    head = nn.Linear(HIDDEN, data.task(task_name).n_outputs)
    pool = nn.ModuleDict({"trunk": trunk, "head": head})
    ops = [Operation("trunk", [("_input_", data.input_key)]), Operation("head", ["trunk"])]
    return MultitaskClassifier([Task(task_name, pool, ops)])


def train_alone(data: DatasetSplits, task_name: str, seed: int, epochs: int, batch_size: int) -> tuple[float, float]:
    """Train ``task_name`` alone on ``data``'s train split; return (test accuracy, seconds to train)."""
    alone = data.select_tasks([task_name])
    train, _, test = alone.dataloaders(batch_size=batch_size)
    set_seed(seed)
    model = mlp(alone, task_name)
    start = time.perf_counter()
    Trainer(progress_bar=False, n_epochs=epochs, lr=LR, seed=seed).fit(model, [train])
    seconds = time.perf_counter() - start
    return model.score([test])[f"{task_name}/{data.dataset_name}/test/accuracy"], seconds


def low_label(seed: int) -> tuple[float, float]:
    """The digit task alone on its ``LOW_LABEL`` labelled training digits (the rest dropped)."""
    data = datasets.load("digit_attributes", seed=seed, n_labelled=LOW_LABEL).select_tasks(["digit_task"])
    labels = data.train.Y_dict["digit_task"]
    kept = labels != -1
    subset = DictDataset(
        data.dataset_name,
        "train",
        {data.input_key: data.train.X_dict[data.input_key][kept]},
        {"digit_task": labels[kept]},
    )
    epochs, batch_size = LOW_LABEL_SETUP
    set_seed(seed)
    model = mlp(data, "digit_task")
    start = time.perf_counter()
    Trainer(progress_bar=False, n_epochs=epochs, lr=LR, seed=seed).fit(
        model, [DictDataLoader(subset, batch_size=batch_size, shuffle=True)]
    )
    seconds = time.perf_counter() - start
    test = DictDataLoader(data.test, batch_size=256)
    return model.score([test])[f"digit_task/{data.dataset_name}/test/accuracy"], seconds


def angle_baselines(seed: int) -> dict[str, float]:
    """Test MSE (degrees squared) of three regressors of the rotation angle on the pixels."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Ridge
    from sklearn.neural_network import MLPRegressor

    data = datasets.load("digit_attributes", seed=seed)
    X_train, X_test = (d.X_dict[data.input_key].flatten(1).numpy() for d in (data.train, data.test))
    y_train, y_test = (d.Y_dict["angle_task"].numpy().astype(np.float64) for d in (data.train, data.test))
    mse = {"mean": float(np.mean((y_test - y_train.mean()) ** 2))}
    mse["ridge"] = float(np.mean((Ridge(alpha=1.0).fit(X_train, y_train).predict(X_test) - y_test) ** 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net = MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=300, random_state=seed)
        net.fit(X_train, y_train / 45.0)
    mse["mlp"] = float(np.mean((45.0 * net.predict(X_test) - y_test) ** 2))
    return mse


def load_times(repeats: int = 5) -> dict[str, dict[str, float]]:
    """Seconds for the first ``load`` of each data set (digits read from the wheel) and the median of later ones."""
    times = {}
    for name in datasets.available():
        source_digits.cache_clear()
        start = time.perf_counter()
        datasets.load(name, seed=0)
        first = time.perf_counter() - start
        later = []
        for seed in range(1, repeats + 1):
            start = time.perf_counter()
            datasets.load(name, seed=seed)
            later.append(time.perf_counter() - start)
        times[name] = {"first": first, "median": statistics.median(later)}
    return times


def summary(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} +/- {spread:.3f} (min {min(values):.3f}, max {max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print every figure as one JSON object")
    args = parser.parse_args()
    single_thread()
    seeds = range(args.seeds)
    report: dict[str, object] = {"load_seconds": load_times()}
    accuracy: dict[str, list[float]] = {}
    seconds: dict[str, list[float]] = {}
    for name, n_train, epochs, batch_size in SETUPS:
        for seed in seeds:
            data = datasets.load(name, seed=seed, n_train=n_train)
            for task in data.tasks:
                if task.kind != "classification":
                    continue
                label = f"{name}/{task.name}" + (f" (n_train={n_train})" if n_train else "")
                acc, secs = train_alone(data, task.name, seed, epochs, batch_size)
                accuracy.setdefault(label, []).append(acc)
                seconds.setdefault(label, []).append(secs)
    key = f"digit_attributes/digit_task (n_labelled={LOW_LABEL})"
    for seed in seeds:
        acc, secs = low_label(seed)
        accuracy.setdefault(key, []).append(acc)
        seconds.setdefault(key, []).append(secs)
    angle = [angle_baselines(seed) for seed in seeds]
    report.update(accuracy=accuracy, train_seconds=seconds, angle_mse={k: [a[k] for a in angle] for k in angle[0]})
    if args.json:
        print(json.dumps(report))
        return
    print(f"seeds {list(seeds)}, torch threads {torch.get_num_threads()}")
    for name, times in report["load_seconds"].items():  # type: ignore[union-attr]
        print(f"load {name:<18} first {times['first']:.3f} s, later (median) {times['median']:.3f} s")
    print("single-task test accuracy, mean +/- std over seeds, and seconds to train one model:")
    for task, values in accuracy.items():
        print(f"  {task:<46} {summary(values)}   {statistics.median(seconds[task]):.1f} s")
    print("angle_task test MSE (degrees^2), mean +/- std over seeds:")
    for method, values in report["angle_mse"].items():  # type: ignore[union-attr]
        print(
            f"  {method:<8} {statistics.mean(values):7.1f} +/- {statistics.stdev(values) if len(values) > 1 else 0:.1f}"
        )


if __name__ == "__main__":
    main()
