"""``mtl-teach grade SUBMISSION.ipynb... --out DIR``: grade a batch of submissions.

Each submission runs in its own fresh kernel (see :mod:`~mtl_teach.grading.submission`),
``--jobs`` at a time, each in a long-lived :mod:`~mtl_teach.grading.worker` process.
Results are written as each submission finishes, so an interrupted batch
continues with ``--resume``; a folder that already holds grades is never
overwritten otherwise. Submissions are only ever read.

A fault of the grader is never a student's zero:

- **A canary first.** Before any grade is kept, each assignment's reference
  answers (its source notebook) are graded in exactly the batch's
  configuration: the same workers, sandbox, fork server, limits and fresh
  data. They must score full marks; otherwise ``grade`` stops, keeps
  nothing, exits 2 and says why (:func:`_canary_failure`). The canary runs
  beside the first students, whose grades are held until it passes.
- **No score on a grader fault.** A submission the grader failed on (its
  kernel could not start, its worker died, the answer key failed in a
  rerun) is "not graded" in every output, and ``grade`` exits 1 naming it;
  ``--resume`` grades it again.

Each submission is graded as the assignment its metadata names (a batch may
mix assignments); ``--assignment`` grades untagged ones as that assignment
and refuses a submission that names another. Students' names are their file
stems; printed, they are escaped (:func:`~mtl_teach.grading.from_kernel.text.printable`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtl_teach._errors import fail
from mtl_teach.grading.assignments import ASSIGNMENTS, exercise_module, source_notebook
from mtl_teach.grading.cells import graded_cells
from mtl_teach.grading.from_kernel.fs import Folder, read_regular, remove
from mtl_teach.grading.from_kernel.text import printable
from mtl_teach.grading.kernel import Limits
from mtl_teach.grading.record import STATUS, Item, Record
from mtl_teach.grading.report import STATE, Journal, folder_name, write_outputs
from mtl_teach.grading.sandbox import SandboxUnavailable, probe, readonly_roots
from mtl_teach.grading.submission import MAX_NOTEBOOK_BYTES, Job, SubmissionError, read_submission, unreadable_record
from mtl_teach.grading.worker import WorkerProcess

CANARY = "(canary: the reference answers of {assignment})"
SCRATCH_PREFIX = "mtl-grade-batch-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submissions",
        nargs="+",
        metavar="SUBMISSION.ipynb",
        help="students' notebooks; each file's stem names the student",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for grades.csv, feedback/ and results/")
    parser.add_argument(
        "--assignment",
        help="assignment name (default: each notebook's own, from its metadata); submissions that name "
        "another assignment are refused",
    )
    parser.add_argument("--source", help="instructor's source notebook (default: notebooks/<assignment>.ipynb)")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: all cores)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="time limit per cell (default 60)"
    )
    parser.add_argument(
        "--notebook-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="time limit per submission: its notebook and any reruns of it (default 600)",
    )
    parser.add_argument(
        "--memory-mb", type=int, default=4096, help="memory (address space) limit per kernel in MiB (default 4096)"
    )
    parser.add_argument(
        "--no-sandbox",
        dest="sandbox",
        action="store_false",
        help="run kernels without the bubblewrap sandbox, as your own user (only for code you trust; "
        "grades.csv and the feedback say so)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted batch in DIR, skipping submissions already graded (and saying which "
        "grades changed)",
    )


# --- what to grade ------------------------------------------------------------------------------------------


def _check_paths(paths: list[Path]) -> None:
    for path in paths:
        if not path.is_file():
            fail("grade SUBMISSION", "must be an existing file", str(path), "check the path.")
    if others := [p.name for p in paths if p.suffix.lower() != ".ipynb"]:
        fail(
            "grade SUBMISSION",
            "must be a Jupyter notebook (.ipynb): the grader runs notebooks, not other files",
            others,
            "pass the students' .ipynb files only (e.g. submissions/*.ipynb); a .py or other file is not a "
            "submission the grader can run.",
        )
    stems = Counter(p.stem for p in paths)
    if dupes := [s for s, n in stems.items() if n > 1]:
        fail(
            "grade SUBMISSION",
            "file stems name the students, so they must be unique",
            dupes,
            "rename the files, e.g. <student>.ipynb.",
        )
    folders = Counter(folder_name(p.stem) for p in paths)
    if clashes := [p.stem for p in paths if folders[folder_name(p.stem)] > 1]:
        fail(
            "grade SUBMISSION",
            "file stems must map to distinct output folders",
            clashes,
            "rename the files with plain names (letters, digits, '.', '_', '-').",
        )


def _named(path: Path) -> tuple[str | None, bool]:
    """The assignment ``path``'s metadata names (None: untagged or unreadable), and whether it is a notebook."""
    try:
        notebook, _ = read_submission(path)
    except SubmissionError:
        return None, False
    meta = notebook.metadata.get("mtl_teach", {})
    name = meta.get("assignment") if isinstance(meta, dict) else None
    return (name if isinstance(name, str) else None), True


