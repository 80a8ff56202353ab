"""nbgrader-style cells: release a source notebook, and rebuild a submission from it.

A source notebook marks its cells with nbgrader's schema-3 metadata
(``metadata.nbgrader``: ``grade_id``, ``solution``, ``grade``, ``locked``,
``points``). Solution regions (``### BEGIN SOLUTION`` ... ``### END
SOLUTION``) become a stub in the student copy, and hidden tests (``### BEGIN
HIDDEN TESTS`` ... ``### END HIDDEN TESTS``) are removed from it. A Markdown
solution cell is a written answer (nbgrader's "manually graded answer"): the
student copy gets ``YOUR ANSWER HERE``, and the grader never scores it; the
instructor reads it in the submission.

A code cell tagged ``grader-skip`` (e.g. an optional "going further"
experiment after the graded steps) runs for the student but not at grading,
so it costs the class no time.

At grading time :func:`assemble` lays the submission over the source: every
cell comes from the source (hidden tests and locked cells restored) except
solution cells, which come from the student, matched by ``grade_id``. The
student's other code cells run where they were, after the cell before them.

A *step* is a graded cell and the cells before it, back to the previous
graded cell. ``assemble(..., reference={"check_task"})`` runs that step from
the source (its answer key) instead of the student's cells, so that later
steps can be graded on their own when an earlier one failed.

``assemble(..., hidden=...)`` names the graded cells whose hidden tests run
in the kernel (those the grader has no check of its own for); the others run
as the student copy has them, so the kernel never holds their hidden tests.
Every cell that carries hidden tests or the answer key into the kernel is
marked (``metadata.mtl_teach_secret``): see
:mod:`~mtl_teach.grading.from_kernel.text` for what that means for the
feedback.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import nbformat

STUB = "# YOUR CODE HERE\nraise NotImplementedError"
WRITTEN_STUB = "YOUR ANSWER HERE"
SKIP_TAG = "grader-skip"
_REGION = re.compile(
    r"^([ \t]*)### BEGIN (SOLUTION|HIDDEN TESTS)[ \t]*\n(.*?)^[ \t]*### END \2[ \t]*(?:\n|\Z)", re.M | re.S
)
_GRADE_ID = re.compile(r"^[A-Za-z0-9_\-]+$")


def nbgrader_meta(cell: Any) -> dict[str, Any]:
    """The cell's ``metadata.nbgrader`` as a dict (empty when absent or malformed)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return dict(meta) if isinstance(meta, dict) else {}


def grade_id(cell: Any) -> str | None:
    """The cell's nbgrader ``grade_id``, or None when it has none."""
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and _GRADE_ID.match(gid) else None


def is_solution(cell: Any) -> bool:
    return bool(nbgrader_meta(cell).get("solution")) and cell.get("cell_type") == "code"


def is_written_answer(cell: Any) -> bool:
    """A Markdown solution cell: the student writes prose, the instructor grades it by hand."""
    return bool(nbgrader_meta(cell).get("solution")) and cell.get("cell_type") == "markdown"


def graded_cells(source: Any) -> dict[str, int]:
    """``{grade_id: points}`` of the source's autograded (code) cells, in notebook order."""
    return {
        grade_id(c): int(nbgrader_meta(c).get("points", 0))
        for c in source.cells
        if nbgrader_meta(c).get("grade") and grade_id(c) and c.get("cell_type") == "code"
    }


def _text(cell: Any) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def written_answer_notes(source: Any, submission: Any) -> list[str]:
    """One note per written answer of ``source``: left empty, or waiting for the instructor."""
    answers = {grade_id(c): _text(c).strip() for c in submission.cells if is_written_answer(c) and grade_id(c)}
    notes = []
    for cell in source.cells:
        gid = grade_id(cell)
        if not (is_written_answer(cell) and gid):
            continue
        if answers.get(gid, WRITTEN_STUB) in ("", WRITTEN_STUB):
            notes.append(f"your written answer ({gid!r}) is empty: write it in its cell; your instructor reads it.")
        else:
            notes.append(f"your written answer ({gid!r}) is not autograded: your instructor reads it.")
    return notes


