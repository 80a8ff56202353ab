"""The grader's trust boundary and its own failures (issue 22), each shown with real kernels or the real CLI.

The attacks graded in the committed batch (``cheat_environment``,
``cheat_leftovers``, ``cheat_history``, ``cheat_messages``,
``cheat_lookup_table``) are checked in ``tests/test_grading.py``, which
grades that batch once; the fork server's signals and ``/dev`` in
``tests/test_sandbox.py``; the layout in ``tests/test_trust_boundary.py``.
Here: what needs a batch or a process of its own. Most of these runs start
no kernel at all (files that are no notebook, arguments refused up front).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch

from mtl_teach.cli import main as cli
from mtl_teach.grading.from_kernel.fs import Folder
from mtl_teach.grading.from_kernel.rebuild import MAX_TENSOR_BYTES, RebuildError, rebuild
from mtl_teach.grading.in_sandbox.export import FORMAT

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"
LIMITS = ["--timeout", "15", "--memory-mb", "1536"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _grade(*args: object, cwd: Path = ROOT, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "mtl_teach", "grade", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=600, cwd=cwd)


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


# --- what a kernel sends: messages (classes 7 and 10) -------------------------------------------------------

MESSAGES = """
from IPython import get_ipython
from IPython.display import display

kernel = get_ipython().kernel
session, iopub, parent = kernel.session, kernel.iopub_socket, kernel.get_parent()
session.send(iopub, "execute_result", {"data": {"text/plain": "x"}, "metadata": []}, parent=parent)
session.send(iopub, "clear_output", "not a mapping", parent=parent)
display({"text/plain": "y" * 100_000_000}, raw=True)
"""

# Runs in a process of its own, so its peak memory is this run's alone.
RUN_AND_MEASURE = f"""
import json, resource, sys, tempfile
from pathlib import Path
from mtl_teach.grading.kernel import Limits, run_cells
from mtl_teach.grading.sandbox import probe

folder = Path(tempfile.mkdtemp())
(folder / "work").mkdir(), (folder / "private").mkdir()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
runs = run_cells([{MESSAGES!r}, "print(1)", "x = 1"], folder / "work", folder / "private",
                 Limits(cell_timeout=60, notebook_timeout=120), bwrap=probe())
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({{"runs": [[r.status, r.reason, r.rejected] for r in runs], "grown_mb": grown / 1024}}))
"""


def test_what_a_kernel_sends_is_capped_as_it_arrives_and_a_malformed_message_is_the_kernels_doing():
    # Before: a malformed message raised inside nbclient (KeyError: 'data') and was reported as "the grader's
    # kernel failed"; a 100 MB display was received and copied whole by the grader (several times its size).
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_MEASURE], capture_output=True, text=True, env=ENV, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.splitlines()[-1])
    assert [status for status, _, _ in said["runs"]] == ["ok", "ok", "ok"], said
    assert said["runs"][0][2] == 2  # the two malformed messages, dropped and counted against this cell
    assert said["grown_mb"] < 60, said  # the 100 MB frame was refused as it arrived, never received


def _torch_archive(value: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _rewritten(data: bytes, change) -> bytes:
    """``data`` (a torch.save archive) with each member passed through ``change(name, bytes, info)``."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            name, payload, compress = change(info.filename, source.read(info), info.compress_type)
            target.writestr(zipfile.ZipInfo(name), payload, compress_type=compress)
    return out.getvalue()


