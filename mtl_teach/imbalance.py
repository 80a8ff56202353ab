"""Loss-scale imbalance: one task's loss 100 times larger, trained with several weightings, over seeds.

``compare_weightings`` trains, for each seed and each weighting, the
tutorial's model (2-8-4 ReLU trunk, a 4->2 head per task) on points that
carry both tasks' labels (:func:`~mtl_teach.toy_data.make_joint_dataloaders`),
with the *loud* task's loss multiplied by ``loud_weight`` (``Task(weight=...)``).
Every run of one seed starts from the same weights and sees the same batches;
only the weighting differs. Each task is scored on thousands of fresh test
points.

With equal weighting the loud task's gradient dominates the shared trunk, so
the trunk serves it and the quiet task is left with what its head can do on
features it did not shape. Uncertainty weighting and GradNorm learn weights
that shrink the loud task's share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from mtl_teach._errors import fail, names
from mtl_teach._validation import as_list, is_integer, is_number, seed_list
from mtl_teach.balancing import WEIGHTINGS
from mtl_teach.model import MultitaskClassifier
from mtl_teach.seed import set_seed
from mtl_teach.task import Operation, Task
from mtl_teach.toy_data import TUTORIAL_TASKS, make_joint_dataloaders
from mtl_teach.trainer import Trainer

TEST_SEED_OFFSET = 2_000_003  # test points come from another stream than any training seed's


class WeightingComparison:
    """Each task's test accuracy per weighting and seed, and the training histories.

    Build it with :func:`compare_weightings`.

    Parameters
    ----------
    tasks
        ``(quiet task, loud task)``.
    loud_weight
        The factor on the loud task's loss.
    seeds
        One run per seed and weighting.
    accuracy
        ``{weighting: {task: array of accuracies, one per seed}}``.
    histories
        ``{seed: {weighting: trainer.history}}``.
    settings
        Epochs, test points, learning rate.
    """

    def __init__(
        self,
        *,
        tasks: tuple[str, str],
        loud_weight: float,
        seeds: Sequence[int],
        accuracy: dict[str, dict[str, np.ndarray]],
        histories: dict[int, dict[str, dict[str, list[float]]]],
        settings: dict[str, Any],
    ) -> None:
        self.tasks = tasks
        self.loud_weight = loud_weight
        self.seeds = list(seeds)
        self.accuracy = accuracy
        self.histories = histories
        self.settings = settings

    @property
    def weightings(self) -> list[str]:
        return list(self.accuracy)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per weighting: each task's mean and standard deviation over the seeds, and the quiet task's
        gain over ``"equal"`` (mean, min, and on how many seeds it is > 0) when equal was run."""
        quiet = self.tasks[0]
        result = {}
        for weighting, by_task in self.accuracy.items():
            row: dict[str, float] = {}
            for task, values in by_task.items():
                row[f"{task}_mean"] = float(values.mean())
                row[f"{task}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            if "equal" in self.accuracy and weighting != "equal":
                gain = by_task[quiet] - self.accuracy["equal"][quiet]
                row.update(gain_mean=float(gain.mean()), gain_min=float(gain.min()), wins=int((gain > 0).sum()))
            result[weighting] = row
        return result

    def as_dataframe(self) -> Any:
        """One row per seed, one column per (weighting, task): test accuracies (pandas DataFrame)."""
        import pandas as pd

        columns = {(w, t): values for w, by_task in self.accuracy.items() for t, values in by_task.items()}
        return pd.DataFrame(columns, index=pd.Index(self.seeds, name="seed"))

    def __repr__(self) -> str:
        quiet = self.tasks[0]
        means = ", ".join(f"{w}: {by_task[quiet].mean():.3f}" for w, by_task in self.accuracy.items())
        return (
            f"WeightingComparison(quiet={quiet!r}, loud={self.tasks[1]!r} x{self.loud_weight:g}, "
            f"seeds={len(self.seeds)}, quiet task's mean accuracy={{{means}}})"
        )


def make_tutorial_model(
    task_names: Sequence[str] = ("circle_task", "square_task"), *, weights: Mapping[str, float] | None = None
) -> MultitaskClassifier:
    """The tutorial's model for these tasks: one shared 2-8-4 ReLU trunk (``base_mlp``), a 4->2 head per task.

    Each task reads its tutorial field (``circle_data``, ...), so it trains on
    :func:`~mtl_teach.toy_data.make_joint_dataloaders` and on the tutorial's loaders.
    Call :func:`~mtl_teach.set_seed` first to fix the starting weights.

    Parameters
    ----------
    task_names
        Tutorial tasks.
    weights
        Task -> loss weight (``Task(weight=...)``); 1 for the tasks left out.
    """
    weights = dict(weights or {})
    rule = f"must name tutorial tasks ({names(TUTORIAL_TASKS)}), and so must the keys of weights"
    fix = "pass e.g. ('circle_task', 'square_task')."
    task_names = as_list("make_tutorial_model(task_names)", task_names, rule, fix)  # read once: a generator too
    unknown = [name for name in [*task_names, *weights] if name not in TUTORIAL_TASKS]
    if unknown:
        fail("make_tutorial_model(task_names)", rule, unknown, fix)
    trunk = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())  # shared by every task
    tasks = []
    for name in task_names:
        _, field, _ = TUTORIAL_TASKS[name]
        head = name.replace("_task", "_head")
        tasks.append(
            Task(
                name=name,
                module_pool=nn.ModuleDict({"base_mlp": trunk, head: nn.Linear(4, 2)}),
                op_sequence=[Operation("base_mlp", [("_input_", field)]), Operation(head, [("base_mlp", 0)])],
                weight=float(weights.get(name, 1.0)),
            )
        )
    return MultitaskClassifier(tasks)


