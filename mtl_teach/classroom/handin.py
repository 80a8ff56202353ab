"""Handing in: a student's one line, and the folders hand-ins are kept in.

On a class hub every student has a *dropbox*: a folder the hub makes before
the student's server starts (:func:`prepare_dropbox`) and names in that
server's environment (``MTL_TEACH_HANDIN``)::

    <hand-in root>/                the instructor's: mode 0711, students pass through but cannot list it
        alice/                     alice's dropbox: hers alone, mode 0700
            04_your_turn/
                20261207T231502.418207Z-3fa4c2d1.ipynb    one hand-in, never overwritten

In the notebook, one line hands it in::

    from mtl_teach.classroom import submit; submit()

(or, in a terminal, ``mtl-teach submit NOTEBOOK``). It copies the notebook
*as saved on disk* under a new name, the UTC time and the first 8 hex digits
of its SHA-256, and says when that save was made and whether cells ran after
it. Every hand-in is kept; ``mtl-teach collect`` takes each student's latest.

The time that counts is the file's ctime: the kernel sets it on every change
and no user can set it back (``touch`` moves only the mtime), so a copy edited
after the deadline shows up late.

Who can read or change a hand-in is the file system's call, so the spawner's:
under the local process spawner each student runs as their own system user,
the dropbox belongs to that user with mode 0700 and the root above it cannot
be listed, so no other student can open, list, change or delete it. Under
KubeSpawner (Zero to JupyterHub) or DockerSpawner each student's container
mounts only their own dropbox. Under the simple spawner every student runs as
one OS user and nothing keeps them apart (README, "In a classroom").
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import stat
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mtl_teach._errors import fail

HANDIN_ENV = "MTL_TEACH_HANDIN"  # the student's dropbox, set by the hub in their server's environment
SESSION_ENV = "JPY_SESSION_NAME"  # the notebook's path, set by jupyter_server for each kernel it starts
ROOT_MODE = 0o711  # students pass through the root to their own dropbox, but cannot list it
DROPBOX_MODE = 0o700
FILE_MODE = 0o600
MAX_BYTES = 50 * 2**20  # a notebook with many figures is a few MB; a bigger file is a mistake
# A hub's user names (escaped by the hub when needed); never '.', '..' or a path.
STUDENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
ASSIGNMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
HANDIN_NAME = re.compile(r"(?P<time>\d{8}T\d{6}\.\d{6}Z)-(?P<sha>[0-9a-f]{8})\.ipynb")


def check_name(kind: str, name: Any, pattern: re.Pattern[str] = STUDENT_NAME) -> str:
    """Return ``name`` if it is a plain folder name of ``pattern``'s kind; fail otherwise.

    Parameters
    ----------
    kind
        What the name is, for the message (e.g. ``"student"``).
    name
        The name to check.
    pattern
        The names allowed.
    """
    if not isinstance(name, str) or not pattern.fullmatch(name) or ".." in name:
        fail(
            kind,
            "must be a plain name: letters, digits and . _ - (a student's also @ +), starting with a letter or digit",
            name,
            f"use a name such as {'04_your_turn' if pattern is ASSIGNMENT_NAME else 'alice'}.",
        )
    return name


def prepare_root(root: Path) -> Path:
    """Make the hand-in root (mode 0711) if needed; fail if it is not a folder of this user's.

    Parameters
    ----------
    root
        The folder that holds every student's dropbox.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        fail(
            "hand-in root",
            "must be a folder (not a link) owned by the user the hub runs as",
            str(root),
            "point HUB_HANDIN at a new folder, or fix its owner.",
            raw=True,
        )
    os.chmod(root, ROOT_MODE)
    return root


