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
from mtl_teach._probe import call_once, check_function, describe, function_name

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
        or a dict of name -> float; ``golds`` and ``preds`` are numpy arrays
        of shape ``(n,)``, ``probs`` ``(n, n_classes)``. A function that takes
        other arguments is refused here; one that raises, or returns anything
        but numbers, is named in the error.
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
        if custom_metric_funcs is not None and not isinstance(custom_metric_funcs, Mapping):
            fail(
                "Scorer(custom_metric_funcs)",
                "must be a dict of name -> f(golds, preds, probs)",
                custom_metric_funcs,
                'pass e.g. {"error_rate": lambda golds, preds, probs: float((golds != preds).mean())}.',
            )
        funcs = dict(custom_metric_funcs or {})
        for key, func in funcs.items():
            check_function(f"Scorer(custom_metric_funcs[{key!r}])", func, METRIC_CALL, 3, METRIC_FIX)
        # A plain dict, shown read-only by the property: a mappingproxy cannot be pickled,
        # and copy.deepcopy and torch.save of a model pickle its tasks' scorers.
        self._custom_metric_funcs: dict[str, MetricFunc] = funcs
        self.abstain_label = abstain_label

    @property
    def custom_metric_funcs(self) -> Mapping[str, MetricFunc]:
        """Name -> your metric function, read-only."""
        return MappingProxyType(self._custom_metric_funcs)

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
        for key, func in self._custom_metric_funcs.items():
            where = f"Scorer custom metric {key!r} ({function_name(func)})"
            args = {"golds": golds, "preds": preds, "probs": probs}
            value = call_once(where, func, args, METRIC_FIX, name=key)
            results.update(_metric_values(where, key, value))
        return results


METRIC_CALL = "f(golds, preds, probs)"
METRIC_FIX = (
    "write it as f(golds, preds, probs) -> float, taking numpy arrays (golds and preds of shape (n,), "
    "probs of shape (n, n_classes)), e.g. lambda golds, preds, probs: float(np.mean(golds == preds))."
)


def _metric_values(where: str, key: str, value: Any) -> dict[str, float]:
    # A custom metric returns one number (stored under its key) or a dict of name -> number.
    items = value.items() if isinstance(value, Mapping) else [(key, value)]
    results = {}
    for name, number in items:
        try:
            if isinstance(number, str | bytes) or np.ndim(number) != 0:
                raise TypeError("not a single number")
            results[str(name)] = float(number)
        except (TypeError, ValueError) as error:
            fail(
                where,
                "must return a number, or a dict of name -> number",
                describe(value) if number is value else f"{describe(value)} whose {name!r} is {describe(number)}",
                "return one float, e.g. float(np.mean(golds == preds)), not an array or a list.",
                raw=True,
                cause=error,
            )
    return results
