"""Cost of each Trainer(weighting=...) method, and of log_grad_cosine, as ratios of "equal".

All runs train the tutorial's 2-8-4 trunk with a 4->2 head per task on
``make_joint_dataloaders`` (800 train points whose batches carry the labels
of every task, batch 32: 25 steps per epoch), ``--epochs`` epochs with the
Trainer's defaults, except the per-epoch revival and stall passes (off: they
cost every method the same). They are timed interleaved (A B C ... A B C ...) so that
a noisy neighbour slows every method alike; the table shows the median time
per epoch and its ratio to "equal".

A second table times the aggregation step alone, ``f(G)`` on a realistic
``G`` (tasks x 60 shared parameters), ours against TorchJD 0.18.0's
aggregators when torchjd is installed (the ``test`` extra).

Run: python benchmarks/bench_weighting.py [--tasks 2] [--epochs 5] [--repeats 9] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from _common import TASKS, side_by_side, single_thread, tutorial_tasks

from mtl_teach import MultitaskClassifier, Trainer, set_seed
from mtl_teach.balancing import WEIGHTINGS
from mtl_teach.toy_data import make_joint_dataloaders
from mtl_teach.weighting import mgda, pcgrad


def fit(loaders, task_names, epochs: int, **options) -> None:
    set_seed(0)
    model = MultitaskClassifier(tutorial_tasks(task_names))
    # No revival or stall pass after each epoch: they cost the same for every method and would
    # hide the difference this benchmark is about, the training step.
    trainer = Trainer(
        progress_bar=False, revive_dead_units=False, detect_stalls=False, n_epochs=epochs, seed=0, **options
    )
    trainer.fit(model, loaders)


def aggregation_times(n_tasks: int, repeats: int = 2000) -> dict[str, float]:
    """Microseconds per call of each aggregation on a random (n_tasks, 60) G."""
    G = torch.randn(n_tasks, 60, generator=torch.Generator().manual_seed(0))
    runs = {"mtl_teach pcgrad": lambda: pcgrad(G), "mtl_teach mgda": lambda: mgda(G)}
    try:
        from torchjd.aggregation import MGDA, PCGrad

        jd_pcgrad, jd_mgda = PCGrad(), MGDA()
        runs.update({"torchjd PCGrad": lambda: jd_pcgrad(G), "torchjd MGDA": lambda: jd_mgda(G)})
    except ImportError:
        pass
    result = {}
    for name, run in runs.items():
        run()  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            run()
        result[name] = (time.perf_counter() - start) / repeats * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2, choices=(2, 3), help="how many tutorial tasks share the trunk")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    args = parser.parse_args()
    single_thread()
    task_names = TASKS[: args.tasks]
    loaders = make_joint_dataloaders(task_names, seed=0)[:1]  # the train loader only: no scoring per epoch
    runs = {name: (lambda name=name: fit(loaders, task_names, args.epochs, weighting=name)) for name in WEIGHTINGS}
    runs["equal + log_grad_cosine"] = lambda: fit(loaders, task_names, args.epochs, log_grad_cosine=True)
    for run in runs.values():
        run()  # warm-up: imports, first optimizer of each kind
    medians = side_by_side(runs, args.repeats)
    per_epoch = {name: seconds / args.epochs for name, seconds in medians.items()}
    ratios = {name: seconds / per_epoch["equal"] for name, seconds in per_epoch.items()}
    aggregations = aggregation_times(args.tasks)
    if args.json:
        print(
            json.dumps(
                {
                    "ms_per_epoch": {k: v * 1e3 for k, v in per_epoch.items()},
                    "ratio": ratios,
                    "us_per_call": aggregations,
                }
            )
        )
        return
    print(f"{args.tasks} tasks, 25 steps per epoch, median of {args.repeats} interleaved runs of {args.epochs} epochs")
    print(f"{'weighting':26s} {'ms/epoch':>9s} {'x equal':>8s}")
    for name, seconds in per_epoch.items():
        print(f"{name:26s} {seconds * 1e3:9.1f} {ratios[name]:8.2f}")
    print(f"\naggregation alone, G of shape ({args.tasks}, 60):")
    for name, micro in aggregations.items():
        print(f"{name:26s} {micro:9.1f} us/call")


if __name__ == "__main__":
    main()
