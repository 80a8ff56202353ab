"""mtl_teach: a small, Snorkel-compatible multi-task learning kit for teaching.

Snorkel tutorial code runs with its imports changed to ``from mtl_teach
import ...``. Heavy libraries (matplotlib, pandas, scikit-learn, tqdm) load
only when a feature needs them, so this import stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from mtl_teach._errors import MTLConfigError
from mtl_teach.callbacks import Callback, ModelSnapshots
from mtl_teach.data import DictDataLoader, DictDataset, collate_dicts
from mtl_teach.dead_units import StallWarning
from mtl_teach.model import MultitaskClassifier
from mtl_teach.scorer import Scorer
from mtl_teach.seed import set_seed
from mtl_teach.sharing import SharingComparison, SharingGainsDisplay, compare_sharing
from mtl_teach.task import Operation, Task
from mtl_teach.toy_data import (
    make_circle_dataset,
    make_inv_circle_dataset,
    make_square_dataset,
    make_tutorial_dataloaders,
    make_xor_dataset,
)
from mtl_teach.trainer import Trainer

__version__ = "0.1.0"

# Snorkel 0.9's name for the model, so older tutorial code runs unchanged.
SnorkelClassifier = MultitaskClassifier

_LAZY_SUBMODULES = ("plotting", "exercises", "slicing", "grading", "datasets", "metrics")


def __getattr__(name: str) -> Any:
    # mtl_teach.plotting etc. import matplotlib & co. only when first used.
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"mtl_teach.{name}")
    raise AttributeError(f"module 'mtl_teach' has no attribute {name!r}")


__all__ = [
    "Callback",
    "DictDataLoader",
    "DictDataset",
    "MTLConfigError",
    "ModelSnapshots",
    "MultitaskClassifier",
    "Operation",
    "Scorer",
    "SharingComparison",
    "SharingGainsDisplay",
    "SnorkelClassifier",
    "StallWarning",
    "Task",
    "Trainer",
    "collate_dicts",
    "compare_sharing",
    "make_circle_dataset",
    "make_inv_circle_dataset",
    "make_square_dataset",
    "make_tutorial_dataloaders",
    "make_xor_dataset",
    "set_seed",
]
