"""Grade one submission: assemble it, run it, and score each graded cell with trusted checks.

A graded cell earns its points only when both hold:

1. it ran without error in the student's kernel (nbgrader's rule), and
2. the same check, run by the grader on answers rebuilt outside that kernel
   (:mod:`mtl_teach.grading.rebuild`), passes.

The kernel's own verdict can only lower a score: code in the student's
notebook may patch the checks, print "passed" or rewrite later cells, but it
cannot change what the grader's process computes from the answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nbformat

from mtl_teach.grading import export
from mtl_teach.grading.cells import assemble, graded_cells, hidden_lines, redact
from mtl_teach.grading.kernel import KERNEL_FAILED, CellRun, Limits, run_cells
from mtl_teach.grading.rebuild import MISSING, RebuildError, rebuild
from mtl_teach.grading.record import Item, Record
from mtl_teach.grading.sandbox import probe

MAX_NOTEBOOK_BYTES = 20 * 2**20
NO_SANDBOX = "graded without a sandbox (--no-sandbox): your code ran with the grader's permissions."
# Loaded afresh from its file, so patching the imported module changes nothing.
EXPORT = """import importlib.util as _mtl_util
_mtl_spec = _mtl_util.spec_from_file_location("_mtl_grader_export", {module!r})
_mtl_export = _mtl_util.module_from_spec(_mtl_spec)
_mtl_spec.loader.exec_module(_mtl_export)
_mtl_export.export({path!r}, globals(), {names!r})
del _mtl_util, _mtl_spec, _mtl_export"""


@dataclass(frozen=True)
class Job:
    """One submission to grade, with the assignment's source and limits."""

    submission: str
    student: str
    source: str
    exercise: str
    assignment: str
    limits: Limits
    sandbox: bool = True  # False: --no-sandbox, the kernel runs as the grader's user


class SubmissionError(Exception):
    """The file is not a notebook the grader can run; the message says why."""


def read_submission(path: Path) -> tuple[Any, str]:
    """Return the notebook and its SHA-256; never modifies the file."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise SubmissionError("the file is empty: submit the notebook saved from Jupyter (File > Save)", digest)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(
            f"the file is {len(data)} bytes, over the {MAX_NOTEBOOK_BYTES}-byte limit: clear large outputs and save again",
            digest,
        )
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        if not isinstance(notebook.get("cells"), list):
            raise ValueError("it has no list of cells")
    except Exception as error:
        raise SubmissionError(
            f"the file is not a valid notebook ({type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}): submit the .ipynb saved from Jupyter",
            digest,
        ) from None
    return notebook, digest


class CheckTimeout(Exception):
    """The grader's own check of an answer ran over its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CheckTimeout` in the block after ``seconds`` (wall clock; main thread only).

    The grader rebuilds and checks answers in its own process, with no kernel
    limits around it: a crafted answer must not keep it busy for minutes.
    Off the main thread (signals cannot reach it) the block runs unlimited;
    the worker process always calls from its main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise CheckTimeout

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _score_item(
    gid: str, points: int, run: CellRun | None, answers: Path, exercise: Any, seconds: float = 60.0
) -> Item:
    try:
        with time_limit(seconds):
            return _check_item(gid, points, run, answers, exercise)
    except CheckTimeout:
        return Item.scored(
            gid,
            points,
            "failed",
            f"the grader's check of your answer ran over {seconds:g} s: an answer this slow to check is not one "
            "the notebook asks for (e.g. far more data or a far bigger model than the steps build).",
        )


def _check_item(gid: str, points: int, run: CellRun | None, answers: Path, exercise: Any) -> Item:
    if run is None or run.status in ("not_run", "dead"):
        return Item.scored(gid, points, "error", run.reason if run else "this check did not run")
    question, names = exercise.GRADED.get(gid, (None, ()))
    if question is None:  # no trusted check for this cell: nbgrader's rule alone
        return Item.scored(
            gid,
            points,
            "passed" if run.status == "ok" else "failed",
            "the cell ran without error" if run.status == "ok" else run.reason,
        )
    try:
        values = rebuild(answers / f"{gid}.pt", names)
    except RebuildError as error:
        return Item.scored(gid, points, "failed", f"your answer could not be checked: {error}.")
    missing = [name for name, value in zip(names, values, strict=True) if value is MISSING]
    if missing:
        return Item.scored(
            gid,
            points,
            "not_attempted",
            f"{', '.join(missing)} is not defined: the cell that defines it raised an error, or was deleted.",
        )
    result = exercise.QUESTIONS[question].check(*values)
    if not result.passed:
        fooled = (
            " (The check in your notebook reported otherwise: the grader runs its own.)" if run.status == "ok" else ""
        )
        return Item.scored(
            gid, points, result.status if result.status == "not_attempted" else "failed", result.message + fooled
        )
    if run.status != "ok":
        return Item.scored(gid, points, "failed", f"this check cell raised {run.reason}")
    return Item.scored(gid, points, "passed", result.message)


