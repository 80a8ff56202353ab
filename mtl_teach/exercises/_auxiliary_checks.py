"""What "correct" means in notebook 10: the auxiliary task and trunk that make sharing pay off.

The student's answer is a model built with
:func:`mtl_teach.sharing.build_shared_model`: the circle task and one
auxiliary task sharing a ReLU trunk. The check reads the decision out of the
model's structure (which auxiliary task, which layer widths), then measures
it with :func:`mtl_teach.sharing.compare_sharing` over the same seeds as the
notebook, so a choice passes because it works, not because it matches a key.
Like every check the grader runs, it relies only on the objects' data.
"""

from __future__ import annotations

import functools
from typing import Any

from torch import nn

from mtl_teach.exercises._core import Incorrect, NotAttempted, is_stub
from mtl_teach.model import MultitaskClassifier
from mtl_teach.sharing import build_shared_model, compare_sharing
from mtl_teach.toy_data import COURSE_TASKS

TARGET = "circle_task"
N_TARGET = 30  # the circle's training points
SEEDS = tuple(range(5))
MIN_GAIN = 0.035  # mean gain over the seeds, in accuracy (3.5 points)
MIN_WINS = 4  # seeds on which the shared model beats the model alone
MAX_LAYERS = 3
MAX_WIDTH = 64  # keeps a check to seconds


def _structure(model: nn.Module) -> list[tuple[str, list[tuple[int, ...]]]]:
    """Module names and parameter shapes, in order: what two models of the same build share."""
    return [(name, [tuple(p.shape) for p in module.parameters()]) for name, module in sorted(model.module_pool.items())]


def read_decision(model: Any) -> tuple[str, tuple[int, ...]]:
    """The auxiliary task and trunk widths a model built by ``build_shared_model`` stands for.

    Raises :class:`NotAttempted` for a stub and :class:`Incorrect`, naming the
    problem, for anything else that is not such a model.
    """
    if is_stub(model):
        raise NotAttempted(
            f"model is still {model!r}: replace `raise NotImplementedError` with your choice, and run the cell without errors."
        )
    if not isinstance(model, MultitaskClassifier):
        raise Incorrect(
            f"model is a {type(model).__name__}, not a MultitaskClassifier: build it with "
            "build_shared_model([TARGET, auxiliary], hidden=hidden)."
        )
    tasks = list(model.tasks)
    others = [task for task in tasks if task != TARGET]
    if TARGET not in tasks or len(tasks) != 2:
        raise Incorrect(
            f"the model's tasks are {tasks}: it needs exactly two, {TARGET!r} and one auxiliary task "
            f"(one of {sorted(set(COURSE_TASKS) - {TARGET})})."
        )
    auxiliary = others[0]
    trunk = model.module_pool["base_mlp"] if "base_mlp" in model.module_pool else None  # noqa: SIM401 (ModuleDict has no .get)
    layers = list(trunk) if isinstance(trunk, nn.Sequential) else []
    linear = [layer for layer in layers if isinstance(layer, nn.Linear)]
    widths = tuple(layer.out_features for layer in linear)
    if not widths or auxiliary not in COURSE_TASKS:
        raise Incorrect(
            "the model was not built by build_shared_model: build it with "
            "build_shared_model([TARGET, auxiliary], hidden=hidden), with auxiliary one of the course's tasks."
        )
    if len(widths) > MAX_LAYERS or max(widths) > MAX_WIDTH:
        raise Incorrect(
            f"hidden={widths} is outside this exercise's limits: at most {MAX_LAYERS} layers of at most "
            f"{MAX_WIDTH} units each (so that a check takes seconds). Pick a smaller trunk."
        )
    expected = build_shared_model([*tasks], hidden=widths)
    if _structure(model) != _structure(expected) or model.shared_modules() != ["base_mlp"]:
        raise Incorrect(
            "the model's modules are not those of build_shared_model([TARGET, auxiliary], hidden=hidden) "
            "with the whole trunk shared (no shared_layers): build it with that call, so the check measures your choice."
        )
    return auxiliary, widths


@functools.lru_cache(maxsize=32)
def measure(auxiliary: str, hidden: tuple[int, ...]) -> dict[str, float]:
    """``compare_sharing`` on the exercise's seeds and circle points (cached: a check may run twice)."""
    return compare_sharing(TARGET, [auxiliary], seeds=SEEDS, n_target=N_TARGET, hidden=hidden).summary()


def evaluate_decision(model: Any) -> str:
    """Correct when the chosen auxiliary task and trunk make the circle gain enough, on enough seeds."""
    auxiliary, hidden = read_decision(model)
    summary = measure(auxiliary, hidden)
    measured = (
        f"sharing {auxiliary!r} with a {hidden} trunk moves the {N_TARGET}-point circle task from "
        f"{summary['alone_mean']:.3f} alone to {summary['shared_mean']:.3f} shared "
        f"({100 * summary['gain_mean']:+.1f} points on average, shared wins on {summary['shared_wins']}/{len(SEEDS)} seeds)"
    )
    goal = f"at least {100 * MIN_GAIN:.1f} points on average and wins on at least {MIN_WINS} of {len(SEEDS)} seeds"
    if summary["gain_mean"] < MIN_GAIN or summary["shared_wins"] < MIN_WINS:
        raise Incorrect(f"{measured}; the goal is {goal}. Change the auxiliary task or the trunk, and measure again.")
    return f"{measured}: the goal ({goal}) is met."
