"""Structure of every top-level notebook: the conventions students can rely on.

Each notebook opens with a title, an "Open in Colab" badge and learning
objectives, then the one setup cell; its code cells are short and define
no functions or classes (library code lives in mtl_teach); it ends with a
summary and a link to the next notebook; and it is committed with its
outputs, run top to bottom. nbval (scripts/test.sh) checks that those
outputs still match the code; this file checks only the structure, so it
runs in well under a second. notebooks/student/ is not checked here.
"""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
IDS = [p.name for p in PATHS]
MAX_STATEMENTS = 15  # "short" in statements, so ruff's vertical wrapping does not count
MAX_CODE_LINES = 40
WITH_PLOTS = ("01_toy_data.ipynb", "02_mtl_basics.ipynb", "03_decision_boundaries.ipynb")
# The project's home, declared once in pyproject.toml (tests/test_links.py checks every derived link).
HOME = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Homepage"]
SETUP_CELL = f"""\
# Setup: on Colab this installs mtl_teach; where it is installed it does nothing.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("mtl_teach") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+{HOME}"], check=True)"""
PROGRESS_BAR = re.compile(r"\d+%\|.*\||\d+(\.\d+)?(it|batch)/s")


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _code(cell: nbformat.NotebookNode) -> str:
    # IPython magics and shell escapes are not Python; blank them for ast.
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())


def test_the_notebooks_exist():
    assert set(WITH_PLOTS) <= set(IDS), f"missing notebooks: {set(WITH_PLOTS) - set(IDS)}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_opens_with_title_badge_and_objectives(path):
    notebook = _read(path)
    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    assert re.match(r"# \S", first.source), "the first cell must start with '# <Title>'"
    colab = HOME.replace("https://github.com/", "https://colab.research.google.com/github/")
    badge = f"({colab}/blob/main/notebooks/{path.name})"
    assert "colab-badge.svg" in first.source and badge in first.source, (
        "the Open in Colab badge must link to this notebook"
    )
    objectives = first.source.split("## Learning objectives", 1)
    assert len(objectives) == 2, "the first cell needs a '## Learning objectives' section"
    bullets = [line for line in objectives[1].splitlines() if line.startswith("- ")]
    assert 3 <= len(bullets) <= 5, f"3-5 learning objectives, found {len(bullets)}"
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_second_cell_is_the_setup_cell(path):
    cell = _read(path).cells[1]
    assert cell.cell_type == "code"
    # Same code, whatever ruff format did to the line breaks.
    assert ast.dump(ast.parse(cell.source)) == ast.dump(ast.parse(SETUP_CELL))
    assert cell.source.startswith(SETUP_CELL.splitlines()[0]), "keep the setup cell's comment line"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_ends_with_summary_questions_and_next_notebook(path):
    markdown = [cell.source for cell in _read(path).cells if cell.cell_type == "markdown"]
    tail = "\n".join(markdown[-2:])
    assert "## Summary" in tail, "one of the last two markdown cells needs a '## Summary'"
    assert markdown[-1].startswith("## Questions"), "the last markdown cell must be '## Questions' (after the summary)"
    questions = re.findall(r"^\d+\. ", markdown[-1], flags=re.MULTILINE)
    answers = re.findall(r"<details><summary>Answer</summary>(.+?)</details>", markdown[-1], flags=re.DOTALL)
    assert len(questions) >= 3, f"at least 3 numbered questions, found {len(questions)}"
    assert len(answers) == len(questions), "every question needs an answer the student can reveal (<details>)"
    assert all(answer.strip() for answer in answers), "an empty answer"
    later = [p.name for p in PATHS if p.name > path.name]
    if later:  # the last notebook has nothing to point to
        assert f"[{later[0]}]({later[0]})" in tail, f"the end must link to the next notebook, {later[0]}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_code_cells_are_thin_and_short(path):
    for index, cell in enumerate(_read(path).cells[2:], start=2):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(_code(cell))
        # An exercise's answer cell (nbgrader solution) may define the function the student writes.
        answer_cell = bool(cell.metadata.get("nbgrader", {}).get("solution"))
        defined = [
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        assert answer_cell or not defined, (
            f"cell {index} defines {defined}: put library code in mtl_teach, not in the notebook"
        )
        statements = sum(isinstance(node, ast.stmt) for node in ast.walk(tree))
        assert statements <= MAX_STATEMENTS, (
            f"cell {index} has {statements} statements (at most {MAX_STATEMENTS}): split it"
        )
        lines = len(cell.source.strip().splitlines())
        assert lines <= MAX_CODE_LINES, f"cell {index} has {lines} lines (at most {MAX_CODE_LINES}): split it"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_outputs_are_committed_from_one_top_to_bottom_run(path):
    cells = [cell for cell in _read(path).cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in cells]
    assert all(isinstance(c, int) for c in counts), (
        f"every code cell needs an execution_count (run scripts/run_notebooks.py): {counts}"
    )
    assert counts == list(range(counts[0], counts[0] + len(counts))), f"cells were not run top to bottom once: {counts}"
    outputs = [output for cell in cells for output in cell.outputs]
    assert outputs, "the notebook is committed without outputs"
    for output in outputs:
        text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
        assert not PROGRESS_BAR.search(text), f"a progress bar in the committed output: {text[:80]!r}"
    if path.name in WITH_PLOTS:
        assert any("image/png" in output.get("data", {}) for output in outputs), "no plot in the committed outputs"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_no_errors_or_warnings_in_outputs(path):
    for cell in _read(path).cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"an error in the committed outputs: {output.get('ename')}"
            assert output.get("name") != "stderr", (
                f"stderr in the committed outputs (a warning?): {output.text[:120]!r}"
            )


def test_sanitizer_hides_only_what_varies():
    config = configparser.ConfigParser()
    config.read(NOTEBOOKS / "nbval_sanitize.cfg")
    rules = [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]
    assert rules, "no sanitizer rules"

    def clean(text: str) -> str:
        for regex, replace in rules:
            text = regex.sub(replace, text)
        return text

    assert clean("<function f at 0x7f3a2c1d9e40>") == clean("<function f at 0x7f0011223344>")
    assert clean("done in 0.53 s") == clean("done in 12.1 s") and clean("3.2 ms") == clean("0.9 ms")
    # Scores, counts, shapes and names must still be compared exactly.
    for kept in [
        "'circle_task/circleDataset/test/accuracy': 0.94375",
        "800 points, 78% label 1",
        "(800, 2) float32",
        "10 epochs, 4 units",
    ]:
        assert clean(kept) == kept


def test_run_notebooks_refuses_student_copies():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), str(NOTEBOOKS / "student" / "04_your_turn.ipynb")],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "not a top-level notebook" in result.stderr


def test_the_stall_warning_sends_students_to_a_notebook_that_exists():
    from mtl_teach.dead_units import GUIDE

    named = re.findall(r"notebooks/(\S+\.ipynb)", GUIDE)
    assert named and all((NOTEBOOKS / name).is_file() for name in named), GUIDE
