"""Run a list of code cells in a fresh, resource-limited kernel, cell by cell.

Each cell gets a status from nbclient's view of its execution: ``ok``,
``error`` (with the exception's name and message; a timeout interrupts the
cell and counts as an error), ``dead`` (the kernel died in it) or
``not_run`` (after a death, or once the notebook's time is used up).

A cell interrupted at its time limit must leave the kernel free: if an
empty cell gets no reply within seconds (the code caught the interrupt), the
remaining cells are marked ``not_run`` instead of each waiting out its limit.

Two limits span cells: the notebook's time (``notebook_timeout``, counted from
the moment the kernel is ready; a cell still running when it is used up is
interrupted and the rest do not run), and captured output, kept up to
``output_bytes`` per cell and ``notebook_output_bytes`` in all and dropped
beyond, so a print loop cannot fill the grader's memory.

What the kernel sends is read through :mod:`~mtl_teach.grading.from_kernel.messages`
(a malformed or oversized message is dropped and blamed on the kernel, never
on the grader), and the folders it could write are made and measured through
:mod:`~mtl_teach.grading.from_kernel.fs`. Only a kernel that never became
ready is the grader's failure (:data:`KERNEL_FAILED`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient.exceptions import CellExecutionError, DeadKernelError

from mtl_teach.grading.forkserver import ForkServer
from mtl_teach.grading.from_kernel.fs import Folder
from mtl_teach.grading.from_kernel.messages import CappedClient, GuardedKernelManager
from mtl_teach.grading.sandbox import kernel_environment, python, sandboxed

KERNEL_NAME = "mtl-grader"
LAUNCHER = Path(__file__).resolve().with_name("in_sandbox") / "kernel_launcher.py"
MAX_DEPTH = 256  # folders nested deeper in the grader's disk stop the kernel (the disk watch walks no further)


@dataclass(frozen=True)
class Limits:
    """Per-cell and whole-notebook seconds, kernel memory (MiB), output bytes kept per cell and in all."""

    cell_timeout: float = 60.0
    notebook_timeout: float = 300.0
    memory_mb: int = 4096
    output_bytes: int = 100_000
    notebook_output_bytes: int = 1_000_000
    file_mb: int = 64
    tmp_mb: int = 256  # each of the sandbox's /tmp and working folder (tmpfs)
    processes: int = 256  # processes and threads in the sandbox (RLIMIT_NPROC)
    disk_mb: int = 256  # all the kernel writes to the grader's disk (its answers and private folders)
    disk_files: int = 10_000  # and as many files and folders


KERNEL_FAILED = "not run: the grader's kernel failed"  # before any cell ran: the grader's fault, not the student's


@dataclass(frozen=True)
class CellRun:
    """What happened to one cell: ``status`` ok/error/dead/not_run, and why.

    ``dropped``: bytes of the cell's output over the caps, not kept.
    ``out_of_time``: the notebook's time limit interrupted the cell or kept it from running.
    ``kernel_said``: ``reason`` is the kernel's own text (the name and message of what it raised),
    not the grader's; see :mod:`~mtl_teach.grading.from_kernel.text` for when it may be shown.
    ``rejected``: messages from the kernel, while this cell ran, that the grader dropped as malformed.
    """

    status: str
    reason: str = ""
    dropped: int = 0
    out_of_time: bool = False
    kernel_said: bool = False
    rejected: int = 0


def _kernel_env(private: Folder, limits: Limits, sandboxed: bool) -> dict[str, str]:
    """The kernel's environment: the sandbox's allow-list, its own folders, and its limits (read, then removed)."""
    env = kernel_environment()  # never the grader's own: an instructor's tokens stay outside
    for name in ("home", "ipython", "mpl"):
        private.make(name).close()
    env.update(
        HOME=str(private.path / "home"),
        IPYTHONDIR=str(private.path / "ipython"),  # no startup files from anyone's profile
        MPLCONFIGDIR=str(private.path / "mpl"),
        MTL_GRADER_MEMORY_MB=str(limits.memory_mb),
        MTL_GRADER_FILE_MB=str(limits.file_mb),
        # CPU seconds: the notebook's wall time with room for a second thread; past it the kernel is killed.
        MTL_GRADER_CPU_S=str(int(2 * limits.notebook_timeout) + 60),
    )
    if sandboxed:
        env["MTL_GRADER_NPROC"] = str(limits.processes)
    return env


def _write_kernelspec(
    private: Folder, workdir: Path, writable: list[Path], limits: Limits, bwrap: str | None, server: ForkServer | None
) -> Path:
    argv = [python(), str(LAUNCHER), "-f", "{connection_file}"]
    if server:
        argv = server.kernel_argv()  # the server's sandbox is already around it
    elif bwrap:
        # JPY_PARENT_PID: the kernel would poll that pid, which its PID namespace cannot see, and exit.
        argv = sandboxed(
            argv, bwrap=bwrap, writable=[private.path, *writable], workdir=workdir, tmp_mb=limits.tmp_mb,
            env_unset=("JPY_PARENT_PID",),
        )  # fmt: skip
    # Interrupts as messages: a signal to bwrap would not reach the kernel in its own session.
    spec_json = {"argv": argv, "display_name": "mtl-teach grader", "language": "python", "interrupt_mode": "message"}
    with private.make("kernels") as kernels, kernels.make(KERNEL_NAME) as spec:
        spec.write("kernel.json", json.dumps(spec_json).encode())
    return private.path / "kernels"


class Unreadable(Exception):
    """nbclient failed on what the kernel sent while a cell ran: the kernel's doing, not the grader's."""


def _run_cell(client: CappedClient, cell: Any, index: int, limits: Limits, left: float) -> CellRun:
    """Run one cell for at most its time limit or the notebook's time ``left``, whichever is less."""
    by_notebook = left < limits.cell_timeout
    client.timeout = max(1, int(min(limits.cell_timeout, left)))
    if by_notebook:
        why = (
            f"the notebook ran over its time limit of {limits.notebook_timeout:g} s in this cell, which was interrupted"
        )
    else:
        why = f"the cell ran over its time limit of {client.timeout} s and was interrupted"
    client.error_on_timeout = {"ename": "TimeoutError", "evalue": why, "traceback": []}
    client.current_cell, client.timed_out = index, False
    rejected = len(client.rejected)
    try:
        client.execute_cell(cell, index)
        run = CellRun("ok")
    except CellExecutionError as error:
        if client.timed_out:  # the grader's own TimeoutError (error_on_timeout), not one the kernel raised
            run = CellRun("error", f"TimeoutError: {why}")
        else:
            run = CellRun("error", f"{error.ename}: {str(error.evalue)[:300]}", kernel_said=True)
    except DeadKernelError:
        run = CellRun("dead", "the kernel died while running this cell (os._exit, a crash, or the memory limit)")
    except Exception as error:  # what the kernel sent broke nbclient: the kernel's doing
        raise Unreadable(f"{type(error).__name__}") from None
    out_of_time = by_notebook and client.timed_out
    rejected = len(client.rejected) - rejected
    return CellRun(run.status, run.reason, client.dropped.get(index, 0), out_of_time, run.kernel_said, rejected)


