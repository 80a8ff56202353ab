"""The fork server itself: process 1 of its own sandbox, it forks each graded kernel into a fresh world.

Everything in this file runs inside the sandbox, next to student code; the
grader's handle on it is :mod:`mtl_teach.grading.forkserver`, which explains
why the design keeps the sandbox's guarantees. Here:

- :func:`main` imports torch, ipykernel and the kit once, then serves one
  kernel at a time: a request comes from the relay
  (``_forkserver_relay.py``) over the listening socket the grader passed
  down, and the answer "idle" goes back on stdout once every process of the
  kernel is gone (:func:`_kill_all`).
- Every signal is left at its default disposition: Linux delivers no signal
  from inside a PID namespace to its init unless init handles it, so a
  kernel's ``kill(1, SIGINT)`` (Python's own SIGINT handler would have taken
  it) or any other signal does nothing.
- :func:`_leave_the_server` is each kernel's first step after ``fork()``:
  its own user, mount and IPC namespaces, fresh size-capped ``tmpfs`` on
  ``/tmp``, its working folder and ``/dev/shm``, then no capabilities at all.
  Nothing else a kernel can write is shared with the next: ``/dev`` and the
  server's working folder are read-only, and the grader empties the slot.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

# What the kernels import: paid once, here. Not matplotlib: it reads its settings folder on import.
PRELOAD = ("torch", "torch._dynamo", "torch.optim", "torch.nn", "numpy", "ipykernel.kernelapp", "ipykernel.ipkernel")
PRELOAD_KIT = ("mtl_teach", "mtl_teach.exercises")

# Linux constants (linux/sched.h, linux/prctl.h, linux/capability.h, sys/mount.h).
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 4, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x1, 0x2, 0x4, 0x20, 0x1000, 0x4000, 0x40000
CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _leave_the_server(cwd: str, tmp_mb: int, slot: str, roots: list[str]) -> None:
    """In a new child: own user, mount and IPC namespaces, fresh tmpfs, then no capabilities at all.

    What the server's sandbox shows under ``/tmp`` stays where it is under
    the new ``/tmp``: ``slot`` (the one folder of the grader's it may write)
    and, read-only, the ``roots`` of a Python environment or checkout that live there.

    Raises OSError if any step fails; the caller then exits without running
    anything, so no student code ever runs in the server's world.
    """
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC), "unshare")
    for name, line in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        fd = os.open(f"/proc/self/{name}", os.O_WRONLY)  # one write(2) each: these files take one, whole
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    # Folders under /tmp to bind back once the new /tmp hides them, each held open so it stays reachable.
    keep: dict[str, tuple[int, bool]] = {}
    for path, writable in sorted([(slot, True)] + [(root, False) for root in roots]):
        if path.startswith("/tmp/") and not any(path.startswith(k + "/") for k in keep):
            keep[path] = (os.open(path, os.O_PATH | os.O_DIRECTORY), writable)
    size = f"size={tmp_mb}m".encode()
    _check(_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, size + b",mode=1777"), "tmpfs /tmp")
    for path, (held, writable) in keep.items():
        os.makedirs(path, mode=0o755)
        _check(
            _libc.mount(f"/proc/self/fd/{held}".encode(), path.encode(), None, MS_BIND | MS_REC, None), f"bind {path}"
        )
        if not writable:
            flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
            _check(_libc.mount(b"none", path.encode(), None, flags, None), f"read-only {path}")
        os.close(held)
    for target, mode in (("/dev/shm", b",mode=1777"), (cwd, b",mode=700")):
        if os.path.isdir(target):
            _check(
                _libc.mount(b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, size + mode), f"tmpfs {target}"
            )
    # Every capability gone, from the bounding and ambient sets too: the mounts above cannot be undone.
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    header, data = _CapHeader(CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")  # its own /proc files, as in any kernel


def _become_kernel(request: dict[str, Any], tmp_mb: int, slot: str, roots: list[str]) -> None:
    """The forked child: isolate, take the kernel's environment and limits, run ipykernel. Never returns."""
    code = 70
    try:
        os.setsid()
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 65536)  # the listening socket, the grader's connection: a kernel must hold neither
        cwd = request["cwd"]
        if not (cwd + "/").startswith(slot + "/"):
            raise OSError(f"the working folder {cwd} is not in the slot {slot}")
        _leave_the_server(cwd, tmp_mb, slot, roots)
        os.chdir(cwd)
        env = {k: v for k, v in request["env"].items() if k != "JPY_PARENT_PID"}  # see kernel._write_kernelspec
        os.environ.clear()
        os.environ.update(env)
        from mtl_teach.grading.in_sandbox.kernel_launcher import apply_limits

        apply_limits(os.environ)
        import random

        import numpy

        random.seed()  # a fresh kernel's seeds, not the server's (every kernel would share them)
        numpy.random.seed()
        for name in ("SIGINT", "SIGTERM", "SIGCHLD", "SIGHUP", "SIGUSR1", "SIGUSR2"):
            signal.signal(getattr(signal, name), signal.default_int_handler if name == "SIGINT" else signal.SIG_DFL)
        sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
        from ipykernel import kernelapp

        code = 0
        kernelapp.launch_new_instance()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def _others() -> list[int]:
    """Live processes in this sandbox other than the server (process 1); zombies left out."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and name != "1":
            with contextlib.suppress(OSError):
                if Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(name))
    return found


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _kill_all() -> None:
    """Kill every process in the sandbox but the server, and reap them all (orphans come to process 1)."""
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        time.sleep(0.005)
        _reap()
        if not _others():
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, 0)[0]:
                    pass
            return
        if time.monotonic() > deadline:
            raise SystemExit("the fork server could not stop its kernel's processes")


def _serve_one(connection: socket.socket, tmp_mb: int, slot: str, roots: list[str]) -> None:
    """Start the kernel one relay asks for; when it ends or the relay goes, kill everything it left."""
    connection.settimeout(10)
    try:
        with connection.makefile("rb") as reader:
            request = json.loads(reader.readline())
        if not isinstance(request, dict):
            return
        pid = os.fork()
    except (OSError, ValueError):
        return  # the relay sees its connection close, and jupyter_client a kernel that died at start
    if pid == 0:
        _become_kernel(request, tmp_mb, slot, roots)
    status: int | None = None
    with contextlib.suppress(OSError):
        connection.sendall(b"started\n")
    connection.setblocking(False)
    while status is None:
        ready, _, _ = select.select([connection], [], [], 0.05)
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw)
            break
        if ready:
            try:
                if not connection.recv(64):
                    break  # the relay is gone: the grader dropped this kernel
            except BlockingIOError:
                pass
            except OSError:
                break
    _kill_all()
    with contextlib.suppress(OSError):
        connection.setblocking(True)
        connection.sendall(f"exited {status if status is not None else -9}\n".encode())
    connection.close()


def _can_isolate(slot: str, roots: list[str]) -> str:
    """'' if a forked child can leave the server's world here, else why not."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reader)
            _leave_the_server(slot, 1, slot, roots)
        except BaseException as error:  # the reason goes back to the grader
            os.write(writer, str(error).encode()[:500])
            os._exit(1)
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as said:
        why = said.read().decode(errors="replace")
    _, raw = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(raw) == 0:
        return ""
    return f"a kernel cannot get its own user and mount namespace inside the sandbox: {why or 'it died'}"


