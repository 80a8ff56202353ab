"""Budgets for a class hub: each notebook's kernel peak memory and CPU seconds, and a Jupyter server's memory.

Run: ``python benchmarks/bench_kernels.py`` (prints), ``--write`` to record
the figures in ``benchmarks/results/hub_budgets.json``, which the sizing
(``mtl_teach.classroom.sizing``), ``hub/z2jh/values.yaml``, the TLJH recipe
and the README's table are checked against (``tests/test_deploy.py``).

Each notebook (the solution version: it does all the work a student's
finished copy does) runs top to bottom in a fresh kernel with one torch
thread, as on the hub (``OMP_NUM_THREADS=1``). Measured on the kernel
process (its children included): the peak resident memory (``VmHWM`` from
``/proc``, the high-water mark, so no sampling can miss a peak) and the CPU
seconds, user + system. The server figure is a ``jupyter lab`` server's peak
memory after a browser's first requests (the JupyterLab page, its settings,
the notebook list); on a hub the single-user server is the same
jupyter_server with the hub's small extension. Memory is in MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "results" / "hub_budgets.json"


def _peak_rss_mib(pid: int) -> float:
    """The process's high-water resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def measure_notebook(path: Path) -> dict[str, float]:
    """Run ``path`` in a fresh kernel; its kernel's peak RSS (MiB), CPU seconds and wall seconds."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=900, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    started = time.perf_counter()
    with client.setup_kernel(env=env, cwd=str(NOTEBOOKS)):
        kernel = psutil.Process(client.km.provisioner.process.pid)
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        wall = time.perf_counter() - started
        cpu = kernel.cpu_times()
        cpu_s = cpu.user + cpu.system + cpu.children_user + cpu.children_system
        peak = _peak_rss_mib(kernel.pid)
        peak += sum(_peak_rss_mib(child.pid) for child in kernel.children(recursive=True))
    return {"peak_rss_mib": round(peak, 1), "cpu_s": round(cpu_s, 2), "wall_s": round(wall, 2)}


def measure_server() -> dict[str, float]:
    """A ``jupyter lab`` server's peak RSS (MiB) after a browser's first requests."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={NOTEBOOKS}", "--allow-root"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for attempt in range(240):
            try:
                for path in ("lab", "lab/api/settings", "api/contents", "api/kernelspecs"):
                    request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}?token={token}")
                    urllib.request.urlopen(request, timeout=10).read()
                break
            except OSError:
                if attempt == 239:
                    raise
                time.sleep(0.25)  # polling interval while the server starts
        return {"peak_rss_mib": round(_peak_rss_mib(server.pid), 1)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"record the figures in {RESULTS.relative_to(ROOT)}")
    parser.add_argument("notebooks", nargs="*", help="notebook names (default: every notebooks/NN_*.ipynb)")
    args = parser.parse_args()
    names = args.notebooks or sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    figures: dict[str, object] = {
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "omp_num_threads": 1,
        "server": measure_server(),
        "notebooks": {},
    }
    print(f"jupyter server: peak RSS {figures['server']['peak_rss_mib']:.0f} MiB")  # type: ignore[index]
    print(f"{'notebook':36} {'peak RSS MiB':>12} {'CPU s':>7} {'wall s':>7}")
    for name in names:
        result = measure_notebook(NOTEBOOKS / name)
        figures["notebooks"][name] = result  # type: ignore[index]
        print(f"{name:36} {result['peak_rss_mib']:12.0f} {result['cpu_s']:7.1f} {result['wall_s']:7.1f}", flush=True)
    sys.path.insert(0, str(ROOT))
    from mtl_teach.classroom.sizing import student_budget

    budget = student_budget(figures)
    print(budget)
    for students in (100, 300):
        print(budget.for_class(students, 0.2))
    if args.write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(figures, indent=1) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
