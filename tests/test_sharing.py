"""compare_sharing: a fair single- vs multi-task comparison over seeds, its numbers, plot and errors.

The lesson it supports (sharing helps a task with little data) is asserted over
5 seeds in tests/test_lessons.py and in notebook 06's claims; here small, fast
runs check the mechanics.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from mtl_teach import MTLConfigError, SharingComparison, compare_sharing

FAST = {"n_test": 200, "hidden": (8, 4), "n_epochs": 2}
# These runs are made short to be fast, not to learn: a head may stall, and that is not what is tested here.
pytestmark = pytest.mark.filterwarnings("ignore::mtl_teach.dead_units.StallWarning")


@pytest.fixture(scope="module")
def small() -> SharingComparison:
    return compare_sharing("circle_task", ["inv_circle_task"], seeds=[0, 1], n_target=12, **FAST)


def test_the_comparison_is_fair_in_capacity_and_steps(small):
    for models in small.models.values():
        alone, shared = models["alone"], models["shared"]
        assert list(alone.tasks) == ["circle_task"] and list(shared.tasks) == ["circle_task", "inv_circle_task"]
        shapes = [tuple(p.shape) for p in alone.module_pool["base_mlp"].parameters()]
        assert shapes == [tuple(p.shape) for p in shared.module_pool["base_mlp"].parameters()]  # same trunk size
        assert shared.shared_modules() == ["base_mlp"]
    steps = small.settings["steps"]
    assert steps["alone"] >= steps["shared"]  # the model alone trains at least as long
    # Shared: 1 + 25 batches per epoch. Alone: the 12 points repeated 70 times (840 points),
    # 27 batches per epoch; the same 2 epochs.
    assert small.settings["epochs"] == {"alone": 2, "shared": 2}
    assert small.settings["steps"] == {"alone": 2 * 27, "shared": 2 * 26}


def test_scores_are_the_models_scores_on_fresh_test_points(small):
    assert small.settings["n_test"] == 200
    assert small.alone.shape == small.shared.shape == (2,)
    assert np.all((small.alone >= 0) & (small.alone <= 1)) and np.all((small.shared >= 0) & (small.shared <= 1))
    np.testing.assert_allclose(small.gains, small.shared - small.alone)
    frame = small.as_dataframe()
    assert list(frame.index) == [0, 1] and list(frame.columns) == ["alone", "shared", "gain"]
    summary = small.summary()
    assert summary["alone_mean"] == pytest.approx(small.alone.mean())
    assert summary["shared_wins"] == int((small.gains > 0).sum())


def test_the_same_seed_gives_the_same_numbers():
    first = compare_sharing(seeds=[3], n_target=8, **FAST)
    second = compare_sharing(seeds=[3], n_target=8, **FAST)
    assert first.alone.tolist() == second.alone.tolist() and first.shared.tolist() == second.shared.tolist()


def test_plot_draws_each_seed_and_keeps_the_axes(small):
    result = small.plot()
    assert result is small and small.ax_ is not None and small.figure_ is small.ax_.figure
    lines = small.ax_.get_lines()
    assert len(lines) >= 2  # one grey line per seed, plus the error bars
    assert "circle_task test accuracy" in small.ax_.get_ylabel()
    assert "shared wins on" in repr(small) and "alone=" in repr(small)
    plt.close("all")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "triangle_task"}, r"compare_sharing\(target\) must be a tutorial task"),
        ({"auxiliary": "inv_circle_task"}, r"compare_sharing\(auxiliary\) must be a non-empty list"),
        ({"auxiliary": ["circle_task"]}, r"must name other tutorial tasks than the target"),
        ({"seeds": []}, r"compare_sharing\(seeds\) must be a non-empty list of integers >= 0"),
        ({"seeds": [-1]}, r"compare_sharing\(seeds\)"),
        ({"n_target": 2}, r"compare_sharing\(n_target\) must be an integer >= 4"),
        ({"n_target": 900}, r"must be <= 800"),
        ({"n_test": 10}, r"compare_sharing\(n_test\) must be an integer >= 100"),
        ({"hidden": ()}, r"compare_sharing\(hidden\) must be a non-empty list of layer widths"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(MTLConfigError, match=message):
        compare_sharing(**kwargs)
