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

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)  # this folder's modules must not shadow anything the student imports


def _limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


_memory = int(os.environ.pop("MTL_GRADER_MEMORY_MB", "0") or 0)
if _memory > 0:
    _limit(resource.RLIMIT_AS, _memory * 2**20)
_limit(resource.RLIMIT_FSIZE, int(os.environ.pop("MTL_GRADER_FILE_MB", "64") or 64) * 2**20)
_cpu = int(os.environ.pop("MTL_GRADER_CPU_S", "0") or 0)
if _cpu > 0:
    _limit(resource.RLIMIT_CPU, _cpu)
_nproc = int(os.environ.pop("MTL_GRADER_NPROC", "0") or 0)
if _nproc > 0:
    _limit(resource.RLIMIT_NPROC, _nproc)
_limit(resource.RLIMIT_CORE, 0)

from ipykernel import kernelapp  # noqa: E402

kernelapp.launch_new_instance()
