"""Trainer: fit a MultitaskClassifier on train loaders, log metrics per epoch.

``Trainer.fit`` is a plain loop: for each epoch, train on every batch, let
the callbacks act, score the valid loaders, record the metrics. What else it
does (logging, keeping the best weights, reviving dead units, warning about
stalled tasks) lives in callbacks that its arguments switch on.
"""

from __future__ import annotations

import math
import os
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from mtl_teach._errors import MTLConfigError, fail, names
from mtl_teach._validation import Boolean, Check, Constraint, Integer, Number, Options, Rule, validate
from mtl_teach.balancing import GradCosineLog, TaskWeightsLog, Weighting, check_weighting, make_weighting
from mtl_teach.callbacks import BestCheckpoint, Callback, MetricLogger
from mtl_teach.data import SPLITS, DictDataLoader, label_ranges, loader_list
from mtl_teach.dead_units import DeadUnitMonitor, RevivedUnit
from mtl_teach.log_writers import LOG_WRITERS, tensorboard_available
from mtl_teach.model import MultitaskClassifier
from mtl_teach.schedulers import BATCH_SCHEDULERS, LR_SCHEDULERS, OPTIMIZERS, iterate_batches, lr_factor, make_optimizer
from mtl_teach.seed import set_seed
from mtl_teach.weighting import AggregationMethod


def _is_metric_spec(value: Any) -> bool:
    key, _, mode = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    return mode in ("min", "max") and key.count("/") == 3


# What each argument must be, checked in this order when the Trainer is built,
# so that a typo fails before any training (scikit-learn's _parameter_constraints).
PARAMETER_CONSTRAINTS: dict[str, Constraint] = {
    "n_epochs": Integer(low=1),
    "lr": Number(example=0.01),
    "l2": Number(example=0.01),
    "min_lr": Number(example=0.01),
    "warmup_percentage": Number(example=0.01),
    "grad_clip": Number(example=1.0, positive_or_none=True),
    "warmup_steps": Integer(low=0),
    "step_size": Integer(low=1),
    "evaluation_freq": Integer(low=1),
    "optimizer": Options(OPTIMIZERS),
    "lr_scheduler": Options(LR_SCHEDULERS),
    "batch_scheduler": Options(BATCH_SCHEDULERS),
    "log_writer": Options(LOG_WRITERS),
    "train_split": Options(SPLITS),
    "valid_split": Options(SPLITS),
    "test_split": Options(SPLITS),
    "seed": Integer(or_none=True),
    "progress_bar": Boolean(),
    "checkpointing": Boolean(),
    "logging": Boolean(),
    "detect_stalls": Boolean(),
    "revive_dead_units": Boolean(),
    "checkpoint_metric": Rule(
        _is_metric_spec,
        "must look like 'task/dataset/split/metric:min' or ':max'",
        "e.g. 'model/all/train/loss:min' or 'circle_task/circleDataset/valid/accuracy:max'.",
    ),
    "callbacks": Rule(
        lambda callbacks: isinstance(callbacks, tuple) and all(isinstance(cb, Callback) for cb in callbacks),
        "must hold Callback objects",
        "subclass mtl_teach.Callback.",
    ),
    "weighting": Check(check_weighting),
    "log_grad_cosine": Boolean(),
}


