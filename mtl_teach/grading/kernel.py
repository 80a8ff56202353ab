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
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from mtl_teach.grading.forkserver import ForkServer
from mtl_teach.grading.sandbox import sandboxed

KERNEL_NAME = "mtl-grader"
LAUNCHER = Path(__file__).with_name("_kernel_launcher.py")


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
    """

    status: str
    reason: str = ""
    dropped: int = 0
    out_of_time: bool = False


def _size(content: Any) -> int:
    """Roughly the bytes in a message's content: its strings' lengths, without copying them."""
    total, stack = 0, [content]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
            total += len(item)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            total += 8
    return total


class _CappedClient(NotebookClient):
    """A NotebookClient that keeps at most ``cap`` bytes of output per cell and ``total`` in all."""

    def __init__(self, *args: Any, cap: int, total: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cap, self._total, self._kept = cap, total, 0
        self._used: dict[int, int] = {}
        self.dropped: dict[int, int] = {}
        self.current_cell = 0  # the cell running now: display updates count against it

    def _fits(self, size: int, cell_index: int, outs: list[Any]) -> bool:
        """Count ``size`` bytes against the caps; False (and note the drop) if they would pass one."""
        used = self._used.get(cell_index, 0)
        if used + size > self._cap or self._kept + size > self._total:
            if not self.dropped.get(cell_index):
                outs.append(nbformat.v4.new_output("stream", name="stderr", text="[grader: output truncated]\n"))
            self.dropped[cell_index] = self.dropped.get(cell_index, 0) + size
            return False
        self._used[cell_index] = used + size
        self._kept += size
        return True

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        if not self._fits(_size(msg.get("content")), cell_index, outs):
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        # display(..., display_id=...) and update_display() replace earlier outputs in place, outside
        # output(): without this, a thousand small displays each updated with a megabyte kept a gigabyte.
        if display_id in self._display_id_map:
            cell = self.current_cell
            if not self._fits(_size(msg.get("content")), cell, self.nb.cells[cell].outputs):
                return
        super()._update_display_id(display_id, msg)


def _kernel_env(home: Path, limits: Limits, sandboxed: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MTL_GRADER_", "JPY_"))}
    for name in ("home", "ipython", "mpl"):
        (home / name).mkdir(exist_ok=True)
    env.update(
        HOME=str(home / "home"),
        IPYTHONDIR=str(home / "ipython"),  # no startup files from anyone's profile
        MPLCONFIGDIR=str(home / "mpl"),
        TQDM_DISABLE="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        MALLOC_ARENA_MAX="2",
        PYTHONDONTWRITEBYTECODE="1",
        MTL_GRADER_MEMORY_MB=str(limits.memory_mb),
        MTL_GRADER_FILE_MB=str(limits.file_mb),
        # CPU seconds: the notebook's wall time with room for a second thread; past it the kernel is killed.
        MTL_GRADER_CPU_S=str(int(2 * limits.notebook_timeout) + 60),
    )
    if sandboxed:
        env["MTL_GRADER_NPROC"] = str(limits.processes)
    return env


def _write_kernelspec(
    folder: Path, workdir: Path, writable: list[Path], limits: Limits, bwrap: str | None, server: ForkServer | None
) -> Path:
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(LAUNCHER), "-f", "{connection_file}"]
    if server:
        argv = server.kernel_argv()  # the server's sandbox is already around it
    elif bwrap:
        # JPY_PARENT_PID: the kernel would poll that pid, which its PID namespace cannot see, and exit.
        argv = sandboxed(
            argv, bwrap=bwrap, writable=[folder, *writable], workdir=workdir, tmp_mb=limits.tmp_mb,
            env_unset=("JPY_PARENT_PID",),
        )  # fmt: skip
    # Interrupts as messages: a signal to bwrap would not reach the kernel in its own session.
    spec_json = {"argv": argv, "display_name": "mtl-teach grader", "language": "python", "interrupt_mode": "message"}
    (spec / "kernel.json").write_text(json.dumps(spec_json))
    return folder / "kernels"


def _run_cell(client: _CappedClient, cell: Any, index: int, limits: Limits, left: float) -> CellRun:
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
    client.current_cell = index
    try:
        client.execute_cell(cell, index)
        run = CellRun("ok")
    except CellExecutionError as error:
        run = CellRun("error", f"{error.ename}: {str(error.evalue)[:300]}")
    except DeadKernelError:
        run = CellRun("dead", "the kernel died while running this cell (os._exit, a crash, or the memory limit)")
    out_of_time = by_notebook and run.reason == f"TimeoutError: {why}"
    return CellRun(run.status, run.reason, client.dropped.get(index, 0), out_of_time)


def _usage(folders: list[Path], stop_at: int) -> tuple[int, int]:
    """Bytes and entries under ``folders`` (links not followed), counting no further than ``stop_at`` entries."""
    size = entries = 0
    stack = [str(folder) for folder in folders]
    while stack and entries <= stop_at:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as listing:
            for entry in listing:
                entries += 1
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        size += entry.stat(follow_symlinks=False).st_blocks * 512
    return size, entries


class _DiskWatch(threading.Thread):
    """Kill the kernel once what it wrote into ``folders`` passes the disk caps.

    RLIMIT_FSIZE bounds one file; the sandbox's tmpfs folders bound
    themselves; but the answers and private folders are the grader's own
    disk, and a kernel writing many files there could fill it. Polled four
    times a second, so the kernel can pass the cap by what it writes in that
    time.
    """

    def __init__(self, folders: list[Path], limits: Limits, pgid: int) -> None:
        super().__init__(daemon=True)
        self.folders, self.limits, self.pgid = folders, limits, pgid
        self.over = ""  # why the kernel was killed, if it was
        self.done = threading.Event()

    def run(self) -> None:
        cap = self.limits.disk_mb * 2**20
        while not self.done.wait(0.25):
            size, entries = _usage(self.folders, self.limits.disk_files)
            if size > cap or entries > self.limits.disk_files:
                self.over = (
                    f"the kernel was stopped: it wrote over {self.limits.disk_mb} MiB or "
                    f"{self.limits.disk_files:,} files to the grader's disk"
                )
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pgid, signal.SIGKILL)
                return


STUCK = (
    "not run: the kernel did not respond after an earlier cell was interrupted at its time limit "
    "(its code caught KeyboardInterrupt, or was stuck outside Python)"
)


def _responds(client: _CappedClient, seconds: int = 5) -> bool:
    """Whether the kernel runs an empty cell within ``seconds``: after an interrupted cell, is it free again?

    A cell that swallows ``KeyboardInterrupt`` keeps the kernel busy, and
    every later cell would wait out its own time limit in the queue behind it.
    """
    client.timeout = seconds
    client.error_on_timeout = {"ename": "TimeoutError", "evalue": "no reply", "traceback": []}
    client.nb.cells.append(nbformat.v4.new_code_cell("pass"))  # nbclient stores the cell back by index
    try:
        client.execute_cell(client.nb.cells[-1], len(client.nb.cells) - 1)
    except (CellExecutionError, DeadKernelError):
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
) -> list[CellRun]:
    """Run ``sources`` in order in a new kernel whose cwd is ``workdir``.

    ``private`` is a scratch folder for the kernel's home, its kernelspec,
    connection file and sockets. With ``bwrap`` (from
    :func:`~mtl_teach.grading.sandbox.probe`) the kernel runs in a sandbox
    where ``workdir`` is a fresh tmpfs and only ``private`` and ``writable``
    are writable; without it, as this process's user. With ``server`` (a
    :class:`~mtl_teach.grading.forkserver.ForkServer`, whose slot holds
    ``workdir``, ``private`` and ``writable``) the kernel is forked from it,
    in the same isolation; it returns once every process of the kernel's is gone.
    Never raises for anything the code in the cells does.
    """
    cells = [nbformat.v4.new_code_cell(text) for text in sources]
    notebook = nbformat.v4.new_notebook(cells=cells)
    kernels = _write_kernelspec(private, workdir, list(writable), limits, bwrap, server)
    specs = KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)
    # ZMQ over Unix sockets inside ``private``: no TCP port another kernel or local user could connect to.
    km = AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=specs,
        transport="ipc",
        ip=str(private / "kernel"),
        connection_file=str(private / "connection.json"),
    )
    client = _CappedClient(
        notebook,
        km=km,
        cap=limits.output_bytes,
        total=limits.notebook_output_bytes,
        store_widget_state=False,  # widget messages would be kept whole, outside the output caps
        timeout=int(limits.cell_timeout),
        interrupt_on_timeout=True,
        startup_timeout=60,
        iopub_timeout=4,
        shutdown_kernel="immediate",
        allow_errors=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    runs: list[CellRun] = []
    stop, out_of_time = "", False
    pgid, watch = None, None
    try:
        with client.setup_kernel(
            env=_kernel_env(private, limits, sandboxed=bwrap is not None or server is not None),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ):
            pgid = getattr(km.provisioner, "pgid", None)
            if pgid:
                # A forked kernel can write anywhere in the server's slot: count all of it.
                watch = _DiskWatch([server.slot] if server else [private, *writable], limits, pgid)
                watch.start()
            deadline = monotonic() + limits.notebook_timeout
            for index, cell in enumerate(cells):
                left = deadline - monotonic()
                if not stop and left < 1:
                    stop = f"not run: the notebook used up its time limit of {limits.notebook_timeout:g} s"
                    out_of_time = True
                if stop:
                    runs.append(CellRun("not_run", stop, out_of_time=out_of_time))
                    continue
                runs.append(_run_cell(client, cell, index, limits, left))
                if runs[-1].status == "dead":
                    stop = "not run: the kernel had died in an earlier cell"
                elif runs[-1].reason.startswith("TimeoutError") and not runs[-1].out_of_time and not _responds(client):
                    stop = STUCK
    except Exception as error:  # the kernel failed to start, or nbclient gave up
        runs += [CellRun("not_run", f"{KERNEL_FAILED} ({type(error).__name__}: {str(error)[:200]})")] * (
            len(cells) - len(runs)
        )
    finally:
        if watch:
            watch.done.set()
            watch.join()
            if watch.over:  # the cell it was killed in, and the ones after it, say why
                runs = [
                    CellRun(r.status, watch.over, r.dropped) if r.status in ("dead", "not_run") else r for r in runs
                ]
        with contextlib.suppress(Exception):
            client._cleanup_kernel()
        if pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)  # anything the student's code left running
        if server:
            server.wait_idle()  # the relay is gone, so the server kills what is left of the kernel's
    return runs
