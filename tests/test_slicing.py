"""mtl_teach.slicing: slicing functions, slice tasks and labels, slice scores, attention, plots.

Models here are tiny and train for at most 3 epochs (the stall check starts
at epoch 5), so the whole file runs in a few seconds.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: no display needed

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mtl_teach import (
    DictDataLoader,
    DictDataset,
    MTLConfigError,
    MultitaskClassifier,
    Operation,
    Task,
    Trainer,
    set_seed,
)
from mtl_teach.plotting.slices import (
    SLICE_COLORS,
    SliceAttentionDisplay,
    outline_slice,
    plot_slice_boundaries,
    plot_sliced_dataset,
    slice_box,
)
from mtl_teach.slicing import (
    SliceAwareClassifier,
    SlicingFunction,
    apply_slicing_functions,
    compare_slice_scores,
    convert_to_slice_tasks,
    score_on_slices,
    slicing_function,
)
from mtl_teach.slicing.toy import PATCH_HIGH, PATCH_LOW, in_patch, left_half, make_sliced_circle_dataset

TASK, FIELD = "circle_task", "circle_data"


@slicing_function()
def right_edge(X):
    return X[:, 0] > 0.5


def trunk(width: int = 8) -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, width), nn.ReLU())


def points(n: int = 200, seed: int = 0, n_classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points on [-1, 1)^2; labels: a circle (2 classes) or three vertical bands (3)."""
    X = np.random.default_rng(seed).uniform(-1, 1, size=(n, 2)).astype(np.float32)
    radius = np.sqrt((X**2).sum(axis=1))
    Y = (radius < 0.8).astype(np.int64) if n_classes == 2 else np.digitize(X[:, 0], [-1 / 3, 1 / 3]).astype(np.int64)
    return X, Y


def dataset(X: np.ndarray, Y: np.ndarray, split: str = "train") -> DictDataset:
    return DictDataset.from_tensors(torch.from_numpy(X), torch.from_numpy(Y), split, FIELD, TASK, "circle")


def model_for(slice_names=("right_edge",), n_classes: int = 2, **kwargs) -> SliceAwareClassifier:
    return SliceAwareClassifier(trunk(), 8, list(slice_names), FIELD, TASK, n_classes=n_classes, **kwargs)


def train(model, X, Y, sfs, *, seed: int = 0, n_epochs: int = 3) -> DictDataLoader:
    loader = model.make_slice_dataloader(dataset(X, Y), apply_slicing_functions(sfs, X), batch_size=32, shuffle=True)
    Trainer(progress_bar=False, n_epochs=n_epochs, lr=0.05, seed=seed).fit(model, [loader])
    return loader


# ---------------------------------------------------------------- slicing functions
def test_slice_matrix_has_named_columns_and_base():
    X = np.array([[0.9, 0.0], [0.0, 0.0], [0.7, -0.5]], dtype=np.float32)
    S = apply_slicing_functions([right_edge, left_half], X)
    assert S.dtype.names == ("right_edge", "left_half", "base")
    assert S["right_edge"].tolist() == [1, 0, 1]
    assert S["left_half"].tolist() == [0, 0, 0]
    assert S["base"].tolist() == [1, 1, 1]
    assert pd.DataFrame(S).shape == (3, 3)
    assert apply_slicing_functions([right_edge], torch.from_numpy(X))["right_edge"].tolist() == [1, 0, 1]


def test_each_slicing_function_runs_once_over_the_whole_array():
    calls = []
    sf = SlicingFunction("spy", lambda X: calls.append(X.shape) or X[:, 0] > 0)
    apply_slicing_functions([sf], np.zeros((500, 2), dtype=np.float32))
    assert calls == [(500, 2)]


