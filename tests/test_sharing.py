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

from mtl_teach import MTLConfigError, SharingComparison, SharingGainsDisplay, compare_sharing, make_xor_dataset
from mtl_teach.sharing import build_shared_model

FAST = {"n_test": 200, "hidden": (8, 4), "n_epochs": 2}
# These runs are made short to be fast, not to learn. A head may stall: compare_sharing collects
# StallWarnings into .stalls instead of showing them, and any warning that escapes fails a test.
pytestmark = pytest.mark.filterwarnings("error")


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
    # The majority-class floor: the share of the commonest label among each seed's test points.
    assert small.majority.shape == (2,) and np.all((small.majority >= 0.5) & (small.majority <= 1))
    floor = [line for line in lines if line.get_linestyle() == "--"]
    assert len(floor) == 1 and floor[0].get_ydata()[0] == pytest.approx(small.majority.mean())
    assert any(t.get_text() == f"majority-class floor {small.majority.mean():.3f}" for t in small.ax_.texts)
    assert "shared wins on" in repr(small) and "alone=" in repr(small)
    plt.close("all")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "triangle_task"}, r"compare_sharing\(target\) must be one of the course's toy tasks"),
        ({"auxiliary": "inv_circle_task"}, r"compare_sharing\(auxiliary\) must be a non-empty list"),
        ({"auxiliary": ["circle_task"]}, r"must name other toy tasks than the target"),
        ({"seeds": []}, r"compare_sharing\(seeds\) must be a non-empty list of integers >= 0"),
        ({"seeds": [-1]}, r"compare_sharing\(seeds\)"),
        ({"n_target": 2}, r"compare_sharing\(n_target\) must be an integer >= 4"),
        ({"n_target": 900}, r"must be <= 800"),
        ({"n_test": 10}, r"compare_sharing\(n_test\) must be an integer >= 100"),
        ({"hidden": ()}, r"compare_sharing\(hidden\) must be a non-empty list of layer widths"),
        ({"shared_layers": 0}, r"compare_sharing\(shared_layers\) must be None .* from 1 to len\(hidden\) = 2; got 0"),
        ({"shared_layers": 3}, r"compare_sharing\(shared_layers\)"),
        ({"match_steps": "yes"}, r"compare_sharing\(match_steps\) must be True or False; got 'yes'"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(MTLConfigError, match=message):
        compare_sharing(**kwargs)


def test_branching_earlier_gives_each_task_its_own_later_layers():
    result = compare_sharing("circle_task", ["xor_task"], seeds=[0], n_target=12, shared_layers=1, **FAST)
    shared, alone = result.models[0]["shared"], result.models[0]["alone"]
    assert result.settings["shared_layers"] == 1
    # Only the first layer (2 -> 8) is shared; each task has its own 8 -> 4 layer and head.
    assert shared.shared_modules() == ["base_mlp"]
    assert [tuple(p.shape) for p in shared.module_pool["base_mlp"].parameters()] == [(8, 2), (8,)]
    for task in ["circle", "xor"]:
        assert [tuple(p.shape) for p in shared.module_pool[f"{task}_branch"].parameters()] == [(4, 8), (4,)]
    # The model alone has the same layers as the circle's path through the shared model.
    circle_path = ["base_mlp", "circle_branch", "circle_head"]
    assert sorted(alone.module_pool) == sorted(circle_path)
    for name in circle_path:
        shapes = [p.shape for p in alone.module_pool[name].parameters()]
        assert shapes == [p.shape for p in shared.module_pool[name].parameters()]


def test_match_steps_false_shows_the_target_its_points_once_per_epoch():
    result = compare_sharing("circle_task", ["xor_task"], seeds=[0], n_target=64, match_steps=False, **FAST)
    # Alone: 64 points, 2 batches per epoch. Shared: the same 2 circle batches + 25 xor batches.
    assert result.settings["steps"] == {"alone": 2 * 2, "shared": 2 * 27}


def test_the_xor_task_is_a_checkerboard_of_quadrants():
    (X, y), _, _ = make_xor_dataset(n=1000, seed=0)
    assert X.shape == (800, 2) and y.dtype == np.int64
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) == np.sign(X[:, 1])).astype(np.int64))
    assert 0.4 <= y.mean() <= 0.6  # the four quadrants are equally likely
    with pytest.raises(MTLConfigError, match=r"make_xor_dataset\(n\) must be an integer >= 10"):
        make_xor_dataset(n=5)


