"""Turn one base task into slice tasks, and give a dataset their labels.

For a base task ``task`` (body ops, then a ``nn.Linear`` head) and slices
``[s1, ..., base]`` this builds, with Snorkel's names:

- ``task_slice:s_ind``: is the point in slice ``s``? A ``Linear(head_dim, 2)``
  head on the body's features; labels 1 (member) / 0, scored with f1.
- ``task_slice:s_pred``: the base labels, but only on the slice's members
  (-1 elsewhere): an expert ``Linear(head_dim, head_dim)`` then a predictor
  head ``Linear(head_dim, n_classes)`` shared by all slices.
- ``task`` itself: every head above, then a :class:`SliceCombiner` and the
  final head ``Linear(head_dim, n_classes)`` on the combined representation.

Unlike Snorkel, nothing the caller passed in is changed: the modules are
deep-copied into new module pools, one per task, holding only the modules
that task uses.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mtl_teach._errors import fail, names
from mtl_teach.data import DictDataset
from mtl_teach.scorer import Scorer
from mtl_teach.slicing.combiner import SliceCombiner
from mtl_teach.slicing.slicing_functions import BASE_SLICE
from mtl_teach.task import Operation, Task


def ind_task_name(task_name: str, slice_name: str) -> str:
    """Name of slice ``slice_name``'s indicator task: ``{task}_slice:{slice}_ind``."""
    return f"{task_name}_slice:{slice_name}_ind"


def pred_task_name(task_name: str, slice_name: str) -> str:
    """Name of slice ``slice_name``'s predictor task: ``{task}_slice:{slice}_pred``."""
    return f"{task_name}_slice:{slice_name}_pred"


def with_base_slice(slice_names: Sequence[str], where: str = "slice_names") -> list[str]:
    """Check the names and append ``"base"`` unless it is already there."""
    if isinstance(slice_names, str) or not isinstance(slice_names, Sequence):
        fail(where, "must be a list of slice names", slice_names, 'pass e.g. [sf.name for sf in sfs] or ["corner"].')
    listed = list(slice_names)
    for name in listed:
        if not isinstance(name, str) or not name or "/" in name:
            fail(where, "must hold non-empty strings without '/'", name, "use the slicing functions' names.")
    duplicates = sorted({name for name in listed if listed.count(name) > 1})
    if duplicates:
        fail(where, "must not repeat a slice name", duplicates, "list each slice once.")
    return listed if BASE_SLICE in listed else [*listed, BASE_SLICE]


def convert_to_slice_tasks(base_task: Task, slice_names: Sequence[str], *, temperature: float = 1.0) -> list[Task]:
    """Build the slice tasks and the slice-aware base task (see the module doc).

    Parameters
    ----------
    base_task
        A task whose last op is an ``nn.Linear(head_dim, n_classes)`` head;
        the ops before it are the shared body. It is not modified.
    slice_names
        Slice names; ``"base"`` is appended if missing.
    temperature
        The :class:`SliceCombiner`'s attention temperature.

    Returns
    -------
    list of Task
        The indicator tasks, then the predictor tasks (slice order), then the
        slice-aware task named ``base_task.name``. Their modules are copies.
    """
    if not isinstance(base_task, Task):
        fail(
            "convert_to_slice_tasks(base_task)",
            "must be a Task",
            type(base_task).__name__,
            "build one with Task(name, module_pool, op_sequence).",
            raw=True,
        )
    slices = with_base_slice(slice_names, "convert_to_slice_tasks(slice_names)")
    task = base_task.name
    *body, head_op = base_task.op_sequence
    if not body:
        fail(
            f"convert_to_slice_tasks: Task {task!r} op_sequence",
            "must have at least one body op before the head",
            [op.name for op in base_task.op_sequence],
            "put the shared network in its own op before the head.",
        )
    # One deep copy of the whole pool keeps modules that the pool shares
    # internally shared, and leaves the caller's modules untouched.
    pool = copy.deepcopy(base_task.module_pool)
    head = pool[head_op.module_name]
    if not isinstance(head, nn.Linear):
        fail(
            f"convert_to_slice_tasks: Task {task!r} head module {head_op.module_name!r}",
            "must be an nn.Linear(head_dim, n_classes), whose sizes size the slice heads",
            type(head).__name__,
            "end the op sequence with a linear head.",
            raw=True,
        )
    head_dim, n_classes = head.in_features, head.out_features
    body_modules = {op.module_name: pool[op.module_name] for op in body}
    features = list(head_op.inputs)  # what the head read: the body's features, (batch, head_dim)

    def module_pool(ops: Sequence[Operation], modules: Mapping[str, nn.Module]) -> nn.ModuleDict:
        used = {op.module_name for op in ops}
        return nn.ModuleDict({name: module for name, module in modules.items() if name in used})

    modules: dict[str, nn.Module] = dict(body_modules)
    shared_pred_head = f"{task}_slice:shared_pred_head"
    modules[shared_pred_head] = nn.Linear(head_dim, n_classes)
    ind_ops, transform_ops, pred_ops = [], [], []
    ind_tasks, pred_tasks = [], []
    for slice_name in slices:
        ind_name, pred_name = ind_task_name(task, slice_name), pred_task_name(task, slice_name)
        modules[f"{ind_name}_head"] = nn.Linear(head_dim, 2)  # member or not: always binary
        modules[f"{pred_name}_transform"] = nn.Linear(head_dim, head_dim)
        ind_op = Operation(f"{ind_name}_head", features)
        transform_op = Operation(f"{pred_name}_transform", features)
        pred_op = Operation(shared_pred_head, [transform_op.name], name=f"{pred_name}_head")
        ind_ops.append(ind_op)
        transform_ops.append(transform_op)
        pred_ops.append(pred_op)
        ind_flow = [*body, ind_op]
        pred_flow = [*body, transform_op, pred_op]
        ind_tasks.append(Task(ind_name, module_pool(ind_flow, modules), ind_flow, scorer=Scorer(metrics=["f1"])))
        pred_tasks.append(
            Task(
                pred_name,
                module_pool(pred_flow, modules),
                pred_flow,
                scorer=base_task.scorer,
                loss_func=base_task.loss_func,
                output_func=base_task.output_func,
            )
        )
    combiner_name, head_name = f"{task}_master_combiner", f"{task}_master_head"
    modules[combiner_name] = SliceCombiner(
        [op.name for op in ind_ops], [op.name for op in pred_ops], [op.name for op in transform_ops], temperature
    )
    modules[head_name] = head  # the base head, now reading the combined representation
    # The combiner has no inputs, so it gets this task's namespace of op outputs.
    combiner_op = Operation(combiner_name, [], name=combiner_name)
    head_flow = [
        *body,
        *ind_ops,
        *transform_ops,
        *pred_ops,
        combiner_op,
        Operation(head_name, [(combiner_name, "representation")]),
    ]
    master = Task(
        task,
        module_pool(head_flow, modules),
        head_flow,
        scorer=base_task.scorer,
        loss_func=base_task.loss_func,
        output_func=base_task.output_func,
        weight=base_task.weight,
    )
    return [*ind_tasks, *pred_tasks, master]


