"""The lessons' multi-seed claims, asserted with a margin, on this CPU and on PyTorch's default kernels.

A notebook trains on one seed; the statements it makes about *every* seed
come from the benchmarks, which these tests run (``--json``) and check. Each
runs twice: under the environment's own CPU setting, and with
``ATEN_CPU_CAPABILITY=default``, which makes this machine compute like
another CPU. A lesson whose conclusion flips with the kernels is too fragile
to teach. (The claims of each notebook's own run: ``tests/notebook_claims.py``.)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CPU_SETTINGS = ["inherited", "default"]


def run_benchmark(script: str, cpu: str) -> dict[str, dict]:
    """Run ``benchmarks/<script> --json`` under the CPU setting ``cpu``; return its results by seed."""
    return run_json([str(ROOT / "benchmarks" / script), "--json"], cpu)


def run_json(args: list[str], cpu: str) -> dict:
    """Run ``python ARGS`` under the CPU setting ``cpu``; return the JSON of its last line."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if cpu == "default":
        env["ATEN_CPU_CAPABILITY"] = "default"
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT / "benchmarks",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("cpu", CPU_SETTINGS)
def test_slice_aware_wins_on_the_patch_on_every_seed(cpu):
    # Notebook 05 and the README: "over seeds 0-4 the slice-aware model wins on the patch on
    # every seed, by 13 to 27 points, and the overall accuracies differ by at most 0.6 points".
    # Measured: +15.3 to +26.7 on this CPU's kernels, +13.5 to +20.6 on the default ones; overall
    # at most 0.56 and 0.52 points.
    runs = run_benchmark("bench_slicing.py", cpu)
    assert sorted(runs) == ["0", "1", "2", "3", "4"]
    for seed, scores in runs.items():
        plain, sliced = scores["plain"], scores["slice-aware"]
        assert 0.13 <= sliced["in_patch"] - plain["in_patch"] <= 0.27, (seed, scores)
        assert abs(sliced["base"] - plain["base"]) <= 0.006, (seed, scores)
        assert abs(sliced["left_half"] - plain["left_half"]) <= 0.01, (seed, scores)


@pytest.mark.parametrize("cpu", CPU_SETTINGS)
def test_the_defaults_keep_every_task_learning_on_seeds_0_to_9(cpu):
    # Notebook 11 (the appendix) and the README: "over seeds 0 to 9 of the tutorial's 3-task setup, the
    # worst task's test accuracy is at least 0.91 with the defaults and falls to 0.73
    # without them".
    runs = run_benchmark("bench_reliability.py", cpu)
    assert len(runs) == 10
    worst_on = [min(run["defaults"][0]) for run in runs.values()]
    worst_off = [min(run["off"][0]) for run in runs.values()]
    # Both CPU settings measured the same: defaults min 0.91, median 0.95; without them min 0.73.
    assert min(worst_on) >= 0.91 and abs(statistics.median(worst_on) - 0.95) <= 0.005, worst_on
    assert abs(min(worst_off) - 0.73) <= 0.005, worst_off
    assert all(run["defaults"][1] == 0 for run in runs.values()), "a StallWarning with the defaults on"
    stalled = [seed for seed, run in runs.items() if min(run["off"][0]) <= 0.80]
    assert len(stalled) >= 2, f"without the defaults, some seeds should stall; worst tasks: {worst_off}"
    assert all(runs[seed]["off"][1] >= 1 for seed in stalled), "a stalled seed without a StallWarning"


@pytest.mark.parametrize("cpu", CPU_SETTINGS)
def test_sharing_helps_a_task_with_little_data(cpu):
    # Notebook 06: the circle task with 20 training points gains from the inverted circle
    # sharing its trunk (5 seeds, 5000 test points each; measured +5.1 points, 5 of 5 seeds).
    # Notebook 06's question 3 and notebook 08 (section 2): the square, a related task, neither helps nor
    # hurts: "alone 0.815, shared with the square 0.811 on average, -0.4 points, ahead on 3 of the 5 seeds".
    code = (
        "import json, torch; torch.set_num_threads(1); from mtl_teach import compare_sharing; "
        "run = lambda aux: compare_sharing('circle_task', [aux], seeds=range(5), n_target=20).summary(); "
        "print(json.dumps({'inv_circle': run('inv_circle_task'), 'square': run('square_task')}))"
    )
    runs = run_json(["-c", code], cpu)
    summary = runs["inv_circle"]
    assert summary["gain_mean"] >= 0.02, summary
    assert summary["shared_wins"] >= 4, summary
    assert summary["gain_min"] >= -0.02, summary  # no seed where sharing clearly hurts
    square = runs["square"]
    assert abs(square["alone_mean"] - 0.815) <= 0.005 and abs(square["shared_mean"] - 0.811) <= 0.005, square
    assert -0.01 <= square["gain_mean"] <= 0.0 and square["shared_wins"] == 3, square


