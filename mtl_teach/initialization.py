"""Weight initialisation applied to modules as they join a MultitaskClassifier.

Why: the tutorial's trunk ends in a 4-unit ReLU layer. PyTorch's default
``nn.Linear`` init (uniform weights *and* biases of scale 1/sqrt(fan_in))
often starts some of those units dead on every input of a task; Adam at
lr=0.02 can then kill the rest, and the task's head sees all zeros and
falls back to predicting the majority class. He (Kaiming) initialisation
with zero bias keeps every unit alive on about half the inputs at the start.

``MultitaskClassifier(init=None)`` switches this off and keeps your weights.
"""

from __future__ import annotations

from torch import nn

INIT_SCHEMES = ("kaiming", "torch")


def initialize(module: nn.Module, scheme: str) -> None:
    """Re-draw the weights of every ``nn.Linear`` inside ``module``.

    Parameters
    ----------
    module
        Module whose linear layers are re-initialised in place.
    scheme
        ``"kaiming"``: He-normal weights (fan in, ReLU gain), zero bias.
        ``"torch"``: PyTorch's own ``reset_parameters()``.
    """
    for layer in module.modules():
        if not isinstance(layer, nn.Linear):
            continue
        if scheme == "torch":
            layer.reset_parameters()
            continue
        nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
