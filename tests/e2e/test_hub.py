"""A class on a real JupyterHub: three students, one exercise, hand-in, collect, grade, stop.

``make hub`` starts JupyterHub on a free loopback port with the demo login.
As root (CI), its local spawner runs each student's server as their own
system account, which the demo login creates at first login: file
permissions are then real, and the test checks that one student can neither
read nor change another's hand-in. (Not as root, the simple spawner runs
every student as one user and cannot keep them apart: that check is
skipped, saying so.)

Three students open the exercise by its nbgitpuller link (the kit is served
by ``git daemon`` on loopback, standing in for GitHub) in headless Chromium,
log in, and work in the student copy of exercise 04:

- ada solves it (the answer key's code, typed into the stubs) and runs all cells, to the end;
- ben makes a typical mistake (a ``Linear(4, 1)`` head for two classes), runs all cells, then on
  through the last check;
- cy leaves it blank and runs it as far as its last check.

Each saves and hands in with the README's one line. ``mtl-teach collect``
then ``mtl-teach grade`` must give each the score ``tests/submissions/expected.json``
holds for that work (10, 7 and 0). Then Ctrl+C stops the hub, and nothing of it
may be left running.
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from catalog import ARTIFACTS, REPO, load_plan
from hubserver import (
    EXERCISE,
    HAND_IN,
    ClassHub,
    GitServer,
    exercise_answers,
    log_in,
    remove_system_user,
    run_as,
    student_python,
)
from notebook_ui import (
    Cell,
    add_cell_and_run,
    click_run_all,
    current_tab,
    read_cells,
    run_all_cells,
    run_cell,
    save_notebook,
    screenshot_cell,
    set_cell_source,
    wait_for,
    wait_for_notebook,
)

from mtl_teach.links import nbgitpuller_url

ASSIGNMENT = "04_your_turn"
SUBMISSIONS = REPO / "tests" / "submissions"
# student -> the work they do (a notebook of tests/submissions, whose expected score they must get)
STUDENTS = {"mtl-e2e-ada": "perfect", "mtl-e2e-ben": "attempt_head_4_1", "mtl-e2e-cy": "stub"}
VIEWPORT = {"width": 1280, "height": 800}
ERROR_LINE = re.compile(r"^\w*(Error|Exception)\b.*$", re.MULTILINE)


@dataclass
class Classroom:
    """What the module's one class session left for the tests to check."""

    hub: ClassHub
    base: Path
    link: str
    spawner: str
    receipts: dict[str, str] = field(default_factory=dict)
    pages: dict[str, Any] = field(default_factory=dict)
    typed: dict[str, dict[int, str]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds, kept in test-artifacts/e2e/
    cells: dict[str, list[Cell]] = field(default_factory=dict)  # what each notebook showed once run

    def lap(self, phase: str, started: float) -> float:
        """Note how long ``phase`` took since ``started``; return now."""
        now = time.monotonic()
        self.timings[phase] = round(now - started, 1)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "hub-timings.json").write_text(json.dumps(self.timings, indent=1))
        return now

    @property
    def handin_root(self) -> Path:
        return self.hub.state / "handin"

    def home(self, name: str) -> Path:
        return Path(pwd.getpwnam(name).pw_dir) if self.spawner == "local" else self.hub.state / "homes" / name

    def handins(self, name: str) -> list[Path]:
        return sorted((self.handin_root / name / ASSIGNMENT).glob("*.ipynb"))


