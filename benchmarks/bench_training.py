"""Training overhead: Trainer.fit vs a hand-written PyTorch loop, side by side.

Both train the tutorial's 3-task model (2-8-4 trunk, 4->2 heads; 800 train
points per task, batch 32, 10 epochs, Adam lr=0.02, grad-norm clip 1.0) on
the same kind of batches: each task's examples reshuffled every epoch (as a
shuffling DataLoader does), and the tasks' batches in a shuffled order. Trainer.fit runs with its
defaults, i.e. also scoring the valid loaders, reviving dead units and
checking for stalls after each epoch. Target: ratio <= 1.15.

Run: python benchmarks/bench_training.py [--repeats N]
"""

from __future__ import annotations

import argparse
import random

import torch
import torch.nn.functional as F
from _common import TASKS, side_by_side, single_thread, tutorial_tasks

from mtl_teach import MultitaskClassifier, Trainer, make_tutorial_dataloaders, set_seed

TARGET = 1.15


def hand_written(loaders) -> None:
    """The plain loop a PyTorch user would write for the same training."""
    trunk = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4), torch.nn.ReLU())
    heads = torch.nn.ModuleList(torch.nn.Linear(4, 2) for _ in TASKS)
    params = [*trunk.parameters(), *heads.parameters()]
    optimizer = torch.optim.Adam(params, lr=0.02)
    train = [(next(iter(dl.dataset.X_dict.values())), next(iter(dl.dataset.Y_dict.values()))) for dl in loaders[::3]]
    order = [(t, i) for t, (X, _) in enumerate(train) for i in range(0, len(X), 32)]
    rng = random.Random(0)
    for _ in range(10):
        # Like the Trainer: a fresh order of each task's examples every epoch
        # (one gather per task), then the tasks' batches in a shuffled order.
        shuffled = [(X[perm], Y[perm]) for X, Y in train for perm in [torch.randperm(len(X))]]
        rng.shuffle(order)
        for t, i in order:
            X, Y = shuffled[t]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(heads[t](trunk(X[i : i + 32])), Y[i : i + 32])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()


def with_trainer(loaders) -> None:
    model = MultitaskClassifier(tutorial_tasks())
    Trainer(progress_bar=False, n_epochs=10, lr=0.02, seed=0).fit(model, loaders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    single_thread()
    set_seed(0)
    loaders = make_tutorial_dataloaders(TASKS, seed=0)
    with_trainer(loaders)  # warm-up: imports, first optimizer construction
    hand_written(loaders)
    medians = side_by_side(
        {"hand-written loop": lambda: hand_written(loaders), "Trainer.fit": lambda: with_trainer(loaders)},
        args.repeats,
    )
    ratio = medians["Trainer.fit"] / medians["hand-written loop"]
    for name, seconds in medians.items():
        print(f"{name:18s} {seconds * 1000:8.1f} ms  (median of {args.repeats}, 10 epochs, 750 steps)")
    print(f"ratio Trainer.fit / hand-written = {ratio:.3f}  (target <= {TARGET}; Snorkel 0.10: 2.7)")
    print("PASS" if ratio <= TARGET else "FAIL")


if __name__ == "__main__":
    main()
