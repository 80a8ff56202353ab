"""mtl_teach.plotting: the numbers behind each plot, every helper rendering, clear errors.

Plots are checked through the data they are drawn from (grids, responses,
features), never through pixels. One tutorial model is trained once per
module (about 0.3 s) and shared by the tests.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: no display needed

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from helpers import tutorial_tasks
from torch import nn

from mtl_teach import (
    DictDataLoader,
    DictDataset,
    ModelSnapshots,
    MTLConfigError,
    MultitaskClassifier,
    Operation,
    Task,
    Trainer,
    make_tutorial_dataloaders,
    set_seed,
)
from mtl_teach.plotting import (
    DecisionBoundaryDisplay,
    class_legend,
    compare_boundaries,
    grid_response,
    make_grid,
    plot_boundary_evolution,
    plot_dataset,
    plot_decision_boundaries,
    plot_task_graph,
    plot_training_curves,
    plot_trunk_features,
    plot_tutorial_datasets,
    task_graph,
    trunk_features,
)

SEED = 1  # a seed on which the tutorial model trains cleanly (no stalled task)
TASKS = ("circle_task", "square_task")
FIELDS = {"circle_task": "circle_data", "square_task": "square_data"}


@pytest.fixture(scope="module")
def trained():
    """The Snorkel tutorial's 2-task model, trained as in the tutorial (10 epochs, lr 0.02)."""
    set_seed(SEED)
    loaders = make_tutorial_dataloaders(TASKS, seed=SEED)
    model = MultitaskClassifier(tutorial_tasks(TASKS))
    snapshots = ModelSnapshots()
    trainer = Trainer(progress_bar=False, n_epochs=10, lr=0.02, seed=SEED, callbacks=[snapshots])
    trainer.fit(model, loaders)
    return model, loaders, trainer, snapshots


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _png_bytes(fig) -> int:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return len(buffer.getvalue())


# --------------------------------------------------------------- the numbers
@pytest.mark.parametrize("task", TASKS)
def test_grid_response_equals_model_predictions(trained, task):
    model, *_ = trained
    display = DecisionBoundaryDisplay.from_model(model, task, grid_resolution=37, eps=0.2, plot=False)
    assert display.xx0.shape == display.xx1.shape == display.response.shape == (37, 37)
    points = np.column_stack([display.xx0.ravel(), display.xx1.ravel()]).astype(np.float32)
    grid_data = DictDataset(
        "grid", "test", {FIELDS[task]: torch.from_numpy(points)}, {task: torch.zeros(len(points), dtype=torch.long)}
    )
    probs = model.predict(DictDataLoader(grid_data, batch_size=64))["probs"][task]  # (G*G, 2)
    np.testing.assert_allclose(display.response.ravel(), probs[:, 1], rtol=0, atol=1e-6)
    # The head is not constant: the comparison above is not trivially true.
    assert display.response.min() < 0.1 and display.response.max() > 0.9


def test_grid_spans_the_points_plus_eps(trained):
    model, loaders, *_ = trained
    X = loaders[0].dataset.X_dict["circle_data"].numpy()
    display = DecisionBoundaryDisplay.from_model(model, "circle_task", X=X, grid_resolution=11, eps=0.5, plot=False)
    assert display.xx0[0, 0] == pytest.approx(X[:, 0].min() - 0.5)
    assert display.xx0[0, -1] == pytest.approx(X[:, 0].max() + 0.5)
    assert display.xx1[-1, 0] == pytest.approx(X[:, 1].max() + 0.5)
    # xx0 varies along columns only, xx1 along rows only (meshgrid "xy").
    assert np.all(display.xx0 == display.xx0[0]) and np.all(display.xx1[:, 0] == display.xx1.T)
    xx0, xx1 = make_grid(None, 5, 0.0)
    assert (xx0.min(), xx0.max(), xx1.min(), xx1.max()) == (-1.0, 1.0, -1.0, 1.0)


def test_circle_head_area_is_close_to_pi_over_4(trained):
    model, *_ = trained
    # The circle x^2 + y^2 < 1 covers pi/4 of the square [-1, 1]^2.
    display = DecisionBoundaryDisplay.from_model(model, "circle_task", grid_resolution=200, eps=0.0, plot=False)
    assert abs(display.inside_fraction() - math.pi / 4) <= 0.05
    assert display.inside_fraction() == pytest.approx(np.mean(display.response > 0.5))