def compare_weightings(
    quiet: str = "circle_task",
    loud: str = "square_task",
    *,
    loud_weight: float = 100.0,
    weightings: Sequence[str] = ("equal", "uncertainty", "gradnorm"),
    seeds: Sequence[int] = range(5),
    n_epochs: int = 20,
    n_test: int = 5000,
) -> WeightingComparison:
    """Train the two tasks with the loud one's loss scaled, once per weighting and seed.

    Parameters
    ----------
    quiet, loud
        Two different tutorial tasks; ``loud``'s loss is multiplied by ``loud_weight``.
    loud_weight
        The factor (> 0); 1 gives the balanced reference.
    weightings
        Names of :data:`mtl_teach.balancing.WEIGHTINGS`.
    seeds
        One run per seed and weighting (the same data and starting weights for every weighting).
    n_epochs
        Epochs of each run (Adam, lr 0.01, the Trainer's defaults).
    n_test
        Fresh test points per seed (>= 100).

    Returns
    -------
    WeightingComparison
        Accuracies per weighting, task and seed; histories; ``summary()``, ``as_dataframe()``.
    """
    where = "compare_weightings"
    for param, name in (("quiet", quiet), ("loud", loud)):
        if name not in TUTORIAL_TASKS:
            fail(
                f"{where}({param})",
                f"must be a tutorial task ({names(TUTORIAL_TASKS)})",
                name,
                "pass e.g. 'circle_task'.",
            )
    if quiet == loud:
        fail(f"{where}(loud)", "must differ from quiet", loud, "pass another tutorial task, e.g. 'square_task'.")
    if not is_number(loud_weight) or not loud_weight > 0:
        fail(f"{where}(loud_weight)", "must be a number > 0", loud_weight, "pass e.g. loud_weight=100.")
    rule, fix = f"must be a list of names from {names(WEIGHTINGS)}", "pass e.g. ('equal', 'gradnorm')."
    weightings = as_list(f"{where}(weightings)", weightings, rule, fix)  # read once: a generator too
    if not weightings or any(w not in WEIGHTINGS for w in weightings):
        fail(f"{where}(weightings)", rule, weightings, fix)
    seeds = seed_list(f"{where}(seeds)", seeds)
    for param, value, low in (("n_epochs", n_epochs, 1), ("n_test", n_test, 100)):
        if not is_integer(value) or value < low:
            fail(f"{where}({param})", f"must be an integer >= {low}", value, f"pass e.g. {param}={max(low, 20)}.")
    pair = (quiet, loud)
    accuracy = {w: {t: [] for t in pair} for w in weightings}
    histories: dict[int, dict[str, dict[str, list[float]]]] = {}
    for seed in seeds:
        train = make_joint_dataloaders(pair, seed=seed)[0]
        # 10 * n_test points, of which the test split is the last tenth: n_test fresh points.
        test = make_joint_dataloaders(pair, n=10 * n_test, seed=seed + TEST_SEED_OFFSET)[2]
        histories[seed] = {}
        for weighting in weightings:
            set_seed(seed)  # the same starting weights for every weighting
            model = make_tutorial_model(pair, weights={loud: float(loud_weight)})
            trainer = Trainer(progress_bar=False, n_epochs=n_epochs, seed=seed, weighting=weighting)
            trainer.fit(model, [train])
            histories[seed][weighting] = {key: list(values) for key, values in trainer.history.items()}
            scores = model.score([test])
            for task in pair:
                accuracy[weighting][task].append(scores[f"{task}/jointDataset/test/accuracy"])
    return WeightingComparison(
        tasks=pair,
        loud_weight=float(loud_weight),
        seeds=seeds,
        accuracy={w: {t: np.array(v) for t, v in by_task.items()} for w, by_task in accuracy.items()},
        histories=histories,
        settings={"n_epochs": n_epochs, "n_test": n_test, "lr": 0.01, "trunk": (2, 8, 4)},
    )


__all__ = ["WeightingComparison", "compare_weightings", "make_tutorial_model"]