def _plan(paths: list[Path], given: str | None, source: str | None) -> tuple[dict[Path, str], set[Path]]:
    """Each submission's assignment: its own (from its metadata), or ``given``; refuse what cannot be told.

    Also returns the submissions that are notebooks at all (the others are graded without a kernel).
    """
    read = {path: _named(path) for path in paths}
    named = {path: assignment for path, (assignment, _) in read.items()}
    notebooks = {path for path, (_, readable) in read.items() if readable}
    if given:
        exercise_module(given)
        others = [f"{p.name} ({a})" for p, a in named.items() if a in ASSIGNMENTS and a != given]
        if others:
            fail(
                "grade --assignment",
                f"is {given!r}, but these submissions name another assignment in their metadata",
                others,
                "grade them in a separate run, or leave out --assignment to grade each as the assignment it names.",
            )
        return dict.fromkeys(paths, given), notebooks
    known = sorted({a for a in named.values() if a in ASSIGNMENTS})
    if not known:
        fail(
            "grade --assignment",
            "is needed: no submission names a known assignment in its metadata",
            None,
            f"pass --assignment (known: {', '.join(ASSIGNMENTS)}).",
        )
    untold = [p.name for p, a in named.items() if a not in ASSIGNMENTS]
    if untold and len(known) > 1:
        fail(
            "grade --assignment",
            f"is needed for submissions that name no known assignment, in a batch of several ({', '.join(known)})",
            untold,
            "grade those in a separate run with --assignment NAME.",
        )
    if source and len(known) > 1:
        fail(
            "grade --source",
            "names one source notebook, but the submissions are of several assignments",
            known,
            "grade each assignment in its own run with its --source.",
        )
    return {p: a if a in ASSIGNMENTS else known[0] for p, a in named.items()}, notebooks


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(read_regular(path, MAX_NOTEBOOK_BYTES)).hexdigest()
    except OSError:
        return ""


def _why_again(done: Record | None, job: Job, sha256: str) -> str:
    """Why ``job`` is graded again under ``--resume`` ("" if it was never graded)."""
    if done is None:
        return ""
    if not done.scored:
        return "the grader failed on it last time"
    if done.sha256 != sha256:
        return "the file changed since it was graded"
    if done.assignment != job.assignment:
        return f"graded now as {job.assignment} (was {done.assignment})"
    if done.sandbox != job.sandbox:
        return "graded now with the sandbox" if job.sandbox else "graded now without the sandbox"
    return ""


def _scratch(journal: Journal) -> Path:
    """A new folder for this batch's scratch folders, after removing the one a killed run left.

    It sits in the system's temp folder, not in ``--out``: ZMQ's Unix socket
    paths inside it must stay under 108 bytes. Its path is kept in the state
    folder, so the next run (``--resume`` after kill -9) finds and removes it,
    whatever a kernel left in it (never raising; see
    :mod:`~mtl_teach.grading.from_kernel.fs`).
    """
    left = journal.scratch_path()
    temp = Path(tempfile.gettempdir()).resolve()
    ours = left is not None and left.parent == temp and left.name.startswith(SCRATCH_PREFIX)
    if ours and not remove(left):
        print(f"note: could not remove all of {printable(str(left))}, left by an earlier run", file=sys.stderr)
    with Folder.temporary(temp, SCRATCH_PREFIX) as folder:
        journal.scratch_path(folder.path)
        return folder.path


# --- the canary ---------------------------------------------------------------------------------------------


