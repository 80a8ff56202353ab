"""Exercise 09 (implement PCGrad): its self-checks tell the usual mistakes apart, and the grader scores them.

The checks are called on real functions written the way students get them
wrong. Then a set of submissions (the released student copy with each
mistake filled in) is graded once through the real CLI, in real kernels.
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
import torch

from mtl_teach.exercises import pcgrad as q
from mtl_teach.grading.cells import STUB
from mtl_teach.weighting import pcgrad

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "notebooks" / "student" / "09_your_turn_pcgrad.ipynb"

CORRECT_PROJECT = """
def project_conflicting(g1, g2):
    dot = g1 @ g2
    if dot < 0:
        return g1 - dot / (g2 @ g2) * g2
    return g1
"""
# Each mistake of the issue, as a student would write it.
PROJECT_MISTAKES = {
    "agree": (
        "def project_conflicting(g1, g2):\n    return g1 - (g1 @ g2) / (g2 @ g2) * g2\n",
        "agree (g1 . g2 = 2 > 0)",
    ),
    "wrong_vector": (
        "def project_conflicting(g1, g2):\n    dot = g1 @ g2\n    return g1 - dot / (g1 @ g1) * g1 if dot < 0 else g1\n",
        "projected onto the wrong vector",
    ),
    "wrong_norm": (
        "def project_conflicting(g1, g2):\n    dot = g1 @ g2\n    return g1 - dot / g2.norm() * g2 if dot < 0 else g1\n",
        "SQUARED norm",
    ),
    "in_place": (
        "def project_conflicting(g1, g2):\n    dot = g1 @ g2\n    if dot < 0:\n        g1 -= dot / (g2 @ g2) * g2\n    return g1\n",
        "modified in place",
    ),
}
CORRECT_PCGRAD = """
def my_pcgrad(G):
    rows = []
    for i in range(len(G)):
        g = G[i]
        for j in range(len(G)):
            if j != i:
                g = project_conflicting(g, G[j])
        rows.append(g)
    return torch.stack(rows).sum(dim=0)
