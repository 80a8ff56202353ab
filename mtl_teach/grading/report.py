"""Write grades: a journal (for --resume), grades.csv, HTML feedback, Gradescope JSON.

Every output is rebuilt from the journal, which only the grader's process
writes, one line per finished submission. Sandboxed kernels cannot see the
output folder at all; without the sandbox, a file a student's code drops into
the folder is overwritten, and lines it adds to the journal are dropped.
Every file is written through :class:`~mtl_teach.grading.from_kernel.fs.Folder`
(exclusive temporary files renamed into place, no link followed), under a
folder name made safe from the student's name (:func:`folder_name`: a file
named ``...ipynb`` is student ``..``, which must not write outside
``results/``).

A record the grader failed on (``Record.fault``) is no grade: its row in
``grades.csv`` has no points, its feedback page says it was not graded, and
it has no ``results.json`` (Gradescope would take one as a score).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
import secrets
from pathlib import Path
from typing import Any

from mtl_teach.grading.from_kernel.fs import Folder
from mtl_teach.grading.from_kernel.text import printable
from mtl_teach.grading.record import STATUS, Record

STATE = ".mtl-grade"
JOURNAL = "journal.jsonl"
MAX_JOURNAL_BYTES = 512 * 2**20
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def folder_name(student: str) -> str:
    """The name of ``student``'s files under ``results/`` and ``feedback/``: their own name when it is plain.

    Anything else (``..``, a path separator, control characters, spaces,
    non-ASCII letters) becomes a safe form with a short hash of the real
    name, so two students never share a folder.
    """
    if _PLAIN.fullmatch(student) and not student.endswith("."):
        return student
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._-")[:60] or "student"
    digest = hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{cleaned}-{digest}"


class Journal:
    """Append-only record of graded submissions in ``out/.mtl-grade/journal.jsonl``, one JSON record a line.

    The lines are read once and kept in memory; that copy is the truth. The
    journal is not signed: a key a kernel could read would add code, not
    protection. Instead the sandbox (:mod:`~mtl_teach.grading.sandbox`) keeps
    every kernel away from the output folder, and with ``--no-sandbox``
    (trusted code only) the file is still put back to exactly what this
    process wrote before each append and by :meth:`restore` at the end of a
    batch, dropping anything else.

    The state folder also keeps the batch's secret seed for the checks'
    fresh data (:meth:`fresh_seed`) and where its scratch folder is
    (:meth:`scratch_path`), so ``--resume`` after ``kill -9`` removes it.
    """

    def __init__(self, out: Path) -> None:
        self.out = Folder.create_path(out)
        self.state = self.out.sub(STATE, 0o700)
        self.folder = out / STATE
        self.path = self.folder / JOURNAL
        self.state.discard("key")  # left by versions that signed their lines
        self._lines = [line for line in self._read().splitlines() if Record.from_json(line) is not None]
        self.tampered = False  # set once foreign lines have been removed

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, {len(self._lines)} records)"

    def close(self) -> None:
        self.state.close()
        self.out.close()

    def _read(self) -> str:
        try:
            return self.state.read(JOURNAL, MAX_JOURNAL_BYTES).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def restore(self) -> bool:
        """Put the file back to exactly the lines this process knows; True if it had been changed."""
        expected = "".join(f"{line}\n" for line in self._lines)
        try:
            if self._read() == expected:
                return False
        except OSError:  # replaced by a link, a folder, something huge: rewritten below
            pass
        self.state.replace(JOURNAL, expected.encode("utf-8"), 0o600)
        self.tampered = True
        return True

    def append(self, record: Record) -> None:
        line = record.to_json()
        self.restore()
        self.state.append(JOURNAL, (line + "\n").encode("utf-8"))
        self._lines.append(line)

    def records(self) -> dict[str, Record]:
        """The latest record of each student, from the lines this process trusts."""
        latest: dict[str, Record] = {}
        for line in self._lines:
            record = Record.from_json(line)
            if record is not None:
                latest[record.student] = record
        return latest

    def fresh_seed(self) -> int:
        """The batch's secret seed for the checks' "fresh data": drawn once, then kept for ``--resume``."""
        try:
            return int(self.state.read("fresh-seed", 64).decode())
        except (OSError, ValueError):
            seed = 10**6 + secrets.randbelow(2**31 - 10**6)  # never a notebook's own small seeds
            self.state.replace("fresh-seed", str(seed).encode(), 0o600)
            return seed

    def scratch_path(self, path: Path | None = None) -> Path | None:
        """Where the last run's scratch folder was (None if unknown); with ``path``, record it instead."""
        if path is not None:
            self.state.replace("scratch-path", str(path).encode(), 0o600)
            return path
        try:
            return Path(self.state.read("scratch-path", 4096).decode().strip())
        except (OSError, ValueError):
            return None


