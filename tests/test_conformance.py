"""Conformance: Snorkel's MTL tutorial, end to end, with only its imports changed.

The code below follows snorkel-tutorials' ``multitask_tutorial`` step by step
(2 tasks, then the "your turn" third task), swapping ``snorkel.*`` imports for
``mtl_teach`` and the tutorial's ``utils`` data makers for ours (which take a
seed). It checks what the tutorial promises: score keys, task and module
counts, and accuracies "in the mid to high 90s".
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mtl_teach import (
    DictDataLoader,
    DictDataset,
    MultitaskClassifier,
    Operation,
    Scorer,
    Task,
    Trainer,
    make_circle_dataset,
    make_inv_circle_dataset,
    make_square_dataset,
    set_seed,
)

SEED = 123
N = 1000  # Data points per dataset
R = 1  # Unit distance


def _loaders(name: str, prefix: str, splits) -> list[DictDataLoader]:
    dataloaders = []
    for split, (X_split, Y_split) in zip(["train", "valid", "test"], splits, strict=True):
        X_dict = {f"{prefix}_data": torch.FloatTensor(X_split)}
        Y_dict = {f"{prefix}_task": torch.LongTensor(Y_split)}
        dataset = DictDataset(name, split, X_dict, Y_dict)
        dataloaders.append(DictDataLoader(dataset, batch_size=32))
    return dataloaders


@pytest.fixture(scope="module")
def tutorial():
    set_seed(SEED)
    circle_train, circle_valid, circle_test = make_circle_dataset(N, R, seed=SEED)
    square_train, square_valid, square_test = make_square_dataset(N, R, seed=SEED)
    assert circle_train[0].shape == (800, 2) and set(circle_train[1]) == {0, 1}

    dataloaders = _loaders("CircleDataset", "circle", [circle_train, circle_valid, circle_test])
    dataloaders += _loaders("SquareDataset", "square", [square_train, square_valid, square_test])

    # The circle task, written out in full.
    base_mlp = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())
    head_module = nn.Linear(4, 2)
    module_pool = nn.ModuleDict({"base_mlp": base_mlp, "circle_head_module": head_module})
    op1 = Operation(name="base_mlp", module_name="base_mlp", inputs=[("_input_", "circle_data")])
    op2 = Operation(name="circle_head", module_name="circle_head_module", inputs=[("base_mlp", 0)])
    op_sequence = [op1, op2]
    circle_task = Task(
        name="circle_task",
        module_pool=module_pool,
        op_sequence=op_sequence,
        loss_func=F.cross_entropy,
        output_func=lambda logits: F.softmax(logits, dim=1),
        scorer=Scorer(metrics=["accuracy"]),
    )
    # The square task, "again, but faster".
    square_task = Task(
        name="square_task",
        module_pool=nn.ModuleDict({"base_mlp": base_mlp, "square_head": nn.Linear(4, 2)}),
        op_sequence=[
            Operation("base_mlp", [("_input_", "square_data")]),
            Operation("square_head", [("base_mlp", 0)]),
        ],
    )
    model = MultitaskClassifier([circle_task, square_task])
    trainer_config = {"progress_bar": False, "n_epochs": 10, "lr": 0.02}
    trainer = Trainer(**trainer_config, seed=SEED)
    trainer.fit(model, dataloaders)
    two_task_scores = model.score(dataloaders)
    return locals()


def test_two_task_flow_gives_the_tutorials_keys_and_accuracies(tutorial) -> None:
    scores = tutorial["two_task_scores"]
    expected = {
        f"{task}/{dataset}/{split}/accuracy"
        for task, dataset in [("circle_task", "CircleDataset"), ("square_task", "SquareDataset")]
        for split in ("train", "valid", "test")
    }
    assert set(scores) == expected
    assert all(0.9 <= value <= 1.0 for value in scores.values()), scores
    model = tutorial["model"]
    assert len(model.tasks) == 2 and len(model.module_pool) == 3
    assert model.module_pool["base_mlp"] is tutorial["base_mlp"]  # shared, not copied


def test_training_metrics_have_the_snorkel_keys_plus_per_task_losses(tutorial) -> None:
    history = tutorial["trainer"].history
    for key in (
        "model/all/train/loss",
        "model/all/train/lr",
        "circle_task/CircleDataset/train/loss",
        "square_task/SquareDataset/train/loss",
        "circle_task/CircleDataset/valid/accuracy",
    ):
        assert len(history[key]) == 10, key
    assert history["model/all/train/lr"] == [0.02] * 10
    assert history["model/all/train/loss"][-1] < history["model/all/train/loss"][0]


def test_your_turn_adds_the_inverted_circle_task(tutorial) -> None:
    base_mlp, dataloaders = tutorial["base_mlp"], tutorial["dataloaders"]
    circle_task, square_task = tutorial["circle_task"], tutorial["square_task"]
    inv_circle_train, inv_circle_valid, inv_circle_test = make_inv_circle_dataset(N, R, seed=SEED)
    inv_dataloaders = _loaders("InvCircleDataset", "inv_circle", [inv_circle_train, inv_circle_valid, inv_circle_test])
    all_dataloaders = dataloaders + inv_dataloaders

    inv_circle_task = Task(
        name="inv_circle_task",
        module_pool=nn.ModuleDict({"base_mlp": base_mlp, "inv_circle_head": nn.Linear(4, 2)}),
        op_sequence=[
            Operation("base_mlp", [("_input_", "inv_circle_data")]),
            Operation("inv_circle_head", [("base_mlp", 0)]),
        ],
    )
    model = MultitaskClassifier([circle_task, square_task, inv_circle_task])
    tutorial["trainer"].fit(model, all_dataloaders)
    scores = model.score(all_dataloaders)

    assert len(model.tasks) == 3
    assert len(model.module_pool) == 4  # 1 shared module plus 3 separate task heads
    assert len(scores) == 9
    # "mid to high 90s for all datasets and splits" on test; every split >= 0.9
    assert all(value >= 0.9 for value in scores.values()), scores
    assert np.median([v for k, v in scores.items() if "/test/" in k]) >= 0.93


def test_a_batch_labelled_for_both_tasks_gets_each_tasks_own_flow(tutorial) -> None:
    # Snorkel reuses the first task's "base_mlp" output for the second task here.
    model = tutorial["model"]
    X = {"circle_data": torch.rand(8, 2) * 2 - 1, "square_data": torch.rand(8, 2) * 2 - 1}
    together = model(X, ["circle_task", "square_task"])
    pool = model.module_pool
    with torch.no_grad():
        assert torch.allclose(together["square_task"], pool["square_head"](pool["base_mlp"](X["square_data"])))
        assert torch.allclose(together["circle_task"], pool["circle_head_module"](pool["base_mlp"](X["circle_data"])))


def test_reliability_worst_task_over_seeds_0_to_9() -> None:
    # The target on the tutorial's exact 3-task setup: every seed >= 0.90, median >= 0.93.
    worst = []
    for seed in range(10):
        set_seed(seed)
        splits = {
            "circle": make_circle_dataset(N, R, seed=seed),
            "square": make_square_dataset(N, R, seed=seed),
            "inv_circle": make_inv_circle_dataset(N, R, seed=seed),
        }
        loaders = [dl for prefix, s in splits.items() for dl in _loaders(f"{prefix}Dataset", prefix, s)]
        base_mlp = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())
        tasks = [
            Task(
                name=f"{prefix}_task",
                module_pool=nn.ModuleDict({"base_mlp": base_mlp, f"{prefix}_head": nn.Linear(4, 2)}),
                op_sequence=[
                    Operation("base_mlp", [("_input_", f"{prefix}_data")]),
                    Operation(f"{prefix}_head", [("base_mlp", 0)]),
                ],
            )
            for prefix in splits
        ]
        model = MultitaskClassifier(tasks)
        Trainer(progress_bar=False, n_epochs=10, lr=0.02, seed=seed).fit(model, loaders)
        scores = model.score(loaders)
        worst.append(min(v for k, v in scores.items() if "/test/" in k))
    assert min(worst) >= 0.90, worst
    assert np.median(worst) >= 0.93, worst
