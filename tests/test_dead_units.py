"""Dead units: revival and the stall check (mtl_teach/dead_units.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import tutorial_tasks

from mtl_teach import DictDataLoader, DictDataset, MultitaskClassifier, make_tutorial_dataloaders, set_seed
from mtl_teach.dead_units import (
    REVIVED_BIAS,
    RevivedUnit,
    dead_units,
    find_stalls,
    revive_and_predict,
    revive_dead_units,
)

TWO = ("circle_task", "square_task")


@pytest.fixture
def loaders():
    return make_tutorial_dataloaders(TWO, n=200, seed=0)


@pytest.fixture
def model():
    set_seed(0)
    return MultitaskClassifier(tutorial_tasks(TWO))


def train_inputs(loaders):
    return torch.cat(
        [dl.dataset.X_dict[next(iter(dl.dataset.X_dict))] for dl in loaders if dl.dataset.split == "train"]
    )


def adam_after_one_step(model, loaders):
    """An Adam optimizer whose running moments are all filled in."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    train = [dl for dl in loaders if dl.dataset.split == "train"]
    loss = 0
    for dl in train:
        loss_dict, _ = model.calculate_loss(dl.dataset.X_dict, dl.dataset.Y_dict)
        loss = loss + sum(loss_dict.values())
    loss.backward()
    optimizer.step()
    return optimizer


def predictions(model, loaders):
    return [model.predict(dl)["probs"] for dl in loaders]


def assert_same_predictions(a, b):
    for pa, pb in zip(a, b, strict=True):
        assert pa.keys() == pb.keys()
        for key in pa:
            np.testing.assert_array_equal(pa[key], pb[key])


def kill(layer, unit):
    """Make ``unit`` of ``layer`` negative on every input in [-1, 1]^2 (and on any trunk activation)."""
    with torch.no_grad():
        layer.weight[unit] = -0.01
        layer.bias[unit] = -10.0


def moments(optimizer, param):
    state = optimizer.state[param]
    return state["exp_avg"].clone(), state["exp_avg_sq"].clone()


def test_no_dead_unit_changes_nothing(model, loaders):
    base = model.module_pool["base_mlp"]
    with torch.no_grad():  # every unit of both ReLU layers is alive on the train inputs
        X = train_inputs(loaders)
        assert (base[1](base[0](X)).amax(dim=0) > 0).all()
        assert (base(X).amax(dim=0) > 0).all()
    optimizer = adam_after_one_step(model, loaders)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    moments_before = {id(p): moments(optimizer, p) for p in model.parameters()}
    assert revive_dead_units(model, loaders[::3], optimizer) == []
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    for p in model.parameters():
        for before, after in zip(moments_before[id(p)], moments(optimizer, p), strict=True):
            assert torch.equal(before, after)


def test_revives_a_dead_first_layer_unit(model, loaders):
    base = model.module_pool["base_mlp"]
    optimizer = adam_after_one_step(model, loaders)
    kill(base[0], 3)
    X = train_inputs(loaders)
    with torch.no_grad():
        assert base[0](X)[:, 3].max() < 0  # dead on every input
    before = predictions(model, loaders)
    w_moments = moments(optimizer, base[0].weight)
    b_moments = moments(optimizer, base[0].bias)
    out_moments = moments(optimizer, base[2].weight)
    assert w_moments[0][3].abs().sum() > 0  # there is something to clear

    revived = revive_dead_units(model, loaders[::3], optimizer)

    assert revived == [RevivedUnit("base_mlp", 0, 3)]
    with torch.no_grad():
        assert base[0](X)[:, 3].max() > 0  # alive again
    assert base[0].bias[3].item() == pytest.approx(REVIVED_BIAS)
    assert torch.equal(base[2].weight[:, 3], torch.zeros(4))  # outgoing weights zeroed ...
    assert_same_predictions(before, predictions(model, loaders))  # ... so nothing the model computes changed
    # Adam's running moments for the touched row / column are cleared, the rest kept.
    for before_m, after_m in zip(w_moments, moments(optimizer, base[0].weight), strict=True):
        assert torch.equal(after_m[3], torch.zeros(2))
        assert torch.equal(after_m[:3], before_m[:3]) and torch.equal(after_m[4:], before_m[4:])
    for after_m in moments(optimizer, base[0].bias):
        assert after_m[3].item() == 0.0
    for before_m, after_m in zip(b_moments, moments(optimizer, base[0].bias), strict=True):
        assert torch.equal(after_m[:3], before_m[:3])
    for before_m, after_m in zip(out_moments, moments(optimizer, base[2].weight), strict=True):
        assert torch.equal(after_m[:, 3], torch.zeros(4))
        assert torch.equal(after_m[:, :3], before_m[:, :3])


