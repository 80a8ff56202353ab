"""DictDataset and DictDataLoader: inputs and labels as dicts of tensors.

A batch is ``(X_dict, Y_dict)``: ``X_dict`` maps a field name to a batch of
inputs (e.g. ``"circle_data" -> (32, 2)``) and ``Y_dict`` maps a *task name*
to a batch of integer labels (e.g. ``"circle_task" -> (32,)``). The label key
is how the model knows which task's head a batch trains.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from mtl_teach._errors import check_choice, fail, names
from mtl_teach._validation import as_list, is_integer, is_number

SPLITS = ("train", "valid", "test")
EVAL_BATCH_SIZE = 4096  # eval_batches() cuts tensor datasets into chunks this big
XDict = dict[str, Any]
YDict = dict[str, torch.Tensor]
Batch = tuple[XDict, YDict]


def _as_labels(where: str, labels: Any) -> torch.Tensor:
    # Labels must be integer class ids (-1 = unlabelled); cross-entropy would
    # otherwise fail deep inside torch with "expected scalar type Long".
    if isinstance(labels, np.ndarray):
        if not np.issubdtype(labels.dtype, np.integer):
            fail(
                where,
                "must hold integer class labels",
                f"a numpy array of dtype {labels.dtype}",
                "convert with labels.astype(int).",
                raw=True,
            )
        labels = torch.from_numpy(labels)
    if not isinstance(labels, torch.Tensor):
        fail(
            where,
            "must be a tensor of integer class labels",
            type(labels).__name__,
            "wrap it, e.g. torch.LongTensor(labels).",
            raw=True,
        )
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        fail(
            where,
            "must hold integer class labels (torch.long)",
            f"dtype {labels.dtype}",
            "use torch.LongTensor(labels) or labels.long().",
            raw=True,
        )
    if labels.dim() != 1:
        fail(
            where,
            "must be 1-D, one class label per example",
            f"shape {tuple(labels.shape)}",
            "flatten it, e.g. labels.view(-1).",
            raw=True,
        )
    if labels.numel() and int(labels.min()) < -1:
        fail(
            where,
            "must hold class ids >= 0, or -1 for 'no label'",
            f"minimum {int(labels.min())}",
            "relabel classes as 0, 1, ..., n_classes - 1.",
            raw=True,
        )
    return labels.long()


def _as_inputs(where: str, values: Any) -> Any:
    # numpy float64 arrays would clash with float32 weights; convert them.
    if isinstance(values, np.ndarray):
        tensor = torch.from_numpy(values)
        values = tensor.float() if tensor.dtype == torch.float64 else tensor
    if not isinstance(values, torch.Tensor | list | tuple):
        fail(
            where,
            "must be a tensor, numpy array or list",
            type(values).__name__,
            "wrap it, e.g. torch.FloatTensor(x).",
            raw=True,
        )
    if isinstance(values, list | tuple):
        # A list stays a list (Snorkel passes e.g. strings to custom modules), but a
        # list of number rows is a matrix a module can only take as a tensor: say so
        # now, not as "must be Tensor, not list" from inside the first module.
        if values and all(isinstance(row, list | tuple) and row and _numbers(row) for row in values):
            fail(
                where,
                "must be a tensor when it holds numbers (modules take tensors)",
                f"a {type(values).__name__} of {len(values)} {type(values[0]).__name__}s of numbers",
                "wrap it, e.g. torch.tensor(x, dtype=torch.float32), or pass a numpy array.",
                raw=True,
            )
        return values
    if values.is_floating_point() and values.numel() and not bool(torch.isfinite(values).all()):
        # NaN or inf rows would train to NaN and score as silently wrong predictions.
        bad_rows = (~torch.isfinite(values.reshape(len(values), -1))).any(dim=1).nonzero().flatten()
        fail(
            where,
            "must hold finite numbers (no NaN or inf)",
            f"{len(bad_rows)} of {len(values)} rows with NaN or inf, the first at row {int(bad_rows[0])}",
            "drop those rows (e.g. X[torch.isfinite(X).all(dim=1)], with their labels) or fill in the values.",
            raw=True,
        )
    return values


def _numbers(row: list | tuple) -> bool:
    return all(is_number(value) for value in row)


class DictDataset(Dataset[Batch]):
    """A dataset whose items are ``(x_dict, y_dict)`` pairs.

    Parameters
    ----------
    name
        Dataset name, used in score keys ``task/dataset/split/metric``.
    split
        One of ``"train"``, ``"valid"``, ``"test"``.
    X_dict
        Field name -> inputs, first dimension = number of examples.
    Y_dict
        Task name -> integer labels of shape ``(n,)``; -1 means "no label".

    Raises
    ------
    MTLConfigError
        For a bad name or split; inputs that are not tensors, arrays or lists,
        or lists of number rows (pass a tensor); float inputs with NaN or inf;
        labels that are not integer class ids; fields of different lengths; no examples.
    """

    def __init__(self, name: str, split: str, X_dict: Mapping[str, Any], Y_dict: Mapping[str, Any]) -> None:
        if not isinstance(name, str) or not name:
            fail("DictDataset(name)", "must be a non-empty string", name, 'pass e.g. "circleDataset".')
        check_choice(f"DictDataset({name!r}, split)", split, SPLITS)
        if not isinstance(X_dict, Mapping) or not isinstance(Y_dict, Mapping):
            fail(
                f"DictDataset({name!r}) X_dict/Y_dict",
                "must be dicts",
                (type(X_dict).__name__, type(Y_dict).__name__),
                'pass e.g. {"circle_data": X} and {"circle_task": Y}.',
            )
        self.name = name
        self.split = split
        self.X_dict: XDict = {k: _as_inputs(f"DictDataset({name!r}) X_dict[{k!r}]", v) for k, v in X_dict.items()}
        self.Y_dict: YDict = {k: _as_labels(f"DictDataset({name!r}) Y_dict[{k!r}]", v) for k, v in Y_dict.items()}
        if not self.X_dict and not self.Y_dict:
            fail(f"DictDataset({name!r}) X_dict", "must hold at least one field", {}, "pass your inputs.")
        lengths = {f"X_dict[{k!r}]": len(v) for k, v in self.X_dict.items()}
        lengths.update({f"Y_dict[{k!r}]": len(v) for k, v in self.Y_dict.items()})
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            fail(
                f"DictDataset({name!r}) X_dict and Y_dict",
                "must have the same number of examples in every field",
                shown,
                "pass inputs and labels of the same examples.",
                raw=True,
            )
        self._length = next(iter(lengths.values()))
        if self._length == 0:
            fail(
                f"DictDataset({name!r}) X_dict and Y_dict",
                "must hold at least one example",
                "0 examples",
                "check how the split was cut, e.g. X[800:900] of a 1000-point array.",
                raw=True,
            )

    @classmethod
    def from_tensors(
        cls,
        X_tensor: torch.Tensor,
        Y_tensor: torch.Tensor,
        split: str,
        input_data_key: str = "input_data",
        task_name: str = "task",
        dataset_name: str = "default_dataset_name",
    ) -> DictDataset:
        """Build a one-field, one-task dataset from two tensors.

        Parameters
        ----------
        X_tensor, Y_tensor
            Inputs ``(n, ...)`` and integer labels ``(n,)``.
        split
            One of ``"train"``, ``"valid"``, ``"test"``.
        input_data_key, task_name
            The ``X_dict`` field and the ``Y_dict`` key (the task's name).
        dataset_name
            Dataset name, used in score keys.
        """
        return cls(dataset_name, split, {input_data_key: X_tensor}, {task_name: Y_tensor})

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> Batch:
        x_dict = {k: v[index] for k, v in self.X_dict.items()}
        y_dict = {k: v[index] for k, v in self.Y_dict.items()}
        return x_dict, y_dict

    def __repr__(self) -> str:
        def describe(value: Any) -> str:
            if isinstance(value, torch.Tensor):
                return f"{tuple(value.shape)} {str(value.dtype).removeprefix('torch.')}"
            return f"{type(value).__name__}[{len(value)}]"

        xs = ", ".join(f"{k!r}: {describe(v)}" for k, v in self.X_dict.items())
        ys = ", ".join(f"{k!r}: {describe(v)}" for k, v in self.Y_dict.items())
        return f"DictDataset(name={self.name!r}, split={self.split!r}, n={len(self)}, X_dict={{{xs}}}, Y_dict={{{ys}}})"


def collate_dicts(batch: Sequence[Batch]) -> Batch:
    """Stack a list of ``(x_dict, y_dict)`` items into one batch.

    Tensors are stacked along a new first dimension; other values become lists.

    Parameters
    ----------
    batch
        Items as returned by ``DictDataset[i]``.
    """
    X_dict: XDict = {}
    Y_dict: YDict = {}
    for key in batch[0][0]:
        values = [x[key] for x, _ in batch]
        X_dict[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    for key in batch[0][1]:
        Y_dict[key] = torch.stack([y[key] for _, y in batch])
    return X_dict, Y_dict


class DictDataLoader(DataLoader[Batch]):
    """A :class:`torch.utils.data.DataLoader` over a :class:`DictDataset`.

    When the data are tensors, batches are cut from them with one indexing
    call per field instead of item-by-item collation: same batches, same
    order, several times less overhead.

    Parameters
    ----------
    dataset
        The :class:`DictDataset` to load.
    collate_fn
        How items become a batch; :func:`collate_dicts` by default.
    **kwargs
        Any ``DataLoader`` keyword: ``batch_size``, ``shuffle``, ...

    Raises
    ------
    MTLConfigError
        If ``dataset`` is not a :class:`DictDataset`, ``batch_size`` is not an integer >= 1
        (None included), or ``collate_fn`` is not callable (e.g. a batch size passed by position).
    """

    dataset: DictDataset

    def __init__(self, dataset: DictDataset, collate_fn: Any = collate_dicts, **kwargs: Any) -> None:
        if not isinstance(dataset, DictDataset):
            fail(
                "DictDataLoader(dataset)",
                "must be a DictDataset",
                type(dataset).__name__,
                "wrap your data: DictDataset(name, split, X_dict, Y_dict).",
                raw=True,
            )
        if not callable(collate_fn):
            fail(
                "DictDataLoader(collate_fn)",
                "must be a function that makes a batch of items",
                collate_fn,
                "pass the batch size by name: DictDataLoader(dataset, batch_size=32).",
            )
        batch_size = kwargs.get("batch_size", 1)
        if not is_integer(batch_size) or batch_size < 1:
            # None (torch's "no batching") would hand collate_dicts single items, not lists.
            fail(
                "DictDataLoader(batch_size)",
                "must be an integer >= 1",
                batch_size,
                "pass e.g. batch_size=32 (the examples per step).",
            )
        if "batch_size" in kwargs:
            kwargs["batch_size"] = int(batch_size)  # torch's sampler takes no numpy integers
        super().__init__(dataset, collate_fn=collate_fn, **kwargs)

    def _fast(self) -> bool:
        data = self.dataset
        return (
            self.num_workers == 0
            and self.collate_fn is collate_dicts
            and self.batch_sampler is not None
            and not self.pin_memory
            and all(isinstance(v, torch.Tensor) for v in (*data.X_dict.values(), *data.Y_dict.values()))
        )

    def __iter__(self) -> Iterator[Batch]:  # type: ignore[override]
        if not self._fast():
            return super().__iter__()
        # torch's own iterator draws a base seed from the loader's generator
        # (or the global RNG) when it is created; draw it too, so shuffles and
        # every later random number match the standard path exactly.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        return self._iter_tensors()

    def _iter_tensors(self) -> Iterator[Batch]:
        data = self.dataset
        # Only torch's own BatchSampler over a SequentialSampler yields runs of
        # consecutive indices; a custom batch_sampler may yield any indices.
        batches = self.batch_sampler
        contiguous = type(batches) is BatchSampler and isinstance(batches.sampler, SequentialSampler)
        if type(batches) is BatchSampler and type(batches.sampler) is RandomSampler and self.generator is None:
            # A shuffled epoch: draw every batch's indices up front (the sampler
            # seeds a private generator at its first draw, as when iterated),
            # gather each field once, and yield views: the same batches, one
            # copy per epoch instead of one per batch.
            plan = list(batches)
            order = torch.as_tensor([i for indices in plan for i in indices])
            X_dict = {k: v[order] for k, v in data.X_dict.items()}
            Y_dict = {k: v[order] for k, v in data.Y_dict.items()}
            start = 0
            for indices in plan:
                part = slice(start, start + len(indices))
                start += len(indices)
                yield ({k: v[part] for k, v in X_dict.items()}, {k: v[part] for k, v in Y_dict.items()})
            return
        for indices in self.batch_sampler:
            # A sequential batch is a slice (a view, no copy); a shuffled one
            # is gathered with a single index tensor per field.
            index: slice | torch.Tensor = slice(indices[0], indices[-1] + 1) if contiguous else torch.as_tensor(indices)
            yield ({k: v[index] for k, v in data.X_dict.items()}, {k: v[index] for k, v in data.Y_dict.items()})

    def __repr__(self) -> str:
        return f"DictDataLoader({self.dataset.name!r}, split={self.dataset.split!r}, n={len(self.dataset)}, batch_size={self.batch_size}, tasks={names(self.dataset.Y_dict)})"


def loader_list(where: str, dataloaders: Any) -> list[DictDataLoader]:
    """One loader, or an iterable of loaders read once (a generator too), as a list; else a clear error.

    Parameters
    ----------
    where
        The parameter named in messages, e.g. ``"Trainer.fit(dataloaders)"``.
    dataloaders
        A :class:`DictDataLoader` or an iterable of them.
    """
    if isinstance(dataloaders, DictDataLoader):
        return [dataloaders]
    rule, fix = "must be a list of DictDataLoader", "wrap each dataset: DictDataLoader(dataset, batch_size=32)."
    if isinstance(dataloaders, Mapping):
        # Iterating a dict gives its keys: say what to pass instead of failing on a key.
        fail(
            where, rule, f"a dict with keys {names(dataloaders)}", "pass its values: list(loaders.values()).", raw=True
        )
    loaders = as_list(where, dataloaders, rule, "pass e.g. [train_loader, valid_loader].")
    for loader in loaders:
        if not isinstance(loader, DictDataLoader):
            fail(where, rule, type(loader).__name__, fix, raw=True)
    return loaders


def labelled_sample(loader: DictDataLoader, label: str, n: int = 8) -> Batch | None:
    """The first ``n`` examples of the loader's dataset that carry ``label`` (not -1), as one batch.

    The batch is made by the loader's own ``collate_fn``, without iterating
    the loader: no random number is drawn, so a training run that follows is
    exactly as it would have been. None when no example carries the label.

    Parameters
    ----------
    loader
        A :class:`DictDataLoader`.
    label
        A key of its dataset's ``Y_dict``.
    n
        At most this many examples.
    """
    data = loader.dataset
    index = (data.Y_dict[label] != -1).nonzero().flatten()[:n].tolist()
    if not index:
        return None
    return loader.collate_fn([data[i] for i in index])


def label_ranges(Y_dict: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Return ``(lowest, highest)`` label of each non-empty label tensor.

    Parameters
    ----------
    Y_dict
        Label key -> labels, e.g. a :class:`DictDataset`'s ``Y_dict``.
    """
    ranges = {}
    for key, Y in Y_dict.items():
        if isinstance(Y, torch.Tensor) and Y.numel() and not Y.is_floating_point():
            low, high = torch.aminmax(Y)
            ranges[key] = (int(low), int(high))
    return ranges


def eval_batches(dataloader: DictDataLoader) -> Iterator[Batch]:
    """Yield the loader's data in big slices (tensor data) or its own batches.

    In eval mode examples are independent, so slices of ``EVAL_BATCH_SIZE``
    give the same predictions as the loader's batches with far fewer Python
    steps; non-tensor data go through the loader as usual.

    Parameters
    ----------
    dataloader
        The loader whose whole dataset is to be run once, in order.
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
