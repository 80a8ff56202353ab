"""Weight initialisation applied to modules as they join a MultitaskClassifier.

Why: the tutorial's trunk ends in a 4-unit ReLU layer. PyTorch's default
``nn.Linear`` init (weights of std ~1/sqrt(3 fan_in) and a bias as large)
gives small, bias-dominated pre-activations, so the first few Adam steps at
lr=0.02 easily push a unit below zero on *every* input. Once 3 of the 4
units are dead, the heads see (almost) nothing and fall back to the
majority class. He (Kaiming) weights with a small positive bias on layers
that feed a ReLU cut such stalls about 3x over 100 seeds; the Trainer's
dead-unit revival (:mod:`mtl_teach.dead_units`) removes the rest.

``MultitaskClassifier(init=None)`` switches this off and keeps your weights.
"""

from __future__ import annotations

import itertools

from torch import nn

INIT_SCHEMES = ("kaiming", "torch")
RELU_BIAS = 0.01  # keeps a fresh ReLU unit just on the alive side


def initialize(module: nn.Module, scheme: str) -> None:
    """Re-draw the weights of every ``nn.Linear`` inside ``module``.

    Parameters
    ----------
    module
        Module whose linear layers are re-initialised in place.
    scheme
        ``"kaiming"``: He-normal weights (fan in, ReLU gain); bias 0.01 on a
        ``Linear`` followed by a ``ReLU`` inside an ``nn.Sequential`` (so it
        starts alive), 0 on every other ``Linear`` (e.g. the heads).
        ``"torch"``: PyTorch's own ``reset_parameters()``.
    """
    feeds_relu = set()
    for seq in module.modules():
        if isinstance(seq, nn.Sequential):
            layers = list(seq)
            feeds_relu.update(id(a) for a, b in itertools.pairwise(layers) if isinstance(b, nn.ReLU))
    for layer in module.modules():
        if not isinstance(layer, nn.Linear):
            continue
        if scheme == "torch":
            layer.reset_parameters()
            continue
        nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
        if layer.bias is not None:
            nn.init.constant_(layer.bias, RELU_BIAS if id(layer) in feeds_relu else 0.0)
