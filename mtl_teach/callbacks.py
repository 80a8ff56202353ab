"""Callbacks: hooks the Trainer calls at the start, after each epoch, and at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from mtl_teach.model import MultitaskClassifier
    from mtl_teach.trainer import Trainer


class Callback:
    """Base class: override the hooks you need; each does nothing by default."""

    def on_fit_start(self, trainer: Trainer, model: MultitaskClassifier) -> None:
        """Called once, before the first batch.

        Parameters
        ----------
        trainer
            The Trainer running the fit.
        model
            The model being trained.
        """

    def on_epoch_end(self, trainer: Trainer, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]) -> None:
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

    def on_fit_end(self, trainer: Trainer, model: MultitaskClassifier) -> None:
        """Called once, after training (and after the best checkpoint is restored).

        Parameters
        ----------
        trainer
            The Trainer running the fit.
        model
            The model being trained.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


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
        if not isinstance(every, int) or every < 1:
            from mtl_teach._errors import fail

            fail("ModelSnapshots(every)", "must be an integer >= 1", every, "pass e.g. every=1.")
        self.every = every
        self.snapshots: list[tuple[int, dict[str, Any]]] = []

    def _take(self, model: MultitaskClassifier, epoch: int) -> None:
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.snapshots.append((epoch, state))

    def on_fit_start(self, trainer: Trainer, model: MultitaskClassifier) -> None:
        self.snapshots = []
        self._take(model, 0)

    def on_epoch_end(self, trainer: Trainer, model: MultitaskClassifier, epoch: int, metrics: dict[str, float]) -> None:
        if epoch % self.every == 0 or epoch == trainer.n_epochs:
            self._take(model, epoch)

    @property
    def epochs(self) -> list[int]:
        return [epoch for epoch, _ in self.snapshots]

    def __repr__(self) -> str:
        return f"ModelSnapshots(every={self.every}, epochs={self.epochs})"


def state_at(snapshots: ModelSnapshots, epoch: int) -> dict[str, torch.Tensor]:
    """Return the snapshot taken at ``epoch``."""
    for taken, state in snapshots.snapshots:
        if taken == epoch:
            return state
    from mtl_teach._errors import fail

    fail(
        "state_at(epoch)", f"must be an epoch with a snapshot ({snapshots.epochs})", epoch, "pick one of those epochs."
    )
