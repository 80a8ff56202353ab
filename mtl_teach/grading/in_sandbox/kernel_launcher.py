"""Start an IPython kernel under resource limits; the grader runs this file by path.

Limits come from environment variables set by the grader and are removed
from the environment before student code runs. Both soft and hard limits are
lowered, so the student's code cannot raise them again.

- ``MTL_GRADER_MEMORY_MB``: address-space cap (``RLIMIT_AS``); allocations
  beyond it raise ``MemoryError`` instead of exhausting the machine.
- ``MTL_GRADER_FILE_MB``: largest file the kernel may write (``RLIMIT_FSIZE``).
- ``MTL_GRADER_CPU_S``: CPU seconds (``RLIMIT_CPU``); past it the kernel is killed.
- ``MTL_GRADER_NPROC``: processes and threads (``RLIMIT_NPROC``), so a fork
  bomb stops at the cap instead of filling the machine. Set only in the
  sandbox: its own user namespace counts its own processes alone (Linux
  5.14+), where outside it the count would include every process of the
  grader's user.
"""

import os
import resource
import sys
from collections.abc import MutableMapping


def _limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def apply_limits(environ: MutableMapping[str, str]) -> None:
    """Lower this process's limits to those ``environ`` names, removing the names (the fork server calls this too)."""
    memory = int(environ.pop("MTL_GRADER_MEMORY_MB", "0") or 0)
    if memory > 0:
        _limit(resource.RLIMIT_AS, memory * 2**20)
    _limit(resource.RLIMIT_FSIZE, int(environ.pop("MTL_GRADER_FILE_MB", "64") or 64) * 2**20)
    cpu = int(environ.pop("MTL_GRADER_CPU_S", "0") or 0)
    if cpu > 0:
        _limit(resource.RLIMIT_CPU, cpu)
    nproc = int(environ.pop("MTL_GRADER_NPROC", "0") or 0)
    if nproc > 0:
        _limit(resource.RLIMIT_NPROC, nproc)
    _limit(resource.RLIMIT_CORE, 0)


if __name__ == "__main__":
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)  # this folder's modules must not shadow anything the student imports
    apply_limits(os.environ)

    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
