"""Scoring time: ``model.score`` over the nine tutorial loaders vs one training epoch.

Side by side in one run: a plain full-batch forward pass over the same
points (the floor), ``score()`` on all nine loaders, and one training epoch
of ``Trainer.fit``. Target: score() is a small fraction of an epoch
(Snorkel 0.10: 66 ms for score vs ~0.5 ms for the plain pass).

Run: python benchmarks/bench_scoring.py [--repeats N]
"""

from __future__ import annotations

import argparse

import torch
from _common import TASKS, side_by_side, single_thread, tutorial_tasks

from mtl_teach import MultitaskClassifier, Trainer, make_tutorial_dataloaders, set_seed

TARGET_FRACTION = 0.1  # "a small fraction of one training epoch"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    single_thread()
    set_seed(0)
    loaders = make_tutorial_dataloaders(TASKS, seed=0)
    model = MultitaskClassifier(tutorial_tasks())
    trainer = Trainer(progress_bar=False, n_epochs=1, lr=0.02, seed=0)
    trainer.fit(model, loaders)
    model.score(loaders)  # warm-up (first call imports nothing heavy, but caches)
    fields = [(next(iter(dl.dataset.X_dict)), dl) for dl in loaders]

    @torch.inference_mode()
    def plain_pass() -> None:
        for field, dl in fields:
            task = next(iter(dl.dataset.Y_dict))
            head = model.module_pool[task.replace("_task", "_head")]
            probs = head(model.module_pool["base_mlp"](dl.dataset.X_dict[field])).softmax(1)
            (probs.argmax(1) == dl.dataset.Y_dict[task]).float().mean().item()

    medians = side_by_side(
        {
            "plain full-batch pass": plain_pass,
            "model.score(9 loaders)": lambda: model.score(loaders),
            "one training epoch": lambda: trainer.fit(model, loaders),
        },
        args.repeats,
    )
    for name, seconds in medians.items():
        print(f"{name:24s} {seconds * 1000:8.2f} ms (median of {args.repeats})")
    fraction = medians["model.score(9 loaders)"] / medians["one training epoch"]
    print(f"score / plain pass   = {medians['model.score(9 loaders)'] / medians['plain full-batch pass']:.2f}")
    print(f"score / train epoch  = {fraction:.3f}  (target <= {TARGET_FRACTION}; Snorkel 0.10: 66 ms per score)")
    print("PASS" if fraction <= TARGET_FRACTION else "FAIL")


if __name__ == "__main__":
    main()
