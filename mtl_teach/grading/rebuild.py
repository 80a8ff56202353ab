"""Trusted side: read an answer description and rebuild genuine mtl_teach objects.

The file comes from the student's kernel, so it is read with
``torch.load(weights_only=True)`` (no code runs), its size and every shape
are bounded before anything is allocated, and the objects are rebuilt from
the real classes, whatever the student's kernel did to its own copies.

A tensor in the file may be a view that claims far more elements than its
storage holds (``torch.zeros(1, 2).expand(10**8, 2)`` saves in 1.5 KB): every
tensor must be backed by as many bytes as it claims, and all of them together
by at most ``MAX_TENSOR_BYTES``, so a small file cannot make the grader's
checks allocate gigabytes or loop for minutes.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mtl_teach.data import DictDataLoader, DictDataset
from mtl_teach.grading.export import CONTAINERS, FORMAT, LEAF_ARGS, MAX_MODULES
from mtl_teach.model import MultitaskClassifier
from mtl_teach.task import Operation, Task

MAX_FILE_BYTES = 64 * 2**20
MAX_PARAMETERS = 10**7
MAX_WIDTH = 4096  # a layer's in/out features: activations stay small whatever the batch
MAX_TENSOR_BYTES = 64 * 2**20  # all the answers' tensors together, as their shapes claim
DTYPES = (
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int64,
    torch.int32,
    torch.int16,
    torch.int8,
    torch.uint8,
    torch.bool,
)
MISSING = object()  # the variable was not defined in the notebook


class RebuildError(Exception):
    """The description cannot be turned back into an answer; the message says why."""


def load_description(path: Path) -> dict[str, Any]:
    """Read a description file safely (size-capped, ``weights_only``)."""
    if not path.is_file():
        raise RebuildError(
            "the grader could not collect your answers after this check: the notebook stopped, or its code interfered with the grader"
        )
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RebuildError(f"the answers take {path.stat().st_size} bytes, over the {MAX_FILE_BYTES}-byte limit")
    try:
        description = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise RebuildError(f"the saved answers could not be read ({type(error).__name__})") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise RebuildError("the saved answers are not in the grader's format")
    return description


class _Builder:
    def __init__(self, modules: Any) -> None:
        if not isinstance(modules, list) or len(modules) > MAX_MODULES:
            raise RebuildError("the module table is malformed")
        self.table = modules
        self.built: dict[int, nn.Module] = {}
        self.parameters = 0
        self.tensor_bytes = 0

    def tensor(self, value: Any, where: str) -> torch.Tensor:
        """``value`` if it is a plain dense tensor backed by all the bytes it claims, within the total cap."""
        if not isinstance(value, torch.Tensor):
            raise RebuildError(f"{where} is not a tensor: use torch.FloatTensor(X_train)")
        if value.layout != torch.strided or value.is_quantized or value.dtype not in DTYPES:
            raise RebuildError(f"{where} is a {value.layout}/{value.dtype} tensor: use a plain float or integer tensor")
        claimed = value.numel() * value.element_size()
        if claimed > value.untyped_storage().nbytes():
            raise RebuildError(
                f"{where} claims {claimed:,} bytes but holds {value.untyped_storage().nbytes():,} (an expanded or "
                "overlapping view): save real data, e.g. tensor.clone()"
            )
        self.tensor_bytes += claimed
        if self.tensor_bytes > MAX_TENSOR_BYTES:
            raise RebuildError(f"the answers' tensors take over {MAX_TENSOR_BYTES:,} bytes")
        return value

    def module(self, index: Any, depth: int = 0) -> nn.Module:
        if not isinstance(index, int) or not 0 <= index < len(self.table) or depth > 32:
            raise RebuildError("a module reference is malformed")
        if index in self.built:
            return self.built[index]
        entry = self.table[index]
        kind = entry.get("type")
        if kind in LEAF_ARGS:
            args = entry.get("args", {})
            if set(args) - {*LEAF_ARGS[kind], "bias"}:
                raise RebuildError(f"nn.{kind} has unexpected arguments")
            if kind == "Linear":
                sizes = (args["in_features"], args["out_features"])
                if not all(type(n) is int and 0 < n <= MAX_WIDTH for n in sizes):
                    raise RebuildError(
                        f"nn.Linear{sizes} cannot be graded: in and out features must be 1 to {MAX_WIDTH}"
                    )
                size = sizes[0] * sizes[1]
                self.parameters += size
                if self.parameters > MAX_PARAMETERS:
                    raise RebuildError(f"the modules have over {MAX_PARAMETERS} parameters")
            module = getattr(nn, kind)(**args)
            state = entry.get("state", {})
            if not isinstance(state, dict):
                raise RebuildError(f"nn.{kind} weights are malformed")
            state = {str(k): self.tensor(v, f"a weight of nn.{kind}") for k, v in state.items()}
            try:
                module.load_state_dict(state)
            except Exception as error:
                raise RebuildError(f"nn.{kind} weights do not fit: {str(error).splitlines()[0]}") from None
        elif kind in CONTAINERS:
            children = [(str(name), self.module(child, depth + 1)) for name, child in entry.get("children", [])]
            if kind == "Sequential":
                module = nn.Sequential(OrderedDict(children))
            elif kind == "ModuleList":
                module = nn.ModuleList([m for _, m in children])
            else:
                module = nn.ModuleDict(dict(children))
        else:
            raise RebuildError(
                f"module type {entry.get('name', kind)!r} cannot be graded: build models from nn.Sequential, nn.Linear and activations"
            )
        self.built[index] = module
        return module

    def task(self, entry: dict[str, Any]) -> Task:
        pool = nn.ModuleDict({str(k): self.module(i) for k, i in entry["pool"].items()})
        ops = []
        for name, module_name, inputs in entry["ops"]:
            ops.append(
                Operation(
                    module_name, [item[0] if len(item) == 1 else (item[0], item[1]) for item in inputs], name=name
                )
            )
        return Task(name=entry["name"], module_pool=pool, op_sequence=ops)

    def value(self, entry: dict[str, Any]) -> Any:
        kind = entry.get("kind")
        if kind == "missing":
            return MISSING
        if kind == "stub":
            return {"None": None, "{}": {}, "[]": [], "()": (), "''": "", "Ellipsis": ...}.get(entry.get("repr"))
        if kind == "list":
            return [self.value(item) for item in entry["items"]]
        if kind == "loader":
            X = {str(k): self.tensor(v, f"X_dict[{k!r}]") for k, v in entry["X"].items()}
            Y = {str(k): self.tensor(v, f"Y_dict[{k!r}]") for k, v in entry["Y"].items()}
            dataset = DictDataset(entry["name"], entry["split"], X, Y)
            return DictDataLoader(dataset, batch_size=entry["batch_size"] or 1)
        if kind == "task":
            return self.task(entry)
        if kind == "module":  # e.g. base_mlp: the very module a rebuilt task holds, if it was shared
            return self.module(entry.get("index"))
        if kind == "model":
            return MultitaskClassifier([self.task(t) for t in entry["tasks"]], init=None)
        # Another type: an instance of a stand-in class of the same name, so
        # that the checks say "X is a <type>, not a DictDataLoader".
        return type(str(entry.get("type", "object"))[:80], (), {})()


def rebuild(path: Path, names: tuple[str, ...]) -> list[Any]:
    """Return the rebuilt answers ``names`` saved at ``path`` (``MISSING`` if undefined)."""
    description = load_description(path)
    builder = _Builder(description.get("modules"))
    values = description.get("values", {})
    try:
        return [builder.value(values.get(name, {"kind": "missing"})) for name in names]
    except RebuildError:
        raise
    except Exception as error:  # malformed data, or the real classes rejecting it
        raise RebuildError(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from None