def slice_column(S: Any, slice_name: str, n: int, where: str) -> np.ndarray:
    """Column ``slice_name`` of the slice matrix ``S`` as 0/1 int64, shape ``(n,)``.

    ``"base"`` may be missing (it is all ones). ``S`` may be a record array,
    a dict of arrays or a pandas DataFrame.
    """
    fields = slice_names_of(S)
    if slice_name not in fields:
        if slice_name == BASE_SLICE:
            return np.ones(n, dtype=np.int64)
        fail(
            where,
            f"must have a column for slice {slice_name!r} (columns: {names(fields)})",
            slice_name,
            "build S with apply_slicing_functions(sfs, X) using the model's slicing functions.",
        )
    column = S[slice_name]
    if isinstance(column, torch.Tensor):
        column = column.cpu().numpy()
    column = np.asarray(column)
    if column.shape != (n,):
        fail(
            f"{where} column {slice_name!r}",
            f"must have one entry per example of the dataset, shape ({n},)",
            f"shape {column.shape}",
            "apply the slicing functions to this dataset's own inputs.",
            raw=True,
        )
    if column.dtype != np.bool_ and not np.isin(column, (0, 1)).all():
        fail(
            f"{where} column {slice_name!r}",
            "must hold only 0 and 1",
            f"values {np.unique(column)[:5].tolist()}",
            "use apply_slicing_functions, or mask.astype(int).",
            raw=True,
        )
    return column.astype(np.int64)


def slice_names_of(S: Any) -> list[str]:
    """The slice (column) names of a slice matrix: a record array, a dict of columns or a DataFrame."""
    dtype_names = getattr(getattr(S, "dtype", None), "names", None)
    if dtype_names:
        return list(dtype_names)
    if hasattr(S, "columns"):
        return [str(c) for c in S.columns]
    if isinstance(S, Mapping):
        return list(S)
    fail(
        "S",
        "must be a slice matrix: a record array from apply_slicing_functions (or a dict / DataFrame of 0/1 columns)",
        type(S).__name__,
        "build it with apply_slicing_functions(sfs, X).",
        raw=True,
    )


def add_slice_labels(dataset: DictDataset, task_name: str, S: Any, slice_names: Sequence[str]) -> DictDataset:
    """A new dataset with each slice's ``_ind`` and ``_pred`` labels added.

    ``_ind`` is 1 for the slice's members and 0 elsewhere; ``_pred`` is the
    base task's label on members and -1 ("no label") elsewhere. The given
    dataset is left as it is; the new one shares its tensors.
    """
    where = f"make_slice_dataloader: dataset {dataset.name!r} ({dataset.split})"
    if task_name not in dataset.Y_dict:
        fail(
            f"{where} Y_dict",
            f"must hold the base task's labels under {task_name!r} (keys: {names(dataset.Y_dict)})",
            list(dataset.Y_dict),
            f"name the labels {task_name!r}, e.g. DictDataset.from_tensors(X, Y, split, task_name={task_name!r}).",
        )
    labels = dataset.Y_dict[task_name]  # (n,)
    Y_dict = dict(dataset.Y_dict)
    for slice_name in slice_names:
        member = torch.from_numpy(slice_column(S, slice_name, len(dataset), f"{where}: S")).bool()
        Y_dict[ind_task_name(task_name, slice_name)] = member.long()
        Y_dict[pred_task_name(task_name, slice_name)] = torch.where(member, labels, torch.full_like(labels, -1))
    return DictDataset(dataset.name, dataset.split, dataset.X_dict, Y_dict)