@dataclass(frozen=True)
class Trainer:
    """Train a :class:`MultitaskClassifier` (Snorkel's arguments and defaults).

    Parameters
    ----------
    n_epochs, lr, l2, grad_clip
        Epochs (>= 1), learning rate, weight decay, gradient-norm clip (None: off).
    optimizer
        ``"adam"``, ``"adamax"`` or ``"sgd"`` (momentum 0.9).
    lr_scheduler
        ``"constant"``, ``"linear"``, ``"exponential"`` (``exp_gamma`` per
        batch) or ``"step"`` (``step_gamma`` every ``step_size`` batches);
        stepped once per batch, after ``warmup_steps`` batches (or
        ``warmup_percentage`` of all batches) of linear warmup; never below ``min_lr``.
    batch_scheduler
        ``"shuffled"`` (all loaders' batches in random order) or ``"sequential"``.
    seed
        Seeds Python, numpy and torch (and so the batch order and shuffling)
        at the start of :meth:`fit`: the same seed and the same starting
        weights give the same numbers. The weights are drawn when the model
        is built, so call :func:`~mtl_teach.set_seed` before building it too.
    progress_bar
        A tqdm bar per epoch (a widget in Jupyter). ``TQDM_DISABLE=1`` hides it.
    checkpointing, checkpoint_metric, checkpoint_dir
        Keep the weights that score best on ``checkpoint_metric``
        (``"<metric key>:min"`` or ``":max"``) and restore them after the
        last epoch; also saved to ``checkpoint_dir/best_model.pth`` if given.
    logging, log_writer, log_dir, run_name
        Write each epoch's metrics as JSON (or to TensorBoard, if installed).
    evaluation_freq
        Score the valid loaders every this many epochs.
    detect_stalls
        Warn once (a :class:`~mtl_teach.dead_units.StallWarning`) if a task's
        training accuracy is stuck at its majority-class rate.
    revive_dead_units
        After each epoch, re-draw ReLU units that are zero on every training
        input (see :mod:`mtl_teach.dead_units`); ``revived`` lists them as
        ``(epoch, unit)`` and ``model/all/train/revived_units`` counts them.
    callbacks
        :class:`~mtl_teach.callbacks.Callback` objects, called after the
        built-in ones (see :mod:`mtl_teach.callbacks` for the events).
    weighting
        How the tasks' losses and gradients make one step: ``"equal"`` (the
        sum of the losses), ``"uncertainty"``, ``"gradnorm"``, ``"pcgrad"``,
        ``"mgda"``, ``"cagrad"``, a :class:`~mtl_teach.balancing.Weighting`
        or a function ``f(G) -> direction`` (see :mod:`mtl_teach.balancing`).
        Learned task weights go to ``history["<task>/all/train/weight"]``.
    log_grad_cosine
        Each epoch, log the cosine between every two tasks' gradients on the
        shared parameters, ``history["<task a>+<task b>/all/train/grad_cosine"]``,
        measured on the epoch's first 8 batches that carry two tasks' labels.

    Attributes
    ----------
    history
        Every logged metric per epoch, ``history["epoch"]`` included.
    revived
        ``(epoch, unit)`` for each dead unit revived.
    optimizer_
        The optimizer of the latest ``fit`` (callbacks may use it).
    """

    n_epochs: int = 1
    lr: float = 0.01
    l2: float = 0.0
    grad_clip: float | None = 1.0
    optimizer: str = "adam"
    lr_scheduler: str = "constant"
    warmup_steps: int = 0
    warmup_percentage: float = 0.0
    min_lr: float = 0.0
    exp_gamma: float = 0.9
    step_size: int = 5
    step_gamma: float = 0.9
    batch_scheduler: str = "shuffled"
    train_split: str = "train"
    valid_split: str = "valid"
    test_split: str = "test"
    seed: int | None = None
    progress_bar: bool = True
    checkpointing: bool = False
    checkpoint_metric: str = "model/all/train/loss:min"
    checkpoint_dir: str | None = None
    logging: bool = False
    log_writer: str = "json"
    log_dir: str = "logs"
    run_name: str | None = None
    evaluation_freq: int = 1
    detect_stalls: bool = True
    revive_dead_units: bool = True
    callbacks: Sequence[Callback] = ()
    weighting: str | Weighting | AggregationMethod = "equal"
    log_grad_cosine: bool = False
    history: dict[str, list[float]] = field(default_factory=dict, init=False, repr=False, compare=False)
    revived: list[tuple[int, RevivedUnit]] = field(default_factory=list, init=False, repr=False, compare=False)
    optimizer_: torch.optim.Optimizer | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        callbacks = self.callbacks
        if isinstance(callbacks, Callback):
            callbacks = (callbacks,)  # one callback, not in a list
        elif isinstance(callbacks, Iterable) and not isinstance(callbacks, str | Mapping):
            callbacks = tuple(callbacks)  # read once, before the check: a generator would be used up by it
        object.__setattr__(self, "callbacks", callbacks)
        validate("Trainer", self, PARAMETER_CONSTRAINTS)
        if self.logging and self.log_writer == "tensorboard" and not tensorboard_available():
            fail(
                "Trainer(log_writer)",
                "'tensorboard' needs the tensorboard package, which is not installed",
                self.log_writer,
                "pip install tensorboard, or use log_writer='json'.",
            )

    def __repr__(self) -> str:
        changed = [
            f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.init and getattr(self, f.name) != f.default
        ]
        return f"Trainer({', '.join(changed)})"

    # ------------------------------------------------------------------ fit
    def fit(self, model: MultitaskClassifier, dataloaders: Sequence[DictDataLoader]) -> MultitaskClassifier:
        """Train ``model`` in place on the train loaders; return it.

        Parameters
        ----------
        model
            The :class:`MultitaskClassifier` to train.
        dataloaders
            Loaders of every split: train loaders are trained on, valid ones
            scored after each evaluation; test loaders are left alone.
        """
        train_loaders, valid_loaders = self._check_fit_args(model, dataloaders)
        if self.seed is not None:
            set_seed(self.seed)
        rng = random.Random(random.getrandbits(64))  # batch order: follows the seed
        weighting = make_weighting(self.weighting, model, train_loaders)  # None for "equal": plain loss.backward()
        cosines = GradCosineLog(model, train_loaders) if self.log_grad_cosine else None
        optimizer, scheduler = self._make_optimizer(model, sum(len(dl) for dl in train_loaders), weighting)
        object.__setattr__(self, "optimizer_", optimizer)
        self.history.clear()
        self.revived.clear()
        callbacks = [*self._builtin_callbacks(train_loaders, weighting, cosines), *self.callbacks]
        model.train()
        for callback in callbacks:
            callback.on_fit_start(self, model)
        try:
            for epoch in range(1, self.n_epochs + 1):
                metrics = self._train_epoch(model, train_loaders, optimizer, scheduler, rng, epoch, weighting, cosines)
                for callback in callbacks:
                    callback.on_train_epoch_end(self, model, epoch, metrics)
                if valid_loaders and epoch % self.evaluation_freq == 0:
                    metrics.update(model.score(valid_loaders))
                self._record(epoch, metrics)
                for callback in callbacks:
                    callback.on_epoch_end(self, model, epoch, metrics)
            for callback in callbacks:
                callback.on_fit_end(self, model)
        finally:
            for callback in callbacks:
                callback.teardown(self, model)
        return model

    def _train_epoch(
        self, model, train_loaders, optimizer, scheduler, rng, epoch, weighting=None, cosines=None
    ) -> dict[str, float]:
        loss_sums: dict[str, float] = defaultdict(float)  # "label/dataset/train/loss" -> sum of loss * count
        counts: dict[str, int] = defaultdict(int)
        params = optimizer.param_groups[0]["params"]  # the model's; learned task weights are not clipped
        weights = {name: task.weight for name, task in model.tasks.items()}
        fast = _FastPath(train_loaders)
        bar = self._progress(sum(len(dl) for dl in train_loaders), epoch)
        for step, ((X_dict, Y_dict), loader) in enumerate(iterate_batches(self.batch_scheduler, train_loaders, rng), 1):
            optimizer.zero_grad(set_to_none=True)
            loss_dict, count_dict = model.calculate_loss(X_dict, Y_dict, label_ranges=fast.label_ranges[loader])
            if not loss_dict:
                continue
            # The batch's loss: each task's loss times its weight (Task(weight=...)), summed.
            loss, values = fast.weighted_sum(loss_dict, weights)  # values: label -> weighted loss, as floats
            value = sum(values.values())
            if not math.isfinite(value):
                bad = [label for label, item in values.items() if not math.isfinite(item)]
                raise FloatingPointError(
                    f"Training loss became {value} at epoch {epoch}, batch {step} ({loader.dataset.name!r}), "
                    f"task(s) {names(bad)}. Fix: lower lr, keep grad_clip on, and check the inputs for NaN or huge values."
                )
            if cosines is not None:  # before the step: one extra backward per task, on a sample of batches
                cosines.record({label: loss_dict[label] * weights[label] for label in loss_dict})
            if weighting is None:
                loss.backward()
            else:  # the weighting turns each task's (Task.weight-ed) loss into the gradients
                weighting.backward({label: loss_dict[label] * weights[label] for label in loss_dict})
            if self.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            for label, item in values.items():
                key = fast.loss_key(label, loader)
                loss_sums[key] += item * count_dict[label]
                counts[key] += count_dict[label]
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4f}", refresh=False)
        if bar is not None:
            bar.close()
        total = sum(counts.values())
        metrics = {
            "model/all/train/loss": sum(loss_sums.values()) / total if total else math.nan,
            "model/all/train/lr": optimizer.param_groups[0]["lr"],
        }
        metrics.update({key: loss_sums[key] / counts[key] for key in sorted(loss_sums)})
        return metrics

    # ------------------------------------------------------------ pieces
    def _check_fit_args(
        self, model: MultitaskClassifier, dataloaders: Sequence[DictDataLoader]
    ) -> tuple[list[DictDataLoader], list[DictDataLoader]]:
        # Fail clearly on a bad model or loader before any training; return the train and valid loaders.
        if not isinstance(model, MultitaskClassifier):
            fail(
                "Trainer.fit(model)",
                "must be a MultitaskClassifier",
                type(model).__name__,
                "build one with MultitaskClassifier([task, ...]).",
                raw=True,
            )
        dataloaders = loader_list("Trainer.fit(dataloaders)", dataloaders)  # read once: a generator too
        for loader in dataloaders:
            model.label_tasks(
                loader.dataset.Y_dict, where=f"Dataset {loader.dataset.name!r} ({loader.dataset.split}) Y_dict"
            )
        train = [dl for dl in dataloaders if dl.dataset.split == self.train_split]
        if not train:
            fail(
                "Trainer.fit(dataloaders)",
                f"must include at least one loader of split {self.train_split!r}",
                [f"{dl.dataset.name}/{dl.dataset.split}" for dl in dataloaders],
                "add a train loader: DictDataset(name, 'train', X_dict, Y_dict).",
            )
        model.check_training_data(train)
        model.check_task_functions(train)  # each task's loss_func and output_func, once, on a few examples
        return train, [dl for dl in dataloaders if dl.dataset.split == self.valid_split]

    def _make_optimizer(
        self, model: MultitaskClassifier, steps_per_epoch: int, weighting: Weighting | None = None
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        total = steps_per_epoch * self.n_epochs
        warmup = self.warmup_steps or int(self.warmup_percentage * total)
        optimizer = make_optimizer(self.optimizer, [p for p in model.parameters() if p.requires_grad], self.lr, self.l2)
        learned = list(weighting.parameters()) if weighting is not None else []
        if learned:  # learned task weights (uncertainty, gradnorm) train too, without weight decay
            optimizer.add_param_group({"params": learned, "weight_decay": 0.0})
        if self.lr_scheduler == "constant" and warmup == 0:
            return optimizer, None  # a constant rate needs no scheduler (saves a step per batch)
        factor = lr_factor(
            self.lr_scheduler,
            total_steps=total,
            warmup_steps=warmup,
            lr=self.lr,
            min_lr=self.min_lr,
            exp_gamma=self.exp_gamma,
            step_size=self.step_size,
            step_gamma=self.step_gamma,
        )
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def _builtin_callbacks(
        self, train_loaders: list[DictDataLoader], weighting: Weighting | None, cosines: GradCosineLog | None
    ) -> list[Callback]:
        callbacks: list[Callback] = []
        # First, so that the other callbacks (the logger, the checkpoint) see these metrics too.
        if weighting is not None and weighting.task_weights():
            callbacks.append(TaskWeightsLog(weighting))
        if cosines is not None:
            callbacks.append(cosines)
        if self.logging:
            callbacks.append(MetricLogger(self.log_writer, self.log_dir, self.run_name))
        if self.revive_dead_units or self.detect_stalls:
            callbacks.append(
                DeadUnitMonitor(
                    train_loaders,
                    revive=bool(self.revive_dead_units),
                    detect_stalls=bool(self.detect_stalls),
                    revived=self.revived,
                )
            )
        if self.checkpointing:
            callbacks.append(BestCheckpoint(self.checkpoint_metric, self.checkpoint_dir))
        return callbacks

    def _progress(self, total: int, epoch: int) -> Any:
        # tqdm's notebook bar ignores TQDM_DISABLE (it passes disable=False itself),
        # so honour it here: nbval runs and graders set it to keep outputs clean.
        if not self.progress_bar or os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false"):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=f"Epoch {epoch}/{self.n_epochs}", unit="batch", leave=epoch == self.n_epochs)

    def _record(self, epoch: int, metrics: dict[str, float]) -> None:
        # Every key gets one value per epoch (NaN where it was not logged), so
        # history["some/key"] lines up with history["epoch"] for plotting.
        seen = len(self.history.get("epoch", []))
        self.history.setdefault("epoch", []).append(epoch)
        for key, value in metrics.items():
            self.history.setdefault(key, [math.nan] * seen).append(float(value))
        for values in self.history.values():
            if len(values) == seen:
                values.append(math.nan)


class _FastPath:
    """Speed-ups of the training step, kept out of the loop a student reads.

    - Each train set's label range, found once, spares ``calculate_loss`` a
      device sync per batch (see ``MultitaskClassifier._label_range``).
    - A weight of 1 and a sum of one term add no autograd node.
    - Metric keys are built once per (label, loader), not per batch.
    """

    def __init__(self, train_loaders: list[DictDataLoader]) -> None:
        self.label_ranges = {loader: label_ranges(loader.dataset.Y_dict) for loader in train_loaders}
        self._keys: dict[tuple[str, int], str] = {}

    def weighted_sum(
        self, loss_dict: dict[str, torch.Tensor], weights: dict[str, float]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        # Labels are task names here (the Trainer does not remap labels).
        weighted = {
            label: loss if weights[label] == 1.0 else loss * weights[label] for label, loss in loss_dict.items()
        }
        if len(weighted) == 1:  # the usual batch: one task's labels
            ((label, loss),) = weighted.items()
            return loss, {label: loss.item()}
        return torch.stack(list(weighted.values())).sum(), {label: item.item() for label, item in weighted.items()}

    def loss_key(self, label: str, loader: DictDataLoader) -> str:
        key = self._keys.get((label, id(loader)))
        if key is None:
            key = self._keys[label, id(loader)] = f"{label}/{loader.dataset.name}/{loader.dataset.split}/loss"
        return key

    def __repr__(self) -> str:
        return f"_FastPath(loaders={len(self.label_ranges)})"


__all__ = ["MTLConfigError", "Trainer"]
