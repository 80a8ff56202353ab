"""The classroom side: hand-in, collect, the hub's settings and config, nbgitpuller links.

The hub itself, with three students in a browser, is ``tests/e2e/test_hub.py``.
Here: what ``submit`` keeps and refuses; that ``collect`` takes each student's
latest hand-in by its ctime (which no student can set back), marks late work,
and refuses everything a student could plant in a dropbox to be graded on
another's work or to hang it (links, hard links, FIFOs, foreign or huge files);
as root, with two made-up user ids, that one student can neither read nor
change another's hand-in; and the ``HUB_*`` settings' errors.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from mtl_teach._errors import MTLConfigError
from mtl_teach.classroom import submit
from mtl_teach.classroom.collect import collect
from mtl_teach.classroom.course_links import course_paths
from mtl_teach.classroom.handin import HANDIN_ENV, SESSION_ENV, prepare_dropbox, prepare_root
from mtl_teach.classroom.hub import HubSettings
from mtl_teach.cli import main as cli
from mtl_teach.links import ProjectHome, clone_folder, nbgitpuller_url

ROOT = Path(__file__).resolve().parents[1]
ROOTLESS = os.geteuid() != 0
ASSIGNMENT = "04_your_turn"


def _notebook(path: Path, assignment: str | None = ASSIGNMENT, source: str = "x = 1") -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    if assignment:
        notebook.metadata["mtl_teach"] = {"assignment": assignment}
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def dropbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = prepare_root(tmp_path / "handin")
    box = prepare_dropbox(root, "ada", os.geteuid(), os.getegid())
    monkeypatch.setenv(HANDIN_ENV, str(box))
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    return box


# ---- submit -----------------------------------------------------------------------------------------------


def test_submit_keeps_a_timestamped_copy_and_never_overwrites(tmp_path: Path, dropbox: Path) -> None:
    notebook = _notebook(tmp_path / "04_your_turn.ipynb")
    first = submit(notebook)
    _notebook(notebook, source="x = 2")
    second = submit(notebook)
    kept = sorted((dropbox / ASSIGNMENT).iterdir())
    assert kept == sorted([first.kept, second.kept]), kept
    assert first.kept.read_bytes() != second.kept.read_bytes() and second.kept.read_bytes() == notebook.read_bytes()
    assert (first.kept.stat().st_mode & 0o777) == 0o600 and (dropbox.stat().st_mode & 0o777) == 0o700
    assert first.student == "ada" and first.assignment == ASSIGNMENT and second.handed_in_at >= first.handed_in_at
    assert first.kept.name.startswith(f"{first.handed_in_at:%Y%m%dT%H%M%S}") and first.sha256[:8] in first.kept.name
    text = repr(first)
    assert f"Handed in {ASSIGNMENT} for ada" in text and str(first.kept) in text and "WARNING" not in text


def test_submit_finds_the_notebook_its_kernel_runs(tmp_path: Path, dropbox: Path, monkeypatch) -> None:
    notebook = _notebook(tmp_path / "mine.ipynb")
    monkeypatch.setenv(SESSION_ENV, str(notebook))
    assert submit().notebook == notebook.resolve()
    notebook.rename(tmp_path / "renamed.ipynb")
    with pytest.raises(MTLConfigError, match=r"no longer there .* Fix: pass its path now"):
        submit()


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("no dropbox", r"MTL_TEACH_HANDIN is not set.* Fix: on your own computer"),
        ("unstamped", r"is needed: this notebook is not stamped .* Fix: pass it"),
        ("other assignment", r"must match the assignment this notebook is \('04_your_turn'\)"),
        ("not a notebook", r"must be a notebook file Jupyter can open"),
        ("bad name", r"must be a plain name"),
        ("no notebook", r"is needed outside a notebook started by Jupyter"),
    ],
)
def test_submit_says_what_is_wrong(case: str, match: str, tmp_path: Path, dropbox: Path, monkeypatch) -> None:
    notebook = _notebook(tmp_path / "n.ipynb", assignment=None if case in ("unstamped", "bad name") else ASSIGNMENT)
    kwargs = {}
    if case == "no dropbox":
        monkeypatch.delenv(HANDIN_ENV)
    elif case == "other assignment":
        kwargs["assignment"] = "09_your_turn_pcgrad"
    elif case == "not a notebook":
        notebook.write_text("{ this is not json")
    elif case == "bad name":
        kwargs["assignment"] = "../../etc"
    elif case == "no notebook":
        monkeypatch.delenv(SESSION_ENV, raising=False)
        notebook = None
    with pytest.raises(MTLConfigError, match=match):
        submit(notebook, **kwargs)
    assert not (dropbox / ASSIGNMENT).exists() or not any((dropbox / ASSIGNMENT).iterdir())


def test_submit_command_line(tmp_path: Path, dropbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = _notebook(tmp_path / "n.ipynb")
    assert cli(["submit", str(notebook)]) == 0
    assert f"Handed in {ASSIGNMENT} for ada" in capsys.readouterr().out
    assert len(list((dropbox / ASSIGNMENT).iterdir())) == 1


def test_submit_in_a_kernel_warns_about_cells_run_after_the_save(tmp_path: Path, dropbox: Path) -> None:
    from nbclient import NotebookClient

    path = tmp_path / "04_your_turn.ipynb"
    notebook = nbformat.read(_notebook(path), as_version=4)
    client = NotebookClient(notebook, kernel_name="python3", timeout=120)
    env = {**os.environ, SESSION_ENV: str(path), HANDIN_ENV: str(dropbox)}
    hand_in = "from mtl_teach.classroom import submit; submit()"
    with client.setup_kernel(env=env):
        client.execute_cell(notebook.cells[0], 0)
        nbformat.write(notebook, path)  # saved after its one cell ran
        notebook.cells += [nbformat.v4.new_code_cell(hand_in), nbformat.v4.new_code_cell("y = 2")]
        notebook.cells.append(nbformat.v4.new_code_cell(hand_in))
        for index in (1, 2, 3):
            client.execute_cell(notebook.cells[index], index)
    saved_then, later = (notebook.cells[i].outputs[0]["data"]["text/plain"] for i in (1, 3))
    assert "Handed in" in saved_then and "WARNING" not in saved_then, saved_then
    assert "WARNING: 2 cell(s) ran after that save" in later, later


# ---- collect ----------------------------------------------------------------------------------------------


def _hand_in(root: Path, student: str, source: str, uid: int | None = None) -> Path:
    box = prepare_dropbox(root, student, os.geteuid() if uid is None else uid, os.getegid())
    notebook = _notebook(root.parent / f"{student}-{time.monotonic_ns()}.ipynb", source=source)
    receipt = submit(notebook, dropbox=box)
    if uid is not None:
        os.chown(receipt.kept, uid, -1)
        os.chown(receipt.kept.parent, uid, -1)
    return receipt.kept


def test_collect_takes_each_latest_hand_in_by_ctime_and_marks_late_work(tmp_path: Path) -> None:
    root = prepare_root(tmp_path / "handin")
    early = _hand_in(root, "ada", "ada = 1")
    due = datetime.now(UTC)
    time.sleep(0.05)
    late = _hand_in(root, "ada", "ada = 2")
    os.utime(late, (0, 0))  # mtime set back to 1970: the ctime still tells when it came
    _hand_in(root, "ben", "ben = 1")
    os.utime(root / "ben", (0, 0))
    prepare_dropbox(root, "cy", os.geteuid(), os.getegid())  # logged in, never handed in
    collection = collect(ASSIGNMENT, root, tmp_path / "out", due=due - timedelta(hours=1) + timedelta(hours=1))
    assert (tmp_path / "out" / "ada.ipynb").read_bytes() == late.read_bytes() != early.read_bytes()
    rows = {row["student"]: row for row in csv.DictReader((tmp_path / "out" / "handins.csv").open())}
    assert rows["ada"]["versions"] == "2" and rows["ada"]["late"] == "yes" and rows["ada"]["late_by"], rows
    assert rows["ben"]["late"] == "yes" and rows["cy"]["handed_in"] == "" and rows["cy"]["note"] == "no hand-in"
    assert sorted(p.name for p in collection.notebooks) == ["ada.ipynb", "ben.ipynb"]
    text = repr(collection)
    assert "2 hand-in(s)" in text and "no hand-in from: cy" in text and "late: ada by" in text
    on_time = collect(ASSIGNMENT, root, tmp_path / "out2", due=datetime.now(UTC) + timedelta(days=1))
    assert not any(h.late_by for h in on_time.handins)


def test_collect_never_overwrites_an_earlier_collection_without_force(tmp_path: Path) -> None:
    root = prepare_root(tmp_path / "handin")
    _hand_in(root, "ada", "ada = 1")
    collect(ASSIGNMENT, root, tmp_path / "out")
    with pytest.raises(MTLConfigError, match=r"must be empty or new.*--force"):
        collect(ASSIGNMENT, root, tmp_path / "out")
    _hand_in(root, "ada", "ada = 2")
    collect(ASSIGNMENT, root, tmp_path / "out", force=True)
    assert "ada = 2" in (tmp_path / "out" / "ada.ipynb").read_text()


def test_collect_names_a_missing_assignment_and_the_ones_handed_in(tmp_path: Path) -> None:
    root = prepare_root(tmp_path / "handin")
    _hand_in(root, "ada", "ada = 1")
    with pytest.raises(MTLConfigError, match=r"has no hand-ins .* assignments handed in: 04_your_turn"):
        collect("09_your_turn_pcgrad", root, tmp_path / "out")


def test_collect_refuses_what_a_student_plants_in_a_dropbox(tmp_path: Path) -> None:
    root = prepare_root(tmp_path / "handin")
    ada = _hand_in(root, "ada", "ada = 'her own work'")
    ben = _hand_in(root, "ben", "ben = 'his own work'")
    folder = ben.parent
    newest = "29991231T235959.000000Z-{}.ipynb"  # later than any real hand-in's name
    (folder / newest.format("aaaaaaaa")).symlink_to(ada)  # ada's hand-in as his latest
    os.link(ada, folder / newest.format("bbbbbbbb"))  # the same, as a hard link
    os.mkfifo(folder / newest.format("cccccccc"))  # a FIFO that would hang a plain open()
    with open(folder / newest.format("dddddddd"), "wb") as huge:
        huge.truncate(51 * 2**20)  # sparse, over the size limit
    (folder / "notes.txt").write_text("not a hand-in")
    (root / "cy").symlink_to(root / "ada")  # a dropbox that is a link to another's
    (root / "..bad").mkdir()
    collection = collect(ASSIGNMENT, root, tmp_path / "out")
    assert "his own work" in (tmp_path / "out" / "ben.ipynb").read_text()
    reasons = {r.path.rsplit("/", 1)[-1]: r.reason for r in collection.refused}
    assert "a link" in reasons[newest.format("aaaaaaaa")]
    assert "2 links" in reasons[newest.format("bbbbbbbb")]  # ada's file too: it is refused wherever it appears
    assert "not a regular file" in reasons[newest.format("cccccccc")]
    assert "limit" in reasons[newest.format("dddddddd")]
    assert "name" in reasons["notes.txt"] and "not a folder" in reasons["cy"] and "name" in reasons["..bad"]
    row = next(r for r in csv.DictReader((tmp_path / "out" / "handins.csv").open()) if r["student"] == "ben")
    assert "refused" in row["note"] and row["versions"] == "1"


@pytest.mark.skipif(ROOTLESS, reason="needs root: a hand-in owned by another user is made with chown")
def test_collect_refuses_a_file_that_is_not_the_dropbox_owners(tmp_path: Path) -> None:
    root = prepare_root(tmp_path / "handin")
    ben = _hand_in(root, "ben", "ben = 1", uid=61002)
    planted = ben.parent / "29991231T235959.000000Z-eeeeeeee.ipynb"
    shutil.copy(ben, planted)  # root's file in ben's dropbox: not his
    collection = collect(ASSIGNMENT, root, tmp_path / "out")
    assert any("not by the dropbox's owner" in r.reason for r in collection.refused), collection.refused
    assert (tmp_path / "out" / "ben.ipynb").read_bytes() == ben.read_bytes()


@pytest.mark.skipif(ROOTLESS, reason="needs root: two students are two user ids, which only root can act as")
def test_one_student_can_neither_read_nor_change_anothers_hand_in() -> None:
    # What the local spawner gives: each student is their own user. 61001 and 61002 need no account.
    # Not tmp_path: pytest's folders are private (0700), so every attempt would fail for that reason alone.
    base = Path(tempfile.mkdtemp(prefix="mtl-handin-"))
    try:
        base.chmod(0o711)
        _attack_as_another_student(prepare_root(base / "handin"))
    finally:
        shutil.rmtree(base)


def _attack_as_another_student(root: Path) -> None:
    ada = _hand_in(root, "ada", "ada = 1", uid=61001)
    _hand_in(root, "ben", "ben = 1", uid=61002)
    box = root / "ada"
    attempts = {
        "list the root": f"ls {root}",
        "list ada's dropbox": f"ls {box}",
        "read ada's hand-in": f"cat {ada}",
        "change it": f"echo x >> {ada}",
        "delete it": f"rm -f {ada}",
        "add to ada's dropbox": f"touch {box}/{ASSIGNMENT}/new.ipynb",
        "rename ada's dropbox": f"mv {box} {root}/gone",
        "make a dropbox": f"mkdir {root}/dan",
        "hard-link her hand-in": f"ln {ada} {root}/ben/{ASSIGNMENT}/x.ipynb",
    }
    done = {}
    for what, command in attempts.items():
        run = subprocess.run(["/bin/sh", "-c", command], user=61002, group=61002, extra_groups=[], cwd="/",
                             capture_output=True, text=True)  # fmt: skip
        if run.returncode == 0:
            done[what] = run.stdout
    assert not done, f"ben (uid 61002) could: {done}"
    own = subprocess.run(["/bin/sh", "-c", f"ls {root}/ben/{ASSIGNMENT}"], user=61002, group=61002, cwd="/")
    assert own.returncode == 0, "ben cannot see his own hand-ins"


def test_collect_then_grade_command_lines_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = prepare_root(tmp_path / "handin")
    _hand_in(root, "ada", "ada = 1")
    assert cli(["collect", ASSIGNMENT, "--root", str(root), "--out", str(tmp_path / "c"), "--due", "2000-01-01"]) == 0
    out = capsys.readouterr().out
    assert "1 hand-in(s)" in out and "1 late" in out and f"mtl-teach grade {tmp_path / 'c'}/*.ipynb" in out


# ---- links ------------------------------------------------------------------------------------------------


def test_links_point_exercises_at_their_student_copies() -> None:
    paths = course_paths(ROOT / "notebooks")
    assert paths[0] == "notebooks/README.md"
    assert "notebooks/student/04_your_turn.ipynb" in paths and "notebooks/04_your_turn.ipynb" not in paths
    assert "notebooks/02_mtl_basics.ipynb" in paths
    expected = {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {p.rsplit("/", 1)[1] for p in paths[1:]} == expected


def test_links_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["links", "--hub", "http://127.0.0.1:8000", "--notebooks", str(ROOT / "notebooks")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(course_paths(ROOT / "notebooks"))
    home = ProjectHome.from_url("https://github.com/mtl-teach/mtl-teach")
    link = nbgitpuller_url("http://127.0.0.1:8000", home.url, "main", "notebooks/student/04_your_turn.ipynb")
    assert any(line.split()[-1] == link for line in lines), lines
    assert home.nbgitpuller("hub.example.edu") == nbgitpuller_url("https://hub.example.edu", home.url, "main")
    assert clone_folder("git://127.0.0.1:9418/mtl-teach") == "mtl-teach" and clone_folder(home.url + "/") == "mtl-teach"
    with pytest.raises(SystemExit):
        cli(["links", "--hub", "ftp://x"])
    assert "must be an http(s) address" in capsys.readouterr().err


# ---- the hub's settings and config ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "euid", "match"),
    [
        ({"HUB_PORT": "80000"}, 0, r"HUB_PORT must be a TCP port"),
        ({"HUB_AUTH": "github"}, 0, r"HUB_AUTH must be one of 'dummy', 'pam'"),
        ({"HUB_AUTH": "dummy"}, 0, r"HUB_PASSWORD must be set, 8 characters or more"),
        ({"HUB_AUTH": "dummy", "HUB_PASSWORD": "short"}, 0, r"got 5 characters"),
        ({"HUB_SPAWNER": "simple"}, 0, r"must be local with HUB_AUTH=pam"),
        ({}, 1000, r"needs the hub to run as root; got local, as uid 1000. Fix: run it as root"),
        ({"HUB_AUTH": "dummy", "HUB_PASSWORD": "x" * 8, "HUB_REPO": "nope"}, 0, r"HUB_REPO must be a git"),
    ],
)
def test_hub_settings_name_each_bad_variable(environ: dict[str, str], euid: int, match: str) -> None:
    with pytest.raises(MTLConfigError, match=match):
        HubSettings.from_environment(environ, euid=euid)


def test_hub_settings_demo_and_class() -> None:
    demo = HubSettings.from_environment({"HUB_AUTH": "dummy", "HUB_PASSWORD": "x" * 8}, euid=1000)
    assert demo.spawner == "simple" and demo.ip == "127.0.0.1" and demo.port == 8000 and demo.demo
    assert any("DEMO LOGIN" in w for w in demo.warnings()) and any("uid 1000" in w for w in demo.warnings())
    assert demo.start_url.startswith("/git-pull?repo=https%3A%2F%2Fgithub.com%2Fmtl-teach%2Fmtl-teach&branch=main")
    assert demo.start_url.endswith("urlpath=lab%2Ftree%2Fmtl-teach%2Fnotebooks%2FREADME.md")
    real = HubSettings.from_environment({"HUB_IP": "0.0.0.0", "HUB_PORT": "443", "HUB_GROUP": "students"}, euid=0)
    assert (real.auth, real.spawner, real.ip, real.port, real.group) == ("pam", "local", "0.0.0.0", 443, "students")
    assert not real.demo and not real.warnings() and real.authenticator_class() == "pam"


def test_hub_pre_spawn_hook_gives_each_student_a_dropbox(tmp_path: Path) -> None:
    hub = HubSettings.from_environment(
        {"HUB_AUTH": "dummy", "HUB_PASSWORD": "x" * 8, "HUB_STATE": str(tmp_path / "state")}, euid=os.geteuid()
    )
    hub.prepare()
    spawner = SimpleNamespace(user=SimpleNamespace(name="ada"))
    hub.pre_spawn_hook(spawner)
    box = tmp_path / "state" / "handin" / "ada"
    assert box.is_dir() and (box.stat().st_mode & 0o777) == 0o700
    assert hub.environment["MTL_TEACH_HANDIN"](spawner) == str(box)
    assert ((tmp_path / "state" / "hub").stat().st_mode & 0o777) == 0o700  # the database's folder
    assert ((tmp_path / "state" / "handin").stat().st_mode & 0o777) == 0o711


@pytest.mark.skipif(ROOTLESS, reason="needs root: the check runs the students' Python as 'nobody'")
def test_hub_refuses_a_python_students_cannot_run(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "python").symlink_to(sys.executable)
    hub = HubSettings.from_environment(
        {"HUB_PYTHON": str(private / "python"), "HUB_STATE": str(tmp_path / "state")}, euid=0
    )
    with pytest.raises(MTLConfigError, match=r"HUB_PYTHON must be a Python with the kit installed .* as 'nobody'"):
        hub.prepare()


def test_the_kits_jupyterhub_config_loads_as_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from traitlets.config.loader import PyFileConfigLoader

    for name, value in {
        "HUB_AUTH": "dummy", "HUB_PASSWORD": "a-long-password", "HUB_PORT": "8123",
        "HUB_STATE": str(tmp_path / "state"), "HUB_PROXY": "/x/configurable-http-proxy",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    config = PyFileConfigLoader("jupyterhub_config.py", str(ROOT / "hub")).load_config()
    assert (config.JupyterHub.ip, config.JupyterHub.port) == ("127.0.0.1", 8123)
    assert config.JupyterHub.spawner_class == "simple" and config.JupyterHub.authenticator_class == "shared-password"
    assert config.SharedPasswordAuthenticator.user_password == "a-long-password"
    assert config.Spawner.cmd[1:] == ["-m", "jupyterhub.singleuser"] and config.Spawner.default_url.startswith(
        "/git-pull"
    )
    assert config.ConfigurableHTTPProxy.command == ["/x/configurable-http-proxy"]
    assert config.JupyterHub.db_url == f"sqlite:///{tmp_path / 'state' / 'hub' / 'jupyterhub.sqlite'}"
    assert ("--allow-root" in config.Spawner.get("args", [])) == (os.geteuid() == 0)
    assert config.JupyterHub.cleanup_servers and config.JupyterHub.cleanup_proxy


def test_make_hub_runs_jupyterhub_on_the_kits_config() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS", "HUB_"))}
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), "hub", "HUB_PORT=8123", "HUB_AUTH=dummy"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    line = next(line for line in out.splitlines() if "jupyterhub -f" in line)
    assert line.endswith("jupyterhub -f hub/jupyterhub_config.py"), line
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["configurable-http-proxy"]
    assert lock["packages"]["node_modules/configurable-http-proxy"]["version"] == pinned == "5.3.0"
