"""Text the grader did not write: what may reach a student, and what may reach the instructor's terminal.

The rule for students: **no text produced by a kernel that held hidden tests
or the answer key reaches a student.** A kernel that held them can re-encode
them (rot13, base64, one character per exception...) so no filter on the
text can tell; what decides is what the kernel held when it produced it:

- The first run of a submission holds neither when every graded cell has a
  trusted check in the grader (:mod:`mtl_teach.exercises`'s ``GRADED``): the
  grader sends the kernel the check cells as the student copy has them, with
  their hidden tests left out (the grader's own check decides the points).
  Its error messages are shown (with every line of the source's hidden tests
  and solutions redacted as well, :func:`redact`).
- A graded cell with no trusted check is scored by its hidden tests, which
  then run in the kernel: from that cell on, a cell's error is shown only as
  a name from Python's and mtl_teach's own exception names
  (:func:`withheld`), never its message.
- A rerun that grades a step on its own runs the answer key: only the
  grader's own verdicts (passed or not, with the grader's wording) come from
  it; see :mod:`mtl_teach.grading.submission`.

What still leaves a kernel either way: its score, and which of a fixed set
of exception names a cell raised.

For the terminal: :func:`printable` escapes control and format characters,
so a file name or a kernel's message cannot move the cursor, clear the
screen or fake a line of output.
"""

from __future__ import annotations

import builtins
import unicodedata

# Exception names the feedback may show for a cell of a kernel that held secrets: the grader's own copies.
EXCEPTION_NAMES = frozenset(
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
) | {"MTLConfigError", "ModuleNotFoundError"}
WITHHELD = "its message is not shown: this kernel held hidden tests or the answer key"


def redact(text: str, lines: list[str]) -> str:
    """``text`` with every line of ``lines`` in it replaced by ``[hidden]`` (verbatim copies only)."""
    for line in lines:
        if line in text:
            text = text.replace(line, "[hidden]")
    return text


def withheld(reason: str) -> str:
    """What the feedback says of a cell that raised ``reason`` ("ename: evalue") in a kernel that held secrets."""
    name = reason.split(":", 1)[0].strip()
    return f"{name if name in EXCEPTION_NAMES else 'an exception'} ({WITHHELD})"


def printable(text: str) -> str:
    """``text`` with control and format characters escaped (``\\x1b``, ``\\n``, ``\\u202e``): safe on a terminal."""
    return "".join(
        char
        if char == " " or unicodedata.category(char)[0] not in ("C", "Z")
        else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def printable_lines(text: str) -> str:
    """:func:`printable` for each line of ``text``, keeping its line breaks and tabs."""
    return "\n".join(printable(line).replace("\\t", "\t") for line in text.split("\n"))