def step_titles(source: Any) -> dict[str, str]:
    """Each graded cell's step, as the student reads it: the last Markdown heading above it.

    ``{"check_dataloader": "Step 1: the data and its loader", ...}``; a cell with no heading above it is left out.
    """
    titles: dict[str, str] = {}
    heading = ""
    for cell in source.cells:
        if cell.cell_type == "markdown":
            lines = [line.lstrip("#").strip() for line in _text(cell).splitlines() if line.startswith("#")]
            heading = lines[-1] if lines else heading
        elif nbgrader_meta(cell).get("grade") and grade_id(cell) and heading:
            titles[grade_id(cell)] = heading
    return titles


def hidden_lines(source: Any) -> list[str]:
    """Each line of the source's hidden tests and solutions (stripped, long enough to matter), longest first."""
    found = {
        line.strip()
        for cell in source.cells
        if cell.cell_type == "code"
        for match in _REGION.finditer(_text(cell))
        for line in match.group(3).splitlines()
        if len(line.strip()) >= 8
    }
    return sorted(found, key=len, reverse=True)


def _has_hidden_tests(cell: Any) -> bool:
    return any(match.group(2) == "HIDDEN TESTS" for match in _REGION.finditer(_text(cell)))


def release_source(text: str) -> str:
    """Replace solution regions by the stub and drop hidden-test regions."""

    def replace(match: re.Match[str]) -> str:
        indent, kind = match.group(1), match.group(2)
        if kind == "HIDDEN TESTS":
            return ""
        return "".join(f"{indent}{line}\n" for line in STUB.splitlines())

    return _REGION.sub(replace, text).rstrip("\n")


def release_notebook(source: Any, assignment: str) -> Any:
    """Return the student version of ``source``: stubs, no hidden tests, no outputs."""
    student = copy.deepcopy(source)
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.source = release_source(cell.source)
            cell.outputs = []
            cell.execution_count = None
        elif is_written_answer(cell):
            cell.source = WRITTEN_STUB  # the source holds the model answer
        cell.metadata.pop("execution", None)
    student.metadata["mtl_teach"] = {"assignment": assignment}
    return student


@dataclass
class Assembly:
    """The notebook to run for one submission, and what was noticed on the way.

    ``touched``: the graded cells whose step holds code of the student's
    (a solution cell changed from its stub, or cells they added).
    """

    cells: list[Any]
    notes: list[str] = field(default_factory=list)
    touched: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"Assembly(cells={len(self.cells)}, notes={self.notes}, touched={sorted(self.touched)})"


def _fresh_code_cell(source: str, gid: str | None = None, secret: bool = False) -> Any:
    cell = nbformat.v4.new_code_cell(source)
    if gid:
        cell.metadata["mtl_teach_slot"] = gid
    if secret:
        cell.metadata["mtl_teach_secret"] = True
    return cell


def _steps(source: Any) -> list[str | None]:
    """For each source cell, the graded cell whose step it is in (None after the last one)."""
    graded = graded_cells(source)
    out: list[str | None] = []
    pending: list[int] = []
    for i, cell in enumerate(source.cells):
        out.append(None)
        pending.append(i)
        gid = grade_id(cell)
        if gid in graded and cell.get("cell_type") == "code":
            for j in pending:
                out[j] = gid
            pending = []
    return out


