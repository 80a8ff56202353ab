"""Trainer (trainer.py), schedules (schedulers.py), callbacks, log writers, stall
diagnostics (diagnostics.py) and set_seed (seed.py)."""

from __future__ import annotations

import json
import math
import random
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import tutorial_tasks
from torch.utils.data import DataLoader

from mtl_teach import (
    Callback,
    DictDataLoader,
    DictDataset,
    ModelSnapshots,
    MTLConfigError,
    MultitaskClassifier,
    StallWarning,
    Task,
    Trainer,
    make_tutorial_dataloaders,
    set_seed,
)
from mtl_teach.callbacks import state_at
from mtl_teach.dead_units import find_stalls
from mtl_teach.schedulers import iterate_batches, lr_factor

TWO = ("circle_task", "square_task")
THREE = ("circle_task", "square_task", "inv_circle_task")
CIRCLE_LOSS = "circle_task/circleDataset/train/loss"
CIRCLE_VALID = "circle_task/circleDataset/valid/accuracy"
LR = "model/all/train/lr"


def build(task_names=("circle_task",), seed=0, **kwargs):
    set_seed(seed)
    return MultitaskClassifier(tutorial_tasks(task_names), **kwargs)


def trainer(**kwargs):
    kwargs.setdefault("progress_bar", False)
    return Trainer(**kwargs)


def full_train_loss(model, loader):
    with torch.no_grad():
        loss_dict, _ = model.calculate_loss(loader.dataset.X_dict, loader.dataset.Y_dict)
    return sum(v.item() for v in loss_dict.values())


@pytest.fixture(scope="module")
def circle_loaders():
    return make_tutorial_dataloaders(["circle_task"], seed=0)  # 800 train rows: 25 batches of 32


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------ config errors
@pytest.mark.parametrize("n_epochs", [0, -1, 1.5, True, "10", None])
def test_bad_n_epochs(n_epochs):
    with pytest.raises(
        MTLConfigError,
        match=rf"Trainer\(n_epochs\) must be an integer >= 1; got {re_repr(n_epochs)}\. Fix: pass e.g. n_epochs=10",
    ):
        Trainer(n_epochs=n_epochs)


def re_repr(value):
    import re

    return re.escape(repr(value))


@pytest.mark.parametrize(
    ("param", "value", "valid"),
    [
        ("optimizer", "rmsprop", "'adam', 'adamax', 'sgd'"),
        ("lr_scheduler", "cosine", "'constant', 'exponential', 'linear', 'step'"),
        ("batch_scheduler", "random", "'sequential', 'shuffled'"),
        ("log_writer", "wandb", "'json', 'tensorboard'"),
        ("train_split", "dev", "'test', 'train', 'valid'"),
    ],
)
def test_unknown_choices_list_the_valid_names(param, value, valid):
    with pytest.raises(MTLConfigError) as info:
        Trainer(**{param: value})
    assert str(info.value) == f"Trainer({param}) must be one of {valid}; got {value!r}. Fix: pass one of {valid}."


@pytest.mark.parametrize("param", ["lr", "l2", "min_lr", "warmup_percentage"])
@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), "0.1"])
def test_bad_rates(param, value):
    with pytest.raises(
        MTLConfigError, match=rf"Trainer\({param}\) must be a finite number >= 0; got .*Fix: pass e.g. {param}="
    ):
        Trainer(**{param: value})


@pytest.mark.parametrize("metric", ["accuracy:max", "model/all/train/loss", "model/all/train/loss:best", "a/b/c:min"])
def test_bad_checkpoint_metric_format(metric):
    with pytest.raises(MTLConfigError) as info:
        Trainer(checkpoint_metric=metric)
    text = str(info.value)
    assert "Trainer(checkpoint_metric) must look like 'task/dataset/split/metric:min' or ':max'" in text
    assert f"got {metric!r}" in text
    assert "Fix: e.g. 'model/all/train/loss:min'" in text


