"""Re-execute the notebooks in place, so their committed outputs match the code.

Runs each top-level ``notebooks/[0-9][0-9]_*.ipynb`` (never ``notebooks/student/``)
top to bottom with nbclient, in a ``python3`` kernel of *this* Python
environment, with ``TQDM_DISABLE=1`` and the notebooks' folder as working
directory (as nbval does), and writes the outputs back into the file.

Run: python scripts/run_notebooks.py [NOTEBOOK ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT_S = 300


def run(path: Path) -> float:
    """Execute ``path`` in place; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    # The kernel inherits this process's environment: no progress bars, one
    # thread per op (steadier timings and numbers on a shared 2-core machine).
    os.environ["TQDM_DISABLE"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",  # jupyter_client runs "python" as sys.executable: this venv
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(notebook, path)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to run (default: notebooks/[0-9][0-9]_*.ipynb)"
    )
    args = parser.parse_args()
    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        if path.parent.name == "student" or path.parent != NOTEBOOKS:
            sys.exit(
                f"run_notebooks: {path} is not a top-level notebook in {NOTEBOOKS}; student copies are built elsewhere."
            )
        print(f"{path.name}: {run(path):.1f} s", flush=True)


if __name__ == "__main__":
    main()