def assemble(
    source: Any, submission: Any, reference: frozenset[str] = frozenset(), hidden: frozenset[str] | None = None
) -> Assembly:
    """Lay ``submission`` over ``source``; see the module docstring.

    Solution cells are matched by ``grade_id`` (the last copy wins when a
    student duplicated one); a deleted solution cell is simply absent, and
    untagged, re-tagged or edited student code runs after the cell that
    preceded it in the student's notebook.

    ``reference``: graded cells whose steps run the source's own cells, answer
    key included, with none of the student's code (see the module docstring).
    ``hidden``: graded cells whose hidden tests run in the kernel (default: all);
    the others run without them, as released.
    """
    notes: list[str] = written_answer_notes(source, submission)
    source_ids = {grade_id(c) for c in source.cells if grade_id(c)}
    solution_ids = {grade_id(c) for c in source.cells if is_solution(c) and grade_id(c)}
    source_text = {grade_id(c): c.source for c in source.cells if grade_id(c)}
    edited: list[str] = []
    answers: dict[str, str] = {}
    seen: dict[str, int] = {}
    extras: dict[str | None, list[str]] = {}
    added: set[str | None] = set()  # anchors of the student's own new cells (not edits of given cells)
    anchor: str | None = None
    for cell in submission.cells:
        if cell.get("cell_type") != "code":
            continue
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        gid = grade_id(cell)
        if gid in solution_ids:
            seen[gid] = seen.get(gid, 0) + 1
            answers[gid] = text
            anchor = gid
        elif gid in source_ids:
            # A locked or test cell: the source's copy runs. If the student
            # changed it (or re-tagged one of their own cells with its id),
            # their code runs too, just before it, so no work is lost.
            if text.strip() != release_source(source_text[gid]).strip():
                extras.setdefault(anchor, []).append(text)
                edited.append(gid)
            anchor = gid
        elif text.strip():
            extras.setdefault(anchor, []).append(text)
            added.add(anchor)
    notes += [f"cell {gid!r} appears {n} times; the last copy was graded." for gid, n in seen.items() if n > 1]
    notes += [
        f"cell {gid!r} was deleted or lost its metadata; the code in your other cells ran instead."
        for gid in sorted(solution_ids - set(answers))
    ]
    notes += [
        f"cell {gid!r} differs from the original, which was restored; your version ran just before it."
        for gid in edited
    ]
    if any(extras.values()):
        notes.append(
            f"{sum(map(len, extras.values()))} code cell(s) of yours without a known grade_id ran after the graded cell before them."
        )
    steps = _steps(source)
    first_step = next((s for s in steps if s), None)
    # extras anchored after a cell are in the step of the cell that follows it
    after: dict[str | None, str | None] = {None: first_step}
    after.update({grade_id(c): steps[i + 1] for i, c in enumerate(source.cells[:-1]) if grade_id(c)})
    # A step is attempted when the student wrote code for it: edits of its given or check cells do not count.
    touched = {after.get(anchor) for anchor in added}
    touched |= {
        steps[i]
        for i, c in enumerate(source.cells)
        if grade_id(c) in answers and answers[grade_id(c)].strip() != release_source(c.source).strip()
    }

    def student_extras(anchor: str | None) -> list[Any]:
        texts = extras.pop(anchor, [])
        return [] if after.get(anchor) in reference else [_fresh_code_cell(text) for text in texts]

    cells: list[Any] = []
    first_solution = True
    for i, cell in enumerate(source.cells):
        gid = grade_id(cell)
        if cell.cell_type != "code" or SKIP_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        if is_solution(cell) and first_solution:
            cells += student_extras(None)
            first_solution = False
        if gid in solution_ids and steps[i] in reference:
            cells.append(_fresh_code_cell(cell.source, gid, secret=True))  # the answer key, for the student's
        elif gid in solution_ids:
            if gid in answers:
                cells.append(_fresh_code_cell(answers[gid], gid))
        elif _has_hidden_tests(cell) and hidden is not None and gid not in hidden:
            cells.append(_fresh_code_cell(release_source(cell.source), gid))  # as released: no hidden tests
        else:
            cells.append(_fresh_code_cell(cell.source, gid, secret=_has_hidden_tests(cell)))
        cells += student_extras(gid)
    for texts in extras.values():  # anchors the source lacks: run at the end
        cells += [_fresh_code_cell(text) for text in texts]
    return Assembly(cells, notes, frozenset(t for t in touched if t))
