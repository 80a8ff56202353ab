"""Callbacks: hooks the Trainer calls around training, and the Trainer's own extras.

``Trainer.fit`` is a plain loop over epochs (see :mod:`mtl_teach.trainer`);
everything else it does is a callback, called at these events:

- ``on_fit_start``: once, before the first batch;
- ``on_train_epoch_end``: after an epoch's batches, before the valid loaders
  are scored; a callback may change the weights or add metrics here;
- ``on_epoch_end``: after scoring, with all of the epoch's metrics;
- ``on_fit_end``: once, after the last epoch;
- ``teardown``: once, after ``fit`` ends, even when it failed.

The built-in ones, switched on by the Trainer's arguments, come first:
:class:`MetricLogger` (``logging=True``), :class:`BestCheckpoint`
(``checkpointing=True``) and :class:`~mtl_teach.dead_units.DeadUnitMonitor`
(``revive_dead_units``, ``detect_stalls``). Yours run after them.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Protocol

import torch

from mtl_teach._errors import fail, names
from mtl_teach._validation import is_integer
from mtl_teach.log_writers import JsonWriter, TensorBoardWriter
from mtl_teach.model import MultitaskClassifier


class TrainerView(Protocol):
    """What a callback may read of the :class:`~mtl_teach.Trainer` running the fit."""

    n_epochs: int
    evaluation_freq: int
    history: dict[str, list[float]]

    @property
    def optimizer_(self) -> torch.optim.Optimizer | None: ...


class Callback:
    """Base class: override the hooks you need; each does nothing by default."""

    def on_fit_start(self, trainer: TrainerView, model: MultitaskClassifier) -> None:
        """Called once, before the first batch.

        Parameters
        ----------
        trainer
            The Trainer running the fit.
        model
            The model being trained.
        """

    def on_train_epoch_end(
        self, trainer: TrainerView, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]
    ) -> None:
        """Called after each epoch's batches, before the valid loaders are scored.

        Parameters
        ----------
        trainer
            The Trainer running the fit.
        model
            The model being trained; a callback may change its weights here.
        epoch
            The epoch just trained, from 1.
        metrics
            The epoch's training metrics so far; a callback may add to them.
        """

    def on_epoch_end(
        self, trainer: TrainerView, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]
    ) -> None:
        """Called after each epoch (1-based) with that epoch's logged metrics.

        Parameters
        ----------
        trainer
            The Trainer running the fit.
        model
            The model being trained.
        epoch
            The epoch just finished, from 1.
        metrics
            That epoch's logged metrics, key -> value.
        """

    def on_fit_end(self, trainer: TrainerView, model: MultitaskClassifier) -> None:
        """Called once, after training (and after the best checkpoint is restored).

        Parameters
        ----------
        trainer
            The Trainer running the fit.
        model
            The model being trained.
        """

    def teardown(self, trainer: TrainerView, model: MultitaskClassifier) -> None:
        """Called once when ``fit`` ends, also when it failed: release files and the like.

        Parameters
        ----------
        trainer
            The Trainer running the fit.
        model
            The model being trained.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MetricLogger(Callback):
    """Write each epoch's metrics as JSON (or to TensorBoard): ``Trainer(logging=True)``.

    Parameters
    ----------
    log_writer
        ``"json"`` or ``"tensorboard"``.
    log_dir, run_name
        Where to write; the run name defaults to the start time.
    """

    def __init__(self, log_writer: str = "json", log_dir: str = "logs", run_name: str | None = None) -> None:
        self.log_writer, self.log_dir, self.run_name = log_writer, log_dir, run_name
        self.writer: JsonWriter | TensorBoardWriter | None = None

    def on_fit_start(self, trainer: TrainerView, model: MultitaskClassifier) -> None:
        run_name = self.run_name or time.strftime("%Y_%m_%d_%H_%M_%S")
        # The Trainer's arguments, as the run's config (callbacks are objects, not settings).
        config = {f.name: getattr(trainer, f.name) for f in dataclasses.fields(trainer) if f.init}  # type: ignore[arg-type]
        config.pop("callbacks", None)
        if not isinstance(config.get("weighting", ""), str):  # a Weighting object or a function: its repr
            config["weighting"] = repr(config["weighting"])
        config["model"] = repr(model)
        cls = JsonWriter if self.log_writer == "json" else TensorBoardWriter
        self.writer = cls(self.log_dir, run_name, config)

    def on_epoch_end(
        self, trainer: TrainerView, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]
    ) -> None:
        if self.writer is not None:
            self.writer.write(epoch, metrics)

    def teardown(self, trainer: TrainerView, model: MultitaskClassifier) -> None:
        if self.writer is not None:
            self.writer.close()

    def __repr__(self) -> str:
        return f"MetricLogger(log_writer={self.log_writer!r}, log_dir={self.log_dir!r}, writer={self.writer!r})"


