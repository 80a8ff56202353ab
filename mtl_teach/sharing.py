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
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mtl_teach._errors import fail, names
from mtl_teach._validation import as_list, is_integer, seed_list
from mtl_teach.data import DictDataLoader, DictDataset
from mtl_teach.dead_units import StallWarning
from mtl_teach.model import MultitaskClassifier
from mtl_teach.seed import set_seed
from mtl_teach.task import Operation, Task
from mtl_teach.toy_data import COURSE_TASKS
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
    stalls
        ``(seed, "alone" or "shared", message)`` for each :class:`StallWarning`
        a run raised. Collected rather than shown: over many runs, some stall
        for a few epochs and recover, and the accuracies tell the outcome.
    majority
        Per seed, the share of the most common label among the target's test
        points: the accuracy of always answering it, the floor a model must
        beat to have learned anything (drawn by :meth:`plot`).
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
        stalls: Sequence[tuple[int, str, str]] = (),
        majority: Sequence[float] = (),
    ) -> None:
        self.target = target
        self.auxiliary = list(auxiliary)
        self.seeds = list(seeds)
        self.alone = np.asarray(alone, dtype=float)  # (n_seeds,)
        self.shared = np.asarray(shared, dtype=float)  # (n_seeds,)
        self.models = models
        self.target_train = target_train
        self.settings = dict(settings)
        self.stalls = list(stalls)
        self.majority = np.asarray(majority, dtype=float)  # (n_seeds,), or empty when unknown
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
        """Draw each seed's pair (alone -> shared), the means with their standard deviation, and the floor.

        The dashed line is the majority-class floor (mean over the seeds of
        :attr:`majority`): what always answering the most common label scores.

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
        if self.majority.size:
            floor = float(self.majority.mean())
            ax.axhline(floor, color="0.35", linestyle="--", linewidth=1, zorder=0)
            ax.annotate(
                f"majority-class floor {floor:.3f}",
                (1.45, floor),
                xytext=(0, 3),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize="small",
                color="0.35",
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
            f"{s['shared_std']:.3f}, shared wins on {s['shared_wins']}/{len(self.seeds)}, "
            f"runs that warned of a stall: {len({(seed, label) for seed, label, _ in self.stalls})})"
        )


class SharingGainsDisplay:
    """Several comparisons' gains side by side: per seed, and their mean +/- standard deviation.

    Shows in one figure whether a change of setting (a wider trunk, branching
    earlier, another auxiliary task) turns harm into no harm: each column is
    one :class:`SharingComparison`, its grey dots the seeds' gains (shared
    minus alone, in accuracy points), its square their mean with one standard
    deviation either side. Build it with :meth:`from_comparisons`.

    Parameters
    ----------
    labels
        One label per comparison, drawn under its column.
    gains
        Per comparison, the gains per seed in accuracy points (``(n_seeds,)`` each).
    """

    def __init__(self, *, labels: Sequence[str], gains: Sequence[np.ndarray]) -> None:
        self.labels = list(labels)
        self.gains = [np.asarray(g, dtype=float) for g in gains]
        self.ax_: Any = None
        self.figure_: Any = None

    @classmethod
    def from_comparisons(
        cls, comparisons: dict[str, SharingComparison], *, ax: Any = None, plot: bool = True
    ) -> SharingGainsDisplay:
        """Collect the gains of ``{label: comparison}`` (in that order) and, unless ``plot=False``, draw them.

        Parameters
        ----------
        comparisons
            Label -> the result of :func:`compare_sharing`; at least one.
        ax
            Axes to draw on; a new figure when None.
        plot
            Draw now (the default), or only compute.
        """
        if not isinstance(comparisons, dict) or not comparisons:
            fail(
                "SharingGainsDisplay.from_comparisons(comparisons)",
                "must be a non-empty dict {label: SharingComparison}",
                type(comparisons).__name__ if not isinstance(comparisons, dict) else comparisons,
                'pass e.g. {"4-unit trunk": small, "8-unit trunk": wide}.',
            )
        for label, comparison in comparisons.items():
            if not isinstance(comparison, SharingComparison):
                fail(
                    f"SharingGainsDisplay.from_comparisons(comparisons[{label!r}])",
                    "must be a SharingComparison (the result of compare_sharing)",
                    type(comparison).__name__,
                    "pass the results of compare_sharing(...).",
                    raw=True,
                )
        display = cls(labels=list(comparisons), gains=[100 * c.gains for c in comparisons.values()])
        return display.plot(ax=ax) if plot else display

    def plot(self, ax: Any = None) -> SharingGainsDisplay:
        """Draw the gains: a column per comparison, a line at zero (no effect).

        Parameters
        ----------
        ax
            Axes to draw on; a new figure when None.

        Returns
        -------
        SharingGainsDisplay
            ``self``, with ``ax_`` and ``figure_`` set.
        """
        from mtl_teach.plotting._common import TASK_COLORS, check_axes, new_axes

        check_axes(ax, "SharingGainsDisplay.plot")
        if ax is None:
            _, grid = new_axes(1, size=max(3.6, 1.6 * len(self.labels)))
            ax = grid[0, 0]
        ax.axhline(0.0, color="black", linewidth=1, zorder=0)
        for x, gains in enumerate(self.gains):
            jitter = np.linspace(-0.12, 0.12, len(gains))  # (n_seeds,) spread the dots so none hides another
            ax.scatter(x + jitter, gains, color="0.6", s=14, zorder=1)
            mean, std = float(gains.mean()), float(gains.std(ddof=1)) if len(gains) > 1 else 0.0
            # Okabe & Ito: vermillion for harm, bluish green for a gain; the sign is also the side of the zero line.
            color = TASK_COLORS[5] if mean < 0 else TASK_COLORS[2]
            ax.errorbar(x, mean, yerr=std, color=color, marker="s", markersize=7, capsize=6, linewidth=2, zorder=2)
        ax.set_xticks(range(len(self.labels)), self.labels)
        ax.set_xlim(-0.6, len(self.labels) - 0.4)
        ax.set_ylabel("gain from sharing (accuracy points)")
        ax.set_title("grey: one seed; square: mean +/- standard deviation", fontsize="medium")
        ax.grid(axis="y", alpha=0.3)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def __repr__(self) -> str:
        columns = ", ".join(
            f"{label!r}: {g.mean():+.1f} +/- {g.std(ddof=1) if len(g) > 1 else 0.0:.1f}"
            for label, g in zip(self.labels, self.gains, strict=True)
        )
        return f"SharingGainsDisplay({columns}, drawn={self.ax_ is not None})"


def _layers(widths: Sequence[int], width: int) -> nn.Sequential:
    """ReLU layers of the given widths, on inputs of size ``width``."""
    layers: list[nn.Module] = []
    for size in widths:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    return nn.Sequential(*layers)


def _tasks(task_names: Sequence[str], hidden: Sequence[int], shared_layers: int) -> list[Task]:
    """One task per name: the shared ``base_mlp`` (the first ``shared_layers`` layers), then its own layers and head.

    The trunk is drawn first, so two models built after the same ``set_seed``
    start from the same shared weights whatever tasks follow.
    """
    trunk = _layers(hidden[:shared_layers], 2)  # the toy tasks' points (x0, x1): (batch, 2) -> (batch, hidden[k-1])
    tasks = []
    for name in task_names:
        _, field, _ = COURSE_TASKS[name]
        head = name.replace("_task", "_head")
        pool: dict[str, nn.Module] = {"base_mlp": trunk}
        ops = [Operation("base_mlp", [("_input_", field)])]
        if shared_layers < len(hidden):
            # Branching earlier: the task's own copy of the remaining layers, (batch, hidden[k-1]) -> (batch, hidden[-1]).
            branch = name.replace("_task", "_branch")
            pool[branch] = _layers(hidden[shared_layers:], hidden[shared_layers - 1])
            ops.append(Operation(branch, [("base_mlp", 0)]))
        pool[head] = nn.Linear(hidden[-1], 2)
        ops.append(Operation(head, [(ops[-1].name, 0)]))
        tasks.append(Task(name=name, module_pool=nn.ModuleDict(pool), op_sequence=ops))
    return tasks


def build_shared_model(
    task_names: Sequence[str], *, hidden: Sequence[int], shared_layers: int | None = None, name: str = "shared"
) -> MultitaskClassifier:
    """The model :func:`compare_sharing` trains: a ReLU trunk shared by the tasks, a ``Linear(hidden[-1], 2)`` head each.

    Parameters
    ----------
    task_names
        The course's toy tasks, e.g. ``["circle_task", "inv_circle_task"]``;
        each reads its own field (``"circle_data"``, ...).
    hidden
        Widths of the trunk's ReLU layers, e.g. ``(32, 32)``.
    shared_layers
        How many of those layers the tasks share; each task gets its own copy
        of the rest. None shares them all.
    name
        The model's name.

    Returns
    -------
    MultitaskClassifier
        Untrained; its weights come from torch's generator (call ``set_seed`` first).
    """
    where = "build_shared_model"
    rule, fix = "must be a non-empty list of distinct task names", "pass e.g. ['circle_task', 'inv_circle_task']."
    task_names = as_list(f"{where}(task_names)", task_names, rule, fix)
    if not task_names or len(set(task_names)) != len(task_names):
        fail(f"{where}(task_names)", rule, task_names, fix)
    for task in task_names:
        if task not in COURSE_TASKS:
            fail(
                f"{where}(task_names)",
                f"must name the course's toy tasks ({names(COURSE_TASKS)})",
                task,
                "pick from those names.",
            )
    hidden = _check_layers(where, hidden, shared_layers)
    k = len(hidden) if shared_layers is None else int(shared_layers)
    return MultitaskClassifier(_tasks(task_names, hidden, k), name=name)


def _check_layers(where: str, hidden: Sequence[int], shared_layers: int | None) -> tuple[int, ...]:
    # Returns hidden as a tuple of Python ints.
    rule, fix = "must be a non-empty list of layer widths >= 1", "pass e.g. hidden=(32, 32)."
    widths = as_list(f"{where}(hidden)", hidden, rule, fix)
    if not widths or any(not is_integer(h) or h < 1 for h in widths):
        fail(f"{where}(hidden)", rule, widths, fix)
    hidden = tuple(int(h) for h in widths)
    if shared_layers is not None and (not is_integer(shared_layers) or not 1 <= shared_layers <= len(hidden)):
        fail(
            f"{where}(shared_layers)",
            f"must be None (share the whole trunk) or an integer from 1 to len(hidden) = {len(hidden)}",
            shared_layers,
            "pass e.g. shared_layers=1 to share only the first layer.",
        )
    return hidden


def _loader(task: str, X: np.ndarray, Y: np.ndarray, split: str) -> DictDataLoader:
    _, field, dataset = COURSE_TASKS[task]
    data = DictDataset(dataset, split, {field: torch.from_numpy(X)}, {task: torch.from_numpy(Y)})
    return DictDataLoader(data, batch_size=BATCH_SIZE, shuffle=split == "train")


def _check(
    target: str,
    auxiliary: Sequence[str],
    seeds: Sequence[int],
    n_target: int,
    n_test: int,
    hidden: Sequence[int],
    shared_layers: int | None,
    match_steps: bool,
) -> tuple[list[str], list[int], tuple[int, ...]]:
    # Returns auxiliary, seeds and hidden read once into lists (a generator is used up by one reading).
    where = "compare_sharing"
    if target not in COURSE_TASKS:
        fail(
            f"{where}(target)",
            f"must be one of the course's toy tasks ({names(COURSE_TASKS)})",
            target,
            "pass e.g. 'circle_task'.",
        )
    rule, fix = "must be a non-empty list of task names", "pass e.g. ['inv_circle_task']."
    auxiliary = as_list(f"{where}(auxiliary)", auxiliary, rule, fix)
    if not auxiliary:
        fail(f"{where}(auxiliary)", rule, auxiliary, fix)
    seeds = seed_list(f"{where}(seeds)", seeds)
    for name in auxiliary:
        if name not in COURSE_TASKS or name == target:
            fail(
                f"{where}(auxiliary)",
                f"must name other toy tasks than the target ({names(COURSE_TASKS)})",
                name,
                "pass tasks other than the target.",
            )
    for param, value, low in (("n_target", n_target, 4), ("n_test", n_test, 100)):
        if not is_integer(value) or not low <= value:
            fail(f"{where}({param})", f"must be an integer >= {low}", value, f"pass e.g. {param}={max(low, 20)}.")
    if n_target > 800:
        fail(
            f"{where}(n_target)", "must be <= 800 (the size of a tutorial train split)", n_target, "pass fewer points."
        )
    if not isinstance(match_steps, bool):
        fail(f"{where}(match_steps)", "must be True or False", match_steps, "pass match_steps=False or True.")
    hidden = _check_layers(where, hidden, shared_layers)
    return auxiliary, seeds, hidden


def compare_sharing(
    target: str = "circle_task",
    auxiliary: Sequence[str] = ("inv_circle_task",),
    *,
    seeds: Sequence[int] = range(5),
    n_target: int = 20,
    n_test: int = 5000,
    hidden: Sequence[int] = (32, 32),
    shared_layers: int | None = None,
    match_steps: bool = True,
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
    shared_layers
        How many of those layers the tasks share (where they branch); each
        task gets its own copy of the rest. None (the default) shares them all,
        as the tutorial does. The model alone has the same layers.
    match_steps
        True: the model alone repeats its points until it takes at least as
        many optimiser steps as the shared model, which is fair when asking
        whether sharing *helps*. False: both models see the target's points
        once per epoch, so the target gets as many updates in both, which is
        fair when asking whether sharing *hurts* (the shared model also takes
        the auxiliary tasks' steps, so steps matched, the model alone would
        get more of the target's updates).
    n_epochs
        Epochs of both models.
    lr
        Adam's learning rate, for both.

    Returns
    -------
    SharingComparison
        Accuracies per seed, the models, ``summary()``, ``as_dataframe()`` and ``plot()``.
    """
    auxiliary, seeds, hidden = _check(target, auxiliary, seeds, n_target, n_test, hidden, shared_layers, match_steps)
    k = len(hidden) if shared_layers is None else int(shared_layers)
    make_target = COURSE_TASKS[target][0]
    alone, shared, models, target_points = [], [], {}, {}
    stalls: list[tuple[int, str, str]] = []
    majority: list[float] = []  # per seed: the share of the test points' most common label
    for seed in seeds:
        (X, Y), _, _ = make_target(n=1000, seed=seed)
        target_points[seed] = (X[:n_target], Y[:n_target])
        target_train = _loader(target, *target_points[seed], "train")
        _, _, (X_test, Y_test) = make_target(n=10 * n_test, seed=seed + TEST_SEED_OFFSET)
        target_test = _loader(target, X_test, Y_test, "test")
        majority.append(float(np.bincount(Y_test).max() / len(Y_test)))
        aux_train = [_loader(name, *COURSE_TASKS[name][0](n=1000, seed=seed)[0], "train") for name in auxiliary]
        # Alone, the target's few points make few batches per epoch. Its loader repeats them
        # (shuffled) until an epoch has at least as many batches as the shared model's, so
        # both train the same epochs with at least as many optimiser steps alone.
        shared_batches = len(target_train) + sum(len(loader) for loader in aux_train)
        copies = math.ceil(shared_batches * BATCH_SIZE / n_target) if match_steps else 1
        X_alone, Y_alone = np.tile(X[:n_target], (copies, 1)), np.tile(Y[:n_target], copies)
        runs = {
            "alone": ([target], [_loader(target, X_alone, Y_alone, "train")], n_epochs),
            "shared": ([target, *auxiliary], [target_train, *aux_train], n_epochs),
        }
        steps = {label: epochs * sum(len(loader) for loader in loaders) for label, (_, loaders, epochs) in runs.items()}
        models[seed] = {}
        for label, (task_names, loaders, epochs) in runs.items():
            set_seed(seed)  # the same starting trunk for both models
            model = build_shared_model(task_names, hidden=hidden, shared_layers=shared_layers, name=f"{label}_{seed}")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", StallWarning)
                Trainer(progress_bar=False, n_epochs=epochs, lr=lr, seed=seed).fit(model, loaders)
            for warning in caught:
                if issubclass(warning.category, StallWarning):
                    stalls.append((seed, label, str(warning.message)))
                else:  # only stalls are collected; anything else is the caller's to see
                    warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            models[seed][label] = model
        key = f"{target}/{COURSE_TASKS[target][2]}/test/accuracy"
        alone.append(models[seed]["alone"].score([target_test])[key])
        shared.append(models[seed]["shared"].score([target_test])[key])
    settings = {
        "n_target": n_target,
        "n_test": len(Y_test),
        "hidden": tuple(hidden),
        "shared_layers": k,
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
        stalls=stalls,
        majority=majority,
    )


__all__ = ["SharingComparison", "SharingGainsDisplay", "build_shared_model", "compare_sharing"]
