"""Mistakes students and instructors make with everyday Python, each class tested as a class.

Issue 23's held-out cases, generalised: numpy numbers where ints are
expected, one number where a list of seeds is, iterables that a check would
use up. Errors raised by the student's own functions (loss, output, metric,
weighting) are in ``test_user_functions.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtl_teach import DictDataLoader, DictDataset, MTLConfigError, Task, Trainer, set_seed
from mtl_teach.balancing import GradNorm
from mtl_teach.callbacks import ModelSnapshots
from mtl_teach.imbalance import compare_weightings, make_tutorial_model
from mtl_teach.sharing import build_shared_model, compare_sharing
from mtl_teach.slicing import SliceAwareClassifier
from mtl_teach.slicing.toy import make_sliced_circle_dataset
from mtl_teach.toy_data import (
    make_circle_dataset,
    make_inv_circle_dataset,
    make_joint_dataloaders,
    make_square_dataset,
    make_tutorial_dataloaders,
    make_xor_dataset,
)
from mtl_teach.toy_objectives import optimize_toy, pareto_set
from mtl_teach.weighting import cagrad

# ---------------------------------------------------------------- numpy numbers are numbers
# Indexing an array or iterating np.arange gives numpy integers: every argument an int
# is accepted for takes them too, and gives the same result as the Python int.
NUMPY_INTS = [np.int64(3), np.int32(3), np.uint8(3)]


@pytest.mark.parametrize("value", NUMPY_INTS, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("maker", [make_circle_dataset, make_inv_circle_dataset, make_square_dataset, make_xor_dataset])
def test_data_makers_take_numpy_integers(maker, value):
    expected = maker(n=100, seed=3)
    got = maker(n=np.int64(100), seed=value)
    for (X, Y), (X2, Y2) in zip(expected, got, strict=True):
        np.testing.assert_array_equal(X, X2)
        np.testing.assert_array_equal(Y, Y2)


def test_every_int_argument_takes_a_numpy_integer():
    three = np.int64(3)
    set_seed(three)
    loaders = make_tutorial_dataloaders(["circle_task"], n=np.int64(100), seed=three, batch_size=np.int64(16))
    assert loaders[0].batch_size == 16 and type(loaders[0].batch_size) is int
    assert len(make_joint_dataloaders(n=np.int64(100), seed=three)) == 3
    assert DictDataLoader(loaders[0].dataset, batch_size=np.int32(8)).batch_size == 8
    assert ModelSnapshots(every=np.int64(2)).every == 2
    assert len(make_sliced_circle_dataset(n_train=np.int64(20), n_eval=np.int64(10), seed=three)[0][0]) == 20
    assert len(pareto_set(np.int64(5))) == 5
    assert optimize_toy("equal", steps=np.int64(2)).shape == (3, 3, 2)
    model = SliceAwareClassifier(torch.nn.Linear(2, 4), np.int64(4), ["a"], n_classes=np.int64(3))
    assert model.n_classes == 3
    assert len(
        build_shared_model(["circle_task", "square_task"], hidden=np.array([8, 4]), shared_layers=three - 2).tasks
    )


def test_trainer_stores_numpy_numbers_as_python_numbers():
    trainer = Trainer(seed=np.int64(3), n_epochs=np.int32(2), lr=np.float32(0.5), grad_clip=np.float64(2.0))
    assert (trainer.seed, trainer.n_epochs) == (3, 2)
    assert type(trainer.seed) is int and type(trainer.n_epochs) is int and type(trainer.lr) is float
    assert repr(trainer) == "Trainer(n_epochs=2, lr=0.5, grad_clip=2.0, seed=3)"


def test_the_same_numpy_seed_trains_the_same_model_as_the_int():
    loaders = make_tutorial_dataloaders(["circle_task"], n=100, seed=0)
    scores = []
    for seed in (3, np.int64(3)):
        set_seed(seed)
        model = make_tutorial_model(["circle_task"])
        Trainer(progress_bar=False, n_epochs=1, seed=seed).fit(model, loaders)
        scores.append(model.score(loaders))
    assert scores[0] == scores[1]


def test_numpy_floats_are_numbers():
    assert GradNorm(alpha=np.float32(1.5)).alpha == 1.5
    weight = make_tutorial_model(weights={"circle_task": np.float32(2.0)}).tasks["circle_task"].weight
    assert weight == 2.0 and type(weight) is float
    task = make_tutorial_model(["circle_task"]).tasks["circle_task"]
    assert type(Task(task.name, task.module_pool, task.op_sequence, weight=np.float16(0.5)).weight) is float
    G = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
    torch.testing.assert_close(cagrad(G, c=np.float32(0.5)), cagrad(G, c=0.5))


@pytest.mark.parametrize("value", [True, np.bool_(True), 3.0, "3"], ids=repr)
def test_bools_floats_and_strings_are_still_not_integers(value):
    with pytest.raises(MTLConfigError, match=r"make_circle_dataset\(seed\) must be an integer >= 0"):
        make_circle_dataset(seed=value)
    with pytest.raises(MTLConfigError, match=r"Trainer\(seed\) must be an integer or None"):
        Trainer(seed=value)
    with pytest.raises(MTLConfigError, match=r"set_seed\(seed\) must be an integer >= 0"):
        set_seed(value)


# ---------------------------------------------------------------- seeds: a list, not a number
@pytest.mark.parametrize(
    "call",
    [
        lambda seeds: compare_sharing(seeds=seeds),
        lambda seeds: compare_weightings(seeds=seeds),
    ],
    ids=["compare_sharing", "compare_weightings"],
)
def test_one_number_for_seeds_is_refused_with_both_readings(call):
    # "seeds=5": five seeds, or seed 5? Both are common readings: the error gives both fixes.
    with pytest.raises(MTLConfigError, match=r"\(seeds\) must be a list of seeds") as info:
        call(5)
    assert "seeds=range(5) for 5 seeds (0 to 4), or seeds=[5] for seed 5 alone" in str(info.value)
    with pytest.raises(MTLConfigError, match=r"\(seeds\) must be a list of seeds"):
        call(np.int64(3))
    for bad in ("01234", [0, -1], [0, 1.5], []):
        with pytest.raises(MTLConfigError, match=r"\(seeds\) must be a non-empty list of integers >= 0"):
            call(bad)


def test_seeds_from_a_generator_or_numpy_array_are_all_used():
    # A generator read once by the check would leave no seed to run: it is read once, into a list.
    result = compare_weightings(weightings=(w for w in ["equal"]), seeds=(s for s in [0, 1]), n_epochs=1, n_test=100)
    assert result.seeds == [0, 1] and list(result.accuracy) == ["equal"]
    assert len(result.accuracy["equal"]["circle_task"]) == 2
    result = compare_sharing(seeds=np.arange(1), n_target=20, n_test=100, hidden=(4,), n_epochs=1)
    assert result.seeds == [0] and type(result.seeds[0]) is int


# ---------------------------------------------------------------- iterables used up by a check
def test_fit_reads_a_generator_of_loaders_once():
    loaders = make_tutorial_dataloaders(["circle_task"], n=100, seed=0)
    set_seed(0)
    model = make_tutorial_model(["circle_task"])
    trainer = Trainer(progress_bar=False, n_epochs=1, seed=0)
    trainer.fit(model, (loader for loader in loaders))
    assert "circle_task/circleDataset/valid/accuracy" in trainer.history  # the valid loader was not lost either
    assert len(model.score(loader for loader in loaders)) == 3


def test_callbacks_from_a_generator_are_kept():
    snapshots = ModelSnapshots()
    trainer = Trainer(progress_bar=False, callbacks=(cb for cb in [snapshots]))
    assert trainer.callbacks == (snapshots,)
    assert Trainer(callbacks=snapshots).callbacks == (snapshots,)  # one callback, not in a list


def test_lists_of_names_may_be_generators():
    # Each reads its list twice (a check, then the work): a generator is read once, into a list.
    names = ["circle_task", "square_task"]
    assert list(make_tutorial_model(t for t in names).tasks) == names
    model = build_shared_model((t for t in names), hidden=(w for w in [4, 4]))
    assert list(model.tasks) == names and model.module_pool["base_mlp"][2].out_features == 4
    train = make_joint_dataloaders((t for t in names), n=100)[0]
    assert list(train.dataset.Y_dict) == names


def test_a_dict_of_loaders_is_refused_with_the_fix():
    loaders = make_tutorial_dataloaders(["circle_task"], n=100, seed=0)
    by_split = {loader.dataset.split: loader for loader in loaders}
    with pytest.raises(
        MTLConfigError, match=r"Trainer.fit\(dataloaders\) must be a list of DictDataLoader; got a dict"
    ) as info:
        Trainer(progress_bar=False).fit(make_tutorial_model(["circle_task"]), by_split)
    assert "list(loaders.values())" in str(info.value)


def test_an_empty_dataset_list_is_not_silently_scored():
    model = make_tutorial_model(["circle_task"])
    data = DictDataset("d", "test", {"circle_data": torch.zeros(4, 2)}, {"circle_task": torch.zeros(4).long()})
    with pytest.raises(MTLConfigError, match=r"score\(dataloaders\) must be a list of DictDataLoader; got DictDataset"):
        model.score([data])