def _canary_failure(record: Record, job: Job, args: argparse.Namespace) -> str:
    """'' when the reference answers scored full marks; else what is wrong with this configuration and the fix."""
    if record.scored and record.total == record.max_score:
        return ""
    score = f"scored {record.total}/{record.max_score}" if record.scored else f"got no score ({record.fault})"
    said = [*(f"{i.name or i.grade_id}: {STATUS[i.status]}: {i.message}" for i in record.items), *record.errors]
    if not record.scored:
        said = [record.fault]
    text = "\n".join(said)
    if "ModuleNotFoundError" in text or "ImportError" in text:
        cause = (
            "a kernel in the sandbox could not import a module it needs. The sandbox shows a kernel only "
            f"these folders of this machine: {', '.join(readonly_roots())}; a package installed elsewhere (an "
            "editable install pointing at another checkout, a .pth entry, PYTHONPATH) is missing there"
        )
        fix = (
            "install mtl-teach and its dependencies into the Python environment you run grade with (e.g. "
            "`pip install -e .` in this checkout), and run grade with that environment's python."
        )
    elif not record.scored or "kernel failed" in text or "kernel died" in text or "MemoryError" in text:
        cause = "no kernel could run the reference answers in this configuration"
        fix = (
            f"check --memory-mb ({args.memory_mb} now; a kernel needs about 1,500 MiB to import torch and train) "
            "and that kernels can start here (try one submission with --jobs 1)."
        )
    elif "time limit" in text or "time budget" in text:
        cause = "the reference answers ran over the time limits"
        fix = f"raise --timeout ({args.timeout:g} s now) or --notebook-timeout ({args.notebook_timeout:g} s now)."
    else:
        cause = "the reference answers do not pass the checks"
        fix = (
            "check that --source (or notebooks/<assignment>.ipynb) is the solution notebook release was run on, "
            "not a student copy, and that it runs from top to bottom."
        )
    sandbox = "sandbox on" if job.sandbox else "no sandbox"
    return (
        f"grade stopped before keeping any grade: the reference answers of {job.assignment} "
        f"({printable(job.source)}) {score} in this batch's configuration ({sandbox}, "
        f"--timeout {args.timeout:g}, --notebook-timeout {args.notebook_timeout:g}, --memory-mb {args.memory_mb}), "
        f"so every student would have been scored by a broken grader.\nCause: {cause}.\nFix: {fix}\n"
        "What the reference answers got:\n" + "\n".join(f"  {printable(line)}" for line in said[:12])
    )


# --- the batch ----------------------------------------------------------------------------------------------


@dataclass
class _Progress:
    """What the batch has kept so far, and what it says as each submission finishes (under ``lock``)."""

    out: Path
    journal: Journal
    records: dict[str, Record]
    item_ids: list[str]
    before: dict[str, Record]  # the journal's records when the batch started (for "changed")
    again: dict[str, str]  # student -> why graded again
    canaries: int  # still running
    held: list[Record] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    stopped: str = ""  # why the batch stopped (a failed canary)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, record: Record) -> None:
        """Journal, write and announce ``record``; held while a canary is still running."""
        if self.stopped:
            return
        if self.canaries:
            self.held.append(record)
            return
        self.journal.append(record)
        self.records[record.student] = record
        write_outputs(self.out, self.records, self.item_ids, [record.student])
        print(self.line(record), flush=True)

    def line(self, record: Record) -> str:
        name = printable(record.student)
        if not record.scored:
            return f"{name}: not graded (the grader failed on it: {printable(record.fault)})"
        said = f"{name}: {record.total}/{record.max_score}"
        earlier, why = self.before.get(record.student), self.again.get(record.student, "")
        if earlier is not None and earlier.scored and why:
            if earlier.total != record.total or earlier.max_score != record.max_score:
                self.changed.append(f"{name} {earlier.total}/{earlier.max_score} -> {record.total}/{record.max_score}")
                said += f" (was {earlier.total}/{earlier.max_score}: {why})"
            else:
                said += f" (unchanged; {why})"
        return said

    def canary_done(self, failure: str) -> list[Record]:
        """Count a canary in; return the held records to keep once the last one passed."""
        if failure:
            self.stopped = self.stopped or failure
            return []
        self.canaries -= 1
        if self.canaries or self.stopped:
            return []
        held, self.held = self.held, []
        return held


def _not_scored(job: Job, why: str) -> Record:
    """The record of a submission the grader itself failed on: no score, graded again by ``--resume``."""
    items = graded_cells(_read_source(job.source))
    message = f"not graded: the grader failed ({why}); your instructor will grade it again."
    rows = tuple(Item.scored(gid, points, "error", message) for gid, points in items.items())
    return Record(job.student, job.submission, job.assignment, _sha256(Path(job.submission)), rows, sandbox=job.sandbox,
                  fault=why)  # fmt: skip


def _read_source(path: str) -> Any:
    import nbformat

    return nbformat.read(path, as_version=4)


