"""The student's own functions, and the everyday idioms around a model (issue 23), class by class.

Loss, output, metric and weighting functions are checked when handed over
(a function, not a class, taking the arguments it will get) and at their
first call on a small batch, before training or scoring; what they raise or
return is named. Models copy, pickle and load with clear errors; histories
of different lengths draw; one-class data is warned about.
"""

from __future__ import annotations

import copy
import functools
import io
import pickle
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mtl_teach import (
    DictDataLoader,
    DictDataset,
    MTLConfigError,
    MultitaskClassifier,
    Operation,
    Scorer,
    Task,
    Trainer,
    make_tutorial_dataloaders,
    set_seed,
)
from mtl_teach.balancing import GradientAggregation, GradNorm, UncertaintyWeighting
from mtl_teach.graph import compile_task
from mtl_teach.plotting import GradCosineDisplay, TaskWeightsDisplay
from mtl_teach.slicing import SliceAwareClassifier, apply_slicing_functions, slicing_function
from mtl_teach.toy_data import (
    make_circle_dataset,
    make_inv_circle_dataset,
    make_joint_dataloaders,
    make_square_dataset,
)
from mtl_teach.toy_objectives import optimize_toy

FIELDS = {"circle_task": "circle_data", "square_task": "square_data"}


def tasks(head_outputs: int | None = 2, **task_kwargs) -> list[Task]:
    """The tutorial's two tasks on one shared trunk, with the given loss/output/scorer.

    ``head_outputs=None``: one logit per example, shape ``(batch,)``, as a binary loss wants.
    """
    trunk = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())

    def head():
        return nn.Linear(4, head_outputs) if head_outputs else nn.Sequential(nn.Linear(4, 1), nn.Flatten(0))

    return [
        Task(
            name=name,
            module_pool=nn.ModuleDict({"base_mlp": trunk, f"{name}_head": head()}),
            op_sequence=[Operation("base_mlp", [("_input_", field)]), Operation(f"{name}_head", [("base_mlp", 0)])],
            **task_kwargs,
        )
        for name, field in FIELDS.items()
    ]


@pytest.fixture(scope="module")
def loaders():
    return make_tutorial_dataloaders(["circle_task", "square_task"], n=100, seed=0)


def fit(model, loaders, **kwargs):
    return Trainer(progress_bar=False, n_epochs=1, seed=0, **kwargs).fit(model, loaders)


def weights_of(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_untrained(model, before):
    # The check ran before training: not one step was taken.
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


# ---------------------------------------------------------------- handed over: a function, not a class
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"loss_func": nn.CrossEntropyLoss},
            r"Task\('circle_task'\) loss_func must be a function .*not a class; "
            r"got CrossEntropyLoss\. Fix: create one and pass it: CrossEntropyLoss\(\) instead of CrossEntropyLoss\.",
        ),
        ({"loss_func": nn.BCEWithLogitsLoss}, r"loss_func must be a function loss_func\(logits, labels\), not a class"),
        (
            {"output_func": nn.Softmax},
            r"output_func must be a function output_func\(logits\), not a class.*Softmax\(\)",
        ),
        (
            {"loss_func": lambda logits: logits.sum()},
            r"loss_func must take 2 arguments, as in loss_func\(logits, "
            r"labels\); got a lambda\(logits\)\. Fix: pass a function f\(logits, labels\) -> loss",
        ),
        ({"loss_func": lambda a, b, c: a.sum()}, r"loss_func must take 2 arguments.*got a lambda\(a, b, c\)"),
        (
            {"output_func": lambda: None},
            r"output_func must take 1 argument, as in output_func\(logits\); got a lambda\(\)",
        ),
        ({"output_func": lambda logits, dim: logits}, r"output_func must take 1 argument"),
        (
            {"loss_func": "cross_entropy"},
            r"loss_func must be a function loss_func\(logits, labels\); got 'cross_entropy'",
        ),
    ],
    ids=[
        "loss class",
        "BCE class",
        "output class",
        "loss 1 arg",
        "loss 3 args",
        "output 0 args",
        "output 2 args",
        "str",
    ],
)
def test_a_task_refuses_functions_that_cannot_be_called_as_it_will_call_them(kwargs, message):
    with pytest.raises(MTLConfigError, match=message):
        tasks(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"loss_func": nn.CrossEntropyLoss()},
        {"loss_func": nn.CrossEntropyLoss(label_smoothing=0.1)},
        {"loss_func": functools.partial(F.cross_entropy, label_smoothing=0.1)},
        {"loss_func": lambda logits, labels, weight=None: F.cross_entropy(logits, labels, weight=weight)},
        {"loss_func": lambda *args: F.cross_entropy(*args)},
        {"output_func": nn.Softmax(dim=1)},
        {"output_func": functools.partial(F.softmax, dim=1)},
        {"output_func": lambda logits: F.log_softmax(logits, dim=1).exp()},
    ],
    ids=["CE()", "smoothing", "partial", "default arg", "*args", "Softmax()", "partial softmax", "exp log_softmax"],
)
def test_functions_that_keep_the_contract_train_and_score(kwargs, loaders):
    model = fit(MultitaskClassifier(tasks(**kwargs)), loaders)
    scores = model.score(loaders)
    assert len(scores) == 6 and all(0 <= v <= 1 for v in scores.values())


