"""MultitaskClassifier: many tasks over one pool of modules shared by name.

One class holds the whole model, as Snorkel's ``multitask_classifier.py``
does: building it from tasks, the forward pass, the loss, predicting and
scoring, saving and loading. The checks it makes on devices and labels sit
beside the code that needs them, at the end of this file.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch
from torch import nn

from mtl_teach._errors import check_choice, fail, import_pandas, names
from mtl_teach.data import DictDataLoader, eval_batches, label_ranges, labelled_sample, loader_list
from mtl_teach.graph import Node, compile_task, run_tasks
from mtl_teach.initialization import INIT_SCHEMES, initialize
from mtl_teach.task import Task

DEVICES = ("cpu", "cuda", "auto")


class MultitaskClassifier(nn.Module):
    """A multi-task classifier: tasks share modules whose names match.

    Parameters
    ----------
    tasks
        The tasks; each brings its module pool and op sequence.
    name
        Model name (shown in ``repr`` and saved checkpoints).
    device
        ``"cpu"`` (default), ``"cuda"`` or ``"auto"`` (CUDA when available).
    init
        How to (re)initialise the weights of modules as they join the model:
        ``"kaiming"`` (default) draws every ``nn.Linear`` with He-normal
        weights and zero bias, which keeps small ReLU trunks from starting
        with dead units (see :mod:`mtl_teach.initialization`); ``None``
        keeps your modules' weights exactly as they are.
    """

    def __init__(
        self,
        tasks: Iterable[Task],
        name: str | None = None,
        *,
        device: str = "cpu",
        init: str | None = "kaiming",
    ) -> None:
        super().__init__()
        if init is not None:
            check_choice("MultitaskClassifier(init)", init, INIT_SCHEMES)
        self.name = name or type(self).__name__
        self.device = _resolve_device(device)
        self.init = init
        self.module_pool = nn.ModuleDict()
        self.tasks: dict[str, Task] = {}
        self._plans: dict[str, tuple[Node, ...]] = {}
        self._outputs_checked: set[str] = set()  # tasks whose output_func passed Task.check_output
        if isinstance(tasks, Task):
            tasks = [tasks]
        for task in tasks:
            self.add_task(task)

    # ----------------------------------------------------------- structure
    def add_task(self, task: Task) -> None:
        """Add ``task``; its modules join the pool, shared with others by name.

        Parameters
        ----------
        task
            A :class:`~mtl_teach.Task` with a new name. A module under a name
            already in the pool must be that same object.
        """
        if not isinstance(task, Task):
            fail(
                "MultitaskClassifier.add_task(task)",
                "must be a Task",
                type(task).__name__,
                "build one with Task(name, module_pool, op_sequence).",
                raw=True,
            )
        if task.name in self.tasks:
            fail(
                "MultitaskClassifier.add_task(task)",
                f"must have a new name (tasks: {names(self.tasks)})",
                task.name,
                "rename the task, or remove_task() the old one first.",
            )
        for key, module in task.module_pool.items():
            if key in self.module_pool and self.module_pool[key] is not module:
                owners = [t.name for t in self.tasks.values() if key in t.module_pool]
                fail(
                    f"Task {task.name!r} module_pool[{key!r}]",
                    f"is a different module object from the {key!r} already used by {names(owners)}; modules are shared by name",
                    type(module).__name__,
                    f"pass the same {key!r} object to share it, or use another name to keep a separate module.",
                )
        new = [key for key in task.module_pool if key not in self.module_pool]
        for key in new:
            module = task.module_pool[key]
            if self.init is not None:
                initialize(module, self.init)
            self.module_pool[key] = module.to(self.device)
        self.tasks[task.name] = task
        self._plans[task.name] = compile_task(task)

    def remove_task(self, task_name: str) -> None:
        """Remove a task and every module no remaining task uses.

        Parameters
        ----------
        task_name
            The name of a task of the model.
        """
        if task_name not in self.tasks:
            fail(
                "MultitaskClassifier.remove_task(task_name)",
                f"must name a task of the model (tasks: {names(self.tasks)})",
                task_name,
                "pass one of those names.",
            )
        del self.tasks[task_name], self._plans[task_name]
        self._outputs_checked.discard(task_name)
        used = {key for task in self.tasks.values() for key in task.module_pool}
        for key in [k for k in self.module_pool if k not in used]:
            del self.module_pool[key]

    def __setstate__(self, state: dict[str, Any]) -> None:
        # copy.deepcopy and torch.load(..., weights_only=False) rebuild the model from its
        # __dict__. The plans' node ids are interned per process (graph._intern): compile them
        # again, so that a loaded model's ids agree with those of tasks added to it later.
        super().__setstate__(state)
        self._plans = {name: compile_task(task) for name, task in self.tasks.items()}
        self._outputs_checked = set()

    @property
    def task_names(self) -> list[str]:
        return list(self.tasks)

    @property
    def op_sequences(self) -> dict[str, tuple[Any, ...]]:
        return {name: task.op_sequence for name, task in self.tasks.items()}

    @property
    def scorers(self) -> dict[str, Any]:
        return {name: task.scorer for name, task in self.tasks.items()}

    def shared_modules(self) -> list[str]:
        """Names of modules used by more than one task."""
        return [k for k in self.module_pool if sum(k in t.module_pool for t in self.tasks.values()) > 1]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, tasks={list(self.tasks)}, "
            f"modules={list(self.module_pool)}, shared={self.shared_modules()}, device={str(self.device)!r})"
        )

    def readers(self, module_name: str) -> list[str]:
        """Names of the modules whose ops read ``module_name``'s output (e.g. a trunk's heads).

        Parameters
        ----------
        module_name
            A module of the pool.
        """
        found: dict[str, None] = {}
        for plan in self._plans.values():
            uids = {node.uid for node in plan if node.module_name == module_name}
            for node in plan:
                if any(uid in uids for _, uid, _ in node.sources):
                    found[node.module_name] = None
        return list(found)

    # -------------------------------------------------------------- forward
    def forward(self, X_dict: Mapping[str, Any], task_names: Sequence[str]) -> dict[str, Any]:
        """Return ``{task_name: output of its last op}`` (the logits).

        Parameters
        ----------
        X_dict
            Field name -> batch of inputs.
        task_names
            The tasks to run; ops they share run once.
        """
        return run_tasks(self.module_pool, self._plans, self._on_device(X_dict), task_names)

    def features(self, X_dict: Mapping[str, Any], task_name: str) -> Any:
        """Run ``task_name``'s ops except the last (its head): what the head reads.

        For the tutorial's tasks this is the shared trunk's output, shape
        ``(n, trunk width)``. Gradients flow as in :meth:`forward`; wrap the
        call in ``torch.no_grad()`` and :func:`evaluating` to inspect a model.

        Parameters
        ----------
        X_dict
            Field name -> batch of inputs.
        task_name
            A task of the model.

        Returns
        -------
        Any
            The output of the op before the head, or None when the head is the
            task's only op (it reads the inputs directly).
        """
        if task_name not in self.tasks:
            fail(
                "MultitaskClassifier.features(task_name)",
                f"must name a task of the model (tasks: {names(self.tasks)})",
                task_name,
                "pass one of those names.",
            )
        plan = self._plans[task_name][:-1]
        if not plan:
            return None
        return run_tasks(self.module_pool, {task_name: plan}, self._on_device(X_dict), [task_name])[task_name]

    def _on_device(self, X_dict: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.device.type == "cpu":
            return X_dict
        return {
            k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in X_dict.items()
        }

    # ----------------------------------------------------------------- loss
    def label_tasks(
        self, Y_dict: Mapping[str, Any], remap_labels: Mapping[str, str | None] | None = None, where: str = "Y_dict"
    ) -> dict[str, str]:
        """Map each label key of ``Y_dict`` to the task that predicts it.

        Parameters
        ----------
        Y_dict
            Label key -> labels; a key names its task unless remapped.
        remap_labels
            Label key -> task name, or None to leave that label out.
        where
            Where the labels come from, for error messages.
        """
        remap = dict(remap_labels or {})
        mapping: dict[str, str] = {}
        for label in Y_dict:
            task = remap.get(label, label)
            if task is None:
                continue
            if task not in self.tasks:
                fail(
                    f"{where} key {label!r}",
                    f"must name a task of the model (tasks: {names(self.tasks)})",
                    label,
                    "name the labels after your task, add that task to the model, or leave this loader out.",
                )
            mapping[label] = task
        if not mapping:
            fail(
                where,
                f"must have labels for at least one task of the model (tasks: {names(self.tasks)})",
                list(Y_dict),
                "name the Y_dict key after a task.",
            )
        return mapping

    def calculate_loss(
        self,
        X_dict: Mapping[str, Any],
        Y_dict: Mapping[str, torch.Tensor],
        *,
        label_ranges: Mapping[str, tuple[int, int]] | None = None,
    ) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        """Per-task loss and number of labelled examples; label -1 is masked out.

        Parameters
        ----------
        X_dict
            Field name -> batch of inputs.
        Y_dict
            Task name -> batch of integer labels.
        label_ranges
            A speed-up the Trainer uses: label key -> ``(lowest, highest)``
            label of the whole dataset the batch comes from, which spares a
            look at every batch's labels (see :meth:`_label_range`). Omit it
            to check every batch.

        Returns
        -------
        loss_dict, count_dict
            Task -> loss, and task -> number of labelled examples.
        """
        label_tasks = self.label_tasks(Y_dict)
        outputs = self.forward(X_dict, list(dict.fromkeys(label_tasks.values())))
        loss_dict: dict[str, torch.Tensor] = {}
        count_dict: dict[str, int] = {}
        for label, task_name in label_tasks.items():
            Y = Y_dict[label].to(self.device)  # (batch,)
            logits = outputs[task_name]  # (batch, n_classes)
            low, high = self._label_range(Y, label_ranges.get(label) if label_ranges else None)
            _check_labels(task_name, low, high, logits.dim(), logits.shape[-1])
            if high == -1:
                continue  # nothing labelled for this task in this batch
            if low == -1:  # some examples are unlabelled: leave them out of the loss
                labelled = Y != -1
                logits, Y = logits[labelled], Y[labelled]
            loss_dict[label] = self.tasks[task_name].loss_func(logits, Y)
            count_dict[label] = Y.shape[0]
        return loss_dict, count_dict

    @staticmethod
    def _label_range(Y: torch.Tensor, dataset_range: tuple[int, int] | None) -> tuple[int, int]:
        # The lowest and highest label tell whether any -1 must be masked and
        # whether a label is too big for the head: one reduction, but reading
        # its result waits for the device (a sync per task per batch). When
        # the whole dataset has no -1, its range bounds every batch: no sync.
        if dataset_range is not None and dataset_range[0] >= 0:
            return dataset_range
        if not Y.shape[0]:
            return -1, -1
        low, high = torch.aminmax(Y)
        return int(low), int(high)

    def check_training_data(self, train_loaders: Sequence[DictDataLoader]) -> None:
        """Check the train loaders before training: each needs a label; warn about tasks without any.

        Called by ``Trainer.fit`` on its train loaders; a subclass can require more
        (``SliceAwareClassifier`` requires its slice labels).

        Parameters
        ----------
        train_loaders
            The loaders ``Trainer.fit`` trains on.
        """
        for loader in train_loaders:
            for label, Y in loader.dataset.Y_dict.items():
                if isinstance(Y, torch.Tensor) and Y.numel() and bool((Y == -1).all()):
                    # A loss over no labels is NaN, logged as if training went on.
                    fail(
                        f"Dataset {loader.dataset.name!r} ({loader.dataset.split}) Y_dict[{label!r}]",
                        "must hold at least one label (-1 means 'no label')",
                        f"{len(Y)} labels, all -1",
                        f"give the examples their labels, or drop {label!r} from this loader's Y_dict.",
                        raw=True,
                    )
        labelled = {task for loader in train_loaders for task in self.label_tasks(loader.dataset.Y_dict).values()}
        missing = [task for task in self.tasks if task not in labelled]
        if missing:
            warnings.warn(
                f"No train loader has labels for task(s) {missing}: their heads will not learn. "
                f"Add a train loader whose Y_dict key is the task's name, or leave the task out of the model.",
                UserWarning,
                stacklevel=4,
            )
        for task, (only, count) in self._one_class_tasks(train_loaders).items():
            # Nothing fails, yet the task learns a constant and scores 1.0 on data labelled the same way.
            warnings.warn(
                f"Every training label of task {task!r} is {only} ({count} labels): a task with one class teaches "
                f"the model to answer {only} everywhere, and its accuracy looks perfect on data labelled the same "
                "way. Check how the labels were made (e.g. make_circle_dataset's r is the squared radius: r >= 2 "
                "labels every point 1), or add examples of the other classes.",
                UserWarning,
                stacklevel=4,
            )

    def _one_class_tasks(self, train_loaders: Sequence[DictDataLoader]) -> dict[str, tuple[int, int]]:
        # Task -> (its only class, number of labels), for the tasks whose training labels (not -1)
        # are all one class, over every train loader. Only the tasks of _own_label_tasks().
        seen: dict[str, set[int]] = {}
        counts: dict[str, int] = {}
        own = set(self._own_label_tasks())
        for loader in train_loaders:
            for label, task in self.label_tasks(loader.dataset.Y_dict).items():
                Y = loader.dataset.Y_dict[label]
                Y = Y[Y != -1]  # (labelled,)
                if task in own and Y.numel():
                    low, high = (int(value) for value in torch.aminmax(Y))
                    seen.setdefault(task, set()).update({low, high})
                    counts[task] = counts.get(task, 0) + Y.numel()
        return {task: (next(iter(classes)), counts[task]) for task, classes in seen.items() if len(classes) == 1}

    def _own_label_tasks(self) -> list[str]:
        """The tasks whose labels come from the user (all of them here; slice tasks derive theirs)."""
        return list(self.tasks)

    def check_task_functions(self, train_loaders: Sequence[DictDataLoader]) -> None:
        """Call each task's ``loss_func`` and ``output_func`` once on a few training examples.

        ``Trainer.fit`` calls this before training, so that a mistake in a
        task's own functions fails at once, named (:meth:`Task.check_loss`,
        :meth:`Task.check_output`), instead of inside torch at the first step
        or, for ``output_func``, when the valid loaders are first scored.
        The model runs in eval mode on each task's first 8 labelled examples:
        no random number is drawn and no BatchNorm statistic moves, so the
        training that follows is exactly as it would have been.

        Parameters
        ----------
        train_loaders
            The loaders ``Trainer.fit`` trains on.
        """
        checked: set[str] = set()
        with evaluating(self):
            for loader in train_loaders:
                ranges = label_ranges(loader.dataset.Y_dict)
                for label, task_name in self.label_tasks(loader.dataset.Y_dict).items():
                    batch = None if task_name in checked else labelled_sample(loader, label)
                    if batch is None:
                        continue
                    X_dict, Y_dict = batch
                    logits = self.forward(X_dict, [task_name])[task_name]
                    if isinstance(logits, torch.Tensor) and label in ranges:
                        # Every label of the dataset against the head first: a clearer error than the loss's.
                        _check_labels(task_name, *ranges[label], logits.dim(), logits.shape[-1])
                    labels = Y_dict[label].to(self.device)  # (n,), no -1
                    task = self.tasks[task_name]
                    task.check_loss(logits, labels)
                    task.check_output(logits.detach() if isinstance(logits, torch.Tensor) else logits, len(labels))
                    checked.add(task_name)
                    self._outputs_checked.add(task_name)

    # ---------------------------------------------------- predict / score
    def predict(
        self,
        dataloader: DictDataLoader,
        return_preds: bool = False,
        remap_labels: Mapping[str, str | None] | None = None,
    ) -> dict[str, dict[str, np.ndarray]]:
        """Return ``{"golds", "probs"[, "preds"]}``, each ``{label: array}``.

        The model runs in eval mode (its mode is restored afterwards), on
        big slices of the data (see :func:`mtl_teach.data.eval_batches`).

        Parameters
        ----------
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
        if not isinstance(dataloader, DictDataLoader):
            _not_one_loader(dataloader)
        where = f"{dataloader.dataset.name!r} Y_dict"
        label_tasks = self.label_tasks(dataloader.dataset.Y_dict, remap_labels, where=where)
        task_names = list(dict.fromkeys(label_tasks.values()))
        golds: dict[str, list[torch.Tensor]] = {label: [] for label in label_tasks}
        probs: dict[str, list[torch.Tensor]] = {label: [] for label in label_tasks}
        # A `with` block, not torch's decorator: the decorator would put a frame
        # of torch's code into the traceback of every error raised here.
        with evaluating(self), torch.inference_mode():
            for i, (X_dict, Y_dict) in enumerate(eval_batches(dataloader)):
                outputs = self.forward(X_dict, task_names)
                for label, task_name in label_tasks.items():
                    golds[label].append(Y_dict[label])
                    task = self.tasks[task_name]
                    if i == 0 and task_name not in self._outputs_checked:
                        # Once per task: its output must be a distribution over the classes, or
                        # logits taken for probabilities would be scored and plotted without a word.
                        output = task.check_output(outputs[task_name], len(Y_dict[label]))
                        self._outputs_checked.add(task_name)
                    else:
                        output = task.output_func(outputs[task_name])
                    probs[label].append(output.float())
        result = {
            "golds": {k: torch.cat(v).cpu().numpy() for k, v in golds.items()},
            "probs": {k: torch.cat(v).cpu().numpy() for k, v in probs.items()},
        }
        for label, task_name in label_tasks.items():
            # Training rejects a label its head has no output for; scoring must too,
            # or it reports an accuracy that quietly counts those points as wrong.
            golds_, probs_ = result["golds"][label], result["probs"][label]
            if golds_.size:
                _check_labels(task_name, -1, int(golds_.max()), probs_.ndim, probs_.shape[-1])
        if return_preds:
            result["preds"] = {k: v.argmax(axis=1) for k, v in result["probs"].items()}
        return result

    def score(
        self,
        dataloaders: Sequence[DictDataLoader] | DictDataLoader,
        remap_labels: Mapping[str, str | None] | None = None,
        as_dataframe: bool = False,
    ) -> Any:
        """Score every loader with its tasks' scorers.

        Parameters
        ----------
        dataloaders
            The loaders to score (one loader is accepted too).
        remap_labels
            Label key -> task that predicts it (None: skip that label).
        as_dataframe
            Return a pandas DataFrame with columns label, dataset, split,
            metric, score (needs pandas).

        Returns
        -------
        dict or DataFrame
            ``{"task/dataset/split/metric": value}`` by default.
        """
        pandas = import_pandas("score(as_dataframe=True)") if as_dataframe else None
        metrics: dict[str, float] = {}
        for loader in loader_list("score(dataloaders)", dataloaders):
            results = self.predict(loader, return_preds=True, remap_labels=remap_labels)
            data = loader.dataset
            for label, task_name in self.label_tasks(data.Y_dict, remap_labels).items():
                golds, preds, probs = results["golds"][label], results["preds"][label], results["probs"][label]
                for metric, value in self.tasks[task_name].scorer.score(golds, preds, probs).items():
                    metrics[f"{label}/{data.name}/{data.split}/{metric}"] = value
        if pandas is not None:
            rows = [[*key.split("/"), value] for key, value in metrics.items()]
            return pandas.DataFrame(rows, columns=["label", "dataset", "split", "metric", "score"])
        return metrics

    # ---------------------------------------------------------- save/load
    def save(self, model_path: str | Path) -> None:
        """Save the weights (plain tensors: loadable with ``weights_only=True``).

        Parameters
        ----------
        model_path
            File to write, e.g. ``"model.pth"``.
        """
        torch.save({"name": self.name, "tasks": list(self.tasks), "model": self.state_dict()}, model_path)

    def load(self, model_path: str | Path) -> None:
        """Load weights saved by :meth:`save` into this model (same tasks).

        Parameters
        ----------
        model_path
            File written by :meth:`save`; read with ``torch.load(weights_only=True)``.
        """
        checkpoint = torch.load(model_path, map_location=self.device, weights_only=True)
        state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else checkpoint
        own = self.state_dict()
        where = f"MultitaskClassifier.load({str(model_path)!r})"
        missing, unexpected = set(own) - set(state), set(state) - set(own)
        if missing or unexpected:
            fail(
                where,
                "must hold weights for exactly this model's modules",
                f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}",
                "build the model with the same tasks as the saved one.",
                raw=True,
            )
        # Same names, other sizes: say which module differs, not torch's list of "size mismatch".
        for key, tensor in own.items():
            saved = state[key]
            if isinstance(saved, torch.Tensor) and saved.shape != tensor.shape:
                module = key.removeprefix("module_pool.").rsplit(".", 1)[0]  # e.g. "base_mlp.2"
                fail(
                    where,
                    f"must hold weights of the same shapes as this model's; module {module!r} differs",
                    f"{key} of shape {tuple(saved.shape)} saved, {tuple(tensor.shape)} in this model",
                    f"build {module.split('.')[0]!r} with the same layer sizes as the saved model "
                    f"(e.g. nn.Linear widths), or load into the model that was saved.",
                    raw=True,
                )
        self.load_state_dict(state)


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode for a ``with`` block, then back in the mode it was in.

    Parameters
    ----------
    module
        A model or any of its modules.
    """
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


# ------------------------------------------------------------------ checks
def _resolve_device(device: str | torch.device) -> torch.device:
    # "cpu", "cuda", "cuda:N" or "auto" (CUDA when torch sees a GPU) -> a torch.device.
    if isinstance(device, torch.device):
        device = str(device)
    if not (isinstance(device, str) and (device in DEVICES or device.startswith("cuda:"))):
        check_choice("MultitaskClassifier(device)", device, DEVICES)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        fail(
            "MultitaskClassifier(device)",
            "asks for a GPU, but torch sees no CUDA device",
            device,
            'use device="cpu" or device="auto".',
        )
    return torch.device(device)


def _not_one_loader(dataloader: Any) -> NoReturn:
    # predict takes one loader; say what to do with what was passed instead.
    if isinstance(dataloader, list | tuple) and all(isinstance(dl, DictDataLoader) for dl in dataloader):
        fail(
            "MultitaskClassifier.predict(dataloader)",
            "must be one DictDataLoader (its predictions are keyed by label, which loaders share)",
            f"a {type(dataloader).__name__} of {len(dataloader)} loaders",
            "predict each loader: {(dl.dataset.name, dl.dataset.split): model.predict(dl) for dl in loaders}, "
            "or score them all with model.score(loaders).",
            raw=True,
        )
    fail(
        "MultitaskClassifier.predict(dataloader)",
        "must be a DictDataLoader",
        type(dataloader).__name__,
        "wrap your data: DictDataLoader(DictDataset(name, split, X_dict, Y_dict), batch_size=32).",
        raw=True,
    )


def _check_labels(task_name: str, low: int, high: int, n_dims: int, n_classes: int) -> None:
    # Labels are class ids of the head, or -1 for "no label". Outputs that are
    # not (n, n_classes) (custom losses) are not checked against n_classes.
    if low < -1:  # DictDataset rejects these, but a raw batch may not have gone through it
        fail(
            f"Labels of task {task_name!r}",
            "must be class ids >= 0, or -1 for 'no label'",
            f"label {low}",
            "relabel the classes as 0, 1, ..., n_classes - 1 and mark unlabelled examples with -1.",
            raw=True,
        )
    if n_dims == 2 and high >= n_classes:
        fail(
            f"Labels of task {task_name!r}",
            f"must lie in 0..{n_classes - 1}, the classes of its head ({n_classes} outputs)",
            f"label {high}",
            f"give the head {high + 1} outputs, or relabel the classes.",
            raw=True,
        )