def limit_notes(labels: list[str], runs: list[CellRun], limits: Limits) -> list[str]:
    """Notes for the feedback when the notebook's time limit or the output caps cut a run short."""
    notes = [
        f"{label} printed {run.dropped:,} bytes of output over the grader's cap ({limits.output_bytes:,} bytes "
        f"a cell, {limits.notebook_output_bytes:,} in all): that output was truncated. Printed output is never graded."
        for label, run in zip(labels, runs, strict=True)
        if run.dropped
    ][:5]
    stopped = [label for label, run in zip(labels, runs, strict=True) if run.out_of_time]
    if stopped:
        notes.append(
            f"the notebook time limit of {limits.notebook_timeout:g} s was hit in {stopped[0]}: it and the "
            f"{len(stopped) - 1} cell{'s' * (len(stopped) != 2)} after it were stopped or did not run; "
            "points earned before it are kept."
        )
    return notes


def grade_submission(job: Job) -> Record:
    """Grade ``job.submission``; return its record. Never raises for a bad submission."""
    started = time.monotonic()
    source = nbformat.read(job.source, as_version=4)
    exercise = importlib.import_module(job.exercise)
    points = graded_cells(source)
    notes: list[str] = []
    errors: list[str] = []
    grader_failed = False
    try:
        notebook, digest = read_submission(Path(job.submission))
    except SubmissionError as error:
        digest, notes = error.args[1], [error.args[0]]
        items = [Item.scored(gid, pts, "error", error.args[0]) for gid, pts in points.items()]
    else:
        assembly = assemble(source, notebook)
        with tempfile.TemporaryDirectory(prefix="mtl-grade-") as scratch:
            root = Path(scratch)
            work, answers, private = root / "work", root / "answers", root / "private"
            for folder in (work, answers, private):
                folder.mkdir()
            sources, labels, slots = [], [], {}
            for cell in assembly.cells:
                gid = cell.metadata.get("mtl_teach_slot")
                sources.append(cell.source)
                labels.append(f"cell {gid!r}" if gid else "one of your cells")
                if gid in points:
                    slots[gid] = len(sources) - 1
                    names = list(exercise.GRADED.get(gid, (None, ()))[1])
                    if names:
                        sources.append(
                            EXPORT.format(module=export.__file__, path=str(answers / f"{gid}.pt"), names=names)
                        )
                        labels.append("the grader's answer export")
            bwrap = probe() if job.sandbox else None
            runs = run_cells(sources, work, private, job.limits, writable=(answers,), bwrap=bwrap)
            secret = hidden_lines(source)  # a student's exception text may quote the hidden tests
            runs = [CellRun(r.status, redact(r.reason, secret), r.dropped, r.out_of_time) for r in runs]
            # no cell ran: the grader's fault, so --resume grades it again
            grader_failed = bool(runs) and all(
                r.status == "not_run" and r.reason.startswith(KERNEL_FAILED) for r in runs
            )
            notes = [*assembly.notes, *limit_notes(labels, runs, job.limits)]
            items = [
                _score_item(
                    gid, pts, runs[slots[gid]] if gid in slots else None, answers, exercise, job.limits.cell_timeout
                )
                for gid, pts in points.items()
            ]
            errors = [
                f"{label}: {run.reason}"
                for label, run in zip(labels, runs, strict=True)
                if run.status in ("error", "dead")
            ][:20]
    if not job.sandbox:
        notes.append(NO_SANDBOX)
    return Record(
        student=job.student,
        submission=job.submission,
        assignment=job.assignment,
        sha256=digest,
        items=tuple(items),
        notes=tuple(notes),
        errors=tuple(errors),
        sandbox=job.sandbox,
        grader_failed=grader_failed,
        limits=asdict(job.limits),
        seconds=round(time.monotonic() - started, 2),
    )
