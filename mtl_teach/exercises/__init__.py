"""In-notebook self-checks for the exercises, in the style of Kaggle's learntools.

Each exercise module holds one object per question, e.g.::

    from mtl_teach.exercises import your_turn as q

    q.dataloader.check(inv_dataloader)   # a CheckResult, shown in colour
    q.dataloader.hint()                  # a nudge; hint(2) says more
    q.dataloader.solution()              # the answer

Answers are passed explicitly; a check never raises on a wrong answer, it
reports. The batch grader (:mod:`mtl_teach.grading`) runs the same checks in
a process the student's code never touched.
"""

from __future__ import annotations

from mtl_teach.exercises._core import CheckResult, Feedback, Question

__all__ = ["CheckResult", "Feedback", "Question"]
