"""Beyond one shared trunk: cross-stitch, MMoE and CGC, as modules of the op graph.

Hard sharing gives every task the same trunk; separate networks give each
its own. Three architectures sit in between, each one ``nn.Module`` of the
module pool that all tasks' ops read:

- :class:`CrossStitch` (Misra et al. 2016, *soft sharing*): one column per
  task; after every layer the columns' activations are mixed,
  ``x~_t = sum_s alpha[t, s] * x_s``, with a learned ``alpha`` per layer,
  started near the identity (0.9 on the diagonal).
- :class:`MMoE` (Ma et al. 2018): K expert MLPs shared by all tasks; each
  task has its own softmax gate over the experts,
  ``g_t(x) = softmax(W_t x + b_t)``, and reads ``sum_k g_t(x)_k f_k(x)``.
- :class:`CGC` (Tang et al. 2020, the layer of PLE): shared experts plus
  experts of each task's own; each task's gate mixes its own and the shared.

Each returns ``{task_name: features}``; a task's head op picks its part by
name, so the Snorkel-style API reads as before::

    Operation("mmoe", [("_input_", "circle_data")])
    Operation("circle_head", [("mmoe", "circle_task")])

:func:`build_model` makes the whole :class:`~mtl_teach.MultitaskClassifier`
for some tasks with any of the five architectures and prints its parameter
counts, so comparisons can be capacity-matched. :class:`CrossStitchLog`
records the cross-stitch ``alpha`` over training (a Trainer callback).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mtl_teach._errors import fail, names
from mtl_teach.callbacks import Callback, TrainerView
from mtl_teach.model import MultitaskClassifier
from mtl_teach.scorer import Scorer
from mtl_teach.task import Operation, Task
from mtl_teach.toy_data import COURSE_TASKS

ARCHITECTURES = ("hard", "separate", "cross_stitch", "mmoe", "cgc")
# The pool name of the module that holds each soft architecture (hard's trunk keeps the tutorial's name).
MODULE_NAMES = {"hard": "base_mlp", "cross_stitch": "cross_stitch", "mmoe": "mmoe", "cgc": "cgc"}


# ------------------------------------------------------------------- checks
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(where: str, value: Any, low: int, example: int) -> None:
    if not _is_int(value) or value < low:
        fail(where, f"must be an integer >= {low}", value, f"pass e.g. {example}.")


def _check_hidden(where: str, hidden: Any) -> None:
    if isinstance(hidden, str | int) or not isinstance(hidden, Sequence) or not hidden:
        fail(where, "must be a non-empty list of layer widths >= 1", hidden, "pass e.g. hidden=(16, 2).")
    if any(not _is_int(width) or width < 1 for width in hidden):
        fail(where, "must be a non-empty list of layer widths >= 1", hidden, "pass e.g. hidden=(16, 2).")


def _check_task_names(where: str, task_names: Any, low: int = 1) -> list[str]:
    if isinstance(task_names, str) or not isinstance(task_names, Sequence) or len(task_names) < low:
        fail(
            where,
            f"must be a list of at least {low} task name(s)",
            task_names,
            "pass e.g. ['circle_task', 'xor_task'].",
        )
    for name in task_names:
        # Names key an nn.ModuleDict, where "." separates submodules, and score keys, where "/" does.
        if not isinstance(name, str) or not name or "." in name or "/" in name:
            fail(where, "must hold non-empty strings without '.' or '/'", name, "use names like 'circle_task'.")
    if len(set(task_names)) != len(task_names):
        fail(where, "must not repeat a task", list(task_names), "list each task once.")
    return list(task_names)


def _check_input(where: str, x: Any, in_features: int) -> None:
    # Said here, before torch's "mat1 and mat2 shapes cannot be multiplied".
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != in_features:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        fail(
            f"{where} input",
            f"must be a float tensor of shape (batch, {in_features})",
            shape,
            f"feed it inputs with {in_features} features, or build it with in_features matching the data.",
            raw=True,
        )


# ------------------------------------------------------------ building blocks
def mlp(in_features: int, hidden: Sequence[int]) -> nn.Sequential:
    """ReLU layers of the given widths: ``Linear(in, h0), ReLU, Linear(h0, h1), ReLU, ...``.

    Each ``Linear -> ReLU`` pair sits in one ``nn.Sequential``, so the kit's
    Kaiming init gives it a small positive bias and the Trainer can revive its
    dead units (see :mod:`mtl_teach.dead_units`).

    Parameters
    ----------
    in_features
        Size of the input, e.g. 2 for the toy tasks' points.
    hidden
        Widths of the layers, e.g. ``(16, 2)``.
    """
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    return nn.Sequential(*layers)


class Gate(nn.Module):
    """One task's softmax gate over experts: ``g(x) = softmax(W x + b)``, shape ``(batch, n_experts)``.

    ``W`` and ``b`` start at zero, so every gate starts uniform (``1 / n_experts``
    for every expert): which expert a task uses is learned, not drawn. They are
    plain parameters rather than an ``nn.Linear``, so the model's Kaiming init
    leaves them at zero.

    Parameters
    ----------
    in_features
        Size of the input the gate reads (the same input as the experts').
    n_experts
        How many experts it mixes.
    """

    def __init__(self, in_features: int, n_experts: int) -> None:
        super().__init__()
        _check_int("Gate(in_features)", in_features, 1, 2)
        _check_int("Gate(n_experts)", n_experts, 1, 4)
        self.in_features, self.n_experts = in_features, n_experts
        self.weight = nn.Parameter(torch.zeros(n_experts, in_features))  # W: (n_experts, in_features)
        self.bias = nn.Parameter(torch.zeros(n_experts))  # b: (n_experts,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate weights, ``(batch, n_experts)``: each row is >= 0 and sums to 1."""
        logits = F.linear(x, self.weight, self.bias)  # (batch, n_experts)
        return torch.softmax(logits, dim=-1)  # over the experts, not over the batch

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, n_experts={self.n_experts}"


def _mix(gate: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
    # sum_k g_k * f_k: gate (batch, K), experts (batch, K, width) -> (batch, width)
    return torch.einsum("bk,bkw->bw", gate, experts)


class CrossStitch(nn.Module):
    """Soft sharing: one column per task, mixed after every layer by learned cross-stitch units.

    Column ``t`` is an MLP ``in_features -> hidden``. After layer ``l`` of every
    column, task ``t``'s activations become ``x~_t = sum_s alpha[l, t, s] * x_s``
    (Misra et al. 2016), and the next layer of column ``t`` reads ``x~_t``. At
    ``alpha = I`` the columns are separate networks; off-diagonal ``alpha`` lets
    each task read the others' features, and training learns how much.

    Parameters
    ----------
    in_features
        Size of the input, e.g. 2.
    hidden
        Widths of each column's layers, e.g. ``(16, 2)``; one cross-stitch unit after each.
    task_names
        The tasks, one column each (at least 2); the output's keys.
    alpha_init
        Starting ``alpha[l, t, t]`` (0 < alpha_init <= 1); the rest of each row is
        ``(1 - alpha_init) / (n_tasks - 1)``, so rows sum to 1. 0.9 is the paper's
        "near the identity"; 1.0 starts as separate networks.

    Attributes
    ----------
    alpha
        The cross-stitch weights, ``(n_layers, n_tasks, n_tasks)``: ``alpha[l, t, s]``
        is how much task ``t``'s column reads of task ``s``'s after layer ``l + 1``.
    """

    def __init__(
        self, in_features: int, hidden: Sequence[int], task_names: Sequence[str], *, alpha_init: float = 0.9
    ) -> None:
        super().__init__()
        _check_int("CrossStitch(in_features)", in_features, 1, 2)
        _check_hidden("CrossStitch(hidden)", hidden)
        self.task_names = _check_task_names("CrossStitch(task_names)", task_names, low=2)
        if isinstance(alpha_init, bool) or not isinstance(alpha_init, int | float) or not 0 < alpha_init <= 1:
            fail(
                "CrossStitch(alpha_init)",
                "must be a number in (0, 1], the starting weight of each task's own column",
                alpha_init,
                "pass e.g. alpha_init=0.9 (near the identity), or 1.0 to start as separate networks.",
            )
        self.in_features, self.hidden, self.alpha_init = in_features, tuple(hidden), float(alpha_init)
        widths = (in_features, *hidden)
        # columns[task][l]: Linear(widths[l], widths[l + 1]) -> ReLU, task's own layer l + 1
        self.columns = nn.ModuleDict(
            {
                task: nn.ModuleList(mlp(w_in, [w_out]) for w_in, w_out in itertools.pairwise(widths))
                for task in self.task_names
            }
        )
        n_tasks = len(self.task_names)
        self.alpha = nn.Parameter(torch.empty(len(hidden), n_tasks, n_tasks))  # (layers, tasks, tasks)
        self.reset_alpha()

    def reset_alpha(self) -> None:
        """Set ``alpha`` back to its start: ``alpha_init`` on the diagonal, the rest of each row shared evenly."""
        n_tasks = len(self.task_names)
        off = (1.0 - self.alpha_init) / (n_tasks - 1)
        start = torch.full((n_tasks, n_tasks), off) + (self.alpha_init - off) * torch.eye(n_tasks)
        with torch.no_grad():
            self.alpha.copy_(start.expand_as(self.alpha))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each task's column output, ``{task: (batch, hidden[-1])}``, for inputs ``x`` ``(batch, in_features)``."""
        _check_input("CrossStitch", x, self.in_features)
        columns = [self.columns[task] for task in self.task_names]
        h = [x] * len(columns)  # per task (batch, width)
        for layer in range(len(self.hidden)):
            stacked = torch.stack([column[layer](h_t) for column, h_t in zip(columns, h, strict=True)])  # (T, B, w)
            mixed = torch.einsum("ts,sbw->tbw", self.alpha[layer], stacked)  # x~_t = sum_s alpha[t, s] x_s
            h = list(mixed.unbind(0))
        return dict(zip(self.task_names, h, strict=True))

    def parameter_counts(self) -> dict[str, int]:
        """Parameters by part: ``{"columns": ..., "alpha": ...}``."""
        return {"columns": _count(self.columns), "alpha": self.alpha.numel()}

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, hidden={self.hidden}, tasks={self.task_names}, "
            f"alpha_init={self.alpha_init}"
        )


class MMoE(nn.Module):
    """Multi-gate mixture of experts: K experts shared by all tasks, one softmax gate per task.

    Expert ``k`` is an MLP ``f_k: in_features -> hidden``. Task ``t``'s gate
    ``g_t(x) = softmax(W_t x + b_t)`` weighs the experts for each input, and the
    task reads ``sum_k g_t(x)_k f_k(x)`` (Ma et al. 2018). With one expert every
    gate is 1 and MMoE is hard sharing with that expert as the trunk.

    Parameters
    ----------
    in_features
        Size of the input, e.g. 2.
    hidden
        Widths of each expert's layers, e.g. ``(16, 2)``.
    task_names
        The tasks, one gate each; the output's keys.
    n_experts
        K, the number of experts.
    """

    def __init__(
        self, in_features: int, hidden: Sequence[int], task_names: Sequence[str], *, n_experts: int = 4
    ) -> None:
        super().__init__()
        _check_int("MMoE(in_features)", in_features, 1, 2)
        _check_hidden("MMoE(hidden)", hidden)
        self.task_names = _check_task_names("MMoE(task_names)", task_names)
        _check_int("MMoE(n_experts)", n_experts, 1, 4)
        self.in_features, self.hidden, self.n_experts = in_features, tuple(hidden), n_experts
        self.experts = nn.ModuleList(mlp(in_features, hidden) for _ in range(n_experts))
        self.gates = nn.ModuleDict({task: Gate(in_features, n_experts) for task in self.task_names})

    @property
    def gate_experts(self) -> dict[str, list[str]]:
        """The experts each task's gate mixes, in the order of its weights."""
        experts = [f"expert {k}" for k in range(self.n_experts)]
        return {task: list(experts) for task in self.task_names}

    def gate_weights(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each task's gate weights on ``x``: ``{task: (batch, n_experts)}``, rows summing to 1."""
        _check_input("MMoE", x, self.in_features)
        return {task: self.gates[task](x) for task in self.task_names}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each task's mixture of the experts, ``{task: (batch, hidden[-1])}``."""
        gates = self.gate_weights(x)  # {task: (batch, K)}
        experts = torch.stack([expert(x) for expert in self.experts], dim=1)  # (batch, K, width)
        return {task: _mix(gates[task], experts) for task in self.task_names}

    def parameter_counts(self) -> dict[str, int]:
        """Parameters by part: ``{"experts": ..., "gates": ...}``."""
        return {"experts": _count(self.experts), "gates": _count(self.gates)}

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, hidden={self.hidden}, tasks={self.task_names}, n_experts={self.n_experts}"
        )


class CGC(nn.Module):
    """Customized gate control (PLE's layer): shared experts, experts of each task's own, a gate per task.

    Task ``t``'s gate mixes its own ``n_task_experts`` experts and the
    ``n_shared_experts`` shared ones (Tang et al. 2020): a task can keep
    features to itself, which MMoE's all-shared experts cannot promise.

    Parameters
    ----------
    in_features
        Size of the input, e.g. 2.
    hidden
        Widths of every expert's layers, e.g. ``(16, 2)``.
    task_names
        The tasks; the output's keys.
    n_shared_experts
        Experts every task's gate may use (at least 1).
    n_task_experts
        Experts of each task's own (at least 1).
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        task_names: Sequence[str],
        *,
        n_shared_experts: int = 1,
        n_task_experts: int = 1,
    ) -> None:
        super().__init__()
        _check_int("CGC(in_features)", in_features, 1, 2)
        _check_hidden("CGC(hidden)", hidden)
        self.task_names = _check_task_names("CGC(task_names)", task_names)
        for param, value in (("n_shared_experts", n_shared_experts), ("n_task_experts", n_task_experts)):
            if not _is_int(value) or value < 1:
                other = "architecture 'separate'" if param == "n_shared_experts" else "MMoE (architecture 'mmoe')"
                fail(
                    f"CGC({param})", "must be an integer >= 1", value, f"pass e.g. {param}=1; without them use {other}."
                )
        self.in_features, self.hidden = in_features, tuple(hidden)
        self.n_shared_experts, self.n_task_experts = n_shared_experts, n_task_experts
        self.shared_experts = nn.ModuleList(mlp(in_features, hidden) for _ in range(n_shared_experts))
        self.task_experts = nn.ModuleDict(
            {task: nn.ModuleList(mlp(in_features, hidden) for _ in range(n_task_experts)) for task in self.task_names}
        )
        self.gates = nn.ModuleDict(
            {task: Gate(in_features, n_task_experts + n_shared_experts) for task in self.task_names}
        )

    @property
    def gate_experts(self) -> dict[str, list[str]]:
        """The experts each task's gate mixes, in the order of its weights: its own first, then the shared."""
        shared = [f"shared expert {k}" for k in range(self.n_shared_experts)]
        return {task: [f"{task} expert {k}" for k in range(self.n_task_experts)] + shared for task in self.task_names}

    def gate_weights(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each task's gate weights on ``x``: ``{task: (batch, n_task_experts + n_shared_experts)}``."""
        _check_input("CGC", x, self.in_features)
        return {task: self.gates[task](x) for task in self.task_names}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each task's mixture of its own and the shared experts, ``{task: (batch, hidden[-1])}``."""
        gates = self.gate_weights(x)
        shared = [expert(x) for expert in self.shared_experts]  # each (batch, width)
        out = {}
        for task in self.task_names:
            own = [expert(x) for expert in self.task_experts[task]]
            experts = torch.stack(own + shared, dim=1)  # (batch, n_task + n_shared, width)
            out[task] = _mix(gates[task], experts)
        return out

    def parameter_counts(self) -> dict[str, int]:
        """Parameters by part: ``{"shared experts": ..., "task experts": ..., "gates": ...}``."""
        return {
            "shared experts": _count(self.shared_experts),
            "task experts": _count(self.task_experts),
            "gates": _count(self.gates),
        }

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, hidden={self.hidden}, tasks={self.task_names}, "
            f"n_shared_experts={self.n_shared_experts}, n_task_experts={self.n_task_experts}"
        )


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------ the model
@dataclass(frozen=True)
class TaskSpec:
    """What :func:`build_model` needs to know of a task: its name, input field and output size.

    The course's toy tasks need none of this: pass their names
    (``"circle_task"``...). Any other task is a ``TaskSpec``.

    Parameters
    ----------
    name
        The task's name (the ``Y_dict`` key of its labels).
    input_field
        The ``X_dict`` field its inputs come from.
    n_outputs
        Size of its head's output: the number of classes, or 1 for a single regression target.
    loss_func, output_func, scorer
        Passed to :class:`~mtl_teach.Task`; None keeps the Task's defaults
        (cross-entropy, softmax, accuracy).
    """

    name: str
    input_field: str
    n_outputs: int = 2
    loss_func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    output_func: Callable[[torch.Tensor], torch.Tensor] | None = None
    scorer: Scorer | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "." in self.name or "/" in self.name:
            fail(
                "TaskSpec(name)", "must be a non-empty string without '.' or '/'", self.name, "pass e.g. 'digit_task'."
            )
        if not isinstance(self.input_field, str) or not self.input_field:
            fail("TaskSpec(input_field)", "must be a non-empty string", self.input_field, "pass e.g. 'digits'.")
        _check_int("TaskSpec(n_outputs)", self.n_outputs, 1, 10)

    def task_kwargs(self) -> dict[str, Any]:
        """The Task arguments that are set (loss_func, output_func, scorer)."""
        chosen = {"loss_func": self.loss_func, "output_func": self.output_func, "scorer": self.scorer}
        return {key: value for key, value in chosen.items() if value is not None}


def _specs(tasks: Any, input_dim: int) -> list[TaskSpec]:
    where = "build_model(tasks)"
    if isinstance(tasks, str | TaskSpec) or not isinstance(tasks, Sequence) or not tasks:
        fail(
            where,
            "must be a non-empty list of toy task names or TaskSpec objects",
            tasks,
            "pass e.g. ['circle_task', 'xor_task'].",
        )
    specs = []
    for task in tasks:
        if isinstance(task, TaskSpec):
            specs.append(task)
        elif isinstance(task, str) and task in COURSE_TASKS:
            if input_dim != 2:
                fail(
                    "build_model(input_dim)",
                    f"must be 2 for the toy task {task!r}, whose inputs are 2-D points",
                    input_dim,
                    "leave input_dim at 2, or describe other tasks with TaskSpec(name, input_field, n_outputs).",
                )
            specs.append(TaskSpec(task, COURSE_TASKS[task][1], 2))
        else:
            fail(
                where,
                f"must hold the course's toy task names ({names(COURSE_TASKS)}) or TaskSpec objects",
                task,
                "pick a toy task, or describe yours: TaskSpec(name, input_field=..., n_outputs=...).",
            )
    _check_task_names(where, [spec.name for spec in specs])
    stems = [spec.name.removesuffix("_task") for spec in specs]
    if len(set(stems)) != len(stems):
        fail(
            where,
            "must hold names that stay distinct without '_task' (heads are named '<name>_head')",
            [spec.name for spec in specs],
            "rename one of the tasks.",
        )
    return specs


def _only_for(param: str, value: Any, architecture: str, allowed: tuple[str, ...]) -> None:
    # An argument the chosen architecture ignores is a mistake worth saying, not a silent no-op.
    if value is not None and architecture not in allowed:
        fail(
            f"build_model({param})",
            f"applies to architecture {' or '.join(repr(a) for a in allowed)} only",
            f"{param}={value!r} with architecture={architecture!r}",
            f"leave {param} out, or choose architecture={allowed[0]!r}.",
            raw=True,
        )


def build_model(
    tasks: Sequence[str | TaskSpec],
    architecture: str = "hard",
    *,
    hidden: Sequence[int],
    input_dim: int = 2,
    n_experts: int | None = None,
    n_shared_experts: int | None = None,
    n_task_experts: int | None = None,
    alpha_init: float | None = None,
    name: str | None = None,
    device: str = "cpu",
    verbose: bool = True,
) -> MultitaskClassifier:
    """Make a :class:`~mtl_teach.MultitaskClassifier` for ``tasks`` with one of five architectures.

    Every task ends in its own head, ``Linear(hidden[-1], n_outputs)``, named
    ``"<name without _task>_head"``; what feeds the heads is the architecture:

    - ``"hard"``: one trunk ``mlp(input_dim, hidden)`` shared by every task
      (pool name ``"base_mlp"``, as in the tutorial);
    - ``"separate"``: a trunk of each task's own (``"<name>_mlp"``), no sharing;
    - ``"cross_stitch"``: :class:`CrossStitch`, one column of ``hidden`` per task;
    - ``"mmoe"``: :class:`MMoE`, ``n_experts`` experts of ``hidden`` (default 4);
    - ``"cgc"``: :class:`CGC`, ``n_shared_experts`` shared and ``n_task_experts``
      own experts per task, each of ``hidden`` (default 1 and 1).

    It prints the parameter counts (``verbose=False`` does not), so that
    architectures can be compared at about the same number of parameters.
    The weights are drawn from torch's generator: call ``set_seed`` first.

    Parameters
    ----------
    tasks
        The course's toy task names (``"circle_task"``, ``"square_task"``,
        ``"inv_circle_task"``, ``"xor_task"``: 2-D inputs from their own field,
        2 classes) or :class:`TaskSpec` objects for any others.
    architecture
        One of ``"hard"``, ``"separate"``, ``"cross_stitch"``, ``"mmoe"``, ``"cgc"``.
    hidden
        Widths of the ReLU layers of the trunk, of each column, or of each expert, e.g. ``(16, 2)``.
    input_dim
        Size of every task's input (2 for the toy tasks).
    n_experts
        MMoE's number of experts (default 4).
    n_shared_experts, n_task_experts
        CGC's shared experts and experts per task (default 1 each).
    alpha_init
        Cross-stitch's starting weight of each task's own column (default 0.9).
    name
        The model's name; the architecture's by default.
    device
        Passed to :class:`~mtl_teach.MultitaskClassifier`.
    verbose
        Print the parameter counts.

    Returns
    -------
    MultitaskClassifier
        Untrained, with the kit's default (Kaiming) init.
    """
    if architecture not in ARCHITECTURES:
        fail(
            "build_model(architecture)",
            f"must be one of {', '.join(repr(a) for a in ARCHITECTURES)}",
            architecture,
            "pass e.g. architecture='mmoe'.",
        )
    _check_int("build_model(input_dim)", input_dim, 1, 2)
    _check_hidden("build_model(hidden)", hidden)
    _only_for("n_experts", n_experts, architecture, ("mmoe",))
    _only_for("n_shared_experts", n_shared_experts, architecture, ("cgc",))
    _only_for("n_task_experts", n_task_experts, architecture, ("cgc",))
    _only_for("alpha_init", alpha_init, architecture, ("cross_stitch",))
    if name is not None and (not isinstance(name, str) or not name):
        fail("build_model(name)", "must be a non-empty string or None", name, f"pass e.g. name={architecture!r}.")
    specs = _specs(tasks, input_dim)
    task_names = [spec.name for spec in specs]
    if architecture == "cross_stitch" and len(specs) < 2:
        fail(
            "build_model(tasks)",
            "must hold at least 2 tasks for architecture='cross_stitch' (it mixes task columns)",
            task_names,
            "add a task, or use architecture='hard' for one task.",
        )
    # The shared part is drawn first, so models built after the same set_seed start from
    # the same shared weights whatever tasks follow (as sharing.build_shared_model does).
    shared: nn.Module | None = None
    if architecture == "hard":
        shared = mlp(input_dim, hidden)
    elif architecture == "cross_stitch":
        shared = CrossStitch(input_dim, hidden, task_names, alpha_init=0.9 if alpha_init is None else alpha_init)
    elif architecture == "mmoe":
        shared = MMoE(input_dim, hidden, task_names, n_experts=4 if n_experts is None else n_experts)
    elif architecture == "cgc":
        shared = CGC(
            input_dim,
            hidden,
            task_names,
            n_shared_experts=1 if n_shared_experts is None else n_shared_experts,
            n_task_experts=1 if n_task_experts is None else n_task_experts,
        )
    built = []
    for spec in specs:
        stem = spec.name.removesuffix("_task")
        pool: dict[str, nn.Module] = {}
        if shared is None:  # separate: the task's own trunk
            trunk_name = f"{stem}_mlp"
            pool[trunk_name] = mlp(input_dim, hidden)
            feeds: tuple[str, Any] = (trunk_name, 0)
        else:
            trunk_name = MODULE_NAMES[architecture]
            pool[trunk_name] = shared
            # hard's trunk gives one tensor, (op, 0); the others {task: features}, picked by name
            feeds = (trunk_name, 0) if architecture == "hard" else (trunk_name, spec.name)
        head = f"{stem}_head"
        pool[head] = nn.Linear(hidden[-1], spec.n_outputs)
        ops = [Operation(trunk_name, [("_input_", spec.input_field)]), Operation(head, [feeds])]
        built.append(Task(name=spec.name, module_pool=nn.ModuleDict(pool), op_sequence=ops, **spec.task_kwargs()))
    model = MultitaskClassifier(built, name=name or architecture, device=device)
    if verbose:
        print(parameter_summary(model))
    return model


def parameter_counts(model: MultitaskClassifier) -> dict[str, int]:
    """Parameters of each module of the model's pool, ``{module name: count}``.

    Parameters
    ----------
    model
        Any :class:`~mtl_teach.MultitaskClassifier`.
    """
    if not isinstance(model, MultitaskClassifier):
        fail(
            "parameter_counts(model)",
            "must be a MultitaskClassifier",
            type(model).__name__,
            "pass e.g. build_model([...], ...).",
            raw=True,
        )
    return {key: _count(module) for key, module in model.module_pool.items()}


def parameter_summary(model: MultitaskClassifier) -> str:
    """The model's parameter counts as text: the total, then each module (and the parts of an architecture's).

    Parameters
    ----------
    model
        Any :class:`~mtl_teach.MultitaskClassifier`.
    """
    counts = parameter_counts(model)
    shared = set(model.shared_modules())
    width = max(len(key) for key in counts)
    digits = len(f"{sum(counts.values()):,}")
    lines = [f"{model.name}: {sum(counts.values()):,} parameters"]
    for key, count in counts.items():
        module = model.module_pool[key]
        users = [task for task, t in model.tasks.items() if key in t.module_pool]
        owner = f"shared by {len(users)} tasks" if key in shared else users[0]
        parts = getattr(module, "parameter_counts", None)
        detail = f" ({', '.join(f'{part} {n:,}' for part, n in parts().items())})" if callable(parts) else ""
        lines.append(f"  {key:<{width}}  {count:>{digits},}  {owner}{detail}")
    return "\n".join(lines)


# ------------------------------------------------------------------ logging
class CrossStitchLog(Callback):
    """Record a cross-stitch module's ``alpha`` before training and after every epoch.

    Pass it to the Trainer, ``Trainer(callbacks=[log])``; after ``fit``,
    ``log.epochs`` is ``[0, 1, ..., n_epochs]`` and ``log.alphas`` their
    ``alpha``, ``(len(epochs), n_layers, n_tasks, n_tasks)``. Each epoch's values
    also go to the metrics (so to ``trainer.history`` and the Trainer's logs) as
    ``"<task>/all/train/alpha_layer<l>_from_<other task>"``.
    Draw them with :class:`mtl_teach.plotting.CrossStitchDisplay`.

    Parameters
    ----------
    module_name
        The cross-stitch module's name in the pool; None finds the model's only one.
    """

    def __init__(self, module_name: str | None = None) -> None:
        if module_name is not None and (not isinstance(module_name, str) or not module_name):
            fail("CrossStitchLog(module_name)", "must be a module name or None", module_name, "leave it out.")
        self.module_name = module_name
        self.task_names: list[str] = []
        self.epochs: list[int] = []
        self._alphas: list[np.ndarray] = []
        self._module: CrossStitch | None = None

    def _find(self, model: MultitaskClassifier) -> CrossStitch:
        found = {key: m for key, m in model.module_pool.items() if isinstance(m, CrossStitch)}
        if self.module_name is not None:
            if self.module_name not in found:
                fail(
                    "CrossStitchLog(module_name)",
                    f"must name a CrossStitch module of the model (CrossStitch modules: {names(found)})",
                    self.module_name,
                    "pass one of those, or leave module_name out.",
                )
            return found[self.module_name]
        if len(found) != 1:
            fail(
                "CrossStitchLog",
                f"needs a model with exactly one CrossStitch module, or module_name (CrossStitch modules: {names(found)})",
                model.name,
                "build the model with build_model(tasks, 'cross_stitch', ...), or pass module_name=...",
            )
        return next(iter(found.values()))

    def _record(self, epoch: int) -> np.ndarray:
        assert self._module is not None
        alpha = self._module.alpha.detach().to("cpu", copy=True).numpy()  # (layers, tasks, tasks)
        self.epochs.append(epoch)
        self._alphas.append(alpha)
        return alpha

    def on_fit_start(self, trainer: TrainerView, model: MultitaskClassifier) -> None:
        self._module = self._find(model)
        self.task_names = list(self._module.task_names)
        self.epochs, self._alphas = [], []
        self._record(0)

    def on_train_epoch_end(
        self, trainer: TrainerView, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]
    ) -> None:
        alpha = self._record(epoch)
        for layer in range(alpha.shape[0]):
            for t, task in enumerate(self.task_names):
                for s, source in enumerate(self.task_names):
                    metrics[f"{task}/all/train/alpha_layer{layer + 1}_from_{source}"] = float(alpha[layer, t, s])

    @property
    def alphas(self) -> np.ndarray:
        """``alpha`` at each recorded epoch, ``(len(epochs), n_layers, n_tasks, n_tasks)``."""
        if not self._alphas:
            return np.zeros((0, 0, 0, 0))
        return np.stack(self._alphas)

    def __repr__(self) -> str:
        return f"CrossStitchLog(module_name={self.module_name!r}, tasks={self.task_names}, epochs={len(self.epochs)})"


def gate_modules(model: MultitaskClassifier) -> dict[str, MMoE | CGC]:
    """The model's gated modules (:class:`MMoE` and :class:`CGC`), ``{pool name: module}``."""
    return {key: m for key, m in model.module_pool.items() if isinstance(m, MMoE | CGC)}


__all__ = [
    "ARCHITECTURES",
    "CGC",
    "CrossStitch",
    "CrossStitchLog",
    "Gate",
    "MMoE",
    "TaskSpec",
    "build_model",
    "gate_modules",
    "mlp",
    "parameter_counts",
    "parameter_summary",
]
