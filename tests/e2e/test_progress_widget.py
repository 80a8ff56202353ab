"""Progress bars: a widget in JupyterLab, silent under nbval.

tqdm.auto picks its notebook bar when ipywidgets is installed; if the widget
manager were missing, the bar would fall back to text on stderr (or to the
plain-text repr "HBox(...)"), which is what the first test guards against.
Its generated notebook also proves the kernel is the venv's python.

Under nbval the bar must not appear at all, or every training cell's output
would differ from the committed one: the root ``conftest.py`` sets
``TQDM_DISABLE=1`` in the pytest process, and nbval's kernels inherit its
environment. The second test runs nbval on a notebook whose training cell was
saved with no output, with and without that conftest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
from catalog import ARTIFACTS, EXPECTED_KERNEL_PREFIX, PROGRESS_NOTEBOOK, PROGRESS_TRAINING_CODE, REPO, load_plan
from labserver import JupyterLab
from notebook_ui import NOTEBOOK, open_notebook, read_cells, run_all_cells, screenshot_cell

# ipywidgets 8 draws a horizontal bar (tqdm's) as .widget-hprogress.
WIDGET = f"{NOTEBOOK} .jp-OutputArea-output .widget-hprogress"


def test_progress_bar_renders_as_a_widget(lab: JupyterLab, lab_root: Path, page: Any) -> None:
    """One epoch with progress_bar=True: a finished widget bar, no text bar, venv kernel."""
    plan = load_plan(lab_root / PROGRESS_NOTEBOOK)
    open_notebook(page, lab.url(f"lab/tree/{PROGRESS_NOTEBOOK}?reset"), plan.n_cells)
    run_all_cells(page)
    page.locator(WIDGET).first.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "(sel) => /100%/.test(document.querySelector(sel).closest('.jp-OutputArea-output').innerText)",
        arg=WIDGET,
        timeout=30_000,
    )
    cells = read_cells(page)
    screenshot_cell(page, 2, ARTIFACTS / "progress_bar_widget.png")

    prefix_cell, train_cell = cells[1], cells[2]
    assert prefix_cell.text.strip() == EXPECTED_KERNEL_PREFIX, (
        f"kernel runs in {prefix_cell.text.strip()!r}, not the venv {EXPECTED_KERNEL_PREFIX!r}"
    )
    assert [out["widget"] for out in train_cell.outputs] == [True], (
        f"expected exactly one widget output, got {train_cell.outputs}"
    )
    text = " ".join(train_cell.text.split())  # tqdm pads the widget's label with figure spaces (U+2007)
    assert "Epoch 1/1: 100%" in text and "5/5" in text, text
    assert not train_cell.stderr(), f"text output on stderr next to the widget: {train_cell.stderr()}"
    assert "HBox(" not in train_cell.text, "the bar fell back to its text repr: no widget manager in JupyterLab"


def _nbval(notebook: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TQDM_", "PYTEST_"))}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval",
        "--nbval-current-env",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
    ]
    return subprocess.Popen(
        [*cmd, *extra, str(notebook)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_nbval_runs_show_no_progress_bar() -> None:
    """nbval passes a progress_bar=True cell saved with no output; without the root conftest it fails."""
    # Under the repo, so that the root conftest.py applies as it does to notebooks/.
    folder = ARTIFACTS / "nbval-silence"
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(PROGRESS_TRAINING_CODE, execution_count=1)]
    notebook = folder / "progress_bar_silent.ipynb"
    nbformat.write(nb, notebook)

    with_conftest, without = _nbval(notebook), _nbval(notebook, "--noconftest")  # both at once: 2 cores
    out_with, _ = with_conftest.communicate(timeout=180)
    out_without, _ = without.communicate(timeout=180)
    assert with_conftest.returncode == 0, f"nbval saw output from a progress_bar=True cell:\n{out_with[-3000:]}"
    # The control: without TQDM_DISABLE the bar is there, so the check above is not vacuous.
    assert without.returncode == 1, f"without the conftest nbval should fail on the bar:\n{out_without[-3000:]}"
    assert "Unexpected output" in out_without, out_without[-3000:]