def test_answer_files_are_checked_before_torch_decodes_them(tmp_path):
    # Issue 22, class 7: what torch.load would allocate is bounded by the file itself. A deflated member
    # expands (1 MB -> 1 GB), and a storage may claim more elements than its member holds (torch allocates the
    # claim first). Issue 22, class 2: a link or a FIFO in place of the answers is never followed or opened.
    import resource

    description = {"format": FORMAT, "modules": [], "values": {"x": {"kind": "other", "type": "int"}}}
    honest = _torch_archive({**description, "t": torch.zeros(4)})
    bomb = _rewritten(
        honest,
        lambda name, payload, kind: (name, b"\0" * 2**30 if name.endswith("data/0") else payload, zipfile.ZIP_DEFLATED),
    )

    def claim_more(name, payload, kind):  # the pickle's element count of storage 0 (after its location): 4 -> 2**30
        return name, re.sub(rb"(cpuq.)K\x04t", lambda m: m.group(1) + b"J\0\0\0\x40t", payload, flags=re.S), kind

    claims = _rewritten(honest, claim_more)
    assert claims != honest and len(bomb) < 2 * 2**20
    folder = Folder.open(tmp_path)
    (tmp_path / "honest.pt").write_bytes(honest)
    (tmp_path / "bomb.pt").write_bytes(bomb)
    (tmp_path / "claims.pt").write_bytes(claims)
    os.symlink(tmp_path / "honest.pt", tmp_path / "link.pt")
    os.mkfifo(tmp_path / "fifo.pt")  # opened for reading, it would block the grader forever
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rebuild(folder, ("x",), "honest.pt")[0].__class__.__name__ == "int"
    refusals = {
        "bomb.pt": "the saved answers are compressed, which torch.save never does",
        "claims.pt": f"declare a storage of {4 * 2**30:,} bytes that holds 16",
        "link.pt": "the answers file was replaced (by a link, a folder or a pipe): the grader reads none",
        "fifo.pt": "the answers file was replaced (by a link, a folder or a pipe): the grader reads none",
    }
    for name, message in refusals.items():
        with pytest.raises(RebuildError, match=re.escape(message)):
            rebuild(folder, ("x",), name)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 200  # nothing was expanded
    assert MAX_TENSOR_BYTES == 64 * 2**20


def test_the_grading_worker_has_a_memory_limit_of_its_own():
    # The last line behind the caps above: whatever a kernel sends, a worker cannot take the machine's memory.
    from mtl_teach.grading.worker import MEMORY_MB, WorkerProcess

    worker = WorkerProcess()
    worker.start()
    try:
        limits = Path(f"/proc/{worker.process.pid}/limits").read_text()
    finally:
        worker.close()
    line = next(line for line in limits.splitlines() if line.startswith("Max address space"))
    assert line.split()[3] == str(MEMORY_MB * 2**20), line


# --- names, file types, assignments (class 8, section 2) -----------------------------------------------------


def test_file_names_reach_the_terminal_escaped_and_the_outputs_in_safe_folders(tmp_path):
    # Issue 22, class 8: an ANSI escape in a student's file name cleared the terminal, a newline faked a grade
    # line, and a file named "...ipynb" (student "..") wrote outside results/<student>/. These files are no
    # notebooks: they are graded without a kernel (and without a canary).
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    names = ["bob\x1b[2J\x1b[H", "eve\nmallory: 10\u221510", "..", "zoë smith"]  # U+2215 looks like "/"
    for name in names:
        shutil.copy(SUBMISSIONS / "empty.ipynb", folder / f"{name}.ipynb")
    done = _grade(*(folder / f"{name}.ipynb" for name in names), "--out", out, "--assignment", "04_your_turn")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "\x1b" not in done.stdout + done.stderr
    assert "bob\\x1b[2J\\x1b[H: 0/10" in done.stdout and "eve\\nmallory: 10\u221510: 0/10" in done.stdout
    assert not any(line.startswith("mallory") for line in done.stdout.splitlines())
    written = [path.relative_to(out) for path in out.rglob("*") if path.is_file()]
    assert all(path.parts[0] in ("grades.csv", "feedback", "results", ".mtl-grade") for path in written), written
    results = sorted(p.parent.name for p in (out / "results").glob("*/results.json"))
    assert len(results) == 4 and all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) for name in results), results
    assert "zo_smith-" in " ".join(results) and not (tmp_path / "results.json").exists()
    assert "\x1b" not in (out / "grades.csv").read_text()