def test_grid_is_one_batched_forward_pass_per_input(trained):
    model, *_ = trained
    sizes = []
    hook = model.module_pool["base_mlp"].register_forward_hook(lambda m, args, out: sizes.append(args[0].shape[0]))
    try:
        xx0, xx1 = make_grid(None, 50, 0.0)
        responses = grid_response(model, list(TASKS), xx0, xx1)
    finally:
        hook.remove()
    assert sizes == [2500, 2500]  # the trunk runs once per input field, on all 50x50 points
    assert set(responses) == set(TASKS)


def test_grid_evaluation_keeps_training_mode(trained):
    model, *_ = trained
    model.train()
    DecisionBoundaryDisplay.from_model(model, "circle_task", grid_resolution=5, plot=False)
    assert model.training
    model.eval()
    DecisionBoundaryDisplay.from_model(model, "circle_task", grid_resolution=5, plot=False)
    assert not model.training


def test_trunk_features_are_the_trunk_outputs(trained):
    model, *_ = trained
    xx0, xx1, features = trunk_features(model, "base_mlp", grid_resolution=20)
    assert features.shape == (4, 20, 20)
    points = torch.from_numpy(np.column_stack([xx0.ravel(), xx1.ravel()]).astype(np.float32))
    with torch.no_grad():
        expected = model.module_pool["base_mlp"](points).numpy()  # (400, 4)
    np.testing.assert_allclose(features.reshape(4, -1).T, expected, atol=1e-6)
    assert features.min() >= 0.0  # ReLU outputs


def test_task_graph_fills_shared_modules_with_no_task_colour(trained):
    from mtl_teach.plotting._common import TASK_COLORS
    from mtl_teach.plotting.taskgraph import SHARED_FILL

    model, *_ = trained
    assert SHARED_FILL.upper() not in {color.upper() for color in TASK_COLORS}
    ax = plot_task_graph(model)
    fills = {text.get_text(): text.get_bbox_patch().get_facecolor() for text in ax.texts if text.get_bbox_patch()}
    shared = matplotlib.colors.to_rgba(SHARED_FILL)
    assert fills["base_mlp\n(shared)"] == shared
    assert all(fill != shared for label, fill in fills.items() if "shared" not in label)


def test_task_graph_marks_the_shared_trunk(trained):
    model, *_ = trained
    graph = task_graph(model)
    shared = [node for node, (kind, _, _) in graph.nodes.items() if kind == "shared"]
    assert shared == ["module:base_mlp"]
    kinds = sorted(kind for kind, _, _ in graph.nodes.values())
    assert kinds == ["input", "input", "module", "module", "shared", "task", "task"]
    assert ("input:circle_data", "module:base_mlp", "circle_task") in graph.edges
    assert ("module:base_mlp", "module:square_head_module", "square_task") in graph.edges
    assert "shared=1" in repr(graph)


def test_evolution_shows_the_untrained_model_and_restores_weights(trained):
    model, loaders, _, snapshots = trained
    before = {k: v.clone() for k, v in model.state_dict().items()}
    displays = plot_boundary_evolution(model, snapshots, epochs=[0, 10], dataloaders=loaders, grid_resolution=15)
    assert [len(row) for row in displays] == [2, 2]  # 2 tasks x 2 epochs
    final = DecisionBoundaryDisplay.from_model(model, "circle_task", grid_resolution=15, plot=False)
    np.testing.assert_allclose(displays[0][1].response, final.response, atol=1e-6)
    assert not np.allclose(displays[0][0].response, final.response, atol=1e-2)  # epoch 0 differs
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


# ------------------------------------------------------------ every helper renders
def test_display_plot_draws_and_keeps_axes(trained):
    model, loaders, *_ = trained
    data = loaders[0].dataset
    display = DecisionBoundaryDisplay.from_model(
        model, "circle_task", X=data.X_dict["circle_data"], y=data.Y_dict["circle_task"], grid_resolution=30
    )
    assert display.ax_ is not None and display.figure_ is display.ax_.figure
    assert display.ax_.get_aspect() == 1.0
    assert len(display.ax_.collections) >= 3  # shading, 0.5 contour, points of both classes
    fig, ax = plt.subplots()
    assert display.plot(ax=ax, colorbar=True).ax_ is ax  # redraws without recomputing
    assert _png_bytes(fig) > 1000
    assert "circle_task" in repr(display) and "grid=30x30" in repr(display)


