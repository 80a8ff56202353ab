"""The grader's sandbox, probed from inside real kernels: what a graded kernel can see and do.

Each probe is a cell that asserts from inside the kernel; ``run_cells`` says
whether it raised. The same probes run without the sandbox show that each
one can fail (the kernel then sees what the sandbox hides).
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from mtl_teach.grading.forkserver import ForkServer
from mtl_teach.grading.kernel import Limits, run_cells
from mtl_teach.grading.sandbox import probe

ROOT = Path(__file__).resolve().parent.parent
LIMITS = Limits(cell_timeout=20, notebook_timeout=120, tmp_mb=8)
MARKER = "mtl-sandbox-test-daemon"
# A secret in the grader's environment, as an instructor's shell would hold one: no kernel may find it.
TOKEN = "ghp_mtlTeachSandboxTestToken0123456789"

# name -> a cell that raises unless the sandbox holds. {…} fields are filled in per run.
PROBES = {
    # Process 1 is bwrap's init (or the fork server), not the host's; the grader's own pid is not there.
    "own PID namespace": (
        f"import os\nassert open('/proc/1/cmdline', 'rb').read() != {Path('/proc/1/cmdline').read_bytes()!r}\n"
        f"assert not os.path.exists('/proc/{os.getpid()}')"
    ),
    "checkout hidden": f"import os\nassert not os.path.exists({str(ROOT / 'notebooks')!r})",
    "package read-only": (
        "import mtl_teach, pathlib\n"
        "planted = pathlib.Path(mtl_teach.__file__).parent / 'sandbox_probe.txt'\n"
        "try:\n    planted.write_text('')\n"
        "except OSError:\n    pass\nelse:\n    planted.unlink()\n    raise AssertionError('wrote into the package')"
    ),
    "no network": (
        "import socket\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        "except OSError:\n    pass\nelse:\n    raise AssertionError('reached the network')"
    ),
    "private /tmp": "import os\nassert not os.path.exists({host_tmp!r})",
    "capped /tmp": (
        "try:\n    open('/tmp/fill', 'wb').write(b'x' * 9 * 2**20)\n"
        "except OSError:\n    pass\nelse:\n    raise AssertionError('wrote 9 MiB to an 8 MiB /tmp')"
    ),
    "read-only root": (
        "import os\n"
        "try:\n    open('/mtl-sandbox-probe', 'w').close()\n"
        "except OSError:\n    pass\nelse:\n    os.unlink('/mtl-sandbox-probe')\n    raise AssertionError('wrote to /')"
    ),
    # Enforced by Linux for any user but root (root is exempt from RLIMIT_NPROC): a fork bomb stops at 256.
    "processes capped": "import resource\nassert resource.getrlimit(resource.RLIMIT_NPROC) == (256, 256)",
    "answers writable": "open({answer!r}, 'w').write('42')",
    # /dev is bwrap's tmpfs: read-only but for a capped /dev/shm, so nothing there outlives a kernel or fills RAM.
    "read-only /dev": (
        "try:\n    open('/dev/mtl-planted', 'w').close()\n"
        "except OSError:\n    pass\nelse:\n    raise AssertionError('wrote into /dev')"
    ),
    "capped /dev/shm": (
        "try:\n    open('/dev/shm/fill', 'wb').write(b'x' * 9 * 2**20)\n"
        "except OSError:\n    pass\nelse:\n    raise AssertionError('wrote 9 MiB to an 8 MiB /dev/shm')"
    ),
    # The grader's environment stays outside: not in os.environ, not in the memory a process starts with.
    "no secret from the grader's environment": (
        "import os, re\n"
        f"token = {TOKEN!r}.encode()\n"
        "assert token.decode() not in repr(dict(os.environ)), 'in os.environ'\n"
        "assert token not in open('/proc/self/environ', 'rb').read(), 'in /proc/self/environ'\n"
        "stack = [line.split()[0] for line in open('/proc/self/maps') if line.rstrip().endswith('[stack]')]\n"
        "start, end = (int(x, 16) for x in stack[0].split('-'))\n"
        "with open('/proc/self/mem', 'rb') as mem:\n    mem.seek(start)\n    assert token not in mem.read(end - start), 'on the stack'\n"
        "try:\n    assert token not in open('/proc/1/environ', 'rb').read(), 'in process 1'\n"
        "except PermissionError:\n    pass"
    ),
    "leaves a daemon": (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        os.execvp('sleep', ['sleep', '300', '{MARKER}'])\n    os._exit(0)\n"
        "os.wait()"
    ),
}


@pytest.fixture(autouse=True)
def _instructor_token(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)


def _run(tmp_path: Path, bwrap: str | None, server: ForkServer | None = None) -> dict[str, str]:
    work, private, answers = (tmp_path / name for name in ("work", "private", "answers"))
    for folder in (work, private, answers):
        folder.mkdir()
    host_tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"mtl-sandbox-host-{os.getpid()}"
    host_tmp.write_text("the grader's")
    try:
        fields = {"host_tmp": str(host_tmp), "answer": str(answers / "answer.txt")}
        sources = [source.replace("{host_tmp!r}", repr(fields["host_tmp"])).replace("{answer!r}", repr(fields["answer"]))
                   for source in PROBES.values()]  # fmt: skip
        runs = run_cells(sources, work, private, LIMITS, writable=(answers,), bwrap=bwrap, server=server)
    finally:
        host_tmp.unlink()
    assert (answers / "answer.txt").read_text() == "42"
    return {
        name: run.status + (f" ({run.reason})" if run.reason else "") for name, run in zip(PROBES, runs, strict=True)
    }


def _daemons() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if MARKER in (process.info["cmdline"] or []):
            found.append(process)
    return found


def test_a_sandboxed_kernel_sees_only_its_scratch_and_leaves_nothing_running(tmp_path):
    statuses = _run(tmp_path, probe())
    assert statuses == dict.fromkeys(PROBES, "ok"), statuses
    time.sleep(0.5)
    assert not _daemons(), "a process the kernel detached outlived its sandbox"


def test_without_the_sandbox_the_same_probes_fail(tmp_path):
    statuses = _run(tmp_path, None)
    try:
        for name in ("own PID namespace", "checkout hidden", "private /tmp", "processes capped", "read-only /dev"):
            assert statuses[name].startswith("error (AssertionError"), (name, statuses[name])
        assert statuses["answers writable"] == "ok"
    finally:
        for process in _daemons():  # the unsandboxed daemon; the grader's worker would kill it
            process.kill()


def test_the_sandbox_probe_is_cached_and_names_a_bwrap():
    assert probe() is probe() and Path(probe()).name == "bwrap"


# What a kernel forked by the fork server must not be able to do to the server or to the next kernel.
SERVER_PROBES = {
    # Linux delivers a signal from inside a PID namespace to its init only if init handles it: the server
    # handles none (Python's own SIGINT handler, when started from a terminal, let kill(1, SIGINT) stop it).
    "cannot stop the server with any signal": (
        "import os, signal, time\n"
        "for number in sorted(signal.valid_signals()):\n    os.kill(1, number)\n"
        "time.sleep(0.3)"
    ),
    "cannot read the server's memory": (
        "for name in ('mem', 'environ'):\n"
        "    try:\n        open(f'/proc/1/{name}', 'rb').read(1)\n"
        "    except OSError:\n        pass\n"
        "    else:\n        raise AssertionError(f'read /proc/1/{name}')"
    ),
    "no capabilities at all": (
        "status = open('/proc/self/status').read()\n"
        "for field in ('CapEff', 'CapPrm', 'CapBnd', 'CapAmb'):\n"
        "    assert f'{field}:\\t0000000000000000' in status, status\n"
        "assert 'NoNewPrivs:\\t1' in status"
    ),
    "cannot unmount its private /tmp": "import ctypes\nassert ctypes.CDLL(None).umount2(b'/tmp', 2) != 0",
    "cannot reach the server's socket": "import os\nassert not os.path.exists({address!r})",
    # Everywhere it can write: each mount point it sees, and /tmp, /dev/shm. The next kernel finds none of it.
    "plants files and IPC for the next kernel": (
        "import ctypes, os\nopen('/tmp/planted', 'w').write('x')\nopen('/dev/shm/planted', 'w').write('x')\n"
        "assert ctypes.CDLL(None).shmget(4242, 4096, 0o1666) >= 0\n"
        "for line in open('/proc/self/mountinfo'):\n"
        "    point = line.split()[4]\n"
        "    try:\n        open(os.path.join(point, 'mtl-planted'), 'w').close()\n"
        "    except OSError:\n        pass"
    ),
}
NEXT_KERNEL = (
    "import os\n"
    "assert not os.path.exists('/tmp/planted') and not os.path.exists('/dev/shm/planted')\n"
    "left = [line.split()[4] for line in open('/proc/self/mountinfo')]\n"
    "left = [point for point in left if os.path.exists(os.path.join(point, 'mtl-planted'))]\n"
    "assert not left, f'planted by the kernel before: {left}'\n"
    "assert len(open('/proc/sysvipc/shm').read().splitlines()) == 1, 'a System V segment survived'\n"
    "others = [p for p in os.listdir('/proc') if p.isdigit() and p != '1' and int(p) != os.getpid()]\n"
    "names = [open(f'/proc/{p}/cmdline', 'rb').read() for p in others]\n"
    f"assert not any(b'{MARKER}' in name for name in names), names"
)


def test_kernels_forked_by_the_fork_server_are_as_isolated_and_leave_nothing_for_the_next():
    # A short folder: ZMQ's socket paths under it must stay below 108 bytes.
    folder = Path(tempfile.mkdtemp(prefix="mtl-fs-"))
    # SIGINT at its default, as in a grade started from a terminal (Python then installs its handler).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server, why = ForkServer.start(probe(), folder, LIMITS.tmp_mb)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert server is not None, why
    try:
        first = server.slot / "first"
        first.mkdir()
        statuses = _run(first, None, server)
        assert statuses == dict.fromkeys(PROBES, "ok"), statuses
        sources = [s.replace("{address!r}", repr(str(server.address))) for s in SERVER_PROBES.values()]
        work, private = first / "work2", first / "private2"
        work.mkdir(), private.mkdir()
        runs = run_cells(sources, work, private, LIMITS, server=server)
        assert [r.status for r in runs] == ["ok"] * len(runs), list(zip(SERVER_PROBES, runs, strict=True))
        assert server.alive and server.wait_idle(), "a kernel stopped the fork server"
        server.wipe_slot()
        assert not list(server.slot.iterdir())
        second = server.slot / "second"
        (second / "work").mkdir(parents=True), (second / "private").mkdir()
        (run,) = run_cells([NEXT_KERNEL], second / "work", second / "private", LIMITS, server=server)
        assert run.status == "ok", run
        time.sleep(0.5)
        assert not _daemons(), "a process a forked kernel detached outlived it"
    finally:
        server.close()
    assert not list(folder.iterdir())
    folder.rmdir()
