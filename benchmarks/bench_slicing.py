"""Slicing: plain vs slice-aware model on the toy patch world, over seeds 0-4.

The exact setup of ``notebooks/05_slicing.ipynb``: the circle task whose
labels follow ``x > y`` inside a patch holding 2% of the points
(:mod:`mtl_teach.slicing.toy`), slicing functions ``in_patch`` and
``left_half``, a 2-32-32 ReLU trunk, attention temperature 0.5, 4000 training points, batch 128,
``Trainer(n_epochs=20, lr=0.02, lr_scheduler="linear")``; scored on 20000
test points. Targets: on every seed the slice-aware model beats the plain
one on the patch by >= 10 points, and the two overall accuracies differ by
<= 1 point.

Run: python benchmarks/bench_slicing.py [--seeds N] [--json]
(``--json`` prints each seed's scores as one JSON line instead of the table;
``tests/test_lessons.py`` asserts the lesson from it under two CPU settings.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from _common import single_thread
from torch import nn

from mtl_teach import DictDataLoader, DictDataset, MultitaskClassifier, Operation, Task, Trainer, set_seed
from mtl_teach.slicing import SliceAwareClassifier, apply_slicing_functions, compare_slice_scores
from mtl_teach.slicing.toy import in_patch, left_half, make_sliced_circle_dataset

HIDDEN = 32
SFS = [in_patch, left_half]


def trunk() -> nn.Module:
    return nn.Sequential(nn.Linear(2, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU())


def run(seed: int) -> tuple[dict[str, dict[str, float]], float, float]:
    """Train both models on ``seed``; return their test accuracy per slice and the two training times."""
    (X_train, Y_train), _, (X_test, Y_test) = make_sliced_circle_dataset(seed=seed)
    data = {
        split: DictDataset.from_tensors(
            torch.from_numpy(X), torch.from_numpy(Y), split, "circle_data", "circle_task", "circle"
        )
        for split, X, Y in (("train", X_train, Y_train), ("test", X_test, Y_test))
    }
    trainer = Trainer(progress_bar=False, n_epochs=20, lr=0.02, lr_scheduler="linear", seed=seed)
    set_seed(seed)
    pool = nn.ModuleDict({"trunk": trunk(), "head": nn.Linear(HIDDEN, 2)})
    ops = [Operation("trunk", [("_input_", "circle_data")]), Operation("head", ["trunk"])]
    plain = MultitaskClassifier([Task("circle_task", pool, ops)])
    start = time.perf_counter()
    trainer.fit(plain, [DictDataLoader(data["train"], batch_size=128, shuffle=True)])
    plain_s = time.perf_counter() - start
    model = SliceAwareClassifier(
        trunk(), HIDDEN, [sf.name for sf in SFS], "circle_data", "circle_task", temperature=0.5
    )
    S_train = apply_slicing_functions(SFS, X_train)
    start = time.perf_counter()
    trainer.fit(model, [model.make_slice_dataloader(data["train"], S_train, batch_size=128, shuffle=True)])
    sliced_s = time.perf_counter() - start
    table = compare_slice_scores(
        {"plain": plain, "slice-aware": model},
        data["test"],
        apply_slicing_functions(SFS, X_test),
        task_name="circle_task",
    )
    return table.to_dict(), plain_s, sliced_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print {seed: {model: {slice: accuracy}}} as JSON")
    args = parser.parse_args()
    single_thread()
    if args.json:
        print(json.dumps({seed: run(seed)[0] for seed in range(args.seeds)}))
        return
    print(
        "| seed | in_patch: plain | in_patch: slice-aware | gain (points) "
        "| overall: plain | overall: slice-aware | difference (points) | left_half: plain / slice-aware | train s (plain / slice-aware) |"
    )
    print("|---" * 9 + "|")
    gains, diffs = [], []
    for seed in range(args.seeds):
        scores, plain_s, sliced_s = run(seed)
        plain, sliced = scores["plain"], scores["slice-aware"]
        gain, diff = 100 * (sliced["in_patch"] - plain["in_patch"]), 100 * (sliced["base"] - plain["base"])
        gains.append(gain)
        diffs.append(diff)
        print(
            f"| {seed} | {plain['in_patch']:.3f} | {sliced['in_patch']:.3f} | {gain:+.1f} "
            f"| {plain['base']:.4f} | {sliced['base']:.4f} | {diff:+.2f} "
            f"| {plain['left_half']:.3f} / {sliced['left_half']:.3f} | {plain_s:.1f} / {sliced_s:.1f} |",
            flush=True,
        )
    print(f"patch gain: mean {statistics.mean(gains):+.1f}, min {min(gains):+.1f} points")
    print(f"overall difference: mean {statistics.mean(diffs):+.2f}, largest |.| {max(map(abs, diffs)):.2f} points")
    print("PASS" if min(gains) >= 10 and max(map(abs, diffs)) <= 1 else "FAIL")


if __name__ == "__main__":
    main()
