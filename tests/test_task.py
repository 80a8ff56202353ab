"""Operation and Task (mtl_teach/task.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mtl_teach import MTLConfigError, Operation, Scorer, Task


def pool():
    return nn.ModuleDict({"base_mlp": nn.Sequential(nn.Linear(2, 4), nn.ReLU()), "head": nn.Linear(4, 2)})


def ops():
    return [Operation("base_mlp", [("_input_", "circle_data")]), Operation("head", ["base_mlp"])]


# ----------------------------------------------------------------- Operation
def test_operation_name_defaults_to_module_name():
    op = Operation("base_mlp", [("_input_", "circle_data")])
    assert op.name == "base_mlp"
    assert op.module_name == "base_mlp"
    assert op.inputs == (("_input_", "circle_data"),)
    named = Operation(module_name="circle_head_module", inputs=["base_mlp"], name="circle_head")
    assert named.name == "circle_head"
    assert named.module_name == "circle_head_module"


def test_operation_inputs_are_normalised():
    # A bare string or a bare (op, key) pair is one input.
    assert Operation("m", "base_mlp").inputs == ("base_mlp",)
    assert Operation("m", ("_input_", "x")).inputs == (("_input_", "x"),)
    # Lists inside become tuples; several inputs keep their order.
    op = Operation("m", [["_input_", "x"], "a", ("b", 0)])
    assert op.inputs == (("_input_", "x"), "a", ("b", 0))
    assert op.source_names() == ["_input_", "a", "b"]
    assert Operation("m", []).inputs == ()


def test_operation_is_immutable_and_has_a_repr():
    op = Operation("m", ["a"], name="n")
    with pytest.raises(AttributeError):
        op.name = "other"
    assert repr(op) == "Operation(name='n', module_name='m', inputs=['a'])"


@pytest.mark.parametrize("bad", [[("a", "b", "c")], [3], [(0, "x")]])
def test_operation_bad_input_entries_are_errors(bad):
    with pytest.raises(MTLConfigError, match=r"Operation\('m', inputs\) entries must be an op name or a pair") as info:
        Operation("m", bad)
    assert "Fix: write e.g. ('_input_', 'circle_data')" in str(info.value).replace('"', "'")


@pytest.mark.parametrize("bad", [None, 3, {"a": 1}])
def test_operation_inputs_must_be_a_list(bad):
    # Was a bare TypeError ("'NoneType' object is not iterable").
    with pytest.raises(MTLConfigError) as info:
        Operation("m", bad)
    text = str(info.value)
    assert "Operation('m', inputs) must be a list of inputs" in text
    assert f"got {bad!r}" in text
    assert "Fix: write e.g. [('_input_', 'circle_data')] or ['base_mlp']" in text.replace('"', "'")


@pytest.mark.parametrize("bad", ["", None, 3])
def test_operation_module_name_must_be_a_string(bad):
    with pytest.raises(MTLConfigError, match=r"Operation\(module_name\) must be a non-empty string"):
        Operation(bad, ["a"])


# ---------------------------------------------------------------------- Task
def test_task_basic_attributes():
    p = pool()
    task = Task("circle_task", p, ops())
    assert task.name == "circle_task"
    assert task.module_pool is p
    assert isinstance(task.op_sequence, tuple)
    assert [op.name for op in task.op_sequence] == ["base_mlp", "head"]
    assert task.weight == 1.0
    assert task.loss_func is F.cross_entropy
    probs = task.output_func(torch.tensor([[0.0, 0.0], [10.0, -10.0]]))
    assert torch.allclose(probs, torch.tensor([[0.5, 0.5], [1.0, 0.0]]), atol=1e-6)
    assert "circle_task" in repr(task)
    assert "base_mlp -> head" in repr(task)


def test_task_flow_alias():
    task = Task(name="circle_task", module_pool=pool(), task_flow=ops())
    assert [op.name for op in task.op_sequence] == ["base_mlp", "head"]
    assert task.task_flow is None  # folded into op_sequence


def test_task_accepts_a_plain_dict_of_modules():
    modules = {"base_mlp": nn.Linear(2, 4), "head": nn.Linear(4, 2)}
    task = Task("t", modules, ops())
    assert isinstance(task.module_pool, nn.ModuleDict)
    assert task.module_pool["head"] is modules["head"]


def test_default_scorer_is_accuracy_and_not_shared():
    a = Task("a", pool(), ops())
    b = Task("b", pool(), ops())
    assert isinstance(a.scorer, Scorer)
    assert a.scorer.metrics == ("accuracy",)
    assert a.scorer is not b.scorer  # Snorkel shared one default Scorer between tasks


def test_explicit_scorer_none_gets_a_default():
    task = Task("a", pool(), ops(), scorer=None)
    assert task.scorer.metrics == ("accuracy",)


def test_op_naming_a_missing_module_lists_the_pool():
    bad = [Operation("base_mpl", [("_input_", "circle_data")]), Operation("head", ["base_mpl"])]
    with pytest.raises(MTLConfigError) as info:
        Task("circle_task", pool(), bad)
    text = str(info.value)
    assert "Task('circle_task') op 'base_mpl'" in text
    assert "not in the module pool (modules: 'base_mlp', 'head')" in text
    assert "got 'base_mpl'" in text
    assert "Fix: add the module to module_pool or fix the name" in text


def test_input_naming_a_missing_op_lists_earlier_ops():
    bad = [Operation("base_mlp", [("_input_", "circle_data")]), Operation("head", ["trunk"])]
    with pytest.raises(MTLConfigError) as info:
        Task("circle_task", pool(), bad)
    text = str(info.value)
    assert "Task('circle_task') op 'head' inputs" in text
    assert "earlier ops: 'base_mlp'" in text
    assert "got 'trunk'" in text
    assert "Fix:" in text


def test_input_naming_a_later_op_is_an_error():
    bad = [Operation("head", ["base_mlp"]), Operation("base_mlp", [("_input_", "circle_data")])]
    with pytest.raises(
        MTLConfigError,
        match=r"op 'head' inputs must name '_input_' or an earlier op \(earlier ops: \(none\)\); got 'base_mlp'",
    ):
        Task("circle_task", pool(), bad)


def test_duplicate_op_names_are_an_error():
    bad = [
        Operation("base_mlp", [("_input_", "circle_data")]),
        Operation("base_mlp", ["base_mlp"]),
        Operation("head", ["base_mlp"]),
    ]
    with pytest.raises(
        MTLConfigError,
        match=r"op_sequence must not repeat an op name; got 'base_mlp'\. Fix: give the second op its own name",
    ):
        Task("t", pool(), bad)


@pytest.mark.parametrize("bad_pool", [[nn.Linear(2, 2)], nn.Linear(2, 2), None])
def test_pool_must_be_a_moduledict(bad_pool):
    with pytest.raises(
        MTLConfigError, match=r"Task\('t'\) module_pool must be an nn.ModuleDict; got \w+\. Fix: use nn.ModuleDict"
    ):
        Task("t", bad_pool, ops())


def test_pool_dict_with_a_non_module_is_an_error():
    with pytest.raises(MTLConfigError, match=r"module_pool must map names to nn.Module objects; got \['head'\]"):
        Task("t", {"base_mlp": nn.Linear(2, 4), "head": "not a module"}, ops())


def test_slash_in_name_is_an_error():
    with pytest.raises(
        MTLConfigError, match=r"Task\(name\) must not contain '/'.*got 'circle/task'\. Fix: use '_' instead"
    ):
        Task("circle/task", pool(), ops())


def test_empty_name_is_an_error():
    with pytest.raises(MTLConfigError, match=r"Task\(name\) must be a non-empty string"):
        Task("", pool(), ops())


@pytest.mark.parametrize("weight", [-1.0, -0.001, float("nan"), float("inf"), "1", True])
def test_bad_weight_is_an_error(weight):
    with pytest.raises(
        MTLConfigError, match=r"Task\('t'\) weight must be a finite number >= 0.*Fix: pass e.g. weight=1.0"
    ):
        Task("t", pool(), ops(), weight=weight)


def test_zero_weight_is_allowed():
    assert Task("t", pool(), ops(), weight=0.0).weight == 0.0


def test_empty_op_sequence_is_an_error():
    with pytest.raises(MTLConfigError, match=r"op_sequence must hold at least one Operation"):
        Task("t", pool(), [])


def test_non_operation_in_op_sequence_is_an_error():
    with pytest.raises(MTLConfigError, match=r"op_sequence must hold Operation objects.*Fix: wrap each step"):
        Task("t", pool(), [("base_mlp", [("_input_", "x")])])


@pytest.mark.parametrize("bad", [5, "accuracy", ["accuracy"]])
def test_scorer_must_be_a_scorer(bad):
    # Was accepted, then failed with an AttributeError inside score().
    with pytest.raises(MTLConfigError) as info:
        Task("t", pool(), ops(), scorer=bad)
    text = str(info.value)
    assert "Task('t') scorer must be a Scorer" in text
    assert "Fix: pass e.g. Scorer(metrics=['accuracy'])" in text


def test_non_callable_loss_is_an_error():
    with pytest.raises(MTLConfigError, match=r"loss_func must be a function loss_func\(logits, labels\)"):
        Task("t", pool(), ops(), loss_func="cross_entropy")