def test_revives_a_dead_top_unit_and_zeroes_the_heads_columns(model, loaders):
    base = model.module_pool["base_mlp"]
    heads = [model.module_pool["circle_head_module"], model.module_pool["square_head_module"]]
    optimizer = adam_after_one_step(model, loaders)
    kill(base[2], 1)
    X = train_inputs(loaders)
    with torch.no_grad():
        assert base(X)[:, 1].max() == 0
    before = predictions(model, loaders)
    head_moments = [moments(optimizer, head.weight) for head in heads]

    revived = revive_dead_units(model, loaders[::3], optimizer)

    assert revived == [RevivedUnit("base_mlp", 2, 1)]
    with torch.no_grad():
        assert base(X)[:, 1].max() > 0
    for head, old in zip(heads, head_moments, strict=True):
        assert torch.equal(head.weight[:, 1], torch.zeros(2))
        for before_m, after_m in zip(old, moments(optimizer, head.weight), strict=True):
            assert torch.equal(after_m[:, 1], torch.zeros(2))
            assert torch.equal(after_m[:, 0], before_m[:, 0])
    assert_same_predictions(before, predictions(model, loaders))


def test_several_dead_units_without_an_optimizer(model, loaders):
    base = model.module_pool["base_mlp"]
    for unit in (0, 5):
        kill(base[0], unit)
    kill(base[2], 2)
    before = predictions(model, loaders)
    revived = revive_dead_units(model, loaders[::3])
    assert sorted(revived, key=lambda u: (u.layer, u.unit)) == [
        RevivedUnit("base_mlp", 0, 0),
        RevivedUnit("base_mlp", 0, 5),
        RevivedUnit("base_mlp", 2, 2),
    ]
    assert_same_predictions(before, predictions(model, loaders))
    # A second pass finds nothing left to revive.
    assert revive_dead_units(model, loaders[::3]) == []


def test_unit_alive_for_another_tasks_inputs_is_left_alone(model, loaders):
    # Square inputs moved to [2, 3]^2: a unit with weight (1, 0) and bias -1.5
    # is dead on circle inputs but alive on square inputs.
    base = model.module_pool["base_mlp"]
    square = loaders[3].dataset
    shifted = DictDataset(
        square.name, "train", {"square_data": square.X_dict["square_data"] * 0.5 + 2.5}, square.Y_dict
    )
    square_loader = DictDataLoader(shifted, batch_size=32)
    with torch.no_grad():
        base[0].weight[4] = torch.tensor([1.0, 0.0])
        base[0].bias[4] = -1.5
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert revive_dead_units(model, [loaders[0], square_loader]) == []
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    # Judged on circle inputs alone, it is dead.
    assert RevivedUnit("base_mlp", 0, 4) in revive_dead_units(model, [loaders[0]])


def test_model_mode_is_restored(model, loaders):
    model.train()
    revive_dead_units(model, loaders[::3])
    assert model.training
    model.eval()
    revive_dead_units(model, loaders[::3])
    assert not model.training


def test_predictions_of_the_revival_pass_are_the_predictions_after_it(model, loaders):
    # The Trainer's stall check reuses the revival pass's predictions, which is
    # right only because reviving leaves every output as it was.
    kill(model.module_pool["base_mlp"][0], 3)
    kill(model.module_pool["base_mlp"][2], 1)
    with torch.no_grad():  # heads stuck on one class each, so the stall check has something to find
        for name, majority in [("circle_head_module", 1), ("square_head_module", 0)]:
            model.module_pool[name].weight.zero_()
            model.module_pool[name].bias.copy_(torch.eye(2)[majority])
    train = loaders[::3]
    revived, predictions = revive_and_predict(model, train)
    assert revived  # something was revived
    assert len(predictions) == len(train)
    for dl, seen in zip(train, predictions, strict=True):
        fresh = model.predict(dl, return_preds=True)
        assert seen.keys() == fresh.keys()
        for part in fresh:
            assert seen[part].keys() == fresh[part].keys()
            for label in fresh[part]:
                np.testing.assert_array_equal(seen[part][label], fresh[part][label])
    stalls = find_stalls(model, train)
    assert {stall.task for stall in stalls} == {"circle_task", "square_task"}
    assert find_stalls(model, train, predictions) == stalls


def test_dead_units_are_the_columns_never_above_zero():
    activations = torch.tensor([[0.0, 1.0, -2.0], [0.0, -1.0, -0.5]])  # (2 inputs, 3 units)
    assert dead_units(activations).tolist() == [True, False, True]
