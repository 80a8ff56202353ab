"""Execute tasks' op sequences over a shared module pool, computing each node once.

Snorkel caches op outputs by op *name*, so two tasks with an op called
``base_mlp`` on different inputs silently share one output. Here every op
gets a *key* built from its module and the keys of its inputs, e.g.::

    ("base_mlp", (("_input_", "circle_data"),))   # trunk on circle inputs
    ("base_mlp", (("_input_", "square_data"),))   # trunk on square inputs

Two ops share a cached output only when they compute the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mtl_teach._errors import MTLConfigError, fail, names
from mtl_teach.task import INPUT, Task

_WHOLE = object()  # marks an input that takes a node's whole output


_KEY_IDS: dict[tuple[Any, ...], int] = {}  # computation key -> small int (cheap to hash per batch)


def _intern(key: tuple[Any, ...]) -> int:
    return _KEY_IDS.setdefault(key, len(_KEY_IDS))


@dataclass(frozen=True)
class Node:
    """One op of one task, identified by what it computes (``uid``)."""

    uid: int  # equal for two ops exactly when they compute the same thing
    key: tuple[Any, ...]
    op_name: str
    module_name: str
    sources: tuple[tuple[str | None, int | None, Any], ...]  # (X_dict field, or node uid; selector)
    whole_namespace: bool  # op with no inputs: gets {op_name: output}


def compile_task(task: Task) -> tuple[Node, ...]:
    """Turn a task's op sequence into nodes keyed by their computation."""
    keys: dict[str, tuple[Any, ...]] = {}
    nodes = []
    for op in task.op_sequence:
        parts, sources = [], []
        for item in op.inputs:
            name, selector = (item, _WHOLE) if isinstance(item, str) else item
            if name == INPUT:
                # ("_input_", field) reads one field of X_dict; "_input_" the dict.
                field = None if selector is _WHOLE else selector
                parts.append((INPUT, field))
                sources.append((INPUT if field is None else field, None, _WHOLE))
            else:
                parts.append((keys[name], "all" if selector is _WHOLE else selector))
                sources.append((None, _intern(keys[name]), selector))
        key = (op.module_name, tuple(parts))
        keys[op.name] = key
        nodes.append(Node(_intern(key), key, op.name, op.module_name, tuple(sources), not op.inputs))
    return tuple(nodes)


def _select(value: Any, selector: Any, node: Node, task_name: str) -> Any:
    if selector is _WHOLE:
        return value
    if isinstance(value, torch.Tensor):
        # A single tensor output behaves as a 1-tuple: (op, 0) is the tensor.
        if selector == 0:
            return value
        fail(
            f"Task {task_name!r} op {node.op_name!r} inputs",
            "can index a single-tensor output only with 0",
            selector,
            "use (op_name, 0).",
        )
    try:
        return value[selector]
    except (KeyError, IndexError, TypeError):
        fail(
            f"Task {task_name!r} op {node.op_name!r} inputs",
            f"select a part of the output that exists (output type {type(value).__name__})",
            selector,
            "check the key or index.",
        )


def _read_input(X_dict: Mapping[str, Any], field: str, task_name: str) -> Any:
    if field == INPUT:
        return X_dict
    if field not in X_dict:
        fail(
            f"Task {task_name!r} input ('_input_', {field!r})",
            f"must name a field of the batch's X_dict (fields: {names(X_dict)})",
            field,
            "rename the field in the Operation or in the dataset's X_dict.",
        )
    return X_dict[field]


def run_tasks(
    pool: nn.ModuleDict,
    plans: Mapping[str, tuple[Node, ...]],
    X_dict: Mapping[str, Any],
    task_names: Sequence[str],
) -> dict[str, Any]:
    """Run each task's nodes, sharing identical ones; return task -> last output."""
    cache: dict[int, Any] = {}  # node uid -> output, for this batch only
    results: dict[str, Any] = {}
    for task_name in task_names:
        namespace: dict[str, Any] = {}
        output: Any = None
        for node in plans[task_name]:
            if node.uid in cache:
                output = cache[node.uid]
            else:
                if node.whole_namespace:
                    args: list[Any] = [{INPUT: X_dict, **namespace}]
                else:
                    args = []
                    for field, uid, selector in node.sources:
                        value = _read_input(X_dict, field, task_name) if field is not None else cache[uid]
                        args.append(_select(value, selector, node, task_name))
                output = _call(pool[node.module_name], args, node, task_name)
                cache[node.uid] = output
            namespace[node.op_name] = output
        results[task_name] = output
    return results


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')} {tuple(value.shape)}"
    return type(value).__name__


def _call(module: nn.Module, args: list[Any], node: Node, task_name: str) -> Any:
    try:
        return module(*args)
    except MTLConfigError:
        raise
    except (RuntimeError, TypeError, ValueError) as error:
        text = str(error).splitlines()[0]
        hint = "check that this module's input size matches what feeds it."
        if "dtype" in text or "scalar type" in text:
            hint = "convert inputs to float32, e.g. torch.FloatTensor(x) or x.float()."
        raise MTLConfigError(
            f"Task {task_name!r} op {node.op_name!r} (module {node.module_name!r}) failed on inputs "
            f"[{', '.join(_describe(a) for a in args)}]: {text}. Fix: {hint}"
        ) from error
