"""The pieces every exercise shares: results, hints, and the question object.

A question's ``evaluate`` function looks at the answer and either returns a
success message or raises :class:`NotAttempted` / :class:`Incorrect` with a
message naming the mistake. :meth:`Question.check` turns that into a
:class:`CheckResult`; it never lets an exception escape.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from mtl_teach._validation import is_integer

CORRECT = "correct"
INCORRECT = "incorrect"
NOT_ATTEMPTED = "not_attempted"
_LABELS = {CORRECT: "Correct", INCORRECT: "Incorrect", NOT_ATTEMPTED: "Not attempted"}
_COLOURS = {CORRECT: "#1a7f37", INCORRECT: "#cf222e", NOT_ATTEMPTED: "#9a6700"}  # readable on white


# The seed of the "fresh data" a check scores a trained model on. In a notebook it is the check's
# public default; while the grader checks an answer in its own process it is a secret one, drawn per
# batch, so no kernel can know the points in advance (a lookup table of them would pass).
_FRESH_SEED: ContextVar[int | None] = ContextVar("fresh_seed", default=None)


def fresh_seed(default: int) -> int:
    """The seed for a check's fresh data: the grader's secret one while it grades, else ``default``."""
    return _FRESH_SEED.get() or default


@contextlib.contextmanager
def fresh_data(seed: int | None) -> Iterator[None]:
    """Within the block, checks score on fresh data drawn from ``seed`` (None: their public default)."""
    token = _FRESH_SEED.set(seed)
    try:
        yield
    finally:
        _FRESH_SEED.reset(token)


class NotAttempted(Exception):
    """Raised by an evaluate function: the answer is still the stub."""


class Incorrect(Exception):
    """Raised by an evaluate function: the answer is wrong; the message says how."""


def is_stub(value: Any) -> bool:
    """True for the values a stub leaves behind: None, ``NotImplemented``, ``...``, empty containers."""
    if value is None or value is NotImplemented or value is Ellipsis:
        return True
    if value is NotImplementedError or isinstance(value, NotImplementedError):
        return True
    return isinstance(value, dict | list | tuple | set | str) and len(value) == 0


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``status`` is correct, incorrect or not_attempted.

    Shown in colour in Jupyter and as one line of plain text elsewhere;
    ``bool(result)`` is true only when the answer is correct.
    """

    question: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == CORRECT

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, str]:
        return {"question": self.question, "status": self.status, "message": self.message}

    def __str__(self) -> str:
        return f"{_LABELS[self.status]} ({self.question}): {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = _COLOURS[self.status]
        return (
            f'<div style="border-left: 4px solid {colour}; padding: 0.2em 0.6em">'
            f'<span style="color: {colour}; font-weight: bold">{_LABELS[self.status]}</span> '
            f"<code>{html.escape(self.question)}</code>: {html.escape(self.message)}</div>"
        )


@dataclass(frozen=True)
class Feedback:
    """A hint or a solution: Markdown in Jupyter, plain text elsewhere."""

    title: str
    text: str
    code: str = ""

    def __str__(self) -> str:
        return f"{self.title}: {self.text}" + (f"\n\n{self.code}" if self.code else "")

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        block = f"\n\n```python\n{self.code}\n```" if self.code else ""
        return f"**{self.title}:** {self.text}{block}"


class Question:
    """One exercise question: ``check(answer...)``, ``hint(level)``, ``solution()``.

    Parameters
    ----------
    name
        Short name shown in results, e.g. ``"dataloader"``.
    evaluate
        ``f(*answers) -> success message``; raises :class:`NotAttempted` or
        :class:`Incorrect` with a message naming the mistake.
    hints
        Hints from gentle to explicit; ``hint(n)`` shows the n-th.
    solution_text, solution_code
        What :meth:`solution` shows.
    """

    def __init__(
        self, name: str, evaluate: Callable[..., str], hints: Sequence[str], solution_text: str, solution_code: str
    ) -> None:
        self.name = name
        self.evaluate = evaluate
        self.hints = tuple(hints)
        self.solution_text = solution_text
        self.solution_code = solution_code

    def check(self, *answers: Any) -> CheckResult:
        """Check the answer(s); never raises on a wrong answer, reports instead."""
        try:
            message = self.evaluate(*answers)
        except NotAttempted as error:
            return CheckResult(self.name, NOT_ATTEMPTED, str(error))
        except Incorrect as error:
            return CheckResult(self.name, INCORRECT, str(error))
        except Exception as error:  # a check must report, not crash the notebook
            return CheckResult(self.name, INCORRECT, f"checking your answer raised {type(error).__name__}: {error}")
        return CheckResult(self.name, CORRECT, message)

    def hint(self, level: int = 1) -> Feedback:
        """Return hint number ``level`` (1 = gentlest, up to ``len(self.hints)``)."""
        if not is_integer(level) or not 1 <= level <= len(self.hints):
            return Feedback(
                "Hint", f"hint(level) takes a level from 1 to {len(self.hints)}; got {level!r}. Try hint(1)."
            )
        more = f" (more: hint({level + 1}))" if level < len(self.hints) else ""
        return Feedback(f"Hint {level}/{len(self.hints)}", self.hints[level - 1] + more)

    def solution(self) -> Feedback:
        """Return the solution: an explanation and the code."""
        return Feedback("Solution", self.solution_text, self.solution_code)

    def __repr__(self) -> str:
        return f"Question({self.name!r}: check(...), hint(1..{len(self.hints)}), solution())"
