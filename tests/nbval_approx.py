"""nbval, with tolerances for the numbers that come out of training, and the lessons' claims.

PyTorch promises the same floats only on the same CPU: another processor (or
``ATEN_CPU_CAPABILITY=default`` on this one) trains to slightly different
losses and scores. nbval compares every output exactly, so a notebook's
committed outputs held only on the machine that made them. This plugin keeps
nbval (its kernel, its cell items, its markers and sanitizers) and changes two
things, in the style of TensorFlow's doctest output checker:

- **Exact** (nbval's own comparison) stays the default for every cell: shapes,
  counts, reprs, task and key names, self-check verdicts, tables of structure.
- A code cell tagged ``approx`` prints numbers that come out of training. Its
  text is still compared exactly *with every number taken out*, and the
  numbers are compared one by one within a tolerance: ``|new - old| <= abs +
  rel * |old|`` (percentages compared as fractions, so ``79.5%`` is 0.795).
  The defaults are :data:`DEFAULT_TOLERANCE`; a cell can set its own in its
  metadata, ``{"approx": {"abs": 0.06}}``, and the test says which cell and
  which number broke it.
- After a notebook's last cell, its **claims** run in the same kernel
  (``tests/notebook_claims.py``, or ``--nbval-claims MODULE``): the statements a lesson rests on ("the
  slice-aware model beats the plain one on the patch by at least 10 points"),
  each an assertion with its own margin, each reported as its own test. A
  printed number is never the only evidence.

Use: ``pytest --nbval-approx notebooks/*.ipynb`` (``--nbval-cpus inherited,default``
runs each notebook once on this CPU's kernels and once on PyTorch's default
ones, in one session, each in its own kernel; with nbval's other options:
``--nbval-current-env``, ``--nbval-sanitize-with``, ``--nbval-cell-timeout``).
The root ``conftest.py`` loads this plugin; ``--nbval`` keeps plain nbval.
"""

from __future__ import annotations

import importlib
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbval.plugin import IPyNbCell, IPyNbFile

TAG = "approx"
CPU_VARIABLE = "ATEN_CPU_CAPABILITY"
INHERITED = "inherited"
DEFAULT_TOLERANCE = {"abs": 0.03, "rel": 0.05}
# A number as printed: optional sign, digits, decimals, exponent, percent. Not
# the digits inside a name or a colour ("float32", "x0", "0xADDRESS", "#1a7f37"):
# no letter, digit, underscore, dot or hash right before it.
NUMBER = re.compile(r"(?<![\w.#])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?%?")
PLACEHOLDER = "<num>"
# Column alignment (pandas, f"{x:6.3f}") moves when a number gains a digit.
SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class Mismatch:
    """One number out of tolerance: where it is in the text, and by how much."""

    index: int
    expected: str
    got: str
    allowed: float

    def __str__(self) -> str:
        diff = abs(_value(self.got) - _value(self.expected))
        return (
            f"number {self.index + 1}: committed {self.expected}, now {self.got} "
            f"(|difference| {diff:.4g} > allowed {self.allowed:.4g})"
        )


def _value(token: str) -> float:
    return float(token[:-1]) / 100 if token.endswith("%") else float(token)


def split_numbers(text: str) -> tuple[str, list[str]]:
    """Return ``text`` with every number replaced by a placeholder, and the numbers in order.

    Parameters
    ----------
    text
        Output text as a cell printed it.

    Returns
    -------
    tuple
        The skeleton (numbers replaced, runs of spaces collapsed) and the
        numbers as printed.
    """
    numbers = NUMBER.findall(text)
    return SPACES.sub(" ", NUMBER.sub(PLACEHOLDER, text)), numbers


