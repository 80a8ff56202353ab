"""Self-checks of notebook 04 (``mtl_teach.exercises.your_turn``): the feedback a student reads.

Each check tells "not attempted" (the stub, ``None``, ``NotImplementedError``)
apart from "incorrect", names the specific mistake, and ends in a success
message when the answer is right. Hints come in levels; the solution is code
that passes its own check.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mtl_teach import (
    DictDataLoader,
    DictDataset,
    MultitaskClassifier,
    Operation,
    Task,
    Trainer,
    make_inv_circle_dataset,
    make_tutorial_dataloaders,
    set_seed,
)
from mtl_teach.exercises import CheckResult, Feedback
from mtl_teach.exercises import your_turn as q
from mtl_teach.exercises._core import CORRECT, INCORRECT, NOT_ATTEMPTED


def _task(name, base_mlp, field, head_name="head", head=None, ops=None):
    head = nn.Linear(4, 2) if head is None else head
    return Task(
        name=name,
        module_pool=nn.ModuleDict({"base_mlp": base_mlp, head_name: head}),
        op_sequence=ops or [Operation("base_mlp", [("_input_", field)]), Operation(head_name, [("base_mlp", 0)])],
    )


@pytest.fixture(scope="module")
def notebook():
    """The notebook's namespace after the solutions ran (trained once for the module)."""
    set_seed(123)
    dataloaders = make_tutorial_dataloaders(["circle_task", "square_task"], seed=123)
    base_mlp = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())
    circle = _task("circle_task", base_mlp, "circle_data", "circle_head")
    square = _task("square_task", base_mlp, "square_data", "square_head")
    (X_train, Y_train), _, _ = make_inv_circle_dataset(1000, 1.0, seed=123)
    X = {"inv_circle_data": torch.FloatTensor(X_train)}
    Y = {"inv_circle_task": torch.LongTensor(Y_train)}
    inv_dataloader = DictDataLoader(DictDataset("invCircleDataset", "train", X, Y), batch_size=32)
    all_dataloaders = [*dataloaders, inv_dataloader]
    inv_task = _task("inv_circle_task", base_mlp, "inv_circle_data", "inv_circle_head")
    model = MultitaskClassifier([circle, square, inv_task])
    untrained_result = q.training.check(model, all_dataloaders)  # before it is trained
    Trainer(progress_bar=False, n_epochs=10, lr=0.02, seed=123).fit(model, all_dataloaders)
    return {
        "dataloaders": dataloaders,
        "base_mlp": base_mlp,
        "circle_task": circle,
        "square_task": square,
        "X_train": X_train,
        "Y_train": Y_train,
        "inv_dataloader": inv_dataloader,
        "all_dataloaders": all_dataloaders,
        "inv_circle_task": inv_task,
        "model": model,
        "untrained_result": untrained_result,
    }


def _loader(X, Y, x_key="inv_circle_data", y_key="inv_circle_task", split="train"):
    return DictDataLoader(DictDataset("inv", split, {x_key: X}, {y_key: Y}), batch_size=32)


def _assert(result, status, *phrases):
    assert isinstance(result, CheckResult)
    assert result.status == status, result.message
    assert result.passed is (status == CORRECT)
    assert bool(result) is (status == CORRECT)
    for phrase in phrases:
        assert phrase in result.message, f"{phrase!r} not in {result.message!r}"


# --- not attempted: the stub, None, NotImplementedError -------------------------------------------------


@pytest.mark.parametrize("stub", [None, NotImplementedError, NotImplementedError(), ..., [], {}], ids=repr)
@pytest.mark.parametrize("question", ["dataloader", "task", "model"])
def test_a_stub_is_not_attempted_not_incorrect(question, stub):
    result = q.QUESTIONS[question].check(stub)
    _assert(result, NOT_ATTEMPTED, "is still", "replace `raise NotImplementedError`")
    assert str(result).startswith(f"Not attempted ({question}):")


def test_training_not_attempted_names_which_answer_is_missing(notebook):
    _assert(q.training.check(None, notebook["all_dataloaders"]), NOT_ATTEMPTED, "model is still None")
    _assert(q.training.check(notebook["model"], None), NOT_ATTEMPTED, "dataloaders is still None")


# --- correct: a clear success message --------------------------------------------------------------------


