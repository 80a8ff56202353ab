"""Self-checks for ``notebooks/09_your_turn_pcgrad.ipynb``: implement PCGrad and train with it.

Usage in the notebook::

    from mtl_teach.exercises import pcgrad as q

    q.project.check(project_conflicting)
    q.pcgrad.check(my_pcgrad)
    q.training.check(trainer, model, my_pcgrad)

``GRADED`` is empty on purpose. The batch grader re-runs a question's check
in its own process on answers exported as plain data (tensors, models,
loaders); a function cannot be exported that way without running the
student's code in the grader. So this assignment's graded cells are scored
by nbgrader's rule: their hidden tests (the same checks) must pass in the
student's kernel.
"""

from __future__ import annotations

from mtl_teach.exercises._core import Question
from mtl_teach.exercises._pcgrad_checks import evaluate_pcgrad, evaluate_project, evaluate_training

project = Question(
    "project",
    evaluate_project,
    hints=[
        "First decide whether to project at all: PCGrad changes g1 only when the two gradients conflict, that is when their dot product g1 @ g2 is negative.",
        "To remove from g1 its component along g2, subtract (g1 . g2) / (g2 . g2) times g2. The denominator is the SQUARED norm of g2, and the vector removed is g2.",
        "if g1 @ g2 < 0: return g1 - (g1 @ g2) / (g2 @ g2) * g2; else return g1. Never write into g1 (no g1 -= ...): build a new tensor.",
    ],
    solution_text="Project only on a conflict; remove g1's component along g2, dividing by |g2|^2; return a new tensor.",
    solution_code=(
        "def project_conflicting(g1, g2):\n"
        "    dot = g1 @ g2\n"
        "    if dot < 0:  # they conflict\n"
        "        return g1 - dot / (g2 @ g2) * g2\n"
        "    return g1"
    ),
)

pcgrad = Question(
    "pcgrad",
    evaluate_pcgrad,
    hints=[
        "Each row of G is one task's gradient. Treat each row i in turn: start from G[i] and project it against every OTHER row j with project_conflicting.",
        "Always project against the original rows G[j] (not rows you already changed), taking j = 0, 1, ... in order and skipping j == i. Then add up the projected rows.",
        "rows = []; for i in range(len(G)): g = G[i]; for j in range(len(G)): if j != i: g = project_conflicting(g, G[j]); rows.append(g). Return torch.stack(rows).sum(dim=0).",
    ],
    solution_text="Project each task's gradient against every other task's original gradient, then sum (the paper's convention).",
    solution_code=(
        "def my_pcgrad(G):\n"
        "    projected = []\n"
        "    for i in range(len(G)):\n"
        "        g = G[i]\n"
        "        for j in range(len(G)):\n"
        "            if j != i:\n"
        "                g = project_conflicting(g, G[j])\n"
        "        projected.append(g)\n"
        "    return torch.stack(projected).sum(dim=0)"
    ),
)

training = Question(
    "training",
    evaluate_training,
    hints=[
        "The Trainer takes your function as its weighting: it calls it on every batch with the matrix G of the tasks' gradients on the shared trunk.",
        "trainer = Trainer(progress_bar=False, n_epochs=10, seed=0, weighting=my_pcgrad), then trainer.fit(model, loaders).",
    ],
    solution_text="Pass the function itself (no parentheses) as the weighting, and fit on loaders whose batches carry both tasks' labels.",
    solution_code=(
        "trainer = Trainer(progress_bar=False, n_epochs=10, seed=0, weighting=my_pcgrad)\ntrainer.fit(model, loaders)"
    ),
)

QUESTIONS = {q.name: q for q in (project, pcgrad, training)}

# No trusted re-check for functions (see the module docstring): hidden tests decide.
GRADED: dict[str, tuple[str, tuple[str, ...]]] = {}