def test_other_bad_config():
    with pytest.raises(MTLConfigError, match=r"Trainer\(grad_clip\) must be a number > 0, or None"):
        Trainer(grad_clip=0)
    with pytest.raises(MTLConfigError, match=r"Trainer\(seed\) must be an integer or None; got '1'"):
        Trainer(seed="1")
    with pytest.raises(MTLConfigError, match=r"Trainer\(evaluation_freq\) must be an integer >= 1; got 0"):
        Trainer(evaluation_freq=0)
    with pytest.raises(MTLConfigError, match=r"Trainer\(warmup_steps\) must be an integer >= 0; got -1"):
        Trainer(warmup_steps=-1)
    with pytest.raises(
        MTLConfigError, match=r"Trainer\(callbacks\) must hold Callback objects.*Fix: subclass mtl_teach.Callback"
    ):
        Trainer(callbacks=[print])


@pytest.mark.parametrize("param", ["progress_bar", "checkpointing", "logging", "detect_stalls", "revive_dead_units"])
@pytest.mark.parametrize("value", ["no", "False", None, 2])
def test_switches_must_be_true_or_false(param, value):
    # progress_bar="no" is truthy and silently switched the bar on.
    with pytest.raises(MTLConfigError) as info:
        Trainer(**{param: value})
    text = str(info.value)
    assert f"Trainer({param}) must be True or False; got {value!r}" in text
    assert f"Fix: pass {param}=True or {param}=False" in text


@pytest.mark.parametrize("metric", [None, 3])
def test_checkpoint_metric_must_be_a_string(metric):
    # None used to crash with "'NoneType' object has no attribute 'rpartition'".
    with pytest.raises(MTLConfigError, match=r"Trainer\(checkpoint_metric\) must look like"):
        Trainer(checkpointing=True, checkpoint_metric=metric)


def test_tensorboard_without_tensorboard_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    with pytest.raises(MTLConfigError) as info:
        Trainer(logging=True, log_writer="tensorboard")
    text = str(info.value)
    assert "Trainer(log_writer) 'tensorboard' needs the tensorboard package, which is not installed" in text
    assert "Fix: pip install tensorboard, or use log_writer='json'" in text
    Trainer(logging=False, log_writer="tensorboard")  # only checked when logging is on


def test_defaults_and_repr():
    t = Trainer()
    assert (t.n_epochs, t.lr, t.l2, t.grad_clip, t.optimizer) == (1, 0.01, 0.0, 1.0, "adam")
    assert (t.lr_scheduler, t.batch_scheduler, t.seed, t.progress_bar) == ("constant", "shuffled", None, True)
    assert (t.checkpointing, t.checkpoint_metric, t.logging) == (False, "model/all/train/loss:min", False)
    assert repr(t) == "Trainer()"
    assert repr(Trainer(n_epochs=3, lr=0.02)) == "Trainer(n_epochs=3, lr=0.02)"


# --------------------------------------------------------------- fit errors
def test_fit_without_a_train_loader(circle_loaders):
    model = build()
    with pytest.raises(MTLConfigError) as info:
        trainer().fit(model, circle_loaders[1:])
    text = str(info.value)
    assert "Trainer.fit(dataloaders) must include at least one loader of split 'train'" in text
    assert "got ['circleDataset/valid', 'circleDataset/test']" in text
    assert "Fix: add a train loader" in text


def test_fit_with_a_plain_dataloader(circle_loaders):
    model = build()
    plain = DataLoader(circle_loaders[0].dataset, batch_size=32)
    with pytest.raises(
        MTLConfigError,
        match=r"Trainer.fit\(dataloaders\) must be a list of DictDataLoader; got DataLoader\. Fix: wrap each dataset",
    ):
        trainer().fit(model, [plain])


def test_fit_with_a_non_model(circle_loaders):
    with pytest.raises(MTLConfigError, match=r"Trainer.fit\(model\) must be a MultitaskClassifier; got Linear"):
        trainer().fit(torch.nn.Linear(2, 2), circle_loaders)