def test_decorator_forms_and_repr():
    @slicing_function
    def bare(X):
        return X[:, 0] > 0

    @slicing_function(name="renamed")
    def called(X):
        return X[:, 1] > 0

    assert (bare.name, called.name, right_edge.name) == ("bare", "renamed", "right_edge")
    assert repr(right_edge) == "SlicingFunction(name='right_edge', f=right_edge)"


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (lambda X: (X[:, 0] > 0)[:, None], r"shape \(4,\), one entry per row.*got shape \(4, 1\).*Fix: .*ravel"),
        (lambda X: X > 0, r"got shape \(4, 2\)"),
        (lambda X: (X[:, 0] > 0).astype(int), r"boolean mask \(dtype bool\); got dtype int64.*astype\(bool\)"),
        (lambda X: X[:, 0], r"dtype bool\); got dtype float32"),
        (lambda X: bool(X[0, 0] > 0), r"one boolean per point.*got a single bool.*whole array X"),
        (lambda X: [True] * len(X), r"numpy boolean array of shape \(4,\); got list"),
    ],
)
def test_bad_slicing_functions_get_clear_errors(f, expected):
    with pytest.raises(MTLConfigError, match=r"Slicing function 'bad' .*" + expected):
        apply_slicing_functions([SlicingFunction("bad", f)], np.zeros((4, 2), dtype=np.float32))


def test_bad_slicing_function_lists_and_names():
    X = np.zeros((4, 2), dtype=np.float32)
    with pytest.raises(MTLConfigError, match=r"must hold SlicingFunction objects.*@slicing_function"):
        apply_slicing_functions([lambda X: X[:, 0] > 0], X)
    with pytest.raises(MTLConfigError, match=r"distinct slice names; got 'right_edge'"):
        apply_slicing_functions([right_edge, right_edge], X)
    with pytest.raises(MTLConfigError, match=r"must not be 'base'"):
        SlicingFunction("base", lambda X: X[:, 0] > 0)
    with pytest.raises(MTLConfigError, match=r"must not contain '/'"):
        SlicingFunction("a/b", lambda X: X[:, 0] > 0)
    with pytest.raises(MTLConfigError, match=r"numpy array or torch tensor.*got list"):
        apply_slicing_functions([right_edge], [[0.0, 0.0]])


def test_a_slicing_function_that_raises_is_named_in_the_error():
    # Snorkel-style per-point code (x.field) or a wrong column fails inside the user's function.
    bad = SlicingFunction("bad", lambda X: X[:, 5] > 0)
    rule = r"Slicing function 'bad' must run without error on the whole input array X; got IndexError: index 5 "
    with pytest.raises(MTLConfigError, match=rule + r".*Fix: it gets the whole array X") as info:
        apply_slicing_functions([right_edge, bad], np.zeros((4, 2), dtype=np.float32))
    assert isinstance(info.value.__cause__, IndexError)


def test_a_lambda_needs_a_name():
    with pytest.raises(MTLConfigError, match=r"slicing_function\(name\).*lambda.*name="):
        slicing_function(lambda X: X[:, 0] > 0)
    assert slicing_function(name="named")(lambda X: X[:, 0] > 0).name == "named"


# ------------------------------------------------------------------- tasks and labels
def test_slice_task_names_follow_snorkel():
    model = model_for(["right_edge", "left_half"])
    assert model.slice_names == ["right_edge", "left_half", "base"]
    expected = [f"{TASK}_slice:{s}_{kind}" for kind in ("ind", "pred") for s in model.slice_names] + [TASK]
    assert model.task_names == expected
    assert model.module_pool[f"{TASK}_slice:right_edge_ind_head"].out_features == 2
    assert "SliceAwareClassifier(" in repr(model) and "slices=['right_edge', 'left_half', 'base']" in repr(model)


def test_slice_labels_are_masked_outside_the_slice():
    X, Y = points(50)
    data = dataset(X, Y)
    model = model_for()
    labelled = model.make_slice_dataloader(data, apply_slicing_functions([right_edge], X)).dataset
    member = X[:, 0] > 0.5
    Y_dict = {k: v.numpy() for k, v in labelled.Y_dict.items()}
    assert Y_dict[f"{TASK}_slice:right_edge_ind"].tolist() == member.astype(int).tolist()
    assert Y_dict[f"{TASK}_slice:right_edge_pred"].tolist() == np.where(member, Y, -1).tolist()
    assert Y_dict[f"{TASK}_slice:base_ind"].tolist() == [1] * 50
    assert Y_dict[f"{TASK}_slice:base_pred"].tolist() == Y.tolist()
    assert list(data.Y_dict) == [TASK], "the caller's dataset must not change"