def test_plot_decision_boundaries_one_row(trained):
    model, loaders, *_ = trained
    displays = plot_decision_boundaries(model, dataloaders=loaders, grid_resolution=30, suptitle="heads")
    assert [d.task_name for d in displays] == list(TASKS)
    fig = displays[0].figure_
    panels = [d.ax_ for d in displays]
    assert all(d.figure_ is fig for d in displays) and len(fig.axes) == 3  # two panels and one colour bar
    (colorbar,) = [ax for ax in fig.axes if ax not in panels]
    assert colorbar.get_ylabel() == "P(class 1)"
    assert _png_bytes(fig) > 1000
    # The legend sits below every panel: it covers no point.
    (legend,) = fig.legends
    renderer = fig.canvas.get_renderer()
    box = legend.get_window_extent(renderer)
    assert all(box.y1 <= ax.get_window_extent(renderer).y0 for ax in panels)
    assert [text.get_text() for text in legend.get_texts()] == ["gold label 0", "gold label 1", "P = 0.5 boundary"]
    bare = plot_decision_boundaries(model, grid_resolution=30, colorbar=False, legend=False)
    assert len(bare[0].figure_.axes) == 2 and not bare[0].figure_.legends


def test_compare_boundaries_draws_one_task_of_several_models_on_one_grid(trained):
    model, loaders, *_ = trained
    X, y = loaders[2].dataset.X_dict["circle_data"], loaders[2].dataset.Y_dict["circle_task"]
    displays = compare_boundaries(
        {"a": model, "b": model}, "circle_task", X=X, y=y, true_boundary="circle", grid_resolution=25
    )
    assert [d.task_name for d in displays] == ["a", "b"]
    np.testing.assert_array_equal(displays[0].response, displays[1].response)  # the same model, the same grid
    assert displays[0].xx0.min() <= -1 and displays[0].xx0.max() >= 1  # the whole square
    fig = displays[0].figure_
    assert len(fig.axes) == 3 and len(displays[0].X) == len(X)
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert labels[-1] == "true boundary"
    plt.close("all")
    with pytest.raises(MTLConfigError, match=r"compare_boundaries\(models\) must be a non-empty dict"):
        compare_boundaries({}, "circle_task")
    with pytest.raises(MTLConfigError, match=r"must name a task of the model"):
        compare_boundaries({"a": model}, "triangle_task")


def test_class_legend_goes_below_the_plots_and_names_bad_axes(trained):
    model, *_ = trained
    fig, ax = plt.subplots()  # no constrained layout: the legend hangs below the Axes
    DecisionBoundaryDisplay.from_model(model, "circle_task", grid_resolution=20, ax=ax)
    legend = class_legend(ax)
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).y1 <= ax.get_window_extent(renderer).y0 + 1
    with pytest.raises(MTLConfigError, match=r"class_legend\(ax\) must be a matplotlib Axes; got None"):
        class_legend(None)


def test_other_helpers_render(trained):
    model, _, trainer, snapshots = trained
    figures = [
        plot_tutorial_datasets(n=100),
        plot_dataset(np.array([[0.0, 0.0], [0.9, 0.9]]), np.array([1, 0]), boundary="square").figure,
        plot_training_curves(trainer.history),
        plot_task_graph(model).figure,
        plot_boundary_evolution(model, snapshots, epochs=[0, 5], grid_resolution=10)[0][0].figure_,
        plot_trunk_features(model, grid_resolution=20),
    ]
    for fig in figures:
        assert _png_bytes(fig) > 1000
    curves = figures[2]
    assert [len(ax.lines) for ax in curves.axes[:2]] == [3, 2]  # 2 task losses + total; 2 valid accuracies


# ---------------------------------------------------------------------- errors
def test_unknown_task_lists_the_valid_ones(trained):
    model, *_ = trained
    with pytest.raises(MTLConfigError, match=r"task_name.*'circle_task', 'square_task'.*got 'triangle_task'"):
        DecisionBoundaryDisplay.from_model(model, "triangle_task")
    with pytest.raises(MTLConfigError, match="plot_decision_boundaries"):
        plot_decision_boundaries(model, ["circle_task", "nope"])


