"""Operation and Task: a task is a named path through a pool of modules.

An :class:`Operation` says "run module M on these inputs"; a :class:`Task`
is a sequence of operations ending in that task's head, plus its loss,
output function, scorer and loss weight. Tasks that list a module under the
same name share it (hard parameter sharing).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mtl_teach._errors import fail, names
from mtl_teach._validation import is_number
from mtl_teach.scorer import Scorer

INPUT = "_input_"  # the op name that stands for the batch's X_dict
OpInput = str | tuple[str, Any]


@dataclass(frozen=True, init=False)
class Operation:
    """Run ``module_name`` on ``inputs``; its output is known as ``name``.

    Parameters
    ----------
    module_name
        Key of the module in the task's module pool.
    inputs
        Each input is an earlier op's name (its whole output), or a pair
        ``(op_name, key)`` picking ``output[key]``. ``("_input_", field)``
        reads ``X_dict[field]`` from the batch. A tensor output counts as a
        one-element tuple, so ``(op_name, 0)`` is the tensor itself.
    name
        This op's name; defaults to ``module_name``.
    """

    module_name: str
    inputs: tuple[OpInput, ...]
    name: str

    def __init__(self, module_name: str, inputs: Sequence[OpInput], name: str | None = None) -> None:
        if not isinstance(module_name, str) or not module_name:
            fail(
                "Operation(module_name)",
                "must be a non-empty string",
                module_name,
                'pass the module\'s key in the module pool, e.g. "base_mlp".',
            )
        if isinstance(inputs, str) or (isinstance(inputs, tuple) and len(inputs) == 2 and isinstance(inputs[0], str)):
            inputs = [inputs]  # one input given bare instead of in a list
        if not isinstance(inputs, list | tuple):
            fail(
                f"Operation({module_name!r}, inputs)",
                "must be a list of inputs",
                inputs,
                'write e.g. [("_input_", "circle_data")] or ["base_mlp"].',
            )
        normalised: list[OpInput] = []
        for item in inputs:
            if isinstance(item, list | tuple):
                if len(item) != 2 or not isinstance(item[0], str):
                    fail(
                        f"Operation({module_name!r}, inputs)",
                        "entries must be an op name or a pair (op_name, key)",
                        item,
                        'write e.g. ("_input_", "circle_data") or ("base_mlp", 0).',
                    )
                normalised.append((item[0], item[1]))
            elif isinstance(item, str):
                normalised.append(item)
            else:
                fail(
                    f"Operation({module_name!r}, inputs)",
                    "entries must be an op name or a pair (op_name, key)",
                    item,
                    'write e.g. ("_input_", "circle_data") or ("base_mlp", 0).',
                )
        object.__setattr__(self, "module_name", module_name)
        object.__setattr__(self, "inputs", tuple(normalised))
        object.__setattr__(self, "name", module_name if name is None else name)

    def __repr__(self) -> str:
        return f"Operation(name={self.name!r}, module_name={self.module_name!r}, inputs={list(self.inputs)})"

    def source_names(self) -> list[str]:
        """Names of the ops (or ``"_input_"``) this op reads from."""
        return [item if isinstance(item, str) else item[0] for item in self.inputs]


def _softmax(logits: torch.Tensor) -> torch.Tensor:
    return F.softmax(logits, dim=1)


@dataclass(frozen=True, eq=False)  # compared by identity: a task holds modules
class Task:
    """A named path through a module pool, with its loss, output and metrics.

    Parameters
    ----------
    name
        Task name; a batch trains this task when its ``Y_dict`` has this key.
    module_pool
        ``nn.ModuleDict`` (or dict) of the modules the ops use. Modules are
        shared across tasks by name.
    op_sequence
        The operations, in order; the last one's output is the logits,
        shape ``(batch, n_classes)``. ``task_flow`` is accepted as an alias.
    scorer
        Metrics for :meth:`MultitaskClassifier.score`; accuracy by default.
    loss_func
        ``f(logits, labels) -> loss``; cross-entropy by default. Labels -1
        are removed before it is called.
    output_func
        ``f(logits) -> probs``; softmax over dim 1 by default.
    weight
        Multiplier of this task's loss in the total loss.
    """

    name: str
    module_pool: nn.ModuleDict
    op_sequence: tuple[Operation, ...] = ()
    scorer: Scorer = field(default_factory=lambda: Scorer(metrics=["accuracy"]))
    loss_func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy
    output_func: Callable[[torch.Tensor], torch.Tensor] = _softmax
    weight: float = 1.0
    task_flow: Sequence[Operation] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"Task({self.name!r})"
        if not isinstance(self.name, str) or not self.name:
            fail("Task(name)", "must be a non-empty string", self.name, 'pass e.g. "circle_task".')
        if "/" in self.name:
            fail(
                "Task(name)",
                "must not contain '/', which separates the parts of score keys",
                self.name,
                "use '_' instead.",
            )
        pool = self.module_pool
        if isinstance(pool, Mapping) and not isinstance(pool, nn.ModuleDict):
            bad = [k for k, m in pool.items() if not isinstance(m, nn.Module)]
            if bad:
                fail(
                    f"{where} module_pool", "must map names to nn.Module objects", bad, "put only modules in the pool."
                )
            pool = nn.ModuleDict(dict(pool))
        if not isinstance(pool, nn.ModuleDict):
            fail(
                f"{where} module_pool",
                "must be an nn.ModuleDict",
                type(pool).__name__,
                'use nn.ModuleDict({"base_mlp": base_mlp, ...}).',
                raw=True,
            )
        ops = self.task_flow if self.task_flow is not None else self.op_sequence
        ops = tuple(ops)
        if not ops:
            fail(f"{where} op_sequence", "must hold at least one Operation", [], "list the ops from input to head.")
        seen = [INPUT]
        for op in ops:
            if not isinstance(op, Operation):
                fail(
                    f"{where} op_sequence",
                    "must hold Operation objects",
                    op,
                    "wrap each step: Operation(module_name, inputs).",
                )
            if op.module_name not in pool:
                fail(
                    f"{where} op {op.name!r}",
                    f"names module {op.module_name!r}, which is not in the module pool (modules: {names(pool.keys())})",
                    op.module_name,
                    "add the module to module_pool or fix the name.",
                )
            for source in op.source_names():
                if source not in seen:
                    fail(
                        f"{where} op {op.name!r} inputs",
                        f"must name '_input_' or an earlier op (earlier ops: {names(seen[1:])})",
                        source,
                        "fix the name, or move that op earlier.",
                    )
            if op.name in seen:
                fail(
                    f"{where} op_sequence", "must not repeat an op name", op.name, "give the second op its own name=..."
                )
            seen.append(op.name)
        if not callable(self.loss_func) or not callable(self.output_func):
            fail(
                f"{where} loss_func/output_func",
                "must be callables",
                (self.loss_func, self.output_func),
                "pass functions such as F.cross_entropy.",
            )
        if not is_number(self.weight) or not self.weight >= 0 or math.isinf(self.weight):
            fail(f"{where} weight", "must be a finite number >= 0", self.weight, "pass e.g. weight=1.0.")
        if self.scorer is not None and not isinstance(self.scorer, Scorer):
            fail(f"{where} scorer", "must be a Scorer", self.scorer, "pass e.g. Scorer(metrics=['accuracy']).")
        object.__setattr__(self, "module_pool", pool)
        object.__setattr__(self, "op_sequence", ops)
        object.__setattr__(self, "task_flow", None)
        object.__setattr__(self, "scorer", self.scorer if self.scorer is not None else Scorer(metrics=["accuracy"]))

    def __repr__(self) -> str:
        flow = " -> ".join(op.name for op in self.op_sequence)
        return f"Task(name={self.name!r}, flow={flow!r}, modules={list(self.module_pool.keys())}, scorer={self.scorer!r}, weight={self.weight})"