def compare_approx(expected: str, got: str, *, abs_tol: float, rel_tol: float) -> tuple[bool, list[str]]:
    """Compare two outputs: the text exactly, the numbers within a tolerance.

    Parameters
    ----------
    expected
        The committed output.
    got
        The fresh output.
    abs_tol, rel_tol
        A number passes when ``|got - expected| <= abs_tol + rel_tol * |expected|``.

    Returns
    -------
    tuple
        ``(True, [])`` when they agree, else ``(False, reasons)``.
    """
    skeleton_expected, numbers_expected = split_numbers(expected)
    skeleton_got, numbers_got = split_numbers(got)
    if skeleton_expected != skeleton_got:
        return False, [
            "the text around the numbers changed (only numbers may move):",
            f"  committed: {skeleton_expected!r}",
            f"  now:       {skeleton_got!r}",
        ]
    mismatches = []
    for index, (old, new) in enumerate(zip(numbers_expected, numbers_got, strict=True)):
        allowed = abs_tol + rel_tol * abs(_value(old))
        difference = abs(_value(new) - _value(old))
        if not difference <= allowed or math.isnan(difference):
            mismatches.append(str(Mismatch(index, old, new, allowed)))
    return not mismatches, mismatches


def cell_tolerance(cell: nbformat.NotebookNode) -> dict[str, float] | None:
    """Return the cell's tolerance, or None when it is compared exactly.

    Raises
    ------
    ValueError
        If the cell's ``approx`` metadata is not a dict of ``abs``/``rel`` non-negative numbers.
    """
    if TAG not in cell.metadata.get("tags", []):
        if TAG in cell.metadata:
            raise ValueError(f"cell {cell.get('id')!r} has 'approx' metadata but no 'approx' tag: tag it, or drop it")
        return None
    tolerance = dict(DEFAULT_TOLERANCE)
    custom = cell.metadata.get(TAG, {})
    unknown = set(custom) - set(DEFAULT_TOLERANCE)
    if not isinstance(custom, dict) or unknown:
        raise ValueError(
            f"cell {cell.get('id')!r}: metadata 'approx' must be a dict with keys 'abs' and/or 'rel', got {custom!r}"
        )
    for key, value in custom.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"cell {cell.get('id')!r}: approx {key} must be a number >= 0, got {value!r}")
        tolerance[key] = float(value)
    return tolerance


class ApproxCell(IPyNbCell):
    """An nbval cell whose ``approx``-tagged outputs are compared with a tolerance."""

    def compare_outputs(self, test: list, ref: list, skip_compare: tuple | None = None) -> bool:
        tolerance = cell_tolerance(self.cell)
        if tolerance is None:
            return super().compare_outputs(test, ref, skip_compare)
        # Numbers out of both sides first; nbval then compares what is left exactly
        # (its own field matching, sanitizers and diff report).
        problems: list[str] = []
        for where, old, new in _paired_texts(ref, test):
            same, reasons = compare_approx(
                self.sanitize(old), self.sanitize(new), abs_tol=tolerance["abs"], rel_tol=tolerance["rel"]
            )
            if not same:
                problems += [f"{where} (tolerance abs={tolerance['abs']}, rel={tolerance['rel']}):", *reasons]
        if problems:
            self.comparison_traceback = problems
            return False
        return super().compare_outputs(self._skeletons(test), self._skeletons(ref), skip_compare)

    def _skeletons(self, outputs: list) -> list:
        """A copy of ``outputs`` with every number in their (sanitized) texts replaced by a placeholder."""

        def skeleton(value: Any) -> Any:
            return split_numbers(self.sanitize(value))[0] if isinstance(value, str) else value

        copies = []
        for output in outputs:
            copy = nbformat.from_dict(dict(output))
            if copy.get("output_type") == "stream":
                copy["text"] = skeleton(copy.get("text", ""))
            if "data" in copy:
                copy["data"] = {
                    mime: skeleton(value) if mime.startswith("text/") else value for mime, value in copy["data"].items()
                }
            copies.append(copy)
        return copies


def _paired_texts(ref: list, test: list) -> Iterator[tuple[str, str, str]]:
    """Yield ``(where, committed, fresh)`` for each text both output lists hold at the same place.

    Outputs pair up in order, streams by name and rich outputs by MIME type
    (their order in a saved notebook is not fixed). Whatever does not pair up
    (an output or a MIME type missing on one side) is left for nbval's own
    comparison to report.
    """
    if len(ref) != len(test):
        return
    for index, (old, new) in enumerate(zip(ref, test, strict=True)):
        if old.get("output_type") == "stream" and new.get("output_type") == "stream":
            yield f"output {index + 1}, stream {old.get('name')}", old.get("text", ""), new.get("text", "")
        old_data, new_data = old.get("data", {}), new.get("data", {})
        for mime in sorted(set(old_data) & set(new_data)):
            if mime.startswith("text/") and isinstance(old_data[mime], str) and isinstance(new_data[mime], str):
                yield f"output {index + 1}, {mime}", old_data[mime], new_data[mime]


