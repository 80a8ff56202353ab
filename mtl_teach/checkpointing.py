"""Keep the best weights seen during training, by one logged metric."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from mtl_teach._errors import fail, names

if TYPE_CHECKING:
    from mtl_teach.model import MultitaskClassifier


def load_weights(model: MultitaskClassifier, model_path: str | Path) -> None:
    """Load weights saved by ``model.save`` (``torch.load(weights_only=True)``).

    Parameters
    ----------
    model
        The model to load into; it must have the saved model's modules.
    model_path
        File written by :meth:`MultitaskClassifier.save`.
    """
    checkpoint = torch.load(model_path, map_location=model.device, weights_only=True)
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    missing, unexpected = set(model.state_dict()) - set(state), set(state) - set(model.state_dict())
    if missing or unexpected:
        fail(
            f"MultitaskClassifier.load({str(model_path)!r})",
            "must hold weights for exactly this model's modules",
            f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}",
            "build the model with the same tasks as the saved one.",
            raw=True,
        )
    model.load_state_dict(state)


class BestCheckpoint:
    """Track the epoch whose ``metric`` is best and keep a copy of its weights.

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

    def update(self, model: MultitaskClassifier, metrics: dict[str, float], epoch: int, evaluated: bool) -> None:
        """Keep ``model``'s weights if this epoch's metric beats the best so far."""
        if self.key not in metrics:
            if not evaluated:
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

    def restore(self, model: MultitaskClassifier) -> None:
        """Load the best weights back into ``model`` (no-op if none was kept)."""
        if self._state is not None:
            model.load_state_dict(self._state)
