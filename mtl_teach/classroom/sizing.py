"""How much memory and CPU a student needs on a hub, from measured figures (never guessed).

``benchmarks/bench_kernels.py`` measures, for every notebook, its kernel's
peak memory (the kernel process's high-water RSS) and CPU seconds, and a
Jupyter server's peak memory, and writes them to
``benchmarks/results/hub_budgets.json``. :func:`student_budget` turns them
into one student's guarantee and limit; ``hub/z2jh/values.yaml``,
``hub/tljh/install.sh`` and the README's sizing table use exactly these
numbers, and ``tests/test_deploy.py`` fails when they drift apart.

The rules, stated once:

- **memory guarantee** = the server + the heaviest notebook's kernel: a student
  working in any one notebook always fits in what was reserved;
- **memory limit** = the server + two of the heaviest kernels: a student may
  leave a notebook running while opening the next, before the limit ends a kernel;
- **CPU guarantee** = the heaviest notebook's CPU seconds spread over
  :data:`RUN_ALL_WITHIN_S`: on a full node, Run All of any notebook still ends
  within that time;
- **CPU limit** = one core: kernels run one torch thread (``OMP_NUM_THREADS=1``)
  and the toy models gain nothing from more.

Memory is rounded up to :data:`ROUND_MIB`, CPU up to a twentieth of a core.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROUND_MIB = 64
RUN_ALL_WITHIN_S = 120.0
CPU_LIMIT = 1.0
CPU_STEP = 0.05


def _ceil(value: float, step: float) -> float:
    return round(math.ceil(value / step - 1e-9) * step, 2)


@dataclass(frozen=True)
class StudentBudget:
    """One student's share of a hub: what Kubernetes reserves (guarantee) and the most it allows (limit).

    Attributes
    ----------
    memory_guarantee_mib, memory_limit_mib
        Memory in MiB (Zero to JupyterHub's ``M`` suffix means MiB).
    cpu_guarantee, cpu_limit
        Cores.
    heaviest
        The notebook whose kernel needs the most memory.
    busiest
        The notebook whose run takes the most CPU.
    """

    memory_guarantee_mib: int
    memory_limit_mib: int
    cpu_guarantee: float
    cpu_limit: float
    heaviest: str
    busiest: str

    def __repr__(self) -> str:
        return (
            f"StudentBudget(memory {self.memory_guarantee_mib}M guaranteed, {self.memory_limit_mib}M limit; "
            f"CPU {self.cpu_guarantee} guaranteed, {self.cpu_limit} limit; heaviest {self.heaviest}, "
            f"busiest {self.busiest})"
        )

    def for_class(self, students: int, active: float) -> ClassSize:
        """What ``students`` need when a fraction ``active`` of them work at once (idle servers are culled).

        Parameters
        ----------
        students
            How many students the class has.
        active
            The fraction working at the same time, e.g. 0.2.
        """
        at_once = math.ceil(students * active)
        return ClassSize(
            students=students,
            active=at_once,
            memory_gib=_ceil(at_once * self.memory_guarantee_mib / 1024, 0.5),
            cores=_ceil(at_once * self.cpu_guarantee, 0.5),
        )


@dataclass(frozen=True)
class ClassSize:
    """The nodes a class needs: the sum of the active students' guarantees."""

    students: int
    active: int
    memory_gib: float
    cores: float

    def __repr__(self) -> str:
        return (
            f"ClassSize({self.students} students, {self.active} at once: "
            f"{self.memory_gib:g} GiB and {self.cores:g} cores)"
        )


def load_figures(path: str | Path) -> dict[str, Any]:
    """Read the measured figures written by ``benchmarks/bench_kernels.py``.

    Parameters
    ----------
    path
        The JSON file (``benchmarks/results/hub_budgets.json``).
    """
    return json.loads(Path(path).read_text(encoding="utf-8"))


def student_budget(figures: dict[str, Any]) -> StudentBudget:
    """One student's guarantee and limit from the measured figures (the rules in the module's docstring).

    Parameters
    ----------
    figures
        ``{"server": {"peak_rss_mib": ...}, "notebooks": {name: {"peak_rss_mib": ..., "cpu_s": ...}}}``.
    """
    server = float(figures["server"]["peak_rss_mib"])
    notebooks = figures["notebooks"]
    heaviest = max(notebooks, key=lambda name: notebooks[name]["peak_rss_mib"])
    busiest = max(notebooks, key=lambda name: notebooks[name]["cpu_s"])
    kernel = float(notebooks[heaviest]["peak_rss_mib"])
    return StudentBudget(
        memory_guarantee_mib=int(_ceil(server + kernel, ROUND_MIB)),
        memory_limit_mib=int(_ceil(server + 2 * kernel, ROUND_MIB)),
        cpu_guarantee=_ceil(notebooks[busiest]["cpu_s"] / RUN_ALL_WITHIN_S, CPU_STEP),
        cpu_limit=CPU_LIMIT,
        heaviest=heaviest,
        busiest=busiest,
    )