@pytest.fixture(scope="module")
def classroom(browser: Any) -> Iterator[Classroom]:
    """One class session: the hub, the three students' work, their hand-ins (then cleaned up, users included)."""
    spawner = "local" if os.geteuid() == 0 else "simple"
    # Not pytest's tmp_path: it is private (0700), and each student must pass through to their dropbox.
    base = Path(tempfile.mkdtemp(prefix="mtl-hub-e2e-"))
    base.chmod(0o711)
    for name in STUDENTS:
        remove_system_user(name)  # left by an interrupted run
    contexts = []
    room: Classroom | None = None
    started = time.monotonic()
    try:
        (base / "git").mkdir()
        with GitServer(base / "git") as git:
            python = student_python(base) if spawner == "local" else None
            prepared = time.monotonic()
            with ClassHub(base / "state", git.url, spawner, python) as hub:
                room = Classroom(hub, base, nbgitpuller_url(hub.url, git.url, "main", EXERCISE), spawner)
                room.timings["repository and students' Python"] = round(prepared - started, 1)
                lap = room.lap("make hub until its API answers", prepared)
                plan = load_plan(REPO / EXERCISE)
                # Everyone clicks the link and logs in; their servers start and pull side by side.
                for name in STUDENTS:
                    context = browser.new_context(viewport=VIEWPORT)
                    contexts.append(context)
                    room.pages[name] = context.new_page()
                    log_in(room.pages[name], hub, name, room.link)
                for name, work in STUDENTS.items():
                    page = room.pages[name]
                    wait_for_notebook(page, plan.n_cells, timeout_s=240)
                    lap = room.lap(f"{name}: log in, server up, kit pulled, exercise open", lap)
                    room.typed[name] = exercise_answers(work)
                    for index, source in room.typed[name].items():
                        set_cell_source(page, index, source)
                lap = room.lap("answers typed", lap)
                for page in room.pages.values():  # Run All in every notebook at once
                    click_run_all(page)
                last_check = plan.self_checks[-1]
                # ada's full run takes longest: the others go on, cell by cell, while it runs.
                for name in sorted(room.pages, key=lambda name: STUDENTS[name] == "perfect"):
                    page = room.pages[name]
                    run_all_cells(page, timeout_s=400, click=False)
                    hub.remember()  # every kernel, to check that none outlives the hub
                    if STUDENTS[name] != "perfect":  # Run All stopped at an error: on, one cell at a time
                        cells = read_cells(page)
                        stopped = max(i for i in plan.code if cells[i].execution_count is not None)
                        for i in plan.code:
                            if stopped < i <= last_check:
                                run_cell(page, i)
                    lap = room.lap(f"{name}: ran", lap)
                    room.cells[name] = read_cells(page)
                    screenshot_cell(page, plan.self_checks[-1], ARTIFACTS / f"hub-{name}-ran.png")
                    save_notebook(page)
                    room.receipts[name] = add_cell_and_run(page, HAND_IN).text
                    lap = room.lap(f"{name}: saved and handed in", lap)
                hub.remember()
                yield room
    finally:
        for name, page in (room.pages if room else {}).items():
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"hub-{name}.png"))
        for context in contexts:
            context.close()
        for name in STUDENTS:
            remove_system_user(name)
        shutil.rmtree(base, ignore_errors=True)


def test_each_student_runs_the_exercise_to_the_end(classroom: Classroom) -> None:
    plan = load_plan(REPO / EXERCISE)
    for name, work in STUDENTS.items():
        cells = classroom.cells[name]
        last = plan.code[-1] if work == "perfect" else plan.self_checks[-1]
        not_run = [i for i in plan.code if i <= last and cells[i].execution_count is None]
        assert not not_run, f"{name}: code cells {not_run} did not run"
        raised = {i: error for i, cell in enumerate(cells) if (error := _error(cell))}
        if work == "perfect":
            assert not raised, f"{name} solved it, yet cells raised: {raised}"
            images = [i for i in plan.boundaries if cells[i].images]
            assert images == list(plan.boundaries), f"{name}'s boundary figures: {images}"
        elif work == "stub":
            assert {i: raised.get(i, "")[:19] for i in plan.stubs} == dict.fromkeys(plan.stubs, "NotImplementedError")
        else:  # a Linear(4, 1) head: training fails on the two-class labels, and the last check says why
            said = cells[plan.self_checks[-1]].text
            assert list(raised) == [plan.stubs[-1]], raised
            assert "Incorrect" in said and "1 outputs but the labels have 2 classes" in said, said


def _error(cell: Cell) -> str:
    """The exception a cell shows ("NameError: ..."), or ""."""
    return next((m[0] for text in cell.stderr() if (m := ERROR_LINE.search(text))), "")


def test_each_student_hands_in_from_the_notebook(classroom: Classroom) -> None:
    for name in STUDENTS:
        receipt = classroom.receipts[name]
        assert f"Handed in {ASSIGNMENT} for {name}" in receipt, f"{name}'s hand-in cell said:\n{receipt}"
        assert "WARNING" not in receipt, f"{name} saved before handing in, yet:\n{receipt}"
        kept = classroom.handins(name)
        assert len(kept) == 1, f"{name}: {kept}"
        saved = classroom.home(name) / "mtl-teach" / EXERCISE
        assert kept[0].read_bytes() == saved.read_bytes(), f"{name}'s hand-in is not the notebook as saved"
        if classroom.spawner == "local":
            owner = pwd.getpwnam(name).pw_uid
            assert kept[0].stat().st_uid == owner and (kept[0].stat().st_mode & 0o077) == 0, kept[0].stat()
            assert (kept[0].parent.parent.stat().st_mode & 0o777) == 0o700


def test_a_second_click_on_the_link_keeps_the_students_edits(classroom: Classroom) -> None:
    name = "mtl-e2e-ada"
    page = classroom.pages[name]
    page.goto(classroom.link)  # (her hand-in cell came after her last save: the file has the exercise's cells)
    wait_for_notebook(page, load_plan(REPO / EXERCISE).n_cells, timeout_s=120)
    saved = nbformat.read(classroom.home(name) / "mtl-teach" / EXERCISE, as_version=4)
    for index, source in classroom.typed[name].items():
        assert saved.cells[index].source == source, f"nbgitpuller lost {name}'s edit of cell {index}"


