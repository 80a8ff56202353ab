"""Known assignments: name -> the exercise module whose checks grade it.

The source notebook of assignment ``NAME`` is ``notebooks/NAME.ipynb`` in the
repository (``--source`` points elsewhere).
"""

from __future__ import annotations

from pathlib import Path

from mtl_teach._errors import fail, names

ASSIGNMENTS: dict[str, str] = {
    "04_your_turn": "mtl_teach.exercises.your_turn",
    "09_your_turn_pcgrad": "mtl_teach.exercises.pcgrad",
    "10_your_turn_auxiliary": "mtl_teach.exercises.auxiliary",
}
SOURCE_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def exercise_module(assignment: str) -> str:
    """The module holding ``GRADED`` and ``QUESTIONS`` for ``assignment``."""
    if assignment not in ASSIGNMENTS:
        fail(
            "--assignment",
            f"must name a known assignment ({names(ASSIGNMENTS)})",
            assignment,
            "pass one of those names, or add the assignment to mtl_teach.grading.assignments.",
        )
    return ASSIGNMENTS[assignment]


def source_notebook(assignment: str, source: str | None = None) -> Path:
    """The instructor's source notebook (with solutions and hidden tests)."""
    path = Path(source) if source else SOURCE_DIR / f"{assignment}.ipynb"
    if not path.is_file():
        fail(
            "--source",
            "must be the assignment's source notebook",
            str(path),
            "pass --source path/to/the/instructor/notebook.ipynb.",
        )
    return path
