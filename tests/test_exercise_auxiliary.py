"""Notebook 10's decision exercise: its check, hints and solution, and its grading through the real CLI.

The check measures the student's choice with compare_sharing (seconds per
choice), so these tests use a few real choices: the solution (passes), a
plausible wrong choice (a related task on a trunk too small), a malformed
model and the stub. Submissions made from the released student copy are
then graded by ``python -m mtl_teach grade``, like notebook 04's.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from torch import nn

from mtl_teach import MultitaskClassifier, Operation, Task
from mtl_teach.cli import main as cli
from mtl_teach.exercises import _auxiliary_checks as checks
from mtl_teach.exercises import auxiliary as q
from mtl_teach.grading.cells import STUB
from mtl_teach.sharing import build_shared_model

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "10_your_turn_auxiliary.ipynb"
ASSIGNMENT = "10_your_turn_auxiliary"


@pytest.mark.parametrize("stub", [None, NotImplemented, ...])
def test_a_stub_is_not_attempted(stub):
    result = q.decision.check(stub)
    assert result.status == "not_attempted" and "replace `raise NotImplementedError`" in result.message


def test_the_solution_passes_with_its_measured_gain():
    namespace: dict = {"build_shared_model": build_shared_model}
    exec(q.decision.solution().code, namespace)
    result = q.decision.check(namespace["model"])
    assert result.status == "correct", result.message
    assert "'inv_circle_task' with a (64, 64) trunk" in result.message and "the goal" in result.message
    summary = checks.measure("inv_circle_task", (64, 64))
    assert summary["gain_mean"] >= checks.MIN_GAIN and summary["shared_wins"] >= checks.MIN_WINS, summary


def test_the_right_task_on_too_small_a_trunk_is_incorrect_and_says_by_how_much():
    result = q.decision.check(build_shared_model(["circle_task", "inv_circle_task"], hidden=(32, 32)))
    assert result.status == "incorrect", result.message
    assert "points on average" in result.message and "the goal is at least 3.5 points" in result.message
    summary = checks.measure("inv_circle_task", (32, 32))
    assert summary["gain_mean"] < checks.MIN_GAIN or summary["shared_wins"] < checks.MIN_WINS


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (lambda: nn.Linear(2, 2), "is a Linear, not a MultitaskClassifier"),
        (lambda: build_shared_model(["circle_task"], hidden=(8,)), "it needs exactly two"),
        (lambda: build_shared_model(["square_task", "inv_circle_task"], hidden=(8,)), "it needs exactly two"),
        (
            lambda: build_shared_model(["circle_task", "inv_circle_task"], hidden=(128,)),
            "outside this exercise's limits",
        ),
        (lambda: build_shared_model(["circle_task", "inv_circle_task"], hidden=(8, 8, 8, 8)), "at most 3 layers"),
        (
            lambda: build_shared_model(["circle_task", "inv_circle_task"], hidden=(16, 2), shared_layers=1),
            "with the whole trunk shared",
        ),
    ],
    ids=["not-a-model", "one-task", "no-circle", "too-wide", "too-deep", "branched"],
)
def test_models_that_do_not_state_a_valid_choice_are_incorrect_and_say_why(make, phrase):
    result = q.decision.check(make())
    assert result.status == "incorrect" and phrase in result.message, result.message


def test_a_hand_built_model_with_its_own_head_shape_is_refused():
    trunk = nn.Sequential(nn.Linear(2, 8), nn.ReLU())
    tasks = [
        Task(
            name=name,
            module_pool=nn.ModuleDict({"base_mlp": trunk, head: nn.Linear(8, 3)}),
            op_sequence=[Operation("base_mlp", [("_input_", field)]), Operation(head, [("base_mlp", 0)])],
        )
        for name, field, head in [
            ("circle_task", "circle_data", "circle_head"),
            ("inv_circle_task", "inv_circle_data", "inv_circle_head"),
        ]
    ]
    result = q.decision.check(MultitaskClassifier(tasks))
    assert result.status == "incorrect" and "build_shared_model" in result.message, result.message


def test_hints_say_more_each_time_and_the_last_names_the_measurement():
    hints = [q.decision.hint(level).text for level in (1, 2, 3)]
    assert len(set(hints)) == 3 and "compare_sharing" in hints[2]
    assert "(more: hint(2))" in str(q.decision.hint(1)) and "hint(level) takes a level from 1 to 3" in str(
        q.decision.hint(4)
    )


# --- release and grade, end to end -------------------------------------------------------------------


def _submission(student: Path, folder: Path, name: str, answer: str | None) -> Path:
    notebook = nbformat.read(student, as_version=4)
    if answer is not None:
        cell = next(c for c in notebook.cells if c.metadata["nbgrader"]["grade_id"] == "decision")
        assert STUB in cell.source
        cell.source = cell.source.replace(STUB, answer)
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


def test_release_and_grade_tell_right_wrong_and_not_attempted_apart(tmp_path):
    released = tmp_path / "released"
    assert cli(["release", str(SOURCE), "--out", str(released)]) == 0
    student = released / SOURCE.name
    assert nbformat.read(student, as_version=4).metadata["mtl_teach"] == {"assignment": ASSIGNMENT}
    folder = tmp_path / "submissions"
    folder.mkdir()
    build = "model = build_shared_model(['circle_task', auxiliary], hidden=hidden)"
    paths = [
        _submission(student, folder, "right", f"auxiliary, hidden = 'inv_circle_task', (64, 64)\n{build}"),
        _submission(student, folder, "wrong", f"auxiliary, hidden = 'square_task', (8, 4)\n{build}"),
        _submission(student, folder, "untouched", None),
    ]
    out = tmp_path / "grades"
    command = [sys.executable, "-m", "mtl_teach", "grade", *map(str, paths), "--out", str(out), "--jobs", "1"]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=ROOT, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert {name: rows[name]["check_decision"] for name in rows} == {"right": "4", "wrong": "0", "untouched": "0"}
    tests = {name: json.loads((out / "results" / name / "results.json").read_text())["tests"][0] for name in rows}
    assert tests["right"]["output"].startswith("passed"), tests["right"]
    assert (
        tests["wrong"]["output"].startswith("incorrect")
        and "'square_task' with a (8, 4) trunk" in tests["wrong"]["output"]
    )
    assert tests["untouched"]["output"].startswith("not attempted: model is still None"), tests["untouched"]


def test_the_source_carries_nbgrader_metadata_and_the_grader_knows_its_cells():
    notebook = nbformat.read(SOURCE, as_version=4)
    metas = [cell.metadata["nbgrader"] for cell in notebook.cells]
    assert all(meta["schema_version"] == 3 for meta in metas)
    assert len({meta["grade_id"] for meta in metas}) == len(metas), "grade_ids must be unique"
    for cell, meta in zip(notebook.cells, metas, strict=True):
        assert meta["solution"] == ("### BEGIN SOLUTION" in cell.source) and meta["locked"] != meta["solution"]
        assert meta["grade"] == ("### BEGIN HIDDEN TESTS" in cell.source)
    graded = {meta["grade_id"]: meta["points"] for meta in metas if meta["grade"]}
    assert graded == {"check_decision": 4} and set(graded) == set(q.GRADED)