class _DiskWatch(threading.Thread):
    """Kill the kernel once what it wrote into ``folders`` passes the disk caps.

    RLIMIT_FSIZE bounds one file; the sandbox's tmpfs folders bound
    themselves; but the answers and private folders are the grader's own
    disk, and a kernel writing many files there could fill it. Polled four
    times a second, so the kernel can pass the cap by what it writes in that
    time. The walk opens each folder relative to its parent and never
    follows a link (:meth:`~mtl_teach.grading.from_kernel.fs.Folder.usage`);
    folders nested past :data:`MAX_DEPTH`, or that the grader cannot read,
    count as over the caps (the walk cannot vouch for what is below them).
    """

    def __init__(self, folders: list[Folder], limits: Limits, pgid: int) -> None:
        super().__init__(daemon=True)
        self.folders, self.limits, self.pgid = folders, limits, pgid
        self.over = ""  # why the kernel was killed, if it was
        self.done = threading.Event()

    def run(self) -> None:
        cap = self.limits.disk_mb * 2**20
        while not self.done.wait(0.25):
            size = entries = 0
            trouble = ""
            for folder in self.folders:
                counted = folder.usage(self.limits.disk_files - entries, MAX_DEPTH)
                size, entries, trouble = size + counted[0], entries + counted[1], trouble or counted[2]
            if trouble:
                self.over = f"the kernel was stopped: on the grader's disk it {trouble}"
            elif size > cap or entries > self.limits.disk_files:
                self.over = (
                    f"the kernel was stopped: it wrote over {self.limits.disk_mb} MiB or "
                    f"{self.limits.disk_files:,} files to the grader's disk"
                )
            if self.over:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pgid, signal.SIGKILL)
                return


STUCK = (
    "not run: the kernel did not respond after an earlier cell was interrupted at its time limit "
    "(its code caught KeyboardInterrupt, or was stuck outside Python)"
)


def _responds(client: CappedClient, seconds: int = 5) -> bool:
    """Whether the kernel runs an empty cell within ``seconds``: after an interrupted cell, is it free again?

    A cell that swallows ``KeyboardInterrupt`` keeps the kernel busy, and
    every later cell would wait out its own time limit in the queue behind it.
    """
    client.timeout = seconds
    client.error_on_timeout = {"ename": "TimeoutError", "evalue": "no reply", "traceback": []}
    client.nb.cells.append(nbformat.v4.new_code_cell("pass"))  # nbclient stores the cell back by index
    try:
        client.execute_cell(client.nb.cells[-1], len(client.nb.cells) - 1)
    except Exception:  # a timeout, a dead kernel, or what it sent: not free either way
        return False
    finally:
        client.nb.cells.pop()
    return True


