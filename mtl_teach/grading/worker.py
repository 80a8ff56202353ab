"""A grading worker process, both ends: :class:`WorkerProcess` in the batch, :func:`main` in the child.

The batch (:mod:`mtl_teach.grading.batch`) keeps ``--jobs`` of these alive, so
the heavy imports happen once per worker, not once per submission. The
child reads one job (JSON) per line on stdin and answers one line per job on
stdout: a :class:`~mtl_teach.grading.record.Record`, or
``{"grader_error": ...}`` when the grader itself failed. Anything else that
prints goes to stderr, keeping stdout for answers only.

On Linux the worker is a child subreaper: a process the student's code
detaches (double fork, ``setsid``) is re-parented to the worker instead of
init, and is killed once the submission is graded, so nothing a submission
starts outlives its grading (e.g. to rewrite the output folder later).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback

import psutil

from mtl_teach.grading.kernel import Limits
from mtl_teach.grading.record import Record
from mtl_teach.grading.submission import Job, grade_submission

PR_SET_CHILD_SUBREAPER = 36
LEFTOVERS = "processes your code left running were stopped after grading."


class WorkerProcess:
    """The batch's handle on one long-lived worker, started on first use and again after it dies."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def __repr__(self) -> str:
        return f"WorkerProcess(pid={self.process.pid if self.process else None})"

    def grade(self, job: Job, wait: float) -> Record | str:
        """``job``'s record, or why the grader failed on it (the worker died, hung ``wait`` s, or raised)."""
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mtl_teach.grading.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(json.dumps(dataclasses.asdict(job)) + "\n")
            self.process.stdin.flush()
            ready, _, _ = select.select([self.process.stdout], [], [], wait)
            line = self.process.stdout.readline() if ready else ""
        except OSError:
            line = ""
        if not line:
            self.close()
            return "the grading worker died or hung on this submission"
        answer = json.loads(line)
        if "grader_error" in answer:
            return answer["grader_error"]
        return Record.from_json(line) or "the grading worker sent a record the batch cannot read"

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def _become_subreaper() -> None:
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _descendants(root: int) -> list[int]:
    """Process ids below ``root`` in the process tree, zombies left out (reaping them is enough)."""
    try:
        children = psutil.Process(root).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for child in children:
        with contextlib.suppress(psutil.Error):  # gone while we looked
            if child.status() != psutil.STATUS_ZOMBIE:
                found.append(child.pid)
    return found


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def kill_leftovers() -> int:
    """Kill every process left below this one (after a submission); return how many."""
    _reap()
    killed = 0
    for _ in range(10):  # again, in case one forked while we looked
        pids = _descendants(os.getpid())
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        time.sleep(0.05)
        _reap()
    return killed


def main() -> int:
    records = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints (ours or libraries') must not corrupt the records
    sys.stdout = sys.stderr
    _become_subreaper()
    for line in sys.stdin:
        if not line.strip():
            continue
        fields = json.loads(line)
        fields["limits"] = Limits(**fields["limits"])
        job = Job(**fields)
        try:
            record = grade_submission(job)
        except Exception as error:  # a grader bug: report it for this submission only
            traceback.print_exc()  # to stderr, which the batch passes through
            kill_leftovers()
            answer = json.dumps({"student": job.student, "grader_error": f"{type(error).__name__}: {error}"})
        else:
            if kill_leftovers():
                record = dataclasses.replace(record, notes=(*record.notes, LEFTOVERS))
            answer = record.to_json()
        records.write(answer + "\n")
        records.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