def test_a_file_that_is_not_a_notebook_is_refused_with_the_right_message(tmp_path, capsys):
    # Issue 22, section 2: a .py file was accepted as a submission, and a lone non-notebook got
    # "--assignment is needed".
    script, notes = tmp_path / "alice.py", tmp_path / "notes.txt"
    script.write_text("print('my answers')\n")
    notes.write_text("hello\n")
    for args in ([str(SUBMISSIONS / "perfect.ipynb"), str(script)], [str(notes)]):
        with pytest.raises(SystemExit) as exit_:
            cli(["grade", *args, "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert exit_.value.code == 2
        assert "grade SUBMISSION must be a Jupyter notebook (.ipynb)" in err and Path(args[-1]).name in err, err
        assert "--assignment is needed" not in err
    assert not (tmp_path / "out").exists()


def _perfect_09(path: Path) -> Path:
    """The 09 solution as a student would hand it in: hidden tests gone, the assignment stamped by release."""
    notebook = nbformat.read(ROOT / "notebooks" / "09_your_turn_pcgrad.ipynb", as_version=4)
    hidden = re.compile(r"^### BEGIN HIDDEN TESTS\n.*?^### END HIDDEN TESTS\n?", re.M | re.S)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source, cell.outputs, cell.execution_count = hidden.sub("", cell.source), [], None
    notebook.metadata["mtl_teach"] = {"assignment": "09_your_turn_pcgrad"}
    nbformat.write(notebook, path)
    return path


def test_a_batch_of_mixed_assignments_grades_each_as_its_own(tmp_path, capsys):
    # Issue 22, section 2: `grade alice_04.ipynb kate_09.ipynb` graded kate's perfect 09 against 04: 0/10, exit 0.
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    alice = shutil.copy(SUBMISSIONS / "stub.ipynb", folder / "alice_04.ipynb")  # the released 04, untouched
    kate = _perfect_09(folder / "kate_09.ipynb")
    with pytest.raises(SystemExit) as exit_:  # with --assignment, a submission naming another is refused
        cli(["grade", str(alice), str(kate), "--out", str(out), "--assignment", "04_your_turn"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and not out.exists()
    assert "grade --assignment is '04_your_turn', but these submissions name another assignment" in err
    assert "kate_09.ipynb (09_your_turn_pcgrad)" in err
    done = _grade(alice, kate, "--out", out, "--jobs", "2", *LIMITS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "alice_04: 0/10" in done.stdout and "kate_09: 10/10" in done.stdout
    rows = _rows(out)
    assert (rows["alice_04"]["assignment"], rows["kate_09"]["assignment"]) == ("04_your_turn", "09_your_turn_pcgrad")
    assert rows["alice_04"]["check_model"] == "0" and rows["alice_04"]["check_project"] == ""
    assert rows["kate_09"]["check_project"] == "3" and rows["kate_09"]["check_model"] == ""
    results = json.loads((out / "results" / "kate_09" / "results.json").read_text())
    assert results["extra_data"]["assignment"] == "09_your_turn_pcgrad" and results["score"] == 10


# --- the canary and the grader's own faults (section 2) ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "cause", "fix"),
    [
        (["--memory-mb", "10"], "no kernel could run the reference answers", "check --memory-mb (10 now"),
        (
            ["--source", str(ROOT / "notebooks" / "student" / "04_your_turn.ipynb")],
            "the reference answers do not pass the checks",
            "not a student copy",
        ),
    ],
    ids=["kernels-cannot-start", "student-copy-as-source"],
)
def test_a_canary_graded_first_stops_a_broken_grader_before_it_scores_anyone(tmp_path, args, cause, fix):
    # Before: a configuration in which no kernel could run the reference answers scored every student 0/10 and
    # grade exited 0. The canary is graded in exactly the batch's configuration; nothing is kept when it fails.
    out = tmp_path / "out"
    done = _grade(
        SUBMISSIONS / "stub.ipynb", "--out", out, "--jobs", "1", "--timeout", "15", "--memory-mb", "1536", *args
    )
    assert done.returncode == 2, done.stdout + done.stderr[-3000:]
    assert "grade stopped before keeping any grade: the reference answers of 04_your_turn" in done.stderr
    assert f"Cause: {cause}" in done.stderr and fix in done.stderr, done.stderr[-3000:]
    assert "stub:" not in done.stdout
    assert not out.exists()  # nothing kept, so the same command runs again without --resume once fixed


def test_a_second_checkout_through_a_symlinked_environment_grades_with_its_own_kit(tmp_path):
    # Issue 22, section 2, both seen on instructors' machines: `python -m mtl_teach grade` from a second checkout
    # whose environment's editable install points at the first (kernels imported a kit the sandbox does not show:
    # ModuleNotFoundError, every student 0/10), and an environment reached through a symlinked folder (bwrap: execvp
    # ...: No such file or directory). Kernels now import the kit the grader runs; the interpreter is resolved.
    clone = tmp_path / "second-checkout"
    shutil.copytree(ROOT / "mtl_teach", clone / "mtl_teach", ignore=shutil.ignore_patterns("__pycache__"))
    (clone / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "04_your_turn.ipynb", clone / "notebooks")
    linked = tmp_path / "linked-env"
    linked.symlink_to(Path(sys.prefix).resolve())
    done = _grade(SUBMISSIONS / "stub.ipynb", "--out", tmp_path / "out", "--jobs", "1", *LIMITS,
                  cwd=clone, python=str(linked / "bin" / Path(sys.executable).name))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    # the canary (the reference answers, 10/10) ran in kernels that import the kit; so did the student's
    assert "scored 10/10 in this configuration" in done.stderr and "stub: 0/10" in done.stdout
    feedback = json.loads((tmp_path / "out" / "results" / "stub" / "results.json").read_text())
    assert feedback["tests"][0]["output"].startswith("not attempted: inv_dataloader is still None")


def test_resume_grades_again_what_the_grader_failed_on_and_keeps_the_batchs_secret_seed(tmp_path):
    # A record without a score is graded again by --resume; the batch's secret seed for the checks' fresh data
    # (issue 22, class 11) is drawn once, kept in the state folder (a kernel cannot see it), different per batch.
    from mtl_teach.grading.batch import _why_again
    from mtl_teach.grading.kernel import Limits
    from mtl_teach.grading.record import Item, Record
    from mtl_teach.grading.report import Journal
    from mtl_teach.grading.submission import Job

    job = Job("/s/ana.ipynb", "ana", "/src.ipynb", "mtl_teach.exercises.your_turn", "04_your_turn", Limits(), bwrap="b")
    items = (Item.scored("check_task", 3, "error", "not graded"),)
    failed = Record("ana", job.submission, job.assignment, "ab", items, fault="no kernel could start")
    assert _why_again(failed, job, "ab") == "the grader failed on it last time"
    assert _why_again(Record("ana", job.submission, job.assignment, "ab", items), job, "ab") == ""
    assert _why_again(Record("ana", job.submission, job.assignment, "ab", items), job, "cd").startswith("the file")
    first, second = Journal(tmp_path / "a"), Journal(tmp_path / "b")
    seed = first.fresh_seed()
    assert Journal(tmp_path / "a").fresh_seed() == seed != second.fresh_seed() and seed >= 10**6
    assert oct((tmp_path / "a" / ".mtl-grade" / "fresh-seed").stat().st_mode)[-3:] == "600"


def test_the_checks_score_on_the_graders_secret_fresh_data_while_it_grades():
    from mtl_teach.exercises._core import fresh_data, fresh_seed

    assert fresh_seed(4242) == 4242
    with fresh_data(123456789):
        assert fresh_seed(4242) == 123456789
    assert fresh_seed(4242) == 4242


def test_the_threat_model_names_a_test_for_each_claim():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Threat model", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(tests/test_\w+\.py)::(test_\w+)`", section))
    assert len(named) >= 12, named
    for module, test in named:
        assert f"def {test}(" in (ROOT / module).read_text(), f"{module}::{test} named in the threat model"
    assert "A kernel **cannot**" in section and "A kernel **can**" in section
