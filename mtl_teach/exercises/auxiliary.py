"""Self-checks for ``notebooks/10_your_turn_auxiliary.ipynb``: choose the auxiliary task and the trunk.

Usage in the notebook::

    from mtl_teach.exercises import auxiliary as q

    q.decision.check(model)   # model = build_shared_model(["circle_task", auxiliary], hidden=hidden)
    q.decision.hint()         # hint(2), hint(3) say more
    q.decision.solution()

``GRADED`` tells the batch grader, for each graded cell of the notebook,
which question it grades and which notebook variables are its answers.
"""

from __future__ import annotations

from mtl_teach.exercises._auxiliary_checks import MIN_GAIN, MIN_WINS, N_TARGET, SEEDS, evaluate_decision
from mtl_teach.exercises._core import Question

decision = Question(
    "decision",
    evaluate_decision,
    hints=[
        f"Which task's data could teach a shared trunk what the circle needs, when the circle has only {N_TARGET} "
        "points of its own? Think of the features each task's boundary is made of (notebooks 06 and 07).",
        "The inverted circle's boundary *is* the circle, so its 800 points teach the trunk exactly the circle's "
        "features; the square's and xor's teach other shapes. Then the trunk: on a small one the tasks crowd each "
        "other (notebook 07), and what the auxiliary task teaches needs room to be kept; try wider ones.",
        f"Measure before you answer: compare_sharing('circle_task', ['inv_circle_task'], seeds=range({len(SEEDS)}), "
        f"n_target={N_TARGET}, hidden=(32, 32)).summary(), then the same with (64, 64). The goal is a gain of at "
        f"least {100 * MIN_GAIN:.1f} points on average and wins on at least {MIN_WINS} seeds.",
    ],
    solution_text=(
        "The inverted circle, on a wide trunk: two layers of 64 units. Its 800 points shape the trunk around the "
        "very boundary the circle needs, and the circle head only has to read it; with 32 units the gain is about "
        "half as large. The square and xor need other features and cost the circle points instead."
    ),
    solution_code=(
        "auxiliary = 'inv_circle_task'\n"
        "hidden = (64, 64)\n"
        "model = build_shared_model(['circle_task', auxiliary], hidden=hidden)"
    ),
)

QUESTIONS = {q.name: q for q in (decision,)}

# graded cell id -> (question, notebook variables passed to its check, in order)
GRADED: dict[str, tuple[str, tuple[str, ...]]] = {
    "check_decision": ("decision", ("model",)),
}
