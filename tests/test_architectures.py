"""mtl_teach.architectures: cross-stitch, MMoE and CGC against hand computations, build_model, their Displays.

Each architecture is checked where a hand computation says what it must
give: gates are softmaxes over the experts; cross-stitch at alpha = I is
separate networks; MMoE with one expert is hard sharing; gradients reach
every expert and every alpha. Then the models train with the kit's Trainer
on the tutorial's loaders (one small fit per architecture, shared by the
tests through a module fixture), and the Displays show the numbers they
were built from.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: no display needed

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mtl_teach import DictDataLoader, DictDataset, MTLConfigError, Trainer, make_tutorial_dataloaders, set_seed
from mtl_teach.architectures import (
    ARCHITECTURES,
    CGC,
    CrossStitch,
    CrossStitchLog,
    Gate,
    MMoE,
    TaskSpec,
    build_model,
    mlp,
    parameter_counts,
    parameter_summary,
)
from mtl_teach.model import evaluating
from mtl_teach.plotting import CrossStitchDisplay, GateWeightsDisplay
from mtl_teach.sharing import build_shared_model

TASKS = ["circle_task", "square_task"]
FIELDS = {"circle_task": "circle_data", "square_task": "square_data", "xor_task": "xor_data"}
SEED = 0


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _points(n: int = 8, dim: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, dim, generator=torch.Generator().manual_seed(seed)) * 2 - 1  # (n, dim) in [-1, 1)


def _outputs(model, x: torch.Tensor, tasks=TASKS) -> dict[str, torch.Tensor]:
    with evaluating(model), torch.no_grad():
        return model({FIELDS[t]: x for t in tasks}, list(tasks))


def _randomise_gates(module: nn.Module) -> None:
    # Gates start at zero (uniform); a hand check needs them to prefer something.
    with torch.no_grad():
        for gate in module.gates.values():
            gate.weight.normal_(generator=torch.Generator().manual_seed(gate.weight.numel()))
            gate.bias.uniform_(-1, 1)


# ------------------------------------------------------------------ gates
def test_gate_is_a_softmax_over_the_experts_by_hand():
    gate = Gate(2, 3)
    with torch.no_grad():
        gate.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        gate.bias.copy_(torch.tensor([0.0, 0.0, -1.0]))
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    logits = torch.tensor([[1.0, 2.0, 2.0], [0.0, 0.0, -1.0]])  # W x + b, by hand
    expected = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    g = gate(x)
    torch.testing.assert_close(g, expected)
    torch.testing.assert_close(g.sum(dim=1), torch.ones(2))  # over the experts
    # each row is that input's own gate: a softmax over the batch would change with the batch
    torch.testing.assert_close(gate(x[:1]), g[:1])
    assert repr(gate) == "Gate(in_features=2, n_experts=3)"


def test_gates_start_uniform_inside_a_model_and_sum_to_one_after_training(trained):
    set_seed(SEED)
    fresh = build_model(TASKS, "mmoe", hidden=(8, 4), n_experts=4, verbose=False)
    x = _points(50)
    for g in fresh.module_pool["mmoe"].gate_weights(x).values():
        torch.testing.assert_close(g, torch.full((50, 4), 0.25))  # the Kaiming init leaves them at zero
    for name in ("mmoe", "cgc"):
        module = trained[name][0].module_pool[name]
        with torch.no_grad():
            for task, g in module.gate_weights(x).items():
                assert g.shape == (50, len(module.gate_experts[task]))
                assert (g >= 0).all()
                torch.testing.assert_close(g.sum(dim=1), torch.ones(50))
                assert g.std(dim=0).max() > 0.01  # trained: no longer uniform


def test_mmoe_mixes_the_experts_by_each_tasks_gate_by_hand():
    module = MMoE(2, (5, 3), ["a_task", "b_task"], n_experts=3)
    _randomise_gates(module)
    x = _points(6)
    with torch.no_grad():
        out, gates = module(x), module.gate_weights(x)
        f = [expert(x) for expert in module.experts]  # each (6, 3)
    for task in ("a_task", "b_task"):
        g = gates[task]  # (6, 3)
        expected = g[:, 0:1] * f[0] + g[:, 1:2] * f[1] + g[:, 2:3] * f[2]  # sum_k g_k f_k
        torch.testing.assert_close(out[task], expected)
    assert not torch.allclose(out["a_task"], out["b_task"])  # one gate per task


def test_cgc_gate_mixes_its_own_experts_and_the_shared_ones_by_hand():
    module = CGC(2, (4,), ["a_task", "b_task"], n_shared_experts=2, n_task_experts=1)
    _randomise_gates(module)
    x = _points(5)
    assert module.gate_experts["a_task"] == ["a_task expert 0", "shared expert 0", "shared expert 1"]
    with torch.no_grad():
        out, gates = module(x), module.gate_weights(x)
        shared = [expert(x) for expert in module.shared_experts]
        for task in ("a_task", "b_task"):
            own = module.task_experts[task][0](x)
            g = gates[task]
            expected = g[:, 0:1] * own + g[:, 1:2] * shared[0] + g[:, 2:3] * shared[1]
            torch.testing.assert_close(out[task], expected)
            torch.testing.assert_close(g.sum(dim=1), torch.ones(5))


# ------------------------------------------------------ special cases by hand
def test_cross_stitch_mixes_columns_after_every_layer_by_hand():
    module = CrossStitch(2, (3, 2), ["a_task", "b_task"], alpha_init=0.9)
    torch.testing.assert_close(module.alpha, torch.tensor([[[0.9, 0.1], [0.1, 0.9]]] * 2))
    x = _points(4)
    with torch.no_grad():
        a = module.columns["a_task"][0](x)  # layer 1 of each column, then the cross-stitch unit
        b = module.columns["b_task"][0](x)
        a, b = 0.9 * a + 0.1 * b, 0.1 * a + 0.9 * b
        a2 = module.columns["a_task"][1](a)
        b2 = module.columns["b_task"][1](b)
        a, b = 0.9 * a2 + 0.1 * b2, 0.1 * a2 + 0.9 * b2
        out = module(x)
    torch.testing.assert_close(out["a_task"], a)
    torch.testing.assert_close(out["b_task"], b)
    three = CrossStitch(2, (3,), ["a", "b", "c"], alpha_init=0.8)
    torch.testing.assert_close(three.alpha[0].sum(dim=1), torch.ones(3))  # rows sum to 1: 0.8 + 0.1 + 0.1
    assert float(three.alpha[0, 0, 1].detach()) == pytest.approx(0.1)


def test_cross_stitch_at_the_identity_equals_separate_networks():
    set_seed(SEED)
    separate = build_model(TASKS, "separate", hidden=(8, 4), verbose=False)
    stitched = build_model(TASKS, "cross_stitch", hidden=(8, 4), alpha_init=1.0, verbose=False)
    with torch.no_grad():
        for task in TASKS:
            stem = task.removesuffix("_task")
            trunk = separate.module_pool[f"{stem}_mlp"]  # Linear, ReLU, Linear, ReLU
            column = stitched.module_pool["cross_stitch"].columns[task]  # [Linear, ReLU] per layer
            for layer in range(2):
                column[layer][0].load_state_dict(trunk[2 * layer].state_dict())
            stitched.module_pool[f"{stem}_head"].load_state_dict(separate.module_pool[f"{stem}_head"].state_dict())
    x = _points(64)
    got, expected = _outputs(stitched, x), _outputs(separate, x)
    for task in TASKS:
        torch.testing.assert_close(got[task], expected[task])
    # and with alpha off the identity, the columns do read each other
    with torch.no_grad():
        stitched.module_pool["cross_stitch"].alpha[0, 0, 1] = 0.5
    assert not torch.allclose(_outputs(stitched, x)["circle_task"], expected["circle_task"])


def test_mmoe_with_one_expert_equals_hard_sharing():
    set_seed(SEED)
    hard = build_model(TASKS, "hard", hidden=(8, 4), verbose=False)
    mmoe = build_model(TASKS, "mmoe", hidden=(8, 4), n_experts=1, verbose=False)
    _randomise_gates(mmoe.module_pool["mmoe"])  # any gate over one expert is 1
    with torch.no_grad():
        mmoe.module_pool["mmoe"].experts[0].load_state_dict(hard.module_pool["base_mlp"].state_dict())
        for task in TASKS:
            head = task.removesuffix("_task") + "_head"
            mmoe.module_pool[head].load_state_dict(hard.module_pool[head].state_dict())
    x = _points(64)
    got, expected = _outputs(mmoe, x), _outputs(hard, x)
    for task in TASKS:
        torch.testing.assert_close(got[task], expected[task])
    # the only extra parameters: a gate per task, W (1, 2) and b (1,)
    assert sum(parameter_counts(mmoe).values()) - sum(parameter_counts(hard).values()) == 2 * 3


def test_hard_is_the_model_sharing_builds():
    # build_model("hard") draws the same weights in the same order as sharing.build_shared_model
    tasks = ["circle_task", "xor_task"]
    set_seed(3)
    ours = build_model(tasks, "hard", hidden=(16, 2), verbose=False)
    set_seed(3)
    theirs = build_shared_model(tasks, hidden=(16, 2))
    assert list(ours.module_pool) == list(theirs.module_pool)
    for key, value in theirs.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value)


@pytest.mark.parametrize("architecture", ["cross_stitch", "mmoe", "cgc"])
def test_gradients_reach_every_expert_column_gate_and_alpha(architecture):
    set_seed(SEED)
    extra = {"n_experts": 3} if architecture == "mmoe" else {}
    model = build_model(TASKS, architecture, hidden=(8, 4), verbose=False, **extra)
    module = model.module_pool[architecture]
    x = _points(256)
    out = model({FIELDS[t]: x for t in TASKS}, TASKS)
    for task in TASKS:
        assert out[task].shape == (256, 2)
    sum(o.pow(2).sum() for o in out.values()).backward()
    parts = {
        "cross_stitch": lambda m: [*m.columns.values()],
        "mmoe": lambda m: [*m.experts, *m.gates.values()],
        "cgc": lambda m: [*m.shared_experts, *m.task_experts.values(), *m.gates.values()],
    }[architecture](module)
    for part in parts:
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0, part
    if architecture == "cross_stitch":
        assert (module.alpha.grad.abs() > 0).all()  # every alpha[l, t, s] learns


def test_one_task_runs_only_its_own_gate_and_column_gradients():
    # a batch of one task trains the shared experts and its own gate, not the other task's gate
    set_seed(SEED)
    model = build_model(TASKS, "mmoe", hidden=(8, 4), verbose=False)
    out = model({"circle_data": _points(32)}, ["circle_task"])
    out["circle_task"].sum().backward()
    gates = model.module_pool["mmoe"].gates
    assert gates["circle_task"].weight.grad is not None
    assert gates["square_task"].weight.grad is None


# -------------------------------------------------------------- build_model
def test_build_model_makes_every_architecture_with_readable_ops(capsys):
    for architecture in ARCHITECTURES:
        set_seed(SEED)
        model = build_model(TASKS, architecture, hidden=(8, 4))
        printed = capsys.readouterr().out
        total = sum(p.numel() for p in model.parameters())
        assert printed.splitlines()[0] == f"{architecture}: {total:,} parameters"
        assert model.name == architecture
        ops = [op.inputs for op in model.tasks["circle_task"].op_sequence]
        if architecture in ("hard", "separate"):
            trunk = "base_mlp" if architecture == "hard" else "circle_mlp"
            assert ops == [(("_input_", "circle_data"),), ((trunk, 0),)]
        else:
            # the head picks its task's part of the module's {task: features} by name
            assert ops == [(("_input_", "circle_data"),), ((architecture, "circle_task"),)]
        shared = [] if architecture == "separate" else [architecture if architecture != "hard" else "base_mlp"]
        assert model.shared_modules() == shared


def test_parameter_counts_by_hand(capsys):
    # an expert (or trunk) 2-8-4: (2*8 + 8) + (8*4 + 4) = 60; a head 4 -> 2: 10; a gate over K experts: 3K
    expected = {
        "hard": 60 + 2 * 10,
        "separate": 2 * 60 + 2 * 10,
        "cross_stitch": 2 * 60 + 2 * 2 * 2 + 2 * 10,  # + alpha (2 layers, 2 x 2)
        "mmoe": 4 * 60 + 2 * 12 + 2 * 10,  # 4 experts, a gate over 4 per task
        "cgc": 3 * 60 + 2 * 6 + 2 * 10,  # 1 shared + 1 per task, gates over 2
    }
    for architecture, total in expected.items():
        model = build_model(TASKS, architecture, hidden=(8, 4), verbose=False)
        assert sum(parameter_counts(model).values()) == total, architecture
    summary = parameter_summary(build_model(TASKS, "cgc", hidden=(8, 4), verbose=False))
    assert summary.splitlines() == [
        "cgc: 212 parameters",
        "  cgc          192  shared by 2 tasks (shared experts 60, task experts 120, gates 12)",
        "  circle_head   10  circle_task",
        "  square_head   10  square_task",
    ]


def test_build_model_takes_other_input_sizes_and_output_sizes():
    # e.g. 64-pixel digits with a 10-class task and a binary one, both reading one field
    tasks = [TaskSpec("digit_task", "digits", 10), TaskSpec("parity_task", "digits", 2)]
    set_seed(SEED)
    model = build_model(tasks, "mmoe", input_dim=64, hidden=(32,), n_experts=3, verbose=False)
    calls = []
    model.module_pool["mmoe"].register_forward_hook(lambda *_: calls.append(1))
    out = model({"digits": torch.randn(5, 64)}, ["digit_task", "parity_task"])
    assert out["digit_task"].shape == (5, 10) and out["parity_task"].shape == (5, 2)
    assert len(calls) == 1  # both tasks read one field: the experts run once
    data = DictDataset(
        "digits",
        "train",
        {"digits": torch.randn(40, 64)},
        {"digit_task": torch.arange(40) % 10, "parity_task": torch.arange(40) % 2},
    )
    Trainer(progress_bar=False, n_epochs=1, seed=SEED).fit(model, [DictDataLoader(data, batch_size=20)])
    mse = TaskSpec("size_task", "digits", 1, loss_func=lambda y, t: F.mse_loss(y.squeeze(1), t.float()))
    regression = build_model([mse], "hard", input_dim=64, hidden=(8,), verbose=False)
    assert regression.tasks["size_task"].loss_func is mse.loss_func


def test_a_saved_architecture_loads_back(tmp_path, trained):
    model, _ = trained["cross_stitch"]
    model.save(tmp_path / "model.pth")
    copy = build_model(TASKS, "cross_stitch", hidden=(8, 4), verbose=False)
    copy.load(tmp_path / "model.pth")
    x = _points(16)
    torch.testing.assert_close(_outputs(copy, x)["circle_task"], _outputs(model, x)["circle_task"])


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: build_model(TASKS, "mixture", hidden=(8,)), "build_model(architecture) must be one of"),
        (lambda: build_model("circle_task", hidden=(8,)), "build_model(tasks) must be a non-empty list"),
        (lambda: build_model(["circle"], hidden=(8,)), "toy task names"),
        (lambda: build_model(["circle_task", "circle_task"], hidden=(8,)), "must not repeat a task"),
        (lambda: build_model(TASKS, hidden=(8, 0)), "build_model(hidden) must be a non-empty list of layer widths"),
        (lambda: build_model(TASKS, hidden=8), "build_model(hidden)"),
        (lambda: build_model(TASKS, "hard", hidden=(8,), n_experts=4), "applies to architecture 'mmoe' only"),
        (lambda: build_model(TASKS, "mmoe", hidden=(8,), alpha_init=0.9), "alpha_init) applies to architecture"),
        (lambda: build_model(TASKS, "mmoe", hidden=(8,), n_experts=0), "MMoE(n_experts) must be an integer >= 1"),
        (
            lambda: build_model(TASKS, "cgc", hidden=(8,), n_shared_experts=0),
            "without them use architecture 'separate'",
        ),
        (lambda: build_model(TASKS, "cross_stitch", hidden=(8,), alpha_init=1.5), "must be a number in (0, 1]"),
        (lambda: build_model(["circle_task"], "cross_stitch", hidden=(8,)), "at least 2 tasks"),
        (lambda: build_model(TASKS, hidden=(8,), input_dim=64), "must be 2 for the toy task 'circle_task'"),
        (lambda: build_model([TaskSpec("a_task", "x"), TaskSpec("a", "x")], hidden=(8,)), "distinct without '_task'"),
        (lambda: TaskSpec("digit_task", "digits", 0), "TaskSpec(n_outputs) must be an integer >= 1"),
        (lambda: TaskSpec("digit.task", "digits"), "without '.' or '/'"),
        (lambda: MMoE(2, (4,), ["a_task"])(torch.zeros(3, 5)), "MMoE input must be a float tensor of shape (batch, 2)"),
    ],
)
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(MTLConfigError) as caught:
        call()
    message = str(caught.value)
    assert words in message
    assert "; got " in message and "Fix: " in message  # parameter, rule, value, fix


def test_wrong_input_size_through_the_model_names_the_op():
    model = build_model(TASKS, "cgc", hidden=(4,), verbose=False)
    with pytest.raises(MTLConfigError, match=r"CGC input must be a float tensor of shape \(batch, 2\); got \(3, 4\)"):
        model({"circle_data": torch.zeros(3, 4)}, ["circle_task"])


def test_the_modules_plug_into_hand_written_snorkel_style_tasks():
    # Without build_model: the module is shared by name, each head picks its task's part
    from mtl_teach import MultitaskClassifier, Operation, Task

    mmoe = MMoE(2, (8, 4), TASKS, n_experts=3)
    tasks = [
        Task(
            name=task,
            module_pool=nn.ModuleDict({"mmoe": mmoe, f"{task}_head": nn.Linear(4, 2)}),
            op_sequence=[
                Operation("mmoe", [("_input_", FIELDS[task])]),
                Operation(f"{task}_head", [("mmoe", task)]),
            ],
        )
        for task in TASKS
    ]
    model = MultitaskClassifier(tasks)
    assert model.shared_modules() == ["mmoe"]
    out = _outputs(model, _points(7))
    assert out["circle_task"].shape == out["square_task"].shape == (7, 2)
    wrong = Task(
        name="xor_task",
        module_pool=nn.ModuleDict({"mmoe": mmoe, "xor_head": nn.Linear(4, 2)}),
        op_sequence=[Operation("mmoe", [("_input_", "xor_data")]), Operation("xor_head", [("mmoe", 0)])],
    )
    model.add_task(wrong)
    with pytest.raises(
        MTLConfigError,
        match=r"op 'xor_head' inputs .*select a part of the output that exists \(output type dict\); got 0",
    ):
        model({"xor_data": _points(3)}, ["xor_task"])


def test_mlp_is_linear_relu_pairs():
    layers = mlp(2, (8, 4))
    assert [type(m).__name__ for m in layers] == ["Linear", "ReLU", "Linear", "ReLU"]
    assert (layers[0].in_features, layers[2].out_features) == (2, 4)


# ------------------------------------------------------- training, the Trainer
@pytest.fixture(scope="module")
def trained():
    """Each soft architecture trained 4 epochs on the tutorial's circle and square loaders (~2 s in all)."""
    loaders = make_tutorial_dataloaders(TASKS, n=500, seed=SEED)
    runs = {}
    for architecture in ARCHITECTURES:
        set_seed(SEED)
        model = build_model(TASKS, architecture, hidden=(8, 4), verbose=False)
        log = CrossStitchLog()
        trainer = Trainer(
            progress_bar=False,
            n_epochs=4,
            lr=0.02,
            seed=SEED,
            callbacks=[log] if architecture == "cross_stitch" else [],
        )
        trainer.fit(model, loaders)
        runs[architecture] = (model, {"trainer": trainer, "log": log, "loaders": loaders})
    return runs


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_architecture_learns_the_toy_tasks_with_the_trainer(trained, architecture):
    model, info = trained[architecture]
    scores = model.score(info["loaders"][2::3])  # the test loaders
    assert set(scores) == {"circle_task/circleDataset/test/accuracy", "square_task/squareDataset/test/accuracy"}
    assert min(scores.values()) >= 0.8, scores  # the majority class is about 0.75


