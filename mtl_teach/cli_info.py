"""``mtl-teach info``: versions and the device, for bug reports and setup checks."""

from __future__ import annotations

import argparse
import platform


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``info`` takes no arguments."""


def run(args: argparse.Namespace) -> int:
    import numpy
    import torch

    from mtl_teach import __version__

    cuda = torch.cuda.is_available()
    print(f"mtl-teach {__version__}")
    print(f"python    {platform.python_version()}")
    print(f"torch     {torch.__version__} (CUDA available: {cuda})")
    print(f"numpy     {numpy.__version__}")
    print(f"device    {'cuda' if cuda else 'cpu'} (MultitaskClassifier(device='auto') would use this)")
    return 0