def test_a_one_logit_head_with_a_binary_loss_and_two_column_output_works(loaders):
    # A student who wants BCE can have it: one logit per example, float labels, both probabilities out.
    def bce(logits, labels):
        return F.binary_cross_entropy_with_logits(logits, labels.float())

    def two_columns(logits):
        p = torch.sigmoid(logits)[:, None]  # (n, 1)
        return torch.cat([1 - p, p], dim=1)  # (n, 2)

    model = fit(MultitaskClassifier(tasks(head_outputs=None, loss_func=bce, output_func=two_columns)), loaders)
    probs = model.predict(loaders[2])["probs"]["circle_task"]
    assert probs.shape == (10, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-6)


# ---------------------------------------------------------------- the loss's first call, before training
@pytest.mark.parametrize(
    ("loss_func", "rule", "got", "fix"),
    [
        (
            nn.CrossEntropyLoss(reduction="none"),
            "must return one number for the batch, a tensor of shape ()",
            "got a tensor of shape (8,), float32 (one loss per example?)",
            "reduction='mean'",
        ),
        (
            lambda logits, labels: F.cross_entropy(logits, labels, reduction="none")[:1],
            "must return one number for the batch, a tensor of shape ()",
            "got a tensor of shape (1,), float32",
            "return loss.mean()",
        ),
        (
            lambda logits, labels: F.cross_entropy(logits, labels).item(),
            "must return the loss as a tensor, which autograd follows back to the weights",
            "got a float (",
            "no .item(), float() or numpy",
        ),
        (
            lambda logits, labels: F.cross_entropy(logits, labels).detach().numpy(),
            "must return the loss as a tensor",
            "got a numpy array of shape (), float32",
            "no .item(), float() or numpy",
        ),
        (
            lambda logits, labels: torch.tensor(F.cross_entropy(logits, labels).item()),
            "must return a tensor computed from the logits, so that autograd can train the model",
            "with no gradient (requires_grad=False)",
            "no .detach(), .item(), numpy or torch.tensor(...)",
        ),
        (
            lambda logits, labels: (logits.argmax(dim=1) != labels).sum(),
            "must return a floating-point tensor",
            "got a tensor of shape (), int64",
            "an integer loss has no gradient",
        ),
    ],
    ids=["reduction none", "shape (1,)", "item()", "numpy", "torch.tensor", "integer"],
)
def test_a_loss_that_returns_the_wrong_thing_is_named_before_training(loss_func, rule, got, fix, loaders):
    model = MultitaskClassifier(tasks(loss_func=loss_func))
    before = weights_of(model)
    with pytest.raises(MTLConfigError) as info:
        fit(model, loaders)
    text = str(info.value)
    assert text.startswith("Task('circle_task') loss_func (") and rule in text and got in text, text
    assert "Fix:" in text and fix in text, text
    assert_untrained(model, before)


