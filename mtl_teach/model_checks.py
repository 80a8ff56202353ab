"""Checks the model makes on its arguments and labels, each failing with a clear message."""

from __future__ import annotations

import torch

from mtl_teach._errors import check_choice, fail

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
