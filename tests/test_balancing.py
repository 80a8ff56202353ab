"""Trainer(weighting=...) and Trainer(log_grad_cosine=True): mtl_teach/balancing.py on real training runs."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from helpers import make_base_mlp, tutorial_tasks
from torch import nn

from mtl_teach import MTLConfigError, MultitaskClassifier, Operation, Task, Trainer, set_seed
from mtl_teach.balancing import (
    WEIGHTINGS,
    GradCosineLog,
    GradientAggregation,
    GradNorm,
    UncertaintyWeighting,
    make_weighting,
    shared_parameters,
)
from mtl_teach.toy_data import make_joint_dataloaders, make_tutorial_dataloaders
from mtl_teach.weighting import equal, pcgrad

PAIR = ("circle_task", "square_task")
COSINE = "circle_task+square_task/all/train/grad_cosine"


def build(task_names=PAIR, seed=0):
    set_seed(seed)
    return MultitaskClassifier(tutorial_tasks(task_names))


def quiet(**kwargs):
    return Trainer(progress_bar=False, revive_dead_units=False, detect_stalls=False, **kwargs)


@pytest.fixture(scope="module")
def joint():
    return make_joint_dataloaders(PAIR, n=400, seed=0)  # 320 train points: 10 batches of 32, both labels


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


_BATCHES = {}


def first_batch_losses(model, loader):
    # The train loader shuffles: draw its first batch once, so every call sees the same points.
    X, Y = _BATCHES.setdefault(id(loader), next(iter(loader)))
    losses, _ = model.calculate_loss(X, Y)
    return losses


# ------------------------------------------------------------ "equal" is today's code path
def test_equal_is_the_plain_summed_loss_loop_bit_for_bit():
    # A hand-written loop of the Trainer's documented steps (sequential batches, Adam, clip 1.0).
    loaders = make_tutorial_dataloaders(PAIR, n=200, seed=0)
    model = build()
    quiet(n_epochs=2, seed=0, batch_scheduler="sequential", weighting="equal").fit(model, loaders)
    reference = build()
    set_seed(0)
    optimizer = torch.optim.Adam(reference.parameters(), lr=0.01)
    for _ in range(2):
        for loader in [dl for dl in loaders if dl.dataset.split == "train"]:
            for X, Y in loader:
                optimizer.zero_grad(set_to_none=True)
                losses, _ = reference.calculate_loss(X, Y)
                torch.stack(list(losses.values())).sum().backward()
                torch.nn.utils.clip_grad_norm_(list(reference.parameters()), 1.0)
                optimizer.step()
    trained, expected = state(model), state(reference)
    assert trained.keys() == expected.keys()
    assert all(torch.equal(trained[k], expected[k]) for k in trained)


def test_equal_logs_nothing_new(joint):
    trainer = quiet(n_epochs=1, seed=0)
    trainer.fit(build(), joint)
    assert not [k for k in trainer.history if k.endswith(("/weight", "/grad_cosine"))]


def test_the_gradient_path_with_equal_matches_the_summed_loss(joint):
    # weighting=<function equal>: per-task gradients on the trunk, summed, heads apart;
    # it must train the same model as loss.backward() up to float rounding.
    a, b = build(), build()
    quiet(n_epochs=2, seed=0).fit(a, joint)
    quiet(n_epochs=2, seed=0, weighting=equal).fit(b, joint)
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5), name


# ------------------------------------------------------------ one step, by hand
def separate_gradients(model, loader):
    """Each task's gradient on every parameter, by one plain backward per task."""
    grads = {}
    for task in PAIR:
        model.zero_grad(set_to_none=True)
        first_batch_losses(model, loader)[task].backward()
        grads[task] = {
            n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for n, p in model.named_parameters()
        }
    model.zero_grad(set_to_none=True)
    return grads


def test_pcgrad_step_puts_pcgrad_of_the_task_gradients_on_the_trunk_and_plain_gradients_on_the_heads(joint):
    model = build()
    train = joint[0]
    grads = separate_gradients(model, train)
    shared = [n for n, _ in model.named_parameters() if n.startswith("module_pool.base_mlp.")]
    G = torch.stack([torch.cat([grads[t][n].flatten() for n in shared]) for t in PAIR])  # (2, params)
    assert (G[0] @ G[1]).item() != 0
    method = make_weighting("pcgrad", model, joint)
    method.backward(first_batch_losses(model, train))
    got = torch.cat([dict(model.named_parameters())[n].grad.flatten() for n in shared])
    assert torch.allclose(got, pcgrad(G), atol=1e-6)
    for n, p in model.named_parameters():
        if n not in shared:  # a head: the sum of the task gradients = its own task's
            assert torch.allclose(p.grad, grads["circle_task"][n] + grads["square_task"][n], atol=1e-7), n