def test_a_binary_loss_on_a_two_output_head_gets_its_own_fix(loaders):
    model = MultitaskClassifier(tasks(loss_func=F.binary_cross_entropy_with_logits))
    with pytest.raises(MTLConfigError) as info:
        fit(model, loaders)
    text = str(info.value)
    assert (
        "Task('circle_task') loss_func (binary_cross_entropy_with_logits) raised an error when called as "
        "loss_func(logits, labels) (logits: a tensor of shape (8, 2), float32; labels: a tensor of shape (8,), "
        "int64); got ValueError: Target size" in text
    ), text
    assert "Fix: a binary loss (BCE) wants one output per example and float labels" in text
    assert "use F.cross_entropy (the default)" in text
    assert isinstance(info.value.__cause__, ValueError)  # torch's own message stays below ours
    with pytest.raises(
        MTLConfigError, match=r"BCEWithLogitsLoss\(\)\) raised an error .*Fix: give the binary loss float labels"
    ):
        fit(MultitaskClassifier(tasks(head_outputs=None, loss_func=nn.BCEWithLogitsLoss())), loaders)


def test_whatever_a_loss_raises_is_named_with_the_call_and_chained(loaders):
    def picky(logits, labels):
        return F.cross_entropy(logits[:, 2:], labels)  # a typo: no column 2 on a 2-output head

    with pytest.raises(MTLConfigError) as info:
        fit(MultitaskClassifier(tasks(loss_func=picky)), loaders)
    text = str(info.value)
    assert "Task('circle_task') loss_func (picky) raised an error when called as loss_func(logits, labels)" in text
    assert "got IndexError: " in text and "Fix: pass a function f(logits, labels) -> loss" in text
    cause = info.value.__cause__  # chained: its traceback still shows the student's line
    assert isinstance(cause, IndexError)
    assert "picky" in [frame.name for frame in __import__("traceback").extract_tb(cause.__traceback__)]


def test_labels_too_big_for_the_head_are_named_before_the_loss_is_tried(loaders):
    data = loaders[0].dataset
    Y = data.Y_dict["circle_task"].clone()
    Y[50] = 2
    bad = DictDataLoader(DictDataset(data.name, "train", data.X_dict, {"circle_task": Y}), batch_size=16)
    with pytest.raises(MTLConfigError, match=r"Labels of task 'circle_task' must lie in 0..1.*got label 2"):
        fit(MultitaskClassifier(tasks()[:1]), [bad])


def test_the_check_draws_no_random_number_and_moves_no_batchnorm_statistic(loaders):
    trunk = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5))
    task = Task(
        name="circle_task",
        module_pool=nn.ModuleDict({"trunk": trunk, "head": nn.Linear(8, 2)}),
        op_sequence=[Operation("trunk", [("_input_", "circle_data")]), Operation("head", ["trunk"])],
    )
    model = MultitaskClassifier([task])
    shuffled = DictDataLoader(loaders[0].dataset, batch_size=16, shuffle=True)
    before, rng = weights_of(model), torch.get_rng_state()
    model.check_task_functions([shuffled])
    assert_untrained(model, before)  # running_mean and running_var included
    assert torch.equal(torch.get_rng_state(), rng)
    assert model.training


# ---------------------------------------------------------------- the output: a probability per class
@pytest.mark.parametrize(
    ("output_func", "got", "fix"),
    [
        (lambda logits: logits, "got values from", "return F.softmax(logits, dim=1) (the default), not the logits"),
        (lambda logits: 3 * logits.abs() + 1, "got values from", "not the logits themselves"),
        (lambda logits: F.log_softmax(logits, dim=1), "got values from", "these are log-probabilities"),
        (torch.sigmoid, "rows summing to", "F.softmax(logits, dim=1)"),
        (lambda logits: logits * float("nan"), "got NaN or inf", "F.softmax"),
    ],
    ids=["identity", "positive logits", "log_softmax", "sigmoid per column", "nan"],
)
def test_an_output_that_is_not_a_distribution_is_named_at_fit_and_at_predict(output_func, got, fix, loaders):
    rule = "must return probabilities: numbers in [0, 1] that sum to 1 over the classes of each example (each row)"
    model = MultitaskClassifier(tasks(output_func=output_func))
    before = weights_of(model)
    with pytest.raises(MTLConfigError) as info:
        fit(model, loaders)
    text = str(info.value)
    assert text.startswith("Task('circle_task') output_func (") and rule in text and got in text, text
    assert fix in text
    assert_untrained(model, before)
    # predict checks too: a model used without training would report logits as "probs"
    for call in (lambda: model.predict(loaders[2]), lambda: model.score(loaders)):
        with pytest.raises(MTLConfigError, match=r"output_func .* must return probabilities"):
            call()