def test_the_solutions_pass_with_a_success_message(notebook):
    _assert(q.dataloader.check(notebook["inv_dataloader"]), CORRECT, "'train' DictDataLoader of 800 points")
    _assert(q.task.check(notebook["inv_circle_task"]), CORRECT, "inv_circle_data -> base_mlp -> inv_circle_head")
    _assert(q.model.check(notebook["model"]), CORRECT, "3 tasks and 4 modules")
    _assert(q.training.check(notebook["model"], notebook["all_dataloaders"]), CORRECT, "All three tasks learned")
    assert str(q.model.check(notebook["model"])).startswith("Correct (model):")


def test_a_list_of_loaders_with_a_train_split_passes(notebook):
    _assert(q.dataloader.check([notebook["inv_dataloader"]]), CORRECT, "800 points")


def test_results_render_in_colour_and_escape_html():
    html = CheckResult("task", INCORRECT, "<b>x</b>")._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "Incorrect" in html and "#cf222e" in html


# --- incorrect: the specific mistake ---------------------------------------------------------------------


def test_the_issues_three_example_messages(notebook):
    base = notebook["base_mlp"]
    no_trunk = Task(
        name="inv_circle_task",
        module_pool=nn.ModuleDict({"trunk": base, "inv_circle_head": nn.Linear(4, 2)}),
        op_sequence=[
            Operation("trunk", [("_input_", "inv_circle_data")]),
            Operation("inv_circle_head", [("trunk", 0)]),
        ],
    )
    _assert(q.task.check(no_trunk), INCORRECT, "your task's module pool has no 'base_mlp'", "it must share the trunk")
    four = _task("inv_circle_task", base, "inv_circle_data", "inv_circle_head", nn.Linear(4, 4))
    _assert(q.task.check(four), INCORRECT, "the head has 4 outputs but the labels have 2 classes")
    X, Y = torch.FloatTensor(notebook["X_train"]), torch.LongTensor(notebook["Y_train"])
    wrong_key = _loader(X, Y, y_key="inv_circle")
    _assert(
        q.dataloader.check(wrong_key), INCORRECT, "Y_dict key 'inv_circle' matches no task: name it after your task"
    )
    loaders = [*notebook["dataloaders"], wrong_key]
    _assert(
        q.training.check(notebook["model"], loaders),
        INCORRECT,
        "Y_dict key 'inv_circle' matches no task: name it after your task",
    )


def test_dataloader_mistakes(notebook):
    X, Y = torch.FloatTensor(notebook["X_train"]), torch.LongTensor(notebook["Y_train"])
    cases = [
        (DictDataset("inv", "train", {"inv_circle_data": X}, {"inv_circle_task": Y}), "not a DictDataLoader"),
        (_loader(X, Y, x_key="inv_data"), "X_dict key 'inv_data' is not the field your task reads"),
        (_loader(X.double(), Y), "has dtype torch.float64"),
        (_loader(X[:, :1], Y), "shape (n, 2)"),
        (_loader(X, Y + 1), "the labels hold classes [1, 2]"),
        (_loader(X, 1 - Y), "the circle task's (1 = inside)"),
        (_loader(X, Y, split="valid"), "the Trainer learns only from 'train' loaders"),
    ]
    for answer, phrase in cases:
        _assert(q.dataloader.check(answer), INCORRECT, phrase)


def test_task_mistakes(notebook):
    base = notebook["base_mlp"]
    cases = [
        ({"name": "inv_circle_task"}, "not a Task"),
        (_task("inv_task", base, "inv_circle_data", "inv_circle_head"), "your task is named 'inv_task'"),
        (_task("inv_circle_task", base, "inv_circle_data", "circle_head"), "your task's head is 'circle_head'"),
        (_task("inv_circle_task", base, "inv_circle_data", "inv_circle_head", nn.Linear(8, 2)), "takes 8 inputs"),
        (
            _task("inv_circle_task", base, "inv_circle_data", "inv_circle_head", nn.Sequential(nn.Linear(4, 2))),
            "the head is a Sequential",
        ),
        (_task("inv_circle_task", base, "circle_data", "inv_circle_head"), "the first Operation reads"),
    ]
    for answer, phrase in cases:
        _assert(q.task.check(answer), INCORRECT, phrase)


