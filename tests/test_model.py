"""MultitaskClassifier (model.py), the op graph (graph.py) and weight init (initialization.py)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import make_base_mlp, small_loader, tutorial_tasks
from torch import nn

from mtl_teach import (
    DictDataLoader,
    DictDataset,
    MTLConfigError,
    MultitaskClassifier,
    Operation,
    Scorer,
    Task,
    make_tutorial_dataloaders,
    set_seed,
)
from mtl_teach.data import label_ranges
from mtl_teach.initialization import RELU_BIAS

THREE = ("circle_task", "square_task", "inv_circle_task")


@pytest.fixture
def model():
    set_seed(0)
    return MultitaskClassifier(tutorial_tasks(THREE))


def two_field_batch(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    X_dict = {
        "circle_data": torch.rand(n, 2, generator=g) * 2 - 1,
        "square_data": torch.rand(n, 2, generator=g) * 2 - 1,
    }
    Y_dict = {
        "circle_task": torch.randint(0, 2, (n,), generator=g),
        "square_task": torch.randint(0, 2, (n,), generator=g),
    }
    return X_dict, Y_dict


# ------------------------------------------------------------------ structure
def test_modules_are_shared_by_name(model):
    assert len(model.tasks) == 3
    assert len(model.module_pool) == 4
    assert set(model.tasks) == set(THREE)
    assert model.task_names == list(THREE)
    assert isinstance(model.tasks["circle_task"], Task)
    assert model.shared_modules() == ["base_mlp"]
    # One trunk object serves every task.
    trunk = model.module_pool["base_mlp"]
    assert all(task.module_pool["base_mlp"] is trunk for task in model.tasks.values())
    assert "shared=['base_mlp']" in repr(model)


def test_parameters_are_counted_once(model):
    n_params = sum(p.numel() for p in model.parameters())
    trunk = 2 * 8 + 8 + 8 * 4 + 4
    heads = 3 * (4 * 2 + 2)
    assert n_params == trunk + heads


def test_a_single_task_is_accepted():
    model = MultitaskClassifier(tutorial_tasks(["circle_task"])[0])
    assert list(model.tasks) == ["circle_task"]


def test_two_module_objects_under_one_name_is_an_error():
    a = tutorial_tasks(["circle_task"])  # its own base_mlp
    b = tutorial_tasks(["square_task"])  # another base_mlp object
    with pytest.raises(MTLConfigError) as info:
        MultitaskClassifier(a + b)
    text = str(info.value)
    assert "Task 'square_task' module_pool['base_mlp']" in text
    assert "different module object from the 'base_mlp' already used by 'circle_task'" in text
    assert "Fix: pass the same 'base_mlp' object to share it, or use another name" in text


def test_add_task_with_an_existing_name_is_an_error(model):
    again = tutorial_tasks(["circle_task"], base_mlp=model.module_pool["base_mlp"])[0]
    with pytest.raises(
        MTLConfigError,
        match=r"add_task\(task\) must have a new name \(tasks: 'circle_task', 'inv_circle_task', 'square_task'\); got 'circle_task'",
    ):
        model.add_task(again)


def test_add_task_rejects_non_tasks(model):
    with pytest.raises(MTLConfigError, match=r"add_task\(task\) must be a Task; got str"):
        model.add_task("circle_task")


def test_add_task_shares_the_trunk_without_reinitialising_it():
    set_seed(0)
    tasks = tutorial_tasks(["circle_task", "square_task"])
    model = MultitaskClassifier(tasks)
    trunk_before = {k: v.clone() for k, v in model.module_pool["base_mlp"].state_dict().items()}
    inv = tutorial_tasks(["inv_circle_task"], base_mlp=model.module_pool["base_mlp"])[0]
    model.add_task(inv)
    assert len(model.tasks) == 3
    assert len(model.module_pool) == 4
    for key, value in model.module_pool["base_mlp"].state_dict().items():
        assert torch.equal(value, trunk_before[key]), key
    # The new head was initialised (kaiming: zero bias).
    assert torch.equal(model.module_pool["inv_circle_head_module"].bias, torch.zeros(2))


def test_remove_task_drops_unused_modules_but_keeps_shared_ones(model):
    model.remove_task("square_task")
    assert list(model.tasks) == ["circle_task", "inv_circle_task"]
    assert set(model.module_pool) == {"base_mlp", "circle_head_module", "inv_circle_head_module"}
    model.remove_task("circle_task")
    assert set(model.module_pool) == {"base_mlp", "inv_circle_head_module"}
    # The remaining task still runs.
    X = torch.zeros(3, 2)
    assert model({"inv_circle_data": X}, ["inv_circle_task"])["inv_circle_task"].shape == (3, 2)
    with pytest.raises(
        MTLConfigError,
        match=r"remove_task\(task_name\) must name a task of the model \(tasks: 'inv_circle_task'\); got 'circle_task'",
    ):
        model.remove_task("circle_task")


def test_properties(model):
    assert set(model.op_sequences) == set(THREE)
    assert [op.name for op in model.op_sequences["circle_task"]] == ["base_mlp", "circle_head"]
    assert model.scorers["circle_task"] is model.tasks["circle_task"].scorer


# ------------------------------------------------------------------- forward
def test_op_cache_keeps_flows_apart(model):
    """Snorkel's bug: both tasks have an op named 'base_mlp' on different inputs.

    Snorkel caches by op name, so in a batch with both fields the second task
    got the first task's trunk output. Each task must get its own flow's output.
    """
    X_dict, _ = two_field_batch()
    base = model.module_pool["base_mlp"]
    circle_head = model.module_pool["circle_head_module"]
    square_head = model.module_pool["square_head_module"]
    with torch.no_grad():
        together = model(X_dict, ["circle_task", "square_task"])
        circle_alone = model({"circle_data": X_dict["circle_data"]}, ["circle_task"])["circle_task"]
        square_alone = model({"square_data": X_dict["square_data"]}, ["square_task"])["square_task"]
        circle_manual = circle_head(base(X_dict["circle_data"]))
        square_manual = square_head(base(X_dict["square_data"]))
    assert torch.equal(together["circle_task"], circle_alone)
    assert torch.equal(together["square_task"], square_alone)
    assert torch.equal(together["circle_task"], circle_manual)
    assert torch.equal(together["square_task"], square_manual)
    # The two inputs really give different trunk outputs, so a shared cache would show.
    assert not torch.equal(base(X_dict["circle_data"]), base(X_dict["square_data"]))
    # Reversed task order gives the same outputs.
    with torch.no_grad():
        reversed_ = model(X_dict, ["square_task", "circle_task"])
    assert torch.equal(reversed_["circle_task"], circle_manual)


def test_op_cache_bug_fixed_in_the_loss(model):
    X_dict, Y_dict = two_field_batch(n=8)
    base = model.module_pool["base_mlp"]
    loss_dict, count_dict = model.calculate_loss(X_dict, Y_dict)
    with torch.no_grad():
        circle = F.cross_entropy(
            model.module_pool["circle_head_module"](base(X_dict["circle_data"])), Y_dict["circle_task"]
        )
        square = F.cross_entropy(
            model.module_pool["square_head_module"](base(X_dict["square_data"])), Y_dict["square_task"]
        )
    assert loss_dict["circle_task"].item() == pytest.approx(circle.item(), abs=1e-7)
    assert loss_dict["square_task"].item() == pytest.approx(square.item(), abs=1e-7)
    assert count_dict == {"circle_task": 8, "square_task": 8}


def test_op_cache_bug_fixed_in_predict(model):
    # One dataset whose examples carry both fields and both tasks' labels.
    X_dict, Y_dict = two_field_batch(n=40, seed=1)
    loader = DictDataLoader(DictDataset("both", "test", X_dict, Y_dict), batch_size=16)
    out = model.predict(loader)
    base = model.module_pool["base_mlp"]
    with torch.no_grad():
        circle = F.softmax(model.module_pool["circle_head_module"](base(X_dict["circle_data"])), dim=1)
        square = F.softmax(model.module_pool["square_head_module"](base(X_dict["square_data"])), dim=1)
    np.testing.assert_allclose(out["probs"]["circle_task"], circle.numpy(), rtol=1e-6)
    np.testing.assert_allclose(out["probs"]["square_task"], square.numpy(), rtol=1e-6)
    assert not np.allclose(circle.numpy(), square.numpy())  # the flows really differ
    scores = model.score([loader])
    assert set(scores) == {"circle_task/both/test/accuracy", "square_task/both/test/accuracy"}


def test_identical_ops_are_computed_once():
    # Two tasks reading the same field through the same trunk share its output.
    base = make_base_mlp()
    tasks = [
        Task(name, nn.ModuleDict({"base_mlp": base, f"{name}_head": nn.Linear(4, 2)}),
             [Operation("base_mlp", [("_input_", "data")]), Operation(f"{name}_head", ["base_mlp"])])
        for name in ("a", "b")
    ]  # fmt: skip
    model = MultitaskClassifier(tasks)
    calls = []
    base.register_forward_hook(lambda *args: calls.append(1))
    model({"data": torch.zeros(4, 2)}, ["a", "b"])
    assert len(calls) == 1
    model({"data": torch.zeros(4, 2), "other": torch.zeros(4, 2)}, ["a"])
    assert len(calls) == 2


def test_tuple_outputs_and_whole_input_dict():
    class Split(nn.Module):
        def forward(self, x):
            return x[:, :2], x[:, 2:]

    class Concat(nn.Module):
        def forward(self, X_dict):
            return torch.cat([X_dict["a"], X_dict["b"]], dim=1)

    pool = nn.ModuleDict({"concat": Concat(), "split": Split(), "head": nn.Linear(2, 3)})
    ops = [
        Operation("concat", ["_input_"]),  # the whole X_dict
        Operation("split", ["concat"]),
        Operation("head", [("split", 1)]),  # second part of a tuple output
    ]
    model = MultitaskClassifier([Task("t", pool, ops)])
    X = {"a": torch.randn(5, 2), "b": torch.randn(5, 2)}
    with torch.no_grad():
        out = model(X, ["t"])["t"]
        assert torch.equal(out, pool["head"](X["b"]))


def test_missing_input_field_lists_the_fields_present(model):
    with pytest.raises(MTLConfigError) as info:
        model({"square_data": torch.zeros(2, 2), "extra": torch.zeros(2, 2)}, ["circle_task"])
    text = str(info.value)
    assert "Task 'circle_task' input ('_input_', 'circle_data')" in text
    assert "fields: 'extra', 'square_data'" in text
    assert "got 'circle_data'" in text
    assert "Fix: rename the field" in text


def test_y_dict_key_naming_no_task_lists_the_tasks(model):
    X_dict, _ = two_field_batch()
    with pytest.raises(MTLConfigError) as info:
        model.calculate_loss(X_dict, {"circle": torch.zeros(6, dtype=torch.long)})
    text = str(info.value)
    assert "Y_dict key 'circle' must name a task of the model" in text
    assert "tasks: 'circle_task', 'inv_circle_task', 'square_task'" in text
    assert "Fix:" in text


def test_predict_with_unknown_label_key_is_an_error(model):
    ds = DictDataset("d", "test", {"circle_data": torch.zeros(4, 2)}, {"circles": torch.zeros(4).long()})
    with pytest.raises(
        MTLConfigError, match=r"'d' Y_dict key 'circles' must name a task of the model \(tasks: 'circle_task'"
    ):
        model.predict(DictDataLoader(ds, batch_size=2))


def test_labels_outside_the_head_are_an_error_naming_the_task(model):
    X_dict, Y_dict = two_field_batch()
    Y_dict["square_task"] = torch.tensor([0, 1, 2, 0, 1, 0])
    with pytest.raises(MTLConfigError) as info:
        model.calculate_loss(X_dict, Y_dict)
    text = str(info.value)
    assert "Labels of task 'square_task' must lie in 0..1, the classes of its head (2 outputs)" in text
    assert "got label 2" in text
    assert "Fix: give the head 3 outputs, or relabel the classes" in text


@pytest.mark.parametrize("labels", [[0, -2, 1], [0, -1, -2], [-100, 1, 0], [-1, -2, -1]])
def test_negative_labels_other_than_minus_one_are_an_error_naming_the_task(model, labels):
    # DictDataset rejects these; a batch handed straight to calculate_loss must too
    # (torch would fail with "Target -2 is out of bounds", or silently skip -100).
    X = torch.zeros(3, 2)
    with pytest.raises(MTLConfigError) as info:
        model.calculate_loss({"circle_data": X}, {"circle_task": torch.tensor(labels)})
    text = str(info.value)
    assert "Labels of task 'circle_task'" in text
    assert f"got label {min(labels)}" in text
    assert "-1" in text and "Fix:" in text


def test_float64_inputs_are_a_clear_error(model):
    with pytest.raises(MTLConfigError) as info:
        model({"circle_data": torch.zeros(3, 2, dtype=torch.float64)}, ["circle_task"])
    text = str(info.value)
    assert "Task 'circle_task' op 'base_mlp' (module 'base_mlp') failed on inputs [float64 (3, 2)]" in text
    assert "Fix: convert inputs to float32" in text


def test_wrong_input_width_is_a_clear_error(model):
    with pytest.raises(
        MTLConfigError, match=r"failed on inputs \[float32 \(3, 5\)\].*Fix: check that this module's input size"
    ):
        model({"circle_data": torch.zeros(3, 5)}, ["circle_task"])


# ---------------------------------------------------------------------- loss
def test_calculate_loss_masks_minus_one(model):
    X = torch.randn(8, 2)
    Y = torch.tensor([0, -1, 1, 1, -1, 0, -1, 1])
    loss_dict, count_dict = model.calculate_loss({"circle_data": X}, {"circle_task": Y})
    with torch.no_grad():
        logits = model({"circle_data": X}, ["circle_task"])["circle_task"]
    keep = Y != -1
    expected = F.cross_entropy(logits[keep], Y[keep])
    assert count_dict == {"circle_task": 5}
    assert loss_dict["circle_task"].item() == pytest.approx(expected.item(), abs=1e-7)
    assert loss_dict["circle_task"].requires_grad  # it trains the model


def test_calculate_loss_all_unlabelled_gives_no_loss(model):
    loss_dict, count_dict = model.calculate_loss(
        {"circle_data": torch.randn(4, 2)}, {"circle_task": torch.full((4,), -1)}
    )
    assert loss_dict == {}
    assert count_dict == {}


def test_calculate_loss_uses_the_tasks_loss_func():
    calls = []

    def loss(logits, Y):
        calls.append(len(Y))
        return logits.sum() * 0 + 7.0

    base = make_base_mlp()
    task = Task("t", nn.ModuleDict({"base_mlp": base, "h": nn.Linear(4, 2)}),
                [Operation("base_mlp", [("_input_", "x")]), Operation("h", ["base_mlp"])], loss_func=loss)  # fmt: skip
    model = MultitaskClassifier([task])
    loss_dict, _ = model.calculate_loss({"x": torch.randn(5, 2)}, {"t": torch.tensor([0, 1, -1, 1, 0])})
    assert calls == [4]
    assert loss_dict["t"].item() == 7.0


# ---------------------------------------------------------- predict / score
@pytest.fixture
def loaders():
    return make_tutorial_dataloaders(THREE, n=200, seed=0)


def test_predict_shapes_and_probabilities(model, loaders):
    out = model.predict(loaders[1])
    assert set(out) == {"golds", "probs"}
    assert set(out["golds"]) == {"circle_task"}
    golds, probs = out["golds"]["circle_task"], out["probs"]["circle_task"]
    assert isinstance(golds, np.ndarray) and isinstance(probs, np.ndarray)
    assert golds.shape == (20,)
    assert probs.shape == (20, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(golds, loaders[1].dataset.Y_dict["circle_task"].numpy())

    with_preds = model.predict(loaders[1], return_preds=True)
    preds = with_preds["preds"]["circle_task"]
    assert preds.shape == (20,)
    np.testing.assert_array_equal(preds, probs.argmax(axis=1))
    # The probabilities are the softmax of the model's logits.
    with torch.no_grad():
        logits = model(loaders[1].dataset.X_dict, ["circle_task"])["circle_task"]
    np.testing.assert_allclose(probs, F.softmax(logits, dim=1).numpy(), rtol=1e-6)


def test_predict_restores_training_mode(model, loaders):
    model.train()
    model.predict(loaders[0])
    assert model.training
    model.eval()
    model.predict(loaders[0])
    assert not model.training


def test_predict_over_more_than_one_chunk_and_list_fields():
    # 5000 rows is more than one eval chunk (4096); a list-valued field takes the loader path.
    set_seed(0)
    model = MultitaskClassifier(tutorial_tasks(["circle_task"]))
    big = small_loader(5000, batch_size=32)
    out = model.predict(big)
    with torch.no_grad():
        logits = model(big.dataset.X_dict, ["circle_task"])["circle_task"]
    assert out["probs"]["circle_task"].shape == (5000, 2)
    np.testing.assert_allclose(out["probs"]["circle_task"], F.softmax(logits, dim=1).numpy(), rtol=1e-5, atol=1e-7)

    X = big.dataset.X_dict["circle_data"][:50]
    mixed = DictDataset(
        "mixed", "test", {"circle_data": X, "ids": list(range(50))}, {"circle_task": torch.zeros(50).long()}
    )
    out = model.predict(DictDataLoader(mixed, batch_size=7))
    np.testing.assert_allclose(out["probs"]["circle_task"], F.softmax(logits[:50], dim=1).numpy(), rtol=1e-5, atol=1e-7)


def test_score_keys_and_values(model, loaders):
    scores = model.score(loaders)
    expected_keys = {
        f"{task}/{dataset}/{split}/accuracy"
        for task, dataset in [
            ("circle_task", "circleDataset"),
            ("square_task", "squareDataset"),
            ("inv_circle_task", "invCircleDataset"),
        ]
        for split in ("train", "valid", "test")
    }
    assert set(scores) == expected_keys
    out = model.predict(loaders[4], return_preds=True)  # square valid
    manual = float(np.mean(out["golds"]["square_task"] == out["preds"]["square_task"]))
    assert scores["square_task/squareDataset/valid/accuracy"] == manual
    # A single loader is accepted too.
    assert model.score(loaders[4]) == {"square_task/squareDataset/valid/accuracy": manual}


def test_score_uses_each_tasks_scorer(loaders):
    tasks = tutorial_tasks(["circle_task"])
    task = tasks[0]
    task = Task(task.name, task.module_pool, task.op_sequence, scorer=Scorer(["accuracy", "f1", "coverage"]))
    model = MultitaskClassifier([task])
    scores = model.score(loaders[:2])
    assert set(scores) == {
        f"circle_task/circleDataset/{s}/{m}" for s in ("train", "valid") for m in ("accuracy", "f1", "coverage")
    }


def test_score_as_dataframe(model, loaders):
    pandas = pytest.importorskip("pandas")
    scores = model.score(loaders[:3])
    df = model.score(loaders[:3], as_dataframe=True)
    assert isinstance(df, pandas.DataFrame)
    assert list(df.columns) == ["label", "dataset", "split", "metric", "score"]
    assert len(df) == 3
    assert list(df["split"]) == ["train", "valid", "test"]
    assert set(df["label"]) == {"circle_task"}
    for row in df.itertuples():
        assert scores[f"{row.label}/{row.dataset}/{row.split}/{row.metric}"] == row.score


def test_score_as_dataframe_without_pandas_is_a_clear_error(model, loaders, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(
        ImportError, match=r"score\(as_dataframe=True\) needs pandas, which is not installed\. Fix: pip install pandas"
    ):
        model.score(loaders[:1], as_dataframe=True)
    # Without as_dataframe, pandas is not needed.
    assert "circle_task/circleDataset/train/accuracy" in model.score(loaders[:1])


def test_scoring_labels_outside_the_head_is_an_error_naming_the_task(model):
    # Training rejects label 2 on a 2-class head; scoring must too, not report a silent accuracy.
    ds = DictDataset("d", "test", {"circle_data": torch.zeros(4, 2)}, {"circle_task": torch.tensor([0, 1, 2, 1])})
    for call in (model.score, model.predict):
        with pytest.raises(MTLConfigError) as info:
            call(DictDataLoader(ds, batch_size=2))
        text = str(info.value)
        assert "Labels of task 'circle_task' must lie in 0..1, the classes of its head (2 outputs)" in text
        assert "got label 2" in text and "Fix:" in text


def test_score_errors_show_no_torch_frames(model):
    # A student's first mistake in the exercise: scoring a loader for a task the model lacks.
    # The traceback must end in our message, not pass through torch's decorator code.
    ds = DictDataset("d", "test", {"circle_data": torch.zeros(4, 2)}, {"circles": torch.zeros(4).long()})
    with pytest.raises(MTLConfigError) as info:
        model.score([DictDataLoader(ds, batch_size=2)])
    files = [entry.path for entry in info.traceback]
    assert not [f for f in files if "site-packages" in str(f) and "torch" in str(f)], files


# ---------------------------------------------------------------- save/load
def test_save_load_round_trip(model, loaders, tmp_path):
    path = tmp_path / "model.pth"
    model.save(path)
    raw = torch.load(path, weights_only=True)  # torch >= 2.6 default
    assert raw["tasks"] == list(THREE)
    assert set(raw["model"]) == set(model.state_dict())

    set_seed(99)
    other = MultitaskClassifier(tutorial_tasks(THREE))
    before = other.predict(loaders[1])["probs"]["circle_task"]
    expected = model.predict(loaders[1])["probs"]["circle_task"]
    assert not np.array_equal(before, expected)  # a different model to start with
    other.load(path)
    for key, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[key], value), key
    np.testing.assert_array_equal(other.predict(loaders[1])["probs"]["circle_task"], expected)


def test_load_into_a_model_with_other_tasks_is_an_error(model, tmp_path):
    path = tmp_path / "model.pth"
    model.save(path)
    smaller = MultitaskClassifier(tutorial_tasks(["circle_task", "square_task"]))
    with pytest.raises(MTLConfigError) as info:
        smaller.load(path)
    text = str(info.value)
    assert "must hold weights for exactly this model's modules" in text
    assert "unexpected ['module_pool.inv_circle_head_module.bias'" in text
    assert "Fix: build the model with the same tasks as the saved one" in text
    bigger = MultitaskClassifier(tutorial_tasks([*THREE]))
    smaller.save(path)
    with pytest.raises(MTLConfigError, match=r"missing \['module_pool.inv_circle_head_module.bias'"):
        bigger.load(path)


# ------------------------------------------------------------------ device
def test_cuda_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:0"):
        with pytest.raises(MTLConfigError) as info:
            MultitaskClassifier(tutorial_tasks(["circle_task"]), device=device)
        text = str(info.value)
        assert "MultitaskClassifier(device) asks for a GPU, but torch sees no CUDA device" in text
        assert f"got {device!r}" in text
        assert 'Fix: use device="cpu" or device="auto"' in text


def test_auto_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = MultitaskClassifier(tutorial_tasks(["circle_task"]), device="auto")
    assert model.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_default_device_is_cpu_and_not_wrapped():
    model = MultitaskClassifier(tutorial_tasks(["circle_task"]))
    assert model.device == torch.device("cpu")
    assert type(model.module_pool["base_mlp"]) is nn.Sequential  # no DataParallel


@pytest.mark.parametrize("device", ["gpu", "tpu", 3])
def test_unknown_device_lists_the_valid_names(device):
    with pytest.raises(
        MTLConfigError, match=rf"MultitaskClassifier\(device\) must be one of 'auto', 'cpu', 'cuda'; got {device!r}"
    ):
        MultitaskClassifier(tutorial_tasks(["circle_task"]), device=device)


# -------------------------------------------------------------------- init
def test_init_none_keeps_the_users_weights_bit_for_bit():
    tasks = tutorial_tasks(THREE)
    before = {
        f"{name}.{key}": value.clone()
        for task in tasks
        for name, module in task.module_pool.items()
        for key, value in module.state_dict().items()
    }
    model = MultitaskClassifier(tasks, init=None)
    assert model.init is None
    for name, module in model.module_pool.items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, before[f"{name}.{key}"]), (name, key)


def test_init_kaiming_redraws_weights():
    tasks = tutorial_tasks(THREE)
    trunk = tasks[0].module_pool["base_mlp"]
    old = [layer.weight.clone() for layer in (trunk[0], trunk[2])]
    model = MultitaskClassifier(tasks)  # init="kaiming" is the default
    assert model.init == "kaiming"
    assert not torch.equal(trunk[0].weight, old[0])
    assert not torch.equal(trunk[2].weight, old[1])
    # Linear -> ReLU layers start alive with bias 0.01; heads get bias 0.
    assert torch.equal(trunk[0].bias, torch.full((8,), RELU_BIAS))
    assert torch.equal(trunk[2].bias, torch.full((4,), RELU_BIAS))
    assert RELU_BIAS == 0.01
    for task in THREE:
        head = model.module_pool[task.removesuffix("_task") + "_head_module"]
        assert torch.equal(head.bias, torch.zeros(2))


def test_init_kaiming_uses_he_normal_scale():
    set_seed(0)
    wide = nn.Sequential(nn.Linear(1000, 400), nn.ReLU())
    head = nn.Linear(400, 2)
    task = Task(
        "t",
        nn.ModuleDict({"wide": wide, "head": head}),
        [Operation("wide", [("_input_", "x")]), Operation("head", ["wide"])],
    )
    MultitaskClassifier([task])
    std = wide[0].weight.std().item()
    assert std == pytest.approx((2 / 1000) ** 0.5, rel=0.02)  # 400k draws: well within 2%
    assert wide[0].weight.mean().abs().item() < 0.001
    assert head.weight.std().item() == pytest.approx((2 / 400) ** 0.5, rel=0.1)


def test_init_torch_uses_reset_parameters():
    tasks = tutorial_tasks(["circle_task"])
    trunk = tasks[0].module_pool["base_mlp"]
    old = trunk[0].weight.clone()
    MultitaskClassifier(tasks, init="torch")
    assert not torch.equal(trunk[0].weight, old)
    bound = 1 / 2**0.5  # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for bias
    assert trunk[0].bias.abs().max().item() <= bound
    assert not torch.equal(trunk[0].bias, torch.full((8,), RELU_BIAS))


def test_unknown_init_lists_the_valid_names():
    with pytest.raises(
        MTLConfigError, match=r"MultitaskClassifier\(init\) must be one of 'kaiming', 'torch'; got 'xavier'"
    ):
        MultitaskClassifier(tutorial_tasks(["circle_task"]), init="xavier")


def test_label_ranges_give_the_same_losses_and_still_catch_a_bad_label(model):
    # The Trainer passes each dataset's label range to skip a sync per batch;
    # the losses must not change, and a range beyond the head is still an error.
    X = {"circle_data": torch.randn(6, 2)}
    Y = {"circle_task": torch.tensor([0, 1, 1, 0, 1, 1])}
    plain, counts = model.calculate_loss(X, Y)
    ranged, ranged_counts = model.calculate_loss(X, Y, label_ranges={"circle_task": (0, 1)})
    assert torch.equal(plain["circle_task"], ranged["circle_task"]) and counts == ranged_counts == {"circle_task": 6}
    with pytest.raises(MTLConfigError, match=r"Labels of task 'circle_task' must lie in 0\.\.1.*got label 2"):
        model.calculate_loss(X, Y, label_ranges={"circle_task": (0, 2)})


def test_a_label_range_with_minus_one_still_masks_each_batch(model):
    X = {"circle_data": torch.randn(4, 2)}
    ranges = {"circle_task": (-1, 1)}
    loss, counts = model.calculate_loss(X, {"circle_task": torch.tensor([1, -1, 0, -1])}, label_ranges=ranges)
    expected = F.cross_entropy(model(X, ["circle_task"])["circle_task"][[0, 2]], torch.tensor([1, 0]))
    assert torch.allclose(loss["circle_task"], expected) and counts == {"circle_task": 2}
    # A batch with no labels for the task adds no loss (not a NaN).
    assert model.calculate_loss(X, {"circle_task": torch.full((4,), -1)}, label_ranges=ranges) == ({}, {})


def test_label_ranges_of_a_y_dict():
    Y = {"a": torch.tensor([2, -1, 0]), "b": torch.tensor([], dtype=torch.long), "c": [0, 1]}
    assert label_ranges(Y) == {"a": (-1, 2)}
