"""Check a Trainer's arguments up front, so a typo fails before any training."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from mtl_teach._errors import check_choice, fail
from mtl_teach.callbacks import Callback
from mtl_teach.data import SPLITS, DictDataLoader
from mtl_teach.log_writers import LOG_WRITERS, tensorboard_available
from mtl_teach.model import MultitaskClassifier
from mtl_teach.schedulers import BATCH_SCHEDULERS, LR_SCHEDULERS, OPTIMIZERS

if TYPE_CHECKING:
    from mtl_teach.trainer import Trainer


def validate_config(config: Trainer) -> None:
    """Raise a clear error (parameter, rule, value, fix) for the first bad argument."""
    if isinstance(config.n_epochs, bool) or not isinstance(config.n_epochs, int) or config.n_epochs < 1:
        fail("Trainer(n_epochs)", "must be an integer >= 1", config.n_epochs, "pass e.g. n_epochs=10.")
    for name in ("lr", "l2", "min_lr", "warmup_percentage"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or math.isinf(value):
            fail(f"Trainer({name})", "must be a finite number >= 0", value, f"pass e.g. {name}=0.01.")
    if config.grad_clip is not None and not (isinstance(config.grad_clip, int | float) and config.grad_clip > 0):
        fail(
            "Trainer(grad_clip)",
            "must be a number > 0, or None to switch clipping off",
            config.grad_clip,
            "pass e.g. grad_clip=1.0.",
        )
    for name in ("warmup_steps", "step_size", "evaluation_freq"):
        value, low = getattr(config, name), 0 if name == "warmup_steps" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            fail(f"Trainer({name})", f"must be an integer >= {low}", value, f"pass e.g. {name}={max(low, 1)}.")
    check_choice("Trainer(optimizer)", config.optimizer, OPTIMIZERS)
    check_choice("Trainer(lr_scheduler)", config.lr_scheduler, LR_SCHEDULERS)
    check_choice("Trainer(batch_scheduler)", config.batch_scheduler, BATCH_SCHEDULERS)
    check_choice("Trainer(log_writer)", config.log_writer, LOG_WRITERS)
    for name in ("train_split", "valid_split", "test_split"):
        check_choice(f"Trainer({name})", getattr(config, name), SPLITS)
    if config.seed is not None and (isinstance(config.seed, bool) or not isinstance(config.seed, int)):
        fail("Trainer(seed)", "must be an integer or None", config.seed, "pass e.g. seed=0.")
    for name in ("progress_bar", "checkpointing", "logging", "detect_stalls", "revive_dead_units"):
        value = getattr(config, name)
        # `in` rather than isinstance: 0, 1 and numpy bools are fine; "no" is not.
        if not isinstance(value, bool | int | np.bool_) or value not in (True, False):
            fail(f"Trainer({name})", "must be True or False", value, f"pass {name}=True or {name}=False.")
    metric = config.checkpoint_metric
    key, _, mode = metric.rpartition(":") if isinstance(metric, str) else ("", "", "")
    if mode not in ("min", "max") or key.count("/") != 3:
        fail(
            "Trainer(checkpoint_metric)",
            "must look like 'task/dataset/split/metric:min' or ':max'",
            config.checkpoint_metric,
            "e.g. 'model/all/train/loss:min' or 'circle_task/circleDataset/valid/accuracy:max'.",
        )
    if config.logging and config.log_writer == "tensorboard" and not tensorboard_available():
        fail(
            "Trainer(log_writer)",
            "'tensorboard' needs the tensorboard package, which is not installed",
            config.log_writer,
            "pip install tensorboard, or use log_writer='json'.",
        )
    if any(not isinstance(cb, Callback) for cb in config.callbacks):
        fail("Trainer(callbacks)", "must hold Callback objects", list(config.callbacks), "subclass mtl_teach.Callback.")


def split_loaders(
    model: MultitaskClassifier, dataloaders: Sequence[DictDataLoader], train_split: str, valid_split: str
) -> tuple[list[DictDataLoader], list[DictDataLoader]]:
    """Check ``Trainer.fit``'s arguments; return its train and valid loaders.

    Parameters
    ----------
    model
        Must be a :class:`MultitaskClassifier`.
    dataloaders
        DictDataLoaders whose labels all name tasks of ``model``.
    train_split, valid_split
        The splits trained on and scored during training.
    """
    if isinstance(dataloaders, DictDataLoader):
        dataloaders = [dataloaders]
    if not isinstance(model, MultitaskClassifier):
        fail(
            "Trainer.fit(model)",
            "must be a MultitaskClassifier",
            type(model).__name__,
            "build one with MultitaskClassifier([task, ...]).",
            raw=True,
        )
    for loader in dataloaders:
        if not isinstance(loader, DictDataLoader):
            fail(
                "Trainer.fit(dataloaders)",
                "must be a list of DictDataLoader",
                type(loader).__name__,
                "wrap each dataset: DictDataLoader(dataset, batch_size=32).",
                raw=True,
            )
        model.label_tasks(
            loader.dataset.Y_dict, where=f"Dataset {loader.dataset.name!r} ({loader.dataset.split}) Y_dict"
        )
    train = [dl for dl in dataloaders if dl.dataset.split == train_split]
    if not train:
        fail(
            "Trainer.fit(dataloaders)",
            f"must include at least one loader of split {train_split!r}",
            [f"{dl.dataset.name}/{dl.dataset.split}" for dl in dataloaders],
            "add a train loader: DictDataset(name, 'train', X_dict, Y_dict).",
        )
    for loader in train:
        for label, Y in loader.dataset.Y_dict.items():
            if isinstance(Y, torch.Tensor) and Y.numel() and bool((Y == -1).all()):
                # A loss over no labels is NaN, logged as if training went on.
                fail(
                    f"Dataset {loader.dataset.name!r} ({loader.dataset.split}) Y_dict[{label!r}]",
                    "must hold at least one label (-1 means 'no label')",
                    f"{len(Y)} labels, all -1",
                    f"give the examples their labels, or drop {label!r} from this loader's Y_dict.",
                    raw=True,
                )
    model.check_training_data(train)
    valid = [dl for dl in dataloaders if dl.dataset.split == valid_split]
    return train, valid
