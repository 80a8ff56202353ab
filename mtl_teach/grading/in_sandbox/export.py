"""Runs inside the student's kernel: describe answers as plain data and save them.

The description holds only dicts, lists, strings, numbers and tensors, so the
grader reads it with ``torch.load(weights_only=True)``, which cannot run
code, and rebuilds genuine mtl_teach objects from it in its own process
(:mod:`mtl_teach.grading.from_kernel.rebuild`). Nothing here is trusted: a student can
replace this module, but a forged description that passes the checks
describes a working answer, since the grader re-runs the checks and the
model on its own data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from mtl_teach.data import DictDataLoader
from mtl_teach.exercises._core import is_stub
from mtl_teach.model import MultitaskClassifier
from mtl_teach.task import Task

FORMAT = 1
MAX_ITEMS = 64
MAX_MODULES = 256
LEAF_ARGS: dict[str, tuple[str, ...]] = {
    "Linear": ("in_features", "out_features"),
    "ReLU": (),
    "Tanh": (),
    "Sigmoid": (),
    "Identity": (),
    "GELU": (),
    "LeakyReLU": ("negative_slope",),
    "ELU": ("alpha",),
    "Dropout": ("p",),
}
CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")


class _Describer:
    def __init__(self) -> None:
        self.modules: list[dict[str, Any]] = []
        self.index: dict[int, int] = {}

    def module(self, module: Any) -> int:
        if id(module) in self.index:
            return self.index[id(module)]
        if len(self.modules) >= MAX_MODULES:
            raise ValueError("too many modules")
        position = len(self.modules)
        self.index[id(module)] = position
        entry: dict[str, Any] = {"type": "unsupported", "name": type(module).__name__}
        self.modules.append(entry)
        kind = type(module).__name__
        if type(module) is getattr(nn, kind, None) and kind in LEAF_ARGS:
            entry.update(type=kind, args={a: getattr(module, a) for a in LEAF_ARGS[kind]})
            if kind == "Linear":
                entry["args"]["bias"] = module.bias is not None
            entry["state"] = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
        elif type(module) is getattr(nn, kind, None) and kind in CONTAINERS:
            entry.update(type=kind, children=[[str(k), self.module(m)] for k, m in module.named_children()])
        return position

    def task(self, task: Task) -> dict[str, Any]:
        ops = []
        for op in task.op_sequence:
            inputs = [[item] if isinstance(item, str) else [item[0], item[1]] for item in op.inputs]
            ops.append([op.name, op.module_name, inputs])
        return {
            "kind": "task",
            "name": task.name,
            "pool": {k: self.module(m) for k, m in task.module_pool.items()},
            "ops": ops,
        }

    def value(self, value: Any, depth: int = 0) -> dict[str, Any]:
        if is_stub(value):
            return {"kind": "stub", "repr": repr(value)[:40]}
        if isinstance(value, list | tuple) and depth == 0:
            return {"kind": "list", "items": [self.value(v, 1) for v in list(value)[:MAX_ITEMS]]}
        if type(value) is DictDataLoader:
            data = value.dataset
            return {
                "kind": "loader",
                "name": data.name,
                "split": data.split,
                "batch_size": value.batch_size,
                "X": {
                    str(k): v.detach().cpu().clone() if isinstance(v, torch.Tensor) else None
                    for k, v in data.X_dict.items()
                },
                "Y": {str(k): v.detach().cpu().clone() for k, v in data.Y_dict.items()},
            }
        if type(value) is Task:
            return self.task(value)
        if type(value) is MultitaskClassifier:
            return {"kind": "model", "tasks": [self.task(t) for t in value.tasks.values()]}
        if isinstance(value, nn.Module) and not isinstance(value, Task | MultitaskClassifier):
            return {"kind": "module", "index": self.module(value)}  # same index = same object
        return {"kind": "other", "type": type(value).__name__}


def describe(values: Mapping[str, Any]) -> dict[str, Any]:
    """Describe ``{name: value}`` as plain data (see the module docstring)."""
    describer = _Describer()
    described = {}
    for name, value in values.items():
        try:
            described[name] = describer.value(value)
        except Exception as error:  # a broken object is reported, not fatal
            described[name] = {
                "kind": "other",
                "type": f"{type(value).__name__} ({type(error).__name__} while reading it)",
            }
    return {"format": FORMAT, "modules": describer.modules, "values": described}


def export(path: str, namespace: Mapping[str, Any], names: list[str]) -> None:
    """Save the description of ``namespace[name]`` for each name (missing ones marked)."""
    values = {name: namespace[name] for name in names if name in namespace}
    description = describe(values)
    for name in names:
        description["values"].setdefault(name, {"kind": "missing"})
    torch.save(description, path)