def test_cross_stitch_log_records_alpha_from_epoch_0(trained):
    model, info = trained["cross_stitch"]
    log, history = info["log"], info["trainer"].history
    assert log.epochs == [0, 1, 2, 3, 4]
    alphas = log.alphas
    assert alphas.shape == (5, 2, 2, 2)  # epochs, layers, tasks, tasks
    np.testing.assert_allclose(alphas[0], [[[0.9, 0.1], [0.1, 0.9]]] * 2, rtol=1e-6)
    np.testing.assert_array_equal(alphas[-1], model.module_pool["cross_stitch"].alpha.detach().numpy())
    assert not np.allclose(alphas[-1], alphas[0])  # it learned
    key = "circle_task/all/train/alpha_layer2_from_square_task"
    assert history[key] == pytest.approx(alphas[1:, 1, 0, 1].tolist())
    assert "epochs=5" in repr(log)


def test_cross_stitch_log_needs_a_cross_stitch_model(trained):
    model, info = trained["hard"]
    with pytest.raises(MTLConfigError, match=r"CrossStitchLog needs a model with exactly one CrossStitch module"):
        Trainer(progress_bar=False, n_epochs=1, callbacks=[CrossStitchLog()]).fit(model, info["loaders"])
    with pytest.raises(MTLConfigError, match=r"CrossStitchLog\(module_name\) must name a CrossStitch module"):
        Trainer(progress_bar=False, n_epochs=1, callbacks=[CrossStitchLog("base_mlp")]).fit(model, info["loaders"])


