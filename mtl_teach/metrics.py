"""Δm: how much better a multi-task model does than its single-task baselines, in one number.

The field's summary (Maninis et al. 2019; Vandenhende et al. 2021; LibMTL's
``count_improvement``): for every task t and each of its metrics m, the
relative change from the single-task baseline B to the multi-task model N,
signed so that better is positive; averaged over a task's metrics, then
over the tasks, in percent::

    Δm = 100% · (1/T) Σ_t (1/M_t) Σ_m s_m · (N_m − B_m) / B_m,   s_m = +1 if higher is better, else −1

Averaging per task first means a task scored with three metrics counts as
much as a task scored with one. A positive Δm says the multi-task model is
better *on average over all tasks*: one task may still have lost.

>>> results = {"a_task/D/test/accuracy": 0.9, "b_task/D/test/mse": 0.4}
>>> baselines = {"a_task/D/test/accuracy": 0.8, "b_task/D/test/mse": 0.5}
>>> delta_m(results, baselines)  # 100 · ½ · (0.1/0.8 + 0.1/0.5)
16.25
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Mapping
from fractions import Fraction

from mtl_teach._errors import fail, names

# Metric name -> True if higher is better. Names as the Scorer writes them
# (the last part of a score key) and the usual regression ones.
HIGHER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "coverage": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "f1_micro": True,
    "f1_macro": True,
    "fbeta": True,
    "matthews_corrcoef": True,
    "roc_auc": True,
    "r2": True,
    "mse": False,
    "rmse": False,
    "mae": False,
    "loss": False,
}

HigherIsBetter = bool | Mapping[str, bool] | None


def delta_m(
    results: Mapping[str, float], baselines: Mapping[str, float], higher_is_better: HigherIsBetter = None
) -> float:
    """Δm: the average relative improvement of ``results`` over ``baselines``, in percent.

    As LibMTL's ``count_improvement`` (there as a fraction, here times 100):
    the signed relative change of every metric, averaged over each task's
    metrics, then over the tasks. Positive: better than the baselines on
    average over the tasks.

    Parameters
    ----------
    results
        The multi-task model's scores, ``{"task/dataset/split/metric": value}``
        as ``model.score(...)`` returns them.
    baselines
        The single-task models' scores on the same keys (each task's from its
        own model), all from one split; every value > 0.
    higher_is_better
        None (default): from each key's metric name (accuracy, f1, precision,
        recall, roc_auc, matthews_corrcoef, r2: higher; mse, rmse, mae, loss:
        lower). True or False: the same for every key. A dict: per full score
        key or per metric name, e.g. ``{"my_error": False}``; names it lacks
        fall back to the default table.

    Returns
    -------
    float
        Δm in percent, e.g. 16.25 for +16.25 %.

    Raises
    ------
    MTLConfigError
        If the two key sets differ (naming the missing keys), keys are not
        ``task/dataset/split/metric`` or come from several splits, a value
        is not a finite number, a baseline is not > 0, or a metric's
        direction is unknown (pass ``higher_is_better``).

    Examples
    --------
    >>> delta_m({"a_task/D/test/accuracy": 0.9, "b_task/D/test/mse": 0.4},
    ...         {"a_task/D/test/accuracy": 0.8, "b_task/D/test/mse": 0.5})
    16.25
    """
    deltas = _task_deltas(results, baselines, higher_is_better, "delta_m")
    return float(sum(deltas.values()) / len(deltas))


def task_deltas(
    results: Mapping[str, float], baselines: Mapping[str, float], higher_is_better: HigherIsBetter = None
) -> dict[str, float]:
    """Each task's relative improvement over its baseline, in percent, averaged over its metrics.

    :func:`delta_m` is the mean of these. Same arguments and errors as :func:`delta_m`; the per-task deltas
    show which task gained and which lost.

    Returns
    -------
    dict
        Task name -> ``100 · (1/M_t) Σ_m s_m (N_m − B_m) / B_m``, in the order the tasks first appear in ``baselines``.
    """
    return {
        task: float(delta) for task, delta in _task_deltas(results, baselines, higher_is_better, "task_deltas").items()
    }


def _task_deltas(
    results: Mapping[str, float], baselines: Mapping[str, float], higher_is_better: HigherIsBetter, where: str
) -> dict[str, Fraction]:
    # Checks both dicts, then each task's mean signed relative change, exact (Fractions).
    results = _check_scores(f"{where}(results)", results)
    baselines = _check_scores(f"{where}(baselines)", baselines)
    missing = [key for key in baselines if key not in results]
    extra = [key for key in results if key not in baselines]
    if missing or extra:
        said = "; ".join(
            part
            for part in (
                f"results lack {names(missing)}" if missing else "",
                f"baselines lack {names(extra)}" if extra else "",
            )
            if part
        )
        fail(
            f"{where}(results, baselines)",
            "must score the same keys (task/dataset/split/metric), each model on the same tasks and metrics",
            said,
            "score both on the same data, or keep the shared keys: {k: v for k, v in results.items() if k in baselines}.",
            raw=True,
        )
    splits = sorted({key.split("/")[2] for key in baselines})
    if len(splits) > 1:
        fail(
            f"{where}(results, baselines)",
            "must come from one split (Δm compares the models on the same data)",
            f"keys from the splits {names(splits)}",
            'keep one split, e.g. {k: v for k, v in scores.items() if k.split("/")[2] == "test"}.',
            raw=True,
        )
    # Exact arithmetic on the scores as written (Python's shortest repr, e.g. 0.9 -> 9/10), rounded
    # once at the end: hand computations match to the last digit (16.25, not 16.249999999999996).
    per_task: dict[str, list[Fraction]] = {}
    for key, base in baselines.items():
        if base <= 0:
            fail(
                f"{where}(baselines)[{key!r}]",
                "must be > 0: Δm divides by the baseline (zero has no relative change; a negative one flips the sign)",
                base,
                "compare on a metric whose baseline is positive (e.g. accuracy, or mse rather than r2 when r2 <= 0).",
            )
        sign = 1 if _higher_is_better(key, higher_is_better, where) else -1
        new, old = Fraction(repr(results[key])), Fraction(repr(base))
        per_task.setdefault(key.split("/")[0], []).append(sign * (new - old) / old)
    return {task: 100 * sum(changes) / len(changes) for task, changes in per_task.items()}


def _check_scores(where: str, scores: Mapping[str, float]) -> dict[str, float]:
    # A dict of finite numbers under task/dataset/split/metric keys; numpy and 0-d torch values too.
    if not isinstance(scores, Mapping) or not scores:
        fail(
            where,
            "must be a non-empty dict of scores {'task/dataset/split/metric': value}",
            scores if not isinstance(scores, Mapping) else "{}",
            "pass model.score(dataloaders), or a dict built from it.",
            raw=isinstance(scores, Mapping),
        )
    checked = {}
    for key, value in scores.items():
        if not isinstance(key, str) or key.count("/") != 3 or "" in key.split("/"):
            fail(
                f"{where} key",
                "must be a score key 'task/dataset/split/metric'",
                key,
                "use the keys model.score() returns, e.g. 'left_task/multiDigits/test/accuracy'.",
            )
        number = value
        if not isinstance(value, numbers.Real) and hasattr(value, "item"):  # a 0-d torch tensor or numpy array
            with contextlib.suppress(ValueError, RuntimeError):  # raised for more than one element
                number = value.item()
        if isinstance(number, bool) or not isinstance(number, numbers.Real) or not math.isfinite(number):
            fail(
                f"{where}[{key!r}]",
                "must be a finite number",
                value,
                "score the model again; a NaN score usually means the task had no labelled test examples.",
            )
        checked[key] = float(number)
    return checked


def _higher_is_better(key: str, higher_is_better: HigherIsBetter, where: str) -> bool:
    metric = key.split("/")[3]
    if higher_is_better is None:
        table: Mapping[str, bool] = {}
    elif isinstance(higher_is_better, bool):
        return higher_is_better
    elif isinstance(higher_is_better, Mapping):
        table = higher_is_better
    else:
        fail(
            f"{where}(higher_is_better)",
            "must be None, True, False, or a dict {key or metric name: bool}",
            higher_is_better,
            'pass e.g. {"mse": False}, or leave it None for the known metrics.',
        )
    for name in (key, metric):
        if name in table:
            value = table[name]
            if not isinstance(value, bool):
                fail(
                    f"{where}(higher_is_better)[{name!r}]",
                    "must be True (higher is better) or False (lower is better)",
                    value,
                    f"pass {{{name!r}: True}} or {{{name!r}: False}}.",
                )
            return value
    if metric in HIGHER_IS_BETTER:
        return HIGHER_IS_BETTER[metric]
    fail(
        f"{where}(higher_is_better)",
        f"must say whether a higher {metric!r} is better (known metrics: {names(HIGHER_IS_BETTER)})",
        None if higher_is_better is None else higher_is_better,
        f"pass higher_is_better={{{metric!r}: True}} (or False when lower is better).",
    )