@pytest.mark.parametrize("bad", [1, 0, 2.5, True, "100"])
def test_bad_grid_resolution(trained, bad):
    model, *_ = trained
    with pytest.raises(MTLConfigError, match=r"grid_resolution\) must be an integer from 2 to 1000.*Fix:"):
        DecisionBoundaryDisplay.from_model(model, "circle_task", grid_resolution=bad)


def test_bad_eps_and_points(trained):
    model, *_ = trained
    with pytest.raises(MTLConfigError, match=r"eps\) must be a finite number >= 0"):
        DecisionBoundaryDisplay.from_model(model, "circle_task", eps=-1.0)
    with pytest.raises(MTLConfigError, match=r"X\) must be 2-D points of shape \(n, 2\), n >= 1; got shape \(4, 3\)"):
        DecisionBoundaryDisplay.from_model(model, "circle_task", X=np.zeros((4, 3)))
    with pytest.raises(MTLConfigError, match=r"y\) must be one gold label per point"):
        DecisionBoundaryDisplay.from_model(model, "circle_task", X=np.zeros((4, 2)), y=np.zeros(3))


def test_task_whose_input_is_not_2d():
    trunk = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    task = Task(
        "rgb_task",
        nn.ModuleDict({"trunk": trunk, "head": nn.Linear(4, 2)}),
        [Operation("trunk", [("_input_", "rgb")]), Operation("head", [("trunk", 0)])],
    )
    model = MultitaskClassifier([task])
    with pytest.raises(MTLConfigError, match=r"must name a task whose input is 2-D points, shape \(n, 2\).*rgb_task"):
        DecisionBoundaryDisplay.from_model(model, "rgb_task")
    with pytest.raises(MTLConfigError, match=r"takes 2-D points"):
        trunk_features(model, "trunk")


def test_task_without_an_input_field_and_non_binary_head():
    whole = Task("dict_task", nn.ModuleDict({"head": nn.Linear(2, 2)}), [Operation("head", ["_input_"])])
    with pytest.raises(MTLConfigError, match="must name a task whose first op reads one input field"):
        DecisionBoundaryDisplay.from_model(MultitaskClassifier([whole]), "dict_task")
    three = Task("three_task", nn.ModuleDict({"head": nn.Linear(2, 3)}), [Operation("head", [("_input_", "x")])])
    with pytest.raises(MTLConfigError, match=r"must name a binary task.*\(n?\d*, 3\)"):
        DecisionBoundaryDisplay.from_model(MultitaskClassifier([three]), "three_task", grid_resolution=4)


def test_helper_errors(trained):
    model, _, trainer, snapshots = trained
    with pytest.raises(
        MTLConfigError, match=r"metric\) must be a validation metric in the history \(logged: 'accuracy'\)"
    ):
        plot_training_curves(trainer.history, metric="f1")
    with pytest.raises(MTLConfigError, match="must be a Trainer's history"):
        plot_training_curves({"loss": [1.0]})
    with pytest.raises(MTLConfigError, match=r"epochs\) must be epochs with a snapshot \(\[0, 1, 2"):
        plot_boundary_evolution(model, snapshots, epochs=[0, 99])
    with pytest.raises(MTLConfigError, match="must be a ModelSnapshots callback"):
        plot_boundary_evolution(model, [(0, model.state_dict())])
    with pytest.raises(MTLConfigError, match=r"module_name\) must name a module of the model \(modules: 'base_mlp'"):
        plot_trunk_features(model, "trunk")
    with pytest.raises(MTLConfigError, match="reads an input field directly"):
        trunk_features(model, "circle_head_module")
    with pytest.raises(MTLConfigError, match=r"X\) must be 2-D points"):
        plot_dataset(np.zeros(5), np.zeros(5))
    with pytest.raises(MTLConfigError, match=r"kind\) must be one of 'circle', 'square', 'xor'"):
        plot_dataset(np.zeros((2, 2)), np.zeros(2), boundary="triangle")
    with pytest.raises(MTLConfigError, match=r"axes must hold 2 matplotlib Axes"):
        plot_decision_boundaries(model, axes=[plt.subplots()[1]])


def test_a_non_model_is_a_clear_error(trained):
    # Each used to fail with "'str' object has no attribute 'tasks'" (or 'shared_modules').
    for call in (
        lambda: DecisionBoundaryDisplay.from_model("model", "circle_task"),
        lambda: plot_decision_boundaries(None),
        lambda: plot_task_graph("model"),
        lambda: plot_trunk_features("model"),
    ):
        with pytest.raises(MTLConfigError, match=r"\(model\) must be a MultitaskClassifier; got .*Fix:"):
            call()


