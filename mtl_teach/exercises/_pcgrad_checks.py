"""The checks behind :mod:`mtl_teach.exercises.pcgrad`: each names the mistake it sees.

A wrong answer is compared with the answers the usual mistakes give
(:func:`_project_variant`): projecting when the gradients agree, projecting
onto the wrong vector, dividing by ``|g2|`` instead of ``|g2|^2``, returning
the projected matrix instead of its sum. Inputs are passed as copies and
compared afterwards, to catch an answer that modifies them in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from mtl_teach.exercises._core import Incorrect, NotAttempted, fresh_seed, is_stub

# Two gradients that conflict (g1 . g2 = -2 < 0), with |g2|^2 = 8 != |g2|, and two that agree.
G1 = torch.tensor([1.0, 0.0, 2.0])
G2_CONFLICT = torch.tensor([-2.0, 2.0, 0.0])
G2_AGREE = torch.tensor([2.0, 2.0, 0.0])
# Three tasks: rows 0 and 1 conflict, rows 1 and 2 conflict, rows 0 and 2 agree.
G3 = torch.tensor([[1.0, 0.0, 2.0], [-2.0, 2.0, 0.0], [0.0, -1.0, 1.0]])


def _project_variant(g1: torch.Tensor, g2: torch.Tensor, mistake: str | None = None) -> torch.Tensor:
    """PCGrad's projection of ``g1`` against ``g2``, or what a named mistake gives instead."""
    dot = g1 @ g2
    if mistake == "always" or dot < 0:
        if mistake == "norm":  # divided by |g2|, not |g2|^2
            return g1 - dot / g2.norm() * g2
        if mistake == "vector":  # removed g1's component along g1 itself
            return g1 - dot / (g1 @ g1) * g1
        if mistake == "other":  # projected g2 against g1 instead
            return g2 - dot / (g1 @ g1) * g1
        return g1 - dot / (g2 @ g2) * g2
    return g1


def _pcgrad_variant(G: torch.Tensor, mistake: str | None = None) -> torch.Tensor:
    """PCGrad on ``G`` (each row projected against the ORIGINAL other rows, in order), summed; or a mistake's result."""
    rows = []
    for i in range(len(G)):
        g = G[i]
        for j in range(len(G)):
            if j != i:
                g = _project_variant(g, G[j], mistake if mistake in ("always", "norm", "vector") else None)
        rows.append(g)
    projected = torch.stack(rows)  # (tasks, params)
    if mistake == "matrix":
        return projected
    if mistake == "mean":
        return projected.mean(dim=0)
    if mistake == "none":
        return G.sum(dim=0)
    return projected.sum(dim=0)


def _call(fn: Any, name: str, *args: torch.Tensor) -> tuple[Any, bool]:
    """``fn(*copies of args)``; and whether it changed any of them."""
    if is_stub(fn):
        raise NotAttempted(f"{name} is still None: write the function, then run this cell again.")
    if not callable(fn):
        raise Incorrect(f"{name} must be a function; got a {type(fn).__name__}.")
    copies = [a.clone() for a in args]
    try:
        result = fn(*copies)
    except NotImplementedError:
        raise NotAttempted(f"{name} still raises NotImplementedError: replace it with your code.") from None
    changed = any(not torch.equal(c, a) for c, a in zip(copies, args, strict=True))
    return result, changed


def _close(result: Any, expected: torch.Tensor) -> bool:
    return (
        isinstance(result, torch.Tensor)
        and result.shape == expected.shape
        and torch.allclose(result.detach().double(), expected.double(), atol=1e-5)
    )


