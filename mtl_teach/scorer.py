"""Scorer: turn (golds, preds, probs) into a dict of named metrics.

Accuracy and coverage are one line of numpy; every other metric comes from
scikit-learn, imported only when such a metric is first computed so that
``import mtl_teach`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from mtl_teach._errors import fail, names

MetricFunc = Callable[[np.ndarray, np.ndarray, np.ndarray], float | Mapping[str, float]]


def _accuracy(golds: np.ndarray, preds: np.ndarray, probs: np.ndarray) -> float:
    return float(np.mean(golds == preds))


def _sklearn(name: str, **kwargs: Any) -> MetricFunc:
    # Look the function up at call time: sklearn costs ~0.5 s to import.
    def metric(golds: np.ndarray, preds: np.ndarray, probs: np.ndarray) -> float:
        from sklearn import metrics

        return float(getattr(metrics, name)(golds, preds, **kwargs))

    metric.__name__ = name
    return metric


def _roc_auc(golds: np.ndarray, preds: np.ndarray, probs: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(golds)) < 2:
        return math.nan  # undefined with one class; sklearn would raise
    if probs.ndim == 2 and probs.shape[1] == 2:
        return float(roc_auc_score(golds, probs[:, 1]))
    return float(roc_auc_score(golds, probs, multi_class="ovr", labels=range(probs.shape[1])))


METRICS: Mapping[str, MetricFunc] = MappingProxyType(
    {
        "accuracy": _accuracy,
        "coverage": _accuracy,  # placeholder: coverage is computed before filtering
        "precision": _sklearn("precision_score", zero_division=0),
        "recall": _sklearn("recall_score", zero_division=0),
        "f1": _sklearn("f1_score", zero_division=0),
        "f1_micro": _sklearn("f1_score", average="micro", zero_division=0),
        "f1_macro": _sklearn("f1_score", average="macro", zero_division=0),
        "fbeta": _sklearn("fbeta_score", beta=1.0, zero_division=0),
        "matthews_corrcoef": _sklearn("matthews_corrcoef"),
        "roc_auc": _roc_auc,
    }
)


# scikit-learn's average="binary": defined for labels 0 and 1 only.
BINARY_ONLY = frozenset({"precision", "recall", "f1", "fbeta"})


def _check_binary(metric: str, golds: np.ndarray, preds: np.ndarray) -> None:
    labels = np.union1d(golds, preds)
    if labels.size and not np.isin(labels, (0, 1)).all():
        fail(
            f"Scorer metric {metric!r}",
            "must score a 2-class task (labels 0 and 1)",
            f"labels {labels.tolist()}",
            "use 'f1_macro' or 'f1_micro' (or accuracy, matthews_corrcoef, roc_auc) for more classes.",
            raw=True,
        )


class Scorer:
    """Compute metrics for one task's predictions.

    Parameters
    ----------
    metrics
        Names from :data:`METRICS` (accuracy, coverage, precision, recall, f1,
        f1_micro, f1_macro, fbeta, matthews_corrcoef, roc_auc).
    custom_metric_funcs
        Extra metrics, name -> ``f(golds, preds, probs)`` returning a float
        or a dict of name -> float.
    abstain_label
        Prediction value meaning "no prediction"; such points count against
        ``coverage`` and are left out of every other metric. Gold label -1
        always means "unlabelled" and is left out everywhere.
    """

    def __init__(
        self,
        metrics: Iterable[str] | None = None,
        custom_metric_funcs: Mapping[str, MetricFunc] | None = None,
        abstain_label: int | None = -1,
    ) -> None:
        if isinstance(metrics, str):
            fail("Scorer(metrics)", "must be a list of metric names", metrics, f"use [{metrics!r}].")
        self.metrics: tuple[str, ...] = tuple(metrics) if metrics is not None else ()
        for metric in self.metrics:
            if metric not in METRICS:
                fail(
                    "Scorer(metrics)",
                    f"names unknown metric {metric!r}; valid names are {names(METRICS)}",
                    metric,
                    "pick a valid name, or pass your own in custom_metric_funcs.",
                )
        funcs = dict(custom_metric_funcs or {})
        for key, func in funcs.items():
            if not callable(func):
                fail(
                    f"Scorer(custom_metric_funcs[{key!r}])",
                    "must be a function f(golds, preds, probs)",
                    func,
                    "pass a callable.",
                )
        self.custom_metric_funcs: Mapping[str, MetricFunc] = MappingProxyType(funcs)
        self.abstain_label = abstain_label

    def __repr__(self) -> str:
        custom = f", custom_metric_funcs={list(self.custom_metric_funcs)}" if self.custom_metric_funcs else ""
        return f"Scorer(metrics={list(self.metrics)}{custom}, abstain_label={self.abstain_label})"

    def score(
        self, golds: np.ndarray, preds: np.ndarray | None = None, probs: np.ndarray | None = None
    ) -> dict[str, float]:
        """Return ``{metric_name: value}`` for one set of predictions.

        Parameters
        ----------
        golds
            Gold labels, shape ``(n,)``; -1 marks unlabelled points.
        preds
            Predicted labels, shape ``(n,)``; derived from ``probs`` if omitted.
        probs
            Class probabilities, shape ``(n, n_classes)``.
        """
        golds = np.asarray(golds)
        if preds is None:
            if probs is None:
                fail("Scorer.score(preds, probs)", "needs preds or probs", None, "pass at least one of them.")
            preds = np.asarray(probs).argmax(axis=1)
        preds = np.asarray(preds)
        probs = np.asarray(probs) if probs is not None else np.empty((len(golds), 0))
        if len(golds) == 0:
            fail("Scorer.score(golds)", "must hold at least one label", golds, "score a non-empty split.")
        if len(preds) != len(golds) or len(probs) != len(golds):
            fail(
                "Scorer.score(golds, preds, probs)",
                "must have equal lengths",
                f"golds={len(golds)}, preds={len(preds)}, probs={len(probs)}",
                "pass predictions for exactly the scored points.",
                raw=True,
            )
        labelled = golds != -1
        results: dict[str, float] = {}
        covered = preds[labelled] != self.abstain_label
        keep = labelled if self.abstain_label is None else labelled & (preds != self.abstain_label)
        golds, preds, probs = golds[keep], preds[keep], probs[keep]
        for metric in self.metrics:  # in the order asked for, as Snorkel does
            if metric == "coverage":
                results[metric] = float(covered.mean()) if covered.size else math.nan
            else:
                if metric in BINARY_ONLY:
                    _check_binary(metric, golds, preds)
                results[metric] = METRICS[metric](golds, preds, probs) if golds.size else math.nan
        for key, func in self.custom_metric_funcs.items():
            value = func(golds, preds, probs)
            if isinstance(value, Mapping):
                results.update({str(k): float(v) for k, v in value.items()})
            else:
                results[key] = float(value)
        return results
