"""Does sharing a trunk help a task? The task alone vs with auxiliary tasks, over several seeds.

A comparison a lesson can rest on needs more than one run: ``compare_sharing``
trains, for each seed, the *target* task alone and the target together with
*auxiliary* tasks that share its trunk, and scores the target on thousands
of fresh test points. It keeps the comparison fair in the two ways that are
easy to get wrong:

- **Capacity.** The model alone gets a trunk of the same size as the shared
  one, all to itself.
- **Training.** Both train the same number of epochs, and the model alone
  takes at least as many optimiser steps: its few points are repeated
  (shuffled) until an epoch of them has as many batches as the shared model's.

So a gain can come only from what the auxiliary tasks' data teach the trunk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mtl_teach._errors import fail, names
from mtl_teach.data import DictDataLoader, DictDataset
from mtl_teach.model import MultitaskClassifier
from mtl_teach.seed import set_seed
from mtl_teach.task import Operation, Task
from mtl_teach.toy_data import TUTORIAL_TASKS
from mtl_teach.trainer import Trainer

TEST_SEED_OFFSET = 1_000_003  # test points come from another stream than any training seed's
BATCH_SIZE = 32


class SharingComparison:
    """The target task's test accuracy alone and shared, seed by seed; and its drawing.

    Build it with :func:`compare_sharing`; draw it with :meth:`plot`.

    Parameters
    ----------
    target
        The task whose accuracy is compared.
    auxiliary
        The tasks that share the trunk with it in the shared model.
    seeds
        One run per seed.
    alone, shared
        The target's test accuracy per seed, alone and shared.
    models
        Per seed, ``{"alone": model, "shared": model}``.
    target_train
        Per seed, the target's training points and labels ``(X, y)``.
    settings
        What was compared: training points, test points, trunk widths, learning
        rate, and each model's epochs and optimiser steps.
    """

    def __init__(
        self,
        *,
        target: str,
        auxiliary: Sequence[str],
        seeds: Sequence[int],
        alone: Sequence[float],
        shared: Sequence[float],
        models: dict[int, dict[str, MultitaskClassifier]],
        target_train: dict[int, tuple[np.ndarray, np.ndarray]],
        settings: dict[str, Any],
    ) -> None:
        self.target = target
        self.auxiliary = list(auxiliary)
        self.seeds = list(seeds)
        self.alone = np.asarray(alone, dtype=float)  # (n_seeds,)
        self.shared = np.asarray(shared, dtype=float)  # (n_seeds,)
        self.models = models
        self.target_train = target_train
        self.settings = dict(settings)
        self.ax_: Any = None
        self.figure_: Any = None

    @property
    def gains(self) -> np.ndarray:
        """Shared minus alone, per seed (accuracy points as fractions)."""
        return self.shared - self.alone

    def summary(self) -> dict[str, float]:
        """Means and standard deviations over the seeds, and on how many seeds sharing won."""
        return {
            "alone_mean": float(self.alone.mean()),
            "alone_std": float(self.alone.std(ddof=1)) if len(self.seeds) > 1 else 0.0,
            "shared_mean": float(self.shared.mean()),
            "shared_std": float(self.shared.std(ddof=1)) if len(self.seeds) > 1 else 0.0,
            "gain_mean": float(self.gains.mean()),
            "gain_min": float(self.gains.min()),
            "shared_wins": int((self.gains > 0).sum()),
        }

    def as_dataframe(self) -> Any:
        """One row per seed: accuracy alone, shared, and the gain (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame(
            {"alone": self.alone, "shared": self.shared, "gain": self.gains},
            index=pd.Index(self.seeds, name="seed"),
        )

    def plot(self, ax: Any = None) -> SharingComparison:
        """Draw each seed's pair (alone -> shared) and the means with their standard deviation.

        Parameters
        ----------
        ax
            Axes to draw on; a new figure when None.

        Returns
        -------
        SharingComparison
            ``self``, with ``ax_`` and ``figure_`` set.
        """
        from mtl_teach.plotting._common import TASK_COLORS, check_axes, new_axes

        check_axes(ax, "SharingComparison.plot")
        if ax is None:
            _, grid = new_axes(1, size=3.6)
            ax = grid[0, 0]
        for alone, shared in zip(self.alone, self.shared, strict=True):
            ax.plot([0, 1], [alone, shared], color="0.75", marker="o", markersize=3, linewidth=1, zorder=1)
        summary = self.summary()
        for x, key, color in ((0, "alone", TASK_COLORS[0]), (1, "shared", TASK_COLORS[1])):
            ax.errorbar(
                x,
                summary[f"{key}_mean"],
                yerr=summary[f"{key}_std"],
                color=color,
                marker="s",
                markersize=7,
                capsize=6,
                linewidth=2,
                zorder=2,
            )
        helpers = " + ".join(self.auxiliary)
        ax.set_xticks([0, 1], [f"{self.target}\nalone", f"shared with\n{helpers}"])
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylabel(f"{self.target} test accuracy")
        ax.set_title(
            f"{len(self.seeds)} seeds, {self.settings['n_target']} training points\n"
            f"grey: one seed; square: mean +/- standard deviation",
            fontsize="medium",
        )
        ax.grid(axis="y", alpha=0.3)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"SharingComparison(target={self.target!r}, auxiliary={self.auxiliary}, seeds={len(self.seeds)}, "
            f"alone={s['alone_mean']:.3f} +/- {s['alone_std']:.3f}, shared={s['shared_mean']:.3f} +/- "
            f"{s['shared_std']:.3f}, shared wins on {s['shared_wins']}/{len(self.seeds)})"
        )