def run_cells(
    sources: list[str],
    workdir: Path,
    private: Path,
    limits: Limits,
    *,
    writable: tuple[Path, ...] = (),
    bwrap: str | None = None,
    server: ForkServer | None = None,
    deadline: float | None = None,
) -> list[CellRun]:
    """Run ``sources`` in order in a new kernel whose cwd is ``workdir``.

    ``private`` is a new, empty scratch folder for the kernel's home, its
    kernelspec, connection file and sockets. With ``bwrap`` (from
    :func:`~mtl_teach.grading.sandbox.probe`) the kernel runs in a sandbox
    where ``workdir`` is a fresh tmpfs and only ``private`` and ``writable``
    are writable; without it, as this process's user. With ``server`` (a
    :class:`~mtl_teach.grading.forkserver.ForkServer`, whose slot holds
    ``workdir``, ``private`` and ``writable``) the kernel is forked from it,
    in the same isolation; it returns once every process of the kernel's is gone.
    ``deadline`` (a ``time.monotonic()``): the run ends by then, whatever
    ``limits.notebook_timeout`` leaves (a submission's reruns share one time budget).
    Never raises for anything the code in the cells does.
    """
    cells = [nbformat.v4.new_code_cell(text) for text in sources]
    notebook = nbformat.v4.new_notebook(cells=cells)
    ends = (
        monotonic() + limits.notebook_timeout
        if deadline is None
        else min(deadline, monotonic() + limits.notebook_timeout)
    )
    if ends - monotonic() < 1:
        stop = f"not run: the notebook used up its time limit of {limits.notebook_timeout:g} s"
        return [CellRun("not_run", stop, out_of_time=True) for _ in cells]
    folders: list[Folder] = []
    try:
        home = Folder.open(private)
        folders.append(home)
        env = _kernel_env(home, limits, sandboxed=bwrap is not None or server is not None)
        kernels = _write_kernelspec(home, workdir, list(writable), limits, bwrap, server)
        watched = [server.slot_folder] if server else [home, *(Folder.open(path) for path in writable)]
        folders += watched[1:] if not server else []
    except OSError as error:  # the grader's own folders: its fault
        for folder in folders:
            folder.close()
        return [CellRun("not_run", f"{KERNEL_FAILED} ({type(error).__name__}: {str(error)[:200]})")] * len(cells)
    specs = KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)
    # ZMQ over Unix sockets inside ``private``: no TCP port another kernel or local user could connect to.
    km = GuardedKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=specs,
        transport="ipc",
        ip=str(private / "kernel"),
        connection_file=str(private / "connection.json"),
    )
    client = CappedClient(
        notebook,
        km=km,
        cap=limits.output_bytes,
        total=limits.notebook_output_bytes,
        store_widget_state=False,  # widget messages would be kept whole, outside the output caps
        timeout=int(limits.cell_timeout),
        interrupt_on_timeout=True,
        startup_timeout=int(max(5, min(60, ends - monotonic()))),
        iopub_timeout=4,
        shutdown_kernel="immediate",
        allow_errors=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    runs: list[CellRun] = []
    stop, out_of_time = "", False
    pgid, watch, ready = None, None, False
    try:
        with client.setup_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            ready = True
            pgid = getattr(km.provisioner, "pgid", None)
            if pgid:
                # A forked kernel can write anywhere in the server's slot: count all of it.
                watch = _DiskWatch(watched, limits, pgid)
                watch.start()
            deadline = min(ends, monotonic() + limits.notebook_timeout)
            for index, cell in enumerate(cells):
                left = deadline - monotonic()
                if not stop and left < 1:
                    stop = f"not run: the notebook used up its time limit of {limits.notebook_timeout:g} s"
                    out_of_time = True
                if stop:
                    runs.append(CellRun("not_run", stop, out_of_time=out_of_time))
                    continue
                try:
                    runs.append(_run_cell(client, cell, index, limits, left))
                except Unreadable as error:
                    why = f"the grader could not read what your kernel sent ({error}), so this cell failed"
                    runs.append(CellRun("error", why, client.dropped.get(index, 0)))
                    stop = "not run: your kernel sent what the grader could not read in an earlier cell"
                    continue
                if runs[-1].status == "dead":
                    stop = "not run: the kernel had died in an earlier cell"
                elif runs[-1].reason.startswith("TimeoutError") and not runs[-1].out_of_time and not _responds(client):
                    stop = STUCK
    except Exception as error:
        if ready:  # the kernel ran and then broke nbclient: what it sent, not the grader
            why = f"not run: the grader could not read what your kernel sent ({type(error).__name__})"
            runs += [CellRun("not_run", why)] * (len(cells) - len(runs))
        else:  # the kernel failed to start: the grader's fault
            runs += [CellRun("not_run", f"{KERNEL_FAILED} ({type(error).__name__}: {str(error)[:200]})")] * (
                len(cells) - len(runs)
            )
    finally:
        if watch:
            watch.done.set()
            watch.join()
            if watch.over:  # the cell it was killed in, and the ones after it, say why
                runs = [
                    CellRun(r.status, watch.over, r.dropped, rejected=r.rejected)
                    if r.status in ("dead", "not_run")
                    else r
                    for r in runs
                ]
        with contextlib.suppress(Exception):
            client._cleanup_kernel()
        if pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)  # anything the student's code left running
        if server:
            server.wait_idle()  # the relay is gone, so the server kills what is left of the kernel's
        for folder in folders:
            folder.close()
    return runs