def _shown(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return str([round(v, 4) for v in value.detach().double().flatten().tolist()])
    return f"a {type(value).__name__}"


IN_PLACE = (
    "your function changed its input: {what} was modified in place (by -=, +=, or writing into a slice). "
    "The Trainer still needs the original gradients; compute a new tensor instead (g1 - ..., or g = g.clone() first)."
)


def evaluate_project(project: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """Check ``project(g1, g2)``: ``g1`` without its component along ``g2`` if they conflict, else ``g1``."""
    name = "project_conflicting"
    agree, changed = _call(project, name, G1, G2_AGREE)
    if changed:
        raise Incorrect(IN_PLACE.format(what="g1 or g2"))
    conflict, changed = _call(project, name, G1, G2_CONFLICT)
    if changed:
        raise Incorrect(IN_PLACE.format(what="g1 or g2"))
    for result in (agree, conflict):
        if not isinstance(result, torch.Tensor) or result.shape != G1.shape:
            raise Incorrect(f"{name} must return a tensor shaped like g1, {tuple(G1.shape)}; got {_shown(result)}.")
    if not _close(agree, G1):
        raise Incorrect(
            f"g1 = {_shown(G1)} and g2 = {_shown(G2_AGREE)} agree (g1 . g2 = 2 > 0), so PCGrad leaves g1 unchanged; "
            f"you returned {_shown(agree)}. Project only when g1 . g2 < 0."
        )
    expected = _project_variant(G1, G2_CONFLICT)
    if _close(conflict, expected):
        return (
            f"g1 = {_shown(G1)} against g2 = {_shown(G2_CONFLICT)} gives {_shown(expected)}, at right angles to g2; "
            "agreeing gradients are left alone, and your inputs are untouched."
        )
    if _close(conflict, G1):
        raise Incorrect(
            f"g1 = {_shown(G1)} and g2 = {_shown(G2_CONFLICT)} conflict (g1 . g2 = -2 < 0), but you returned g1 "
            "unchanged. Remove from g1 its component along g2."
        )
    if _close(conflict, _project_variant(G1, G2_CONFLICT, "norm")):
        raise Incorrect(
            "you divided by the norm |g2|; the projection divides by the SQUARED norm |g2|^2 = g2 . g2 "
            "(g1 - (g1 . g2) / (g2 . g2) * g2), which makes the result exactly at right angles to g2."
        )
    if _close(conflict, _project_variant(G1, G2_CONFLICT, "vector")) or _close(
        conflict, _project_variant(G1, G2_CONFLICT, "other")
    ):
        raise Incorrect(
            "you projected onto the wrong vector: PCGrad removes from g1 its component along g2, "
            "g1 - (g1 . g2) / (g2 . g2) * g2 (g2 in the denominator and as the direction removed)."
        )
    raise Incorrect(
        f"for g1 = {_shown(G1)} and g2 = {_shown(G2_CONFLICT)} expected {_shown(expected)}, got {_shown(conflict)}. "
        "The result must be at right angles to g2: check that (result . g2) is 0."
    )


def evaluate_pcgrad(pcgrad_fn: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """Check ``my_pcgrad(G)`` on a 2-task and a 3-task ``G`` against PCGrad with the tasks in order."""
    name = "my_pcgrad"
    for G in (torch.stack([G1, G2_CONFLICT]), G3, torch.stack([G1, G2_AGREE])):
        result, changed = _call(pcgrad_fn, name, G)
        if changed:
            raise Incorrect(IN_PLACE.format(what="G"))
        expected = _pcgrad_variant(G)
        if _close(result, expected):
            continue
        shown = "For G with rows " + ", ".join(_shown(row) for row in G) + ","
        if _close(result, _pcgrad_variant(G, "matrix")):
            raise Incorrect(
                f"{shown} you returned the projected rows, shape {tuple(G.shape)}; return their SUM, shape ({G.shape[1]},)."
            )
        if _close(result, _pcgrad_variant(G, "mean")):
            raise Incorrect(f"{shown} you returned the mean of the projected rows; PCGrad returns their sum.")
        if _close(result, _pcgrad_variant(G, "always")):
            raise Incorrect(
                f"{shown} you projected rows that agree too; project row i against row j only when they conflict."
            )
        if _close(result, _pcgrad_variant(G, "norm")):
            raise Incorrect(f"{shown} you divided by |g_j|; divide by the squared norm g_j . g_j.")
        if _close(result, _pcgrad_variant(G, "vector")):
            raise Incorrect(
                f"{shown} you projected onto the wrong vector: remove from row i its component along row j."
            )
        if _close(result, _pcgrad_variant(G, "none")) and not _close(expected, _pcgrad_variant(G, "none")):
            raise Incorrect(f"{shown} you returned the plain sum: no row was projected, although some conflict.")
        raise Incorrect(
            f"{shown} expected {_shown(expected)}, got {_shown(result)}. Project each row i against every other "
            "ORIGINAL row j in order (j = 0, 1, ...), with project_conflicting, then sum the projected rows."
        )
    return "matches PCGrad on 2 and 3 tasks, leaves agreeing gradients alone, and does not touch G."


def evaluate_training(trainer: Any, model: Any, pcgrad_fn: Any) -> str:
    """Check that ``trainer`` trained ``model`` with the student's ``pcgrad_fn``, and that both tasks learned."""
    from mtl_teach.model import MultitaskClassifier
    from mtl_teach.toy_data import make_joint_dataloaders
    from mtl_teach.trainer import Trainer

    if is_stub(trainer) or is_stub(model):
        raise NotAttempted("trainer or model is still None: build and fit them, then run this cell again.")
    if not isinstance(trainer, Trainer) or not isinstance(model, MultitaskClassifier):
        raise Incorrect(
            f"expected a Trainer and a MultitaskClassifier; got {type(trainer).__name__}, {type(model).__name__}."
        )
    if trainer.weighting is not pcgrad_fn:
        raise Incorrect(
            f"the trainer's weighting is {trainer.weighting!r}, not your function: pass it, Trainer(weighting=my_pcgrad, ...)."
        )
    if not trainer.history.get("epoch"):
        raise Incorrect("the trainer has not trained yet: call trainer.fit(model, loaders).")
    fresh = make_joint_dataloaders(tuple(model.tasks), n=20_000, seed=fresh_seed(4242))[2]  # 2000 unseen points
    scores = model.score([fresh])
    accuracy = {task: scores[f"{task}/jointDataset/test/accuracy"] for task in model.tasks}
    low = {task: round(value, 3) for task, value in accuracy.items() if value < 0.85}
    if low:
        raise Incorrect(
            f"accuracy on fresh data is below 0.85 for {low}: train the {trainer.n_epochs} epochs asked for."
        )
    shown = ", ".join(f"{task} {value:.3f}" for task, value in accuracy.items())
    return f"trained with your PCGrad; accuracy on fresh data: {shown}."
