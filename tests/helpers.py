"""Shared builders for the unit tests: the Snorkel tutorial's tasks and data.

Imported by the test modules as ``from helpers import ...`` (pytest puts
``tests/`` on ``sys.path`` because it has no ``__init__.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mtl_teach import DictDataLoader, DictDataset, Operation, Task
from mtl_teach.toy_data import TUTORIAL_TASKS

# task name -> (X_dict field, dataset name), as in the tutorial
FIELDS = {name: (x_key, dataset) for name, (_, x_key, dataset) in TUTORIAL_TASKS.items()}


def make_base_mlp() -> nn.Sequential:
    """The tutorial's shared trunk: Linear(2, 8) - ReLU - Linear(8, 4) - ReLU."""
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())


def tutorial_tasks(
    task_names: Sequence[str] = ("circle_task", "square_task"), base_mlp: nn.Module | None = None
) -> list[Task]:
    """The tutorial's tasks: a shared ``base_mlp`` and one ``Linear(4, 2)`` head each."""
    base_mlp = make_base_mlp() if base_mlp is None else base_mlp
    tasks = []
    for name in task_names:
        x_key, _ = FIELDS[name]
        head_name = name.removesuffix("_task") + "_head_module"
        pool = nn.ModuleDict({"base_mlp": base_mlp, head_name: nn.Linear(4, 2)})
        ops = [
            Operation(module_name="base_mlp", inputs=[("_input_", x_key)], name="base_mlp"),
            Operation(module_name=head_name, inputs=["base_mlp"], name=name.removesuffix("_task") + "_head"),
        ]
        tasks.append(Task(name=name, module_pool=pool, op_sequence=ops))
    return tasks


def small_loader(
    n: int = 64,
    *,
    task: str = "circle_task",
    split: str = "train",
    seed: int = 0,
    batch_size: int = 16,
    **kwargs,
) -> DictDataLoader:
    """A small loader in the tutorial's format (circle labels) for quick tests."""
    x_key, dataset = FIELDS[task]
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, generator=g) * 2 - 1
    Y = (X.pow(2).sum(dim=1) < 0.5).long()
    return DictDataLoader(DictDataset(dataset, split, {x_key: X}, {task: Y}), batch_size=batch_size, **kwargs)