def run(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.submissions]
    _check_paths(paths)
    for name, value in (
        ("--jobs", args.jobs),
        ("--timeout", args.timeout),
        ("--notebook-timeout", args.notebook_timeout),
        ("--memory-mb", args.memory_mb),
    ):
        if not value > 0:
            fail(
                f"grade {name}",
                "must be > 0",
                value,
                f"pass e.g. {name} {Limits.__dataclass_fields__['cell_timeout'].default:g}."
                if "timeout" in name
                else f"pass a positive {name}.",
            )
    out = Path(args.out)
    if not args.resume and ((out / STATE).exists() or (out / "grades.csv").exists()):
        fail(
            "grade --out",
            "already holds grades, which a new run would overwrite",
            str(out),
            "pass --resume to continue that batch, or choose a new --out.",
        )
    bwrap = None
    if args.sandbox:
        try:
            bwrap = probe()
        except SandboxUnavailable as error:
            fail(
                "grade",
                "runs each kernel in a bubblewrap sandbox, which cannot start here",
                error.cause,
                error.fix,
                raw=True,
            )
    plan, notebooks = _plan(paths, args.assignment, args.source)
    assignments = sorted(set(plan.values()), key=list(ASSIGNMENTS).index)
    sources = {a: source_notebook(a, args.source) for a in assignments}
    item_ids = list(dict.fromkeys(gid for a in assignments for gid in graded_cells(_read_source(str(sources[a])))))
    limits = Limits(cell_timeout=args.timeout, notebook_timeout=args.notebook_timeout, memory_mb=args.memory_mb)
    new = not out.exists()
    journal = Journal(out)
    records = journal.records()
    scratch = _scratch(journal)
    seed = journal.fresh_seed()

    def job_for(path: Path, student: str, assignment: str) -> Job:
        return Job(
            str(path.resolve()), student, str(sources[assignment].resolve()), exercise_module(assignment), assignment,
            limits, bwrap=bwrap, scratch=str(scratch), fresh_seed=seed,
        )  # fmt: skip

    jobs, again, skipped, kernels = [], {}, 0, set()
    for path in paths:
        job = job_for(path, path.stem, plan[path])
        done = records.get(path.stem)
        why = _why_again(done, job, _sha256(path))
        if args.resume and done is not None and not why:
            skipped += 1
            continue
        jobs.append(job)
        if path in notebooks:
            kernels.add(job.assignment)
        if args.resume and why:
            again[job.student] = why
    readable = {str(path.resolve()) for path in notebooks}
    # a canary for each assignment a kernel will run for (a file that is no notebook is graded without one)
    canaries = [job_for(sources[a], CANARY.format(assignment=a), a) for a in assignments if a in kernels]
    progress = _Progress(out, journal, records, item_ids, dict(records), again, len(canaries))
    wait = limits.notebook_timeout + len(item_ids) * limits.cell_timeout + 180
    local = threading.local()
    workers: list[WorkerProcess] = []

    def worker() -> WorkerProcess:
        if not hasattr(local, "worker"):
            local.worker = WorkerProcess()
            with progress.lock:
                workers.append(local.worker)
        return local.worker

    def grade(job: Job, canary: bool) -> None:
        if progress.stopped:
            return
        unreadable = job.submission not in readable and not canary
        record = unreadable_record(job) if unreadable else worker().grade(job, wait)
        if isinstance(record, str):  # the grader failed, not the student
            record = _not_scored(job, record)
        with progress.lock:
            if not canary:
                progress.keep(record)
                return
            failure = _canary_failure(record, job, args)
            if not failure:
                print(
                    f"canary: the reference answers of {job.assignment} scored {record.total}/{record.max_score} "
                    "in this configuration; grades are kept from here",
                    file=sys.stderr,
                    flush=True,
                )
            for held in progress.canary_done(failure):
                progress.keep(held)
        if failure:  # stop the others now: nothing they grade will be kept
            for other in list(workers):
                other.close()

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(args.jobs, len(jobs) + len(canaries)))) as pool:
            work = [pool.submit(grade, job, True) for job in canaries]
            work += [pool.submit(grade, job, False) for job in jobs]
            for future in work:
                future.result()
    finally:
        for each in workers:
            each.close()
        # every kernel is gone now: drop anything a submission wrote into the journal, then rebuild every output
        journal.restore()
        if journal.tampered:
            print("note: lines not written by the grader were removed from the journal", file=sys.stderr)
        if progress.records or journal.records():
            write_outputs(out, journal.records(), item_ids)
        if not remove(scratch):  # never raises, whatever a kernel left there
            print(f"note: could not remove all of {printable(str(scratch))}", file=sys.stderr)
        journal.close()
    if progress.stopped:
        if not journal.records():  # a new batch that kept nothing: leave no folder that --resume would need
            remove(out if new else out / STATE)
        print(progress.stopped, file=sys.stderr)
        return 2
    return _summary(progress, jobs, skipped, out)


def _summary(progress: _Progress, jobs: list[Job], skipped: int, out: Path) -> int:
    print(f"graded {len(jobs)}, skipped {skipped} already graded; wrote {out / 'grades.csv'}")
    if progress.changed:
        print(
            f"{len(progress.changed)} grade{'s' * (len(progress.changed) != 1)} changed: {'; '.join(progress.changed)}"
        )
    failed = [
        printable(job.student)
        for job in jobs
        if job.student in progress.records and not progress.records[job.student].scored
    ]
    if failed:
        print(
            f"the grader failed on {len(failed)} submission{'s' * (len(failed) != 1)} ({', '.join(failed[:10])}): "
            "they are not graded (not a 0: grades.csv leaves them empty and their feedback says so). Fix the cause, "
            "e.g. a --memory-mb too small for a kernel to start, then run again with --resume to grade just those.",
            file=sys.stderr,
        )
        return 1
    return 0