# ------------------------------------------------------------------ Displays
@pytest.mark.parametrize("architecture", ["mmoe", "cgc"])
def test_gate_display_shows_each_tasks_gate_over_the_plane(trained, architecture):
    model, _ = trained[architecture]
    module = model.module_pool[architecture]
    display = GateWeightsDisplay.from_model(model, grid_resolution=30)
    points = torch.from_numpy(np.column_stack([display.xx0.ravel(), display.xx1.ravel()]).astype(np.float32))
    with torch.no_grad():
        expected = module.gate_weights(points)
    for task in TASKS:
        weights = display.weights[task]  # (30, 30, n_experts)
        np.testing.assert_allclose(weights.reshape(900, -1), expected[task].numpy(), rtol=1e-6)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    columns = display.expert_names
    assert display.axes_.shape == (2, len(columns))
    if architecture == "cgc":
        assert columns == ["circle_task expert 0", "square_task expert 0", "shared expert 0"]
        assert not display.axes_[0, 1].axison  # the square's own expert is not in the circle's gate
        assert display.axes_[0, 1].texts[0].get_text() == "not in\ncircle_task's gate"
    drawn = display.axes_[0, 0].collections[0].get_array().reshape(30, 30)
    np.testing.assert_allclose(drawn, display.weights["circle_task"][..., 0])
    means = display.mean_weights()["circle_task"]
    assert sum(means.values()) == pytest.approx(1.0)
    assert display.axes_[0, 0].get_title().endswith(f"{means[columns[0]]:.0%}")
    assert "drawn=True" in repr(display)