class BestCheckpoint(Callback):
    """Keep the weights of the epoch whose ``metric`` is best; restore them at the end.

    ``Trainer(checkpointing=True)`` adds one.

    Parameters
    ----------
    checkpoint_metric
        ``"<task/dataset/split/metric>:min"`` or ``":max"``.
    checkpoint_dir
        If given, the best weights are also saved to ``best_model.pth`` there.
    """

    def __init__(self, checkpoint_metric: str, checkpoint_dir: str | None = None) -> None:
        self.key, _, self.mode = checkpoint_metric.rpartition(":")
        self.directory = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.best_value = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self._state: dict[str, torch.Tensor] | None = None

    def __repr__(self) -> str:
        return f"BestCheckpoint(metric={self.key!r}:{self.mode}, best_epoch={self.best_epoch}, best_value={self.best_value})"

    def on_epoch_end(
        self, trainer: TrainerView, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]
    ) -> None:
        if self.key not in metrics:
            if epoch % trainer.evaluation_freq != 0:
                return  # valid metrics are only logged on evaluation epochs
            fail(
                "Trainer(checkpoint_metric)",
                f"must name a logged metric (logged: {names(metrics)})",
                self.key,
                "pick one of the logged keys.",
            )
        value = metrics[self.key]
        if value < self.best_value if self.mode == "min" else value > self.best_value:
            self.best_value, self.best_epoch = value, epoch
            self._state = copy.deepcopy(model.state_dict())
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                model.save(self.directory / "best_model.pth")

    def on_fit_end(self, trainer: TrainerView, model: MultitaskClassifier) -> None:
        if self._state is not None:
            model.load_state_dict(self._state)


class ModelSnapshots(Callback):
    """Keep a copy of the model's weights before training and every ``every`` epochs.

    ``snapshots`` is a list of ``(epoch, state_dict)``; epoch 0 is the
    untrained model. Load one with ``model.load_state_dict(state)`` to plot
    the decision boundary as it was at that epoch.

    Parameters
    ----------
    every
        Take a snapshot after every ``every``-th epoch (and after the last).
    """

    def __init__(self, every: int = 1) -> None:
        if not is_integer(every) or every < 1:
            fail("ModelSnapshots(every)", "must be an integer >= 1", every, "pass e.g. every=1.")
        self.every = int(every)
        self.snapshots: list[tuple[int, dict[str, Any]]] = []

    def _take(self, model: MultitaskClassifier, epoch: int) -> None:
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.snapshots.append((epoch, state))

    def on_fit_start(self, trainer: TrainerView, model: MultitaskClassifier) -> None:
        self.snapshots = []
        self._take(model, 0)

    def on_epoch_end(
        self, trainer: TrainerView, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]
    ) -> None:
        if epoch % self.every == 0 or epoch == trainer.n_epochs:
            self._take(model, epoch)

    @property
    def epochs(self) -> list[int]:
        return [epoch for epoch, _ in self.snapshots]

    def __repr__(self) -> str:
        return f"ModelSnapshots(every={self.every}, epochs={self.epochs})"


def state_at(snapshots: ModelSnapshots, epoch: int) -> dict[str, torch.Tensor]:
    """Return the snapshot taken at ``epoch``.

    Parameters
    ----------
    snapshots
        The callback that took them.
    epoch
        An epoch with a snapshot (0: before training).
    """
    for taken, state in snapshots.snapshots:
        if taken == epoch:
            return state
    fail(
        "state_at(epoch)", f"must be an epoch with a snapshot ({snapshots.epochs})", epoch, "pick one of those epochs."
    )
