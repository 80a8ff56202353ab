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
    "01_toy_data.ipynb": [
        Claim(
            "the label-1 shares are close to pi/4 (about 79%), 1/4 and 1 - pi/4 (about 21%)",
            """
            import math

            expected = {"circle_task": math.pi / 4, "square_task": 0.25, "inv_circle_task": 1 - math.pi / 4}
            for task_name, maker in makers.items():
                labels = np.concatenate([Y for _, Y in maker(n=1000, r=1.0, seed=SEED)])
                assert abs(labels.mean() - expected[task_name]) <= 0.03, (task_name, labels.mean())
            """,
        ),
        Claim(
            "on the circle's test split the floor is 85%: 85 of its 100 points are inside",
            """
            assert len(Y_test) == 100 and int(Y_test.sum()) == 85, Y_test.sum()
            """,
        ),
        Claim(
            "with r=0.5 about 39% of the points have label 1 (pi * 0.5 / 4)",
            """
            assert abs(np.mean(Y_half == 1) - np.pi * 0.5 / 4) <= 0.03, np.mean(Y_half == 1)
            """,
        ),
    ],
    "02_mtl_basics.ipynb": [
        Claim(
            "the training loss falls over the 10 epochs",
            """
            losses = trainer.history["model/all/train/loss"]
            assert losses[-1] < losses[0] / 2, losses
            """,
        ),
        Claim(
            "on this test split the majority class is 85% of the circle's points (inside) and 79% of the square's (outside)",
            """
            for name, label, count in [("circleDataset", 1, 85), ("squareDataset", 0, 79)]:
                test = [dl for dl in dataloaders if dl.dataset.name == name and dl.dataset.split == "test"][0]
                labels = next(iter(test.dataset.Y_dict.values()))  # (100,)
                assert len(labels) == 100 and int((labels == label).sum()) == count, (name, labels)
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
        Claim(
            "question 4: both tasks' own training losses fall to less than half of their first epoch's",
            """
            for task in ("circle", "square"):
                losses = trainer.history[f"{task}_task/{task}Dataset/train/loss"]
                assert losses[-1] < losses[0] / 2, (task, losses)
            """,
        ),
        Claim(
            "question 5: training on circle batches leaves the square head's weights alone but changes its predictions",
            """
            import warnings

            import torch

            before = {k: v.clone() for k, v in model.state_dict().items()}
            pool = model.module_pool
            grid = torch.cartesian_prod(torch.linspace(-1, 1, 41), torch.linspace(-1, 1, 41))  # (1681, 2)

            def square_logits():
                with torch.no_grad():
                    return pool["square_head"](pool["base_mlp"](grid))  # (1681, 2)

            try:
                logits = square_logits()
                head = [p.clone() for p in pool["square_head"].parameters()]
                trunk = [p.clone() for p in pool["base_mlp"].parameters()]
                circle_train = [dl for dl in dataloaders if dl.dataset.name == "circleDataset"][:1]
                with warnings.catch_warnings():  # "No train loader has labels for task(s) ['square_task']": the point
                    warnings.simplefilter("ignore", UserWarning)
                    Trainer(progress_bar=False, n_epochs=1, lr=0.02, seed=0, revive_dead_units=False).fit(model, circle_train)
                assert all(torch.equal(a, b) for a, b in zip(head, pool["square_head"].parameters())), "head moved"
                assert not all(torch.equal(a, b) for a, b in zip(trunk, pool["base_mlp"].parameters())), "trunk idle"
                change = (square_logits() - logits).abs().max().item()
                assert change > 0.01, change
            finally:
                model.load_state_dict(before)
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
            "on 100 test points, the 95% sampling error of these accuracies is about 4 to 6 points either way",
            """
            import math

            for key, p in mtl_scores.items():
                half_width = 1.96 * math.sqrt(p * (1 - p) / 100)
                assert 0.035 <= half_width <= 0.06, (key, p, half_width)
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
            "going further: the circle head with its rows swapped predicts the opposite class of the circle head everywhere",
            """
            import torch

            with torch.no_grad():
                logits = heads["circle_head"](features)  # (1000, 2)
                assert torch.equal(swapped(features).argmax(dim=1), 1 - logits.argmax(dim=1))
            """,
        ),
        Claim(
            "going further: the head nobody trained scores within a few points (3 at most) of the trained inv_circle_head",
            """
            trained, free = fresh_accuracy["inv_circle_head (trained)"], fresh_accuracy["circle_head, rows swapped"]
            assert trained >= 0.9 and abs(free - trained) <= 0.03, fresh_accuracy
            """,
        ),
        Claim(
            "step 4 starts from the same weights on every run: a second run after a wrong try gives the same scores",
            """
            import warnings

            import torch

            first = model.score(all_dataloaders)
            state = {k: v.clone() for k, v in model.state_dict().items()}
            with warnings.catch_warnings():  # a wrong try may stall; its warning is not the point here
                warnings.simplefilter("ignore")
                # A wrong first try (lr 10x too large) trains the model; then the step-4 cell runs again, as written.
                Trainer(progress_bar=False, n_epochs=2, lr=0.2, seed=1).fit(model, all_dataloaders)
                set_seed(123)
                again = MultitaskClassifier(list(model.tasks.values()))
                Trainer(progress_bar=False, n_epochs=10, lr=0.02, seed=123).fit(again, all_dataloaders)
            assert again.score(all_dataloaders) == first, (again.score(all_dataloaders), first)
            assert all(torch.equal(v, state[k]) for k, v in again.state_dict().items())
            """,
        ),
    ],
    "05_slicing.ipynb": [
        Claim(
            "the patch holds 2% of the points, and the circle rule is right on about half of them",
            """
            import numpy as np

            inside = in_patch(X_test)
            assert 0.015 <= inside.mean() <= 0.025, inside.mean()
            circle_rule = (X_test[inside] ** 2).sum(axis=1) < 1  # what the label would be outside the patch
            agree = np.mean(circle_rule == Y_test[inside].astype(bool))
            assert 0.4 <= agree <= 0.6, agree
            """,
        ),
        Claim(
            "overall the plain model looks excellent (98%), and on the patch it is not much better than a coin (62%)",
            """
            assert table.loc["base", "plain"] >= 0.975 and 0.60 <= table.loc["in_patch", "plain"] <= 0.64, table
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
            "against the majority-class floor, the model alone is less than 5 points above it (seed 4 below it), the shared one more than twice as far",
            """
            summary, floor = comparison.summary(), comparison.majority.mean()
            assert 0.75 <= floor <= 0.82, floor  # about pi/4 of the square is inside the circle
            alone, shared = summary["alone_mean"] - floor, summary["shared_mean"] - floor
            assert 0 < alone < 0.05 and shared > 2 * alone, (floor, summary)
            below = [seed for seed, a, m in zip(comparison.seeds, comparison.alone, comparison.majority) if a < m]
            assert below == [4], (below, comparison.alone, comparison.majority)  # "on one seed (seed 4) ... below it"
            """,
        ),
        Claim(
            "question 4: the 95% sampling error at these accuracies is about 7 points on 100 test points, about 1 on 5000",
            """
            import math

            for key in ("alone_mean", "shared_mean"):
                p = comparison.summary()[key]
                on_100, on_5000 = (1.96 * math.sqrt(p * (1 - p) / n) for n in (100, 5000))
                assert 0.06 <= on_100 <= 0.08 and 0.009 <= on_5000 <= 0.011, (key, p, on_100, on_5000)
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
            "four of the five shared runs warned of a stall, and the model alone on seed 3",
            """
            warned = sorted({(seed, model) for seed, model, _ in small.stalls})
            assert warned == [(0, "shared"), (1, "shared"), (2, "shared"), (3, "alone"), (3, "shared")], warned
            """,
        ),
        Claim(
            "on seeds 1 and 2 the shared circle head ends within 3 points of the majority-class floor",
            """
            for seed in (1, 2):
                i = small.seeds.index(seed)
                assert 0 <= small.shared[i] - small.majority[i] <= 0.03, (seed, small.shared[i], small.majority[i])
            """,
        ),
        Claim(
            "alone, seed 3 warned and recovered to 0.95 or more; seed 0 ends at 0.864, at least 8 points below the others, without a warning",
            """
            alone = dict(zip(small.seeds, small.alone.tolist(), strict=True))
            assert alone[3] >= 0.95, alone
            assert abs(alone[0] - 0.864) <= 0.01 and min(alone[s] for s in (1, 2, 3, 4)) - alone[0] >= 0.08, alone
            assert (0, "alone") not in {(seed, model) for seed, model, _ in small.stalls}, small.stalls
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
            "the model alone is the very same run in both settings",
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
            assert 9 <= ends[0] <= 11 and 9 <= ends[2] <= 11 and ends[1] <= 0.1, ends
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
            "MGDA's hand example: weights 0.6 and 0.4 give (0.2, 0.4), along which both tasks gain equally",
            """
            import torch

            d = mgda(G)
            assert torch.allclose(d, 0.6 * G[0] + 0.4 * G[1]) and torch.allclose(d, torch.tensor([0.2, 0.4])), d
            assert torch.allclose(G @ d, (d @ d).expand(2)), G @ d  # g_t . d = |d|^2 = 0.2 for both tasks
            """,
        ),
        Claim(
            "with PyTorch's default betas, equal weighting ends less than 1 away from the Pareto set from every start",
            """
            ends = toy_default.final_distances()["equal"]
            assert max(ends) < 1.0, ends
            assert toy_default.settings["betas"] == (0.9, 0.999) and toy.settings["betas"] == (0.9, 0.9)
            """,
        ),
        Claim(
            "with the default betas, PCGrad reaches the Pareto set from the first two starts and ends about 1 away from the third",
            """
            ends = toy_default.final_distances()["pcgrad"]
            assert ends[0] <= 0.1 and ends[1] <= 0.1 and 0.7 <= ends[2] <= 1.2, ends
            """,
        ),
        Claim(
            "with the default betas, CAGrad ends more than 2 away from both upper starts, worse than equal weighting",
            """
            ends = toy_default.final_distances()
            for start in (0, 2):
                assert ends["cagrad"][start] > 2 and ends["cagrad"][start] > ends["equal"][start] + 1, ends
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
            "question 3: with three tasks, a later projection brings back a conflict an earlier one removed",
            """
            import torch

            g1, g2, g3 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0]), torch.tensor([-3.0, -4.0])
            first = project_conflicting(g1, g2)
            assert torch.allclose(first, torch.tensor([0.5, 0.5])) and first @ g2 == 0, first
            assert torch.isclose(first @ g3, torch.tensor(-3.5)), first @ g3
            second = project_conflicting(first, g3)
            assert torch.allclose(second, torch.tensor([0.08, -0.06])), second
            assert torch.isclose(second @ g2, torch.tensor(-0.14)), second @ g2
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
        Claim(
            "that candidate's shared mean is below the majority-class floor, and all 5 shared runs warned of a stall, none alone",
            """
            assert candidate.summary()["shared_mean"] < candidate.majority.mean(), (candidate, candidate.majority)
            warned = sorted({(seed, model) for seed, model, _ in candidate.stalls})
            assert warned == [(seed, "shared") for seed in range(5)], warned
            """,
        ),
        Claim(
            "shared, the circle head takes 20 optimiser steps in all (one batch per epoch); the model alone takes 540",
            """
            assert candidate.settings["steps"] == {"alone": 540, "shared": 20 * (1 + 25)}, candidate.settings
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