def test_make_slice_dataloader_errors():
    X, Y = points(20)
    model = model_for()
    with pytest.raises(MTLConfigError, match=r"column for slice 'right_edge'"):
        model.make_slice_dataloader(dataset(X, Y), apply_slicing_functions([left_half], X))
    with pytest.raises(MTLConfigError, match=r"one entry per example.*\(20,\); got shape \(10,\)"):
        model.make_slice_dataloader(dataset(X, Y), apply_slicing_functions([right_edge], X[:10]))
    with pytest.raises(MTLConfigError, match=r"only 0 and 1; got values \[0, 2\]"):
        model.make_slice_dataloader(dataset(X, Y), {"right_edge": np.array([0, 2] * 10)})
    other = DictDataset.from_tensors(torch.from_numpy(X), torch.from_numpy(Y), "train", FIELD, "other_task")
    with pytest.raises(MTLConfigError, match=r"base task's labels under 'circle_task'"):
        model.make_slice_dataloader(other, apply_slicing_functions([right_edge], X))
    with pytest.raises(MTLConfigError, match=r"must not repeat a slice name"):
        model_for(["a", "a"])
    with pytest.raises(MTLConfigError, match=r"head_dim\) must be an integer >= 1; got 0"):
        SliceAwareClassifier(trunk(), 0, ["a"])


# ----------------------------------------------------------------------------- scores
def hand_f1(golds: np.ndarray, preds: np.ndarray) -> float:
    tp = np.sum((preds == 1) & (golds == 1))
    fp, fn = np.sum((preds == 1) & (golds == 0)), np.sum((preds == 0) & (golds == 1))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def test_score_slices_keys_and_values_match_a_hand_computation():
    X, Y = points(300, seed=1)
    model = model_for()
    train(model, X, Y, [right_edge])
    X_test, Y_test = points(120, seed=2)
    loader = model.make_slice_dataloader(dataset(X_test, Y_test, "test"), apply_slicing_functions([right_edge], X_test))
    scores = model.score_slices([loader])
    base_label, slice_labels = TASK, [f"{TASK}_slice:{s}_pred" for s in ("right_edge", "base")]
    assert set(scores) == {
        f"{label}/circle/test/{m}" for label in [base_label, *slice_labels] for m in ("accuracy", "f1")
    }
    preds = model.predict(DictDataLoader(dataset(X_test, Y_test, "test")), return_preds=True)["preds"][TASK]
    for label, member in [(slice_labels[0], X_test[:, 0] > 0.5), (slice_labels[1], np.ones(120, bool))]:
        assert scores[f"{label}/circle/test/accuracy"] == pytest.approx(np.mean(preds[member] == Y_test[member]))
        assert scores[f"{label}/circle/test/f1"] == pytest.approx(hand_f1(Y_test[member], preds[member]))
    assert scores[f"{TASK}/circle/test/accuracy"] == pytest.approx(np.mean(preds == Y_test))
    frame = model.score_slices([loader], as_dataframe=True)
    assert list(frame.columns) == ["label", "dataset", "split", "metric", "score"] and len(frame) == 6


def test_score_slices_on_a_loader_without_slice_labels_fails_clearly():
    # A plain loader has the base labels only: scoring it would silently drop every slice.
    X, Y = points(40, seed=4)
    model = model_for()
    with pytest.raises(
        MTLConfigError, match=r"'circle' \(test\).*no labels for slice 'right_edge'.*make_slice_dataloader"
    ):
        model.score_slices([DictDataLoader(dataset(X, Y, "test"))])


def test_a_plain_model_scores_on_the_same_slices():
    X, Y = points(100, seed=3)
    pool = nn.ModuleDict({"trunk": trunk(), "head": nn.Linear(8, 2)})
    plain = MultitaskClassifier(
        [Task(TASK, pool, [Operation("trunk", [("_input_", FIELD)]), Operation("head", ["trunk"])])]
    )
    S = apply_slicing_functions([right_edge], X)
    loader = model_for().make_slice_dataloader(dataset(X, Y, "test"), S)
    scores = score_on_slices(plain, [loader], ["right_edge"], task_name=TASK)
    preds = plain.predict(DictDataLoader(dataset(X, Y, "test")), return_preds=True)["preds"][TASK]
    member = X[:, 0] > 0.5
    key = f"{TASK}_slice:right_edge_pred/circle/test/accuracy"
    assert scores[key] == pytest.approx(np.mean(preds[member] == Y[member]))
    table = compare_slice_scores({"plain": plain}, dataset(X, Y, "test"), S, task_name=TASK)
    assert table.index.tolist() == ["right_edge", "base"]
    assert table["n"].tolist() == [int(member.sum()), 100]
    assert table.loc["right_edge", "plain"] == pytest.approx(scores[key])
    with pytest.raises(MTLConfigError, match=r"metric of the base task's scorer; got 'auc'"):
        compare_slice_scores({"plain": plain}, dataset(X, Y, "test"), S, task_name=TASK, metric="auc")