@pytest.mark.parametrize(
    ("output_func", "got"),
    [
        (lambda logits: F.softmax(logits, dim=1)[:, 1], "got a tensor of shape (8,), float32"),
        (lambda logits: F.softmax(logits, dim=1)[:, 1:], "got a tensor of shape (8, 1), float32"),
        (lambda logits: F.softmax(logits, dim=1).T, "got a tensor of shape (2, 8), float32"),
        (lambda logits: F.softmax(logits, dim=1).numpy(force=True), "must return a tensor; got a numpy array"),
        (lambda logits: F.softmax(logits, dim=1).tolist(), "must return a tensor; got a list of 8"),
    ],
    ids=["one column (n,)", "one column (n, 1)", "transposed", "numpy", "list"],
)
def test_an_output_of_the_wrong_shape_or_type_is_named(output_func, got, loaders):
    with pytest.raises(MTLConfigError) as info:
        fit(MultitaskClassifier(tasks(output_func=output_func)), loaders)
    text = str(info.value)
    assert got in text, text
    if "shape" in got:
        assert "must return one probability per class for each example, a tensor of shape (8, n_classes)" in text
        assert "torch.cat([1 - p, p], dim=1)" in text


def test_an_output_func_that_raises_is_named(loaders):
    with pytest.raises(MTLConfigError) as info:
        fit(MultitaskClassifier(tasks(output_func=lambda logits: F.softmax(logits, dim=2))), loaders)
    assert (
        "output_func (a lambda) raised an error when called as output_func(logits) (logits: a tensor of shape (8, 2)"
        in str(info.value)
    )
    assert isinstance(info.value.__cause__, IndexError)


def test_only_classification_tasks_have_their_output_checked(monkeypatch, loaders):
    # The one switch a task of another kind (regression, issue 24) turns off.
    monkeypatch.setattr(Task, "is_classification", property(lambda self: False))
    model = MultitaskClassifier(tasks(output_func=lambda logits: logits))
    model.check_task_functions(loaders)
    assert model.predict(loaders[2])["probs"]["circle_task"].shape == (10, 2)


# ---------------------------------------------------------------- metrics
def error_rate(golds, preds, probs):
    return float(np.mean(golds != preds))


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (
            lambda golds, preds: 1.0,
            r"Scorer\(custom_metric_funcs\['m'\]\) must take 3 arguments, as in "
            r"f\(golds, preds, probs\); got a lambda\(golds, preds\)\. Fix: write it as f\(golds, preds, probs\) -> float",
        ),
        (lambda: 1.0, r"must take 3 arguments"),
        (np.ndarray, r"custom_metric_funcs\['m'\]\) must be a function f\(golds, preds, probs\), not a class"),
        (0.5, r"must be a function f\(golds, preds, probs\); got 0.5"),
    ],
    ids=["2 args", "0 args", "class", "number"],
)
def test_a_metric_that_cannot_be_called_so_is_refused_when_the_scorer_is_made(func, message):
    with pytest.raises(MTLConfigError, match=message):
        Scorer(metrics=["accuracy"], custom_metric_funcs={"m": func})
    with pytest.raises(MTLConfigError, match=r"Scorer\(custom_metric_funcs\) must be a dict"):
        Scorer(custom_metric_funcs=[error_rate])


@pytest.mark.parametrize(
    ("func", "got"),
    [
        (lambda golds, preds, probs: golds == preds, "got a numpy array of shape (10,), bool"),
        (lambda golds, preds, probs: "0.5", "got a str"),
        (lambda golds, preds, probs: None, "got None"),
        (lambda golds, preds, probs: {"a": 1.0, "b": [1, 2]}, "whose 'b' is a list of 2"),
    ],
    ids=["array", "str", "None", "dict with a list"],
)
def test_a_metric_that_returns_no_number_is_named(func, got, loaders):
    model = MultitaskClassifier(tasks(scorer=Scorer(metrics=["accuracy"], custom_metric_funcs={"m": func})))
    with pytest.raises(MTLConfigError) as info:
        model.score([loaders[2]])
    text = str(info.value)
    assert "Scorer custom metric 'm' (a lambda) must return a number, or a dict of name -> number" in text
    assert got in text and "Fix: return one float" in text, text