def test_plot_on_something_that_is_not_axes_is_a_clear_error(trained):
    model, *_ = trained
    display = DecisionBoundaryDisplay.from_model(model, "circle_task", grid_resolution=10, plot=False)
    with pytest.raises(MTLConfigError, match=r"DecisionBoundaryDisplay.plot\(ax\) must be a matplotlib Axes or None"):
        display.plot(ax="left")
    with pytest.raises(MTLConfigError, match=r"from_model\(ax\) must be a matplotlib Axes or None"):
        DecisionBoundaryDisplay.from_model(model, "circle_task", grid_resolution=10, ax=plt.subplots(1, 2)[1])


def test_a_grid_too_big_to_compute_is_a_clear_error(trained):
    # grid_resolution=100_000 asked numpy for 75 GiB and died with a MemoryError.
    model, *_ = trained
    with pytest.raises(MTLConfigError, match=r"grid_resolution\) must be an integer from 2 to 1000.*got 100000"):
        DecisionBoundaryDisplay.from_model(model, "circle_task", grid_resolution=100_000)


def test_points_that_are_not_finite_are_a_clear_error(trained):
    model, *_ = trained
    X = np.array([[np.nan, 0.0], [0.5, 0.5]])
    with pytest.raises(MTLConfigError, match=r"X\) must hold finite coordinates; got 1 NaN or infinite value"):
        DecisionBoundaryDisplay.from_model(model, "circle_task", X=X)


def test_unknown_split_for_the_points_is_a_clear_error(trained):
    # split="val" used to draw no points at all, silently.
    model, loaders, *_ = trained
    with pytest.raises(
        MTLConfigError, match=r"plot_decision_boundaries\(split\) must be one of 'test', 'train', 'valid'"
    ):
        plot_decision_boundaries(model, dataloaders=loaders, split="val")


# ------------------------------------------------------------------ lazy import
def test_import_mtl_teach_does_not_import_matplotlib():
    code = "import sys, mtl_teach, mtl_teach.plotting; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# ------------------------------------------------------------ balancing displays
@pytest.fixture(scope="module")
def balanced_history():
    from mtl_teach.toy_data import make_joint_dataloaders

    set_seed(0)
    model = MultitaskClassifier(tutorial_tasks(("circle_task", "square_task", "inv_circle_task")))
    loaders = make_joint_dataloaders(("circle_task", "square_task", "inv_circle_task"), n=200, seed=0)
    trainer = Trainer(progress_bar=False, n_epochs=3, seed=0, weighting="uncertainty", log_grad_cosine=True)
    trainer.fit(model, loaders)
    return trainer.history


def test_grad_cosine_display_shows_the_logged_numbers(balanced_history):
    from mtl_teach.plotting import GradCosineDisplay

    display = GradCosineDisplay.from_history(balanced_history)
    assert display.pairs == ["circle_task+inv_circle_task", "circle_task+square_task", "inv_circle_task+square_task"]
    assert display.cosines.shape == (3, 3)
    key = "circle_task+square_task/all/train/grad_cosine"
    np.testing.assert_array_equal(display.cosines[1], balanced_history[key])
    assert display.mean("circle_task+square_task") == pytest.approx(np.mean(balanced_history[key]))
    (mesh,) = display.ax_.collections
    assert mesh.get_cmap().name == "RdBu" and mesh.norm.vmin == -1 and mesh.norm.vmax == 1  # centred on 0
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(3, 3), display.cosines)
    assert display.colorbar_ is not None and display.colorbar_.ax.get_ylabel() == "cosine"
    assert _png_bytes(display.figure_) > 1000
    _, ax = plt.subplots()
    assert display.plot(ax=ax, colorbar=False).ax_ is ax and display.colorbar_ is None
    assert "circle_task+square_task:" in repr(display) and "drawn=True" in repr(display)