def gradescope(record: Record) -> dict[str, Any]:
    """The Gradescope autograder ``results.json`` for one (scored) record.

    Each graded item is a test with ``name``, ``score``, ``max_score``,
    ``status`` (``"passed"`` or ``"failed"``), ``output`` and ``visibility``.
    """
    tests = [
        {
            "name": item.name,
            "tags": [item.grade_id],
            "score": item.points,
            "max_score": item.max_points,
            "status": "passed" if item.status == "passed" else "failed",
            "output": f"{STATUS[item.status]}: {item.message}",
            "visibility": "visible",
        }
        for item in record.items
    ]
    return {
        "score": record.total,
        "output": "\n".join([summary(record), *record.notes, *record.errors]),
        "tests": tests,
        "extra_data": {"assignment": record.assignment, "sha256": record.sha256},
    }


def summary(record: Record) -> str:
    """One line a student reads first: the score, and which steps still need work."""
    if not record.scored:
        return f"Not graded yet: the grader failed on your submission ({record.fault}). Your instructor will grade it again."
    passed = sum(item.status == "passed" for item in record.items)
    line = f"Score {record.total}/{record.max_score}: {passed} of {len(record.items)} steps passed."
    missed = [f"{item.name} ({STATUS[item.status]})" for item in record.items if item.status != "passed"]
    return line + (f" To work on: {'; '.join(missed)}." if missed else "")


def feedback_html(record: Record) -> str:
    """A self-contained HTML page: each item, its points, and its message (or why it was not graded)."""
    e = html.escape
    head = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Feedback: {e(printable(record.student))}</title></head>'
        f'<body style="font-family: sans-serif"><h1>{e(record.assignment)}: {e(printable(record.student))}</h1>'
    )
    if not record.scored:
        return head + f"<p><b>{e(summary(record))}</b></p></body></html>"
    colours = {"passed": "#1a7f37", "failed": "#cf222e", "not_attempted": "#9a6700", "error": "#cf222e"}
    rows = "".join(
        f"<tr><td>{e(i.name)}<br><small><code>{e(i.grade_id)}</code></small></td><td>{i.points} / {i.max_points}</td>"
        f'<td style="color:{colours[i.status]}">{e(STATUS[i.status])}</td><td>{e(i.message)}</td></tr>'
        for i in record.items
    )
    notes = "".join(f"<li>{e(n)}</li>" for n in [*record.notes, *record.errors])
    return (
        head + f"<p><b>Score: {record.total} / {record.max_score}</b></p><p>{e(summary(record))}</p>"
        f'<table border="1" cellpadding="4" style="border-collapse: collapse"><tr><th>Step</th><th>Points</th><th>Result</th><th>Message</th></tr>{rows}</table>'
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + "</body></html>"
    )


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no spreadsheet formulas


def grades_csv(records: dict[str, Record], item_ids: list[str]) -> str:
    """``student,assignment,total,max_score,<item>...,sandboxed``, one row per student, sorted.

    ``item_ids`` are the grade ids of every assignment in the batch, in order;
    a row fills those of its own assignment. A submission the grader failed
    on has no points (empty cells): it is not graded yet. Names are escaped
    like on the terminal (a file name may hold control characters). ``sandboxed`` is
    ``yes`` when the student's kernel ran in the sandbox, ``no`` under ``--no-sandbox``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "assignment", "total", "max_score", *item_ids, "sandboxed"])
    for student in sorted(records):
        record = records[student]
        points = {item.grade_id: item.points for item in record.items} if record.scored else {}
        own = {item.grade_id for item in record.items}
        total = record.total if record.scored else ""
        row = [_cell(printable(student)), _cell(record.assignment), total, record.max_score]
        row += [points.get(i, "") if i in own else "" for i in item_ids]
        writer.writerow([*row, "yes" if record.sandbox else "no"])
    return buffer.getvalue()


def write_outputs(
    out: Path, records: dict[str, Record], item_ids: list[str], students: list[str] | None = None
) -> None:
    """(Re)write grades.csv and, for ``students`` (default all), their feedback and results.json."""
    with (
        Folder.create_path(out) as folder,
        folder.sub("feedback") as feedback,
        folder.sub("results") as results,
    ):
        for student in records if students is None else students:
            record, name = records[student], folder_name(student)
            feedback.replace(f"{name}.html", feedback_html(record).encode("utf-8"))
            with results.sub(name) as own:
                if record.scored:
                    own.replace("results.json", json.dumps(gradescope(record), indent=1).encode("utf-8"))
                else:
                    own.discard("results.json")  # no score to upload until it is graded again
        folder.replace("grades.csv", grades_csv(records, item_ids).encode("utf-8"))