def test_a_students_server_opens_on_the_kits_start_page(classroom: Classroom) -> None:
    # The hub's own address, as a student types it: the server's default URL pulls the kit and opens its start page.
    page = classroom.pages["mtl-e2e-cy"]
    page.goto(f"{classroom.hub.url}/hub/")
    words = ["Start here", "01_toy_data.ipynb", "student/04_your_turn.ipynb"]
    wait_for(
        page,
        "(words) => { const t = document.querySelector('#jp-main-dock-panel')?.innerText || '';"
        " return words.every((w) => t.includes(w)); }",
        arg=words,
        timeout_s=90,
        what=f"the kit's start page (notebooks/README.md) showing {words}",
    )
    assert current_tab(page)["title"] == "README.md"
    assert "/user/mtl-e2e-cy/lab/tree/mtl-teach/notebooks/README.md" in page.url, page.url


def test_a_student_cannot_read_or_change_another_students_handin(classroom: Classroom) -> None:
    if classroom.spawner != "local":
        pytest.skip(
            "not root: the hub uses the simple spawner, which runs every student as one OS user and cannot "
            "keep their hand-ins apart (README, 'In a classroom'); CI runs this as root"
        )
    ada_box = classroom.handin_root / "mtl-e2e-ada"
    ada = classroom.handins("mtl-e2e-ada")[0]
    attempts = {
        "list the hand-in root": f"ls {classroom.handin_root}",
        "list ada's dropbox": f"ls {ada_box}",
        "read ada's hand-in": f"cat {ada}",
        "change ada's hand-in": f"echo x >> {ada}",
        "delete ada's hand-in": f"rm -f {ada}",
        "add a file to ada's dropbox": f"touch {ada_box}/{ASSIGNMENT}/x.ipynb",
        "replace ada's dropbox": f"mv {ada_box} {classroom.handin_root}/gone",
        "make a dropbox": f"mkdir {classroom.handin_root}/mtl-e2e-dan",
        "hard-link ada's hand-in": f"ln {ada} {classroom.handin_root}/mtl-e2e-ben/{ASSIGNMENT}/x.ipynb",
    }
    allowed = {
        what: run.stdout for what, cmd in attempts.items() if (run := run_as("mtl-e2e-ben", cmd)).returncode == 0
    }
    assert not allowed, f"ben, as his own system user, could: {allowed}"
    assert classroom.handins("mtl-e2e-ada") == [ada] and json.loads(ada.read_text())["cells"]


def test_collect_then_grade_gives_each_student_the_score_earned(classroom: Classroom) -> None:
    expected = json.loads((SUBMISSIONS / "expected.json").read_text())
    root = classroom.handin_root
    if classroom.spawner == "local":
        # ben plants, in his own dropbox, a link to ada's hand-in, named and dated as his latest:
        # collect follows no link, so he cannot be graded on her work.
        ada = classroom.handins("mtl-e2e-ada")[0]
        fake = f"{root}/mtl-e2e-ben/{ASSIGNMENT}/29991231T235959.000000Z-00000000.ipynb"
        assert run_as("mtl-e2e-ben", f"ln -s {ada} {fake}").returncode == 0
    out, grades = classroom.base / "collected", classroom.base / "grades"
    mtl = [sys.executable, "-m", "mtl_teach"]
    collect = subprocess.run(
        [*mtl, "collect", ASSIGNMENT, "--root", str(root), "--out", str(out)], capture_output=True, text=True
    )
    assert collect.returncode == 0, collect.stderr
    assert sorted(p.name for p in out.glob("*.ipynb")) == sorted(f"{name}.ipynb" for name in STUDENTS)
    rows = {row["student"]: row for row in csv.DictReader((out / "handins.csv").open())}
    assert set(rows) == set(STUDENTS) and all(row["handed_in"].endswith("Z") for row in rows.values()), rows
    if classroom.spawner == "local":
        assert "a link" in rows["mtl-e2e-ben"]["note"], rows["mtl-e2e-ben"]
    grade = subprocess.run(
        [*mtl, "grade", *map(str, sorted(out.glob("*.ipynb"))), "--out", str(grades), "--assignment", ASSIGNMENT],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert grade.returncode == 0, grade.stdout[-3000:] + grade.stderr[-3000:]
    totals = {row["student"]: float(row["total"]) for row in csv.DictReader((grades / "grades.csv").open())}
    assert totals == {name: float(expected[work]["total"]) for name, work in STUDENTS.items()}, totals


def test_ctrl_c_stops_the_hub_and_leaves_nothing_running(classroom: Classroom) -> None:
    hub = classroom.hub
    assert hub.seen, "the hub's processes were never seen"
    code = hub.interrupt()
    assert code is not None, f"make hub did not exit after Ctrl+C:\n{hub.log_tail()}"
    deadline = time.monotonic() + 20
    while (left := hub.leftovers(tuple(STUDENTS))) and time.monotonic() < deadline:
        time.sleep(0.25)  # polling interval while the last processes exit
    assert not left, "left running after Ctrl+C:\n" + "\n".join(left) + f"\n{hub.log_tail()}"
