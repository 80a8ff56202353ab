"""Architectures on notebook 07's negative-transfer case: circle + xor, capacity-matched, over seeds.

The setup of ``notebooks/07_when_sharing_hurts.ipynb``: the circle and xor
tasks, 800 training points each (their own points, their own loaders),
``Trainer(n_epochs=20, lr=0.01)`` with its defaults, batch 32; each task scored
on 5000 fresh test points. Every model's tasks read 2 features through a
``Linear(2, 2)`` head; the layers before differ:

- ``alone``: each task alone with a 2-16-2 trunk (the single-task baselines);
- ``hard 16-2``: the 07 trunk, shared (94 parameters: half the others');
- ``hard 32-2``, ``separate 16-2``, ``cross_stitch 16-2``, ``mmoe 2x16-2``,
  ``cgc 3x10-2``: about 175-190 parameters each (capacity-matched).

Printed per architecture: each task's test accuracy (mean +/- standard
deviation over seeds), and delta_m against the baselines alone,
``100% * mean_t (acc_t - alone_t) / alone_t``, per seed then mean +/- sd.
For the gated models, how differently the two tasks' gates route
(``0.5 * sum_k |g_circle - g_xor|`` averaged over the plane: 0 = the same
mixture everywhere, 1 = disjoint experts); for cross-stitch, the final
off-diagonal alphas.

Run: python benchmarks/bench_architectures.py [--seeds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings

import numpy as np
import torch
from _common import single_thread

from mtl_teach import DictDataLoader, DictDataset, Trainer, set_seed
from mtl_teach.architectures import CrossStitchLog, build_model, gate_modules, parameter_counts
from mtl_teach.dead_units import StallWarning
from mtl_teach.model import evaluating
from mtl_teach.toy_data import COURSE_TASKS

TASKS = ["circle_task", "xor_task"]
TEST_SEED_OFFSET = 1_000_003  # as compare_sharing: test points from another stream than any training seed's
# label -> (architecture, build_model keyword arguments)
MODELS = {
    "hard 16-2": ("hard", {"hidden": (16, 2)}),
    "hard 32-2": ("hard", {"hidden": (32, 2)}),
    "separate 16-2": ("separate", {"hidden": (16, 2)}),
    "cross_stitch 16-2": ("cross_stitch", {"hidden": (16, 2)}),
    "mmoe 2x16-2": ("mmoe", {"hidden": (16, 2), "n_experts": 2}),
    "cgc 3x10-2": ("cgc", {"hidden": (10, 2)}),
}


def loaders(task: str, seed: int) -> tuple[DictDataLoader, DictDataLoader]:
    maker, field, dataset = COURSE_TASKS[task]
    (X, Y), _, _ = maker(n=1000, seed=seed)
    _, _, (X_test, Y_test) = maker(n=50_000, seed=seed + TEST_SEED_OFFSET)

    def loader(X: np.ndarray, Y: np.ndarray, split: str) -> DictDataLoader:
        data = DictDataset(dataset, split, {field: torch.from_numpy(X)}, {task: torch.from_numpy(Y)})
        return DictDataLoader(data, batch_size=32, shuffle=split == "train")

    return loader(X, Y, "train"), loader(X_test, Y_test, "test")


def routing(model) -> float:
    """Mean over a 100x100 grid of [-1, 1]^2 of half the L1 distance between the two tasks' gates."""
    module = next(iter(gate_modules(model).values()))
    axis = torch.linspace(-1, 1, 100)
    points = torch.cartesian_prod(axis, axis)  # (10000, 2)
    with evaluating(model), torch.inference_mode():
        gates = module.gate_weights(points)
    circle, xor = gates["circle_task"], gates["xor_task"]
    if circle.shape != xor.shape:  # CGC: own experts differ; compare the use of own vs shared
        n_own = module.n_task_experts
        circle = torch.stack([circle[:, :n_own].sum(1), circle[:, n_own:].sum(1)], dim=1)
        xor = torch.stack([xor[:, :n_own].sum(1), xor[:, n_own:].sum(1)], dim=1)
    return float(0.5 * (circle - xor).abs().sum(dim=1).mean())


