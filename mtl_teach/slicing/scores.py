"""Score any model on slices, and compare models slice by slice.

:meth:`SliceAwareClassifier.score_slices` and these helpers share one
rule: the ``{task}_slice:{slice}_pred`` labels (the base labels, kept only
on the slice's members) are scored with the *base task's* predictions, and
the indicator labels are skipped. So a plain :class:`~mtl_teach.MultitaskClassifier`
with the base task can be scored on the same slices, and the numbers of
the two models compare like for like.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mtl_teach._errors import fail, import_pandas, names
from mtl_teach.data import DictDataLoader, DictDataset, loader_list
from mtl_teach.slicing.tasks import add_slice_labels, ind_task_name, pred_task_name, slice_names_of, with_base_slice

if TYPE_CHECKING:
    from mtl_teach.model import MultitaskClassifier


def slice_remap(task_name: str, slice_names: Sequence[str]) -> dict[str, str | None]:
    """``remap_labels`` that scores each slice's ``_pred`` labels with the base task and skips ``_ind``."""
    remap: dict[str, str | None] = {}
    for slice_name in slice_names:
        remap[pred_task_name(task_name, slice_name)] = task_name
        remap[ind_task_name(task_name, slice_name)] = None
    return remap


def score_on_slices(
    model: MultitaskClassifier,
    dataloaders: Sequence[DictDataLoader] | DictDataLoader,
    slice_names: Sequence[str],
    *,
    task_name: str = "task",
    as_dataframe: bool = False,
) -> Any:
    """Score ``model``'s base task on every slice (see the module doc).

    Parameters
    ----------
    model
        Any model with a task ``task_name`` (plain or slice-aware).
    dataloaders
        Loaders whose datasets carry the slice labels, e.g. from
        :meth:`SliceAwareClassifier.make_slice_dataloader`.
    slice_names
        The slices; ``"base"`` (every point) is added if missing.
    task_name
        The base task.
    as_dataframe
        Return a pandas DataFrame instead of a dict.

    Returns
    -------
    dict or pandas.DataFrame
        ``{"{task}_slice:{slice}_pred/dataset/split/metric": value}`` per
        slice, plus the base task's own ``"{task}/dataset/split/metric"``.
    """
    if task_name not in model.tasks:
        fail(
            "score_on_slices(task_name)",
            f"must name a task of the model (tasks: {names(model.tasks)})",
            task_name,
            "pass the base task's name.",
        )
    dataloaders = loader_list("score_slices(dataloaders)", dataloaders)  # read twice below: a generator too
    slices = with_base_slice(slice_names, "score_on_slices(slice_names)")
    for loader in dataloaders:
        labels = getattr(getattr(loader, "dataset", None), "Y_dict", {})
        missing = [s for s in slices if task_name in labels and pred_task_name(task_name, s) not in labels]
        if missing:
            fail(
                f"score_slices: dataset {loader.dataset.name!r} ({loader.dataset.split})",
                f"has no labels for slice {missing[0]!r}, so its slice scores would be silently left out",
                list(labels),
                "build the loader with model.make_slice_dataloader(dataset, S).",
            )
    remap = slice_remap(task_name, slices)
    return model.score(dataloaders, remap_labels=remap, as_dataframe=as_dataframe)


def compare_slice_scores(
    models: Mapping[str, MultitaskClassifier],
    dataset: DictDataset,
    S: Any,
    *,
    task_name: str = "task",
    metric: str = "accuracy",
) -> Any:
    """One table: each model's ``metric`` on all points and on each slice.

    Parameters
    ----------
    models
        ``{column name: model}``; each must have the task ``task_name``.
    dataset
        Holds the base task's labels under ``task_name``; not modified.
    S
        Its slice matrix, from :func:`apply_slicing_functions`.
    task_name
        The base task.
    metric
        A metric of the base task's scorer.

    Returns
    -------
    pandas.DataFrame
        One row per slice (``base`` = all points), a column ``n`` with the
        slice's size, then one column per model.
    """
    pandas = import_pandas("compare_slice_scores()", instead="score the models one by one with model.score_slices(...)")
    if not isinstance(models, Mapping) or not models:
        fail(
            "compare_slice_scores(models)",
            "must be a non-empty dict {name: model}",
            models,
            'pass e.g. {"plain": plain, "slice-aware": model}.',
        )
    slices = with_base_slice(slice_names_of(S), "compare_slice_scores(S)")
    loader = DictDataLoader(add_slice_labels(dataset, task_name, S, slices), batch_size=len(dataset))
    columns: dict[str, list[Any]] = {
        "n": [int(loader.dataset.Y_dict[ind_task_name(task_name, s)].sum()) for s in slices]
    }
    for column, model in models.items():
        scores = score_on_slices(model, loader, slices, task_name=task_name)
        keys = [f"{pred_task_name(task_name, s)}/{dataset.name}/{dataset.split}/{metric}" for s in slices]
        if keys[0] not in scores:
            fail(
                "compare_slice_scores(metric)",
                "must be a metric of the base task's scorer",
                metric,
                f"pick one of {names({k.rsplit('/', 1)[1] for k in scores})}.",
            )
        columns[column] = [scores[key] for key in keys]
    return pandas.DataFrame(columns, index=pandas.Index(slices, name="slice"))
