"""Known assignments: name -> the exercise module whose checks grade it.

The registry and the checks ship in the installed package. The instructor's
source notebooks (solutions and hidden tests) do not: they would be readable
by every graded kernel, which sees the package. ``grade`` looks for
``notebooks/NAME.ipynb`` under the current folder, then in the checkout the
package was installed from (an editable install); ``--source`` points
elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from mtl_teach._errors import fail, names

ASSIGNMENTS: dict[str, str] = {
    "04_your_turn": "mtl_teach.exercises.your_turn",
    "09_your_turn_pcgrad": "mtl_teach.exercises.pcgrad",
    "10_your_turn_auxiliary": "mtl_teach.exercises.auxiliary",
}
CHECKOUT_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


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
    if source:
        path = Path(source)
        if not path.is_file():
            fail(
                "--source",
                "must be the assignment's source notebook",
                str(path),
                "pass --source path/to/the/instructor/notebook.ipynb.",
            )
        return path
    looked = [Path("notebooks") / f"{assignment}.ipynb", CHECKOUT_NOTEBOOKS / f"{assignment}.ipynb"]
    for path in looked:
        if path.is_file():
            return path
    fail(
        "--source",
        f"is needed: no source notebook for {assignment!r} was found",
        " or ".join(str(p) for p in looked),
        "pass --source path/to/the/instructor/notebook.ipynb (the solution notebook release was run on).",
        raw=True,
    )