def test_a_metric_that_raises_is_named_with_its_arguments(loaders):
    def auc(golds, preds, probs):
        return probs[:, 2].mean()  # a typo: two classes

    model = MultitaskClassifier(tasks(scorer=Scorer(custom_metric_funcs={"auc": auc})))
    with pytest.raises(MTLConfigError) as info:
        model.score([loaders[2]])
    text = str(info.value)
    assert "Scorer custom metric 'auc' (auc) raised an error when called as auc(golds, preds, probs)" in text
    assert "probs: a numpy array of shape (10, 2), float32); got IndexError" in text
    assert isinstance(info.value.__cause__, IndexError)


def test_metrics_that_keep_the_contract_are_scored(loaders):
    funcs = {
        "error": error_rate,
        "np": lambda golds, preds, probs: np.float32(0.25),
        "tensor": lambda golds, preds, probs: torch.tensor(0.5),
        "many": lambda golds, preds, probs: {"n_golds": len(golds), "zero": np.int64(0)},
    }
    model = MultitaskClassifier(tasks(scorer=Scorer(metrics=["accuracy"], custom_metric_funcs=funcs)))
    scores = model.score([loaders[2]])
    prefix = "circle_task/circleDataset/test/"
    assert scores[prefix + "np"] == 0.25 and scores[prefix + "tensor"] == 0.5
    assert scores[prefix + "n_golds"] == 10.0 and scores[prefix + "zero"] == 0.0
    assert scores[prefix + "error"] == pytest.approx(1 - scores[prefix + "accuracy"])


# ---------------------------------------------------------------- weighting functions
@pytest.fixture(scope="module")
def joint():
    return make_joint_dataloaders(["circle_task", "square_task"], n=100)


@pytest.mark.parametrize(
    ("weighting", "message"),
    [
        (
            GradNorm,
            r"Trainer\(weighting\) must be a Weighting object, not its class; got GradNorm\. Fix: create one: "
            r"weighting=GradNorm\(\), or pass its name, weighting='gradnorm'\.",
        ),
        (UncertaintyWeighting, r"not its class; got UncertaintyWeighting.*weighting='uncertainty'"),
        (
            GradientAggregation,
            r"not its class; got GradientAggregation\. Fix: create one: weighting=GradientAggregation\(\)\.",
        ),
        (
            {"circle_task": 1, "square_task": 2},
            r"Trainer\(weighting\) picks a method that balances the tasks as they "
            r"train; fixed weights per task belong to the tasks.*Fix: give each task its weight, Task\(name, module_pool, "
            r"op_sequence, weight=2.0\)",
        ),
        ([1.0, 100.0], r"fixed weights per task belong to the tasks.*Task\(.*weight=2.0\)"),
        (
            lambda: None,
            r"Trainer\(weighting\) must take 1 argument, as in f\(G\); got a lambda\(\)\. Fix: write it as "
            r"f\(G\) -> direction",
        ),
        (lambda G, H: G, r"must take 1 argument"),
        (nn.Linear, r"Trainer\(weighting\) must be a function f\(G\), not a class; got Linear"),
        ("PCGrad", r"Trainer\(weighting\) must be one of .*'pcgrad'.*; got 'PCGrad'"),
        (3, r"Trainer\(weighting\) must be one of"),
    ],
    ids=[
        "GradNorm",
        "Uncertainty",
        "GradientAggregation",
        "dict",
        "list",
        "no arg",
        "2 args",
        "nn class",
        "name",
        "int",
    ],
)
def test_a_weighting_that_is_not_one_is_refused_when_the_trainer_is_made(weighting, message):
    with pytest.raises(MTLConfigError, match=message):
        Trainer(weighting=weighting)


def test_a_weighting_function_that_raises_is_named_with_the_shape_of_g(joint):
    def my_pcgrad(G):
        return G[2]  # a typo: there are two tasks

    model = MultitaskClassifier(tasks())
    before = weights_of(model)
    with pytest.raises(MTLConfigError) as info:
        fit(model, joint, weighting=my_pcgrad)
    text = str(info.value)
    assert "Trainer(weighting=my_pcgrad) raised an error when called as my_pcgrad(G) (G: a tensor of shape (2, " in text
    assert isinstance(info.value.__cause__, IndexError)
    assert_untrained(model, before)