class NotebookPerCpu(pytest.File):
    """One notebook, collected once per CPU setting of ``--nbval-cpus``: ``<notebook>::cpu=<setting>``."""

    def collect(self) -> Iterator[ApproxNotebook]:
        for cpu in self.config.option.nbval_cpus:
            name = f"cpu={cpu}"
            notebook = ApproxNotebook.from_parent(self, path=self.path, name=name, nodeid=f"{self.nodeid}::{name}")
            notebook.cpu = cpu
            yield notebook


class ClaimCell(IPyNbCell):
    """A lesson's claim, run as an extra cell in the notebook's kernel after its last cell.

    It passes when the claim's code runs without error and prints nothing.
    """

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.fspath, 0, f"{self.fspath.relto(self.config.rootdir)}::{self.name}"


class ApproxNotebook(IPyNbFile):
    """nbval's notebook collector, with :class:`ApproxCell` cells and the notebook's claims last.

    ``cpu`` is the ``ATEN_CPU_CAPABILITY`` its kernel starts with
    (``"inherited"``: whatever this process has).
    """

    cpu = INHERITED

    def setup(self) -> None:
        # The kernel is a new process: it takes the environment as it is when it starts.
        previous = os.environ.get(CPU_VARIABLE)
        if self.cpu != INHERITED:
            os.environ[CPU_VARIABLE] = self.cpu
        try:
            super().setup()
        finally:
            if previous is None:
                os.environ.pop(CPU_VARIABLE, None)
            else:
                os.environ[CPU_VARIABLE] = previous

    def collect(self) -> Iterator[IPyNbCell]:
        claims = importlib.import_module(self.config.option.nbval_claims).CLAIMS
        cell_num = 0
        for item in super().collect():
            approx = ApproxCell.from_parent(
                self, name=item.name, cell_num=item.cell_num, cell=item.cell, options=item.options
            )
            cell_num = item.cell_num + 1
            yield approx
        for claim in claims.get(self.path.name, []):
            cell = nbformat.v4.new_code_cell(source=claim.source(), execution_count=1)
            yield ClaimCell.from_parent(
                self,
                name=f"claim: {claim.statement}",
                cell_num=cell_num,
                cell=cell,
                options=defaultdict(bool, check=True),
            )
            cell_num += 1


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("nbval").addoption(
        "--nbval-approx",
        action="store_true",
        help="Run notebooks like --nbval, but compare the outputs of cells tagged 'approx' within a tolerance, "
        "then run each notebook's claims",
    )
    parser.getgroup("nbval").addoption(
        "--nbval-cpus",
        default=[INHERITED],
        type=_cpu_settings,
        metavar="SETTINGS",
        help="Run each notebook once per ATEN_CPU_CAPABILITY setting, e.g. 'inherited,default' "
        "('inherited': this process's; 'default' computes like another CPU). Default: inherited",
    )
    parser.getgroup("nbval").addoption(
        "--nbval-claims",
        default="tests.notebook_claims",
        metavar="MODULE",
        help="Module whose CLAIMS maps a notebook's file name to its claims (default: tests.notebook_claims)",
    )


def _cpu_settings(value: str) -> list[str]:
    settings = [setting.strip() for setting in value.split(",") if setting.strip()]
    bad = [setting for setting in settings if not re.fullmatch(r"[a-z0-9_]+", setting)]
    if not settings or bad or len(set(settings)) != len(settings):
        raise pytest.UsageError(
            f"--nbval-cpus must be distinct comma-separated ATEN_CPU_CAPABILITY values or 'inherited' "
            f"(e.g. inherited,default); got {value!r}"
        )
    return settings


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ApproxNotebook | NotebookPerCpu | None:
    option = parent.config.option
    if option.nbval_approx and file_path.suffix == ".ipynb":
        if option.nbval or option.nbval_lax:
            raise pytest.UsageError("--nbval-approx replaces --nbval and --nbval-lax: give only one of them")
        if option.nbval_cpus == [INHERITED]:
            return ApproxNotebook.from_parent(parent, path=file_path)
        return NotebookPerCpu.from_parent(parent, path=file_path)
    return None
