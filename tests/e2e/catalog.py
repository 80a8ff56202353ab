"""Which notebooks the browser tests open, and what each one must show.

Expectations come from the ``.ipynb`` files themselves (cell i of the file is
cell i on screen): which code cells must get an execution count, which draw a
decision boundary, which are self-checks, and which are *meant* to raise
(tagged ``raises-exception``, as nbval and JupyterLab understand it).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
# The course notebooks; MTL_TEACH_E2E_NOTEBOOKS points the harness elsewhere (for working on it).
SOURCE = Path(os.environ.get("MTL_TEACH_E2E_NOTEBOOKS", REPO / "notebooks"))
ARTIFACTS = REPO / "test-artifacts" / "e2e"
STUDENT_DIR = "student"
# A call (not an import or a comment) of something that draws decision boundaries:
# plot_decision_boundaries(...), DecisionBoundaryDisplay.from_model(...), plot_boundary_evolution(...),
# plot_slice_boundaries(...).
BOUNDARY_CALL = re.compile(
    r"^[^#\n]*\b(\w*decision_boundar\w*|DecisionBoundaryDisplay\.from_\w+|\w*boundary_evolution|\w*slice_boundaries)\s*\(",
    re.MULTILINE,
)
SELF_CHECK_CALL = re.compile(r"^[^#\n]*\.check\s*\(", re.MULTILINE)
# An nbgrader stub left in the student copy: the cell ends by raising NotImplementedError.
STUB = re.compile(r"^\s*raise NotImplementedError\b", re.MULTILINE)
NOT_ATTEMPTED = re.compile(r"not attempted", re.IGNORECASE)
PROGRESS_NOTEBOOK = "_e2e_progress_bar.ipynb"


def course_notebooks(source: Path = SOURCE) -> list[str]:
    """Return the course notebooks (``[0-9][0-9]_*.ipynb`` and ``student/*.ipynb``) as paths relative to ``source``."""
    found = [*source.glob("[0-9][0-9]_*.ipynb"), *source.glob(f"{STUDENT_DIR}/*.ipynb")]
    return sorted(path.relative_to(source).as_posix() for path in found)


@dataclass(frozen=True)
class NotebookPlan:
    """What running one notebook through the UI must show.

    Attributes
    ----------
    n_cells
        Number of cells (markdown included), as the UI must render them.
    code
        Indices of non-empty code cells: each must end with an execution count.
    figures
        Indices of cells committed with image outputs, and how many: each must show
        at least that many images again.
    boundaries
        Indices of cells that draw a decision boundary (a drawing call and a
        committed figure): the figures the README and the course are about.
    self_checks
        Indices of cells that call a self-check ``.check(...)``.
    raises
        Indices of cells tagged ``raises-exception`` (their traceback is the lesson).
    stubs
        Indices of the student copy's stubs (``raise NotImplementedError``).
    """

    n_cells: int
    code: tuple[int, ...]
    figures: dict[int, int]
    boundaries: tuple[int, ...]
    self_checks: tuple[int, ...]
    raises: tuple[int, ...]
    stubs: tuple[int, ...]


def load_plan(path: Path) -> NotebookPlan:
    """Read a notebook file and derive its :class:`NotebookPlan`."""
    cells = nbformat.read(path, as_version=4).cells
    code = [i for i, cell in enumerate(cells) if cell.cell_type == "code" and cell.source.strip()]

    def matching(pattern: re.Pattern[str]) -> tuple[int, ...]:
        return tuple(i for i in code if pattern.search(cells[i].source))

    raises = tuple(i for i in code if "raises-exception" in cells[i].get("metadata", {}).get("tags", []))
    figures = {
        i: n for i in code if (n := sum("image/png" in out.get("data", {}) for out in cells[i].get("outputs", [])))
    }
    boundaries = tuple(i for i in matching(BOUNDARY_CALL) if i in figures)
    return NotebookPlan(len(cells), tuple(code), figures, boundaries, matching(SELF_CHECK_CALL), raises, matching(STUB))


def write_progress_notebook(folder: Path) -> Path:
    """Write a small notebook that trains one epoch with ``Trainer(progress_bar=True)``.

    Its first cell prints the kernel's ``sys.prefix`` (it must be the venv's); its
    second cell trains, which in JupyterLab must show a progress-bar widget.
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Progress bar check (written by tests/e2e, not part of the course)"),
        nbformat.v4.new_code_cell("import sys\n\nprint(sys.prefix)"),
        nbformat.v4.new_code_cell(PROGRESS_TRAINING_CODE),
    ]
    path = folder / PROGRESS_NOTEBOOK
    nbformat.write(nb, path)
    return path


PROGRESS_TRAINING_CODE = """\
from torch import nn

from mtl_teach import MultitaskClassifier, Operation, Task, Trainer, make_tutorial_dataloaders

loaders = make_tutorial_dataloaders(["circle_task"], n=200)
pool = nn.ModuleDict({"base_mlp": nn.Sequential(nn.Linear(2, 8), nn.ReLU()), "circle_head": nn.Linear(8, 2)})
ops = [Operation("base_mlp", [("_input_", "circle_data")]), Operation("circle_head", ["base_mlp"])]
model = MultitaskClassifier([Task(name="circle_task", module_pool=pool, op_sequence=ops)])
trainer = Trainer(n_epochs=1, lr=0.02, seed=0, progress_bar=True, detect_stalls=False)
history = trainer.fit(model, loaders)
"""

# The environment the kernel must run in: the one running the tests (the venv).
EXPECTED_KERNEL_PREFIX = sys.prefix
