"""The grader's sandbox, probed from inside real kernels: what a graded kernel can see and do.

Each probe is a cell that asserts from inside the kernel; ``run_cells`` says
whether it raised. The same probes run without the sandbox show that each
one can fail (the kernel then sees what the sandbox hides).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from mtl_teach.grading.kernel import Limits, run_cells
from mtl_teach.grading.sandbox import probe

ROOT = Path(__file__).resolve().parent.parent
LIMITS = Limits(cell_timeout=20, notebook_timeout=120, tmp_mb=8)
MARKER = "mtl-sandbox-test-daemon"

# name -> a cell that raises unless the sandbox holds. {…} fields are filled in per run.
PROBES = {
    "own PID namespace": f"import os\nassert os.getpid() < 10 and not os.path.exists('/proc/{os.getpid()}'), os.getpid()",
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
    "leaves a daemon": (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        os.execvp('sleep', ['sleep', '300', '{MARKER}'])\n    os._exit(0)\n"
        "os.wait()"
    ),
}


def _run(tmp_path: Path, bwrap: str | None) -> dict[str, str]:
    work, private, answers = (tmp_path / name for name in ("work", "private", "answers"))
    for folder in (work, private, answers):
        folder.mkdir()
    host_tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"mtl-sandbox-host-{os.getpid()}"
    host_tmp.write_text("the grader's")
    try:
        fields = {"host_tmp": str(host_tmp), "answer": str(answers / "answer.txt")}
        sources = [source.replace("{host_tmp!r}", repr(fields["host_tmp"])).replace("{answer!r}", repr(fields["answer"]))
                   for source in PROBES.values()]  # fmt: skip
        runs = run_cells(sources, work, private, LIMITS, writable=(answers,), bwrap=bwrap)
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
        for name in ("own PID namespace", "checkout hidden", "private /tmp", "processes capped"):
            assert statuses[name].startswith("error (AssertionError"), (name, statuses[name])
        assert statuses["answers writable"] == "ok"
    finally:
        for process in _daemons():  # the unsandboxed daemon; the grader's worker would kill it
            process.kill()


def test_the_sandbox_probe_is_cached_and_names_a_bwrap():
    assert probe() is probe() and Path(probe()).name == "bwrap"