def test_shared_parameters_are_the_trunks():
    model = build()
    assert [id(p) for p in shared_parameters(model)] == [id(p) for p in model.module_pool["base_mlp"].parameters()]


# ------------------------------------------------------------ learned weights
def test_uncertainty_trains_its_log_variances_and_down_weights_the_loud_task(joint):
    set_seed(0)
    tasks = tutorial_tasks(PAIR)
    tasks[1] = Task(tasks[1].name, tasks[1].module_pool, tasks[1].op_sequence, weight=100.0)  # square's loss x 100
    trainer = quiet(n_epochs=3, seed=0, weighting="uncertainty")
    trainer.fit(MultitaskClassifier(tasks), joint)
    circle, square = trainer.history["circle_task/all/train/weight"], trainer.history["square_task/all/train/weight"]
    assert len(circle) == 3
    # Adam moves each s_t by about lr per step, so weights change slowly: ~0.3 in 30 steps.
    assert square[-1] < square[1] < square[0] < 1.0  # the x100 task is weighed down, further each epoch
    assert square[-1] < circle[-1] - 0.2


def test_uncertainty_reaches_the_optimizer_without_weight_decay(joint):
    method = UncertaintyWeighting()
    trainer = quiet(n_epochs=1, seed=0, weighting=method, l2=0.1)
    trainer.fit(build(), joint)
    assert not torch.equal(method.log_vars.detach(), torch.zeros(2))  # trained
    assert repr(method) == "UncertaintyWeighting()"


def test_gradnorm_weights_sum_to_the_task_count_and_move(joint):
    trainer = quiet(n_epochs=3, seed=0, weighting="gradnorm")
    trainer.fit(build(), joint)
    weights = [trainer.history[f"{t}/all/train/weight"] for t in PAIR]
    for epoch in range(3):
        assert math.isclose(weights[0][epoch] + weights[1][epoch], 2.0, rel_tol=1e-5)
    assert abs(weights[0][-1] - 1.0) > 0.05  # learned, not stuck at 1


def test_gradnorm_alpha_is_checked():
    with pytest.raises(MTLConfigError, match=r"GradNorm\(alpha\) must be a finite number >= 0; got -1"):
        GradNorm(alpha=-1)
    assert repr(GradNorm()) == "GradNorm(alpha=1.5)"


@pytest.mark.parametrize("name", [w for w in WEIGHTINGS if w != "equal"])
def test_every_method_trains_to_finite_weights(joint, name):
    model = build()
    trainer = quiet(n_epochs=1, seed=0, weighting=name)
    trainer.fit(model, joint)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert math.isfinite(trainer.history["model/all/train/loss"][-1])


def test_a_students_function_drives_training(joint):
    calls = []

    def mine(G):
        calls.append(tuple(G.shape))
        return G.sum(dim=0)

    quiet(n_epochs=1, seed=0, weighting=mine).fit(build(), joint)
    n_params = sum(p.numel() for p in build().module_pool["base_mlp"].parameters())
    assert calls == [(2, n_params)] * len(joint[0])
    assert "GradientAggregation('mine')" in repr(GradientAggregation(mine))


# ------------------------------------------------------------ clear errors
def test_unknown_name_lists_the_valid_ones():
    expected = "'cagrad', 'equal', 'gradnorm', 'mgda', 'pcgrad', 'uncertainty'"
    with pytest.raises(MTLConfigError, match=re.escape(f"Trainer(weighting) must be one of {expected}")):
        Trainer(weighting="pcgard")
    with pytest.raises(MTLConfigError, match=r"Trainer\(weighting\) must be one of .* or a function f\(G\); got 3\."):
        Trainer(weighting=3)


def test_a_students_function_returning_the_wrong_shape_is_named(joint):
    def rows(G):
        return G

    with pytest.raises(MTLConfigError, match=r"Trainer\(weighting=rows\) must return a tensor of shape \(\d+,\)"):
        quiet(n_epochs=1, weighting=rows).fit(build(), joint)


