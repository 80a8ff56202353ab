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
from mtl_teach._probe import call_once, check_function, describe, function_name
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


LOSS_FIX = (
    "pass a function f(logits, labels) -> loss that takes the head's raw outputs, (batch, n_classes), and integer "
    "class ids, (batch,), and returns one number as a tensor, e.g. F.cross_entropy (the default)."
)
OUTPUT_FIX = "return the probability of each class, e.g. F.softmax(logits, dim=1) (the default)."


def _loss_fix(loss_func: Any, logits: Any) -> str:
    # A binary loss (BCE) wants one output per example and float labels: the commonest wrong
    # loss for a 2-output head, so it gets its own fix.
    name = function_name(loss_func).lower()
    if "binary" not in name and "bce" not in name:
        return LOSS_FIX
    if isinstance(logits, torch.Tensor) and logits.dim() == 1:
        return (
            "give the binary loss float labels: "
            "lambda logits, labels: F.binary_cross_entropy_with_logits(logits, labels.float())."
        )
    return (
        "a binary loss (BCE) wants one output per example and float labels; this head gives one output per "
        "class and the labels are class ids: use F.cross_entropy (the default), which takes both as they are."
    )


_SUM_TOLERANCE = 1e-3  # float32 softmax rows sum to 1 within ~1e-6; logits miss by far more
_ROWS_CHECKED = 256  # enough to tell probabilities from logits; bounds the check's cost


