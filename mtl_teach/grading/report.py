"""Write grades: a signed journal (for --resume), grades.csv, HTML feedback, Gradescope JSON.

Every output is rebuilt from the journal, which only the grader's process
writes, one line per finished submission, each signed with a key kept in
the output folder. A file a student's code drops into the folder is
overwritten, and a forged journal line fails its signature.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import html
import io
import json
import os
import secrets
from pathlib import Path
from typing import Any

STATE = ".mtl-grade"
_STATUS = {"passed": "passed", "failed": "incorrect", "not_attempted": "not attempted", "error": "did not run"}


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Journal:
    """Append-only record of graded submissions in ``out/.mtl-grade/journal.jsonl``."""

    def __init__(self, out: Path) -> None:
        self.folder = out / STATE
        self.folder.mkdir(parents=True, exist_ok=True)
        key_file = self.folder / "key"
        if not key_file.exists():
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        self.key = key_file.read_text().strip().encode()
        self.path = self.folder / "journal.jsonl"

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def _sign(self, payload: str) -> str:
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()

    def append(self, record: dict[str, Any]) -> None:
        payload = json.dumps(record, sort_keys=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"record": payload, "sig": self._sign(payload)}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def records(self) -> dict[str, dict[str, Any]]:
        """The latest validly signed record of each student."""
        latest: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return latest
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
                payload = entry["record"]
                if hmac.compare_digest(self._sign(payload), str(entry["sig"])):
                    record = json.loads(payload)
                    latest[record["student"]] = record
            except (ValueError, KeyError, TypeError):
                continue  # a torn or foreign line
        return latest


def gradescope(record: dict[str, Any]) -> dict[str, Any]:
    """The Gradescope autograder ``results.json`` for one record."""
    tests = [
        {
            "name": item["grade_id"],
            "score": item["points"],
            "max_score": item["max_points"],
            "output": f"{_STATUS[item['status']]}: {item['message']}",
            "visibility": "visible",
        }
        for item in record["items"]
    ]
    return {
        "score": record["total"],
        "output": "\n".join([*record["notes"], *record.get("errors", [])]),
        "tests": tests,
        "extra_data": {"assignment": record["assignment"], "sha256": record["sha256"]},
    }


def feedback_html(record: dict[str, Any]) -> str:
    """A self-contained HTML page: each item, its points, and its message."""
    e = html.escape
    colours = {"passed": "#1a7f37", "failed": "#cf222e", "not_attempted": "#9a6700", "error": "#cf222e"}
    rows = "".join(
        f"<tr><td><code>{e(i['grade_id'])}</code></td><td>{i['points']} / {i['max_points']}</td>"
        f'<td style="color:{colours[i["status"]]}">{e(_STATUS[i["status"]])}</td><td>{e(i["message"])}</td></tr>'
        for i in record["items"]
    )
    notes = "".join(f"<li>{e(n)}</li>" for n in [*record["notes"], *record.get("errors", [])])
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Feedback: {e(record["student"])}</title></head>'
        f'<body style="font-family: sans-serif"><h1>{e(record["assignment"])}: {e(record["student"])}</h1>'
        f"<p><b>Score: {record['total']} / {record['max_score']}</b></p>"
        f'<table border="1" cellpadding="4" style="border-collapse: collapse"><tr><th>Item</th><th>Points</th><th>Result</th><th>Message</th></tr>{rows}</table>'
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + "</body></html>"
    )


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no spreadsheet formulas


def grades_csv(records: dict[str, dict[str, Any]], item_ids: list[str]) -> str:
    """``student,total,max_score,<item>...``, one row per student, sorted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "total", "max_score", *item_ids])
    for student in sorted(records):
        record = records[student]
        points = {item["grade_id"]: item["points"] for item in record["items"]}
        writer.writerow([_cell(student), record["total"], record["max_score"], *(points.get(i, 0) for i in item_ids)])
    return buffer.getvalue()


def write_outputs(
    out: Path, records: dict[str, dict[str, Any]], item_ids: list[str], students: list[str] | None = None
) -> None:
    """(Re)write grades.csv and, for ``students`` (default all), their feedback and results.json."""
    for student in records if students is None else students:
        record = records[student]
        _atomic_write(out / "feedback" / f"{student}.html", feedback_html(record))
        _atomic_write(out / "results" / student / "results.json", json.dumps(gradescope(record), indent=1))
    _atomic_write(out / "grades.csv", grades_csv(records, item_ids))
