"""One call to seed every random number generator a notebook uses."""

from __future__ import annotations

import random

import numpy as np
import torch

from mtl_teach._errors import fail
from mtl_teach._validation import is_integer


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, numpy's global RNG and torch (CPU and CUDA).

    Parameters
    ----------
    seed
        Any integer >= 0; the same seed gives the same numbers on one machine.
    """
    if not is_integer(seed) or seed < 0:
        fail("set_seed(seed)", "must be an integer >= 0", seed, "pass e.g. set_seed(123).")
    seed = int(seed)  # random.seed takes no numpy integers
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
