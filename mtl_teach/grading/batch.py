"""``mtl-teach grade SUBMISSION.ipynb... --out DIR``: grade a batch of submissions.

Each submission runs in its own fresh kernel (see :mod:`~mtl_teach.grading.submission`),
``--jobs`` at a time, each in a long-lived :mod:`~mtl_teach.grading.worker` process. Results are written as each submission finishes, so an
interrupted batch continues with ``--resume``; a folder that already holds
grades is never overwritten otherwise. Submissions are only ever read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mtl_teach._errors import fail
from mtl_teach.grading.assignments import ASSIGNMENTS, exercise_module, source_notebook
from mtl_teach.grading.cells import graded_cells
from mtl_teach.grading.kernel import Limits
from mtl_teach.grading.record import Item, Record
from mtl_teach.grading.report import STATE, Journal, write_outputs
from mtl_teach.grading.sandbox import SandboxUnavailable, probe
from mtl_teach.grading.submission import Job, SubmissionError, read_submission
from mtl_teach.grading.worker import WorkerProcess


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submissions",
        nargs="+",
        metavar="SUBMISSION.ipynb",
        help="students' notebooks; each file's stem names the student",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for grades.csv, feedback/ and results/")
    parser.add_argument("--assignment", help="assignment name (default: from the notebooks' metadata)")
    parser.add_argument("--source", help="instructor's source notebook (default: notebooks/<assignment>.ipynb)")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: all cores)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="time limit per cell (default 60)"
    )
    parser.add_argument(
        "--notebook-timeout", type=float, default=600.0, metavar="SECONDS", help="time limit per notebook (default 600)"
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
        help="continue an interrupted batch in DIR, skipping submissions already graded",
    )


def _assignment(paths: list[Path], given: str | None) -> str:
    if given:
        exercise_module(given)
        return given
    named = []
    for path in paths:
        try:
            notebook, _ = read_submission(path)
        except (SubmissionError, OSError):
            continue
        meta = notebook.metadata.get("mtl_teach", {})
        name = meta.get("assignment") if isinstance(meta, dict) else None
        if name in ASSIGNMENTS:
            named.append(name)
    if not named:
        fail(
            "grade --assignment",
            "is needed: no submission names a known assignment in its metadata",
            None,
            f"pass --assignment (known: {', '.join(ASSIGNMENTS)}).",
        )
    return Counter(named).most_common(1)[0][0]


def _error_record(job: Job, sha256: str, items: dict[str, int], message: str) -> Record:
    """A 0 for every item when the grader itself failed on ``job``; ``--resume`` grades it again."""
    rows = tuple(Item.scored(gid, points, "error", message) for gid, points in items.items())
    return Record(
        job.student, job.submission, job.assignment, sha256, rows, notes=(message,), sandbox=job.sandbox,
        grader_failed=True,
    )  # fmt: skip


def _scratch(state: Path) -> Path:
    """A new folder for this batch's scratch folders, after removing the one a killed run left.

    It sits in the system's temp folder, not in ``--out``: ZMQ's Unix socket
    paths inside it must stay under 108 bytes. Its path is kept in the state
    folder, so the next run (``--resume`` after kill -9) finds and removes it.
    """
    record = state / "scratch-path"
    if record.is_file():
        left = Path(record.read_text().strip())
        if left.name.startswith("mtl-grade-batch-") and left.is_dir():
            shutil.rmtree(left, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix="mtl-grade-batch-"))
    record.write_text(str(folder))
    return folder


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.submissions]
    for path in paths:
        if not path.is_file():
            fail("grade SUBMISSION", "must be an existing file", str(path), "check the path.")
    stems = Counter(p.stem for p in paths)
    if dupes := [s for s, n in stems.items() if n > 1]:
        fail(
            "grade SUBMISSION",
            "file stems name the students, so they must be unique",
            dupes,
            "rename the files, e.g. <student>.ipynb.",
        )
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
    assignment = _assignment(paths, args.assignment)
    source = source_notebook(assignment, args.source)
    import nbformat

    items = graded_cells(nbformat.read(source, as_version=4))
    limits = Limits(cell_timeout=args.timeout, notebook_timeout=args.notebook_timeout, memory_mb=args.memory_mb)
    journal = Journal(out)
    records = journal.records()
    scratch = _scratch(journal.folder)
    jobs, skipped = [], 0
    for path in paths:
        job = Job(
            str(path.resolve()),
            path.stem,
            str(source.resolve()),
            exercise_module(assignment),
            assignment,
            limits,
            bwrap=bwrap,
            scratch=str(scratch),
        )
        done = records.get(path.stem)
        if (
            args.resume
            and done
            and not done.grader_failed  # the grader failed on it last time: grade it again
            and done.sha256 == _sha256(path)
            and done.assignment == assignment
            and done.sandbox == args.sandbox
        ):
            skipped += 1
            continue
        jobs.append(job)
    lock = threading.Lock()
    local = threading.local()
    workers: list[WorkerProcess] = []

    def grade(job: Job) -> None:
        if not hasattr(local, "worker"):
            local.worker = WorkerProcess()
            with lock:
                workers.append(local.worker)
        record = local.worker.grade(job, wait=limits.notebook_timeout + 180)
        if isinstance(record, str):  # the grader failed, not the student
            record = _error_record(
                job, _sha256(Path(job.submission)), items, f"grader error: {record}; please report it"
            )
        with lock:
            journal.append(record)
            records[record.student] = record
            write_outputs(out, records, list(items), [record.student])
            print(f"{record.student}: {record.total}/{record.max_score}", flush=True)

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(args.jobs, len(jobs) or 1))) as pool:
            list(pool.map(grade, jobs))
    finally:
        for worker in workers:
            worker.close()
        shutil.rmtree(scratch, ignore_errors=True)
    journal.restore()  # every kernel is gone now: drop anything a submission wrote into the journal
    if journal.tampered:
        print("note: lines not written by the grader were removed from the journal", file=sys.stderr)
    write_outputs(out, journal.records(), list(items))  # every file again, from the grader's own records
    print(f"graded {len(jobs)}, skipped {skipped} already graded; wrote {out / 'grades.csv'}")
    failed = [job.student for job in jobs if job.student in records and records[job.student].grader_failed]
    if failed:
        print(
            f"the grader failed on {len(failed)} submission{'s' * (len(failed) != 1)} ({', '.join(failed[:10])}): "
            "no cell of theirs ran, so they got 0 for now (see their feedback). Fix the cause, e.g. a --memory-mb "
            "too small for a kernel to start, then run again with --resume to grade just those.",
            file=sys.stderr,
        )
        return 1
    return 0