def test_an_unwritten_stub_still_raises_not_implemented(joint, loaders):
    # The exercises and the grader read NotImplementedError as "not attempted": it is not renamed.
    def my_pcgrad(G):
        raise NotImplementedError

    def my_loss(logits, labels):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        fit(MultitaskClassifier(tasks()), joint, weighting=my_pcgrad)
    with pytest.raises(NotImplementedError):
        fit(MultitaskClassifier(tasks(loss_func=my_loss)), loaders)


def test_optimize_toy_checks_its_method_as_the_trainer_does(joint):
    def as_matrix(G):
        return G  # (tasks, params), not a direction

    with pytest.raises(MTLConfigError) as trainer_error:
        fit(MultitaskClassifier(tasks()), joint, weighting=as_matrix)
    with pytest.raises(MTLConfigError) as toy_error:
        optimize_toy(as_matrix, steps=3)
    rule = "must return a tensor of shape ("
    for info, where in ((trainer_error, "Trainer(weighting=as_matrix)"), (toy_error, "optimize_toy(method=as_matrix)")):
        text = str(info.value)
        assert text.startswith(f"{where} {rule}") and ", one entry per shared parameter, for G of shape (2, " in text
        assert "Fix: return one direction vector (e.g. the sum of the projected rows), not a matrix or a list." in text
    with pytest.raises(MTLConfigError, match=r"optimize_toy\(method=a lambda\) must return finite numbers"):
        optimize_toy(lambda G: G.sum(0) * float("nan"), steps=3)
    with pytest.raises(MTLConfigError, match=r"get_method\(name_or_callable\) must take 1 argument"):
        optimize_toy(lambda: 0, steps=3)
    with pytest.raises(
        MTLConfigError, match=r"optimize_toy\(method=a lambda\) raised an error .*G: a tensor of shape \(2, 2\)"
    ):
        optimize_toy(lambda G: G[5], steps=3)


# ---------------------------------------------------------------- models copy, pickle and load
@slicing_function()
def right_edge(X):
    return X[:, 0] > 0.5


def slice_model_and_loader():
    X, Y = make_circle_dataset(n=200, seed=0)[0]
    S = apply_slicing_functions([right_edge], X)
    set_seed(0)
    model = SliceAwareClassifier(nn.Sequential(nn.Linear(2, 8), nn.ReLU()), 8, ["right_edge"], "x", "task")
    data = DictDataset.from_tensors(torch.from_numpy(X), torch.from_numpy(Y), "train", "x", "task", "circle")
    return model, model.make_slice_dataloader(data, S, batch_size=32)


@pytest.fixture(scope="module")
def trained(loaders):
    set_seed(0)
    model = fit(
        MultitaskClassifier(tasks(scorer=Scorer(metrics=["accuracy"], custom_metric_funcs={"e": error_rate}))), loaders
    )
    slice_model, slice_loader = slice_model_and_loader()
    fit(slice_model, [slice_loader])
    return [(model, loaders[2]), (slice_model, slice_loader)]


def predictions(model, loader):
    return model.predict(loader, return_preds=True)


def assert_same_predictions(a, b):
    for kind in ("golds", "probs", "preds"):
        for label in a[kind]:
            np.testing.assert_array_equal(a[kind][label], b[kind][label])


@pytest.mark.parametrize("which", [0, 1], ids=["MultitaskClassifier", "SliceAwareClassifier"])
def test_a_trained_model_deep_copies_and_round_trips_through_torch_save(which, trained, tmp_path):
    model, loader = trained[which]
    expected = predictions(model, loader)
    copied = copy.deepcopy(model)
    assert_same_predictions(expected, predictions(copied, loader))
    assert (
        copied.module_pool["base_mlp" if which == 0 else "base_architecture"]
        is not model.module_pool["base_mlp" if which == 0 else "base_architecture"]
    )
    # shared modules stay shared inside the copy, by the same object under every task
    shared = copied.shared_modules()[0]
    assert all(
        task.module_pool[shared] is copied.module_pool[shared]
        for task in copied.tasks.values()
        if shared in task.module_pool
    )
    path = tmp_path / "whole_model.pt"
    torch.save(model, path)
    loaded = torch.load(path, weights_only=False)  # a whole model is code: torch's default loads tensors only
    assert type(loaded) is type(model) and repr(loaded) == repr(model)
    assert_same_predictions(expected, predictions(loaded, loader))
    assert loaded.score([loader]) == model.score([loader])
    assert loaded._plans == {name: compile_task(task) for name, task in loaded.tasks.items()}