"""


def define(source: str, name: str, namespace: dict | None = None):
    namespace = {"torch": torch, **(namespace or {})}
    exec(source, namespace)  # the test's own answer code
    return namespace[name]


# ------------------------------------------------------------ the checks, on real functions
def test_the_correct_projection_passes_and_is_pcgrad():
    project = define(CORRECT_PROJECT, "project_conflicting")
    result = q.project.check(project)
    assert result.status == "correct", result
    G = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
    assert torch.allclose(project(G[0], G[1]) + project(G[1], G[0]), pcgrad(G))  # the module's doctest example


@pytest.mark.parametrize("mistake", list(PROJECT_MISTAKES))
def test_each_projection_mistake_is_named(mistake):
    source, phrase = PROJECT_MISTAKES[mistake]
    result = q.project.check(define(source, "project_conflicting"))
    assert result.status == "incorrect" and phrase in result.message, result


def test_not_attempted_is_told_apart_from_incorrect():
    assert q.project.check(None).status == "not_attempted"
    stub = define("def project_conflicting(g1, g2):\n    raise NotImplementedError\n", "project_conflicting")
    assert q.project.check(stub).status == "not_attempted"
    assert q.pcgrad.check(None).status == "not_attempted"
    crashing = define("def my_pcgrad(G):\n    return G[5]\n", "my_pcgrad")
    assert q.pcgrad.check(crashing).status == "incorrect"  # an IndexError is reported, not raised


def test_pcgrad_for_t_tasks_passes_and_its_mistakes_are_named():
    project = define(CORRECT_PROJECT, "project_conflicting")
    good = define(CORRECT_PCGRAD, "my_pcgrad", {"project_conflicting": project})
    assert q.pcgrad.check(good).status == "correct"
    matrix = define(CORRECT_PCGRAD.replace(".sum(dim=0)", ""), "my_pcgrad", {"project_conflicting": project})
    assert "return their SUM" in q.pcgrad.check(matrix).message
    mean = define(CORRECT_PCGRAD.replace(".sum(dim=0)", ".mean(dim=0)"), "my_pcgrad", {"project_conflicting": project})
    assert "mean" in q.pcgrad.check(mean).message
    for mistake, (source, _) in PROJECT_MISTAKES.items():
        built_on = define(CORRECT_PCGRAD, "my_pcgrad", {"project_conflicting": define(source, "project_conflicting")})
        result = q.pcgrad.check(built_on)
        assert result.status == "incorrect", (mistake, result)
    in_place = define(
        CORRECT_PCGRAD,
        "my_pcgrad",
        {"project_conflicting": define(*[PROJECT_MISTAKES["in_place"][0]], "project_conflicting")},
    )
    assert "modified in place" in q.pcgrad.check(in_place).message


def test_hints_grow_and_the_solution_code_passes():
    for question in (q.project, q.pcgrad, q.training):
        assert len(question.hints) >= 2
        assert "more: hint(2)" in str(question.hint(1))
    project = define(q.project.solution().code, "project_conflicting")
    assert q.project.check(project).passed
    assert q.pcgrad.check(define(q.pcgrad.solution().code, "my_pcgrad", {"project_conflicting": project})).passed


def test_training_check_requires_the_students_function_and_learning():
    from mtl_teach import Trainer, set_seed
    from mtl_teach.imbalance import make_tutorial_model
    from mtl_teach.toy_data import make_joint_dataloaders

    project = define(CORRECT_PROJECT, "project_conflicting")
    mine = define(CORRECT_PCGRAD, "my_pcgrad", {"project_conflicting": project})
    loaders = make_joint_dataloaders(("circle_task", "square_task"), seed=0)
    set_seed(0)
    model = make_tutorial_model(("circle_task", "square_task"))
    trainer = Trainer(progress_bar=False, n_epochs=10, seed=0, weighting=mine)
    assert q.training.check(trainer, model, mine).status == "incorrect"  # not trained yet
    trainer.fit(model, loaders)
    assert q.training.check(trainer, model, mine).passed
    other = Trainer(progress_bar=False, n_epochs=10, seed=0, weighting="pcgrad")
    assert "not your function" in q.training.check(other, model, mine).message
    assert q.training.check(None, None, mine).status == "not_attempted"


# ------------------------------------------------------------ released and graded
def submission(answers: dict[str, str]) -> nbformat.NotebookNode:
    """The student copy with ``answers[grade_id]`` in place of each stub it names."""
    notebook = nbformat.read(STUDENT, as_version=4)
    for cell in notebook.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            assert STUB in cell.source, gid
            cell.source = cell.source.replace(STUB, answers[gid].strip())
    return notebook


TRAIN = "trainer = Trainer(progress_bar=False, n_epochs=10, seed=0, weighting=my_pcgrad)\ntrainer.fit(model, loaders)"
SUBMISSIONS = {
    "perfect": {"project": CORRECT_PROJECT, "pcgrad": CORRECT_PCGRAD, "training": TRAIN},
    "stub": {},
    **{
        mistake: {"project": source, "pcgrad": CORRECT_PCGRAD, "training": TRAIN}
        for mistake, (source, _) in PROJECT_MISTAKES.items()
    },
    "sum_missing": {"project": CORRECT_PROJECT, "pcgrad": CORRECT_PCGRAD.replace(".sum(dim=0)", ""), "training": TRAIN},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pcgrad_submissions")
    paths = []
    for student, answers in SUBMISSIONS.items():
        path = folder / f"{student}.ipynb"
        nbformat.write(submission(answers), path)
        paths.append(path)
    out = folder / "grades"
    command = [sys.executable, "-m", "mtl_teach", "grade", *map(str, paths), "--out", str(out), "--jobs", "2"]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=ROOT, timeout=900
    )
    assert done.returncode == 0, done.stderr
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    results = {s: json.loads((out / "results" / s / "results.json").read_text()) for s in SUBMISSIONS}
    return rows, results


def test_the_grader_scores_each_mistake(graded):
    rows, results = graded
    total = {student: float(row["total"]) for student, row in rows.items()}
    assert total["perfect"] == 10 and total["stub"] == 0, total
    # The projection is wrong, and so PCGrad built on it fails in the student's notebook; graded on its own,
    # on the reference projection, the student's PCGrad and training are right and keep their points.
    for mistake in PROJECT_MISTAKES:
        assert total[mistake] == 7, (mistake, total)
        assert float(rows[mistake]["check_project"]) == 0, rows[mistake]
        tests = {t["tags"][0]: t["output"] for t in results[mistake]["tests"]}
        assert (
            'Graded on its own: since "Step 1: the projection for two gradients" did not pass' in tests["check_pcgrad"]
        )
        assert tests["check_training"].startswith("passed: ")  # it runs with either projection
    assert float(rows["sum_missing"]["check_project"]) == 3 and float(rows["sum_missing"]["check_pcgrad"]) == 0
    # 09's graded cells are scored by their hidden tests, in the student's kernel: what that kernel says after
    # holding them never reaches the feedback (issue 22); the feedback points at the check the student can run,
    # which says what is wrong ("SQUARED norm", tested above at the q level).
    feedback = {t["tags"][0]: t.get("output", "") for t in results["wrong_norm"]["tests"]}
    assert feedback["check_project"].startswith("incorrect: this step's hidden tests failed (AssertionError"), feedback
    assert (
        "To see why, run its check in your notebook: q.project.check(project_conflicting)" in feedback["check_project"]
    )
    assert not any("SQUARED" in text for text in feedback.values())
