"""mtl_teach.datasets: real digits, offline, disjoint splits, the same data per seed, clear errors."""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import mtl_teach.datasets
from mtl_teach import MTLConfigError, MultitaskClassifier, Operation, Task, Trainer, datasets, set_seed
from mtl_teach.data import SPLITS
from mtl_teach.datasets import DatasetSplits, TaskInfo
from mtl_teach.datasets.digits import _csv_in_wheel, keep_labels, rng_for, rotate, source_digits, split_sources

SHAPES = {"multi_digits": (1, 10, 12), "digit_attributes": (1, 12, 12)}
SIZES = {"multi_digits": (5000, 1000, 2000), "digit_attributes": (1078, 360, 359)}


@pytest.fixture(scope="module")
def loaded() -> dict[str, DatasetSplits]:
    return {name: datasets.load(name, seed=0) for name in datasets.available()}


def test_available_names_every_data_set():
    assert datasets.available() == ["multi_digits", "digit_attributes"]


def test_every_data_set_loads_with_the_network_off(tmp_path):
    # A fresh interpreter in which any socket (even a lookup) raises, and scikit-learn's data
    # folder is empty: loading must need neither. The script first proves the block is on.
    script = textwrap.dedent(
        """
        import sys

        def no_network(event, args):
            if event.startswith(("socket.", "urllib.")):
                raise PermissionError(f"network is off: {event}")

        sys.addaudithook(no_network)
        import socket
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1)
        except PermissionError:
            pass
        else:
            raise SystemExit("the network block is not working")
        from mtl_teach import datasets
        for name in datasets.available():
            data = datasets.load(name, seed=3, n_labelled=20)
            print(name, *(len(split) for split in data))
        """
    )
    env = {"SCIKIT_LEARN_DATA": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["multi_digits 5000 1000 2000", "digit_attributes 1078 360 359"]
    assert list(tmp_path.iterdir()) == []  # nothing cached or downloaded


def test_the_digits_are_scikit_learns_read_from_the_wheel():
    from sklearn.datasets import load_digits

    assert _csv_in_wheel() is not None  # the fast path: a moved file would fall back, slower (~1.3 s)
    images, labels = source_digits()
    bunch = load_digits()
    np.testing.assert_array_equal(images, (bunch.images / 16).astype(np.float32))
    np.testing.assert_array_equal(labels, bunch.target)
    assert not images.flags.writeable and not labels.flags.writeable


@pytest.mark.parametrize("name", ["multi_digits", "digit_attributes"])
def test_sizes_shapes_and_label_ranges(loaded, name):
    data = loaded[name]
    assert tuple(len(split) for split in data) == SIZES[name]
    assert [split.split for split in data] == list(SPLITS)
    assert data.input_shape == SHAPES[name] and data.input_key == "image_data"
    for split in data:
        X = split.X_dict["image_data"]
        assert X.dtype == torch.float32 and X.shape == (len(split), *SHAPES[name])
        assert float(X.min()) >= 0.0 and float(X.max()) <= 1.0
        assert list(split.Y_dict) == data.task_names
        for task in data.tasks:
            Y = split.Y_dict[task.name]
            if task.kind == "classification":
                assert Y.dtype == torch.int64
                assert sorted(Y.unique().tolist()) == list(range(task.n_classes))  # every class, no -1
            else:
                assert Y.dtype == torch.float32 and bool(torch.isfinite(Y).all())
                assert float(Y.min()) >= -45.0 and float(Y.max()) <= 45.0
                assert float(Y.std()) > 20  # uniform on [-45, 45]: std 26


def test_source_digits_of_the_splits_are_disjoint(loaded):
    pools = split_sources(0)
    assert sorted(np.concatenate(list(pools.values())).tolist()) == list(range(1797))
    for data in loaded.values():
        used = {split: set(data.source_index[split].ravel().tolist()) for split in SPLITS}
        assert not used["train"] & used["valid"] and not used["train"] & used["test"]
        assert not used["valid"] & used["test"]
        for split in SPLITS:
            assert used[split] <= set(pools[split].tolist())
    assert len(set(loaded["digit_attributes"].source_index["train"].ravel())) == 1078  # each digit once


def test_pictures_are_the_real_digits_they_are_labelled_with(loaded):
    images, labels = source_digits()
    pairs = loaded["multi_digits"].source_index["test"]
    test = loaded["multi_digits"].test
    np.testing.assert_array_equal(test.Y_dict["left_task"].numpy(), labels[pairs[:, 0]])
    np.testing.assert_array_equal(test.Y_dict["right_task"].numpy(), labels[pairs[:, 1]])
    assert (pairs[:, 0] != pairs[:, 1]).all()
    canvas = test.X_dict["image_data"][:, 0].numpy()  # (n, 10, 12)
    for i in range(200):
        # Columns 0-3 show only the left digit (at one of 3 heights), columns 8-11 only the right one.
        left, right = images[pairs[i, 0]], images[pairs[i, 1]]
        assert any(np.array_equal(canvas[i, top : top + 8, :4], left[:, :4]) for top in range(3))
        assert any(np.array_equal(canvas[i, top : top + 8, 8:], right[:, 4:]) for top in range(3))
        # Where they overlap, the darker ink of the two.
        assert canvas[i, :, 4:8].max() == pytest.approx(max(left[:, 4:].max(), right[:, :4].max()))
    data = loaded["digit_attributes"]
    index = data.source_index["valid"][:, 0]
    valid = data.valid
    np.testing.assert_array_equal(valid.Y_dict["digit_task"].numpy(), labels[index])
    np.testing.assert_array_equal(valid.Y_dict["parity_task"].numpy(), labels[index] % 2)
    np.testing.assert_array_equal(valid.Y_dict["greater_than_4_task"].numpy(), labels[index] >= 5)
    turned = rotate(np.pad(images[index], ((0, 0), (2, 2), (2, 2))), valid.Y_dict["angle_task"].numpy())
    np.testing.assert_array_equal(valid.X_dict["image_data"][:, 0].numpy(), turned)  # the label is the angle used


def test_rotate_turns_counter_clockwise_about_the_centre():
    images = np.random.default_rng(0).random((3, 12, 12))
    np.testing.assert_allclose(rotate(images, np.zeros(3)), images.astype(np.float32), atol=1e-6)
    np.testing.assert_allclose(rotate(images, np.full(3, 90.0)), np.rot90(images, axes=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(rotate(images, np.full(3, -180.0)), images[:, ::-1, ::-1], atol=1e-5)
    # A digit padded to 12x12 keeps all its ink at 45 degrees (bilinear sampling keeps the sum nearly).
    digit = np.pad(source_digits()[0][:1], ((0, 0), (2, 2), (2, 2)))
    assert rotate(digit, np.array([45.0])).sum() == pytest.approx(digit.sum(), rel=0.05)


@pytest.mark.parametrize("name", ["multi_digits", "digit_attributes"])
def test_the_same_seed_gives_the_same_data_another_seed_other_data(loaded, name):
    again = datasets.load(name, seed=np.int64(0))  # numpy integers are integers
    other = datasets.load(name, seed=1)
    for first, second, third in zip(loaded[name], again, other, strict=True):
        assert torch.equal(first.X_dict["image_data"], second.X_dict["image_data"])
        for task in loaded[name].task_names:
            assert torch.equal(first.Y_dict[task], second.Y_dict[task])
        assert not torch.equal(first.X_dict["image_data"][:50], third.X_dict["image_data"][:50])
    assert again.seed == 0 and type(again.seed) is int


def test_n_train_changes_only_the_training_split(loaded):
    small = datasets.load("multi_digits", n_train=100)
    assert len(small.train) == 100
    assert torch.equal(small.test.X_dict["image_data"], loaded["multi_digits"].test.X_dict["image_data"])
    more = datasets.load("digit_attributes", n_train=2500)
    index = more.source_index["train"][:, 0]
    assert len(more.train) == 2500 and np.bincount(index).max() == 3  # each digit 2 or 3 times
    angles = more.train.Y_dict["angle_task"].numpy()
    first = index == index[0]
    assert len(set(angles[first].tolist())) == first.sum()  # at new angles each time
    fewer = datasets.load("digit_attributes", n_train=200)
    assert len(set(fewer.source_index["train"][:, 0].tolist())) == 200
    assert torch.equal(fewer.valid.X_dict["image_data"], loaded["digit_attributes"].valid.X_dict["image_data"])


def test_low_label_setting_keeps_few_main_labels_spread_over_the_classes(loaded):
    data = datasets.load("digit_attributes", n_labelled=53)
    digits = data.train.Y_dict["digit_task"]
    kept = digits[digits != -1]
    assert len(kept) == 53 and set(np.bincount(kept.numpy(), minlength=10).tolist()) == {5, 6}
    truth = loaded["digit_attributes"].train.Y_dict["digit_task"]
    assert torch.equal(digits[digits != -1], truth[digits != -1])  # kept labels are the true ones
    for task in ("parity_task", "greater_than_4_task", "angle_task"):  # the auxiliary tasks keep all
        assert torch.equal(data.train.Y_dict[task], loaded["digit_attributes"].train.Y_dict[task])
    for split in (data.valid, data.test):
        assert int((split.Y_dict["digit_task"] == -1).sum()) == 0
    assert data.n_labelled == 53 and data.main_task == "digit_task"
    pairs = datasets.load("multi_digits", n_train=300, n_labelled=10)
    assert int((pairs.train.Y_dict["left_task"] != -1).sum()) == 10
    assert int((pairs.train.Y_dict["right_task"] == -1).sum()) == 0


def test_keep_labels_marks_missing_regression_targets_with_nan():
    targets = np.linspace(-45, 45, 100, dtype=np.float32)
    out = keep_labels(targets, 30, None, rng_for("test", 0))
    assert out.dtype == np.float32 and int(np.isfinite(out).sum()) == 30
    np.testing.assert_array_equal(out[np.isfinite(out)], targets[np.isfinite(out)])
    # A class with fewer examples than its share gives the rest to the others.
    classes = np.array([0] * 2 + [1] * 50 + [2] * 50)
    kept = keep_labels(classes, 30, 3, rng_for("test", 0))
    assert np.bincount(kept[kept != -1], minlength=3).tolist()[0] == 2 and int((kept != -1).sum()) == 30


def test_metadata_and_select_tasks(loaded):
    data = loaded["digit_attributes"]
    assert data.dataset_name == "digitAttributes" and loaded["multi_digits"].dataset_name == "multiDigits"
    assert [(t.kind, t.n_classes, t.n_outputs) for t in data.tasks] == [
        ("classification", 10, 10),
        ("classification", 2, 2),
        ("classification", 2, 2),
        ("regression", None, 1),
    ]
    assert data.task("angle_task").kind == "regression"
    train, valid, test = data
    assert train is data.train and (valid, test) == (data.valid, data.test)
    alone = data.select_tasks(["parity_task"])
    assert alone.task_names == ["parity_task"] and list(alone.train.Y_dict) == ["parity_task"]
    assert alone.train.X_dict["image_data"] is data.train.X_dict["image_data"]  # shared, not copied
    assert alone.main_task == "parity_task" and alone.n_labelled is None
    assert list(data.select_tasks("angle_task").test.Y_dict) == ["angle_task"]
    assert len(data.train.Y_dict) == 4  # the original is untouched


def test_the_loaders_train_a_model_with_the_kit(loaded):
    data = datasets.load("multi_digits", n_train=256)
    train, valid, test = data.dataloaders(batch_size=64)
    assert train.batch_size == 64 and len(valid.dataset) == 1000
    set_seed(0)
    trunk = nn.Sequential(nn.Flatten(), nn.Linear(120, 32), nn.ReLU())
    tasks = [
        Task(
            name,
            nn.ModuleDict({"trunk": trunk, f"{name}_head": nn.Linear(32, data.task(name).n_outputs)}),
            [Operation("trunk", [("_input_", data.input_key)]), Operation(f"{name}_head", ["trunk"])],
        )
        for name in data.task_names
    ]
    model = MultitaskClassifier(tasks)
    Trainer(progress_bar=False, n_epochs=2, lr=0.01, seed=0).fit(model, [train, valid])
    scores = model.score([test])
    assert set(scores) == {"left_task/multiDigits/test/accuracy", "right_task/multiDigits/test/accuracy"}
    assert all(score > 0.2 for score in scores.values())  # 2 epochs on 256 pairs: well above chance (0.1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: datasets.load("mnist"), "datasets.load(name) must be one of 'digit_attributes', 'multi_digits'"),
        (lambda: datasets.load("Multi-Digits"), "did you mean 'multi_digits'?"),
        (lambda: datasets.load(3), "got 3"),
        (lambda: datasets.load("multi_digits", seed=-1), "load('multi_digits', seed) must be an integer >= 0; got -1"),
        (lambda: datasets.load("multi_digits", seed=1.5), "must be an integer >= 0; got 1.5"),
        (lambda: datasets.load("digit_attributes", seed=True), "must be an integer >= 0; got True"),
        (lambda: datasets.load("multi_digits", n_train=5), "n_train) must be an integer from 10 to 100000; got 5"),
        (lambda: datasets.load("digit_attributes", n_train=10**6), "n_train) must be an integer from 10 to 100000"),
        (lambda: datasets.load("digit_attributes", n_labelled=5), "n_labelled) must be an integer from 10 to 1078"),
        (lambda: datasets.load("multi_digits", n_train=50, n_labelled=60), "from 10 to 50; got 60"),
        (lambda: datasets.load("multi_digits", n_labelled="all"), "or None for every label"),
    ],
)
def test_bad_arguments_get_clear_errors(call, message):
    with pytest.raises(MTLConfigError, match="Fix:") as error:
        call()
    assert message in str(error.value)


def test_bad_task_names_get_clear_errors(loaded):
    data = loaded["multi_digits"]
    with pytest.raises(MTLConfigError, match=r"multi_digits.task\(name\) must name one of its tasks"):
        data.task("digit_task")
    for bad in (["left_task", "left_task"], [], ["middle_task"]):
        with pytest.raises(MTLConfigError, match=r"select_tasks\(task_names\) must name its tasks, each once"):
            data.select_tasks(bad)


def test_reprs(loaded):
    text = repr(datasets.load("digit_attributes", n_labelled=50))
    assert text.splitlines() == [
        "DatasetSplits('digit_attributes', seed=0, dataset_name='digitAttributes')",
        "  input: X_dict['image_data'], 1x12x12 per example",
        "  splits: train 1078, valid 360, test 359",
        "  tasks:",
        "    digit_task (10 classes; labelled on 50 of 1078 training examples): which digit, 0-9",
        "    parity_task (2 classes): 1 if the digit is odd",
        "    greater_than_4_task (2 classes): 1 if the digit is 5-9",
        "    angle_task (regression): the angle the digit was turned by, degrees counter-clockwise",
    ]
    assert repr(loaded["multi_digits"].tasks[0]) == (
        "TaskInfo('left_task', classification, 10 classes: the digit on the left (columns 0-7))"
    )
    assert (
        repr(TaskInfo("a_task", "regression", None, "a number")) == "TaskInfo('a_task', regression, 1 output: a number)"
    )


def test_the_package_docstring_example_runs():
    result = doctest.testmod(mtl_teach.datasets, raise_on_error=False)
    assert result.attempted >= 3 and result.failed == 0


def test_digits_display_shows_the_pictures_with_their_labels(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from mtl_teach.plotting import DigitsDisplay

    data = datasets.load("digit_attributes", n_labelled=10)
    display = DigitsDisplay.from_data(data, n=12, n_cols=6)
    assert display.images.shape == (12, 12, 12)
    first = display.captions()[0].split()
    Y = data.train.Y_dict
    digit = int(Y["digit_task"][0])
    assert first[0] == ("?" if digit == -1 else str(digit))
    assert first[1:3] == [str(int(Y["parity_task"][0])), str(int(Y["greater_than_4_task"][0]))]
    assert first[3] == f"{float(Y['angle_task'][0]):+.0f}"
    assert sum(caption.startswith("?") for caption in display.captions()) >= 8  # 10 of 1078 labelled
    mosaic = display.ax_.images[0].get_array()
    assert mosaic.shape == (2 * (12 + 4), 6 * 13 - 1)  # 2 rows of 6 pictures, gaps and caption rows
    assert len(display.ax_.texts) == 12 and "labels digit, parity, greater_than_4, angle" in display.ax_.get_title()
    assert repr(display).startswith("DigitsDisplay('digit_attributes, train', 12 pictures of 12x12")
    display.figure_.savefig(tmp_path / "digits.png")
    with pytest.raises(MTLConfigError, match=r"DigitsDisplay.from_data\(data\) must be a data set"):
        DigitsDisplay.from_data(data.train)
    with pytest.raises(MTLConfigError, match=r"DigitsDisplay.from_data\(split\)"):
        DigitsDisplay.from_data(data, split="dev")


def test_the_readme_example_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [block for block in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "datasets.load(" in block]
    assert len(blocks) == 1, "the README's real-data example is missing"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["low"].n_labelled == 50  # type: ignore[attr-defined]