def test_fit_with_labels_for_no_task(circle_loaders):
    model = build()
    ds = circle_loaders[0].dataset
    other = DictDataLoader(DictDataset("x", "train", ds.X_dict, {"circle": ds.Y_dict["circle_task"]}), batch_size=32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(
        MTLConfigError,
        match=r"Dataset 'x' \(train\) Y_dict key 'circle' must name a task of the model \(tasks: 'circle_task'\)",
    ):
        trainer().fit(model, [circle_loaders[0], other])
    assert states_equal(before, model.state_dict())  # failed before training started


# -------------------------------------------------------------- seeding
def shuffled_two_task_loaders():
    loaders = make_tutorial_dataloaders(TWO, n=400, seed=0)
    # Shuffling train loaders (torch's own RNG), as well as the batch scheduler.
    return [DictDataLoader(dl.dataset, batch_size=32, shuffle=dl.dataset.split == "train") for dl in loaders]


def seeded_run(trainer_seed, disturb=False):
    loaders = shuffled_two_task_loaders()
    model = build(TWO, seed=0)
    if disturb:  # the trainer's seed must override whatever happened before fit
        random.random()
        np.random.rand(3)
        torch.rand(5)
    t = trainer(n_epochs=2, lr=0.02, seed=trainer_seed)
    t.fit(model, loaders)
    return model.score(loaders), t.history, model.state_dict()


def test_same_seed_gives_bit_identical_runs():
    scores_a, history_a, state_a = seeded_run(5)
    scores_b, history_b, state_b = seeded_run(5, disturb=True)
    assert scores_a == scores_b
    assert history_a == history_b
    assert states_equal(state_a, state_b)


def test_different_seeds_differ():
    _, history_a, state_a = seeded_run(5)
    _, history_b, state_b = seeded_run(6)
    assert history_a[CIRCLE_LOSS] != history_b[CIRCLE_LOSS]
    assert not states_equal(state_a, state_b)


def test_set_seed_seeds_python_numpy_and_torch():
    set_seed(11)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(11)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(12)
    c = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b
    assert all(x != y for x, y in zip(a, c, strict=True))


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_set_seed_rejects_bad_seeds(seed):
    with pytest.raises(
        MTLConfigError, match=r"set_seed\(seed\) must be an integer >= 0.*Fix: pass e.g. set_seed\(123\)"
    ):
        set_seed(seed)


# ------------------------------------------------------------ logged metrics
def test_per_task_losses_and_history():
    loaders = make_tutorial_dataloaders(THREE, n=400, seed=0)
    model = build(THREE)
    t = trainer(n_epochs=2, lr=0.02, seed=0)
    assert t.fit(model, loaders) is model
    history = t.history
    for key in (
        "circle_task/circleDataset/train/loss",
        "square_task/squareDataset/train/loss",
        "inv_circle_task/invCircleDataset/train/loss",
        "model/all/train/loss",
        LR,
        "circle_task/circleDataset/valid/accuracy",
        "inv_circle_task/invCircleDataset/valid/accuracy",
    ):
        assert key in history, key
    assert not any("/test/" in key for key in history)  # only valid loaders are scored
    assert history["epoch"] == [1, 2]
    assert all(len(values) == 2 for values in history.values())
    # Each task has 320 train rows, so the total is the mean of the three.
    for epoch in range(2):
        tasks = [
            history[f"{n}/{d}/train/loss"][epoch]
            for n, d in [
                ("circle_task", "circleDataset"),
                ("square_task", "squareDataset"),
                ("inv_circle_task", "invCircleDataset"),
            ]
        ]
        assert history["model/all/train/loss"][epoch] == pytest.approx(sum(tasks) / 3, rel=1e-6)
    assert history[LR] == [0.02, 0.02]


def test_per_task_loss_is_the_mean_loss_over_the_epoch(circle_loaders):
    # With lr=0 nothing changes, so the logged epoch loss must equal the
    # cross-entropy over all 800 training rows.
    model = build()
    expected = full_train_loss(model, circle_loaders[0])
    t = trainer(lr=0.0, revive_dead_units=False, seed=0)
    t.fit(model, circle_loaders[:1])
    assert t.history[CIRCLE_LOSS][0] == pytest.approx(expected, rel=1e-5)
    assert t.history["model/all/train/loss"][0] == pytest.approx(expected, rel=1e-5)


def test_history_lines_up_when_valid_is_scored_every_other_epoch(circle_loaders):
    t = trainer(n_epochs=3, evaluation_freq=2, seed=0)
    t.fit(build(), circle_loaders[:2])
    assert all(len(values) == 3 for values in t.history.values())
    valid = t.history[CIRCLE_VALID]
    assert math.isnan(valid[0]) and not math.isnan(valid[1]) and math.isnan(valid[2])


# ------------------------------------------------------------ lr schedules
@pytest.mark.parametrize(
    ("config", "factors"),
    [
        ({"lr_scheduler": "constant"}, [1, 1, 1]),
        ({"lr_scheduler": "linear"}, [2 / 3, 1 / 3, 0]),
        ({"lr_scheduler": "linear", "min_lr": 0.005}, [2 / 3, 1 / 3, 0.25]),
        ({"lr_scheduler": "exponential", "exp_gamma": 0.99}, [0.99**25, 0.99**50, 0.99**75]),
        ({"lr_scheduler": "step", "step_size": 10, "step_gamma": 0.5}, [0.5**2, 0.5**5, 0.5**7]),
        ({"lr_scheduler": "constant", "warmup_steps": 50}, [26 / 50, 1, 1]),
        ({"lr_scheduler": "constant", "warmup_percentage": 0.5}, [26 / 37, 1, 1]),
        ({"lr_scheduler": "linear", "warmup_steps": 25}, [1, 0.5, 0]),
    ],
)
def test_lr_schedules(circle_loaders, config, factors):
    # 25 batches per epoch, 75 in all; the lr is logged after each epoch's last step.
    t = trainer(n_epochs=3, lr=0.02, seed=0, **config)
    t.fit(build(), circle_loaders[:1])
    assert t.history[LR] == pytest.approx([0.02 * f for f in factors], rel=1e-9, abs=1e-12)


def test_warmup_ramps_up_batch_by_batch():
    f = lr_factor(
        "linear", total_steps=100, warmup_steps=10, lr=0.1, min_lr=0.0, exp_gamma=0.9, step_size=5, step_gamma=0.9
    )
    ramp = [f(step) for step in range(10)]
    assert ramp == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert f(10) == 1.0  # then the schedule starts from the full rate
    assert f(55) == pytest.approx(0.5)
    assert f(100) == 0.0


# --------------------------------------------------------------- optimizers
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamax"])
def test_each_optimizer_trains(circle_loaders, optimizer):
    model = build()
    before = full_train_loss(model, circle_loaders[0])
    t = trainer(n_epochs=2, lr=0.02, optimizer=optimizer, seed=0)
    t.fit(model, circle_loaders[:1])
    after = full_train_loss(model, circle_loaders[0])
    assert after < before - 0.02, (before, after)


def test_l2_shrinks_the_weights(circle_loaders):
    def weight_norm(l2):
        model = build()
        trainer(lr=0.02, optimizer="sgd", l2=l2, seed=0, revive_dead_units=False).fit(model, circle_loaders[:1])
        return sum(p.norm().item() for p in model.parameters())

    assert weight_norm(5.0) < 0.5 * weight_norm(0.0)


def test_grad_clip(circle_loaders):
    def change(grad_clip):
        model = build()
        before = [p.clone() for p in model.parameters()]
        trainer(lr=0.02, optimizer="sgd", grad_clip=grad_clip, seed=0, revive_dead_units=False).fit(
            model, circle_loaders[:1]
        )
        return max((p - b).abs().max().item() for p, b in zip(model.parameters(), before, strict=True))

    unclipped = change(None)
    assert math.isfinite(unclipped) and unclipped > 1e-2
    # SGD moves at most lr * |g| per step (times the momentum build-up, < 10).
    assert change(1e-6) < 25 * 10 * 0.02 * 1e-6


# ----------------------------------------------------------- batch schedules
def test_iterate_batches_sequential_and_shuffled():
    loaders = make_tutorial_dataloaders(TWO, n=200, seed=0, batch_size=40)[::3]  # two train loaders, 4 batches each
    sequential = [dl.dataset.name for _, dl in iterate_batches("sequential", loaders, random.Random(0))]
    assert sequential == ["circleDataset"] * 4 + ["squareDataset"] * 4

    def shuffled(seed):
        return [
            (dl.dataset.name, batch[0][next(iter(batch[0]))][0].tolist())
            for batch, dl in iterate_batches("shuffled", loaders, random.Random(seed))
        ]

    a, b = shuffled(1), shuffled(1)
    assert a == b
    assert [name for name, _ in a] != sequential
    assert sorted(name for name, _ in a) == sorted(sequential)
    # Each loader's own batches still come in its order, each once.
    circle_firsts = [row for name, row in a if name == "circleDataset"]
    X = loaders[0].dataset.X_dict["circle_data"]
    assert circle_firsts == [X[i].tolist() for i in range(0, 160, 40)]
    orders = {tuple(name for name, _ in shuffled(seed)) for seed in range(6)}
    assert len(orders) > 1


def test_trainer_batch_schedulers_differ():
    loaders = make_tutorial_dataloaders(TWO, n=200, seed=0)
    histories = []
    for scheduler in ("sequential", "shuffled"):
        t = trainer(n_epochs=1, lr=0.02, batch_scheduler=scheduler, seed=0)
        t.fit(build(TWO), loaders)
        histories.append(t.history)
    assert histories[0][CIRCLE_LOSS] != histories[1][CIRCLE_LOSS]
    assert all(math.isfinite(h[CIRCLE_LOSS][0]) for h in histories)


# -------------------------------------------------------------- checkpoints
def test_checkpointing_restores_the_best_epoch(circle_loaders, tmp_path):
    model = build()
    snapshots = ModelSnapshots()
    t = trainer(
        n_epochs=4,
        lr=0.05,
        seed=1,
        checkpointing=True,
        checkpoint_metric=f"{CIRCLE_VALID}:max",
        checkpoint_dir=str(tmp_path / "ckpt"),
        callbacks=[snapshots],
    )
    t.fit(model, circle_loaders[:2])
    valid = t.history[CIRCLE_VALID]
    best_epoch = valid.index(max(valid)) + 1
    assert model.score(circle_loaders[1:2])[CIRCLE_VALID] == max(valid)
    assert states_equal(model.state_dict(), state_at(snapshots, best_epoch))
    saved = torch.load(tmp_path / "ckpt" / "best_model.pth", weights_only=True)
    assert states_equal(saved["model"], model.state_dict())


def test_checkpointing_min_mode(circle_loaders):
    model = build()
    snapshots = ModelSnapshots()
    t = trainer(
        n_epochs=3, lr=0.05, seed=1, checkpointing=True, checkpoint_metric=f"{CIRCLE_VALID}:min", callbacks=[snapshots]
    )
    t.fit(model, circle_loaders[:2])
    valid = t.history[CIRCLE_VALID]
    worst_epoch = valid.index(min(valid)) + 1
    assert worst_epoch < 3  # accuracy improves, so this restores an earlier epoch
    assert model.score(circle_loaders[1:2])[CIRCLE_VALID] == min(valid)
    assert states_equal(model.state_dict(), state_at(snapshots, worst_epoch))


def test_without_checkpointing_the_last_epoch_is_kept(circle_loaders):
    model = build()
    snapshots = ModelSnapshots()
    trainer(n_epochs=2, lr=0.05, seed=1, callbacks=[snapshots]).fit(model, circle_loaders[:2])
    assert states_equal(model.state_dict(), state_at(snapshots, 2))


def test_checkpoint_metric_not_logged_lists_the_logged_keys(circle_loaders):
    t = trainer(checkpointing=True, checkpoint_metric="circle_task/circleDataset/valid/f1:max", seed=0)
    with pytest.raises(MTLConfigError) as info:
        t.fit(build(), circle_loaders[:2])
    text = str(info.value)
    assert "Trainer(checkpoint_metric) must name a logged metric" in text
    assert "'circle_task/circleDataset/valid/accuracy'" in text
    assert "'model/all/train/loss'" in text
    assert "got 'circle_task/circleDataset/valid/f1'" in text


# ------------------------------------------------------------------ logging
def test_json_log_has_one_entry_per_epoch(circle_loaders, tmp_path):
    t = trainer(n_epochs=2, seed=0, logging=True, log_dir=str(tmp_path), run_name="run1")
    t.fit(build(), circle_loaders[:2])
    log = json.loads((tmp_path / "run1.json").read_text())
    assert [entry["epoch"] for entry in log["epochs"]] == [1, 2]
    for i, entry in enumerate(log["epochs"]):
        assert entry["model/all/train/loss"] == t.history["model/all/train/loss"][i]
        assert entry[CIRCLE_VALID] == t.history[CIRCLE_VALID][i]
    assert log["config"]["n_epochs"] == 2
    assert "MultitaskClassifier" in log["config"]["model"]


# ------------------------------------------------------------ NaN / inf loss
def test_nan_input_stops_training_naming_epoch_batch_and_task(circle_loaders):
    ds = circle_loaders[0].dataset
    X = ds.X_dict["circle_data"].clone()
    bad = DictDataLoader(DictDataset("circleDataset", "train", {"circle_data": X}, ds.Y_dict), batch_size=32)
    # DictDataset refuses NaN inputs; data changed after that still meets the training guard.
    X[40, 0] = float("nan")  # row 40 is in batch 2 of 32
    with pytest.raises(FloatingPointError) as info:
        trainer(batch_scheduler="sequential", seed=0).fit(build(), [bad])
    text = str(info.value)
    assert "Training loss became nan at epoch 1, batch 2 ('circleDataset'), task(s) 'circle_task'" in text
    assert "Fix: lower lr" in text


# ---------------------------------------------------------------- callbacks
def test_model_snapshots(circle_loaders):
    model = build()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    snapshots = ModelSnapshots()
    trainer(n_epochs=2, seed=0, callbacks=[snapshots]).fit(model, circle_loaders[:1])
    assert snapshots.epochs == [0, 1, 2]
    assert states_equal(state_at(snapshots, 0), initial)
    assert states_equal(state_at(snapshots, 2), model.state_dict())
    assert not states_equal(state_at(snapshots, 0), state_at(snapshots, 2))
    # Snapshots are copies, not views of the live weights.
    with torch.no_grad():
        model.module_pool["base_mlp"][0].weight.add_(1.0)
    assert not states_equal(state_at(snapshots, 2), model.state_dict())
    with pytest.raises(
        MTLConfigError, match=r"state_at\(epoch\) must be an epoch with a snapshot \(\[0, 1, 2\]\); got 5"
    ):
        state_at(snapshots, 5)


def test_model_snapshots_every(circle_loaders):
    snapshots = ModelSnapshots(every=2)
    trainer(n_epochs=3, seed=0, callbacks=[snapshots]).fit(build(), circle_loaders[:1])
    assert snapshots.epochs == [0, 2, 3]
    with pytest.raises(MTLConfigError, match=r"ModelSnapshots\(every\) must be an integer >= 1; got 0"):
        ModelSnapshots(every=0)


def test_callback_hooks_are_called_in_order(circle_loaders):
    class Recorder(Callback):
        def __init__(self):
            self.calls = []

        def on_fit_start(self, trainer, model):
            self.calls.append("start")

        def on_epoch_end(self, trainer, model, epoch, metrics):
            self.calls.append((epoch, "model/all/train/loss" in metrics, CIRCLE_VALID in metrics))

        def on_fit_end(self, trainer, model):
            self.calls.append("end")

    recorder = Recorder()
    trainer(n_epochs=2, seed=0, callbacks=[recorder]).fit(build(), circle_loaders[:2])
    assert recorder.calls == ["start", (1, True, True), (2, True, True), "end"]


# ------------------------------------------------------------- task weights
def test_zero_weight_task_head_is_unchanged():
    loaders = make_tutorial_dataloaders(TWO, n=300, seed=0)
    set_seed(0)
    circle, square = tutorial_tasks(TWO)
    circle = Task(circle.name, circle.module_pool, circle.op_sequence, weight=0.0)
    model = MultitaskClassifier([circle, square])
    heads = {
        name: {k: v.clone() for k, v in model.module_pool[name].state_dict().items()}
        for name in ("circle_head_module", "square_head_module")
    }
    trunk = model.module_pool["base_mlp"][0].weight.clone()
    trainer(n_epochs=1, lr=0.02, seed=0, revive_dead_units=False).fit(model, loaders)
    assert states_equal(heads["circle_head_module"], model.module_pool["circle_head_module"].state_dict())
    assert not states_equal(heads["square_head_module"], model.module_pool["square_head_module"].state_dict())
    assert not torch.equal(trunk, model.module_pool["base_mlp"][0].weight)


# -------------------------------------------------------- stalls and revival
def stall_run(seed, **trainer_kwargs):
    loaders = make_tutorial_dataloaders(THREE, seed=seed)
    set_seed(seed)
    model = MultitaskClassifier(tutorial_tasks(THREE), **trainer_kwargs.pop("model_kwargs", {}))
    t = Trainer(progress_bar=False, n_epochs=10, lr=0.02, **trainer_kwargs)
    t.fit(model, loaders)
    return t, model, loaders


def test_stall_warning_fires_on_a_stalling_seed():
    # Seed 1 with PyTorch's own init and no revival: trunk units die and the
    # heads fall back to the majority class.
    with pytest.warns(StallWarning, match=r"Task '\w+' has stalled after epoch \d+: its training accuracy") as record:
        t, model, loaders = stall_run(1, revive_dead_units=False, model_kwargs={"init": None})
    stalls = [w for w in record if issubclass(w.category, StallWarning)]
    assert len({str(w.message).split("'")[1] for w in stalls}) == len(stalls)  # once per task
    text = str(stalls[0].message)
    assert "dead ReLUs" in text
    assert "What to try" in text
    assert "init='kaiming'" in text and "revive_dead_units=True" in text
    assert t.revived == []
    assert min(model.score(loaders[2::3]).values()) < 0.85  # a real stall, not a false alarm


def test_no_stall_warning_with_the_defaults_on_the_same_seed():
    with warnings.catch_warnings():
        warnings.simplefilter("error", StallWarning)
        t, model, loaders = stall_run(1)
    scores = model.score(loaders[2::3])
    assert min(scores.values()) >= 0.9, scores
    assert len(t.history["model/all/train/revived_units"]) == 10


def test_detect_stalls_can_be_switched_off():
    with warnings.catch_warnings():
        warnings.simplefilter("error", StallWarning)
        stall_run(1, revive_dead_units=False, detect_stalls=False, model_kwargs={"init": None})


def test_find_stalls_reports_dead_units(circle_loaders):
    model = build(init=None)
    trunk, head = model.module_pool["base_mlp"], model.module_pool["circle_head_module"]
    with torch.no_grad():  # every trunk output unit dead; the head answers class 1 (the majority)
        trunk[2].weight.zero_()
        trunk[2].bias.fill_(-1.0)
        head.bias.copy_(torch.tensor([0.0, 1.0]))
    stalls = find_stalls(model, circle_loaders[:1])
    assert len(stalls) == 1
    stall = stalls[0]
    labels = circle_loaders[0].dataset.Y_dict["circle_task"]
    share = labels.float().mean().item()
    assert (stall.task, stall.dataset, stall.majority_class) == ("circle_task", "circleDataset", 1)
    assert stall.accuracy == pytest.approx(share) and stall.majority_share == pytest.approx(share)
    assert (stall.dead_units, stall.n_units) == (4, 4)
    message = stall.message(3)
    assert "Task 'circle_task' has stalled after epoch 3" in message
    assert "4 of the 4 units feeding its head" in message
    assert "dead ReLUs" in message
    assert f"is {share:.1%}, no better than always answering the majority class 1 ({share:.1%}" in message


def test_stall_message_says_how_far_above_the_floor_the_accuracy_is():
    from mtl_teach.dead_units import Stall

    stall = Stall("circle_task", "circleDataset", 0.795, 1, 0.775, dead_units=3, n_units=4)
    message = stall.message(10)
    assert "is 79.5%, only 2.0 points above always answering the majority class 1 (77.5% of the labels)" in message
    assert "no better than" not in message


def test_find_stalls_is_quiet_on_a_trained_model(circle_loaders):
    model = build()
    trainer(n_epochs=3, lr=0.05, seed=0).fit(model, circle_loaders[:1])
    assert find_stalls(model, circle_loaders[:1]) == []


def test_revived_units_are_listed(circle_loaders):
    model = build()
    with torch.no_grad():
        model.module_pool["base_mlp"][2].weight[1] = 0.0
        model.module_pool["base_mlp"][2].bias[1] = -5.0
    t = trainer(n_epochs=1, lr=0.0, seed=0)
    t.fit(model, circle_loaders[:1])
    assert [(epoch, unit.module, unit.layer, unit.unit) for epoch, unit in t.revived] == [(1, "base_mlp", 2, 1)]
    assert t.history["model/all/train/revived_units"] == [1.0]


def test_training_loss_matches_manual_cross_entropy_of_a_batch():
    # The loss each step minimises is the sum of the tasks' cross-entropies.
    model = build(TWO)
    X = {"circle_data": torch.randn(8, 2), "square_data": torch.randn(8, 2)}
    Y = {"circle_task": torch.randint(0, 2, (8,)), "square_task": torch.randint(0, 2, (8,))}
    loss_dict, _ = model.calculate_loss(X, Y)
    with torch.no_grad():
        out = model(X, list(TWO))
    expected = sum(F.cross_entropy(out[k], Y[k]).item() for k in TWO)
    assert sum(v.item() for v in loss_dict.values()) == pytest.approx(expected, rel=1e-6)


def test_find_stalls_ignores_a_rare_class_task_whose_features_are_alive():
    # A 2%-positive task (e.g. a slice indicator) answers the majority class for
    # its first epochs while it is still learning: accuracy 0.98 is then both
    # "the majority rate" and a healthy start. With live features, no stall.
    X = torch.rand(500, 2) * 2 - 1
    Y = torch.zeros(500, dtype=torch.long)
    Y[:10] = 1
    loader = DictDataLoader(DictDataset("rareDataset", "train", {"circle_data": X}, {"circle_task": Y}), batch_size=32)
    model = build(init="kaiming")
    with torch.no_grad():  # the head answers class 0 everywhere; the trunk is alive
        head = model.module_pool["circle_head_module"]
        head.weight.zero_()
        head.bias.copy_(torch.tensor([1.0, 0.0]))
    assert find_stalls(model, [loader]) == []
    with torch.no_grad():  # ... but with every trunk unit dead, it is a stall
        model.module_pool["base_mlp"][2].weight.zero_()
        model.module_pool["base_mlp"][2].bias.fill_(-1.0)
    (stall,) = find_stalls(model, [loader])
    assert (stall.majority_class, stall.majority_share, stall.dead_units) == (0, 0.98, 4)


def test_a_train_loader_whose_labels_are_all_minus_one_is_a_clear_error():
    # fit used to "succeed" and log a NaN loss.
    model = MultitaskClassifier(tutorial_tasks(["circle_task"]))
    X = torch.rand(40, 2)
    loader = DictDataLoader(
        DictDataset("circleDataset", "train", {"circle_data": X}, {"circle_task": torch.full((40,), -1)}), batch_size=8
    )
    with pytest.raises(
        MTLConfigError, match=r"Y_dict\['circle_task'\] must hold at least one label.*40 labels, all -1"
    ):
        Trainer(progress_bar=False).fit(model, [loader])
    # Some -1 labels are fine: -1 means "no label" for that example.
    labels = torch.randint(0, 2, (40,))
    labels[:30] = -1
    partly = DictDataLoader(
        DictDataset("circleDataset", "train", {"circle_data": X}, {"circle_task": labels}), batch_size=8
    )
    trainer = Trainer(progress_bar=False, n_epochs=1, detect_stalls=False)
    trainer.fit(model, [partly])
    assert all(math.isfinite(value) for value in trainer.history["model/all/train/loss"])


def test_a_task_without_training_labels_is_warned_about():
    model = MultitaskClassifier(tutorial_tasks(["circle_task", "square_task"]))
    loaders = make_tutorial_dataloaders(["circle_task"], seed=0)
    with pytest.warns(UserWarning, match=r"No train loader has labels for task\(s\) \['square_task'\]"):
        Trainer(progress_bar=False, n_epochs=1, detect_stalls=False).fit(model, loaders)