def prepare_dropbox(root: Path, student: str, uid: int, gid: int) -> Path:
    """Make ``student``'s dropbox in ``root``, theirs alone (owner ``uid``, mode 0700); return it.

    The hub calls this before the student's server starts. An existing dropbox
    is kept, its owner and mode put right. ``root`` is the hub's, so no
    student can plant anything in its place.

    Parameters
    ----------
    root
        The hand-in root (see :func:`prepare_root`).
    student
        The hub's name for the student.
    uid, gid
        The owner to give the dropbox: the student's system user under the local
        process spawner, the hub's own where all students share one.
    """
    dropbox = Path(root) / check_name("student", student)
    with contextlib.suppress(FileExistsError):
        os.mkdir(dropbox, DROPBOX_MODE)
    # O_NOFOLLOW: a link in the dropbox's place is refused, never followed.
    fd = os.open(dropbox, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.fchown(fd, uid, gid)
        if stat.S_IMODE(info.st_mode) != DROPBOX_MODE:
            os.fchmod(fd, DROPBOX_MODE)
    finally:
        os.close(fd)
    return dropbox


@dataclass(frozen=True)
class Receipt:
    """What :func:`submit` kept: printed for the student, returned for code.

    Attributes
    ----------
    student
        Whose hand-in it is (the dropbox's name).
    assignment
        The assignment it was handed in for.
    notebook
        The notebook file that was copied.
    kept
        Where the copy is (in the dropbox).
    handed_in_at
        When it was handed in (UTC).
    saved_at
        When the notebook had last been saved (UTC), i.e. what the copy holds.
    sha256
        The copy's SHA-256.
    ran_after_save
        How many cells ran in this kernel after the notebook was last saved (None outside a kernel).
    """

    student: str
    assignment: str
    notebook: Path
    kept: Path
    handed_in_at: datetime
    saved_at: datetime
    sha256: str
    ran_after_save: int | None = None

    def __repr__(self) -> str:
        home = Path.home()
        notebook = f"~/{self.notebook.relative_to(home)}" if self.notebook.is_relative_to(home) else self.notebook
        lines = [
            f"Handed in {self.assignment} for {self.student} at {self.handed_in_at:%Y-%m-%d %H:%M:%S} UTC.",
            f"  notebook: {notebook}, as saved at {self.saved_at:%H:%M:%S} UTC",
            f"  kept as:  {self.kept} (sha256 {self.sha256[:12]}...)",
        ]
        if self.ran_after_save:
            lines.append(
                f"  WARNING: {self.ran_after_save} cell(s) ran after that save, so their changes are not in this "
                "hand-in. Save the notebook (Ctrl+S) and hand in again."
            )
        lines.append("Your instructor grades your latest hand-in: you may hand in again until the deadline.")
        return "\n".join(lines)

    __str__ = __repr__


def _notebook_path(notebook: str | os.PathLike[str] | None) -> Path:
    if notebook is None:
        session = os.environ.get(SESSION_ENV)
        if not session:
            fail(
                "submit(notebook)",
                "is needed outside a notebook started by Jupyter (which tells its kernel the notebook's path)",
                None,
                'pass the notebook\'s path, e.g. submit("04_your_turn.ipynb").',
            )
        path = Path(session)
        if not path.is_file():
            fail(
                "submit(notebook)",
                "is needed: the notebook this kernel was started for is no longer there (renamed or moved?)",
                str(path),
                'pass its path now, e.g. submit("04_your_turn.ipynb").',
                raw=True,
            )
        return path.resolve()
    path = Path(notebook).expanduser()
    if path.suffix != ".ipynb" or not path.is_file():
        fail("submit(notebook)", "must be a saved notebook file (.ipynb)", str(path), "pass the notebook's path.")
    return path.resolve()


def _dropbox(dropbox: str | os.PathLike[str] | None) -> Path:
    given = dropbox if dropbox is not None else os.environ.get(HANDIN_ENV)
    if not given:
        fail(
            "submit(dropbox)",
            f"is unknown: {HANDIN_ENV} is not set, so this server was not started by a hub that takes hand-ins",
            None,
            "on your own computer, hand the notebook in the way your course says (e.g. upload it); "
            "on the class hub, restart your server (File > Hub Control Panel > Stop My Server, then Start).",
        )
    path = Path(given)
    if not path.is_dir():
        fail(
            "submit(dropbox)",
            "must be your hand-in folder, which the hub makes when your server starts",
            str(path),
            "restart your server from the hub (File > Hub Control Panel > Stop My Server, then Start).",
            raw=True,
        )
    return path


def _ran_after_save(notebook: Any) -> int | None:
    """Cells this kernel ran after ``notebook`` was saved (the cell running now not counted); None outside IPython."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    if shell is None:
        return None
    inputs = shell.user_ns.get("In")
    if not isinstance(inputs, list) or not inputs:
        return None
    saved = [cell.get("execution_count") or 0 for cell in notebook.cells if cell.cell_type == "code"]
    # In[n] is cell n's input, stored before it runs: the last one is this submit's cell; the save
    # holds the ones before. After a kernel restart the saved numbers are the old kernel's and can be
    # higher: then nothing is known.
    return max(0, len(inputs) - 2 - max(saved, default=0))


def submit(
    notebook: str | os.PathLike[str] | None = None,
    assignment: str | None = None,
    *,
    dropbox: str | os.PathLike[str] | None = None,
) -> Receipt:
    """Hand in a notebook, as saved on disk: keep a timestamped copy where the instructor collects it.

    In the notebook itself, save it (Ctrl+S), then run
    ``from mtl_teach.classroom import submit; submit()``. Handing in again
    keeps the earlier copies; the instructor grades the latest.

    Parameters
    ----------
    notebook
        The notebook file; default: the notebook this kernel runs (Jupyter tells it).
    assignment
        The assignment name; default: the one stamped in the notebook by
        ``mtl-teach release``. If both are there they must agree.
    dropbox
        The student's hand-in folder; default: ``$MTL_TEACH_HANDIN``, set by the hub.

    Returns
    -------
    Receipt
        What was kept, where and when; it prints as a message for the student.
    """
    import nbformat

    path = _notebook_path(notebook)
    box = _dropbox(dropbox)
    size = path.stat().st_size
    if size > MAX_BYTES:
        fail(
            "submit(notebook)",
            f"must be at most {MAX_BYTES // 2**20} MB",
            f"{path} ({size / 2**20:.0f} MB)",
            "clear the outputs (Edit > Clear Outputs of All Cells), save, and hand in again.",
            raw=True,
        )
    data = path.read_bytes()
    try:
        parsed = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as error:  # nbformat raises several kinds for a damaged file
        fail(
            "submit(notebook)",
            "must be a notebook file Jupyter can open",
            f"{path} ({type(error).__name__}: {str(error)[:200]})",
            "open it in JupyterLab, save it, and hand in again.",
            raw=True,
        )
    stamped = (parsed.metadata.get("mtl_teach") or {}).get("assignment")
    if assignment is not None and stamped is not None and assignment != stamped:
        fail(
            "submit(assignment)",
            f"must match the assignment this notebook is ({stamped!r})",
            assignment,
            f"hand in the notebook of {assignment!r}, or call submit() without assignment=.",
        )
    name = assignment if assignment is not None else stamped
    if name is None:
        fail(
            "submit(assignment)",
            "is needed: this notebook is not stamped with an assignment",
            None,
            'pass it, e.g. submit(assignment="04_your_turn").',
        )
    check_name("submit(assignment)", name, ASSIGNMENT_NAME)
    folder = box / name
    folder.mkdir(mode=DROPBOX_MODE, exist_ok=True)
    now = datetime.now(UTC)
    sha256 = hashlib.sha256(data).hexdigest()
    kept = folder / f"{now:%Y%m%dT%H%M%S.%f}Z-{sha256[:8]}.ipynb"
    partial = folder / f".{kept.name}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.link(partial, kept)  # never replaces an existing hand-in, unlike rename
    finally:
        partial.unlink(missing_ok=True)
    return Receipt(
        student=os.environ.get("JUPYTERHUB_USER") or box.name,
        assignment=name,
        notebook=path,
        kept=kept,
        handed_in_at=now,
        saved_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
        sha256=sha256,
        ran_after_save=_ran_after_save(parsed),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebook", metavar="NOTEBOOK.ipynb", help="the saved notebook to hand in")
    parser.add_argument("--assignment", help="assignment name (default: the one stamped in the notebook)")
    parser.add_argument(
        "--dropbox", metavar="DIR", help=f"your hand-in folder (default: ${HANDIN_ENV}, set by the class hub)"
    )


def run(args: argparse.Namespace) -> int:
    print(submit(args.notebook, args.assignment, dropbox=args.dropbox))
    return 0