def _check_probabilities(where: str, probs: torch.Tensor, n_examples: int) -> None:
    # probs: (n_examples, n_classes), each row a distribution over the classes.
    if probs.dim() != 2 or probs.shape[0] != n_examples or probs.shape[1] < 2:
        fail(
            where,
            f"must return one probability per class for each example, a tensor of shape ({n_examples}, n_classes) "
            "with n_classes >= 2",
            describe(probs),
            "give each class its column: F.softmax(logits, dim=1) (the default); with a 1-output head and a "
            "sigmoid, p = torch.sigmoid(logits) then torch.cat([1 - p, p], dim=1).",
            raw=True,
        )
    # Half precision rounds a row's sum by more than float32 does.
    tolerance = max(_SUM_TOLERANCE, 10 * torch.finfo(probs.dtype).eps) if probs.is_floating_point() else _SUM_TOLERANCE
    rows = probs[:_ROWS_CHECKED].detach().float()  # (rows, n_classes)
    sums = rows.sum(dim=1)  # (rows,)
    low, high = (float(value) for value in torch.aminmax(rows))
    in_range = -tolerance <= low and high <= 1 + tolerance  # False for NaN
    if in_range and float((sums - 1).abs().max()) <= tolerance:
        return
    if not bool(torch.isfinite(rows).all()):
        shown = "NaN or inf"
    else:
        shown = (
            f"values from {low:.3g} to {high:.3g}, rows summing to {float(sums.min()):.3g} to {float(sums.max()):.3g}"
        )
    log_probs = high <= 0 and float((rows.exp().sum(dim=1) - 1).abs().max()) <= tolerance
    fail(
        where,
        "must return probabilities: numbers in [0, 1] that sum to 1 over the classes of each example (each row)",
        shown,
        "these are log-probabilities: use F.softmax(logits, dim=1), not F.log_softmax."
        if log_probs
        else "return F.softmax(logits, dim=1) (the default), not the logits themselves.",
        raw=True,
    )


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
        ``f(logits, labels) -> loss``: the head's outputs ``(batch, n_classes)``
        and integer class ids ``(batch,)`` to one number, a tensor of shape
        ``()``; cross-entropy by default. Labels -1 are removed before it is
        called. Checked on a few examples before training (:meth:`check_loss`).
    output_func
        ``f(logits) -> probs``, shape ``(batch, n_classes)``, each row a
        probability distribution; softmax over dim 1 by default. Checked
        before training, or on the first batch a model predicts (:meth:`check_output`).
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
        check_function(f"{where} loss_func", self.loss_func, "loss_func(logits, labels)", 2, LOSS_FIX)
        check_function(f"{where} output_func", self.output_func, "output_func(logits)", 1, OUTPUT_FIX)
        if not is_number(self.weight) or not self.weight >= 0 or math.isinf(self.weight):
            fail(f"{where} weight", "must be a finite number >= 0", self.weight, "pass e.g. weight=1.0.")
        if self.scorer is not None and not isinstance(self.scorer, Scorer):
            fail(f"{where} scorer", "must be a Scorer", self.scorer, "pass e.g. Scorer(metrics=['accuracy']).")
        if type(self.weight) not in (int, float):
            object.__setattr__(self, "weight", float(self.weight))  # a numpy number, as a Python float
        object.__setattr__(self, "module_pool", pool)
        object.__setattr__(self, "op_sequence", ops)
        object.__setattr__(self, "task_flow", None)
        object.__setattr__(self, "scorer", self.scorer if self.scorer is not None else Scorer(metrics=["accuracy"]))

    @property
    def is_classification(self) -> bool:
        """Whether the task predicts one of ``n_classes`` classes (every task of the kit does, for now).

        The checks that only hold for classes ask this one property: the
        output of :attr:`output_func` must then be a probability per class
        (:meth:`check_output`). A task of another kind (regression) turns
        them off here.
        """
        return True

    # ------------------------------------------------- the student's functions, first call
    def check_loss(self, logits: Any, labels: torch.Tensor) -> torch.Tensor:
        """Call :attr:`loss_func` once, on a small batch, and check what it returns; return the loss.

        The Trainer calls this before training, so that a loss that breaks
        its contract fails here, named, and not inside torch at the first step.

        Parameters
        ----------
        logits
            The head's output on a few examples, ``(batch, n_classes)`` for a classifier.
        labels
            Their labels, ``(batch,)`` class ids (no -1).

        Raises
        ------
        MTLConfigError
            If the loss raises, or returns anything but one floating-point
            number as a tensor, shape ``()``, that autograd can follow back to ``logits``.
        """
        where = f"Task({self.name!r}) loss_func ({function_name(self.loss_func)})"
        fix = _loss_fix(self.loss_func, logits)
        loss = call_once(where, self.loss_func, {"logits": logits, "labels": labels}, fix, name="loss_func")
        if not isinstance(loss, torch.Tensor):
            fail(
                where,
                "must return the loss as a tensor, which autograd follows back to the weights",
                describe(loss),
                "return the tensor itself: no .item(), float() or numpy inside the loss.",
                raw=True,
            )
        if loss.dim() != 0:
            fail(
                where,
                "must return one number for the batch, a tensor of shape ()",
                f"{describe(loss)} (one loss per example?)" if loss.shape[:1] == labels.shape[:1] else describe(loss),
                "average over the examples: reduction='mean' (the default of torch's losses), or return loss.mean().",
                raw=True,
            )
        if not loss.is_floating_point():
            fail(
                where,
                "must return a floating-point tensor",
                describe(loss),
                "compute the loss from the logits with torch operations (an integer loss has no gradient).",
                raw=True,
            )
        if isinstance(logits, torch.Tensor) and logits.requires_grad and not loss.requires_grad:
            fail(
                where,
                "must return a tensor computed from the logits, so that autograd can train the model",
                f"{describe(loss)} with no gradient (requires_grad=False)",
                "compute it with torch operations on logits: no .detach(), .item(), numpy or torch.tensor(...) inside.",
                raw=True,
            )
        return loss

    def check_output(self, logits: Any, n_examples: int) -> torch.Tensor:
        """Call :attr:`output_func` once and check its result; return it.

        Called before training, and on the first batch of a ``predict`` when the
        model has not checked this task yet (once: the check costs a few tensor operations):
        for a classification task (:attr:`is_classification`) the result must
        be a probability distribution over the classes for each example, or the
        predictions, the scores and the decision-boundary plots are silently wrong.

        Parameters
        ----------
        logits
            The head's output on ``n_examples`` examples.
        n_examples
            How many examples ``logits`` holds.

        Raises
        ------
        MTLConfigError
            If ``output_func`` raises, or returns anything but a tensor of shape
            ``(n_examples, n_classes)``, ``n_classes >= 2``, whose rows are
            probabilities (in [0, 1], summing to 1).
        """
        where = f"Task({self.name!r}) output_func ({function_name(self.output_func)})"
        probs = call_once(where, self.output_func, {"logits": logits}, OUTPUT_FIX, name="output_func")
        if not isinstance(probs, torch.Tensor):
            fail(where, "must return a tensor", describe(probs), OUTPUT_FIX, raw=True)
        if self.is_classification:
            _check_probabilities(where, probs, n_examples)
        return probs

    def __repr__(self) -> str:
        flow = " -> ".join(op.name for op in self.op_sequence)
        return f"Task(name={self.name!r}, flow={flow!r}, modules={list(self.module_pool.keys())}, scorer={self.scorer!r}, weight={self.weight})"
