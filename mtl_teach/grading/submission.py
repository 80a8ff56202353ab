"""Grade one submission: assemble it, run it, and score each graded cell with trusted checks.

A graded cell earns its points only when both hold:

1. it ran without error in the student's kernel (nbgrader's rule), and
2. the same check, run by the grader on answers rebuilt outside that kernel
   (:mod:`mtl_teach.grading.from_kernel.rebuild`), passes.

The kernel's own verdict can only lower a score: code in the student's
notebook may patch the checks, print "passed" or rewrite later cells, but it
cannot change what the grader's process computes from the answers. The
grader's checks score trained models on "fresh data" drawn from a secret
seed (``Job.fresh_seed``), which no kernel can know.

Each step is graded on its own. When a step fails and a later step the
student wrote fails too, the submission runs again in a fresh sandboxed
kernel with the answer key in place of the failed step
(:func:`~mtl_teach.grading.cells.assemble`'s ``reference``), and the later
step's verdict comes from that run: one wrong head costs the task's points,
not every step built on it.

Three rules bound what this can cost and show:

- **One time budget.** A submission's kernels, reruns included, get
  ``--notebook-timeout`` in all (the grader's own checks of the first run
  come on top, each within ``--timeout``). A rerun that does not fit leaves
  its steps with their first verdict, and says so; running out of time is
  never the grader's failure.
- **Only the grader's verdicts from a kernel that held secrets.** A rerun's
  kernel held the answer key, so of it only the grader's own verdicts are
  shown (passed or not, in the grader's words); see
  :mod:`~mtl_teach.grading.from_kernel.text` for the first run.
- **Grader faults are not scored.** When no kernel could start, or the
  answer key itself fails in a rerun, the submission gets no score
  (:class:`GraderFault`; ``Record.fault``) and ``grade`` exits non-zero.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import nbformat

from mtl_teach.exercises._core import fresh_data
from mtl_teach.grading.cells import assemble, graded_cells, hidden_lines, release_source, step_titles
from mtl_teach.grading.forkserver import ForkServer
from mtl_teach.grading.from_kernel.fs import Folder, read_regular, remove
from mtl_teach.grading.from_kernel.rebuild import MISSING, RebuildError, rebuild
from mtl_teach.grading.from_kernel.text import WITHHELD, redact, withheld
from mtl_teach.grading.in_sandbox import export
from mtl_teach.grading.kernel import KERNEL_FAILED, CellRun, Limits, run_cells
from mtl_teach.grading.record import Item, Record

MAX_NOTEBOOK_BYTES = 20 * 2**20
NO_SANDBOX = "graded without a sandbox (--no-sandbox): your code ran with the grader's permissions."
EXPORT_LABEL = "the grader's answer export"
NEXT = re.compile(r" Next: .*$", re.S)
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
    bwrap: str | None = None  # the sandbox's bwrap, probed once by the batch; None: --no-sandbox
    scratch: str | None = None  # where the submission's scratch folder goes (default: the system's temp)
    fresh_seed: int | None = None  # the secret seed of the checks' fresh data (None: the checks' public one)

    @property
    def sandbox(self) -> bool:
        return self.bwrap is not None


class SubmissionError(Exception):
    """The file is not a notebook the grader can run; the message says why."""


class GraderFault(Exception):
    """The grader itself failed on this submission, not the student: it gets no score.

    ``args[0]`` says why in words a student may read; ``detail`` (for the instructor's terminal only) may
    quote what a kernel that held the answer key said.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def read_submission(path: Path) -> tuple[Any, str]:
    """Return the notebook and its SHA-256; never modifies the file, never reads more than it allows."""
    try:
        data = read_regular(path, MAX_NOTEBOOK_BYTES)
    except OSError as error:
        raise SubmissionError(
            f"the file is over the {MAX_NOTEBOOK_BYTES}-byte limit or not a plain file ({error.strerror}): "
            "clear large outputs and save again",
            "",
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise SubmissionError("the file is empty: submit the notebook saved from Jupyter (File > Save)", digest)
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
    gid: str,
    points: int,
    run: CellRun | None,
    answers: Folder,
    exercise: Any,
    seconds: float = 60.0,
    raised: str = "",
    check: str = "",
) -> Item:
    try:
        with time_limit(seconds):
            item = _check_item(gid, points, run, answers, exercise, raised, check)
    except CheckTimeout:
        return Item.scored(
            gid,
            points,
            "failed",
            f"the grader's check of your answer ran over {seconds:g} s: an answer this slow to check is not one "
            "the notebook asks for (e.g. far more data or a far bigger model than the steps build).",
        )
    question = exercise.GRADED.get(gid, (None, ()))[0]
    if item.status in ("failed", "not_attempted") and question in exercise.QUESTIONS:
        item = replace(item, message=f"{item.message} Stuck? Run q.{question}.hint() in your notebook.")
    return item


def _check_item(
    gid: str, points: int, run: CellRun | None, answers: Folder, exercise: Any, raised: str, check: str = ""
) -> Item:
    """Score one graded cell; ``raised``: how a cell of the student's in this step failed, if one did.

    A step whose cell raised was attempted: the feedback names the exception
    instead of calling the answer "not attempted". ``check``: the graded cell
    as the student copy has it (what the student can run to see why).
    """
    if run is None or run.status in ("not_run", "dead"):
        return Item.scored(gid, points, "error", run.reason if run else "this check did not run")
    question, names = exercise.GRADED.get(gid, (None, ()))
    if question is None:  # no trusted check for this cell: nbgrader's rule alone, its hidden tests in the kernel
        if run.status == "ok":
            return Item.scored(gid, points, "passed", "the cell ran without error")
        if WITHHELD in run.reason and check:
            return Item.scored(
                gid, points, "failed", f"this step's hidden tests failed ({run.reason}). To see why, run its check "
                f"in your notebook: {check}",
            )  # fmt: skip
        return Item.scored(gid, points, "failed", run.reason)
    try:
        values = rebuild(answers, names, f"{gid}.pt")
    except RebuildError as error:
        return Item.scored(gid, points, "failed", f"your answer could not be checked: {error}.")
    missing = [name for name, value in zip(names, values, strict=True) if value is MISSING]
    if missing and raised:
        return Item.scored(
            gid,
            points,
            "failed",
            f"{raised.rstrip('.')}, so {', '.join(missing)} was never defined: fix that error first.",
        )
    if missing:
        return Item.scored(
            gid,
            points,
            "not_attempted",
            f"{', '.join(missing)} is not defined: the cell that defines it was deleted.",
        )
    result = exercise.QUESTIONS[question].check(*values)
    if result.status == "not_attempted" and raised:
        return Item.scored(
            gid, points, "failed", f"{raised.rstrip('.')}, so the check found no answer: fix that error first."
        )
    if not result.passed:  # the check cell ran without its hidden tests: the grader's check alone decides
        return Item.scored(gid, points, result.status if result.status == "not_attempted" else "failed", result.message)
    if run.status != "ok":
        return Item.scored(gid, points, "failed", f"this check cell raised {run.reason}")
    return Item.scored(gid, points, "passed", NEXT.sub("", result.message))  # no "Next: ..." once handed in


def _titled(items: list[Item], titles: dict[str, str]) -> list[Item]:
    """Items with their step titles, and a pointer to the first earlier step that did not pass.

    Steps build on each other: when step 3's model is broken, step 4's
    training fails too, and the student should start with step 3.
    """
    out, first_missed = [], None
    for item in items:
        item = replace(item, title=titles.get(item.grade_id, ""))
        if item.status == "failed" and first_missed is not None and not item.reference:  # graded on its own: no pointer
            item = replace(
                item,
                message=f"{item.message} This step builds on {first_missed.name}, which did not pass: start there.",
            )
        if item.status != "passed" and first_missed is None:
            first_missed = item
        out.append(item)
    return out


def _raised(labels: list[str], runs: list[CellRun], cells: list[int]) -> str:
    """How the first of ``cells`` that raised failed ("cell 'model' raised ZeroDivisionError: ..."), or "".

    The released stub's ``NotImplementedError`` is no attempt, so it does not count.
    """
    for i in cells:
        if labels[i] == EXPORT_LABEL or runs[i].status != "error":
            continue
        if not runs[i].reason.startswith("NotImplementedError"):
            return f"{labels[i]} raised {runs[i].reason}"
    return ""


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


@dataclass(frozen=True)
class _Pass:
    """One run of an assembled submission and the items its answers scored.

    ``secret``: the run's kernel held hidden tests or the answer key (from cell ``secret_from`` on).
    ``cut``: graded cells whose verdict the time budget decided (their cell, or the grader's check of
    it, did not fit): a rerun's verdict for them is not used.
    """

    items: dict[str, Item]
    labels: list[str]
    runs: list[CellRun]
    steps: dict[str, list[int]]  # graded cell -> the student's cells of its step
    slots: dict[str, int]  # graded cell -> its position in the run
    grader_failed: bool  # no cell ran, through the grader's fault
    secret_from: int
    cut: frozenset[str]
    seconds: float


def _shown(run: CellRun, held_secrets: bool, secret: list[str]) -> CellRun:
    """``run`` with the kernel's own text as the feedback may show it (see :mod:`~mtl_teach.grading.from_kernel.text`)."""
    if not run.kernel_said:
        return run
    return replace(run, reason=withheld(run.reason) if held_secrets else redact(run.reason, secret))


def _run_pass(
    job: Job,
    assembly: Any,
    points: dict[str, int],
    exercise: Any,
    parent: Folder,
    secret: list[str],
    server: ForkServer | None,
    deadline: float,
    check_budget: bool,
) -> _Pass:
    """Run ``assembly``'s cells in a fresh sandboxed kernel, its folders new under ``parent``; score every graded cell.

    ``server``: the worker's fork server, which starts the kernel; None: a new bwrap sandbox (or none) starts it.
    ``deadline``: the submission's time budget (a ``time.monotonic()``); with ``check_budget`` the grader's
    checks must fit in it too (reruns), else each gets the cell time limit (the first run).
    """
    started = time.monotonic()
    # Fresh names, made exclusively: nothing an earlier kernel of this submission left in the slot is reused.
    with (
        parent.fresh("pass-") as root,
        root.make("work") as work,
        root.make("answers") as answers,
        root.make("private") as private,
    ):
        sources, labels, slots, secret_from = [], [], {}, len(assembly.cells) * 2 + 1
        steps: dict[str, list[int]] = {}
        step: list[int] = []
        for cell in assembly.cells:
            gid = cell.metadata.get("mtl_teach_slot")
            if cell.metadata.get("mtl_teach_secret"):
                secret_from = min(secret_from, len(sources))
            sources.append(cell.source)
            labels.append(f"cell {gid!r}" if gid else "one of your cells")
            if gid not in points:
                step.append(len(sources) - 1)
            if gid in points:
                slots[gid], steps[gid], step = len(sources) - 1, step, []
                names = list(exercise.GRADED.get(gid, (None, ()))[1])
                if names:
                    path = str(answers.path / f"{gid}.pt")
                    sources.append(EXPORT.format(module=export.__file__, path=path, names=names))
                    labels.append(EXPORT_LABEL)
        runs = run_cells(
            sources, work.path, private.path, job.limits, writable=(answers.path,), bwrap=job.bwrap,
            server=server, deadline=deadline,
        )  # fmt: skip
        runs = [_shown(run, i >= secret_from, secret) for i, run in enumerate(runs)]
        grader_failed = bool(runs) and all(r.status == "not_run" and r.reason.startswith(KERNEL_FAILED) for r in runs)
        items, cut = {}, set()
        for gid, pts in points.items():
            run = runs[slots[gid]] if gid in slots else None
            seconds = job.limits.cell_timeout
            if check_budget:
                seconds = min(seconds, deadline - time.monotonic())
            if (run is not None and run.out_of_time) or seconds < 1:
                cut.add(gid)
                if seconds < 1:
                    items[gid] = Item.scored(gid, pts, "error", "the submission's time budget ran out first")
                    continue
            raised = _raised(labels, runs, steps.get(gid, []))
            check = release_source(sources[slots[gid]]).strip() if gid in slots else ""
            items[gid] = _score_item(gid, pts, run, answers, exercise, seconds, raised, check)
    seconds = time.monotonic() - started
    return _Pass(items, labels, runs, steps, slots, grader_failed, secret_from, frozenset(cut), seconds)


def _on_its_own(item: Item, first: Item, before: list[str], titles: dict[str, str]) -> Item:
    """``item`` from a rerun where the failed steps ``before`` it ran the reference answer, in the grader's words.

    The rerun's kernel held the answer key: nothing it produced is shown, not even the check's message on
    its answers (key names, numbers). The step's first verdict, from the student's own run, is.
    """
    names = tuple(titles.get(g, g) for g in before)
    quoted = [f'"{name}"' for name in names]
    them = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    it = "it" if len(names) == 1 else "them"
    if item.status == "passed":
        message = (
            f"Graded on its own: since {them} did not pass, this step ran on the reference answer for {it}; "
            "your code for this step is right."
        )
    else:
        message = (
            f"(Graded on its own, on the reference answer for {them}: the mistake is in this step.) "
            f"On your own earlier steps the check said: {first.message}"
        )
    return replace(item, message=message, reference=names)


def _graded_step_by_step(
    job: Job,
    source: Any,
    notebook: Any,
    first: _Pass,
    touched: frozenset[str],
    points: dict[str, int],
    titles: dict[str, str],
    exercise: Any,
    parent: Folder,
    secret: list[str],
    server: ForkServer | None,
    deadline: float,
) -> tuple[dict[str, Item], _Pass | None]:
    """Grade each step on its own: rerun with the reference answer for every earlier step that did not pass.

    One wrong step must not cost every later one: when step 2's task is
    broken, the student's step 3 and 4 code runs again on the answer key's
    step 2, in a fresh kernel, and earns its points if it is right. Steps
    the student left as stubs trigger no rerun; the failed steps themselves
    keep their first verdict. At most one rerun per graded step, and only
    while the submission's time budget can hold one more run (as long as
    the first took).

    Returns the items and the last rerun (None when there was none); raises
    :class:`GraderFault` when a rerun's kernel cannot start or the answer
    key itself fails in it.
    """
    items, order = dict(first.items), list(first.items)
    replaced: set[str] = set()
    last: _Pass | None = None
    ran_out: set[str] = set()

    def missed_before(j: str) -> list[str]:
        """The steps before ``j`` that have not passed (so far), in order."""
        return [i for i in order[: order.index(j)] if items[i].status != "passed"]

    hidden = frozenset(gid for gid in points if gid not in exercise.GRADED)
    for _ in range(len(order)):
        target = next(
            (
                j
                for j in order
                if items[j].status != "passed"
                and j in touched
                and j not in replaced
                and j not in ran_out
                and not replaced.issuperset(missed_before(j))
            ),
            None,
        )
        if target is None:
            break
        if deadline - time.monotonic() < max(first.seconds, 1):  # a rerun takes about as long as the first run
            ran_out.update(
                j
                for j in order
                if items[j].status != "passed" and j in touched and j not in replaced and missed_before(j)
            )
            break
        replaced.update(missed_before(target))
        parent.clear()  # no kernel is alive: what the last run left (links, deep folders) goes before the next
        rerun = _run_pass(
            job,
            assemble(source, notebook, frozenset(replaced), hidden=hidden),
            points,
            exercise,
            parent,
            secret,
            server,
            deadline,
            check_budget=True,
        )
        if rerun.grader_failed:
            raise GraderFault(
                "a kernel to grade a step on its own could not start", rerun.runs[0].reason if rerun.runs else ""
            )
        for key in sorted(replaced):
            if rerun.items[key].status != "passed" and key not in rerun.cut:
                raise GraderFault(
                    f"the reference answer for {titles.get(key, key)!r} did not pass when it was run to grade a "
                    "later step on its own",
                    f"{key}: {rerun.items[key].status}: {rerun.items[key].message}",
                )
        last = rerun
        for j in order:
            before = missed_before(j)
            if j in replaced or items[j].status == "passed" or not replaced.issuperset(before):
                continue
            if j in rerun.cut or any(key in rerun.cut for key in before):
                ran_out.add(j)
                continue
            items[j] = _on_its_own(rerun.items[j], first.items[j], before, titles)
    for j in ran_out:
        if not items[j].reference:
            items[j] = replace(
                items[j],
                message=f"{items[j].message} (It could not be graded on its own: the submission's time limit of "
                f"{job.limits.notebook_timeout:g} s, its reruns included, ran out first.)",
            )
    return items, last


def _errors(first: _Pass, scored: dict[str, Item], last: _Pass | None) -> list[str]:
    """The student's cells that raised, for the notes: from the first run only (see :mod:`.from_kernel.text`).

    Left out: a graded cell's own error and a step's error its item names
    already, an untouched stub's NotImplementedError ("not attempted" says
    it), errors in steps graded again on their own (their item says what
    that run found), and, after a rerun, a cell after the last step that
    did not fail in the rerun too (it failed only because an earlier step
    was broken). No text of a rerun's kernel is ever shown.
    """
    quiet = set(first.slots.values()) | {
        i
        for gid, cells in first.steps.items()
        for i in cells
        if scored[gid].reference or f"{first.labels[i]} raised {first.runs[i].reason}" in scored[gid].message
    }
    # where the cells after the last graded cell (and its answer export) start
    tail = max(first.slots.values(), default=-1) + 1
    tail += tail < len(first.labels) and first.labels[tail] == EXPORT_LABEL
    if last is not None:
        offset = len(last.runs) - len(first.runs)
        quiet |= {
            i
            for i in range(tail, len(first.runs))
            if not 0 <= i + offset < len(last.runs) or last.runs[i + offset].status not in ("error", "dead")
        }
    return [
        f"{label}: {run.reason}"
        for i, (label, run) in enumerate(zip(first.labels, first.runs, strict=True))
        if run.status in ("error", "dead") and i not in quiet and not run.reason.startswith("NotImplementedError")
    ][:20]


def _rejected_note(first: _Pass) -> list[str]:
    count = sum(run.rejected for run in first.runs)
    if not count:
        return []
    return [
        f"your kernel sent {count} message{'s' * (count != 1)} the grader could not read (malformed Jupyter "
        "messages): they were dropped. That was your notebook's code, not the grader."
    ]


def unreadable_record(job: Job) -> Record:
    """The record of a file that is not a notebook at all: no kernel runs, every step says why."""
    try:
        read_submission(Path(job.submission))
    except SubmissionError as error:
        points = graded_cells(nbformat.read(job.source, as_version=4))
        items = [Item.scored(gid, pts, "error", error.args[0]) for gid, pts in points.items()]
        items = _titled(items, step_titles(nbformat.read(job.source, as_version=4)))
        notes = [error.args[0]] + ([] if job.sandbox else [NO_SANDBOX])
        return Record(job.student, job.submission, job.assignment, error.args[1], tuple(items), tuple(notes),
                      sandbox=job.sandbox, limits=asdict(job.limits))  # fmt: skip
    raise ValueError(f"{job.submission} is a notebook: grade it with grade_submission")


def grade_submission(job: Job, server: ForkServer | None = None) -> Record:
    """Grade ``job.submission``; return its record. Never raises for a bad submission.

    With ``server`` (sandboxed jobs only) its kernels come from that fork
    server and their scratch folders go in its slot. A grader fault gives a
    record with ``fault`` set (and no score), never an exception.
    """
    started = time.monotonic()
    deadline = started + job.limits.notebook_timeout  # the submission's one time budget, reruns included
    source = nbformat.read(job.source, as_version=4)
    exercise = importlib.import_module(job.exercise)
    points = graded_cells(source)
    titles = step_titles(source)
    notes: list[str] = []
    errors: list[str] = []
    fault = ""
    try:
        notebook, digest = read_submission(Path(job.submission))
    except SubmissionError as error:
        digest, notes = error.args[1], [error.args[0]]
        items = [Item.scored(gid, pts, "error", error.args[0]) for gid, pts in points.items()]
    else:
        hidden = frozenset(gid for gid in points if gid not in exercise.GRADED)  # no check of the grader's own
        assembly = assemble(source, notebook, hidden=hidden)
        secret = hidden_lines(source)  # a student's exception text may quote the hidden tests
        if server is not None:
            parent, owned = server.slot_folder, False  # the worker empties the slot after the job
        else:
            parent, owned = Folder.temporary(job.scratch or tempfile.gettempdir(), "mtl-grade-"), True
        try:
            with fresh_data(job.fresh_seed):
                first = _run_pass(job, assembly, points, exercise, parent, secret, server, deadline, False)
                if first.grader_failed:
                    raise GraderFault("no kernel could start", first.runs[0].reason)
                notes = [*assembly.notes, *limit_notes(first.labels, first.runs, job.limits), *_rejected_note(first)]
                scored, last = _graded_step_by_step(
                    job, source, notebook, first, assembly.touched, points, titles, exercise, parent, secret,
                    server, deadline,
                )  # fmt: skip
            items = list(scored.values())
            errors = _errors(first, scored, last)
        except GraderFault as error:
            fault = error.reason
            print(f"the grader failed on {job.student}: {error.reason}: {error.detail}", file=sys.stderr, flush=True)
            message = f"not graded: the grader failed ({error.reason}); your instructor will grade it again."
            items, notes, errors = [Item.scored(gid, pts, "error", message) for gid, pts in points.items()], [], []
        finally:
            if owned:
                parent.close()
                remove(parent.path)  # never raises, follows no link a kernel left
    if not job.sandbox:
        notes.append(NO_SANDBOX)
    items = _titled(items, titles)
    return Record(
        student=job.student,
        submission=job.submission,
        assignment=job.assignment,
        sha256=digest,
        items=tuple(items),
        notes=tuple(notes),
        errors=tuple(errors),
        sandbox=job.sandbox,
        fault=fault,
        limits=asdict(job.limits),
        seconds=round(time.monotonic() - started, 2),
    )
