"""Trainer: fit a MultitaskClassifier on train loaders, log metrics per epoch."""

from __future__ import annotations

import math
import os
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from mtl_teach._errors import MTLConfigError, names
from mtl_teach.balancing import GradCosineLog, Weighting, check_weighting, make_weighting
from mtl_teach.callbacks import Callback
from mtl_teach.checkpointing import BestCheckpoint
from mtl_teach.data import DictDataLoader, label_ranges
from mtl_teach.diagnostics import StallMonitor
from mtl_teach.log_writers import JsonWriter, TensorBoardWriter
from mtl_teach.model import MultitaskClassifier
from mtl_teach.revival import RevivedUnit, revive_dead_units
from mtl_teach.schedulers import iterate_batches, lr_factor, make_optimizer
from mtl_teach.seed import set_seed
from mtl_teach.trainer_config import split_loaders, validate_config
from mtl_teach.weighting import AggregationMethod


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
        Warn once (a :class:`~mtl_teach.diagnostics.StallWarning`) if a task's
        training accuracy is stuck at its majority-class rate.
    revive_dead_units
        After each epoch, re-draw ReLU units that are zero on every training
        input (see :mod:`mtl_teach.revival`); ``revived`` lists them as
        ``(epoch, unit)`` and ``model/all/train/revived_units`` counts them.
    callbacks
        :class:`~mtl_teach.callbacks.Callback` objects.
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

    def __post_init__(self) -> None:
        validate_config(self)
        check_weighting(self.weighting)
        if not isinstance(self.log_grad_cosine, bool):
            raise MTLConfigError(
                f"Trainer(log_grad_cosine) must be True or False; got {self.log_grad_cosine!r}. "
                "Fix: pass log_grad_cosine=True or log_grad_cosine=False."
            )
        object.__setattr__(self, "callbacks", tuple(self.callbacks))

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
        train_loaders, valid_loaders = split_loaders(model, dataloaders, self.train_split, self.valid_split)
        if self.seed is not None:
            set_seed(self.seed)
        rng = random.Random(random.getrandbits(64))  # batch order: follows the seed
        steps_per_epoch = sum(len(dl) for dl in train_loaders)
        total = steps_per_epoch * self.n_epochs
        warmup = self.warmup_steps or int(self.warmup_percentage * total)
        optimizer = make_optimizer(self.optimizer, [p for p in model.parameters() if p.requires_grad], self.lr, self.l2)
        # None for "equal": the loss.backward() below, exactly as before.
        weighting = make_weighting(self.weighting, model, train_loaders)
        if weighting is not None and any(True for _ in weighting.parameters()):
            # Learned task weights train with the model, in their own group: no weight decay, no clipping.
            optimizer.add_param_group({"params": list(weighting.parameters()), "weight_decay": 0.0})
        cosines = GradCosineLog(model, train_loaders) if self.log_grad_cosine else None
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
        # A constant rate without warmup needs no scheduler (saves a step per batch).
        constant = self.lr_scheduler == "constant" and warmup == 0
        scheduler = None if constant else torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        writer = self._writer(model) if self.logging else None
        self.history.clear()
        self.revived.clear()
        best = BestCheckpoint(self.checkpoint_metric, self.checkpoint_dir) if self.checkpointing else None
        stalls = StallMonitor(self.n_epochs) if self.detect_stalls else None
        # Each train set's label range, once: spares calculate_loss a sync per batch.
        ranges = {id(dl): label_ranges(dl.dataset.Y_dict) for dl in train_loaders}
        model.train()
        for callback in self.callbacks:
            callback.on_fit_start(self, model)
        try:
            for epoch in range(1, self.n_epochs + 1):
                metrics = self._train_epoch(
                    model, train_loaders, ranges, optimizer, scheduler, rng, epoch, weighting, cosines
                )
                if weighting is not None:
                    metrics.update({f"{t}/all/train/weight": w for t, w in weighting.task_weights().items()})
                if cosines is not None:
                    metrics.update(cosines.epoch_metrics())
                # The revival pass predicts every train example; the stall check reuses that.
                outputs: dict[int, tuple[dict, dict]] | None = {} if stalls is not None else None
                if self.revive_dead_units:
                    units = revive_dead_units(model, train_loaders, optimizer, outputs)
                    self.revived.extend((epoch, unit) for unit in units)
                    metrics["model/all/train/revived_units"] = float(len(units))
                evaluated = epoch % self.evaluation_freq == 0
                if valid_loaders and evaluated:
                    metrics.update(model.score(valid_loaders))
                self._record(epoch, metrics)
                if writer is not None:
                    writer.write(epoch, metrics)
                if stalls is not None:
                    stalls.check(model, train_loaders, epoch, outputs)
                if best is not None:
                    best.update(model, metrics, epoch, evaluated)
                for callback in self.callbacks:
                    callback.on_epoch_end(self, model, epoch, metrics)
        finally:
            if writer is not None:
                writer.close()
        if best is not None:
            best.restore(model)
        for callback in self.callbacks:
            callback.on_fit_end(self, model)
        return model

    def _train_epoch(
        self, model, train_loaders, ranges, optimizer, scheduler, rng, epoch, weighting=None, cosines=None
    ) -> dict[str, float]:
        loss_sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        params = optimizer.param_groups[0]["params"]  # the model's (a weighting's own group is not clipped)
        weights = {name: task.weight for name, task in model.tasks.items()}
        keys: dict[tuple[str, int], str] = {}  # (label, loader) -> "label/dataset/train/loss", built once
        batches = iterate_batches(self.batch_scheduler, train_loaders, rng)
        bar = self._progress(sum(len(dl) for dl in train_loaders), epoch)
        for step, ((X_dict, Y_dict), loader) in enumerate(batches, start=1):
            optimizer.zero_grad(set_to_none=True)
            loss_dict, count_dict = model.calculate_loss(X_dict, Y_dict, label_ranges=ranges[id(loader)])
            if not loss_dict:
                continue
            # Per-task weights (Task(weight=...)); labels are task names here.
            # A weight of 1 (and a sum of one term) adds no autograd node.
            weighted = {
                label: loss if weights[label] == 1.0 else loss * weights[label] for label, loss in loss_dict.items()
            }
            if len(weighted) == 1:  # the usual batch: one task's labels
                ((label, loss),) = weighted.items()
                value = loss.item()
                values = {label: value}
            else:
                loss = torch.stack(list(weighted.values())).sum()
                values = {label: item.item() for label, item in weighted.items()}
                value = sum(values.values())
            if not math.isfinite(value):
                bad = [label for label, item in values.items() if not math.isfinite(item)]
                raise FloatingPointError(
                    f"Training loss became {value} at epoch {epoch}, batch {step} ({loader.dataset.name!r}), "
                    f"task(s) {names(bad)}. Fix: lower lr, keep grad_clip on, and check the inputs for NaN or huge values."
                )
            if cosines is not None:
                cosines.record(weighted)
            if weighting is None:
                loss.backward()
            else:
                weighting.backward(weighted)
            if self.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            for label, item in values.items():
                key = keys.get((label, id(loader)))
                if key is None:
                    key = keys[label, id(loader)] = f"{label}/{loader.dataset.name}/{loader.dataset.split}/loss"
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

    def _writer(self, model: MultitaskClassifier) -> JsonWriter | TensorBoardWriter:
        import time

        run_name = self.run_name or time.strftime("%Y_%m_%d_%H_%M_%S")
        config = {f.name: getattr(self, f.name) for f in fields(self) if f.init and f.name != "callbacks"}
        config["model"] = repr(model)
        cls = JsonWriter if self.log_writer == "json" else TensorBoardWriter
        return cls(self.log_dir, run_name, config)


__all__ = ["MTLConfigError", "Trainer"]