def test_a_copy_trains_without_touching_the_original(trained, loaders):
    model, loader = trained[0]
    expected = predictions(model, loader)
    fit(copy.deepcopy(model), loaders)
    assert_same_predictions(expected, predictions(model, loader))


def test_a_bare_scorer_copies_and_pickles():
    scorer = Scorer(metrics=["accuracy", "f1"], custom_metric_funcs={"e": error_rate})
    for clone in (copy.deepcopy(scorer), pickle.loads(pickle.dumps(scorer))):
        assert repr(clone) == repr(scorer)
        assert clone.score(np.array([0, 1, 1]), np.array([0, 1, 0])) == scorer.score(
            np.array([0, 1, 1]), np.array([0, 1, 0])
        )
    with pytest.raises(TypeError):
        scorer.custom_metric_funcs["x"] = error_rate  # still read-only


def test_loading_weights_of_other_shapes_names_the_module(trained, tmp_path):
    model, _ = trained[0]
    path = tmp_path / "model.pth"
    model.save(path)
    wider = MultitaskClassifier(tasks())
    wider.module_pool["base_mlp"][2] = nn.Linear(8, 5)
    with pytest.raises(MTLConfigError) as info:
        wider.load(path)
    text = str(info.value)
    assert "must hold weights of the same shapes as this model's; module 'base_mlp.2' differs" in text
    assert "got module_pool.base_mlp.2.weight of shape (4, 8) saved, (5, 8) in this model" in text
    assert "Fix: build 'base_mlp' with the same layer sizes as the saved model" in text
    three_classes = MultitaskClassifier(tasks())
    three_classes.module_pool["square_task_head"] = nn.Linear(4, 3)
    with pytest.raises(
        MTLConfigError,
        match=r"module 'square_task_head' differs; got module_pool.square_task_head.weight of shape \(2, 4\) saved, \(3, 4\)",
    ):
        three_classes.load(path)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)  # a bare state dict loads too
    buffer.seek(0)
    MultitaskClassifier(tasks()).load(buffer)


# ---------------------------------------------------------------- predict takes one loader
@pytest.mark.parametrize(
    ("value", "got", "fix"),
    [
        (
            "loaders",
            "got a list of 6 loaders",
            "predict each loader: {(dl.dataset.name, dl.dataset.split): model.predict(dl)",
        ),
        ("one in a list", "got a list of 1 loaders", "or score them all with model.score(loaders)"),
        ("dataset", "must be a DictDataLoader; got DictDataset", "wrap your data: DictDataLoader("),
        ("tensor", "must be a DictDataLoader; got Tensor", "DictDataLoader(DictDataset(name, split, X_dict, Y_dict)"),
    ],
)
def test_predict_says_what_to_do_with_what_is_not_one_loader(value, got, fix, loaders):
    model = MultitaskClassifier(tasks())
    arg = {
        "loaders": loaders,
        "one in a list": loaders[:1],
        "dataset": loaders[0].dataset,
        "tensor": torch.zeros(4, 2),
    }[value]
    with pytest.raises(MTLConfigError) as info:
        model.predict(arg)
    text = str(info.value)
    assert text.startswith("MultitaskClassifier.predict(dataloader) must be") and got in text and fix in text, text


# ---------------------------------------------------------------- histories of runs of different lengths
def test_merged_histories_of_different_lengths_draw():
    # notebook 08's pattern: histories.update(trainer.history), one pair per run; here the runs differ in length
    histories = {}
    runs = [(("circle_task", "inv_circle_task"), 3), (("circle_task", "square_task"), 2)]
    for pair, epochs in runs:
        trainer = Trainer(progress_bar=False, n_epochs=epochs, seed=0, log_grad_cosine=True, weighting="uncertainty")
        set_seed(0)
        trainer.fit(MultitaskClassifier(tasks_for(pair)), make_joint_dataloaders(pair, n=100))
        histories.update(trainer.history)
    assert len(histories["epoch"]) == 2  # the last run's
    cosines = GradCosineDisplay.from_history(histories, plot=False)
    assert cosines.cosines.shape == (2, 3) and cosines.epochs.tolist() == [1, 2, 3]
    assert np.isnan(cosines.cosines[1, 2]) and np.isfinite(cosines.cosines[0]).all()
    assert np.isfinite(cosines.mean("circle_task+square_task"))
    weights = TaskWeightsDisplay.from_history(histories, plot=False)
    assert weights.weights.shape == (3, 3)
    assert np.isfinite(list(weights.final().values())).all()
    with pytest.raises(
        MTLConfigError,
        match=r"GradCosineDisplay.from_history\(history\)\['a\+b/all/train/grad_cosine'\] "
        r"must be a list of numbers, one per epoch",
    ):
        GradCosineDisplay.from_history({"epoch": [1], "a+b/all/train/grad_cosine": ["high"]}, plot=False)