def test_a_task_with_its_own_trunk_does_not_share_it(notebook):
    # A fresh nn.Sequential (or a deepcopy) has the right shape but is not the tutorial's base_mlp.
    base = notebook["base_mlp"]
    fresh = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())
    own = _task("inv_circle_task", fresh, "inv_circle_data", "inv_circle_head")
    _assert(
        q.task.check(own, base),
        INCORRECT,
        "your task's base_mlp is a different module from the tutorial's base_mlp",
        "it must share the trunk",
    )
    _assert(q.task.check(notebook["inv_circle_task"], base), CORRECT)
    _assert(q.task.check(own), CORRECT)  # without the tutorial's trunk to compare, the shape is all it can check
    assert q.GRADED["check_task"] == ("task", ("inv_circle_task", "base_mlp"))


def test_model_mistakes(notebook):
    base, circle, square = notebook["base_mlp"], notebook["circle_task"], notebook["square_task"]
    wide_head = _task("inv_circle_task", base, "inv_circle_data", "inv_circle_head", nn.Linear(4, 4))
    cases = [
        (MultitaskClassifier([circle, square]), "the model has 2 tasks", "missing ['inv_circle_task']"),
        (MultitaskClassifier([circle, square, wide_head]), "the head has 4 outputs", ""),
        (circle, "model is a Task, not a MultitaskClassifier", ""),
    ]
    for answer, phrase, more in cases:
        _assert(q.model.check(answer), INCORRECT, phrase, more)


def test_training_mistakes(notebook):
    _assert(notebook["untrained_result"], INCORRECT, "accuracy on fresh data", "below 0.85")
    _assert(
        q.training.check(notebook["model"], notebook["dataloaders"]),
        INCORRECT,
        "no 'train' loader for 'inv_circle_task'",
        "all_dataloaders = [*dataloaders, inv_dataloader]",
    )
    two_tasks = MultitaskClassifier([notebook["circle_task"], notebook["square_task"]])
    _assert(q.training.check(two_tasks, notebook["all_dataloaders"]), INCORRECT, "fix the model first")


def test_a_check_that_breaks_reports_instead_of_raising():
    class Broken(Task):
        def __init__(self):  # a Task subclass with nothing set: reading it raises AttributeError
            pass

    result = q.task.check(Broken())
    _assert(result, INCORRECT, "checking your answer raised AttributeError")


# --- hints and solutions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("question", list(q.QUESTIONS))
def test_hints_have_levels_that_say_more_each_time(question):
    item = q.QUESTIONS[question]
    levels = len(item.hints)
    assert levels >= 2
    hints = [item.hint(level) for level in range(1, levels + 1)]
    assert all(isinstance(h, Feedback) for h in hints)
    assert str(item.hint()) == str(hints[0])
    assert hints[0].title == f"Hint 1/{levels}" and "(more: hint(2))" in hints[0].text
    assert hints[-1].title == f"Hint {levels}/{levels}" and "more:" not in hints[-1].text
    assert len({h.text for h in hints}) == levels
    for bad in (0, levels + 1, "2", True):
        assert f"takes a level from 1 to {levels}" in item.hint(bad).text
    assert hints[0]._repr_markdown_().startswith(f"**Hint 1/{levels}:**")


@pytest.mark.parametrize("question", ["dataloader", "task", "model"])
def test_the_solution_code_passes_its_own_check(question, notebook):
    solution = q.QUESTIONS[question].solution()
    assert solution.title == "Solution" and solution.text and "```python" in solution._repr_markdown_()
    namespace = {
        **notebook,
        "torch": torch,
        "nn": nn,
        "DictDataset": DictDataset,
        "DictDataLoader": DictDataLoader,
        "Task": Task,
        "Operation": Operation,
        "MultitaskClassifier": MultitaskClassifier,
    }
    exec(solution.code, namespace)
    answer = {"dataloader": "inv_dataloader", "task": "inv_circle_task", "model": "model"}[question]
    assert namespace[answer] is not notebook.get(answer)
    _assert(q.QUESTIONS[question].check(namespace[answer]), CORRECT)


def test_the_training_solution_names_the_tutorials_settings():
    code = q.training.solution().code
    assert "Trainer(progress_bar=False, n_epochs=10, lr=0.02, seed=123)" in code
    assert "trainer.fit(model, all_dataloaders)" in code
