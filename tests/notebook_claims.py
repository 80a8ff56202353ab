"""The claims each notebook's lesson rests on, asserted with a margin after the notebook runs.

``tests/nbval_approx.py`` runs a notebook's claims, in order, in its kernel
after its last cell, so they read the notebook's own variables. Each claim is
one statement a student reads in the notebook, and code that asserts it with
a margin wide enough for another CPU's floats (``ATEN_CPU_CAPABILITY=default``
moves notebook 05's scores by up to 2 points and an F1 by 7) and narrow
enough to catch a lesson that no longer holds. The printed numbers themselves
are checked by the ``approx`` tolerance; these check what they mean.

Multi-seed statements (e.g. "over seeds 0-4 ...") are asserted by
``tests/test_lessons.py``.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """A lesson's statement and the code that asserts it in the notebook's kernel.

    Parameters
    ----------
    statement
        The claim in the notebook's words; it names the test.
    code
        Python run in the notebook's namespace; it must print nothing and
        raise (an ``assert`` with the measured values as its message) when
        the claim does not hold.
    """

    statement: str
    code: str

    def source(self) -> str:
        """The cell to run: the code inside a function, so it leaves no names behind."""
        body = textwrap.indent(textwrap.dedent(self.code).strip(), "    ")
        return f"def _claim():\n{body}\n\n\n_claim()\ndel _claim"


CLAIMS: dict[str, list[Claim]] = {
    "02_mtl_basics.ipynb": [
        Claim(
            "the training loss falls over the 10 epochs",
            """
            losses = trainer.history["model/all/train/loss"]
            assert losses[-1] < losses[0] / 2, losses
            """,
        ),
        Claim(
            "both heads beat their majority-class floor by far",
            """
            for task, floor in [("circle", 0.85), ("square", 0.79)]:  # test share of the majority label
                accuracy = scores[f"{task}_task/{task}Dataset/test/accuracy"]
                assert accuracy >= floor + 0.05, (task, accuracy, floor)
            """,
        ),
    ],
    "03_decision_boundaries.ipynb": [
        Claim(
            "both heads of the shared model learn their task",
            """
            assert min(mtl_scores.values()) >= 0.88, mtl_scores
            """,
        ),
        Claim(
            "the share the circle head calls inside is close to pi/4",
            """
            import math

            assert abs(circle.inside_fraction() - math.pi / 4) <= 0.06, circle.inside_fraction()
            """,
        ),
        Claim(
            "the trunk's units measure (roughly) the distance from the centre",
            """
            import torch

            grid = torch.cartesian_prod(torch.linspace(-1, 1, 41), torch.linspace(-1, 1, 41))  # (1681, 2)
            with torch.no_grad():
                features = model.module_pool["base_mlp"](grid)  # (1681, 4)
            radius = grid.norm(dim=1)
            correlations = [
                abs(torch.corrcoef(torch.stack([features[:, unit], radius]))[0, 1].item())
                for unit in range(features.shape[1])
                if features[:, unit].std() > 0
            ]
            assert sum(c >= 0.7 for c in correlations) >= 3, correlations
            """,
        ),
    ],
    "04_your_turn.ipynb": [
        Claim(
            "the reference solution passes every self-check",
            """
            results = [
                q.dataloader.check(inv_dataloader),
                q.task.check(inv_circle_task, base_mlp),
                q.model.check(model),
                q.training.check(model, all_dataloaders),
            ]
            assert all(result.passed for result in results), [result.message for result in results]
            """,
        ),
        Claim(
            "all three tasks learn while sharing one trunk",
            """
            accuracies = {key: value for key, value in model.score(all_dataloaders).items() if "/train/" not in key}
            assert min(accuracies.values()) >= 0.88, accuracies
            """,
        ),
        Claim(
            "going further: with 20 circle points, sharing the trunk with the inverted circle raises the circle's mean accuracy",
            """
            summary = helps.summary()
            assert summary["gain_mean"] >= 0.02 and summary["shared_wins"] >= 4, summary
            """,
        ),
    ],
    "05_slicing.ipynb": [
        Claim(
            "overall the plain model looks excellent, and on the patch it is not much better than a coin",
            """
            assert table.loc["base", "plain"] >= 0.97 and table.loc["in_patch", "plain"] <= 0.72, table
            """,
        ),
        Claim(
            "on the patch the slice-aware model is right far more often (at least 10 points)",
            """
            gain = table.loc["in_patch", "slice-aware"] - table.loc["in_patch", "plain"]
            assert gain >= 0.10, table
            """,
        ),
        Claim(
            "overall, and on left_half, the two models stay within a point",
            """
            for row in ["base", "left_half"]:
                assert abs(table.loc[row, "slice-aware"] - table.loc[row, "plain"]) <= 0.01, table
            """,
        ),
        Claim(
            "score_slices gives the same numbers in Snorkel's format",
            """
            assert abs(scores["circle_task_slice:in_patch_pred/circle/test/accuracy"] - table.loc["in_patch", "slice-aware"]) < 1e-9
            assert abs(scores["circle_task/circle/test/accuracy"] - table.loc["base", "slice-aware"]) < 1e-9
            """,
        ),
        Claim(
            "the weight on in_patch is several times as high inside the patch as outside it",
            """
            assert inside >= 2 * outside and inside - outside >= 0.1, (inside, outside)
            """,
        ),
        Claim(
            "with k slicing functions (base added), every batch trains 2(k + 1) + 1 tasks: 7 here",
            """
            k = len(sfs)
            assert len(model.tasks) == 2 * (k + 1) + 1 == 7, (k, model.task_names)
            """,
        ),
        Claim(
            "the indicator recognises the patch from the inputs alone",
            """
            assert indicators["circle_task_slice:in_patch_ind/circle/test/f1"] >= 0.6, indicators
            """,
        ),
    ],
    "06_when_sharing_helps.ipynb": [
        Claim(
            "the comparison is fair: the same trunk, and at least as many optimiser steps for the model alone",
            """
            steps = comparison.settings["steps"]
            assert steps["alone"] >= steps["shared"], steps
            for models in comparison.models.values():
                sizes = [[p.shape for p in models[label].module_pool["base_mlp"].parameters()] for label in models]
                assert sizes[0] == sizes[1], sizes
            """,
        ),
        Claim(
            "with 20 training points, the circle task gains several points from sharing, on most seeds",
            """
            summary = comparison.summary()
            assert summary["gain_mean"] >= 0.02 and summary["shared_wins"] >= 4, summary
            """,
        ),
        Claim(
            "the seed-to-seed spread of the model alone is large",
            """
            assert comparison.summary()["alone_std"] >= 0.02, comparison.summary()
            """,
        ),
        Claim(
            "shared, the circle head's boundary is closer to the true circle (over the seeds)",
            """
            import math

            from mtl_teach.plotting import DecisionBoundaryDisplay

            def error(label):
                areas = [
                    DecisionBoundaryDisplay.from_model(
                        models[label], "circle_task", grid_resolution=100, eps=0.0, plot=False
                    ).inside_fraction()
                    for models in comparison.models.values()
                ]
                return sum(abs(area - math.pi / 4) for area in areas) / len(areas)

            assert error("shared") < error("alone"), (error("shared"), error("alone"))
            """,
        ),
    ],
    "07_when_sharing_hurts.ipynb": [
        Claim(
            "the comparison gives the circle the same updates alone and shared (the model alone takes fewer steps)",
            """
            for comparison in comparisons.values():
                steps = comparison.settings["steps"]
                assert steps["alone"] == 20 * 25 and steps["shared"] == 20 * (25 + 25), steps  # 800 points = 25 batches
            """,
        ),
        Claim(
            "on most seeds the circle loses several points sharing its 2-unit trunk with xor",
            """
            summary = small.summary()
            assert summary["gain_mean"] <= -0.04, summary
            assert (small.gains <= -0.03).sum() >= 3, small.gains
            """,
        ),
        Claim(
            "on the seed drawn, the shared circle head is far worse than the one alone",
            """
            assert small.gains[small.seeds.index(seed)] <= -0.08, small.gains
            """,
        ),
        Claim(
            "on that seed, each shared trunk unit is active in one of xor's quadrants only",
            """
            import torch

            grid = torch.cartesian_prod(torch.linspace(-1, 1, 101), torch.linspace(-1, 1, 101))  # (10201, 2)
            with torch.no_grad():
                features = small.models[seed]["shared"].module_pool["base_mlp"](grid)  # (10201, 2)
            for unit in range(features.shape[1]):
                active = grid[features[:, unit] > 0]  # (n_active, 2)
                quadrant = torch.sign(active).mean(dim=0).abs()  # near (1, 1) when one quadrant holds them all
                share = len(active) / len(grid)
                assert 0.1 <= share <= 0.4 and quadrant.min() >= 0.8, (unit, share, quadrant)
            """,
        ),
        Claim(
            "branching after the first layer removes the harm",
            """
            summary = branched.summary()
            assert summary["gain_mean"] >= -0.01, summary
            assert summary["gain_mean"] - small.summary()["gain_mean"] >= 0.05, (summary, small.summary())
            """,
        ),
        Claim(
            "the model alone is the very same run in both rows",
            """
            assert branched.alone.tolist() == small.alone.tolist(), (branched.alone, small.alone)
            """,
        ),
    ],
    "08_balancing_tasks.ipynb": [
        Claim(
            "PCGrad's hand example: (1, 0) and (-1, 1) conflict and give (0.5, 1.5)",
            """
            import torch

            assert torch.allclose(pcgrad(G), torch.tensor([0.5, 1.5])), pcgrad(G)
            """,
        ),
        Claim(
            "on the toy, equal weighting stalls about 10 away from the Pareto set from the two upper starts",
            """
            ends = toy.final_distances()["equal"]  # starts (-8.5, 7.5), (-8.5, -5), (9, 9)
            assert ends[0] >= 5 and ends[2] >= 5 and ends[1] <= 0.1, ends
            """,
        ),
        Claim(
            "PCGrad and CAGrad reach the Pareto set from all three starts",
            """
            for method in ("pcgrad", "cagrad"):
                assert max(toy.final_distances()[method]) <= 0.1, (method, toy.final_distances())
            """,
        ),
        Claim(
            "the circle and inverted circle pull the trunk together: their cosine climbs close to 1",
            """
            values = cosines.cosines[cosines.pairs.index("circle_task+inv_circle_task")]
            assert values[-10:].mean() >= 0.8 and values[-10:].min() >= 0.5, values
            """,
        ),
        Claim(
            "the circle and square: a cosine around 0 that changes sign",
            """
            values = cosines.cosines[cosines.pairs.index("circle_task+square_task")]
            assert abs(values.mean()) <= 0.25 and values.min() < 0 < values.max(), values
            """,
        ),
        Claim(
            "with the square's loss x100, uncertainty weighting and GradNorm give the circle a higher accuracy than equal",
            """
            circle = {w: comparison.accuracy[w]["circle_task"][0] for w in comparison.weightings}
            assert circle["uncertainty"] >= circle["equal"] + 0.01, circle
            assert circle["gradnorm"] >= circle["equal"] + 0.01, circle
            """,
        ),
        Claim(
            "both learn a far larger weight for the circle than for the x100 square",
            """
            for weighting in ("uncertainty", "gradnorm"):
                history = comparison.histories[SEED][weighting]
                circle, square = history["circle_task/all/train/weight"][-1], history["square_task/all/train/weight"][-1]
                assert circle >= 5 * square, (weighting, circle, square)
            """,
        ),
    ],
    "09_your_turn_pcgrad.ipynb": [
        Claim(
            "the reference PCGrad passes every self-check, the training one included",
            """
            for result in (
                q.project.check(project_conflicting),
                q.pcgrad.check(my_pcgrad),
                q.training.check(trainer, model, my_pcgrad),
            ):
                assert result.passed, result.message
            """,
        ),
        Claim(
            "trained with the student's PCGrad, both heads learn their task (well above the 0.85 the check asks)",
            """
            scores = model.score([loaders[2]])
            for task in ("circle_task", "square_task"):
                accuracy = scores[f"{task}/jointDataset/test/accuracy"]
                assert accuracy >= 0.9, (task, accuracy)
            losses = trainer.history["model/all/train/loss"]
            assert losses[-1] < losses[0] / 2, losses
            """,
        ),
    ],
    "10_your_turn_auxiliary.ipynb": [
        Claim(
            "the reference answer meets the goal: inverted circle, 64-64 trunk, +3.5 points and 4 of 5 seeds",
            """
            result = q.decision.check(model)
            assert result.passed, result.message
            """,
        ),
        Claim(
            "the candidate measured in step 1 (the square on the tutorial's trunk) does not",
            """
            summary = candidate.summary()
            assert summary["gain_mean"] < 0.035 or summary["shared_wins"] < 4, summary
            """,
        ),
    ],
    "11_appendix_training_stalls.ipynb": [
        Claim(
            "Kaiming init starts far fewer trunk units dead than PyTorch's init",
            """
            assert dead_on_average["kaiming"] < dead_on_average["torch"] / 2, dead_on_average
            """,
        ),
        Claim(
            "seed 3 without the defaults stalls: dead units, a StallWarning, the square head at its floor",
            """
            stalled = outcomes[None, False]
            assert stalled["warnings"] and not stalled["revived"], stalled
            assert abs(stalled["test accuracy"]["square_task/squareDataset/test/accuracy"] - 0.79) <= 0.02, stalled
            """,
        ),
        Claim(
            "seed 3 with the defaults revives the dead units and trains both tasks well, without a warning",
            """
            fixed = outcomes["kaiming", True]
            assert fixed["revived"] and not fixed["warnings"], fixed
            assert min(fixed["test accuracy"].values()) >= 0.88, fixed
            """,
        ),
        Claim(
            "every StallWarning sends the student to this appendix",
            """
            messages = [str(w.message) for outcome in outcomes.values() for w in outcome["warnings"]]
            assert messages and all("11_appendix_training_stalls.ipynb" in m for m in messages), messages
            """,
        ),
    ],
}
