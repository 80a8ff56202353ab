"""Shared test setup (root level, so it also applies to the notebook runs over notebooks/).

- One torch thread per test process: the model is tiny, and on a 2-core
  machine running two xdist workers, extra threads only fight each other.
- TQDM_DISABLE=1 keeps progress bars out of nbval's compared output (tqdm
  reads TQDM_* variables as defaults); notebook kernels inherit it.
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")

import torch

torch.set_num_threads(1)

# `pytest --nbval-approx notebooks/`: nbval with tolerances for training numbers, and the lessons' claims.
pytest_plugins = ["tests.nbval_approx", "pytester"]
