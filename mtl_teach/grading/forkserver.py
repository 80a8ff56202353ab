"""The worker's handle on its fork server: graded kernels start with torch already imported, each in a fresh world.

A fresh kernel spends most of a submission's CPU time importing: ``torch``
(about 2 s), ``torch._dynamo`` (1.1 s, which every ``torch.optim`` optimizer
imports on its first step) and ipykernel. The fork server
(:mod:`mtl_teach.grading.in_sandbox.forkserver`, which runs in the sandbox)
pays that once per grading worker: it imports them, then forks one kernel per
run. A kernel is never reused: each is a fresh ``fork()`` of a server that
has never run student code and holds no secrets (its memory and environment,
an allow-list, are what every kernel gets anyway).

Where it runs, and why that keeps the sandbox's guarantees
(:mod:`~mtl_teach.grading.sandbox`):

- The server is process 1 of its own bubblewrap sandbox (``--as-pid-1``),
  one per worker, holding only ``slot`` (the scratch folders of the
  submission being graded) read-write, ``/dev`` and its working folder
  read-only. Processes in a PID namespace cannot kill its init, and no
  signal reaches it (it handles none), and the server is not dumpable, so a
  kernel can neither stop it nor read its memory through ``/proc`` or
  ``ptrace``.
- Each kernel leaves the server's world at birth: a new user, mount and IPC
  namespace of its own, with fresh size-capped ``tmpfs`` on ``/tmp``, its
  working folder and ``/dev/shm``; then every capability is dropped (the
  bounding set too) and ``no_new_privs`` is set, so it cannot unmount them.
  System V IPC objects die with its namespace; the tmpfs with its mounts.
- When a kernel ends (or the grader drops it), the server kills every other
  process in the sandbox with ``kill(-1, SIGKILL)``, which no fork can
  outrun, and reaps them all before it tells the worker it is idle. Only then
  does the worker empty ``slot`` (:meth:`ForkServer.wipe_slot`, through
  :mod:`~mtl_teach.grading.from_kernel.fs`: what a kernel left there is
  never followed) and make the next submission's folders, so no process of
  one student's is alive when the next student's files exist.
- The grader talks to the server over a Unix socket whose path lies outside
  the sandbox (the server inherits the listening socket as a file
  descriptor) and over the server's stdin/stdout, which kernels do not
  inherit. A kernel cannot ask for another kernel.

jupyter_client starts a kernel by running a command line; here that is
``_forkserver_relay.py``, a few lines of standard library: it sends the
server the connection file, working folder and environment, and lives as
long as the kernel does, so jupyter_client's ``poll`` and ``kill`` work on it
unchanged.

Where a user namespace cannot be made inside the sandbox, :meth:`ForkServer.start`
returns None with the reason, and the grader starts each kernel in its own
bubblewrap sandbox, as before: the same isolation, without the shared imports.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
from pathlib import Path

from mtl_teach.grading.from_kernel.fs import Folder
from mtl_teach.grading.sandbox import kernel_environment, python, readonly_roots, sandboxed

SERVER = Path(__file__).resolve().with_name("in_sandbox") / "forkserver.py"
RELAY = Path(__file__).resolve().with_name("_forkserver_relay.py")


class ForkServer:
    """The worker's handle on its fork server: ``slot`` is where each submission's scratch folders go."""

    def __init__(self, process: subprocess.Popen[str], parent: Folder, folder: Folder, slot: Folder) -> None:
        self.process, self.parent, self.folder, self.slot_folder = process, parent, folder, slot
        self.slot = slot.path
        self.address = folder.path / "server.sock"
        self._closed = False

    def __repr__(self) -> str:
        return f"ForkServer(pid={self.process.pid}, slot={str(self.slot)!r}, alive={self.alive})"

    @classmethod
    def start(cls, bwrap: str, parent: Path, tmp_mb: int, timeout: float = 120) -> tuple[ForkServer | None, str]:
        """Start a server in a new sandbox, its files in a fresh folder under ``parent``; return it, or None and why not."""
        under = Folder.open(parent)
        folder = under.fresh("fork-")
        slot = folder.make("slot")
        folder.make("server-work").close()
        address = folder.path / "server.sock"  # outside the sandbox: only the grader can connect
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(address))
        listener.listen(4)
        roots = json.dumps(readonly_roots())
        argv = sandboxed(
            [python(), str(SERVER), str(listener.fileno()), str(tmp_mb), str(slot.path), roots],
            bwrap=bwrap,
            writable=[slot.path],
            workdir=folder.path / "server-work",
            tmp_mb=1,
            as_pid_1=True,
            workdir_readonly=True,  # shared by every kernel of this server: none may write there
        )
        env = {**kernel_environment(), "HOME": str(folder.path / "server-work")}
        with listener:  # the server holds its own copy; the path stays, for the relays to connect to
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
                pass_fds=(listener.fileno(),),
            )
        server = cls(process, under, folder, slot)
        said = server._answer(timeout)
        if said == "ready":
            return server, ""
        server.close()
        return None, said.removeprefix("unavailable ") or "the fork server did not start"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kernel_argv(self) -> list[str]:
        """The kernelspec's command line: the relay that asks this server for a kernel."""
        return [python(), "-I", "-S", str(RELAY), str(self.address), "{connection_file}"]

    def _answer(self, timeout: float) -> str:
        assert self.process.stdout
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        return self.process.stdout.readline().strip() if ready else ""

    def wait_idle(self, timeout: float = 30) -> bool:
        """Wait until the server has no kernel and every process it started is gone; False if it failed."""
        if not self.alive:
            return False
        assert self.process.stdin
        try:
            self.process.stdin.write("idle?\n")
            self.process.stdin.flush()
        except OSError:
            return False
        said = self._answer(timeout)
        if said != "idle":
            self.close()  # stuck or dead: everything in its sandbox dies with it
            return False
        return True

    def wipe_slot(self) -> None:
        """Empty ``slot`` (call when idle): what one student's code left must not reach the next.

        Raises OSError when something could not be removed; the worker then starts a new server in a new slot.
        """
        if not self.slot_folder.clear():
            raise OSError(f"what a kernel left in {self.slot} could not all be removed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.alive:
            self.process.kill()  # bwrap takes the server, process 1, and so its whole sandbox down
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream:
                    stream.close()
        self.slot_folder.close()
        self.folder.close()
        self.parent.remove(self.folder.path.name)  # never raises; the batch removes what is left with its scratch
        self.parent.close()
