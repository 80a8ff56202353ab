"""Scorer (mtl_teach/scorer.py): every metric against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from mtl_teach import MTLConfigError, Scorer
from mtl_teach.scorer import METRICS

ALL = [
    "accuracy",
    "coverage",
    "precision",
    "recall",
    "f1",
    "f1_micro",
    "f1_macro",
    "fbeta",
    "matthews_corrcoef",
    "roc_auc",
]


def random_binary(seed, n=200):
    rng = np.random.default_rng(seed)
    golds = rng.integers(0, 2, n)
    p1 = np.clip(golds * 0.3 + rng.uniform(0, 0.7, n), 0, 1)
    probs = np.stack([1 - p1, p1], axis=1)
    return golds, probs.argmax(axis=1), probs


def test_metric_names():
    assert set(METRICS) == set(ALL)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_equal_sklearn(seed):
    golds, preds, probs = random_binary(seed)
    got = Scorer(metrics=ALL).score(golds, preds, probs)
    expected = {
        "accuracy": skm.accuracy_score(golds, preds),
        "coverage": 1.0,
        "precision": skm.precision_score(golds, preds),
        "recall": skm.recall_score(golds, preds),
        "f1": skm.f1_score(golds, preds),
        "f1_micro": skm.f1_score(golds, preds, average="micro"),
        "f1_macro": skm.f1_score(golds, preds, average="macro"),
        "fbeta": skm.fbeta_score(golds, preds, beta=1.0),
        "matthews_corrcoef": skm.matthews_corrcoef(golds, preds),
        "roc_auc": skm.roc_auc_score(golds, probs[:, 1]),
    }
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
        assert isinstance(got[key], float), key
    assert 0.5 < got["accuracy"] < 1.0  # the data are neither trivial nor random


def test_multiclass_metrics_equal_sklearn():
    rng = np.random.default_rng(5)
    golds = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 1.5 * np.eye(3)[golds]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    preds = probs.argmax(axis=1)
    got = Scorer(metrics=["accuracy", "f1_micro", "f1_macro", "matthews_corrcoef", "roc_auc"]).score(
        golds, preds, probs
    )
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(golds, preds))
    assert got["f1_micro"] == pytest.approx(skm.f1_score(golds, preds, average="micro"))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(golds, preds, average="macro"))
    assert got["matthews_corrcoef"] == pytest.approx(skm.matthews_corrcoef(golds, preds))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(golds, probs, multi_class="ovr"))


def test_preds_are_derived_from_probs_when_omitted():
    golds, preds, probs = random_binary(3)
    scorer = Scorer(metrics=["accuracy", "f1"])
    assert scorer.score(golds, probs=probs) == scorer.score(golds, preds, probs)


def test_default_scorer_has_no_metrics():
    assert Scorer().score(np.array([0, 1]), np.array([0, 1])) == {}


def test_unlabelled_golds_are_dropped_everywhere():
    golds = np.array([1, -1, 0, 1, -1, 0])
    preds = np.array([1, 0, 0, 0, 1, 0])
    probs = np.eye(2)[preds].astype(float)
    got = Scorer(metrics=["accuracy", "coverage", "f1"]).score(golds, preds, probs)
    keep = golds != -1
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(golds[keep], preds[keep]))  # 3/4
    assert got["accuracy"] == 0.75
    assert got["coverage"] == 1.0
    assert got["f1"] == pytest.approx(skm.f1_score(golds[keep], preds[keep]))


def test_abstain_label_counts_against_coverage_and_is_dropped_elsewhere():
    golds = np.array([1, 0, 1, 0, 1, -1, 0, 1])
    preds = np.array([1, -1, 1, 1, -1, -1, 0, 0])  # -1 = abstain
    got = Scorer(metrics=["accuracy", "coverage", "precision"]).score(golds, preds)
    labelled = golds != -1  # 7 labelled; of those, 2 abstained
    assert got["coverage"] == pytest.approx(5 / 7)
    kept = labelled & (preds != -1)  # golds 1,1,0,0,1 vs preds 1,1,1,0,0
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(golds[kept], preds[kept])) == pytest.approx(3 / 5)
    assert got["precision"] == pytest.approx(skm.precision_score(golds[kept], preds[kept]))


def test_custom_abstain_label_and_none():
    golds = np.array([0, 1, 2, 2])
    preds = np.array([0, 2, 2, 1])
    with_abstain = Scorer(metrics=["accuracy", "coverage"], abstain_label=2).score(golds, preds)
    assert with_abstain == {"coverage": 0.5, "accuracy": 0.5}  # points 1, 2 abstain; 0 and 3 kept: 0==0, 2!=1
    no_abstain = Scorer(metrics=["accuracy", "coverage"], abstain_label=None).score(golds, preds)
    assert no_abstain == {"coverage": 1.0, "accuracy": 0.5}


def test_everything_abstained_gives_nan():
    got = Scorer(metrics=["accuracy", "coverage"]).score(np.array([0, 1]), np.array([-1, -1]))
    assert got["coverage"] == 0.0
    assert math.isnan(got["accuracy"])


def test_custom_metric_returning_a_float_and_a_dict():
    seen = {}

    def error_rate(golds, preds, probs):
        seen["n"] = len(golds)
        return np.mean(golds != preds)

    def counts(golds, preds, probs):
        return {"n_pos": int((preds == 1).sum()), "n_neg": np.int64((preds == 0).sum())}

    golds = np.array([1, 0, 1, -1, 0])
    preds = np.array([1, 1, 1, 0, 0])
    got = Scorer(metrics=["accuracy"], custom_metric_funcs={"error_rate": error_rate, "counts": counts}).score(
        golds, preds
    )
    assert seen["n"] == 4  # unlabelled point dropped before custom metrics too
    assert got == {"accuracy": 0.75, "error_rate": 0.25, "n_pos": 3.0, "n_neg": 1.0}
    assert all(type(v) is float for v in got.values())


def test_unknown_metric_lists_the_valid_names():
    with pytest.raises(MTLConfigError) as info:
        Scorer(metrics=["accuracy", "auc"])
    text = str(info.value)
    assert "Scorer(metrics) names unknown metric 'auc'" in text
    assert (
        "valid names are 'accuracy', 'coverage', 'f1', 'f1_macro', 'f1_micro', 'fbeta', 'matthews_corrcoef', 'precision', 'recall', 'roc_auc'"
        in text
    )
    assert "Fix: pick a valid name, or pass your own in custom_metric_funcs" in text


def test_a_string_instead_of_a_list_is_an_error():
    with pytest.raises(
        MTLConfigError,
        match=r"Scorer\(metrics\) must be a list of metric names; got 'accuracy'\. Fix: use \['accuracy'\]",
    ):
        Scorer(metrics="accuracy")


def test_non_callable_custom_metric_is_an_error():
    with pytest.raises(
        MTLConfigError, match=r"Scorer\(custom_metric_funcs\['x'\]\) must be a function f\(golds, preds, probs\)"
    ):
        Scorer(custom_metric_funcs={"x": 3})


def test_empty_golds_is_an_error():
    with pytest.raises(
        MTLConfigError, match=r"Scorer.score\(golds\) must hold at least one label; got .*Fix: score a non-empty split"
    ):
        Scorer(metrics=["accuracy"]).score(np.array([]), np.array([]))


def test_length_mismatch_and_missing_predictions_are_errors():
    scorer = Scorer(metrics=["accuracy"])
    with pytest.raises(MTLConfigError, match=r"must have equal lengths; got golds=3, preds=2"):
        scorer.score(np.array([0, 1, 0]), np.array([0, 1]))
    with pytest.raises(MTLConfigError, match=r"Scorer.score\(preds, probs\) needs preds or probs"):
        scorer.score(np.array([0, 1]))


def test_roc_auc_with_one_class_is_nan():
    golds = np.array([1, 1, 1, -1])
    probs = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.5, 0.5]])
    got = Scorer(metrics=["roc_auc", "accuracy"]).score(golds, probs=probs)
    assert math.isnan(got["roc_auc"])
    assert got["accuracy"] == pytest.approx(2 / 3)


def test_repr():
    text = repr(Scorer(metrics=["accuracy"], custom_metric_funcs={"f": lambda g, p, q: 0.0}))
    assert text == "Scorer(metrics=['accuracy'], custom_metric_funcs=['f'], abstain_label=-1)"


def test_scores_come_in_the_order_the_metrics_were_asked_for():
    # Snorkel returns metrics in the order listed; coverage used to jump to the front.
    golds, preds, probs = random_binary(0)
    got = Scorer(metrics=["accuracy", "f1", "coverage"]).score(golds, preds, probs)
    assert list(got) == ["accuracy", "f1", "coverage"]


@pytest.mark.parametrize("metric", ["precision", "recall", "f1", "fbeta"])
def test_binary_only_metric_on_three_classes_is_a_clear_error(metric):
    # scikit-learn fails deep inside with "Target is multiclass but average='binary'".
    golds, preds = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])
    with pytest.raises(MTLConfigError) as info:
        Scorer(metrics=["accuracy", metric]).score(golds, preds)
    text = str(info.value)
    assert f"Scorer metric {metric!r} must score a 2-class task (labels 0 and 1)" in text
    assert "got labels [0, 1, 2]" in text
    assert "Fix: use 'f1_macro' or 'f1_micro'" in text