def tasks_for(pair):
    trunk = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())
    fields = {"circle_task": "circle_data", "square_task": "square_data", "inv_circle_task": "inv_circle_data"}
    return [
        Task(
            name=name,
            module_pool=nn.ModuleDict({"base_mlp": trunk, f"{name}_head": nn.Linear(4, 2)}),
            op_sequence=[
                Operation("base_mlp", [("_input_", fields[name])]),
                Operation(f"{name}_head", [("base_mlp", 0)]),
            ],
        )
        for name in pair
    ]


# ---------------------------------------------------------------- one class: a silent wrong result
@pytest.mark.parametrize(
    ("maker", "r", "label", "meaning"),
    [
        (make_circle_dataset, 2.5, 1, "x0^2 + x1^2 < r, so r is the squared radius"),
        (make_circle_dataset, 1e-6, 0, "x0^2 + x1^2 < r, so r is the squared radius"),
        (make_inv_circle_dataset, 2.5, 0, "outside when x0^2 + x1^2 > r, so r is the squared radius"),
        (make_square_dataset, 2.5, 1, "|x0| < r/2 and |x1| < r/2, so r is the side of the square"),
    ],
)
def test_a_maker_warns_when_r_labels_every_point_alike(maker, r, label, meaning):
    with pytest.warns(UserWarning) as record:
        maker(r=r)
    (warning,) = record
    text = str(warning.message)
    assert text.startswith(f"{maker.__name__}(r={r}) labels every one of its 1000 points {label}: ") and meaning in text
    assert "Fix: pass r between 0 and 2, e.g. r=1." in text
    assert warning.filename == __file__  # points at the caller's line


def test_a_maker_says_when_few_points_not_r_gave_one_class():
    with pytest.warns(UserWarning) as record:
        make_circle_dataset(n=10, seed=0)  # all ten inside the unit circle, by chance
    (warning,) = record
    assert str(warning.message).startswith(
        "make_circle_dataset(r=1.0) labels every one of its 10 points 1: with only 10 points, chance gave them one class."
    )
    assert str(warning.message).endswith("Fix: pass more points, e.g. n=1000.")


def test_joint_loaders_warn_for_each_task_labelled_alike():
    with pytest.warns(UserWarning) as record:
        make_joint_dataloaders(["circle_task", "inv_circle_task"], n=100, r=3)
    assert [str(w.message).split(":")[0] for w in record] == [
        "make_joint_dataloaders(r=3) labels every one of its 80 training points for 'circle_task' 1",
        "make_joint_dataloaders(r=3) labels every one of its 80 training points for 'inv_circle_task' 0",
    ]
    assert {w.filename for w in record} == {__file__}


def test_the_trainer_warns_when_a_tasks_training_labels_are_one_class(loaders):
    data = loaders[0].dataset
    ones = DictDataset(data.name, "train", data.X_dict, {"circle_task": torch.ones(len(data), dtype=torch.long)})
    one_class = [DictDataLoader(ones, batch_size=16), loaders[3]]
    with pytest.warns(UserWarning, match=r"Every training label of task 'circle_task' is 1 \(80 labels\)") as record:
        fit(MultitaskClassifier(tasks()), one_class)
    assert [w for w in record if "square_task" in str(w.message)] == []
    assert record[0].filename == __file__


def test_no_one_class_warning_for_two_classes_or_a_slice_models_derived_tasks(loaders):
    model, loader = slice_model_and_loader()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fit(MultitaskClassifier(tasks()), loaders)
        fit(model, [loader])  # the "base" slice's indicator labels are all 1, by design
