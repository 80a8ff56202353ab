"""The batch autograder and the release command, end to end through the real CLI.

Every committed submission in ``tests/submissions/`` (real notebooks a
student could hand in, from ``make_submissions.py``) is graded ONCE for this
module, in real kernels, two at a time; each test then reads what the grader
wrote: ``grades.csv``, ``feedback/<student>.html`` and the Gradescope
``results/<student>/results.json``, against ``expected.json``. The grading
tests stay in this one module, which ``tests/conftest.py`` keeps as one
pytest-xdist group on one worker (the batch is graded once).
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from mtl_teach.cli import main as cli
from mtl_teach.grading.cells import STUB, assemble, grade_id
from mtl_teach.grading.kernel import Limits, run_cells
from mtl_teach.grading.release import released_text

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"
EXPECTED = {k: v for k, v in json.loads((SUBMISSIONS / "expected.json").read_text()).items() if not k.startswith("_")}
SOURCE = ROOT / "notebooks" / "04_your_turn.ipynb"
STUDENT = ROOT / "notebooks" / "student" / "04_your_turn.ipynb"
ITEMS = ["check_dataloader", "check_task", "check_model", "check_training"]
POINTS = {"check_dataloader": 2, "check_task": 3, "check_model": 2, "check_training": 3}
TITLES = {
    "check_dataloader": "Step 1: the data and its loader",
    "check_task": "Step 2: the task",
    "check_model": "Step 3: the model",
    "check_training": "Step 4: train and score",
}
LABELS = {"passed": "passed", "failed": "incorrect", "not_attempted": "not attempted", "error": "did not run"}
# Short limits keep the module fast: the solution's slowest cell takes about 1 s.
LIMITS = ["--timeout", "15", "--memory-mb", "1536"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
# An instructor's secrets, in the environment grade runs in (issue 22, class 1): no kernel may find them.
SECRETS = {"GITHUB_TOKEN": "ghp_mtlTeachGraderTestToken0123456789", "AWS_SECRET_ACCESS_KEY": "mtlTeach/Secret+Key42"}
# Where cheat_leftovers' links point: a folder of the grader's machine (as an instructor's ~/.ssh would be),
# which the grader must never write into.
PLANTED_TARGET = Path("/tmp/mtl-teach-planted-by-a-kernel")


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _grade(*args: object, timeout: float = 600, env: dict[str, str] = ENV) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mtl_teach", "grade", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)


def _results(out: Path, student: str) -> dict:
    return json.loads((out / "results" / student / "results.json").read_text())


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _journal_lines(out: Path) -> list[str]:
    return (out / ".mtl-grade" / "journal.jsonl").read_text().splitlines()


def _journal_students(out: Path) -> list[str]:
    return [json.loads(line)["student"] for line in _journal_lines(out)]


def _environment() -> dict[str, str]:
    """Hashes of what no kernel may change: the source notebooks, the package, site-packages' top level."""
    site = Path(nbformat.__file__).resolve().parents[1]
    files = [*sorted((ROOT / "notebooks").glob("*.ipynb")), *sorted((ROOT / "mtl_teach").rglob("*.py"))]
    listing = {"site-packages": "\n".join(sorted(p.name for p in site.iterdir()))}
    listing["checkout"] = "\n".join(sorted(p.name for p in ROOT.iterdir()))
    return {**{str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}, **listing}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade every committed submission once: the real CLI, real kernels, ``--jobs 2``."""
    before, environment = _hashes(SUBMISSIONS), _environment()
    out = tmp_path_factory.mktemp("batch") / "grades"
    paths = sorted(SUBMISSIONS.glob("*.ipynb"))
    shutil.rmtree(PLANTED_TARGET, ignore_errors=True)
    PLANTED_TARGET.mkdir()
    started = time.monotonic()
    done = _grade(*paths, "--out", out, "--jobs", "2", *LIMITS, env={**ENV, **SECRETS})
    seconds = time.monotonic() - started
    time.sleep(2)  # cheat_daemon's daemon strikes once the grader exits, if it is still alive
    return SimpleNamespace(
        out=out,
        done=done,
        before=before,
        environment=environment,
        journal=_journal_lines(out),
        grades=(out / "grades.csv").read_text(),
        seconds=seconds,
        students=[p.stem for p in paths],
    )


def test_every_case_of_the_issue_has_a_committed_submission():
    cases = {
        "raises",
        "infinite_loop",
        "memory_hog",
        "huge_output",
        "os_exit",
        "sys_exit",
        "invalid_json",
        "empty",
        "deleted_checks",
        "deleted_solution",
        "reordered",
        "duplicated",
        "retagged",
        "cheat_monkeypatch",
        "cheat_print",
        "cheat_edit_tests",
        "cheat_output_folder",
        "cheat_daemon",
        "cheat_escape",
        "cheat_neighbours",
        "cheat_leak",
        "cheat_stdout",
        "cheat_expand",
        # the issue's honest attempts: each step graded on its own
        "attempt_new_trunk",
        "attempt_head_4_1",
        "attempt_wrong_field",
        "attempt_model_raises",
        "attempt_x_key",
        "attempt_flipped_labels",
        "attempt_old_loaders",
        "attempt_two_mistakes",
        # issue 22: the trusted side and what one kernel leaves for the next (the rest: test_grader_trust.py)
        "cheat_environment",
        "cheat_leftovers",
        "cheat_history",
        "cheat_messages",
        "cheat_lookup_table",
    }
    assert cases <= set(EXPECTED)
    assert {p.stem for p in SUBMISSIONS.glob("*.ipynb")} == set(EXPECTED)


def test_a_reference_step_runs_the_answer_key_and_none_of_the_students_code():
    source = nbformat.read(SOURCE, as_version=4)
    student = nbformat.read(STUDENT, as_version=4)
    at = next(i for i, c in enumerate(student.cells) if grade_id(c) == "inv_circle_task")
    student.cells[at].source = "inv_circle_task = 'my task'"
    student.cells.insert(at + 1, nbformat.v4.new_code_cell("print('my extra cell')"))
    key = next(c.source for c in source.cells if grade_id(c) == "inv_circle_task")

    plain = assemble(source, student)
    texts = [c.source for c in plain.cells]
    assert "inv_circle_task = 'my task'" in texts and "print('my extra cell')" in texts and key not in texts
    assert plain.touched == {"check_task"}  # the other steps are still the released stubs

    graded_alone = assemble(source, student, frozenset({"check_task"}))
    texts = [c.source for c in graded_alone.cells]
    assert key in texts  # the answer key runs in the student's place...
    assert "inv_circle_task = 'my task'" not in texts and "print('my extra cell')" not in texts  # ...and none of theirs
    # every other cell is the same, in the same order
    rest = [c.source for c in plain.cells if c.source not in ("inv_circle_task = 'my task'", "print('my extra cell')")]
    assert [t for t in texts if t != key] == [t for t in rest if t != key]
    assert len(texts) == len(rest) + 1  # the key in place of the student's cell


def test_the_batch_finishes_and_reports_each_submission(batch):
    assert batch.done.returncode == 0, batch.done.stderr[-3000:]
    for student in batch.students:
        assert re.search(rf"^{student}: \d+/10$", batch.done.stdout, re.M), batch.done.stdout
    assert f"graded {len(batch.students)}, skipped 0 already graded" in batch.done.stdout


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_gets_exactly_its_expected_grade(batch, student):
    expected = EXPECTED[student]
    results = _results(batch.out, student)
    assert results["score"] == expected["total"], results
    assert [t["tags"] for t in results["tests"]] == [[i] for i in ITEMS]
    assert [t["name"] for t in results["tests"]] == list(TITLES.values())
    for test in results["tests"]:
        gid = test["tags"][0]
        points, status, phrase = expected["items"][gid]
        assert (test["score"], test["max_score"]) == (points, POINTS[gid]), test
        assert test["output"].startswith(f"{LABELS[status]}: "), test
        assert phrase in test["output"], test
        assert test["visibility"] == "visible"
        # Gradescope's test-case status: "passed" only with full points.
        assert test["status"] == ("passed" if status == "passed" else "failed"), test
    assert results["extra_data"]["assignment"] == "04_your_turn"
    assert results["output"].startswith(f"Score {expected['total']}/10: "), results["output"]
    for note in expected.get("notes", []):
        assert note in results["output"], f"{note!r} not in the Gradescope output {results['output']!r}"


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_feedback_shows_each_item_its_points_and_its_reason(batch, student):
    expected, results = EXPECTED[student], _results(batch.out, student)
    page = (batch.out / "feedback" / f"{student}.html").read_text()
    assert f"Score: {expected['total']} / 10" in page
    for test in results["tests"]:
        message = test["output"].split(": ", 1)[1]
        row = f"<td>{html.escape(test['name'])}<br><small><code>{test['tags'][0]}</code></small></td><td>{test['score']} / {test['max_score']}</td>"
        assert row in page
        assert html.escape(message) in page
    for note in expected.get("notes", []):
        assert html.escape(note) in page


def test_grades_csv_has_one_row_per_student_and_one_column_per_item(batch):
    header = (batch.out / "grades.csv").read_text().splitlines()[0]
    assert header == "student,assignment,total,max_score," + ",".join(ITEMS) + ",sandboxed"
    rows = _rows(batch.out)
    assert [r["student"] for r in rows] == sorted(EXPECTED)
    for row in rows:
        expected = EXPECTED[row["student"]]
        assert int(row["total"]) == expected["total"] and row["max_score"] == "10"
        assert [int(row[i]) for i in ITEMS] == [expected["items"][i][0] for i in ITEMS]
        assert row["sandboxed"] == "yes" and row["assignment"] == "04_your_turn"


def test_submissions_are_never_modified(batch):
    assert _hashes(SUBMISSIONS) == batch.before


def test_no_kernel_changed_the_environment_the_source_or_the_checkout(batch):
    # cheat_escape tried each (its notes say the sandbox held); nothing outside the kernels' scratch changed.
    assert _environment() == batch.environment


def test_a_submission_writing_into_the_output_folder_changes_no_grade(batch):
    # The cheats ran (their errors are in their feedback) but never reached the folder: nothing to remove...
    assert "lines not written by the grader" not in batch.done.stderr
    assert not (batch.out / ".mtl-grade" / "key").exists()
    # ...and 2 s after the grader exited (cheat_daemon's daemon would strike then) nothing has changed.
    assert _journal_lines(batch.out) == batch.journal
    assert (batch.out / "grades.csv").read_text() == batch.grades
    assert _results(batch.out, "cheat_output_folder")["score"] == 2
    assert "Score: 2 / 10" in (batch.out / "feedback" / "cheat_output_folder.html").read_text()
    row = next(r for r in _rows(batch.out) if r["student"] == "cheat_output_folder")
    assert row["total"] == "2" and row["check_training"] == "0"


def test_no_kernel_can_write_into_or_truncate_the_graders_log(batch):
    # cheat_stdout reopened every stream it could find with "w" and wrote FAKE lines: none reached the grader.
    assert "FAKE" not in batch.done.stdout and "FAKE" not in batch.done.stderr
    lines = batch.done.stdout.splitlines()
    for student in batch.students:  # nothing truncated: every student's line is there, once
        assert sum(line.startswith(f"{student}: ") for line in lines) == 1, student
    # it ran, and reached only /dev/null and the kernel's own output pipes
    assert "cheat_stdout: streams reached: [" in _results(batch.out, "cheat_stdout")["output"]


def test_huge_output_is_truncated_and_no_output_file_grows_with_it(batch):
    # huge_output printed 55 MB in one cell; none of it may reach what the grader keeps or writes.
    notes = _results(batch.out, "huge_output")["output"]
    assert "printed 55,002,531 bytes of output over the grader's cap" in notes, notes
    assert "Printed output is never graded" in notes
    for student in batch.students:
        for path in (batch.out / "feedback" / f"{student}.html", batch.out / "results" / student / "results.json"):
            assert path.stat().st_size < 200_000, path
    assert (batch.out / "grades.csv").stat().st_size < 200_000
    assert all(len(line) < 200_000 for line in _journal_lines(batch.out))


def _outputs(out: Path) -> str:
    """Everything the batch wrote: grades.csv, every feedback page and results.json, the journal."""
    files = [out / "grades.csv", *sorted(out.glob("feedback/*.html")), *sorted(out.glob("results/*/results.json"))]
    return "\n".join(path.read_text() for path in [*files, out / ".mtl-grade" / "journal.jsonl"])


def test_no_secret_of_the_graders_environment_reaches_a_kernel(batch):
    # Issue 22, class 1: the batch ran with an instructor's token and key in its environment. cheat_environment
    # searched its environment, every /proc/*/environ and its own stack (a forked kernel starts with its parent's
    # memory): a find would have cost it step 1 (its grade is checked above) and printed them.
    assert "cheat_environment: no secret in" in _results(batch.out, "cheat_environment")["output"]
    seen = _outputs(batch.out) + batch.done.stdout + batch.done.stderr
    for value in SECRETS.values():
        assert value not in seen


def test_what_a_kernel_leaves_behind_is_never_followed_and_always_removed(batch):
    # Issue 22, classes 2 and 3: cheat_leftovers planted links to PLANTED_TARGET where the grader makes its next
    # run's folders, and a folder chain 1500 deep with a FIFO, links and locked folders. The grader made no folder
    # through a link, removed everything (no recursion, nothing fatal) and the batch ended normally.
    assert batch.done.returncode == 0
    assert not list(PLANTED_TARGET.iterdir()), "the grader wrote where a kernel's link pointed"
    scratch = Path((batch.out / ".mtl-grade" / "scratch-path").read_text())
    assert not scratch.exists() and "could not remove" not in batch.done.stderr


def test_no_text_of_a_kernel_that_held_hidden_tests_or_the_answer_key_reaches_a_student(batch):
    # Issue 22, class 4: cheat_history raised the answer key rot13-encoded from a rerun's kernel (which held it)
    # and every run's hidden tests; cheat_leak quoted its input history. No line of the source's hidden tests or
    # solutions that a student did not write themselves reaches their feedback, plain or rot13-encoded.
    import codecs

    from mtl_teach.grading.cells import hidden_lines

    secret = hidden_lines(nbformat.read(SOURCE, as_version=4))
    assert any("LongTensor(Y_train)" in line for line in secret) and any(line.startswith("assert") for line in secret)
    for student in EXPECTED:
        submitted = (SUBMISSIONS / f"{student}.ipynb").read_text(errors="replace")
        shown = (batch.out / "feedback" / f"{student}.html").read_text() + json.dumps(_results(batch.out, student))
        shown = html.unescape(shown)
        for line in secret:
            if json.dumps(line)[1:-1] in submitted:  # the student's own code
                continue
            assert line not in shown and codecs.encode(line, "rot13") not in shown, (student, line)
    # the rerun's verdict is the grader's own, with the first run's check message (the kernel that held nothing)
    training = _results(batch.out, "cheat_history")["tests"][3]["output"]
    assert "the mistake is in this step.) On your own earlier steps the check said: accuracy on fresh data" in training


def test_output_is_capped_per_cell_and_for_the_whole_notebook(tmp_path):
    # A real kernel, no torch: each cell's output is kept up to 10 kB, the notebook's up to 25 kB.
    (tmp_path / "work").mkdir()
    (tmp_path / "private").mkdir()
    sources = [
        'print("a" * 4_000)',
        'for _ in range(100):\n    print("b" * 1_000)',
        *['print("c" * 8_000)'] * 5,
    ]
    limits = Limits(cell_timeout=15, notebook_timeout=60, output_bytes=10_000, notebook_output_bytes=25_000)
    runs = run_cells(sources, tmp_path / "work", tmp_path / "private", limits)
    assert [run.status for run in runs] == ["ok"] * len(sources), runs
    assert runs[0].dropped == 0
    assert runs[1].dropped >= 90_000  # over the cell's cap
    assert runs[2].dropped == 0  # under both caps: at most 4 + 10 + 8 kB kept so far
    assert runs[-1].dropped >= 8_000  # under the cell's cap, over the notebook's


def test_display_updates_count_against_the_output_caps(tmp_path):
    # update_display replaces earlier outputs in place, outside nbclient's output(): 300 small displays
    # each updated to 100 kB would keep 30 MB. Beyond the caps the updates are dropped and counted.
    (tmp_path / "work").mkdir()
    (tmp_path / "private").mkdir()
    source = (
        "from IPython.display import display, update_display\n"
        "for i in range(300):\n    display({'text/plain': 'x'}, raw=True, display_id=f'd{i}')\n"
        "for i in range(300):\n    update_display({'text/plain': 'y' * 100_000}, raw=True, display_id=f'd{i}')"
    )
    limits = Limits(cell_timeout=30, notebook_timeout=60, output_bytes=50_000, notebook_output_bytes=80_000)
    runs = run_cells([source, "print(1)"], tmp_path / "work", tmp_path / "private", limits)
    assert [run.status for run in runs] == ["ok", "ok"], runs
    assert runs[0].dropped >= 299 * 100_000  # every update: even the first is over the 50 kB cap


def test_a_cell_that_swallows_the_interrupt_stops_the_rest_at_once(tmp_path):
    # Without the check, each later cell queued behind the busy kernel and waited out its own limit
    # (its status was a TimeoutError too); now they are not run, and say why.
    from mtl_teach.grading.kernel import STUCK

    (tmp_path / "work").mkdir()
    (tmp_path / "private").mkdir()
    stuck = "import time\nwhile True:\n    try:\n        time.sleep(0.2)\n    except KeyboardInterrupt:\n        pass"
    interruptible = "while True:\n    pass"
    limits = Limits(cell_timeout=3, notebook_timeout=120)
    sources = ["x = 1", interruptible, "x += 1", stuck, "x += 1", "x += 1"]
    runs = run_cells(sources, tmp_path / "work", tmp_path / "private", limits)
    assert [run.status for run in runs] == ["ok", "error", "ok", "error", "not_run", "not_run"], runs
    assert runs[1].reason.startswith("TimeoutError") and runs[3].reason.startswith("TimeoutError")
    assert runs[4].reason == runs[5].reason == STUCK


@pytest.mark.parametrize(
    "writes",
    [
        "for i in range(200):\n    open(f'{answers}/f{i}', 'wb').write(b'x' * 2**20)\n    time.sleep(0.01)",
        "for i in range(100_000):\n    os.mkdir(f'{answers}/d{i}')",
    ],
    ids=["bytes", "files"],
)
def test_a_kernel_filling_the_graders_disk_is_stopped(tmp_path, writes):
    # The answers folder is on the grader's disk: RLIMIT_FSIZE caps one file, not how many.
    from mtl_teach.grading.sandbox import probe

    work, private, answers = (tmp_path / name for name in ("work", "private", "answers"))
    for folder in (work, private, answers):
        folder.mkdir()
    source = "import os, time\n" + writes.replace("{answers}", str(answers))
    limits = Limits(cell_timeout=60, notebook_timeout=120, disk_mb=16, disk_files=500)
    runs = run_cells(["x = 1", source, "x += 1"], work, private, limits, writable=(answers,), bwrap=probe())
    over = "the kernel was stopped: it wrote over 16 MiB or 500 files to the grader's disk"
    assert [(run.status, run.reason) for run in runs] == [("ok", ""), ("dead", over), ("not_run", over)], runs
    assert len(list(answers.iterdir())) < (100 if "open" in writes else 50_000)  # stopped long before the end


def _description(tmp_path, X, Y, modules=()):
    import torch

    from mtl_teach.grading.in_sandbox.export import FORMAT

    loader = {"kind": "loader", "name": "d", "split": "train", "batch_size": 32, "X": X, "Y": Y}
    path = tmp_path / "answers.pt"
    torch.save({"format": FORMAT, "modules": list(modules), "values": {"inv_dataloader": loader}}, path)
    return path


def test_the_grader_refuses_answers_that_claim_more_data_than_they_hold(tmp_path):
    # A 1.5 kB file can hold a view of 10**8 points (stride 0): the grader's checks would allocate
    # gigabytes and loop for minutes on it. Every tensor must hold the bytes its shape claims.
    import torch

    from mtl_teach.grading.from_kernel.rebuild import MAX_TENSOR_BYTES, RebuildError, rebuild

    n = 10**8
    path = _description(
        tmp_path,
        {"inv_circle_data": torch.zeros(1, 2).expand(n, 2)},
        {"inv_circle_task": torch.zeros(1, dtype=torch.long).expand(n)},
    )
    assert path.stat().st_size < 3_000
    with pytest.raises(
        RebuildError, match=r"X_dict\['inv_circle_data'\] claims 800,000,000 bytes but holds 8 \(an expanded"
    ):
        rebuild(path, ("inv_dataloader",))
    # Each tensor real, but one 24 MB storage saved once and used 4 times: the total counts what the shapes claim.
    storage = torch.zeros(3 * 2**20, 2)
    X = {f"x{i}": storage for i in range(4)}
    path = _description(tmp_path, X, {"inv_circle_task": torch.zeros(1, dtype=torch.long).expand(3 * 2**20)})
    assert path.stat().st_size < 30 * 2**20
    with pytest.raises(RebuildError, match=f"over {MAX_TENSOR_BYTES:,} bytes"):
        rebuild(path, ("inv_dataloader",))
    # The honest answer still rebuilds.
    path = _description(
        tmp_path, {"inv_circle_data": torch.rand(800, 2)}, {"inv_circle_task": torch.zeros(800, dtype=torch.long)}
    )
    (loader,) = rebuild(path, ("inv_dataloader",))
    assert len(loader.dataset) == 800


def test_the_grader_refuses_layers_too_wide_to_check(tmp_path):
    # Linear(2, 5_000_000) stays under the parameter cap but its activations would take gigabytes.
    import torch

    from mtl_teach.grading.from_kernel.rebuild import RebuildError, rebuild

    wide = {"type": "Linear", "args": {"in_features": 2, "out_features": 5_000_000, "bias": True}, "state": {}}
    path = tmp_path / "wide.pt"
    from mtl_teach.grading.in_sandbox.export import FORMAT

    torch.save({"format": FORMAT, "modules": [wide], "values": {"base_mlp": {"kind": "module", "index": 0}}}, path)
    with pytest.raises(
        RebuildError, match=r"nn.Linear\(2, 5000000\) cannot be graded: in and out features must be 1 to 4096"
    ):
        rebuild(path, ("base_mlp",))


def test_the_graders_own_check_stops_at_its_time_limit():
    from mtl_teach.grading.submission import CheckTimeout, time_limit

    started = time.monotonic()
    with pytest.raises(CheckTimeout), time_limit(0.3):
        while True:
            pass
    assert time.monotonic() - started < 30
    with time_limit(5):  # a block that ends in time is untouched, and the timer is cleared after it
        total = sum(range(1000))
    time.sleep(0.1)
    assert total == 499500


@pytest.fixture(scope="module")
def slow_batch(tmp_path_factory):
    """Submissions graded with a short --notebook-timeout of 20 s, three at a time (they mostly sleep).

    slow_cells adds five cells after check_model, each sleeping 5 s: every one is well under --timeout,
    together (25 s) they run over. slow_every_step makes every step wrong and slow, so each later step would
    be rerun on its own. sabotaged_reference breaks what the answer key of step 2 needs, so the rerun finds
    the reference failing: a grader fault. perfect, graded beside them, is unaffected: it needs 4 s (7 s with
    ATEN_CPU_CAPABILITY=default), and the limit leaves it room on a loaded 2-core machine (a limit of 8 s next
    to 3 s sleeps ran out under load).
    """
    out = tmp_path_factory.mktemp("slow") / "grades"
    names = ["slow_cells", "slow_every_step", "sabotaged_reference"]
    paths = [*(SUBMISSIONS / "slow" / f"{name}.ipynb" for name in names), SUBMISSIONS / "perfect.ipynb"]
    done = _grade(*paths, "--out", out, "--jobs", "3", *LIMITS, "--notebook-timeout", "20")
    records = {r["student"]: r for r in map(json.loads, _journal_lines(out))}
    return SimpleNamespace(out=out, done=done, records=records)


def test_the_notebook_time_limit_stops_a_slow_notebook_and_keeps_what_it_earned(slow_batch):
    out, done = slow_batch.out, slow_batch.done
    assert "slow_cells: 7/10" in done.stdout and "perfect: 10/10" in done.stdout, done.stdout + done.stderr
    slow = _results(out, "slow_cells")
    assert [t["score"] for t in slow["tests"]] == [2, 3, 2, 0]
    assert slow["tests"][3]["output"] == "did not run: not run: the notebook used up its time limit of 20 s"
    hit = "the notebook time limit of 20 s was hit in one of your cells: it and the"
    assert re.search(rf"{hit} [3-7] cells after it were stopped or did not run; points earned", slow["output"])
    interrupted = "TimeoutError: the notebook ran over its time limit of 20 s in this cell, which was interrupted"
    assert interrupted in slow["output"]
    assert html.escape(hit) in (out / "feedback" / "slow_cells.html").read_text()
    assert slow_batch.records["slow_cells"]["seconds"] < 26  # stopped: its cells alone would sleep 25 s
    perfect = _results(out, "perfect")
    written = "your written answer ('written_boundaries') is not autograded: your instructor reads it."
    assert perfect["score"] == 10 and perfect["output"] == f"Score 10/10: 4 of 4 steps passed.\n{written}"


def test_a_submission_gets_one_time_budget_reruns_included_and_running_out_is_never_a_grader_fault(slow_batch):
    # Issue 22, class 6: every step of slow_every_step is wrong and sleeps 6 s. Before, each later step was rerun
    # on its own, each rerun with the whole notebook limit again (4 runs x 20 s here, 4 x 600 s at the defaults),
    # and the batch then gave up on the worker: a grader failure, graded again by every --resume.
    record = slow_batch.records["slow_every_step"]
    assert not record["grader_failed"] and "slow_every_step: 0/10" in slow_batch.done.stdout
    assert record["seconds"] < 20 + 12  # one budget of 20 s (the grader's own checks of the first run on top)
    budget = "(It could not be graded on its own: the submission's time limit of 20 s, its reruns included, ran out"
    tests = _results(slow_batch.out, "slow_every_step")["tests"]
    assert [budget in test["output"] for test in tests] == [False, True, True, True], tests


def test_a_grader_fault_is_not_scored_and_grade_exits_non_zero_naming_it(slow_batch):
    # Issue 22, section 2: the answer key of step 2 failed in the rerun that grades step 3 on its own (the
    # student's step 1 broke what it needs). The grader cannot grade it: no score, not a 0.
    out, done = slow_batch.out, slow_batch.done
    assert done.returncode == 1, done.stderr[-2000:]
    fault = "the reference answer for 'Step 2: the task' did not pass when it was run to grade a later step on its own"
    assert f"sabotaged_reference: not graded (the grader failed on it: {fault})" in done.stdout
    assert "the grader failed on 1 submission (sabotaged_reference): they are not graded (not a 0" in done.stderr
    row = next(r for r in _rows(out) if r["student"] == "sabotaged_reference")
    assert row["total"] == "" and all(row[item] == "" for item in ITEMS)
    assert not (out / "results" / "sabotaged_reference" / "results.json").exists()  # nothing for Gradescope to take
    page = (out / "feedback" / "sabotaged_reference.html").read_text()
    assert "Not graded yet: the grader failed on your submission" in page and "Score:" not in page
    assert slow_batch.records["sabotaged_reference"]["fault"] == fault
    # the others of the batch are graded as usual
    assert {r["student"]: r["total"] for r in _rows(out)}["perfect"] == "10"


def test_no_sandbox_grades_anyway_says_so_and_still_drops_what_a_kernel_wrote(tmp_path):
    # Without the sandbox cheat_output_folder does reach the folder: its files are rebuilt, its journal line dropped.
    out = tmp_path / "grades"
    paths = [SUBMISSIONS / "cheat_output_folder.ipynb", SUBMISSIONS / "perfect.ipynb"]
    done = _grade(*paths, "--out", out, "--jobs", "1", "--no-sandbox", *LIMITS)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "lines not written by the grader were removed from the journal" in done.stderr
    assert _journal_students(out) == ["cheat_output_folder", "perfect"]
    assert [(r["student"], r["total"], r["sandboxed"]) for r in _rows(out)] == [
        ("cheat_output_folder", "2", "no"),
        ("perfect", "10", "no"),
    ]
    note = "graded without a sandbox (--no-sandbox): your code ran with the grader's permissions."
    assert note in _results(out, "perfect")["output"]
    assert html.escape(note) in (out / "feedback" / "perfect.html").read_text()
    # A later --resume with the sandbox on grades them again: the records say how they were graded.
    again = _grade(*paths, "--out", out, "--resume", "--jobs", "1", *LIMITS)
    assert "graded 2, skipped 0 already graded" in again.stdout, again.stdout + again.stderr
    assert [r["sandboxed"] for r in _rows(out)] == ["yes", "yes"]


@pytest.mark.parametrize(
    ("bwrap", "cause"),
    [("/nonexistent/bwrap", "could not be run"), ("/bin/false", "failed to start a sandbox")],
    ids=["missing", "refused"],
)
def test_grade_stops_with_the_cause_and_the_fix_when_no_sandbox_can_start(tmp_path, bwrap, cause):
    env = {**ENV, "MTL_TEACH_BWRAP": bwrap}
    command = [sys.executable, "-m", "mtl_teach", "grade", str(SUBMISSIONS / "perfect.ipynb"), "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "grade runs each kernel in a bubblewrap sandbox, which cannot start here; got " in done.stderr
    assert cause in done.stderr and "--no-sandbox" in done.stderr, done.stderr
    assert not (tmp_path / "grades.csv").exists()


def test_the_batch_grades_through_the_fork_server(batch):
    # Its note would say the kernels fell back to one bwrap each (slower, same sandbox).
    assert "without the fork server" not in batch.done.stderr, batch.done.stderr[-2000:]


def test_without_the_fork_server_each_kernel_gets_its_own_sandbox_and_the_same_grades(tmp_path):
    names = ["perfect", "cheat_escape", "cheat_neighbours"]
    command = [sys.executable, "-m", "mtl_teach", "grade", *(str(SUBMISSIONS / f"{n}.ipynb") for n in names)]
    command += ["--out", str(tmp_path / "grades"), "--jobs", "2", *LIMITS]
    env = {**ENV, "MTL_TEACH_FORK_SERVER": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {r["student"]: int(r["total"]) for r in _rows(tmp_path / "grades")} == {
        n: EXPECTED[n]["total"] for n in names
    }


def test_the_journal_holds_only_the_graders_own_records(batch):
    # cheat_daemon looked for the grader to append forged 10/10 records for everyone.
    assert sorted(_journal_students(batch.out)) == sorted(EXPECTED)


def _hostile_scratch(out: Path) -> tuple[Path, Path]:
    """A scratch folder as a killed batch could leave it: a folder chain 1500 deep, locked folders, a FIFO, a link."""
    scratch = Path(tempfile.mkdtemp(prefix="mtl-grade-batch-"))
    outside = scratch.parent / f"{scratch.name}-outside"  # a link's target: removal must not follow the link
    outside.mkdir()
    (outside / "keep").write_text("not the grader's to remove")
    here = os.getcwd()
    try:
        os.chdir(scratch)
        for depth in range(1500):
            os.mkdir("d")
            os.chdir("d")
            if depth == 700:
                os.mkfifo("pipe")
                os.symlink(outside, "link")
    finally:
        os.chdir(here)
    os.chmod(scratch / "d" / "d", 0o000)
    os.chmod(scratch / "d", 0o500)
    (out / ".mtl-grade" / "scratch-path").write_text(str(scratch))
    return scratch, outside


def test_resume_regrades_what_changed_says_so_and_always_recovers(batch, tmp_path):
    out, folder = tmp_path / "grades", tmp_path / "in"
    shutil.copytree(batch.out, out)
    lines = _journal_lines(out)
    # Issue 22, class 3: the killed run left a tree no recursive removal survives (Python's stack, the batch's
    # final rmtree and every --resume after it died on one); it is removed, nothing it links to is.
    scratch, outside = _hostile_scratch(out)
    # Issue 22, section 2: a submission whose file changed since it was graded is graded again, and the change said.
    folder.mkdir()
    paths = [p for p in sorted(SUBMISSIONS.glob("*.ipynb")) if p.stem != "perfect"]
    shutil.copy(SUBMISSIONS / "stub.ipynb", folder / "perfect.ipynb")
    done = _grade(*paths, folder / "perfect.ipynb", "--out", out, "--resume", "--jobs", "2", *LIMITS)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"graded 1, skipped {len(EXPECTED) - 1} already graded" in done.stdout
    assert "perfect: 0/10 (was 10/10: the file changed since it was graded)" in done.stdout
    assert "1 grade changed: perfect 10/10 -> 0/10" in done.stdout
    assert _journal_lines(out)[: len(lines)] == lines and len(_journal_lines(out)) == len(lines) + 1
    assert {r["student"]: r["total"] for r in _rows(out)}["perfect"] == "0"
    assert not scratch.exists() and (outside / "keep").read_text()
    left = Path((out / ".mtl-grade" / "scratch-path").read_text())
    assert not left.exists()
    shutil.rmtree(outside)


def test_resume_continues_an_interrupted_batch(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "grades"
    folder.mkdir()
    for stem, name in (("a_first", "empty"), ("b_second", "stub"), ("c_third", "invalid_json")):
        shutil.copy(SUBMISSIONS / f"{name}.ipynb", folder / f"{stem}.ipynb")
    paths = sorted(folder.glob("*.ipynb"))
    command = [sys.executable, "-m", "mtl_teach", "grade", *map(str, paths), "--out", str(out), "--jobs", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=ENV, start_new_session=True)
    first = process.stdout.readline()
    os.killpg(process.pid, signal.SIGKILL)  # interrupted while the second submission is being graded
    process.wait()
    process.stdout.close()
    assert first == "a_first: 0/10\n"
    assert _journal_students(out) == ["a_first"]
    scratch = Path((out / ".mtl-grade" / "scratch-path").read_text())
    assert scratch.is_dir()  # kill -9 left it (with b_second's folder, if its grading had begun)
    done = _grade(*paths, "--out", out, "--resume", "--jobs", "1", *LIMITS)
    assert not scratch.exists()  # the resumed batch removed what the killed one left
    assert not Path((out / ".mtl-grade" / "scratch-path").read_text()).exists()  # and its own
    assert done.returncode == 0, done.stderr[-2000:]
    assert "a_first" not in done.stdout.split("graded ")[0]
    assert "graded 2, skipped 1 already graded" in done.stdout
    assert sorted(_journal_students(out)) == ["a_first", "b_second", "c_third"]
    assert [r["student"] for r in _rows(out)] == ["a_first", "b_second", "c_third"]
    assert _results(out, "b_second")["tests"][0]["output"].startswith("not attempted: inv_dataloader is still None")


def test_assignment_comes_from_the_metadata_unless_named(tmp_path, capsys):
    untagged = SUBMISSIONS / "untagged.ipynb"  # no metadata at all: the grader cannot tell the assignment
    with pytest.raises(SystemExit) as exit_:
        cli(["grade", str(untagged), "--out", str(tmp_path / "a")])
    assert exit_.value.code == 2
    assert "grade --assignment is needed: no submission names a known assignment" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    done = _grade(untagged, "--out", tmp_path / "b", "--assignment", "04_your_turn", "--jobs", "1", *LIMITS)
    assert done.returncode == 0, done.stderr[-2000:]
    results = _results(tmp_path / "b", "untagged")
    assert results["score"] == 10 and results["extra_data"]["assignment"] == "04_your_turn"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope.ipynb"], "grade SUBMISSION must be an existing file; got 'nope.ipynb'. Fix: check the path."),
        ([str(SUBMISSIONS / "stub.ipynb"), "--jobs", "0"], "grade --jobs must be > 0; got 0"),
        ([str(SUBMISSIONS / "stub.ipynb"), "--timeout", "-1"], "grade --timeout must be > 0; got -1.0. Fix: pass e.g."),
        ([str(SUBMISSIONS / "stub.ipynb"), "--memory-mb", "0"], "grade --memory-mb must be > 0; got 0"),
        ([str(SUBMISSIONS / "stub.ipynb"), "--assignment", "05_x"], "--assignment must name a known assignment"),
        (
            [str(SUBMISSIONS / "stub.ipynb"), "--assignment", "04_your_turn", "--source", "nope.ipynb"],
            "--source must be the assignment's source notebook; got 'nope.ipynb'",
        ),
        (["--jobs", "two", str(SUBMISSIONS / "stub.ipynb")], "argument --jobs: invalid int value: 'two'"),
    ],
    ids=["missing-file", "jobs", "timeout", "memory", "assignment", "source", "not-a-number"],
)
def test_bad_grade_arguments_fail_clearly_and_write_nothing(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        cli(["grade", *args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_duplicate_student_names_are_refused(tmp_path, capsys):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(SUBMISSIONS / "stub.ipynb", tmp_path / folder / "ana.ipynb")
    with pytest.raises(SystemExit):
        cli(
            [
                "grade",
                str(tmp_path / "a" / "ana.ipynb"),
                str(tmp_path / "b" / "ana.ipynb"),
                "--out",
                str(tmp_path / "o"),
            ]
        )
    assert "file stems name the students, so they must be unique; got ['ana']" in capsys.readouterr().err


def test_an_existing_batch_is_never_overwritten_without_resume(batch, capsys):
    before = _hashes(batch.out)
    with pytest.raises(SystemExit) as exit_:
        cli(["grade", str(SUBMISSIONS / "stub.ipynb"), "--out", str(batch.out)])
    assert exit_.value.code == 2
    assert "grade --out already holds grades, which a new run would overwrite" in capsys.readouterr().err
    assert _hashes(batch.out) == before


# --- release: one source, two versions ------------------------------------------------------------------


def test_the_committed_student_copies_match_a_fresh_release():
    copies = sorted((ROOT / "notebooks" / "student").glob("*.ipynb"))
    assert copies, "no committed student copies"
    for copy in copies:
        source = ROOT / "notebooks" / copy.name
        assert source.is_file(), f"{copy} has no source notebook"
        assert copy.read_text(encoding="utf-8") == released_text(source, out=copy.parent), (
            f"{copy} drifted from its source: run python -m mtl_teach release {source.relative_to(ROOT)} "
            "--out notebooks/student"
        )


def test_release_stubs_solutions_drops_hidden_tests_and_outputs_and_stamps_the_assignment(tmp_path, capsys):
    assert cli(["release", str(SOURCE), "--out", str(tmp_path), "--assignment", "hw4"]) == 0
    out, err = capsys.readouterr()
    assert f"wrote {tmp_path / SOURCE.name}" in out
    # tmp_path is outside the repository: no Colab address opens the copy, so its badge goes
    # (it would open the source, solutions included). tests/test_links.py releases inside one.
    assert "removed the Open in Colab badge" in err, err
    student = nbformat.read(tmp_path / SOURCE.name, as_version=4)
    source = nbformat.read(SOURCE, as_version=4)
    assert student.metadata["mtl_teach"] == {"assignment": "hw4"}
    assert [c.metadata["nbgrader"] for c in student.cells] == [c.metadata["nbgrader"] for c in source.cells]
    assert not any("execution" in c.metadata for c in student.cells)
    for cell, original in zip(student.cells, source.cells, strict=True):
        assert "### BEGIN" not in cell.source and "### END" not in cell.source
        if cell.cell_type != "code":
            if cell.metadata["nbgrader"]["solution"]:  # a written answer: the model answer is the instructor's
                assert cell.source == "YOUR ANSWER HERE" != original.source
            else:
                assert cell.source == re.sub(r"\[!\[Open In Colab\]\(.*\)\n\n", "", original.source)
            continue
        assert cell.outputs == [] and cell.execution_count is None
        meta = cell.metadata["nbgrader"]
        if meta["solution"]:
            assert STUB in cell.source and "Task(" not in cell.source and "fit(" not in cell.source
        if "### BEGIN HIDDEN TESTS" in original.source:
            assert "assert" not in cell.source and cell.source.startswith("q.")
    assert any(c.outputs for c in source.cells if c.cell_type == "code")  # the source's outputs were cleared


def test_release_never_overwrites_the_source_or_someones_work(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli(["release", str(SOURCE), "--out", str(SOURCE.parent)])
    assert "release --out must differ from the source's folder" in capsys.readouterr().err
    worked = tmp_path / SOURCE.name
    shutil.copy(SOURCE, worked)  # a notebook with outputs: someone ran it
    assert cli(["release", str(SOURCE), "--out", str(tmp_path)]) == 1
    assert "it has outputs, so it may be someone's work" in capsys.readouterr().err
    assert worked.read_bytes() == SOURCE.read_bytes()


def test_the_source_carries_nbgrader_schema_3_metadata():
    notebook = nbformat.read(SOURCE, as_version=4)
    ids = []
    for cell in notebook.cells:
        meta = cell.metadata["nbgrader"]
        assert meta["schema_version"] == 3
        assert re.fullmatch(r"[a-zA-Z0-9_\-]+", meta["grade_id"])
        assert all(isinstance(meta[k], bool) for k in ("grade", "solution", "locked"))
        ids.append(meta["grade_id"])
        if cell.cell_type == "markdown" and meta["solution"]:
            # A written answer: nbgrader's "manually graded answer", worth no autograded points.
            assert meta["grade"] and not meta["locked"] and meta["points"] == 0
            continue
        solution = "### BEGIN SOLUTION" in cell.source
        assert meta["solution"] == solution and solution == ("### END SOLUTION" in cell.source)
        if meta["solution"]:
            assert cell.cell_type == "code" and not meta["locked"] and not meta["grade"]
        else:
            assert meta["locked"]
        if meta["grade"]:
            assert isinstance(meta["points"], int | float) and meta["points"] > 0
            assert "### BEGIN HIDDEN TESTS" in cell.source and "### END HIDDEN TESTS" in cell.source
        else:
            assert "points" not in meta and "HIDDEN TESTS" not in cell.source
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    graded = {
        m["grade_id"]: m["points"]
        for m in (c.metadata["nbgrader"] for c in notebook.cells)
        if m["grade"] and m["points"]
    }
    assert graded == POINTS


def test_the_answer_export_keeps_the_shared_trunk_shared(tmp_path):
    # check_task grades (inv_circle_task, base_mlp): the rebuilt task must hold the rebuilt base_mlp
    # itself when the student shared it, and a different module when they built a new one.
    from torch import nn

    from mtl_teach import Operation, Task
    from mtl_teach.grading.from_kernel.rebuild import rebuild
    from mtl_teach.grading.in_sandbox.export import export

    def task(trunk: nn.Module) -> Task:
        pool = nn.ModuleDict({"base_mlp": trunk, "inv_circle_head": nn.Linear(4, 2)})
        ops = [Operation("base_mlp", [("_input_", "inv_circle_data")]), Operation("inv_circle_head", [("base_mlp", 0)])]
        return Task(name="inv_circle_task", module_pool=pool, op_sequence=ops)

    base = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())
    for trunk, shared in ((base, True), (nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU()), False)):
        path = tmp_path / f"{shared}.pt"
        export(str(path), {"inv_circle_task": task(trunk), "base_mlp": base}, ["inv_circle_task", "base_mlp"])
        rebuilt_task, rebuilt_base = rebuild(path, ("inv_circle_task", "base_mlp"))
        assert isinstance(rebuilt_base, nn.Sequential)
        assert (rebuilt_task.module_pool["base_mlp"] is rebuilt_base) is shared


def test_a_record_reads_back_from_its_journal_line_and_old_lines_still_read():
    from mtl_teach.grading.cells import step_titles
    from mtl_teach.grading.record import Item, Record

    items = (
        Item.scored("check_task", 3, "passed", "ok"),
        Item.scored(
            "check_model",
            2,
            "failed",
            "no",
        ),
    )
    record = Record("ada", "/s/ada.ipynb", "04_your_turn", "ab" * 32, items, notes=("a note",), sandbox=False)
    assert (record.total, record.max_score, items[1].points) == (3, 5, 0)
    assert Record.from_json(record.to_json()) == record
    assert repr(record) == "Record('ada', 3/5, 2 items)"
    # a step graded on its own keeps, through the journal, the steps whose reference answers it ran on
    alone = Item("check_model", 2, 2, "passed", "ok", "Step 3: the model", ("Step 2: the task",))
    graded_alone = Record("bo", "/s/bo.ipynb", "04_your_turn", "cd" * 32, (alone,))
    assert Record.from_json(graded_alone.to_json()).items == (alone,)
    old = json.loads(record.to_json())
    del old["sandbox"], old["errors"], old["limits"]  # a line from before those fields
    signed = json.dumps({"record": json.dumps(old), "sig": "0" * 64})  # and from when lines were signed
    assert Record.from_json(signed) == record
    for foreign in ("", "{", "[]", '{"student": 1}', json.dumps({**old, "items": [{"grade_id": "x"}]})):
        assert Record.from_json(foreign) is None, foreign
    assert step_titles(nbformat.read(SOURCE, as_version=4)) == TITLES
