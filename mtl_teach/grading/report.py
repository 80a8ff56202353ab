"""Write grades: a journal (for --resume), grades.csv, HTML feedback, Gradescope JSON.

Every output is rebuilt from the journal, which only the grader's process
writes, one line per finished submission. Sandboxed kernels cannot see the
output folder at all; without the sandbox, a file a student's code drops into
the folder is overwritten, and lines it adds to the journal are dropped.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
from pathlib import Path
from typing import Any

from mtl_teach.grading.record import STATUS, Record

STATE = ".mtl-grade"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Journal:
    """Append-only record of graded submissions in ``out/.mtl-grade/journal.jsonl``, one JSON record a line.

    The lines are read once and kept in memory; that copy is the truth. The
    journal is not signed: a key a kernel could read would add code, not
    protection. Instead the sandbox (:mod:`~mtl_teach.grading.sandbox`) keeps
    every kernel away from the output folder, and with ``--no-sandbox``
    (trusted code only) the file is still put back to exactly what this
    process wrote before each append and by :meth:`restore` at the end of a
    batch, dropping anything else.
    """

    def __init__(self, out: Path) -> None:
        self.folder = out / STATE
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "key").unlink(missing_ok=True)  # left by versions that signed their lines
        self.path = self.folder / "journal.jsonl"
        self._lines = [line for line in self._read().splitlines() if Record.from_json(line) is not None]
        self.tampered = False  # set once foreign lines have been removed

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, {len(self._lines)} records)"

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def restore(self) -> bool:
        """Put the file back to exactly the lines this process knows; True if it had been changed."""
        expected = "".join(f"{line}\n" for line in self._lines)
        if self._read() == expected:
            return False
        _atomic_write(self.path, expected)
        self.tampered = True
        return True

    def append(self, record: Record) -> None:
        line = record.to_json()
        self.restore()
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._lines.append(line)

    def records(self) -> dict[str, Record]:
        """The latest record of each student, from the lines this process trusts."""
        latest: dict[str, Record] = {}
        for line in self._lines:
            record = Record.from_json(line)
            if record is not None:
                latest[record.student] = record
        return latest


def gradescope(record: Record) -> dict[str, Any]:
    """The Gradescope autograder ``results.json`` for one record.

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
    passed = sum(item.status == "passed" for item in record.items)
    line = f"Score {record.total}/{record.max_score}: {passed} of {len(record.items)} steps passed."
    missed = [f"{item.name} ({STATUS[item.status]})" for item in record.items if item.status != "passed"]
    return line + (f" To work on: {'; '.join(missed)}." if missed else "")


def feedback_html(record: Record) -> str:
    """A self-contained HTML page: each item, its points, and its message."""
    e = html.escape
    colours = {"passed": "#1a7f37", "failed": "#cf222e", "not_attempted": "#9a6700", "error": "#cf222e"}
    rows = "".join(
        f"<tr><td>{e(i.name)}<br><small><code>{e(i.grade_id)}</code></small></td><td>{i.points} / {i.max_points}</td>"
        f'<td style="color:{colours[i.status]}">{e(STATUS[i.status])}</td><td>{e(i.message)}</td></tr>'
        for i in record.items
    )
    notes = "".join(f"<li>{e(n)}</li>" for n in [*record.notes, *record.errors])
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Feedback: {e(record.student)}</title></head>'
        f'<body style="font-family: sans-serif"><h1>{e(record.assignment)}: {e(record.student)}</h1>'
        f"<p><b>Score: {record.total} / {record.max_score}</b></p><p>{e(summary(record))}</p>"
        f'<table border="1" cellpadding="4" style="border-collapse: collapse"><tr><th>Step</th><th>Points</th><th>Result</th><th>Message</th></tr>{rows}</table>'
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + "</body></html>"
    )


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no spreadsheet formulas


def grades_csv(records: dict[str, Record], item_ids: list[str]) -> str:
    """``student,total,max_score,<item>...,sandboxed``, one row per student, sorted.

    ``sandboxed`` is ``yes`` when the student's kernel ran in the sandbox, ``no`` under ``--no-sandbox``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "total", "max_score", *item_ids, "sandboxed"])
    for student in sorted(records):
        record = records[student]
        points = {item.grade_id: item.points for item in record.items}
        sandboxed = "yes" if record.sandbox else "no"
        row = [_cell(student), record.total, record.max_score, *(points.get(i, 0) for i in item_ids)]
        writer.writerow([*row, sandboxed])
    return buffer.getvalue()


def write_outputs(
    out: Path, records: dict[str, Record], item_ids: list[str], students: list[str] | None = None
) -> None:
    """(Re)write grades.csv and, for ``students`` (default all), their feedback and results.json."""
    for student in records if students is None else students:
        record = records[student]
        _atomic_write(out / "feedback" / f"{student}.html", feedback_html(record))
        _atomic_write(out / "results" / student / "results.json", json.dumps(gradescope(record), indent=1))
    _atomic_write(out / "grades.csv", grades_csv(records, item_ids))