def test_more_than_two_classes():
    X, Y = points(300, seed=4, n_classes=3)
    model = model_for(n_classes=3)
    assert model.module_pool[f"{TASK}_master_head"].out_features == 3
    loader = train(model, X, Y, [right_edge])
    probs = model.predict(loader)["probs"][TASK]
    assert probs.shape == (300, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    scores = model.score_slices([loader])
    assert f"{TASK}_slice:right_edge_pred/circle/train/f1_macro" in scores
    assert scores[f"{TASK}/circle/train/accuracy"] > 0.8  # the majority class alone gets ~0.35
    assert set(model.predict(loader, return_preds=True)["preds"][TASK].tolist()) == {0, 1, 2}


# ---------------------------------------------------------------------- no mutation
def test_the_callers_modules_are_never_changed():
    base = trunk()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    model = SliceAwareClassifier(base, 8, ["right_edge"], FIELD, TASK)
    X, Y = points(100)
    train(model, X, Y, [right_edge], n_epochs=1)
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    assert model.module_pool["base_architecture"] is not base

    head = nn.Linear(8, 2)
    pool = nn.ModuleDict({"trunk": base, "head": head})
    task = Task(TASK, pool, [Operation("trunk", [("_input_", FIELD)]), Operation("head", ["trunk"])])
    tasks = convert_to_slice_tasks(task, ["right_edge"])
    assert list(task.module_pool) == ["trunk", "head"] and task.module_pool["head"] is head
    assert len(task.op_sequence) == 2
    assert all(m is not base and m is not head for t in tasks for m in t.module_pool.values())


# ------------------------------------------------------------------------ attention
def test_attention_weights_shape_and_rows_sum_to_one():
    X, Y = points(150)
    model = model_for(["right_edge", "left_half"])
    loader = train(model, X, Y, [right_edge, left_half], n_epochs=2)
    weights = model.attention(X)
    assert weights.shape == (150, 3)
    assert (weights >= 0).all() and np.allclose(weights.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(weights, model.attention(loader)) and np.array_equal(
        weights, model.attention(torch.from_numpy(X))
    )
    assert model.training, "attention() must restore the training mode"
    assert model.attention(X[:0]).shape == (0, 3)


def test_same_seed_same_model():
    X, Y = points(200, seed=5)
    runs = []
    for _ in range(2):
        set_seed(7)  # the weights are drawn when the model is built
        model = model_for(["right_edge"])
        loader = train(model, X, Y, [right_edge], seed=7, n_epochs=2)
        runs.append((model.score_slices([loader]), model.attention(X)))
    assert runs[0][0] == runs[1][0]
    assert np.array_equal(runs[0][1], runs[1][1])


# ---------------------------------------------------------------------- toy world
def test_toy_patch_world():
    (X, Y), (X_valid, _), (X_test, Y_test) = make_sliced_circle_dataset(1000, 20000, seed=0)
    assert X.shape == (1000, 2) and len(X_valid) == len(X_test) == 20000
    patch = in_patch(X_test)
    assert 0.017 < patch.mean() < 0.023  # 2% of the points
    circle = (X_test[:, 0] ** 2 + X_test[:, 1] ** 2 < 1).astype(int)
    assert np.array_equal(Y_test[~patch], circle[~patch])
    assert 0.35 < np.mean(Y_test[patch] == circle[patch]) < 0.65  # the circle rule is right on about half
    assert np.array_equal(make_sliced_circle_dataset(1000, 20000, seed=0)[0][1], Y)


# ----------------------------------------------------------------------------- plots
def test_slice_plots_render_under_agg():
    X, Y = points(150)
    model = model_for(["right_edge"])
    train(model, X, Y, [right_edge], n_epochs=1)
    displays = plot_slice_boundaries(
        {"a": model, "b": model}, TASK, [right_edge, in_patch], X=X, y=Y, grid_resolution=30
    )
    assert [d.task_name for d in displays] == ["a", "b"] and displays[0].ax_.figure is displays[1].ax_.figure
    zoomed = plot_slice_boundaries({"a": model}, TASK, [in_patch], X=X, y=Y, zoom=in_patch, grid_resolution=20)[0]
    assert zoomed.xx0.min() == pytest.approx(PATCH_LOW - 0.15, abs=0.01)
    assert zoomed.xx0.max() == pytest.approx(PATCH_HIGH + 0.15, abs=0.01)
    assert ((zoomed.xx0.min() <= zoomed.X) & (zoomed.xx0.max() >= zoomed.X)).all()
    display = SliceAttentionDisplay.from_model(model, [right_edge], grid_resolution=25)
    assert display.weights.shape == (25, 25, 2) and np.allclose(display.weights.sum(axis=-1), 1, atol=1e-5)
    inside, outside = display.mean_weight("right_edge", right_edge)
    assert 0 <= inside <= 1 and 0 <= outside <= 1
    assert "SliceAttentionDisplay(grid=25x25" in repr(display)
    _, ax = plt.subplots()
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    assert outline_slice(ax, in_patch) is not None
    plt.close("all")
    with pytest.raises(MTLConfigError, match=r"must mark some points"):
        slice_box(SlicingFunction("nowhere", lambda X: X[:, 0] > 5))
    legend_texts = [text.get_text() for text in displays[0].figure_.legends[0].get_texts()]
    assert legend_texts[-2:] == ["slice right_edge", "slice in_patch"]  # the outlines are in the legend


def test_plot_sliced_dataset_zooms_on_the_slice_and_keeps_slices_apart_from_the_boundary():
    (X, Y), _, _ = make_sliced_circle_dataset(n_train=2000, n_eval=100, seed=0)
    whole, close = plot_sliced_dataset(X, Y, [in_patch, left_half])
    assert close.get_xlim() == pytest.approx(slice_box(in_patch)[:2])
    assert close.get_ylim() == pytest.approx(slice_box(in_patch)[2:])
    entries = {
        text.get_text(): handle
        for text, handle in zip(whole.get_legend().get_texts(), whole.get_legend().legend_handles, strict=True)
    }
    assert {"true boundary", "slice in_patch", "slice left_half"} <= set(entries)
    # A slice never looks like the true boundary: another colour.
    assert entries["slice in_patch"].get_color() == SLICE_COLORS[0] != entries["true boundary"].get_color()
    assert close.get_legend() is None  # one legend, under the whole square
    # Every point in the zoom's view is drawn there.
    drawn = sum(
        len(collection.get_offsets())
        for collection in close.collections
        if hasattr(collection, "get_offsets") and collection.get_offsets().ndim == 2
    )
    box = slice_box(in_patch)
    inside = (X[:, 0] >= box[0]) & (X[:, 0] <= box[1]) & (X[:, 1] >= box[2]) & (X[:, 1] <= box[3])
    assert drawn >= inside.sum()
    plt.close("all")
    with pytest.raises(MTLConfigError, match=r"plot_sliced_dataset\(sfs\) must hold at least one slicing function"):
        plot_sliced_dataset(X, Y, [])
    with pytest.raises(MTLConfigError, match=r"must be a SliceAwareClassifier"):
        SliceAttentionDisplay.from_model(MultitaskClassifier([]))


def test_head_dim_must_match_the_trunk_output():
    # The error used to come at fit, blaming an internal module and never naming head_dim.
    trunk = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())
    with pytest.raises(
        MTLConfigError, match=r"SliceAwareClassifier\(head_dim\) must equal the width.*head_dim=8.*gives 4.*head_dim=4"
    ):
        SliceAwareClassifier(trunk, 8, ["in_patch"], input_data_key=FIELD, task_name=TASK)
    assert SliceAwareClassifier(trunk, 4, ["in_patch"], input_data_key=FIELD, task_name=TASK).head_dim == 4


def test_fitting_on_a_loader_without_slice_labels_is_a_clear_error():
    # It used to train, and the slice tasks never learned, without a word.
    X, Y = points(100)
    model = model_for(["in_patch"])
    plain = DictDataLoader(
        DictDataset.from_tensors(torch.from_numpy(X), torch.from_numpy(Y), "train", FIELD, TASK, "d")
    )
    with pytest.raises(MTLConfigError, match=r"must hold the slice labels.*make_slice_dataloader\(dataset, S\)"):
        Trainer(progress_bar=False, n_epochs=1).fit(model, [plain])
