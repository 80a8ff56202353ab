"""Balancing tasks: how one batch's task losses become the gradients of one step.

``Trainer(weighting=...)`` picks a method by name or takes an object:

============  ======================  =====================================================
name          paper                   what it changes
============  ======================  =====================================================
equal         (the default)           nothing: ``sum(losses).backward()``
uncertainty   Kendall et al. 2018     loss ``sum_t exp(-s_t) L_t + s_t``, one learnable ``s_t`` per task
                                      (their regression form x2; see :class:`UncertaintyWeighting`)
gradnorm      Chen et al. 2018        learnable weights ``w_t`` that even out the tasks' gradient
                                      norms on the last shared layer
pcgrad        Yu et al. 2020          the shared trunk's update: :func:`mtl_teach.weighting.pcgrad`
mgda          Sener & Koltun 2018     the shared trunk's update: :func:`mtl_teach.weighting.mgda`
cagrad        Liu et al. 2021         the shared trunk's update: :func:`mtl_teach.weighting.cagrad`
============  ======================  =====================================================

A function ``f(G) -> direction`` (``G`` of shape ``(tasks, params)``) is
used like ``pcgrad``: :class:`GradientAggregation` wraps it.

The gradient methods (``gradnorm`` and the aggregations) compare the tasks'
gradients of the SAME step, so they need batches that carry labels of at
least two tasks: one ``DictDataset`` whose ``Y_dict`` holds both tasks'
labels for the same points. The tutorial's loaders (one task per dataset)
give one task per batch: there is nothing to compare, and ``Trainer.fit``
says so.

Which parameters are "shared"? Those of the modules that more than one task
uses (:meth:`MultitaskClassifier.shared_modules`, e.g. ``base_mlp``). The
aggregations replace the gradient on those parameters only; every other
parameter (each task's head) gets its ordinary gradient, which only its own
task's loss reaches.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from mtl_teach._errors import fail, names
from mtl_teach._probe import call_once, function_name
from mtl_teach._validation import is_number
from mtl_teach.callbacks import Callback, TrainerView
from mtl_teach.model import MultitaskClassifier
from mtl_teach.weighting import METHOD_FIX, AggregationMethod, check_direction, check_method
from mtl_teach.weighting import METHODS as AGGREGATIONS

if TYPE_CHECKING:
    from mtl_teach.data import DictDataLoader

WEIGHTINGS: tuple[str, ...] = ("equal", "uncertainty", "gradnorm", *(m for m in AGGREGATIONS if m != "equal"))
"""Names ``Trainer(weighting=...)`` accepts."""

_PARAM = "Trainer(weighting)"


# ---------------------------------------------------------------- shared pieces


def shared_parameters(model: MultitaskClassifier) -> list[nn.Parameter]:
    """The trainable parameters of the modules used by more than one task, in module order."""
    pool = model.module_pool
    return [p for key in model.shared_modules() for p in pool[key].parameters() if p.requires_grad]


def task_gradients(losses: Sequence[torch.Tensor], params: Sequence[nn.Parameter]) -> torch.Tensor:
    """Each loss's gradient on ``params``, flattened: the matrix ``G``, shape ``(tasks, params)``.

    One backward pass per loss; the graph is kept for the passes that follow.
    A parameter a loss does not reach gets a gradient of 0.
    """
    rows = []
    for loss in losses:
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        rows.append(
            torch.cat(
                [(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params, strict=True)]
            )
        )
    return torch.stack(rows)  # (tasks, n_shared_params)


def _tasks_per_batch(model: MultitaskClassifier, train_loaders: Sequence[DictDataLoader]) -> int:
    """The most tasks any train loader labels: how many losses a batch can carry at once."""
    return max((len(set(model.label_tasks(dl.dataset.Y_dict).values())) for dl in train_loaders), default=0)


def require_multitask_batches(
    model: MultitaskClassifier, train_loaders: Sequence[DictDataLoader], param: str, value: object
) -> None:
    """Fail unless some train loader's batches carry labels of at least two tasks."""
    if _tasks_per_batch(model, train_loaders) < 2:
        fail(
            param,
            "compares the tasks' gradients of one step, so it needs batches that carry labels of "
            "at least two tasks; each of your train loaders labels one task",
            value,
            "put the tasks' labels for the same points in one dataset, e.g. DictDataset('shapes', 'train', "
            "{'data': X}, {'circle_task': Y1, 'square_task': Y2}), with tasks that read the field 'data'.",
        )