def _trunk(hidden: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = 2  # the toy tasks' points (x0, x1)
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    return nn.Sequential(*layers)


def _tasks(task_names: Sequence[str], trunk: nn.Module, width: int) -> list[Task]:
    tasks = []
    for name in task_names:
        _, field, _ = TUTORIAL_TASKS[name]
        head = name.replace("_task", "_head")
        tasks.append(
            Task(
                name=name,
                module_pool=nn.ModuleDict({"base_mlp": trunk, head: nn.Linear(width, 2)}),
                op_sequence=[Operation("base_mlp", [("_input_", field)]), Operation(head, [("base_mlp", 0)])],
            )
        )
    return tasks


def _loader(task: str, X: np.ndarray, Y: np.ndarray, split: str) -> DictDataLoader:
    _, field, dataset = TUTORIAL_TASKS[task]
    data = DictDataset(dataset, split, {field: torch.from_numpy(X)}, {task: torch.from_numpy(Y)})
    return DictDataLoader(data, batch_size=BATCH_SIZE, shuffle=split == "train")


def _check(
    target: str, auxiliary: Sequence[str], seeds: Sequence[int], n_target: int, n_test: int, hidden: Sequence[int]
) -> None:
    where = "compare_sharing"
    if target not in TUTORIAL_TASKS:
        fail(
            f"{where}(target)", f"must be a tutorial task ({names(TUTORIAL_TASKS)})", target, "pass e.g. 'circle_task'."
        )
    if isinstance(auxiliary, str) or not auxiliary:
        fail(
            f"{where}(auxiliary)", "must be a non-empty list of task names", auxiliary, "pass e.g. ['inv_circle_task']."
        )
    for name in auxiliary:
        if name not in TUTORIAL_TASKS or name == target:
            fail(
                f"{where}(auxiliary)",
                f"must name other tutorial tasks than the target ({names(TUTORIAL_TASKS)})",
                name,
                "pass tasks other than the target.",
            )
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        fail(f"{where}(seeds)", "must be a non-empty list of integers >= 0", list(seeds), "pass e.g. range(5).")
    for param, value, low in (("n_target", n_target, 4), ("n_test", n_test, 100)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value:
            fail(f"{where}({param})", f"must be an integer >= {low}", value, f"pass e.g. {param}={max(low, 20)}.")
    if n_target > 800:
        fail(
            f"{where}(n_target)", "must be <= 800 (the size of a tutorial train split)", n_target, "pass fewer points."
        )
    if not hidden or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
        fail(f"{where}(hidden)", "must be a non-empty list of layer widths >= 1", hidden, "pass e.g. hidden=(32, 32).")


def compare_sharing(
    target: str = "circle_task",
    auxiliary: Sequence[str] = ("inv_circle_task",),
    *,
    seeds: Sequence[int] = range(5),
    n_target: int = 20,
    n_test: int = 5000,
    hidden: Sequence[int] = (32, 32),
    n_epochs: int = 20,
    lr: float = 0.01,
) -> SharingComparison:
    """Train the target task alone and with auxiliary tasks sharing its trunk, once per seed.

    For each seed: the target gets ``n_target`` training points and each
    auxiliary task the 800 of its tutorial train split; both models get the
    same trunk (``hidden`` ReLU layers, drawn with the same seed) and a
    ``Linear(hidden[-1], 2)`` head per task; both train ``n_epochs`` with the
    ``Trainer``'s defaults, the model alone on its points repeated until an
    epoch has at least as many batches (optimiser steps) as the shared
    model's. The target is scored on ``n_test`` fresh points.

    Parameters
    ----------
    target
        The tutorial task to compare, e.g. ``"circle_task"``.
    auxiliary
        Tutorial tasks that share the trunk with it in the shared model.
    seeds
        One run of each model per seed.
    n_target
        The target's training points (4 to 800): few, to see what sharing can add.
    n_test
        Test points of the target (>= 100): thousands, so that a point of
        accuracy is not noise.
    hidden
        Widths of the trunk's ReLU layers (the tutorial's is ``(8, 4)``).
    n_epochs
        Epochs of both models.
    lr
        Adam's learning rate, for both.

    Returns
    -------
    SharingComparison
        Accuracies per seed, the models, ``summary()``, ``as_dataframe()`` and ``plot()``.
    """
    _check(target, auxiliary, seeds, n_target, n_test, hidden)
    make_target = TUTORIAL_TASKS[target][0]
    alone, shared, models, target_points = [], [], {}, {}
    for seed in seeds:
        (X, Y), _, _ = make_target(n=1000, seed=seed)
        target_points[seed] = (X[:n_target], Y[:n_target])
        target_train = _loader(target, *target_points[seed], "train")
        _, _, (X_test, Y_test) = make_target(n=10 * n_test, seed=seed + TEST_SEED_OFFSET)
        target_test = _loader(target, X_test, Y_test, "test")
        aux_train = [_loader(name, *TUTORIAL_TASKS[name][0](n=1000, seed=seed)[0], "train") for name in auxiliary]
        # Alone, the target's few points make few batches per epoch. Its loader repeats them
        # (shuffled) until an epoch has at least as many batches as the shared model's, so
        # both train the same epochs with at least as many optimiser steps alone.
        shared_batches = len(target_train) + sum(len(loader) for loader in aux_train)
        copies = math.ceil(shared_batches * BATCH_SIZE / n_target)
        X_alone, Y_alone = np.tile(X[:n_target], (copies, 1)), np.tile(Y[:n_target], copies)
        runs = {
            "alone": ([target], [_loader(target, X_alone, Y_alone, "train")], n_epochs),
            "shared": ([target, *auxiliary], [target_train, *aux_train], n_epochs),
        }
        steps = {label: epochs * sum(len(loader) for loader in loaders) for label, (_, loaders, epochs) in runs.items()}
        models[seed] = {}
        for label, (task_names, loaders, epochs) in runs.items():
            set_seed(seed)  # the same starting trunk for both models
            model = MultitaskClassifier(_tasks(task_names, _trunk(hidden), hidden[-1]), name=f"{label}_{seed}")
            Trainer(progress_bar=False, n_epochs=epochs, lr=lr, seed=seed).fit(model, loaders)
            models[seed][label] = model
        key = f"{target}/{TUTORIAL_TASKS[target][2]}/test/accuracy"
        alone.append(models[seed]["alone"].score([target_test])[key])
        shared.append(models[seed]["shared"].score([target_test])[key])
    settings = {
        "n_target": n_target,
        "n_test": len(Y_test),
        "hidden": tuple(hidden),
        "lr": lr,
        "epochs": {label: epochs for label, (_, _, epochs) in runs.items()},
        "steps": steps,  # optimiser steps per model (the last seed's; the same for every seed)
    }
    return SharingComparison(
        target=target,
        auxiliary=auxiliary,
        seeds=list(seeds),
        alone=alone,
        shared=shared,
        models=models,
        target_train=target_points,
        settings=settings,
    )


__all__ = ["SharingComparison", "compare_sharing"]