def test_task_weights_display_shows_the_learned_weights(balanced_history):
    from mtl_teach.plotting import TaskWeightsDisplay

    display = TaskWeightsDisplay.from_history(balanced_history, plot=False)
    assert display.ax_ is None and display.weights.shape == (3, 3)
    assert display.final()["square_task"] == balanced_history["square_task/all/train/weight"][-1]
    display.plot()
    assert [line.get_label() for line in display.ax_.get_lines()] == display.tasks
    np.testing.assert_array_equal(display.ax_.get_lines()[0].get_ydata(), display.weights[0])
    assert _png_bytes(display.figure_) > 1000
    assert "TaskWeightsDisplay(epochs=3" in repr(display)


def test_task_weights_on_a_log_scale_get_readable_ticks():
    # Weights from 0.3 to 4 span more than 10x (a log axis) but hold one power of 10: the ticks go 1-2-5.
    from mtl_teach.plotting import TaskWeightsDisplay

    weights = np.array([[1.0, 2.0, 4.0], [1.0, 0.5, 0.3]])
    display = TaskWeightsDisplay(tasks=["a", "b"], epochs=np.array([1.0, 2.0, 3.0]), weights=weights).plot()
    assert display.ax_.get_yscale() == "log"
    display.figure_.canvas.draw()
    low, high = display.ax_.get_ylim()
    shown = [tick.get_text() for tick in display.ax_.get_yticklabels() if low <= tick.get_position()[1] <= high]
    assert shown == ["0.5", "1", "2"], shown
    plt.close(display.figure_)


def test_balancing_displays_say_which_trainer_setting_logs_their_numbers():
    from mtl_teach.plotting import GradCosineDisplay, TaskWeightsDisplay

    history = {"epoch": [1], "model/all/train/loss": [0.5]}
    with pytest.raises(MTLConfigError, match=r"GradCosineDisplay.from_history\(history\).*log_grad_cosine=True"):
        GradCosineDisplay.from_history(history)
    with pytest.raises(MTLConfigError, match=r"TaskWeightsDisplay.from_history\(history\).*'uncertainty'"):
        TaskWeightsDisplay.from_history(history)
    with pytest.raises(MTLConfigError, match=r"must be a Trainer's history"):
        TaskWeightsDisplay.from_history([1, 2])
    with pytest.raises(MTLConfigError, match=r"GradCosineDisplay.plot\(ax\) must be a matplotlib Axes"):
        GradCosineDisplay(pairs=["a+b"], epochs=np.array([1.0]), cosines=np.zeros((1, 1))).plot(ax="left")


def test_toy_trajectories_display_draws_landscapes_and_each_methods_paths():
    from mtl_teach.plotting import ToyTrajectoriesDisplay
    from mtl_teach.toy_objectives import STARTS, distance_to_pareto_set, optimize_toy

    display = ToyTrajectoriesDisplay.from_methods(["equal", "pcgrad"], steps=30, grid_resolution=20)
    assert list(display.trajectories) == ["equal", "pcgrad"]
    np.testing.assert_array_equal(display.trajectories["pcgrad"], optimize_toy("pcgrad", steps=30).numpy())
    assert display.losses.shape == (20, 20, 2)
    np.testing.assert_array_equal(display.trajectories["equal"][0], np.array(STARTS))
    ends = display.final_distances()
    np.testing.assert_allclose(ends["equal"], distance_to_pareto_set(torch.tensor(display.trajectories["equal"][-1])))
    assert display.axes_.shape == (1, 4)  # L1, L2, then one panel per method
    assert [ax.get_title() for ax in display.axes_.flat][:2] == ["task 1 loss L1", "task 2 loss L2"]
    assert len(display.axes_[0, 3].get_lines()) == 1 + 3 * len(STARTS)  # Pareto set, then path, start, end per start
    assert "pcgrad:" in repr(display)
    # The optimiser's settings go to optimize_toy, and the figure names them.
    assert display.settings == {"steps": 30, "lr": 1e-2, "betas": (0.9, 0.9)}
    assert display.figure_.get_suptitle() == "Adam, lr 0.01, betas (0.9, 0.9), 30 steps"
    default = ToyTrajectoriesDisplay.from_methods(
        ["equal"], steps=30, betas=(0.9, 0.999), grid_resolution=5, plot=False
    )
    np.testing.assert_array_equal(
        default.trajectories["equal"], optimize_toy("equal", steps=30, betas=(0.9, 0.999)).numpy()
    )
    assert "betas=(0.9, 0.999)" in repr(default)
    with pytest.raises(MTLConfigError, match=r"from_methods\(methods\) must be a non-empty list"):
        ToyTrajectoriesDisplay.from_methods("pcgrad")