@pytest.mark.parametrize("cpu", CPU_SETTINGS)
def test_a_task_that_needs_other_features_hurts_on_a_small_trunk_and_room_removes_the_harm(cpu):
    # Notebook 07 (circle with its 800 points, xor sharing the trunk, seeds 0-4, 5000 test points,
    # match_steps=False). Measured: 2-16-2 all shared -8.5 +/- 6.8 points (shared wins 1/5);
    # branched after layer 1 +1.7; 2-16-8 all shared +1.1 (question 3); the inverted circle on
    # the 2-16-2 trunk +3.1, 5/5 (question 4).
    code = (
        "import json, torch; torch.set_num_threads(1); from mtl_teach import compare_sharing; "
        "run = lambda aux, **kw: compare_sharing('circle_task', [aux], seeds=range(5), n_target=800, "
        "match_steps=False, **kw).summary(); "
        "print(json.dumps({'small': run('xor_task', hidden=(16, 2)), "
        "'branched': run('xor_task', hidden=(16, 2), shared_layers=1), "
        "'wide': run('xor_task', hidden=(16, 8)), 'related': run('inv_circle_task', hidden=(16, 2))}))"
    )
    runs = run_json(["-c", code], cpu)
    assert runs["small"]["gain_mean"] <= -0.04 and runs["small"]["shared_wins"] <= 2, runs["small"]
    for remedy in ["branched", "wide"]:
        assert runs[remedy]["gain_mean"] >= -0.01, (remedy, runs[remedy])
        assert runs[remedy]["gain_min"] >= -0.04, (remedy, runs[remedy])  # no seed clearly hurt
        assert runs[remedy]["gain_mean"] - runs["small"]["gain_mean"] >= 0.05, (remedy, runs)
    assert runs["related"]["gain_mean"] >= 0.0 and runs["related"]["gain_min"] >= -0.02, runs["related"]


@pytest.mark.parametrize("cpu", CPU_SETTINGS)
def test_a_loss_from_sharing_can_be_a_loss_from_training_too_short(cpu):
    # Notebook 10, question 2: the inverted circle on one layer of 64 units, 30 circle points, seeds 0-4.
    # "shared, the circle ends below the model alone (0.825 against 0.865 on average, ahead on 1 of the
    # 5 seeds), and 3 of the 5 shared runs warn of a stall ... trained 3 times as long, the same candidate
    # wins on all 5 seeds (+1.6 points on average)".
    code = (
        "import json, torch; torch.set_num_threads(1); from mtl_teach import compare_sharing; "
        "run = lambda epochs: compare_sharing('circle_task', ['inv_circle_task'], seeds=range(5), n_target=30, "
        "hidden=(64,), n_epochs=epochs); "
        "out = {}\n"
        "for epochs in (20, 60):\n"
        "    c = run(epochs)\n"
        "    out[epochs] = dict(c.summary(), stalled=sorted({s for s, label, _ in c.stalls if label == 'shared'}))\n"
        "print(json.dumps(out))"
    )
    runs = run_json(["-c", code], cpu)
    short, long = runs["20"], runs["60"]
    assert abs(short["alone_mean"] - 0.865) <= 0.005 and abs(short["shared_mean"] - 0.825) <= 0.005, short
    assert short["shared_wins"] == 1 and len(short["stalled"]) == 3, short
    assert long["shared_wins"] == 5 and abs(long["gain_mean"] - 0.016) <= 0.005, long


@pytest.mark.parametrize("cpu", CPU_SETTINGS)
def test_loss_weightings_rescue_the_quiet_task(cpu):
    # Notebook 08's table and the README: with the square's loss x100, over seeds 0-4 (5000 test points
    # each), mean +/- standard deviation: equal circle 0.895 +/- 0.022, square 0.975 +/- 0.006; uncertainty
    # 0.933 +/- 0.018, 0.973 +/- 0.007, better than equal on 5 of 5 seeds by 2.3 to 6.1 points; gradnorm
    # 0.952 +/- 0.008, 0.964 +/- 0.009, 5 of 5 by 2.9 to 8.3. "GradNorm gives the circle back about 6 points
    # and costs the loud square about 1; uncertainty weighting gives back about 4 and costs the square
    # nothing measurable."
    code = (
        "import json, torch; torch.set_num_threads(1); from mtl_teach.imbalance import compare_weightings; "
        "c = compare_weightings('circle_task', 'square_task', loud_weight=100, seeds=range(5)); "
        "print(json.dumps({'summary': c.summary(), 'circle': {w: a['circle_task'].tolist() for w, a in c.accuracy.items()}}))"
    )
    result = run_json(["-c", code], cpu)
    summary, circle = result["summary"], result["circle"]
    table = {  # weighting: (circle mean, std, square mean, std)
        "equal": (0.895, 0.022, 0.975, 0.006),
        "uncertainty": (0.933, 0.018, 0.973, 0.007),
        "gradnorm": (0.952, 0.008, 0.964, 0.009),
    }
    for weighting, stated in table.items():
        row = summary[weighting]
        measured = (row["circle_task_mean"], row["circle_task_std"], row["square_task_mean"], row["square_task_std"])
        assert all(abs(m - s) <= 0.001 for m, s in zip(measured, stated, strict=True)), (weighting, measured, stated)
    for weighting, (low, high), about in (("uncertainty", (0.023, 0.061), 0.04), ("gradnorm", (0.029, 0.083), 0.06)):
        gains = [a - b for a, b in zip(circle[weighting], circle["equal"], strict=True)]
        assert summary[weighting]["wins"] == 5, (weighting, gains)
        assert abs(min(gains) - low) <= 0.0006 and abs(max(gains) - high) <= 0.0006, (weighting, gains)
        assert abs(summary[weighting]["gain_mean"] - about) <= 0.01, (weighting, summary[weighting])
    square = {w: summary[w]["square_task_mean"] for w in table}
    assert 0.005 <= square["equal"] - square["gradnorm"] <= 0.015, square  # "costs the loud square about 1"
    assert abs(square["equal"] - square["uncertainty"]) <= 0.005, square  # "nothing measurable"