def test_gains_display_draws_a_column_per_comparison(small):
    other = compare_sharing("circle_task", ["square_task"], seeds=[0, 1], n_target=12, **FAST)
    display = SharingGainsDisplay.from_comparisons({"inverted circle": small, "square": other})
    assert display.labels == ["inverted circle", "square"]
    np.testing.assert_allclose(display.gains[0], 100 * small.gains)  # accuracy points
    assert display.figure_ is display.ax_.figure
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["inverted circle", "square"]
    assert "'square':" in repr(display) and "drawn=True" in repr(display)
    assert "drawn=False" in repr(SharingGainsDisplay.from_comparisons({"a": small}, plot=False))
    plt.close("all")


@pytest.mark.parametrize(
    ("comparisons", "message"),
    [
        ({}, r"from_comparisons\(comparisons\) must be a non-empty dict"),
        ([1], r"must be a non-empty dict .*; got 'list'"),
        ({"a": 0.5}, r"from_comparisons\(comparisons\['a'\]\) must be a SharingComparison .*; got float"),
    ],
)
def test_gains_display_bad_input(comparisons, message):
    with pytest.raises(MTLConfigError, match=message):
        SharingGainsDisplay.from_comparisons(comparisons)


def test_stalls_are_collected_per_run_not_shown():
    # Seed 2, 6 epochs: the circle head of the shared 2-unit trunk sits at its majority floor
    # (xor has taken the trunk's 2 units), while the circle alone has learned; measured.
    result = compare_sharing(
        "circle_task", ["xor_task"], seeds=[2], n_target=800, n_test=100, hidden=(16, 2), match_steps=False, n_epochs=6
    )
    assert [(seed, label) for seed, label, _ in result.stalls] == [(2, "shared")]
    assert "circle_task" in result.stalls[0][2] and "stalled" in result.stalls[0][2]
    assert result.alone[0] - result.shared[0] >= 0.1, (result.alone, result.shared)
    assert "runs that warned of a stall: 1" in repr(result)


def test_build_shared_model_is_the_model_compare_sharing_trains():
    model = build_shared_model(["circle_task", "xor_task"], hidden=(8, 4))
    assert list(model.tasks) == ["circle_task", "xor_task"] and model.shared_modules() == ["base_mlp"]
    assert [tuple(p.shape) for p in model.module_pool["base_mlp"].parameters()] == [(8, 2), (8,), (4, 8), (4,)]
    assert [tuple(p.shape) for p in model.module_pool["xor_head"].parameters()] == [(2, 4), (2,)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task_names": "circle_task"}, r"build_shared_model\(task_names\) must be a non-empty list of distinct"),
        ({"task_names": ["circle_task", "circle_task"]}, r"must be a non-empty list of distinct task names"),
        ({"task_names": ["triangle_task"]}, r"must name the course's toy tasks .*; got 'triangle_task'"),
        ({"hidden": 8}, r"build_shared_model\(hidden\) must be a non-empty list of layer widths >= 1; got 8"),
        ({"shared_layers": 2}, r"build_shared_model\(shared_layers\) must be None .* = 1; got 2"),
    ],
)
def test_build_shared_model_bad_input(kwargs, message):
    arguments = {"task_names": ["circle_task"], "hidden": (8,), **kwargs}
    with pytest.raises(MTLConfigError, match=message):
        build_shared_model(**arguments)
