"""``mtl-teach collect ASSIGNMENT``: each student's latest hand-in, in a folder ``grade`` takes as it is.

It reads the hand-in root (see :mod:`mtl_teach.classroom.handin`) and writes::

    collected/04_your_turn/
        alice.ipynb      alice's latest hand-in (the file's name is the student, as grade wants)
        ben.ipynb
        handins.csv      student, handed_in (UTC), late, late_by, versions, sha256, file, note

then ``mtl-teach grade collected/04_your_turn/*.ipynb --out grades``.

The hand-in time is the file's ctime, which no student can set back; with
``--due`` every row says whether it was late, and by how long.

The dropboxes are the students' and everything in them is hostile: collect
runs as the instructor (often root) and must never be made to read another
student's work, or anything else, as someone's hand-in. So it follows no
link, opens nothing but regular files of the dropbox's own owner with one
link (a hard link to a classmate's file would be one of theirs) under the
names ``submit`` gives, and reads at most ``MAX_BYTES``; anything else is
refused and listed, never copied.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mtl_teach._errors import fail
from mtl_teach.classroom.handin import ASSIGNMENT_NAME, HANDIN_NAME, MAX_BYTES, STUDENT_NAME, check_name

CSV_NAME = "handins.csv"
CSV_COLUMNS = ("student", "handed_in", "late", "late_by", "versions", "sha256", "file", "note")
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
# O_NONBLOCK: a FIFO planted under a hand-in's name cannot make open() wait forever.
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


@dataclass(frozen=True)
class Handin:
    """One student's latest hand-in of an assignment, as collected.

    Attributes
    ----------
    student
        The dropbox's name, which is the hub's name for the student.
    handed_in_at
        When the copy last changed (its ctime, UTC); None when there is no hand-in.
    versions
        How many hand-ins the student made (the latest is collected).
    sha256
        The collected copy's SHA-256 ("" when none).
    source
        The hand-in file collected, relative to the hand-in root ("" when none).
    late_by
        How long after the due time it came; None without ``due``, or when on time (zero).
    """

    student: str
    handed_in_at: datetime | None
    versions: int
    sha256: str = ""
    source: str = ""
    late_by: timedelta | None = None

    def __repr__(self) -> str:
        if self.handed_in_at is None:
            return f"Handin({self.student!r}: no hand-in)"
        late = f", late by {self.late_by}" if self.late_by else ""
        return f"Handin({self.student!r}, {self.handed_in_at:%Y-%m-%d %H:%M:%S} UTC, {self.versions} version(s){late})"


@dataclass(frozen=True)
class Refusal:
    """An entry of the hand-in root that collect would not read, and why."""

    student: str
    path: str
    reason: str

    def __repr__(self) -> str:
        return f"Refusal({self.path!r}: {self.reason})"


@dataclass(frozen=True)
class Collection:
    """What :func:`collect` wrote: a folder of ``<student>.ipynb`` and ``handins.csv``.

    Attributes
    ----------
    assignment
        The assignment collected.
    out
        The folder written.
    handins
        One entry per student with a dropbox, hand-in or not.
    refused
        Entries of the root that were not read (links, foreign files, ...).
    due
        The due time the lateness was measured from, if any.
    """

    assignment: str
    out: Path
    handins: tuple[Handin, ...]
    refused: tuple[Refusal, ...] = field(default=())
    due: datetime | None = None

    @property
    def notebooks(self) -> list[Path]:
        """The collected notebooks, the arguments ``grade`` takes."""
        return [self.out / f"{h.student}.ipynb" for h in self.handins if h.handed_in_at is not None]

    def __repr__(self) -> str:
        handed = [h for h in self.handins if h.handed_in_at is not None]
        late = [h for h in handed if h.late_by]
        lines = [
            f"Collected {self.assignment}: {len(handed)} hand-in(s) into {self.out}"
            + (f", {len(late)} late (due {self.due:%Y-%m-%d %H:%M:%S %Z})" if self.due else "")
        ]
        lines += [f"  late: {h.student} by {h.late_by}" for h in late]
        missing = [h.student for h in self.handins if h.handed_in_at is None]
        if missing:
            lines.append(f"  no hand-in from: {', '.join(missing)}")
        lines += [f"  refused {r.path}: {r.reason}" for r in self.refused]
        lines.append(f"  grade them: mtl-teach grade {self.out}/*.ipynb --out grades/{self.assignment}")
        return "\n".join(lines)


def _entries(fd: int) -> list[str]:
    return sorted(entry.name for entry in os.scandir(fd))


def _latest(student: str, box: int, owner: int, assignment: str, refused: list[Refusal]) -> tuple[int, str, int]:
    """The assignment folder's fd, the latest valid hand-in's name ("" if none) and how many valid ones there are."""
    where = f"{student}/{assignment}"
    try:
        folder = os.open(assignment, _OPEN_DIR, dir_fd=box)
    except FileNotFoundError:
        return -1, "", 0
    except OSError as error:  # ELOOP: a link; ENOTDIR: a file
        refused.append(Refusal(student, where, f"not a folder ({error.strerror})"))
        return -1, "", 0
    candidates: list[tuple[int, str]] = []
    for name in _entries(folder):
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
        reason = _refuse(name, info, owner)
        if reason and not name.startswith("."):  # .<name>.part: a hand-in being written
            refused.append(Refusal(student, f"{where}/{name}", reason))
        elif not reason:
            candidates.append((info.st_ctime_ns, name))
    return folder, max(candidates)[1] if candidates else "", len(candidates)


def _refuse(name: str, info: os.stat_result, owner: int) -> str:
    """Why the entry ``name`` is not a hand-in; "" if it is one."""
    if not HANDIN_NAME.fullmatch(name):
        return "not a hand-in's name (submit writes <UTC time>-<sha256 prefix>.ipynb)"
    if stat.S_ISLNK(info.st_mode):
        return "a link (collect follows none)"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid != owner:
        return f"owned by uid {info.st_uid}, not by the dropbox's owner (uid {owner})"
    if info.st_nlink != 1:
        return f"has {info.st_nlink} links (a hard link may be another student's file)"
    if info.st_size > MAX_BYTES:
        return f"{info.st_size} bytes, over the {MAX_BYTES}-byte limit"
    return ""


def _read(folder: int, name: str, expected: os.stat_result) -> bytes:
    fd = os.open(name, _OPEN_FILE, dir_fd=folder)
    try:
        info = os.fstat(fd)
        # The file opened must be the one checked (not swapped for another since).
        if (info.st_ino, info.st_dev) != (expected.st_ino, expected.st_dev) or not stat.S_ISREG(info.st_mode):
            raise OSError(f"{name} changed while it was being collected")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(MAX_BYTES + 1)[:MAX_BYTES]
    finally:
        os.close(fd)


def _write_new(path: Path, data: bytes, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_TRUNC if force else os.O_EXCL)
    with os.fdopen(os.open(path, flags, 0o644), "wb") as out:
        out.write(data)


def _check_out(out: Path, force: bool) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        fail("collect --out", "must be a folder", str(out), "pass a new folder's path.", raw=True)
    if out.is_dir() and any(out.iterdir()) and not force:
        fail(
            "collect --out",
            "must be empty or new: it holds an earlier collection (grades may have been made from it)",
            str(out),
            "pass a new folder, or --force to replace the notebooks and handins.csv in it.",
            raw=True,
        )
    out.mkdir(parents=True, exist_ok=True)


def collect(
    assignment: str,
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    due: datetime | None = None,
    force: bool = False,
) -> Collection:
    """Copy each student's latest hand-in of ``assignment`` from ``root`` into ``out``, with ``handins.csv``.

    Parameters
    ----------
    assignment
        The assignment name (e.g. ``"04_your_turn"``).
    root
        The hand-in root: one dropbox per student.
    out
        The folder to write: ``<student>.ipynb`` per hand-in, and ``handins.csv``.
    due
        The due time (timezone-aware); hand-ins after it are marked late.
    force
        Replace an earlier collection in ``out``.

    Returns
    -------
    Collection
        What was collected, refused and late; it prints as a report.
    """
    check_name("collect ASSIGNMENT", assignment, ASSIGNMENT_NAME)
    if due is not None and due.tzinfo is None:
        fail("collect(due)", "must carry a timezone", due, "pass e.g. datetime(..., tzinfo=UTC).")
    root, out = Path(root), Path(out)
    try:
        top = os.open(root, _OPEN_DIR)
    except OSError as error:
        fail(
            "collect --root",
            "must be the hub's hand-in folder (HUB_HANDIN), readable by you",
            f"{root} ({error.strerror})",
            "pass --root, and collect as the user the hub runs as (e.g. sudo mtl-teach collect ...).",
            raw=True,
        )
    handins: list[Handin] = []
    refused: list[Refusal] = []
    found: list[tuple[str, bytes]] = []
    seen: set[str] = set()  # assignment folders in the dropboxes, for the message when none is this one
    try:
        for student in _entries(top):
            if not STUDENT_NAME.fullmatch(student) or ".." in student:
                refused.append(Refusal(student, student, "not a student's name"))
                continue
            try:
                box = os.open(student, _OPEN_DIR, dir_fd=top)
            except PermissionError:
                fail(
                    "collect",
                    "must be able to read every dropbox",
                    f"{root / student} (permission denied)",
                    "collect as the user the hub runs as (e.g. sudo mtl-teach collect ...).",
                    raw=True,
                )
            except OSError as error:
                refused.append(Refusal(student, student, f"not a folder ({error.strerror})"))
                continue
            try:
                seen.update(_entries(box))
                owner = os.fstat(box).st_uid  # the hub made it for the student: theirs
                folder, name, versions = _latest(student, box, owner, assignment, refused)
            finally:
                os.close(box)
            if folder < 0 or not name:
                if folder >= 0:
                    os.close(folder)
                handins.append(Handin(student, None, 0))
                continue
            try:
                info = os.stat(name, dir_fd=folder, follow_symlinks=False)
                data = _read(folder, name, info)
            finally:
                os.close(folder)
            at = datetime.fromtimestamp(info.st_ctime_ns / 1e9, UTC)
            late = at - due if due is not None and at > due else None
            sha256 = hashlib.sha256(data).hexdigest()
            handins.append(Handin(student, at, versions, sha256, f"{student}/{assignment}/{name}", late))
            found.append((student, data))
    finally:
        os.close(top)
    if not found:
        fail(
            "collect ASSIGNMENT",
            f"has no hand-ins in {root} ({len(handins)} dropbox(es))",
            assignment,
            "check the assignment's name (the one stamped in the notebook, e.g. 04_your_turn)"
            + (f"; assignments handed in: {', '.join(sorted(seen))}" if seen else "")
            + ", and --root."
            + "".join(f" Refused {r.path}: {r.reason}." for r in refused),
        )
    _check_out(out, force)
    for student, data in found:
        _write_new(out / f"{student}.ipynb", data, force)
    collection = Collection(assignment, out, tuple(handins), tuple(refused), due)
    _write_csv(collection)
    return collection


def _write_csv(collection: Collection) -> None:
    notes: dict[str, list[str]] = {}
    for refusal in collection.refused:
        notes.setdefault(refusal.student, []).append(f"refused {refusal.path}: {refusal.reason}")
    path = collection.out / CSV_NAME
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for h in collection.handins:
            late = "" if collection.due is None or h.handed_in_at is None else ("yes" if h.late_by else "no")
            writer.writerow(
                [
                    h.student,
                    ""
                    if h.handed_in_at is None
                    else h.handed_in_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
                    late,
                    str(h.late_by) if h.late_by else "",
                    h.versions,
                    h.sha256,
                    h.source,
                    "; ".join(notes.get(h.student, ["no hand-in"] if h.handed_in_at is None else [])),
                ]
            )


def parse_due(text: str) -> datetime:
    """An ISO date-time (``2026-12-10T23:59``); without a timezone it is this machine's local time.

    Parameters
    ----------
    text
        What was given to ``--due``.
    """
    try:
        due = datetime.fromisoformat(text)
    except ValueError:
        fail("collect --due", "must be an ISO date and time", text, "pass e.g. --due 2026-12-10T23:59.")
    return due if due.tzinfo is not None else due.astimezone()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT", help="assignment name, e.g. 04_your_turn")
    parser.add_argument(
        "--root",
        default=os.environ.get("HUB_HANDIN", ".hub/handin"),
        help="the hub's hand-in folder (default: $HUB_HANDIN, else .hub/handin, where `make hub` keeps it)",
    )
    parser.add_argument("--out", help="folder to write (default: collected/ASSIGNMENT)")
    parser.add_argument("--due", type=parse_due, help="due time, e.g. 2026-12-10T23:59 (local time unless +HH:MM)")
    parser.add_argument("--force", action="store_true", help="replace an earlier collection in --out")


def run(args: argparse.Namespace) -> int:
    out = args.out or f"collected/{args.assignment}"
    print(collect(args.assignment, args.root, out, due=args.due, force=args.force))
    return 0