# ---------------------------------------------------------------- the methods


class Weighting(nn.Module):
    """Base class: turn one batch's task losses into ``.grad`` on the model's parameters.

    A subclass implements :meth:`backward`; one with learnable parameters
    (an ``nn.Module``'s) gets them trained by the Trainer's optimizer, in a
    parameter group of their own without weight decay.
    """

    name: ClassVar[str] = "weighting"
    needs_shared_trunk: ClassVar[bool] = False
    needs_multitask_batches: ClassVar[bool] = False

    def bind(self, model: MultitaskClassifier, train_loaders: Sequence[DictDataLoader]) -> None:
        """Check ``model`` and get ready to train it (called by ``Trainer.fit``, once per fit)."""
        if len(model.tasks) < 2:
            fail(
                _PARAM,
                "balances several tasks, but the model has one task",
                self.name,
                f"leave weighting='equal' for the single task {names(model.tasks)}, or add tasks to the model.",
            )
        if self.needs_shared_trunk and not model.shared_modules():
            fail(
                _PARAM,
                f"{self.name!r} acts on the shared trunk, but no module of the model is used by more than one task",
                self.name,
                "give the tasks one module object under the same name (e.g. 'base_mlp'), or use 'uncertainty'.",
            )
        if self.needs_multitask_batches:
            require_multitask_batches(model, train_loaders, _PARAM, self.name)
        self.task_names = list(model.tasks)

    def backward(self, losses: Mapping[str, torch.Tensor]) -> None:
        """Fill ``.grad`` from ``losses`` (task -> scalar loss of this batch)."""
        raise NotImplementedError

    def task_weights(self) -> dict[str, float]:
        """Task -> current weight, for the methods that learn weights (else empty)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class UncertaintyWeighting(Weighting):
    """Kendall, Gal & Cipolla 2018: weigh each task by a learned "uncertainty".

    The paper reads each task's loss as the negative log-likelihood of a
    model with its own noise level ``sigma_t^2``, the same for every input of
    the task (homoscedastic uncertainty), and learns ``s_t = log sigma_t^2``
    by maximising all tasks' likelihoods together. Its two forms are, for
    regression, ``1/2 exp(-s) L + 1/2 s``, and for classification,
    ``exp(-s) L + 1/2 s``.

    The kit minimises ``sum_t exp(-s_t) L_t + s_t`` for every task: the
    regression form times 2. One form serves any kind of task, and its best
    ``s_t`` for a fixed loss is exactly ``log L_t``, a weight
    ``exp(-s_t) = 1 / L_t`` (each weighted loss about 1). The classification
    form's best weight is ``1 / (2 L_t)``: every weight halved, the same ratio
    between the tasks, which is what balancing sets.

    A task with a large loss gets a large ``s_t``, so a smaller weight
    ``exp(-s_t)``; the ``+ s_t`` term stops every weight from going to 0. The
    ``s_t`` start at 0 (every weight 1) and are trained by the Trainer's
    optimizer.
    """

    name = "uncertainty"

    def bind(self, model: MultitaskClassifier, train_loaders: Sequence[DictDataLoader]) -> None:
        super().bind(model, train_loaders)
        device = next(model.parameters()).device
        self.log_vars = nn.Parameter(torch.zeros(len(self.task_names), device=device))  # (tasks,): s_t
        self._index = {name: i for i, name in enumerate(self.task_names)}

    def backward(self, losses: Mapping[str, torch.Tensor]) -> None:
        s = self.log_vars[[self._index[label] for label in losses]]  # (batch tasks,)
        L = torch.stack(list(losses.values()))  # (batch tasks,)
        (torch.exp(-s) * L + s).sum().backward()

    def task_weights(self) -> dict[str, float]:
        return dict(zip(self.task_names, torch.exp(-self.log_vars.detach()).tolist(), strict=True))


class GradNorm(Weighting):
    """Chen et al. 2018: learn task weights that even out the tasks' gradient norms.

    Each step, on the last shared layer's weight ``W``: ``G_t = |grad_W w_t L_t|``,
    its mean ``G``, each task's relative training rate
    ``r_t = (L_t / L_t(0)) / mean(L / L(0))`` (``L_t(0)``: its first loss), and
    the weights follow the gradient of ``sum_t |G_t - G r_t^alpha|`` (the
    target ``G r_t^alpha`` held constant), trained by the Trainer's optimizer.
    A task that trains slowly (large ``r_t``) gets a larger target, so a
    larger weight. The weights start at 1 and are renormalised to sum to the
    number of tasks before each step. The model is trained on ``sum_t w_t L_t``.

    Parameters
    ----------
    alpha
        How strongly slow tasks are pushed (the paper uses 0.12 to 3; 1.5 on NYUv2).
    """

    name = "gradnorm"
    needs_shared_trunk = True
    needs_multitask_batches = True

    def __init__(self, alpha: float = 1.5) -> None:
        super().__init__()
        if not is_number(alpha) or not math.isfinite(alpha) or alpha < 0:
            fail("GradNorm(alpha)", "must be a finite number >= 0", alpha, "use the paper's alpha=1.5.")
        self.alpha = float(alpha)

    def bind(self, model: MultitaskClassifier, train_loaders: Sequence[DictDataLoader]) -> None:
        super().bind(model, train_loaders)
        # The last shared layer: the last weight matrix of the last shared module.
        matrices = [p for p in shared_parameters(model) if p.ndim >= 2]
        if not matrices:
            fail(
                _PARAM,
                "'gradnorm' needs a shared layer with a weight matrix (e.g. an nn.Linear)",
                model.shared_modules(),
                "share a trunk with at least one nn.Linear, or use 'uncertainty'.",
            )
        # A tuple, not an attribute: nn.Module would register W as this object's own parameter.
        self._layer = (matrices[-1],)
        device = matrices[-1].device
        self.weights = nn.Parameter(torch.ones(len(self.task_names), device=device))  # (tasks,): w_t
        self._index = {name: i for i, name in enumerate(self.task_names)}
        self._initial: dict[str, float] = {}  # task -> L_t(0)

    def backward(self, losses: Mapping[str, torch.Tensor]) -> None:
        with torch.no_grad():  # the paper renormalises after each update; here, before each use
            self.weights.clamp_(min=1e-3).mul_(len(self.task_names) / self.weights.sum())
        labels = list(losses)
        L = torch.stack([losses[label] for label in labels])  # (k,) losses of this batch's tasks
        w = self.weights[[self._index[label] for label in labels]]  # (k,)
        for label, value in zip(labels, L.tolist(), strict=True):
            self._initial.setdefault(label, value)
        if len(labels) >= 2:
            # |grad_W L_t| for each task: k backward passes that stop at W.
            norms = torch.stack(
                [torch.autograd.grad(loss, self._layer[0], retain_graph=True)[0].norm() for loss in L]
            )  # (k,)
            G = w * norms  # (k,): |grad_W (w_t L_t)|, differentiable in w only
            ratio = L.detach() / torch.tensor([self._initial[label] for label in labels], device=L.device)
            target = (G.mean() * (ratio / ratio.mean()) ** self.alpha).detach()  # (k,)
            self.weights.grad = torch.autograd.grad((G - target).abs().sum(), self.weights)[0]
        (w.detach() * L).sum().backward()

    def task_weights(self) -> dict[str, float]:
        w = self.weights.detach()
        w = w.clamp(min=1e-3) * (len(self.task_names) / w.clamp(min=1e-3).sum())  # as the next step will use them
        return dict(zip(self.task_names, w.tolist(), strict=True))

    def __repr__(self) -> str:
        return f"GradNorm(alpha={self.alpha})"


class GradientAggregation(Weighting):
    """Combine the tasks' gradients on the shared trunk with ``method(G)``; heads as usual.

    Per batch: one backward pass per task gives ``G``, shape ``(tasks, params)``
    over the shared parameters; ``method(G)`` becomes their ``.grad``. The
    heads get the gradient of the summed losses (a head is reached by its own
    task's loss only). A batch with one task's labels is a plain backward:
    with one gradient there is nothing to combine.

    Parameters
    ----------
    method
        A name of :data:`mtl_teach.weighting.METHODS` or a function
        ``f(G) -> direction`` (shape ``(params,)``).
    """

    needs_shared_trunk = True
    needs_multitask_batches = True

    def __init__(self, method: str | AggregationMethod) -> None:
        super().__init__()
        if isinstance(method, str):
            if method not in AGGREGATIONS:
                fail(
                    "GradientAggregation(method)",
                    f"must be one of {names(AGGREGATIONS)} or a function f(G)",
                    method,
                    f"pick one of {names(AGGREGATIONS)}.",
                )
            self.method_name, self.method = method, AGGREGATIONS[method]
        elif callable(method):
            check_method("GradientAggregation(method)", method)
            self.method_name, self.method = function_name(method), method
        else:
            fail(
                "GradientAggregation(method)",
                "must be a method name or a function f(G)",
                type(method).__name__,
                "pass e.g. 'pcgrad'.",
                raw=True,
            )

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.method_name

    def bind(self, model: MultitaskClassifier, train_loaders: Sequence[DictDataLoader]) -> None:
        super().bind(model, train_loaders)
        self._called = False  # the method's first call in this fit is checked (_call)
        self.shared = shared_parameters(model)
        shared_ids = {id(p) for p in self.shared}
        self.heads = [p for p in model.parameters() if p.requires_grad and id(p) not in shared_ids]

    def backward(self, losses: Mapping[str, torch.Tensor]) -> None:
        if len(losses) == 1:
            next(iter(losses.values())).backward()
            return
        G = task_gradients(list(losses.values()), self.shared)  # (tasks, params)
        direction = self._call(G)
        total = torch.stack(list(losses.values())).sum()
        for p, g in zip(self.heads, torch.autograd.grad(total, self.heads, allow_unused=True), strict=True):
            if g is not None:
                p.grad = g
        offset = 0
        for p in self.shared:  # cut the (params,) direction back into the shared tensors
            p.grad = direction[offset : offset + p.numel()].view_as(p).clone()
            offset += p.numel()

    def _call(self, G: torch.Tensor) -> torch.Tensor:
        where = f"Trainer(weighting={self.method_name})"
        if self._called:
            direction = self.method(G)
        else:  # its first call: what it raises is named, with G's shape
            direction = call_once(where, self.method, {"G": G}, METHOD_FIX, name=self.method_name)
            self._called = True
        return check_direction(where, direction, G)

    def __repr__(self) -> str:
        return f"GradientAggregation({self.method_name!r})"


# ---------------------------------------------------------------- resolution


def is_weighting(weighting: object) -> bool:
    """Whether ``Trainer(weighting=...)`` accepts this: a name of :data:`WEIGHTINGS`, a Weighting, a function."""
    if isinstance(weighting, str):
        return weighting in WEIGHTINGS
    return isinstance(weighting, Weighting) or (callable(weighting) and not isinstance(weighting, type))


def check_weighting(param: str, weighting: object) -> None:
    """Fail unless ``Trainer(weighting=...)`` accepts ``weighting``, saying what was meant when it is a common slip.

    Parameters
    ----------
    param
        The parameter named in messages, ``"Trainer(weighting)"``.
    weighting
        A name of :data:`WEIGHTINGS`, a :class:`Weighting` object, or a function ``f(G)``.
    """
    rule = f"must be one of {names(WEIGHTINGS)}, a Weighting object or a function f(G)"
    if isinstance(weighting, type) and issubclass(weighting, Weighting):
        # The class's own call would take the gradients for its arguments (GradNorm(alpha=G)).
        by_name = weighting.name if isinstance(weighting.name, str) and weighting.name in WEIGHTINGS else None
        fail(
            param,
            "must be a Weighting object, not its class",
            weighting.__name__,
            f"create one: weighting={weighting.__name__}()"
            + (f", or pass its name, weighting={by_name!r}." if by_name else "."),
            raw=True,
        )
    if isinstance(weighting, Mapping) or (
        isinstance(weighting, list | tuple) and weighting and all(is_number(w) for w in weighting)
    ):
        fail(
            param,
            "picks a method that balances the tasks as they train; fixed weights per task belong to the tasks",
            weighting,
            "give each task its weight, Task(name, module_pool, op_sequence, weight=2.0) (its loss is multiplied "
            f"by it), and leave weighting='equal'; or pick a method: {names(WEIGHTINGS)}.",
        )
    if isinstance(weighting, str):
        if weighting not in WEIGHTINGS:
            fail(param, rule, weighting, f"pick one of {names(WEIGHTINGS)}.")
    elif callable(weighting) and not isinstance(weighting, Weighting):
        check_method(param, weighting)
    elif not isinstance(weighting, Weighting):
        fail(param, rule, weighting, f"pick one of {names(WEIGHTINGS)}.")


def make_weighting(
    weighting: str | Weighting | AggregationMethod,
    model: MultitaskClassifier,
    train_loaders: Sequence[DictDataLoader],
) -> Weighting | None:
    """The bound :class:`Weighting` for one fit; ``None`` for ``"equal"`` (the Trainer's own backward).

    A name builds a fresh object, so every fit starts from weights 1.
    """
    if isinstance(weighting, str) and weighting == "equal":
        return None
    if isinstance(weighting, Weighting):
        method = weighting
    elif isinstance(weighting, str):
        builders: dict[str, Callable[[], Weighting]] = {"uncertainty": UncertaintyWeighting, "gradnorm": GradNorm}
        method = builders[weighting]() if weighting in builders else GradientAggregation(weighting)
    else:
        method = GradientAggregation(weighting)
    method.bind(model, train_loaders)
    return method


# ---------------------------------------------------------------- per-epoch logs (callbacks)


class TaskWeightsLog(Callback):
    """Adds each task's learned weight to the epoch's metrics: ``"<task>/all/train/weight"``."""

    def __init__(self, weighting: Weighting) -> None:
        self.weighting = weighting

    def on_train_epoch_end(
        self, trainer: TrainerView, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]
    ) -> None:
        metrics.update({f"{task}/all/train/weight": w for task, w in self.weighting.task_weights().items()})

    def __repr__(self) -> str:
        return f"TaskWeightsLog({self.weighting!r})"


class GradCosineLog(Callback):
    """Per epoch, the mean cosine between every two tasks' gradients on the shared parameters.

    The Trainer calls :meth:`record` with each batch's task losses, before
    the step. The first ``max_batches`` batches of each epoch that carry
    labels of at least two tasks are measured (batches are shuffled each
    epoch, so these are a random sample): one extra backward per task on
    each. Keys: ``"<task a>+<task b>/all/train/grad_cosine"``, added to the
    epoch's metrics.

    Parameters
    ----------
    model
        The model being trained: two tasks or more, a shared trunk.
    train_loaders
        Its train loaders: at least one must carry two tasks' labels.
    max_batches
        Batches measured per epoch.
    """

    def __init__(
        self, model: MultitaskClassifier, train_loaders: Sequence[DictDataLoader], max_batches: int = 8
    ) -> None:
        if len(model.tasks) < 2:
            fail(
                "Trainer(log_grad_cosine)",
                "compares tasks, but the model has one task",
                True,
                "set log_grad_cosine=False, or add tasks to the model.",
            )
        if not model.shared_modules():
            fail(
                "Trainer(log_grad_cosine)",
                "measures gradients on the shared trunk, but no module is used by more than one task",
                True,
                "share a module between the tasks (same object, same name), or set log_grad_cosine=False.",
            )
        require_multitask_batches(model, train_loaders, "Trainer(log_grad_cosine)", True)
        self.shared = shared_parameters(model)
        self.max_batches = max_batches
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._batches = 0

    def record(self, losses: Mapping[str, torch.Tensor]) -> None:
        """Add this batch's cosines, if it carries two tasks and the epoch's sample is not full."""
        if len(losses) < 2 or self._batches >= self.max_batches:
            return
        self._batches += 1
        G = task_gradients(list(losses.values()), self.shared)  # (tasks, params)
        norms = G.norm(dim=1)  # (tasks,)
        cos = (G @ G.T) / (norms[:, None] * norms[None, :]).clamp_min(1e-30)  # (tasks, tasks)
        labels = list(losses)
        for i, j in itertools.combinations(range(len(labels)), 2):
            a, b = sorted((labels[i], labels[j]))
            key = f"{a}+{b}/all/train/grad_cosine"
            self._sums[key] = self._sums.get(key, 0.0) + float(cos[i, j])
            self._counts[key] = self._counts.get(key, 0) + 1

    def epoch_metrics(self) -> dict[str, float]:
        """The epoch's mean cosine per pair; starts the next epoch's sample."""
        metrics = {key: self._sums[key] / self._counts[key] for key in sorted(self._sums)}
        self._sums, self._counts, self._batches = {}, {}, 0
        return metrics

    def on_train_epoch_end(
        self, trainer: TrainerView, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]
    ) -> None:
        metrics.update(self.epoch_metrics())

    def __repr__(self) -> str:
        return f"GradCosineLog(max_batches={self.max_batches})"


__all__ = [
    "WEIGHTINGS",
    "GradCosineLog",
    "GradNorm",
    "GradientAggregation",
    "TaskWeightsLog",
    "UncertaintyWeighting",
    "Weighting",
    "check_weighting",
    "is_weighting",
    "make_weighting",
    "shared_parameters",
    "task_gradients",
]
