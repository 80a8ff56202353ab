"""delta_m and task_deltas against hand computations, LibMTL's formula, and bad input."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import mtl_teach.metrics
from mtl_teach import MTLConfigError
from mtl_teach.metrics import delta_m, task_deltas


def test_the_issues_example_gives_exactly_16_25():
    results = {"a_task/D/test/accuracy": 0.9, "b_task/D/test/mse": 0.4}
    baselines = {"a_task/D/test/accuracy": 0.8, "b_task/D/test/mse": 0.5}
    assert delta_m(results, baselines) == 16.25  # 100 * 1/2 * (0.1/0.8 + 0.1/0.5)
    assert task_deltas(results, baselines) == {"a_task": 12.5, "b_task": 20.0}


def test_lower_is_better_metrics_count_a_drop_as_a_gain():
    baselines = {"a_task/D/test/mse": 2.0, "b_task/D/test/mae": 4.0, "c_task/D/test/loss": 0.5}
    results = {"a_task/D/test/mse": 1.5, "b_task/D/test/mae": 5.0, "c_task/D/test/loss": 0.5}
    # mse 2 -> 1.5: +25 %; mae 4 -> 5: -25 %; loss unchanged: 0
    assert task_deltas(results, baselines) == {"a_task": 25.0, "b_task": -25.0, "c_task": 0.0}
    assert delta_m(results, baselines) == 0.0


def test_metrics_are_averaged_within_a_task_before_the_tasks():
    baselines = {
        "a_task/D/test/accuracy": 0.5,
        "a_task/D/test/f1": 0.5,
        "a_task/D/test/r2": 0.5,
        "b_task/D/test/accuracy": 0.5,
    }
    results = {
        "a_task/D/test/accuracy": 0.6,
        "a_task/D/test/f1": 0.6,
        "a_task/D/test/r2": 0.6,
        "b_task/D/test/accuracy": 0.4,
    }
    # a: +20 % on each of its three metrics, b: -20 %. Per task first: (20 - 20) / 2 = 0,
    # where a plain mean over the four keys would say (60 - 20) / 4 = 10.
    assert delta_m(results, baselines) == 0.0
    assert task_deltas(results, baselines) == {"a_task": 20.0, "b_task": -20.0}


def libmtl_count_improvement(base_result, new_result, weight):
    # LibMTL/utils.py count_improvement, as documented: weight 1 = higher is better; a fraction.
    improvement = 0.0
    for task in base_result:
        base, new = np.array(base_result[task]), np.array(new_result[task])
        improvement += ((-1.0) ** np.array(weight[task]) * (base - new) / base).mean()
    return improvement / len(base_result)


def test_agrees_with_libmtls_count_improvement_times_100():
    # The example of count_improvement's docstring: task A has two metrics, the second lower-is-better.
    base = {"A": [96, 98], "B": [0.2]}
    new = {"A": [93, 99], "B": [0.5]}
    weight = {"A": [1, 0], "B": [1]}
    keys = {("A", 0): "A/D/test/acc_1", ("A", 1): "A/D/test/err", ("B", 0): "B/D/test/acc_2"}
    baselines = {key: base[task][i] for (task, i), key in keys.items()}
    results = {key: new[task][i] for (task, i), key in keys.items()}
    higher = {"acc_1": True, "err": False, "acc_2": True}
    expected = 100 * libmtl_count_improvement(base, new, weight)
    # By hand: A: (-3/96 - 1/98) / 2, B: +0.3/0.2; mean of the two, in percent.
    by_hand = 100 * ((-3 / 96 - 1 / 98) / 2 + 1.5) / 2
    assert delta_m(results, baselines, higher_is_better=higher) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(by_hand, abs=1e-12)


def test_higher_is_better_as_a_bool_a_metric_name_or_a_full_key():
    baselines = {"a_task/D/test/score": 2.0, "b_task/D/test/score": 2.0}
    results = {"a_task/D/test/score": 3.0, "b_task/D/test/score": 3.0}
    assert delta_m(results, baselines, higher_is_better=True) == 50.0
    assert delta_m(results, baselines, higher_is_better=False) == -50.0
    assert delta_m(results, baselines, higher_is_better={"score": True}) == 50.0
    # A full key wins over the metric name; the other task falls back to the name.
    per_key = {"b_task/D/test/score": False, "score": True}
    assert task_deltas(results, baselines, higher_is_better=per_key) == {"a_task": 50.0, "b_task": -50.0}
    # A dict only overrides: known metrics keep their direction.
    known = {"a_task/D/test/mse": 2.0, "b_task/D/test/score": 2.0}
    assert delta_m({"a_task/D/test/mse": 1.0, "b_task/D/test/score": 1.0}, known, {"score": False}) == 50.0


def test_numpy_and_torch_scalars_are_numbers():
    baselines = {"a_task/D/test/accuracy": np.float32(0.5), "b_task/D/test/accuracy": torch.tensor(0.5)}
    results = {"a_task/D/test/accuracy": np.float64(0.75), "b_task/D/test/accuracy": torch.tensor(0.25)}
    assert delta_m(results, baselines) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    ("results", "baselines", "higher", "message"),
    [
        (
            {"a_task/D/test/accuracy": 0.9},
            {"a_task/D/test/accuracy": 0.8, "b_task/D/test/mse": 0.5},
            None,
            "must score the same keys (task/dataset/split/metric), each model on the same tasks and metrics; "
            "got results lack 'b_task/D/test/mse'",
        ),
        (
            {"a_task/D/test/accuracy": 0.9, "a_task/D/test/f1": 0.9},
            {"a_task/D/test/accuracy": 0.8},
            None,
            "got baselines lack 'a_task/D/test/f1'",
        ),
        (
            {"a_task/D/test/accuracy": 0.9, "a_task/D/valid/accuracy": 0.9},
            {"a_task/D/test/accuracy": 0.8, "a_task/D/valid/accuracy": 0.8},
            None,
            "must come from one split",
        ),
        ({"a_task/D/test/accuracy": 0.9}, {"a_task/D/test/accuracy": 0.0}, None, "must be > 0"),
        ({"a_task/D/test/r2": 0.1}, {"a_task/D/test/r2": -0.2}, None, "got -0.2"),
        ({"a_task/D/test/accuracy": float("nan")}, {"a_task/D/test/accuracy": 0.8}, None, "must be a finite number"),
        (
            {"a_task/D/test/mse": 0.4},
            {"a_task/D/test/mse": float("inf")},
            None,
            "delta_m(baselines)['a_task/D/test/mse']",
        ),
        (
            {"a_task/D/test/accuracy": "0.9"},
            {"a_task/D/test/accuracy": 0.8},
            None,
            "must be a finite number; got '0.9'",
        ),
        ({"a_task/accuracy": 0.9}, {"a_task/accuracy": 0.8}, None, "must be a score key 'task/dataset/split/metric'"),
        ({}, {}, None, "must be a non-empty dict of scores"),
        ([0.9], {"a_task/D/test/accuracy": 0.8}, None, "delta_m(results) must be a non-empty dict"),
        (
            {"a_task/D/test/bleu": 0.3},
            {"a_task/D/test/bleu": 0.2},
            None,
            "must say whether a higher 'bleu' is better (known metrics: 'accuracy',",
        ),
        ({"a_task/D/test/bleu": 0.3}, {"a_task/D/test/bleu": 0.2}, {"bleu": "up"}, "must be True (higher is better)"),
        ({"a_task/D/test/bleu": 0.3}, {"a_task/D/test/bleu": 0.2}, "higher", "must be None, True, False, or a dict"),
    ],
)
def test_bad_input_gets_a_clear_error(results, baselines, higher, message):
    with pytest.raises(MTLConfigError, match="Fix:") as error:
        delta_m(results, baselines, higher_is_better=higher)
    assert message in str(error.value)


def test_unknown_metric_error_says_how_to_fix_it():
    with pytest.raises(MTLConfigError) as error:
        task_deltas({"a_task/D/test/bleu": 0.3}, {"a_task/D/test/bleu": 0.2})
    assert str(error.value).startswith("task_deltas(higher_is_better) must say whether a higher 'bleu' is better")
    assert "Fix: pass higher_is_better={'bleu': True} (or False when lower is better)." in str(error.value)


def test_the_module_docstring_examples_run():
    result = doctest.testmod(mtl_teach.metrics, raise_on_error=False)
    assert result.attempted >= 4 and result.failed == 0
