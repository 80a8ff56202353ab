"""Real data that ships with the kit: multi-task data sets made from scikit-learn's handwritten digits.

Nothing is downloaded. Every data set is built, from a seed, out of the 1797
real 8x8 digits inside the scikit-learn wheel (``load_digits``, never a
``fetch_*``), in a fraction of a second:

=====================  =========================================  =====================================
name                   input                                      tasks
=====================  =========================================  =====================================
``"multi_digits"``     two overlapping digits, ``(1, 10, 12)``    ``left_task``, ``right_task`` (10-way)
``"digit_attributes"`` one rotated digit, ``(1, 12, 12)``         ``digit_task`` (10-way), ``parity_task``,
                                                                  ``greater_than_4_task`` (2-way),
                                                                  ``angle_task`` (regression, degrees)
=====================  =========================================  =====================================

``load(name, n_labelled=50)`` is the low-label setting: only 50 training
examples keep the main task's label (-1 marks the others), while the other
tasks keep all of theirs. Train, valid and test are made from disjoint
source digits, so the test never shows a training picture.

>>> from mtl_teach import datasets
>>> data = datasets.load("multi_digits", seed=0)
>>> train_loader, valid_loader, test_loader = data.dataloaders(batch_size=64)
>>> data.task("left_task").n_classes, data.input_shape
(10, (1, 10, 12))

Labels follow the kit's conventions: a classification task's labels are
int64 class ids, -1 where missing; a regression task's are float32, NaN
where missing (the core learns to train on them in issue 24, part 2; until
then train the classification tasks, e.g. ``data.select_tasks([...])``).
Each data set's docstring (:func:`load_multi_digits`,
:func:`load_digit_attributes`) gives its sizes, tasks and measured
single-task baselines.
"""

from __future__ import annotations

from collections.abc import Callable

from mtl_teach._errors import fail, names
from mtl_teach.datasets.digit_attributes import load_digit_attributes
from mtl_teach.datasets.multi_digits import load_multi_digits
from mtl_teach.datasets.splits import DatasetSplits, TaskInfo

# name -> maker; each maker's own docstring documents its data set
LOADERS: dict[str, Callable[..., DatasetSplits]] = {
    "multi_digits": load_multi_digits,
    "digit_attributes": load_digit_attributes,
}


def available() -> list[str]:
    """Return the names of the data sets :func:`load` knows, e.g. ``["multi_digits", "digit_attributes"]``."""
    return list(LOADERS)


def load(name: str, seed: int = 0, *, n_train: int | None = None, n_labelled: int | None = None) -> DatasetSplits:
    """Make data set ``name``: its train, valid and test DictDatasets and their metadata.

    Parameters
    ----------
    name
        One of :func:`available`: ``"multi_digits"`` or ``"digit_attributes"``.
    seed
        Integer >= 0: the split of the source digits and everything drawn
        from them. The same seed gives the same data on every machine.
    n_train
        Training examples; None for the data set's default (multi_digits:
        5000 pairs; digit_attributes: each of its 1078 training digits once).
    n_labelled
        The low-label setting: only this many training examples keep the
        main task's label (``data.main_task``: ``left_task`` or
        ``digit_task``), spread evenly over its classes; the rest get -1.
        None (default) keeps every label.

    Returns
    -------
    DatasetSplits
        ``.train``, ``.valid``, ``.test`` (unpack them: ``train, valid, test = data``),
        ``.dataloaders(batch_size)``, ``.tasks`` (a :class:`TaskInfo` per task:
        kind, ``n_classes``, ``n_outputs``), ``.input_key``, ``.input_shape``,
        ``.dataset_name`` and ``.source_index``.

    Raises
    ------
    MTLConfigError
        For an unknown name, or a seed, ``n_train`` or ``n_labelled`` that is
        not an integer in its range (numpy integers are fine).
    """
    if not isinstance(name, str) or name not in LOADERS:
        close = [known for known in LOADERS if isinstance(name, str) and name.lower().replace("-", "_") == known]
        fix = f"did you mean {close[0]!r}?" if close else f"pass one of {names(LOADERS)}."
        fail("datasets.load(name)", f"must be one of {names(LOADERS)}", name, fix)
    if n_train is None:
        return LOADERS[name](seed, n_labelled=n_labelled)
    return LOADERS[name](seed, n_train=n_train, n_labelled=n_labelled)


__all__ = ["DatasetSplits", "TaskInfo", "available", "load", "load_digit_attributes", "load_multi_digits"]