def _default_signals() -> None:
    """Every signal Python handles back to its default: then no process of the sandbox can signal us at all.

    Linux delivers a signal from inside a PID namespace to its init only if
    init has a handler for it; Python installs one for SIGINT (when started
    from a terminal), which made ``kill(1, SIGINT)`` from a kernel stop the
    server. Ignored signals (SIGPIPE, SIGXFSZ) stay ignored.
    """
    for number in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            if callable(signal.getsignal(number)):
                signal.signal(number, signal.SIG_DFL)


def main() -> int:
    listen_fd, tmp_mb, slot, roots = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
    answers = sys.stdout
    if os.getpid() != 1:
        print("unavailable the fork server must be process 1 of its sandbox", file=answers, flush=True)
        return 1
    _default_signals()
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # kernels run as the same user: keep them out of our memory
    listener = socket.socket(fileno=listen_fd)
    os.set_inheritable(listen_fd, False)
    if why := _can_isolate(slot, roots):
        print(f"unavailable {why}", file=answers, flush=True)
        return 1
    import importlib

    for name in PRELOAD + PRELOAD_KIT:
        importlib.import_module(name)
    print("ready", file=answers, flush=True)
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [], 1.0)
        _reap()
        if sys.stdin in ready:
            line = sys.stdin.readline()
            if not line:
                return 0  # the worker is gone; as process 1 our exit ends the sandbox
            if line.strip() == "idle?":
                _kill_all()
                print("idle", file=answers, flush=True)
        if listener in ready:
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                _serve_one(connection, tmp_mb, slot, roots)


if __name__ == "__main__":
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)  # as in kernel_launcher: this folder's modules must not shadow the student's imports
    sys.exit(main())
