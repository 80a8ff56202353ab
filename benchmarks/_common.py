"""Shared pieces of the benchmarks: the tutorial's model and side-by-side timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from mtl_teach import Operation, Task

TASKS = ["circle_task", "square_task", "inv_circle_task"]


def tutorial_tasks(names: list[str] = TASKS) -> list[Task]:
    """The Snorkel tutorial's tasks: a shared 2-8-4 trunk and a 4->2 head per task."""
    base_mlp = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())
    tasks = []
    for name in names:
        field, head = name.replace("_task", "_data"), name.replace("_task", "_head")
        tasks.append(
            Task(
                name=name,
                module_pool=nn.ModuleDict({"base_mlp": base_mlp, head: nn.Linear(4, 2)}),
                op_sequence=[Operation("base_mlp", [("_input_", field)]), Operation(head, [("base_mlp", 0)])],
            )
        )
    return tasks


def side_by_side(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Time each callable ``repeats`` times, interleaved (A B A B ...); return medians in seconds.

    Interleaving means a noisy neighbour slows both sides alike, so the
    ratio of medians is stable even when absolute times are not.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def single_thread() -> None:
    """Use one torch thread: tiny models only lose from threading, and timings steady."""
    torch.set_num_threads(1)
