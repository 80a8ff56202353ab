"""Reliability: worst-task test accuracy of the tutorial over seeds 0-9.

The tutorial's exact setup (2-8-4 trunk, 4->2 heads, circle + square +
inverted circle, N=1000, batch 32, ``Trainer(progress_bar=False,
n_epochs=10, lr=0.02)``), once with mtl_teach's defaults and once with the
two defaults switched off (``init=None``, ``revive_dead_units=False``),
which trains like Snorkel 0.10. Targets for the defaults: every seed >= 0.90,
median >= 0.93.

Run: python benchmarks/bench_reliability.py [--seeds N] [--json]
(``--json`` prints each seed's per-task test accuracies and stall warnings as
one JSON line instead of the table; ``tests/test_lessons.py`` asserts the
lesson from it under two CPU settings.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings

from _common import TASKS, single_thread, tutorial_tasks

from mtl_teach import MultitaskClassifier, StallWarning, Trainer, make_tutorial_dataloaders, set_seed


def run(seed: int, *, defaults: bool) -> tuple[list[float], int]:
    """Train the tutorial on ``seed``; return per-task test accuracy and stall warnings."""
    set_seed(seed)
    loaders = make_tutorial_dataloaders(TASKS, seed=seed)
    model = MultitaskClassifier(tutorial_tasks(), init="kaiming" if defaults else None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StallWarning)
        Trainer(progress_bar=False, n_epochs=10, lr=0.02, seed=seed, revive_dead_units=defaults).fit(model, loaders)
    scores = model.score(loaders)
    test = [scores[f"{next(iter(dl.dataset.Y_dict))}/{dl.dataset.name}/test/accuracy"] for dl in loaders[2::3]]
    return test, sum(issubclass(w.category, StallWarning) for w in caught)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--json", action="store_true", help="print {seed: {defaults|off: [accuracies, stalls]}} as JSON"
    )
    args = parser.parse_args()
    single_thread()
    if args.json:
        runs = {
            seed: {"defaults": run(seed, defaults=True), "off": run(seed, defaults=False)} for seed in range(args.seeds)
        }
        print(json.dumps(runs))
        return
    print(
        "| seed | "
        + " | ".join(f"{t} (defaults / off)" for t in TASKS)
        + " | worst (defaults / off) | stall warnings (off) |"
    )
    print("|---" * (len(TASKS) + 3) + "|")
    worst = {True: [], False: []}
    for seed in range(args.seeds):
        (on, _), (off, stalls) = run(seed, defaults=True), run(seed, defaults=False)
        worst[True].append(min(on))
        worst[False].append(min(off))
        cells = " | ".join(f"{a:.2f} / {b:.2f}" for a, b in zip(on, off, strict=True))
        print(f"| {seed} | {cells} | **{min(on):.2f}** / {min(off):.2f} | {stalls} |")
    for defaults, label in ((True, "mtl_teach defaults"), (False, "init=None, revive_dead_units=False (Snorkel-like)")):
        print(f"{label}: worst-task min {min(worst[defaults]):.2f}, median {statistics.median(worst[defaults]):.3f}")
    ok = min(worst[True]) >= 0.90 and statistics.median(worst[True]) >= 0.93
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