def test_single_task_model_is_refused(joint):
    loaders = make_joint_dataloaders(("circle_task",), n=100)
    with pytest.raises(
        MTLConfigError, match=r"Trainer\(weighting\) balances several tasks, but the model has one task"
    ):
        quiet(weighting="uncertainty").fit(build(("circle_task",)), loaders)


def test_gradient_method_needs_a_shared_trunk(joint):
    set_seed(0)
    tasks = []
    for name, field in (("circle_task", "circle_data"), ("square_task", "square_data")):
        trunk, head = f"{name}_trunk", f"{name}_head"
        pool = nn.ModuleDict({trunk: make_base_mlp(), head: nn.Linear(4, 2)})
        ops = [Operation(trunk, [("_input_", field)]), Operation(head, [(trunk, 0)])]
        tasks.append(Task(name, pool, ops))
    model = MultitaskClassifier(tasks)
    with pytest.raises(MTLConfigError, match=r"'pcgrad' acts on the shared trunk, but no module .* more than one task"):
        quiet(weighting="pcgrad").fit(model, joint)
    with pytest.raises(MTLConfigError, match=r"Trainer\(log_grad_cosine\) measures gradients on the shared trunk"):
        quiet(log_grad_cosine=True).fit(model, joint)
    quiet(weighting="uncertainty").fit(model, joint)  # a loss weighting needs no trunk


def test_one_task_per_batch_is_refused_with_the_fix():
    loaders = make_tutorial_dataloaders(PAIR, n=100)
    with pytest.raises(MTLConfigError, match=r"needs batches that carry labels of at least two tasks.*Fix: put"):
        quiet(weighting="gradnorm").fit(build(), loaders)
    with pytest.raises(MTLConfigError, match=r"Trainer\(log_grad_cosine\) compares the tasks' gradients"):
        quiet(log_grad_cosine=True).fit(build(), loaders)
    quiet(weighting="uncertainty").fit(build(), loaders)  # works batch by batch


def test_log_grad_cosine_must_be_a_bool():
    with pytest.raises(MTLConfigError, match=r"Trainer\(log_grad_cosine\) must be True or False; got 'yes'"):
        Trainer(log_grad_cosine="yes")


# ------------------------------------------------------------ gradient cosine log
def test_cosine_log_matches_the_separate_gradients(joint):
    model = build()
    grads = separate_gradients(model, joint[0])
    shared = [n for n, _ in model.named_parameters() if n.startswith("module_pool.base_mlp.")]
    g1, g2 = (torch.cat([grads[t][n].flatten() for n in shared]) for t in PAIR)
    log = GradCosineLog(model, joint, max_batches=1)
    log.record(first_batch_losses(model, joint[0]))
    log.record(first_batch_losses(model, joint[0]))  # past the sample: ignored
    metrics = log.epoch_metrics()
    assert metrics.keys() == {COSINE}
    assert math.isclose(metrics[COSINE], (torch.dot(g1, g2) / (g1.norm() * g2.norm())).item(), abs_tol=1e-6)
    assert log.epoch_metrics() == {}  # a new epoch starts empty


def test_log_grad_cosine_logs_every_epoch_and_leaves_training_unchanged(joint):
    plain, logged = build(), build()
    quiet(n_epochs=2, seed=0).fit(plain, joint)
    trainer = quiet(n_epochs=2, seed=0, log_grad_cosine=True)
    trainer.fit(logged, joint)
    values = trainer.history[COSINE]
    assert len(values) == 2 and all(-1 <= v <= 1 for v in values)
    assert all(torch.equal(p, q) for p, q in zip(plain.parameters(), logged.parameters(), strict=True))


def test_logging_records_a_weighting_object_or_function_by_its_repr(joint, tmp_path):
    def mine(G):
        return G.sum(dim=0)

    for weighting in (GradNorm(), mine):
        trainer = quiet(n_epochs=1, weighting=weighting, logging=True, log_dir=str(tmp_path), run_name="run")
        trainer.fit(build(), joint)
    logs = sorted(tmp_path.glob("run*.json"))
    configs = [json.loads(path.read_text())["config"]["weighting"] for path in logs]
    assert configs[0] == "GradNorm(alpha=1.5)" and configs[1].startswith("<function"), configs
