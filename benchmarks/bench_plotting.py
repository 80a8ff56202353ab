"""Decision-boundary grids: DecisionBoundaryDisplay.from_model vs a plain forward pass.

Evaluates a 200x200 grid (40,000 points) for each of the tutorial's three
heads with ``DecisionBoundaryDisplay.from_model(..., plot=False)`` (grid,
checks, one batched forward pass, softmax, reshape), and side by side the
bare minimum: the same points through trunk and heads in plain PyTorch.
Target: all three heads in <= 50 ms. Drawing is not timed (matplotlib's
cost, the same for any model).

Run: python benchmarks/bench_plotting.py [--repeats N] [--resolution G]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import TASKS, side_by_side, single_thread, tutorial_tasks

from mtl_teach import MultitaskClassifier, set_seed
from mtl_teach.plotting import DecisionBoundaryDisplay, make_grid

TARGET_S = 0.050


def with_display(model: MultitaskClassifier, resolution: int) -> list[np.ndarray]:
    """What a notebook calls: one Display per head (each its own grid and pass)."""
    return [
        DecisionBoundaryDisplay.from_model(model, task, grid_resolution=resolution, plot=False).response
        for task in TASKS
    ]


@torch.inference_mode()
def plain_forward(model: MultitaskClassifier, points: torch.Tensor) -> list[torch.Tensor]:
    """The same points through the trunk and each head by hand: no grid, no checks."""
    pool = model.module_pool
    out = []
    for task in TASKS:
        head = pool[task.replace("_task", "_head")]
        out.append(torch.softmax(head(pool["base_mlp"](points)), dim=1)[:, 1])  # (G*G,)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--resolution", type=int, default=200)
    args = parser.parse_args()
    single_thread()
    set_seed(0)
    model = MultitaskClassifier(tutorial_tasks()).eval()
    xx0, xx1 = make_grid(None, args.resolution, 0.1)
    points = torch.from_numpy(np.column_stack([xx0.ravel(), xx1.ravel()]).astype(np.float32))  # (G*G, 2)
    # Same numbers both ways, so the comparison is fair.
    for fast, plain in zip(with_display(model, args.resolution), plain_forward(model, points), strict=True):
        np.testing.assert_allclose(fast.ravel(), plain.numpy(), atol=1e-6)
    medians = side_by_side(
        {
            "plain forward": lambda: plain_forward(model, points),
            "Display.from_model x3": lambda: with_display(model, args.resolution),
        },
        args.repeats,
    )
    n = args.resolution**2
    for name, seconds in medians.items():
        print(
            f"{name:22s} {seconds * 1000:7.2f} ms  (median of {args.repeats}; {args.resolution}x{args.resolution} grid = {n} points, 3 heads)"
        )
    ratio = medians["Display.from_model x3"] / medians["plain forward"]
    print(f"ratio Display / plain forward = {ratio:.2f}")
    total = medians["Display.from_model x3"]
    print(f"all three heads: {total * 1000:.1f} ms (target <= {TARGET_S * 1000:.0f} ms)")
    print("PASS" if total <= TARGET_S else "FAIL")


if __name__ == "__main__":
    main()
