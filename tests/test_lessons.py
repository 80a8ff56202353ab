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
    assert min(worst_on) >= 0.88 and statistics.median(worst_on) >= 0.92, worst_on
    assert all(run["defaults"][1] == 0 for run in runs.values()), "a StallWarning with the defaults on"
    stalled = [seed for seed, run in runs.items() if min(run["off"][0]) <= 0.80]
    assert len(stalled) >= 2, f"without the defaults, some seeds should stall; worst tasks: {worst_off}"
    assert all(runs[seed]["off"][1] >= 1 for seed in stalled), "a stalled seed without a StallWarning"


@pytest.mark.parametrize("cpu", CPU_SETTINGS)
def test_sharing_helps_a_task_with_little_data(cpu):
    # Notebook 06: the circle task with 20 training points gains from the inverted circle
    # sharing its trunk (5 seeds, 5000 test points each; measured +5.1 points, 5 of 5 seeds).
    code = (
        "import json, torch; torch.set_num_threads(1); from mtl_teach import compare_sharing; "
        "print(json.dumps(compare_sharing('circle_task', ['inv_circle_task'], seeds=range(5), n_target=20).summary()))"
    )
    summary = run_json(["-c", code], cpu)
    assert summary["gain_mean"] >= 0.02, summary
    assert summary["shared_wins"] >= 4, summary
    assert summary["gain_min"] >= -0.02, summary  # no seed where sharing clearly hurts


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
def test_loss_weightings_rescue_the_quiet_task(cpu):
    # Notebook 08: with the square's loss x100, over seeds 0-4 (5000 test points each) the circle
    # scores 0.895 with equal weighting, 0.933 with uncertainty weighting and 0.952 with GradNorm;
    # both beat equal on 5 of 5 seeds (by 2.3 to 6.2 and 2.9 to 8.4 points); the square loses about 1 with GradNorm.
    code = (
        "import json, torch; torch.set_num_threads(1); from mtl_teach.imbalance import compare_weightings; "
        "print(json.dumps(compare_weightings('circle_task', 'square_task', loud_weight=100, seeds=range(5)).summary()))"
    )
    summary = run_json(["-c", code], cpu)
    assert 0.86 <= summary["equal"]["circle_task_mean"] <= 0.92, summary
    for weighting, least in (("uncertainty", 0.02), ("gradnorm", 0.035)):
        assert summary[weighting]["gain_mean"] >= least, (weighting, summary)
        assert summary[weighting]["wins"] >= 4 and summary[weighting]["gain_min"] >= -0.005, (weighting, summary)
    assert summary["gradnorm"]["square_task_mean"] >= summary["equal"]["square_task_mean"] - 0.025, summary
