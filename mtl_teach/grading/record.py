"""What grading one submission produced: a :class:`Record` of scored :class:`Item` s.

The grading worker builds a record, sends it to the batch as one JSON line,
and the batch appends that same line to its journal; every output
(``grades.csv``, feedback pages, Gradescope's ``results.json``) is written
from records read back with :meth:`Record.from_json`. One type end to end,
so a field added here reaches every output or none.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# status -> what the student reads
STATUS = {"passed": "passed", "failed": "incorrect", "not_attempted": "not attempted", "error": "did not run"}


@dataclass(frozen=True)
class Item:
    """One graded cell: its id, points earned of ``max_points``, status (a :data:`STATUS` key) and why.

    ``title``: the step the cell checks, as the notebook names it ("Step 1: the data and its loader").
    ``reference``: the earlier steps that did not pass, whose reference answers this step was graded on
    (each step is graded on its own; see :mod:`mtl_teach.grading.submission`).
    """

    grade_id: str
    max_points: int
    points: int
    status: str
    message: str
    title: str = ""
    reference: tuple[str, ...] = ()

    @classmethod
    def scored(cls, grade_id: str, max_points: int, status: str, message: str) -> Item:
        """All the points when ``status`` is ``passed``, none otherwise (nbgrader's all-or-nothing cells)."""
        return cls(grade_id, max_points, max_points if status == "passed" else 0, status, message)

    @property
    def name(self) -> str:
        """The title, or the grade id where the notebook gives none."""
        return self.title or self.grade_id


@dataclass(frozen=True)
class Record:
    """One submission's grade.

    ``notes`` go to the student (limits hit, cells the grader could not
    place, ...); ``errors`` list the cells that raised, as the feedback may
    show them; ``fault`` says why the grader itself failed on the submission
    ("" when it did not): such a record is not a score (:attr:`scored` is
    False, its items are 0 only as placeholders), the outputs say "not
    graded", and ``--resume`` grades it again; ``sandbox`` is False under
    ``--no-sandbox``.
    """

    student: str
    submission: str
    assignment: str
    sha256: str
    items: tuple[Item, ...]
    notes: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    sandbox: bool = True
    fault: str = ""
    limits: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def __repr__(self) -> str:
        score = f"{self.total}/{self.max_score}" if self.scored else "not scored"
        return f"Record({self.student!r}, {score}, {len(self.items)} items)"

    @property
    def scored(self) -> bool:
        """False when the grader failed on this submission: its items are no grade."""
        return not self.fault

    @property
    def grader_failed(self) -> bool:
        return bool(self.fault)

    @property
    def total(self) -> int:
        return sum(item.points for item in self.items)

    @property
    def max_score(self) -> int:
        return sum(item.max_points for item in self.items)

    def to_json(self) -> str:
        """One line of JSON; ``total`` and ``max_score`` included for anyone reading the journal by hand."""
        extra = {"total": self.total, "max_score": self.max_score, "grader_failed": self.grader_failed}
        return json.dumps({**asdict(self), **extra}, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Record | None:
        """The record on one journal line, or None for a torn or foreign line.

        Lines of earlier versions are read too: signed ones (``{"record", "sig"}``),
        ones without today's optional fields, and ``grader_failed`` without a ``fault``.
        """
        try:
            data = json.loads(line)
            if isinstance(data, dict) and set(data) == {"record", "sig"}:
                data = json.loads(data["record"])
            if not isinstance(data, dict) or not isinstance(data.get("student"), str):
                return None
            items = tuple(
                Item(
                    str(i["grade_id"]),
                    int(i["max_points"]),
                    int(i["points"]),
                    str(i["status"]),
                    str(i["message"]),
                    str(i.get("title", "")),
                    tuple(map(str, i.get("reference", ()))),
                )
                for i in data["items"]
            )
            if any(item.status not in STATUS for item in items):
                return None
            return cls(
                student=data["student"],
                submission=str(data.get("submission", "")),
                assignment=str(data.get("assignment", "")),
                sha256=str(data.get("sha256", "")),
                items=items,
                notes=tuple(map(str, data.get("notes", ()))),
                errors=tuple(map(str, data.get("errors", ()))),
                sandbox=bool(data.get("sandbox", False)),
                fault=str(data.get("fault") or ("the grader failed" if data.get("grader_failed") else "")),
                limits=dict(data.get("limits") or {}),
                seconds=float(data.get("seconds", 0.0)),
            )
        except (ValueError, TypeError, KeyError):
            return None
