"""What "correct" means in notebook 04: one evaluate function per question.

Each takes the student's objects and returns a success message, or raises
:class:`NotAttempted` / :class:`Incorrect` naming the specific mistake. The
grader calls these same functions on objects rebuilt outside the student's
kernel, so they must rely only on the objects' data, never on their methods.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mtl_teach.data import DictDataLoader
from mtl_teach.exercises._core import Incorrect, NotAttempted, fresh_seed, is_stub
from mtl_teach.model import MultitaskClassifier
from mtl_teach.task import Task
from mtl_teach.toy_data import make_tutorial_dataloaders

TASK = "inv_circle_task"
FIELD = "inv_circle_data"
HEAD = "inv_circle_head"
TASKS = ("circle_task", "square_task", TASK)
MODULES = ("base_mlp", "circle_head", "square_head", HEAD)
MIN_ACCURACY = 0.85  # above every task's majority class (at most 0.79)
# The training check scores on data of another seed than the notebook's 123:
# 80% of seed 123's points are the training set, where a lookup table that
# memorised them would score 1.00. In a notebook the seed is this public one;
# the grader scores on a secret seed (see _core.fresh_seed), since a table of
# this seed's points would pass as well.
FRESH_SEED = 4242


def _not_attempted(value: Any, what: str) -> None:
    if is_stub(value):
        raise NotAttempted(
            f"{what} is still {value!r}: replace `raise NotImplementedError` with your code, and run the cell without errors."
        )


def _check_loader(loader: Any, where: str) -> DictDataLoader:
    if not isinstance(loader, DictDataLoader):
        raise Incorrect(
            f"{where} is a {type(loader).__name__}, not a DictDataLoader: wrap your DictDataset in DictDataLoader(dataset, batch_size=32)."
        )
    data = loader.dataset
    ys, xs = list(data.Y_dict), list(data.X_dict)
    if ys != [TASK]:
        key = ys[0] if len(ys) == 1 else ys
        raise Incorrect(
            f"Y_dict key {key!r} matches no task: name it after your task, {TASK!r} (one key, like 'circle_task' in the tutorial)."
        )
    if xs != [FIELD]:
        key = xs[0] if len(xs) == 1 else xs
        raise Incorrect(
            f"X_dict key {key!r} is not the field your task reads: name it {FIELD!r}, the field in Operation('base_mlp', [('_input_', {FIELD!r})])."
        )
    X, Y = data.X_dict[FIELD], data.Y_dict[TASK]
    if not isinstance(X, torch.Tensor) or X.dim() != 2 or X.shape[1] != 2:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise Incorrect(
            f"X_dict[{FIELD!r}] must be a tensor of points, shape (n, 2); got {shape}: use torch.FloatTensor(X_train)."
        )
    if X.dtype != torch.float32:
        raise Incorrect(
            f"X_dict[{FIELD!r}] has dtype {X.dtype}, but the model's weights are float32: use torch.FloatTensor(X_train)."
        )
    labels = set(torch.unique(Y).tolist())
    if not labels <= {0, 1}:
        raise Incorrect(
            f"the labels hold classes {sorted(labels)}, but inv_circle_task has 2 classes (0 and 1): use the Y from make_inv_circle_dataset."
        )
    outside = (X[:, 0] ** 2 + X[:, 1] ** 2 > 1.0).long()
    agree = float((outside == Y).float().mean())
    if agree < 0.99:
        flipped = (
            " The labels are the circle task's (1 = inside): the inverted circle's 1 means outside."
            if agree < 0.01
            else ""
        )
        raise Incorrect(
            f"only {agree:.0%} of the labels say 'outside the circle x0^2 + x1^2 > 1' for their points: pair each X with its own Y from make_inv_circle_dataset.{flipped}"
        )
    return loader


def evaluate_dataloader(inv_dataloader: Any) -> str:
    """``inv_dataloader``: a DictDataLoader (or a list of them) for inv_circle_task, with a train split."""
    _not_attempted(inv_dataloader, "inv_dataloader")
    loaders = list(inv_dataloader) if isinstance(inv_dataloader, list | tuple) else [inv_dataloader]
    checked = [
        _check_loader(loader, f"inv_dataloader[{i}]" if len(loaders) > 1 else "inv_dataloader")
        for i, loader in enumerate(loaders)
    ]
    splits = [loader.dataset.split for loader in checked]
    if "train" not in splits:
        raise Incorrect(
            f"your loader's split is {splits[0]!r}, but the Trainer learns only from 'train' loaders: build it from X_train, Y_train with split 'train'."
        )
    n = sum(len(loader.dataset) for loader in checked if loader.dataset.split == "train")
    return f"a 'train' DictDataLoader of {n} points, X_dict[{FIELD!r}] -> Y_dict[{TASK!r}]. Next: add it to the loaders, all_dataloaders = [*dataloaders, inv_dataloader]."


def _trunk_width(base: nn.Module) -> int:
    try:
        with torch.no_grad():
            out = base(torch.zeros(3, 2))
    except Exception as error:
        raise Incorrect(
            f"base_mlp fails on a batch of 2-D points ({type(error).__name__}: {str(error).splitlines()[0]}): use the tutorial's trunk, whose first layer is nn.Linear(2, 8)."
        ) from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise Incorrect("base_mlp must return one tensor of shape (batch, features): use the tutorial's trunk.")
    return int(out.shape[1])


def evaluate_task(inv_circle_task: Any, base_mlp: Any = None) -> str:
    """``inv_circle_task``: a Task named inv_circle_task running base_mlp, then its own head.

    ``base_mlp``, the tutorial's trunk, when given: the task's must be that same object.
    """
    _not_attempted(inv_circle_task, "inv_circle_task")
    if not isinstance(inv_circle_task, Task):
        raise Incorrect(
            f"inv_circle_task is a {type(inv_circle_task).__name__}, not a Task: build it with Task(name=..., module_pool=..., op_sequence=...)."
        )
    task = inv_circle_task
    if task.name != TASK:
        raise Incorrect(f"your task is named {task.name!r}: name it {TASK!r}, the Y_dict key of its labels.")
    pool = task.module_pool
    if "base_mlp" not in pool:
        raise Incorrect(
            f"your task's module pool has no 'base_mlp' (it has {list(pool)}): it must share the trunk, so put the tutorial's base_mlp in it under that name."
        )
    if HEAD not in pool:
        other = [k for k in pool if k.endswith("_head")]
        if other:
            raise Incorrect(
                f"your task's head is {other[0]!r}: give it its own head named {HEAD!r}, or it would share another task's head."
            )
        raise Incorrect(f"your task's module pool has no {HEAD!r}: add its own head, {HEAD!r}: nn.Linear(4, 2).")
    if isinstance(base_mlp, nn.Module) and pool["base_mlp"] is not base_mlp:
        raise Incorrect(
            "your task's base_mlp is a different module from the tutorial's base_mlp: it must share the trunk, so put that same object in its pool, {'base_mlp': base_mlp, ...}, not a new nn.Sequential or a copy."
        )
    width = _trunk_width(pool["base_mlp"])
    head = pool[HEAD]
    if not isinstance(head, nn.Linear):
        raise Incorrect(
            f"the head is a {type(head).__name__}: make it one layer, nn.Linear(4, 2), like the other heads."
        )
    if head.in_features != width:
        raise Incorrect(
            f"the head takes {head.in_features} inputs but base_mlp gives {width} features: use nn.Linear({width}, 2)."
        )
    if head.out_features != 2:
        raise Incorrect(
            f"the head has {head.out_features} outputs but the labels have 2 classes: use nn.Linear({width}, 2)."
        )
    ops = task.op_sequence
    if [op.module_name for op in ops] != ["base_mlp", HEAD]:
        raise Incorrect(
            f"the task runs {[op.module_name for op in ops]}: it must run 'base_mlp' and then {HEAD!r}, two Operations."
        )
    if list(ops[0].inputs) != [("_input_", FIELD)]:
        raise Incorrect(
            f"the first Operation reads {list(ops[0].inputs)}: it must read your dataset's field, [('_input_', {FIELD!r})]."
        )
    if list(ops[1].inputs) not in ([(ops[0].name, 0)], [ops[0].name]):
        raise Incorrect(
            f"the head's Operation reads {list(ops[1].inputs)}: it must read the trunk's output, [({ops[0].name!r}, 0)]."
        )
    return f"{TASK} runs {FIELD} -> base_mlp -> {HEAD} ({width} -> 2). Next: build a model with all three tasks."


def evaluate_model(model: Any) -> str:
    """``model``: a MultitaskClassifier with the three tasks sharing one base_mlp."""
    _not_attempted(model, "model")
    if not isinstance(model, MultitaskClassifier):
        raise Incorrect(
            f"model is a {type(model).__name__}, not a MultitaskClassifier: build it with MultitaskClassifier([circle_task, square_task, inv_circle_task])."
        )
    names = list(model.tasks)
    missing = [t for t in TASKS if t not in names]
    extra = [t for t in names if t not in TASKS]
    if missing or extra:
        detail = (f" missing {missing}" if missing else "") + (f" unexpected {extra}" if extra else "")
        raise Incorrect(
            f"the model has {len(names)} tasks {names} (expected 3:{detail}): pass [circle_task, square_task, inv_circle_task]."
        )
    pool = list(model.module_pool)
    if sorted(pool) != sorted(MODULES):
        raise Incorrect(
            f"the module pool has {len(pool)} modules {pool}, expected 4 {list(MODULES)}: the tasks share one 'base_mlp', and each has its own head."
        )
    trunk = model.module_pool["base_mlp"]
    for task in model.tasks.values():
        if task.module_pool["base_mlp"] is not trunk:
            raise Incorrect(f"{task.name} has its own copy of base_mlp: every task must use the same base_mlp object.")
    evaluate_task(model.tasks[TASK])
    return "3 tasks and 4 modules: circle, square and inverted circle share base_mlp, each with its own head. Next: train it."


def evaluate_training(model: Any, dataloaders: Any) -> str:
    """``model`` trained on ``dataloaders`` (all_dataloaders): every task beats its majority class."""
    _not_attempted(model, "model")
    _not_attempted(dataloaders, "dataloaders")
    try:
        evaluate_model(model)
    except (Incorrect, NotAttempted) as error:
        raise Incorrect(f"fix the model first (q.model.check): {error}") from None
    if not isinstance(dataloaders, list | tuple) or not all(isinstance(d, DictDataLoader) for d in dataloaders):
        raise Incorrect(
            f"dataloaders must be a list of DictDataLoaders (all_dataloaders); got {type(dataloaders).__name__}."
        )
    for loader in dataloaders:
        for key in loader.dataset.Y_dict:
            if key not in model.tasks:
                raise Incorrect(f"Y_dict key {key!r} matches no task: name it after your task ({list(model.tasks)}).")
    trained = {t for d in dataloaders if d.dataset.split == "train" for t in d.dataset.Y_dict}
    if TASK not in trained:
        raise Incorrect(
            f"your dataloaders have no 'train' loader for {TASK!r}: pass all_dataloaders = [*dataloaders, inv_dataloader]."
        )
    reference = make_tutorial_dataloaders(TASKS, seed=fresh_seed(FRESH_SEED))  # 1000 unseen points a task
    accuracy = {}
    for task in TASKS:
        loaders = [d for d in reference if task in d.dataset.Y_dict]
        right = total = 0
        for loader in loaders:
            result = model.predict(loader, return_preds=True)
            right += int((result["preds"][task] == result["golds"][task]).sum())
            total += len(result["golds"][task])
        accuracy[task] = right / total
    shown = ", ".join(f"{t} {a:.2f}" for t, a in accuracy.items())
    weak = [t for t, a in accuracy.items() if a < MIN_ACCURACY]
    if weak:
        raise Incorrect(
            f"accuracy on fresh data: {shown}; {weak} below {MIN_ACCURACY} (guessing the majority class alone gets up to 0.79): train with Trainer(n_epochs=10, lr=0.02, ...).fit(model, all_dataloaders)."
        )
    return f"accuracy on fresh data: {shown}. All three tasks learned, sharing one trunk."
