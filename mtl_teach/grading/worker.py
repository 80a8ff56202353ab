"""A grading worker process, both ends: :class:`WorkerProcess` in the batch, :func:`main` in the child.

The batch (:mod:`mtl_teach.grading.batch`) keeps ``--jobs`` of these alive, so
the heavy imports happen once per worker, not once per submission. The
child reads one job (JSON) per line on stdin and answers one line per job on
stdout: a :class:`~mtl_teach.grading.record.Record`, or
``{"grader_error": ...}`` when the grader itself failed. Anything else that
prints goes to stderr, keeping stdout for answers only.

A sandboxed worker also keeps a fork server
(:mod:`~mtl_teach.grading.forkserver`), which starts its kernels with torch
already imported; ``MTL_TEACH_FORK_SERVER=0`` turns it off (each kernel
then starts in its own sandbox and imports everything itself).

On Linux the worker is a child subreaper: a process the student's code
detaches (double fork, ``setsid``) is re-parented to the worker instead of
init, and is killed once the submission is graded, so nothing a submission
starts outlives its grading (e.g. to rewrite the output folder later).

The worker's own memory is bounded too (``RLIMIT_AS``, :func:`memory_limit`):
what a kernel sends is capped as it arrives and answer files are size-checked
before decoding, and this limit is the last line behind them, so no
submission can take the machine's memory through the grader. The worker's
stderr reaches the instructor's terminal only through the batch's filter,
which escapes control characters (a kernel's text or a student's file name
cannot move the cursor or fake a line).
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
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import psutil

from mtl_teach.grading.forkserver import ForkServer
from mtl_teach.grading.from_kernel.text import printable_lines
from mtl_teach.grading.kernel import Limits
from mtl_teach.grading.record import Record
from mtl_teach.grading.submission import Job, grade_submission

PR_SET_CHILD_SUBREAPER = 36
LEFTOVERS = "processes your code left running were stopped after grading."
MEMORY_MB = 4096  # the worker's own address space: torch (under 1 GiB), the checks, a kernel's capped messages


def memory_limit(pid: int, megabytes: int = MEMORY_MB) -> None:
    """Bound process ``pid``'s address space (``RLIMIT_AS``), so no kernel's output can take the machine's memory."""
    import resource

    _, hard = resource.prlimit(pid, resource.RLIMIT_AS)
    limit = megabytes * 2**20 if hard == resource.RLIM_INFINITY else min(megabytes * 2**20, hard)
    resource.prlimit(pid, resource.RLIMIT_AS, (limit, hard))


def _pass_stderr(stream: Any) -> None:
    """Copy the worker's stderr to ours, escaped: text in it may come from a kernel or a student's file name."""
    for line in stream:
        sys.stderr.write(printable_lines(line.rstrip("\n")) + "\n")
        sys.stderr.flush()


class WorkerProcess:
    """The batch's handle on one long-lived worker, started on first use and again after it dies."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def __repr__(self) -> str:
        return f"WorkerProcess(pid={self.process.pid if self.process else None})"

    def start(self) -> None:
        """Start the worker process now (its imports overlap other work); :meth:`grade` starts it if needed."""
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mtl_teach.grading.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env={**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"},
            )
            memory_limit(self.process.pid)  # at once: before it has imported anything, let alone graded
            threading.Thread(target=_pass_stderr, args=(self.process.stderr,), daemon=True).start()

    def grade(self, job: Job, wait: float) -> Record | str:
        """``job``'s record, or why the grader failed on it (the worker died, hung ``wait`` s, or raised)."""
        self.start()
        process = self.process  # close() from another thread (a failed canary) may drop it meanwhile
        assert process is not None and process.stdin and process.stdout
        try:
            process.stdin.write(json.dumps(dataclasses.asdict(job)) + "\n")
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], wait)
            line = process.stdout.readline() if ready else ""
        except (OSError, ValueError):
            line = ""
        if not line:
            self.close()
            return "the grading worker died or hung on this submission"
        try:
            answer = json.loads(line)
        except ValueError:
            answer = {}
        if isinstance(answer, dict) and "grader_error" in answer:
            return str(answer["grader_error"])
        return Record.from_json(line) or "the grading worker sent a record the batch cannot read"

    def close(self) -> None:
        process, self.process = self.process, None
        if process and process.poll() is None:
            process.kill()
            process.wait()


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


def kill_leftovers(keep: int | None = None) -> int:
    """Kill every process left below this one (after a submission) but ``keep`` and its own; return how many."""
    _reap()
    killed = 0
    for _ in range(10):  # again, in case one forked while we looked
        pids = _descendants(os.getpid())
        if keep is not None:  # the idle fork server: it runs no student code, and starts nothing while idle
            kept = {keep, *_descendants(keep)}
            pids = [pid for pid in pids if pid not in kept]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        time.sleep(0.05)
        _reap()
    return killed


class _Servers:
    """This worker's fork server: started on the first sandboxed job, again if it died; None where it cannot run."""

    def __init__(self) -> None:
        self.server: ForkServer | None = None
        self.unavailable = os.environ.get("MTL_TEACH_FORK_SERVER", "1") == "0"

    def __repr__(self) -> str:
        return f"_Servers(server={self.server!r}, unavailable={self.unavailable})"

    def for_job(self, job: Job) -> ForkServer | None:
        if job.bwrap is None or self.unavailable:
            return None
        if self.server is None or not self.server.alive:
            if self.server is not None:
                self.server.close()
            folder = Path(job.scratch or tempfile.gettempdir())
            self.server, why = ForkServer.start(job.bwrap, folder, job.limits.tmp_mb)
            if self.server is None:
                self.unavailable = True
                print(
                    f"note: grading without the fork server ({why}): every kernel imports torch itself, "
                    "which is slower; the sandbox is the same.",
                    file=sys.stderr,
                )
        return self.server

    def after_job(self) -> None:
        """Once the job's kernels are gone: empty the slot for the next student (or drop a server that fails)."""
        server = self.server
        if server is None:
            return
        try:
            if not server.wait_idle():
                raise OSError("the fork server did not answer")
            server.wipe_slot()
        except OSError as error:
            print(f"note: restarting the fork server ({error})", file=sys.stderr)
            server.close()
            self.server = None

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def main() -> int:
    records = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints (ours or libraries') must not corrupt the records
    sys.stdout = sys.stderr
    _become_subreaper()
    servers = _Servers()
    try:
        return _serve(records, servers)
    finally:
        servers.close()


def _serve(records: Any, servers: _Servers) -> int:
    for line in sys.stdin:
        if not line.strip():
            continue
        fields = json.loads(line)
        fields["limits"] = Limits(**fields["limits"])
        job = Job(**fields)
        server = servers.for_job(job)
        try:
            record = grade_submission(job, server)
        except Exception as error:  # a grader bug: report it for this submission only
            traceback.print_exc()  # to stderr, which the batch passes through
            servers.after_job()
            kill_leftovers(_server_pid(servers))
            answer = json.dumps({"student": job.student, "grader_error": f"{type(error).__name__}: {error}"})
        else:
            servers.after_job()
            if kill_leftovers(_server_pid(servers)):
                record = dataclasses.replace(record, notes=(*record.notes, LEFTOVERS))
            answer = record.to_json()
        records.write(answer + "\n")
        records.flush()
    return 0


def _server_pid(servers: _Servers) -> int | None:
    return servers.server.process.pid if servers.server is not None else None


if __name__ == "__main__":
    sys.exit(main())