def test_gate_display_errors(trained):
    hard, _ = trained["hard"]
    with pytest.raises(MTLConfigError, match=r"must have exactly one MMoE or CGC module.*gated modules: \(none\)"):
        GateWeightsDisplay.from_model(hard)
    mmoe, _ = trained["mmoe"]
    with pytest.raises(MTLConfigError, match=r"module_name\) must name an MMoE or CGC module.*'mmoe'"):
        GateWeightsDisplay.from_model(mmoe, "base_mlp")
    digits = build_model([TaskSpec("digit_task", "digits", 10)], "mmoe", input_dim=64, hidden=(8,), verbose=False)
    with pytest.raises(MTLConfigError, match="reads 2-D points"):
        GateWeightsDisplay.from_model(digits)
    with pytest.raises(MTLConfigError, match=r"must be a MultitaskClassifier"):
        GateWeightsDisplay.from_model(mmoe.module_pool["mmoe"])


def test_cross_stitch_display_draws_the_logged_alphas(trained):
    _, info = trained["cross_stitch"]
    log = info["log"]
    display = CrossStitchDisplay.from_log(log)
    assert display.axes_.shape == (1, 2)  # one panel per layer
    lines = display.axes_[0, 1].get_lines()
    own, other = lines[0], lines[1]  # circle <- circle, circle <- square
    np.testing.assert_array_equal(own.get_xdata(), [0, 1, 2, 3, 4])
    np.testing.assert_allclose(own.get_ydata(), log.alphas[:, 1, 0, 0])
    np.testing.assert_allclose(other.get_ydata(), log.alphas[:, 1, 0, 1])
    assert (own.get_linestyle(), other.get_linestyle()) == ("-", "--")
    np.testing.assert_array_equal(display.final(), log.alphas[-1])
    assert "layer 2" in repr(display) and "drawn=True" in repr(display)
    with pytest.raises(MTLConfigError, match="must have recorded a training run"):
        CrossStitchDisplay.from_log(CrossStitchLog())
    with pytest.raises(MTLConfigError, match="must be a CrossStitchLog"):
        CrossStitchDisplay.from_log(info["trainer"].history)


def test_displays_compute_without_drawing(trained):
    display = GateWeightsDisplay.from_model(trained["mmoe"][0], grid_resolution=10, plot=False)
    assert display.figure_ is None and display.weights["circle_task"].shape == (10, 10, 4)
    assert math.isclose(sum(display.mean_weights()["square_task"].values()), 1.0, rel_tol=1e-6)
    assert CrossStitchDisplay.from_log(trained["cross_stitch"][1]["log"], plot=False).figure_ is None
