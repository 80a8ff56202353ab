"""A grading worker: reads one job (JSON) per line on stdin, answers one record per line.

The parent (:mod:`mtl_teach.grading.grade`) keeps ``--jobs`` of these alive, so
the heavy imports happen once per worker, not once per submission. Anything
else that prints goes to stderr, keeping stdout for records only.

On Linux the worker is a child subreaper: a process the student's code
detaches (double fork, ``setsid``) is re-parented to the worker instead of
init, and is killed once the submission is graded, so nothing a submission
starts outlives its grading (e.g. to rewrite the output folder later).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import time
import traceback

import psutil

from mtl_teach.grading.kernel import Limits
from mtl_teach.grading.runner import Job, grade_submission

PR_SET_CHILD_SUBREAPER = 36


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
            record = {
                "student": job.student,
                "grader_error": f"{type(error).__name__}: {error}",
                "trace": traceback.format_exc()[-2000:],
            }
        if kill_leftovers() and "notes" in record:
            record["notes"].append("processes your code left running were stopped after grading.")
        records.write(json.dumps(record) + "\n")
        records.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
