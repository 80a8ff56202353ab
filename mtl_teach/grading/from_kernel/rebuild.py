"""Trusted side: read an answer description and rebuild genuine mtl_teach objects.

The file comes from the student's kernel (written by
:mod:`mtl_teach.grading.in_sandbox.export`, or by anything the student's code
put in its place), so:

- it is read through :class:`~mtl_teach.grading.from_kernel.fs.Folder`: a
  regular file only (a link, FIFO or folder in its place is refused), and
  no more than :data:`MAX_FILE_BYTES`;
- before ``torch.load`` decodes anything, the archive is checked
  (:func:`check_archive`): its members must be stored, not compressed (a
  3 MB deflated member would expand to gigabytes), and every storage the
  pickle declares must claim no more bytes than its member holds, all of
  them together at most :data:`MAX_TENSOR_BYTES` (torch allocates what a
  storage claims before it reads a byte);
- it is decoded with ``torch.load(weights_only=True)`` (no code runs), and
  the objects are rebuilt from the real classes, whatever the student's
  kernel did to its own copies.

A tensor in the file may be a view that claims far more elements than its
storage holds (``torch.zeros(1, 2).expand(10**8, 2)`` saves in 1.5 KB): every
tensor must be backed by as many bytes as it claims, and all of them together
by at most ``MAX_TENSOR_BYTES``, so a small file cannot make the grader's
checks allocate gigabytes or loop for minutes.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mtl_teach.data import DictDataLoader, DictDataset
from mtl_teach.grading.from_kernel.fs import Folder, NotAFile, TooLarge
from mtl_teach.grading.in_sandbox.export import CONTAINERS, FORMAT, LEAF_ARGS, MAX_MODULES
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
MAX_MEMBERS = 4096  # entries in the answers' archive
MAX_PICKLE_BYTES = 4 * 2**20  # the archive's data.pkl: the description without its tensors' data
ITEM_BYTES = {  # torch's storage type names (as torch.save pickles them) -> bytes an element
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
}  # fmt: skip


class RebuildError(Exception):
    """The description cannot be turned back into an answer; the message says why."""


class _Stand(tuple):
    def __new__(cls, *args: Any, **kwargs: Any) -> _Stand:
        return super().__new__(cls)

    def __call__(self, *args: Any, **kwargs: Any) -> _Stand:
        return _Stand()

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass


class _Storages(pickle.Unpickler):
    """Reads a torch pickle without building anything: records the storages it declares, nothing else runs."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.claims: list[tuple[str, str, Any]] = []  # (key, storage type name, elements)

    def find_class(self, module: str, name: str) -> Any:
        return type(name[:80], (_Stand,), {})

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise RebuildError("the saved answers declare data in a form torch.save does not write")
        self.claims.append((str(pid[2]), getattr(pid[1], "__name__", str(pid[1])), pid[4]))
        return _Stand()


def check_archive(data: bytes) -> None:
    """Refuse an answers archive that would make ``torch.load`` allocate more than it holds (see the module doc)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise RebuildError("the saved answers are not in the grader's format (not a torch.save archive)") from None
    if len(members) > MAX_MEMBERS:
        raise RebuildError(f"the saved answers hold {len(members)} entries, over {MAX_MEMBERS}")
    sizes = {}
    for member in members:
        if member.compress_type != zipfile.ZIP_STORED:
            raise RebuildError("the saved answers are compressed, which torch.save never does: save them as exported")
        sizes[member.filename.split("/", 1)[-1]] = member.file_size
    if sum(sizes.values()) > len(data):
        raise RebuildError("the saved answers claim more bytes than the file holds")
    if sizes.get("data.pkl", MAX_PICKLE_BYTES + 1) > MAX_PICKLE_BYTES:
        raise RebuildError("the saved answers have no description of the grader's size (data.pkl)")
    pickled = archive.read(next(m for m in members if m.filename.split("/", 1)[-1] == "data.pkl"))
    reader = _Storages(pickled)
    try:
        reader.load()
    except RebuildError:
        raise
    except Exception as error:  # malformed pickle: torch.load would refuse it too
        raise RebuildError(f"the saved answers could not be read ({type(error).__name__})") from None
    total = 0
    for key, kind, count in reader.claims:
        if kind not in ITEM_BYTES or type(count) is not int or count < 0:
            raise RebuildError(f"the saved answers declare a storage the grader does not read ({kind[:40]})")
        claimed = count * ITEM_BYTES[kind]
        if claimed > sizes.get(f"data/{key}", 0):
            raise RebuildError(
                f"the saved answers declare a storage of {claimed:,} bytes that holds {sizes.get(f'data/{key}', 0):,}"
            )
        total += claimed
        if total > MAX_TENSOR_BYTES:
            raise RebuildError(f"the answers' tensors take over {MAX_TENSOR_BYTES:,} bytes")


def load_description(source: Folder | Path, name: str | None = None) -> dict[str, Any]:
    """Read a description safely: ``name`` in the folder ``source``, or the file ``source`` (a path)."""
    folder = source if isinstance(source, Folder) else Folder.open(Path(source).parent)
    name = name if isinstance(source, Folder) else Path(source).name
    try:
        data = folder.read(name, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise RebuildError(
            "the grader could not collect your answers after this check: the notebook stopped, or its code "
            "interfered with the grader"
        ) from None
    except TooLarge:
        raise RebuildError(f"the answers take over {MAX_FILE_BYTES} bytes") from None
    except NotAFile:
        raise RebuildError(
            "the answers file was replaced (by a link, a folder or a pipe): the grader reads none"
        ) from None
    except OSError as error:
        raise RebuildError(f"the saved answers could not be read ({type(error).__name__})") from None
    finally:
        if folder is not source:
            folder.close()
    check_archive(data)
    try:
        description = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
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


def rebuild(source: Folder | Path, names: tuple[str, ...], name: str | None = None) -> list[Any]:
    """Return the rebuilt answers ``names`` saved in ``name`` of the folder ``source``, or at the path ``source``.

    Undefined names come back as ``MISSING``.
    """
    description = load_description(source, name)
    builder = _Builder(description.get("modules"))
    values = description.get("values", {})
    try:
        return [builder.value(values.get(name, {"kind": "missing"})) for name in names]
    except RebuildError:
        raise
    except Exception as error:  # malformed data, or the real classes rejecting it
        raise RebuildError(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from None