def train(tasks: list[str], architecture: str, kwargs: dict, seed: int, data: dict) -> dict:
    set_seed(seed)
    model = build_model(tasks, architecture, verbose=False, **kwargs)
    log = CrossStitchLog() if architecture == "cross_stitch" else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StallWarning)
        Trainer(progress_bar=False, n_epochs=20, lr=0.01, seed=seed, callbacks=[log] if log else []).fit(
            model, [data[t][0] for t in tasks]
        )
    scores = model.score([data[t][1] for t in tasks])
    result = {
        "accuracy": {t: scores[f"{t}/{COURSE_TASKS[t][2]}/test/accuracy"] for t in tasks},
        "parameters": sum(parameter_counts(model).values()),
        "stalls": sum(issubclass(w.category, StallWarning) for w in caught),
    }
    if gate_modules(model):
        result["routing"] = routing(model)
    if log is not None:
        alpha = log.alphas[-1]  # (layers, 2, 2)
        result["alpha_off"] = [[float(alpha[layer, 0, 1]), float(alpha[layer, 1, 0])] for layer in range(len(alpha))]
    return result


def run(seed: int) -> dict:
    data = {task: loaders(task, seed) for task in TASKS}
    alone = {task: train([task], "hard", {"hidden": (16, 2)}, seed, data)["accuracy"][task] for task in TASKS}
    runs = {"alone": {"accuracy": alone, "parameters": None}}
    for label, (architecture, kwargs) in MODELS.items():
        result = train(TASKS, architecture, kwargs, seed, data)
        result["delta_m"] = 100 * statistics.fmean((result["accuracy"][t] - alone[t]) / alone[t] for t in TASKS)
        runs[label] = result
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON line per seed instead of the table")
    args = parser.parse_args()
    single_thread()
    per_seed = {}
    for seed in range(args.seeds):
        per_seed[seed] = run(seed)
        if args.json:
            print(json.dumps({"seed": seed, "runs": per_seed[seed]}), flush=True)
    if args.json:
        return

    def ms(values: list[float], scale: float = 1.0) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{scale * statistics.fmean(values):6.3f} +/- {scale * sd:.3f}"

    print(f"circle + xor, seeds 0-{args.seeds - 1}, 20 epochs, lr 0.01, 5000 test points per task")
    print(f"{'model':<18} {'params':>6}  {'circle acc':<16} {'xor acc':<16} {'delta_m %':<17} extra")
    for label in per_seed[0]:
        runs = [per_seed[seed][label] for seed in per_seed]
        params = runs[0]["parameters"]
        circle = ms([r["accuracy"]["circle_task"] for r in runs])
        xor = ms([r["accuracy"]["xor_task"] for r in runs])
        delta = ms([r["delta_m"] for r in runs]) if "delta_m" in runs[0] else ""
        extra = []
        if "routing" in runs[0]:
            extra.append("routing " + ", ".join(f"{r['routing']:.2f}" for r in runs))
        if "alpha_off" in runs[0]:
            extra.append(
                "alpha off-diag (layer: c<-x, x<-c) "
                + "; ".join(
                    " ".join(f"L{i + 1}:{a:.2f},{b:.2f}" for i, (a, b) in enumerate(r["alpha_off"])) for r in runs
                )
            )
        stalls = sum(r.get("stalls", 0) for r in runs)
        if stalls:
            extra.append(f"{stalls} stall warnings")
        print(f"{label:<18} {params or '':>6}  {circle:<16} {xor:<16} {delta:<17} {'; '.join(extra)}")
    deltas = {label: [per_seed[s][label]["delta_m"] for s in per_seed] for label in MODELS}
    print("delta_m per seed (against that seed's models alone):")
    for label, values in deltas.items():
        print(f"  {label:<18} " + " ".join(f"{v:+6.2f}" for v in values))
    # A baseline alone can fail on one seed (xor on a 2-unit trunk does), which swings that seed's
    # delta_m by 10+ points for every model: also against the baselines' mean over the seeds.
    base = {t: statistics.fmean(per_seed[s]["alone"]["accuracy"][t] for s in per_seed) for t in TASKS}

    def delta_vs_mean(label: str, seed: int) -> float:
        accuracy = per_seed[seed][label]["accuracy"]
        return 100 * statistics.fmean((accuracy[t] - base[t]) / base[t] for t in TASKS)

    print("delta_m against the mean over seeds of the models alone:")
    for label in MODELS:
        values = [delta_vs_mean(label, seed) for seed in per_seed]
        wins = sum(delta_vs_mean(label, seed) > delta_vs_mean("separate 16-2", seed) for seed in per_seed)
        print(f"  {label:<18} {ms(values)}  above separate on {wins}/{len(values)} seeds")


if __name__ == "__main__":
    main()
