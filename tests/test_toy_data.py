"""The tutorial's toy data (mtl_teach/toy_data.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtl_teach import (
    DictDataLoader,
    MTLConfigError,
    make_circle_dataset,
    make_inv_circle_dataset,
    make_square_dataset,
    make_tutorial_dataloaders,
)

MAKERS = [make_circle_dataset, make_square_dataset, make_inv_circle_dataset]


def circle_rule(X, r):
    return (X[:, 0] ** 2 + X[:, 1] ** 2 < r).astype(np.int64)


def square_rule(X, r):
    return ((np.abs(X[:, 0]) < r / 2) & (np.abs(X[:, 1]) < r / 2)).astype(np.int64)


def inv_circle_rule(X, r):
    return (X[:, 0] ** 2 + X[:, 1] ** 2 > r).astype(np.int64)


RULES = {make_circle_dataset: circle_rule, make_square_dataset: square_rule, make_inv_circle_dataset: inv_circle_rule}


@pytest.mark.parametrize("maker", MAKERS)
def test_shapes_dtypes_and_split(maker):
    splits = maker(1000, 1, seed=0)
    assert len(splits) == 3
    assert [len(X) for X, _ in splits] == [800, 100, 100]
    for X, Y in splits:
        assert isinstance(X, np.ndarray) and isinstance(Y, np.ndarray)
        assert X.dtype == np.float32 and X.shape[1] == 2
        assert Y.dtype == np.int64 and Y.shape == (len(X),)
    # The three splits are different points.
    X = np.concatenate([X for X, _ in splits])
    assert len(np.unique(X, axis=0)) == 1000


@pytest.mark.parametrize("n", [10, 37, 250])
@pytest.mark.filterwarnings("ignore:make_circle_dataset.* chance gave them one class:UserWarning")  # n=10, seed 0
def test_split_sizes_for_other_n(n):
    train, valid, test = make_circle_dataset(n, seed=0)
    assert (len(train[0]), len(valid[0]), len(test[0])) == (int(0.8 * n), int(0.9 * n) - int(0.8 * n), n - int(0.9 * n))


@pytest.mark.parametrize("maker", MAKERS)
@pytest.mark.parametrize("r", [1.0, 0.5, 1.5])
def test_label_rules(maker, r):
    for X, Y in maker(1000, r, seed=3):
        np.testing.assert_array_equal(Y, RULES[maker](X, r))
    Y = np.concatenate([Y for _, Y in maker(1000, r, seed=3)])
    assert 0 < Y.mean() < 1  # both classes appear


def test_class_balance_matches_the_geometry():
    # Uniform points on [-1, 1)^2: P(circle, r=1) = pi/4, P(square, r=1) = 1/4.
    circle = np.concatenate([Y for _, Y in make_circle_dataset(40000, 1, seed=1)])
    square = np.concatenate([Y for _, Y in make_square_dataset(40000, 1, seed=1)])
    inv = np.concatenate([Y for _, Y in make_inv_circle_dataset(40000, 1, seed=1)])
    assert circle.mean() == pytest.approx(np.pi / 4, abs=0.01)
    assert square.mean() == pytest.approx(0.25, abs=0.01)
    assert inv.mean() == pytest.approx(1 - np.pi / 4, abs=0.01)


@pytest.mark.parametrize("maker", MAKERS)
def test_inputs_are_uniform_on_minus_one_to_one(maker):
    X = np.concatenate([X for X, _ in maker(20000, seed=2)])
    assert X.min() >= -1.0 and X.max() < 1.0
    assert X.min() < -0.99 and X.max() > 0.99
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(X.var(axis=0), 1 / 3, atol=0.02)  # variance of U(-1, 1)
    quarter = ((X[:, 0] > 0) & (X[:, 1] > 0)).mean()
    assert quarter == pytest.approx(0.25, abs=0.02)


def flat(splits):
    return np.concatenate([X for X, _ in splits]), np.concatenate([Y for _, Y in splits])


def test_same_seed_same_data_regardless_of_call_order():
    np.random.seed(0)
    circle_first = flat(make_circle_dataset(500, seed=7))
    square_second = flat(make_square_dataset(500, seed=7))
    np.random.seed(123)  # the global RNG must not matter either
    torch.manual_seed(5)
    square_first = flat(make_square_dataset(500, seed=7))
    np.random.rand(10)
    circle_second = flat(make_circle_dataset(500, seed=7))
    for a, b in [(circle_first, circle_second), (square_first, square_second)]:
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_different_seeds_and_tasks_give_different_points():
    circle = flat(make_circle_dataset(500, seed=7))[0]
    assert not np.array_equal(circle, flat(make_circle_dataset(500, seed=8))[0])
    square = flat(make_square_dataset(500, seed=7))[0]
    inv = flat(make_inv_circle_dataset(500, seed=7))[0]
    assert not np.array_equal(circle, square)
    assert not np.array_equal(circle, inv)
    assert not np.array_equal(square, inv)
    # Not just shuffled copies of one another either.
    assert len(np.intersect1d(circle[:, 0], square[:, 0])) == 0


@pytest.mark.parametrize("n", [5, 9, 10.5, "1000", True, -100])
@pytest.mark.parametrize("maker", MAKERS)
def test_bad_n(maker, n):
    name = maker.__name__
    with pytest.raises(
        MTLConfigError,
        match=rf"{name}\(n\) must be an integer >= 10 \(it is split 80/10/10\); got .*Fix: pass e.g. n=1000",
    ):
        maker(n, seed=0)


@pytest.mark.parametrize("r", [0, -1.0, "1", None, True])
@pytest.mark.parametrize("maker", MAKERS)
def test_bad_r(maker, r):
    with pytest.raises(MTLConfigError, match=rf"{maker.__name__}\(r\) must be a number > 0; got .*Fix: pass e.g. r=1"):
        maker(100, r, seed=0)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, False])
@pytest.mark.parametrize("maker", MAKERS)
def test_bad_seed(maker, seed):
    with pytest.raises(
        MTLConfigError, match=rf"{maker.__name__}\(seed\) must be an integer >= 0; got .*Fix: pass e.g. seed=0"
    ):
        maker(100, 1, seed=seed)


def test_seed_is_keyword_only():
    with pytest.raises(TypeError):
        make_circle_dataset(100, 1, 0)


# ---------------------------------------------------------- tutorial loaders
EXPECTED = [
    ("circle_task", "circle_data", "circleDataset", make_circle_dataset),
    ("square_task", "square_data", "squareDataset", make_square_dataset),
    ("inv_circle_task", "inv_circle_data", "invCircleDataset", make_inv_circle_dataset),
]


def test_tutorial_dataloaders_three_per_task_with_the_tutorials_keys():
    names = [task for task, *_ in EXPECTED]
    loaders = make_tutorial_dataloaders(names, seed=4)
    assert len(loaders) == 9
    for i, (task, x_key, dataset, maker) in enumerate(EXPECTED):
        splits = maker(1000, 1.0, seed=4)
        for j, split in enumerate(("train", "valid", "test")):
            loader = loaders[3 * i + j]
            assert isinstance(loader, DictDataLoader)
            assert loader.batch_size == 32
            ds = loader.dataset
            assert (ds.name, ds.split) == (dataset, split)
            assert list(ds.X_dict) == [x_key]
            assert list(ds.Y_dict) == [task]
            assert len(ds) == [800, 100, 100][j]
            np.testing.assert_array_equal(ds.X_dict[x_key].numpy(), splits[j][0])
            np.testing.assert_array_equal(ds.Y_dict[task].numpy(), splits[j][1])
            assert ds.X_dict[x_key].dtype == torch.float32
            assert ds.Y_dict[task].dtype == torch.long
    first = next(iter(loaders[0]))
    assert first[0]["circle_data"].shape == (32, 2)
    assert first[1]["circle_task"].shape == (32,)


def test_tutorial_dataloaders_defaults_and_options():
    default = make_tutorial_dataloaders()
    assert [dl.dataset.name for dl in default] == ["circleDataset"] * 3 + ["squareDataset"] * 3
    single = make_tutorial_dataloaders("square_task", n=200, seed=1, batch_size=16, r=0.5)
    assert len(single) == 3
    assert single[0].batch_size == 16
    assert len(single[0].dataset) == 160
    X, Y = single[0].dataset.X_dict["square_data"].numpy(), single[0].dataset.Y_dict["square_task"].numpy()
    np.testing.assert_array_equal(Y, square_rule(X, 0.5))


def test_tutorial_dataloaders_unknown_task():
    with pytest.raises(MTLConfigError) as info:
        make_tutorial_dataloaders(["circle_task", "triangle_task"])
    text = str(info.value)
    assert (
        "make_tutorial_dataloaders(task_names) must name tutorial tasks ('circle_task', 'inv_circle_task', 'square_task')"
        in text
    )
    assert "got 'triangle_task'" in text
