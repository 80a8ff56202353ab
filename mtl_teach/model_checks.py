"""Checks the model makes on its arguments and labels, each failing with a clear message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from mtl_teach._errors import check_choice, fail, names

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` into a device torch can use.

    Parameters
    ----------
    device
        The device asked for; ``"auto"`` picks CUDA when torch sees a GPU.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not (isinstance(device, str) and (device in DEVICES or device.startswith("cuda:"))):
        check_choice("MultitaskClassifier(device)", device, DEVICES)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        fail(
            "MultitaskClassifier(device)",
            "asks for a GPU, but torch sees no CUDA device",
            device,
            'use device="cpu" or device="auto".',
        )
    return torch.device(device)


def check_labels(task_name: str, top: int, n_dims: int, n_classes: int) -> None:
    """Fail clearly if label ``top`` (the largest) is not a class of the task's head.

    Parameters
    ----------
    task_name
        The task the labels belong to, named in the message.
    top
        The largest label.
    n_dims, n_classes
        Dimensions of the head's output and its size along dim 1; outputs
        that are not ``(n, n_classes)`` (custom losses) are not checked.
    """
    if n_dims == 2 and top >= n_classes:
        fail(
            f"Labels of task {task_name!r}",
            f"must lie in 0..{n_classes - 1}, the classes of its head ({n_classes} outputs)",
            f"label {top}",
            f"give the head {top + 1} outputs, or relabel the classes.",
            raw=True,
        )


def map_labels(
    tasks: Mapping[str, Any], Y_dict: Mapping[str, Any], remap_labels: Mapping[str, str | None] | None, where: str
) -> dict[str, str]:
    """Map each label key of ``Y_dict`` to its task; fail clearly on an unknown one.

    Parameters
    ----------
    tasks
        The model's tasks by name.
    Y_dict
        Label key -> labels; a key names its task unless remapped.
    remap_labels
        Label key -> task name, or None to leave that label out.
    where
        Where the labels come from, for error messages.
    """
    remap = dict(remap_labels or {})
    mapping: dict[str, str] = {}
    for label in Y_dict:
        task = remap.get(label, label)
        if task is None:
            continue
        if task not in tasks:
            fail(
                f"{where} key {label!r}",
                f"must name a task of the model (tasks: {names(tasks)})",
                label,
                "name the labels after your task, add that task to the model, or leave this loader out.",
            )
        mapping[label] = task
    if not mapping:
        fail(
            where,
            f"must have labels for at least one task of the model (tasks: {names(tasks)})",
            list(Y_dict),
            "name the Y_dict key after a task.",
        )
    return mapping
