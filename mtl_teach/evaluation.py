"""Prediction and scoring for a MultitaskClassifier (its ``predict``/``score``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mtl_teach.data import Batch, DictDataLoader
from mtl_teach.model_checks import check_labels

if TYPE_CHECKING:
    from mtl_teach.model import MultitaskClassifier

EVAL_BATCH_SIZE = 4096  # predict() cuts tensor datasets into chunks this big


def eval_batches(dataloader: DictDataLoader) -> Iterator[Batch]:
    """Yield the loader's data in big slices (tensor data) or its own batches.

    In eval mode examples are independent, so slices of ``EVAL_BATCH_SIZE``
    give the same predictions as the loader's batches with far fewer Python
    steps; non-tensor data go through the loader as usual.
    """
    data = dataloader.dataset
    values = [*data.X_dict.values(), *data.Y_dict.values()]
    if not all(isinstance(v, torch.Tensor) for v in values):
        yield from dataloader
        return
    step = max(EVAL_BATCH_SIZE, dataloader.batch_size or 1)
    for start in range(0, len(data), step):
        part = slice(start, start + step)
        yield ({k: v[part] for k, v in data.X_dict.items()}, {k: v[part] for k, v in data.Y_dict.items()})


def predict(
    model: MultitaskClassifier,
    dataloader: DictDataLoader,
    *,
    return_preds: bool = False,
    remap_labels: Mapping[str, str | None] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Return ``{"golds", "probs"[, "preds"]}``, each ``{label: array}``.

    Parameters
    ----------
    model
        The model to run, in eval mode (its mode is restored afterwards).
    dataloader
        The loader to predict; each ``Y_dict`` key names a task.
    return_preds
        Also return ``"preds"``, the argmax of the probabilities.
    remap_labels
        Label key -> task that predicts it (None: skip that label).

    Returns
    -------
    dict
        ``golds`` of shape ``(n,)``, ``probs`` ``(n, n_classes)`` (the task's
        ``output_func`` of its logits) and ``preds`` ``(n,)``, each a dict
        of label key -> numpy array.
    """
    where = f"{dataloader.dataset.name!r} Y_dict"
    label_tasks = model.label_tasks(dataloader.dataset.Y_dict, remap_labels, where=where)
    golds, probs = _run(model, dataloader, label_tasks)
    return assemble(label_tasks, golds, probs, return_preds=return_preds)


def record(
    model: MultitaskClassifier,
    label_tasks: Mapping[str, str],
    outputs: Mapping[str, torch.Tensor],
    Y_dict: Mapping[str, torch.Tensor],
    golds: dict[str, list[torch.Tensor]],
    probs: dict[str, list[torch.Tensor]],
) -> None:
    """Append one batch's labels and probabilities (the task's ``output_func``) per label.

    Parameters
    ----------
    model
        The model that made ``outputs``.
    label_tasks
        Label key -> task that predicts it.
    outputs
        Task -> logits of the batch, as ``model.forward`` returns them.
    Y_dict
        The batch's labels.
    golds, probs
        Label key -> list of batches, appended to.
    """
    for label, task_name in label_tasks.items():
        golds.setdefault(label, []).append(Y_dict[label])
        probs.setdefault(label, []).append(model.tasks[task_name].output_func(outputs[task_name]).float())


def assemble(
    label_tasks: Mapping[str, str],
    golds: Mapping[str, list[torch.Tensor]],
    probs: Mapping[str, list[torch.Tensor]],
    *,
    return_preds: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """Turn batches gathered by :func:`record` into :func:`predict`'s result.

    Parameters
    ----------
    label_tasks
        Label key -> task that predicts it (named in label errors).
    golds, probs
        Label key -> list of batches.
    return_preds
        Also return ``"preds"``, the argmax of the probabilities.
    """
    result = {
        "golds": {k: torch.cat(v).cpu().numpy() for k, v in golds.items()},
        "probs": {k: torch.cat(v).cpu().numpy() for k, v in probs.items()},
    }
    for label, task_name in label_tasks.items():
        # Training rejects a label its head has no output for; scoring must too,
        # or it reports an accuracy that quietly counts those points as wrong.
        golds_, probs_ = result["golds"][label], result["probs"][label]
        if golds_.size:
            check_labels(task_name, int(golds_.max()), probs_.ndim, probs_.shape[-1])
    if return_preds:
        result["preds"] = {k: v.argmax(axis=1) for k, v in result["probs"].items()}
    return result


def _run(
    model: MultitaskClassifier, dataloader: DictDataLoader, label_tasks: Mapping[str, str]
) -> tuple[dict[str, list[torch.Tensor]], dict[str, list[torch.Tensor]]]:
    task_names = list(dict.fromkeys(label_tasks.values()))
    golds: dict[str, list[torch.Tensor]] = {label: [] for label in label_tasks}
    probs: dict[str, list[torch.Tensor]] = {label: [] for label in label_tasks}
    was_training = model.training
    model.eval()
    # A `with` block, not torch's decorator: the decorator would put a frame
    # of torch's code into the traceback of every error raised here.
    try:
        with torch.inference_mode():
            for X_dict, Y_dict in eval_batches(dataloader):
                record(model, label_tasks, model.forward(X_dict, task_names), Y_dict, golds, probs)
    finally:
        model.train(was_training)
    return golds, probs


def score(
    model: MultitaskClassifier,
    dataloaders: Sequence[DictDataLoader] | DictDataLoader,
    *,
    remap_labels: Mapping[str, str | None] | None = None,
    as_dataframe: bool = False,
) -> Any:
    """Score every loader with its tasks' scorers: ``{"task/dataset/split/metric": value}``.

    With ``as_dataframe=True``, a pandas DataFrame with columns label,
    dataset, split, metric, score (a clear ImportError if pandas is missing).
    """
    pandas = _import_pandas() if as_dataframe else None
    if isinstance(dataloaders, DictDataLoader):
        dataloaders = [dataloaders]
    metrics: dict[str, float] = {}
    for loader in dataloaders:
        results = predict(model, loader, return_preds=True, remap_labels=remap_labels)
        data = loader.dataset
        for label, task_name in model.label_tasks(data.Y_dict, remap_labels).items():
            golds, preds, probs = results["golds"][label], results["preds"][label], results["probs"][label]
            for metric, value in model.tasks[task_name].scorer.score(golds, preds, probs).items():
                metrics[f"{label}/{data.name}/{data.split}/{metric}"] = value
    if pandas is not None:
        rows = [[*key.split("/"), value] for key, value in metrics.items()]
        return pandas.DataFrame(rows, columns=["label", "dataset", "split", "metric", "score"])
    return metrics


def _import_pandas() -> Any:
    try:
        import pandas
    except ImportError as error:
        raise ImportError(
            "score(as_dataframe=True) needs pandas, which is not installed. "
            "Fix: pip install pandas, or call score() without as_dataframe."
        ) from error
    return pandas
