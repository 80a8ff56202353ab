"""DictDataset, DictDataLoader and collate_dicts (mtl_teach/data.py), plus the error format (_errors.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mtl_teach import DictDataLoader, DictDataset, MTLConfigError, collate_dicts
from mtl_teach._errors import check_choice, fail, names


def make_dataset(n: int = 10, split: str = "train") -> DictDataset:
    X = torch.arange(2 * n, dtype=torch.float32).view(n, 2)
    Y = torch.arange(n) % 2
    return DictDataset("toy", split, {"data": X}, {"task": Y})


# ------------------------------------------------------------------ DictDataset
def test_attributes_len_and_getitem():
    X = torch.randn(5, 2)
    Z = torch.randn(5, 3)
    Y = torch.tensor([0, 1, 1, 0, -1])
    ds = DictDataset("toyDataset", "valid", {"a": X, "b": Z}, {"task": Y})
    assert ds.name == "toyDataset"
    assert ds.split == "valid"
    assert set(ds.X_dict) == {"a", "b"}
    assert set(ds.Y_dict) == {"task"}
    assert len(ds) == 5
    x, y = ds[3]
    assert torch.equal(x["a"], X[3])
    assert torch.equal(x["b"], Z[3])
    assert y["task"].item() == 0
    assert ds.Y_dict["task"].dtype == torch.long


def test_repr_shows_name_split_size_and_fields():
    text = repr(make_dataset(10, "test"))
    assert "name='toy'" in text
    assert "split='test'" in text
    assert "n=10" in text
    assert "'data': (10, 2) float32" in text
    assert "'task': (10,) int64" in text


def test_from_tensors_defaults_and_names():
    X, Y = torch.randn(4, 2), torch.tensor([0, 1, 0, 1])
    ds = DictDataset.from_tensors(X, Y, "train")
    assert ds.name == "default_dataset_name"
    assert ds.split == "train"
    assert torch.equal(ds.X_dict["input_data"], X)
    assert torch.equal(ds.Y_dict["task"], Y)

    named = DictDataset.from_tensors(
        X, Y, "test", input_data_key="circle_data", task_name="circle_task", dataset_name="circleDataset"
    )
    assert (named.name, named.split) == ("circleDataset", "test")
    assert list(named.X_dict) == ["circle_data"]
    assert list(named.Y_dict) == ["circle_task"]


def test_numpy_inputs_are_converted():
    X = np.random.default_rng(0).normal(size=(6, 2))  # float64
    Y = np.array([0, 1, 2, 0, 1, 2])  # int64
    ds = DictDataset("np", "train", {"x": X}, {"task": Y})
    assert isinstance(ds.X_dict["x"], torch.Tensor)
    assert ds.X_dict["x"].dtype == torch.float32
    np.testing.assert_allclose(ds.X_dict["x"].numpy(), X.astype(np.float32))
    assert ds.Y_dict["task"].dtype == torch.long
    assert ds.Y_dict["task"].tolist() == Y.tolist()


def test_numpy_int32_labels_become_long():
    ds = DictDataset("np", "train", {"x": torch.zeros(3, 1)}, {"task": np.array([0, 1, -1], dtype=np.int32)})
    assert ds.Y_dict["task"].dtype == torch.long
    assert ds.Y_dict["task"].tolist() == [0, 1, -1]


def test_lengths_differ_is_an_error():
    with pytest.raises(MTLConfigError, match=r"X_dict and Y_dict must have the same number of examples") as info:
        DictDataset("toy", "train", {"data": torch.zeros(10, 2)}, {"task": torch.zeros(9, dtype=torch.long)})
    text = str(info.value)
    assert "X_dict['data'] has 10" in text
    assert "Y_dict['task'] has 9" in text
    assert "Fix:" in text


def test_two_input_fields_of_different_lengths_are_an_error():
    with pytest.raises(MTLConfigError, match=r"X_dict\['b'\] has 3"):
        DictDataset("toy", "train", {"a": torch.zeros(4, 2), "b": torch.zeros(3, 2)}, {"task": torch.zeros(4).long()})


def test_float_tensor_labels_are_an_error():
    with pytest.raises(MTLConfigError, match=r"Y_dict\['task'\] must hold integer class labels") as info:
        DictDataset("toy", "train", {"data": torch.zeros(3, 2)}, {"task": torch.tensor([0.0, 1.0, 0.0])})
    assert "got dtype torch.float32" in str(info.value)
    assert "Fix: use torch.LongTensor(labels) or labels.long()" in str(info.value)


def test_numpy_float_labels_are_an_error():
    with pytest.raises(MTLConfigError, match=r"Y_dict\['task'\] must hold integer class labels") as info:
        DictDataset("toy", "train", {"data": torch.zeros(3, 2)}, {"task": np.array([0.0, 1.0, 0.0])})
    assert "numpy array of dtype float64" in str(info.value)
    assert "astype(int)" in str(info.value)


def test_bool_labels_are_an_error():
    with pytest.raises(MTLConfigError, match="integer class labels"):
        DictDataset("toy", "train", {"data": torch.zeros(2, 2)}, {"task": torch.tensor([True, False])})


def test_list_labels_are_an_error():
    with pytest.raises(MTLConfigError, match=r"must be a tensor of integer class labels; got list\. Fix: wrap it"):
        DictDataset("toy", "train", {"data": torch.zeros(2, 2)}, {"task": [0, 1]})


def test_labels_below_minus_one_are_an_error():
    with pytest.raises(MTLConfigError, match=r"must hold class ids >= 0, or -1 for 'no label'; got minimum -2") as info:
        DictDataset("toy", "train", {"data": torch.zeros(3, 2)}, {"task": torch.tensor([0, -2, 1])})
    assert "Fix: relabel classes" in str(info.value)


def test_an_empty_dataset_is_an_error():
    # An empty split (e.g. X[800:] of 100 points) would train on nothing and
    # fail later inside torch.cat when scored; say so where it is made.
    with pytest.raises(MTLConfigError) as info:
        DictDataset("d", "valid", {"x": torch.zeros(0, 2)}, {"t": torch.zeros(0).long()})
    text = str(info.value)
    assert "DictDataset('d') X_dict and Y_dict must hold at least one example" in text
    assert "got 0 examples" in text and "Fix:" in text


def test_minus_one_labels_are_allowed():
    ds = DictDataset("toy", "train", {"data": torch.zeros(3, 2)}, {"task": torch.tensor([0, -1, 1])})
    assert ds.Y_dict["task"].tolist() == [0, -1, 1]


def test_two_dimensional_labels_are_an_error():
    with pytest.raises(MTLConfigError, match=r"must be 1-D, one class label per example; got shape \(3, 1\)") as info:
        DictDataset("toy", "train", {"data": torch.zeros(3, 2)}, {"task": torch.zeros(3, 1, dtype=torch.long)})
    assert "view(-1)" in str(info.value)


@pytest.mark.parametrize("split", ["dev", "Train", "validation", ""])
def test_unknown_split_is_an_error(split):
    with pytest.raises(
        MTLConfigError, match=r"DictDataset\('toy', split\) must be one of 'test', 'train', 'valid'"
    ) as info:
        make_dataset_with_split(split)
    assert f"got {split!r}" in str(info.value)
    assert "Fix: pass one of" in str(info.value)


def make_dataset_with_split(split):
    return DictDataset("toy", split, {"data": torch.zeros(2, 2)}, {"task": torch.zeros(2).long()})


def test_bad_name_and_non_dict_fields_are_errors():
    with pytest.raises(MTLConfigError, match=r"DictDataset\(name\) must be a non-empty string; got ''"):
        DictDataset("", "train", {"data": torch.zeros(2, 2)}, {"task": torch.zeros(2).long()})
    with pytest.raises(MTLConfigError, match=r"X_dict/Y_dict must be dicts"):
        DictDataset("toy", "train", [torch.zeros(2, 2)], {"task": torch.zeros(2).long()})
    with pytest.raises(MTLConfigError, match=r"X_dict\['data'\] must be a tensor, numpy array or list; got int"):
        DictDataset("toy", "train", {"data": 3}, {"task": torch.zeros(2).long()})


def test_mtlconfigerror_is_a_valueerror():
    # Notebook code that catches ValueError keeps working.
    with pytest.raises(ValueError):
        make_dataset_with_split("dev")


# -------------------------------------------------------------- collate_dicts
def test_collate_dicts_stacks_tensors_and_lists_other_values():
    items = [({"x": torch.tensor([1.0, 2.0]), "w": "a"}, {"t": torch.tensor(0)}),
             ({"x": torch.tensor([3.0, 4.0]), "w": "b"}, {"t": torch.tensor(1)})]  # fmt: skip
    X, Y = collate_dicts(items)
    assert torch.equal(X["x"], torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert X["w"] == ["a", "b"]
    assert torch.equal(Y["t"], torch.tensor([0, 1]))


# ------------------------------------------------------------- DictDataLoader
def standard_batches(ds, **kwargs):
    return list(DataLoader(ds, collate_fn=collate_dicts, **kwargs))


def assert_same_batches(got, expected):
    assert len(got) == len(expected)
    for (gx, gy), (ex, ey) in zip(got, expected, strict=True):
        assert gx.keys() == ex.keys()
        assert gy.keys() == ey.keys()
        for key in ex:
            if isinstance(ex[key], torch.Tensor):
                assert gx[key].dtype == ex[key].dtype
                assert torch.equal(gx[key], ex[key]), key
            else:
                assert gx[key] == ex[key], key
        for key in ey:
            assert gy[key].dtype == ey[key].dtype
            assert torch.equal(gy[key], ey[key]), key


class CountingDataset(DictDataset):
    """A DictDataset that counts item-by-item reads (the slow path's __getitem__)."""

    reads = 0

    def __getitem__(self, index):
        type(self).reads += 1
        return super().__getitem__(index)


def counting_dataset(n=37):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 3, generator=g)
    Z = torch.randn(n, 2, 2, generator=g)
    Y1 = torch.randint(0, 2, (n,), generator=g)
    Y2 = torch.randint(-1, 3, (n,), generator=g)
    return CountingDataset("count", "train", {"x": X, "z": Z}, {"t1": Y1, "t2": Y2})


@pytest.mark.parametrize("drop_last", [False, True])
def test_fast_path_sequential_matches_standard_dataloader(drop_last):
    ds = counting_dataset()
    expected = standard_batches(ds, batch_size=8, drop_last=drop_last)
    CountingDataset.reads = 0
    loader = DictDataLoader(ds, batch_size=8, drop_last=drop_last)
    got = list(loader)
    assert CountingDataset.reads == 0  # batches were cut from the tensors, not collated item by item
    assert_same_batches(got, expected)
    assert len(got) == len(loader) == (4 if drop_last else 5)
    # A sequential batch is a view of the dataset's tensor.
    assert got[1][0]["x"].untyped_storage().data_ptr() == ds.X_dict["x"].untyped_storage().data_ptr()


def test_fast_path_shuffled_matches_standard_dataloader_with_same_generator():
    ds = counting_dataset()
    expected = standard_batches(ds, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(42))
    CountingDataset.reads = 0
    got = list(DictDataLoader(ds, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(42)))
    assert CountingDataset.reads == 0
    assert_same_batches(got, expected)
    # It really shuffled: the first batch is not the first 8 rows.
    assert not torch.equal(got[0][0]["x"], ds.X_dict["x"][:8])
    # Every example is visited exactly once.
    seen = torch.cat([y["t1"] for _, y in got])
    assert sorted(seen.tolist()) == sorted(ds.Y_dict["t1"].tolist())


def subset_sampler():
    return torch.utils.data.SubsetRandomSampler([1, 4, 6, 7], generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "make_kwargs",
    [
        lambda: {"batch_sampler": [[0, 5, 3], [4, 1], [7], [2, 6]]},  # custom batches, not runs of rows
        lambda: {"sampler": [6, 2, 0, 1, 3], "batch_size": 2},  # a custom order
        lambda: {"sampler": subset_sampler(), "batch_size": 3},
    ],
    ids=["batch_sampler", "sampler_list", "subset_random_sampler"],
)
def test_fast_path_matches_standard_dataloader_with_custom_samplers(make_kwargs):
    ds = counting_dataset(8)
    expected = standard_batches(ds, **make_kwargs())
    CountingDataset.reads = 0
    got = list(DictDataLoader(ds, **make_kwargs()))
    assert CountingDataset.reads == 0
    assert_same_batches(got, expected)


def test_shuffled_fast_path_matches_standard_dataloader_on_the_global_rng():
    # Without a generator both paths draw from torch's global RNG; they must
    # consume it identically, so later random numbers match too.
    ds = counting_dataset()
    torch.manual_seed(3)
    expected = [
        batch for _ in range(2) for batch in DataLoader(ds, batch_size=8, shuffle=True, collate_fn=collate_dicts)
    ]
    after_expected = torch.rand(3)
    torch.manual_seed(3)
    loader = DictDataLoader(ds, batch_size=8, shuffle=True)
    got = [batch for _ in range(2) for batch in loader]
    after_got = torch.rand(3)
    assert_same_batches(got, expected)
    assert torch.equal(after_got, after_expected)
    # Two epochs are shuffled differently.
    assert not torch.equal(got[0][0]["x"], got[5][0]["x"])


@pytest.mark.parametrize("shuffle", [False, True])
def test_list_valued_fields_fall_back_to_collation(shuffle):
    n = 11
    words = [f"w{i}" for i in range(n)]
    ds = CountingDataset("mixed", "train", {"x": torch.arange(n).float(), "words": words}, {"t": torch.arange(n) % 2})
    expected = standard_batches(ds, batch_size=4, shuffle=shuffle, generator=torch.Generator().manual_seed(1))
    CountingDataset.reads = 0
    got = list(DictDataLoader(ds, batch_size=4, shuffle=shuffle, generator=torch.Generator().manual_seed(1)))
    assert CountingDataset.reads == n  # the standard item-by-item path ran
    assert_same_batches(got, expected)
    assert isinstance(got[0][0]["words"], list)
    for X, _ in got:  # the words stay aligned with their rows
        assert X["words"] == [f"w{int(i)}" for i in X["x"]]


def test_custom_collate_fn_is_used():
    calls = []

    def collate(items):
        calls.append(len(items))
        return collate_dicts(items)

    ds = make_dataset(10)
    got = list(DictDataLoader(ds, collate_fn=collate, batch_size=4))
    assert calls == [4, 4, 2]
    assert_same_batches(got, standard_batches(ds, batch_size=4))


def test_loader_needs_a_dictdataset():
    with pytest.raises(MTLConfigError, match=r"DictDataLoader\(dataset\) must be a DictDataset; got TensorDataset"):
        DictDataLoader(torch.utils.data.TensorDataset(torch.zeros(3, 2)))


def test_loader_repr():
    text = repr(DictDataLoader(make_dataset(10, "valid"), batch_size=4))
    assert text == "DictDataLoader('toy', split='valid', n=10, batch_size=4, tasks='task')"


# -------------------------------------------------------------------- _errors
def test_fail_message_shape():
    with pytest.raises(MTLConfigError) as info:
        fail("Thing(param)", "must be positive", -3, "pass e.g. param=1.")
    assert str(info.value) == "Thing(param) must be positive; got -3. Fix: pass e.g. param=1."


def test_fail_shortens_long_values():
    with pytest.raises(MTLConfigError) as info:
        fail("p", "rule", "x" * 500, "fix.")
    assert "..." in str(info.value)
    assert len(str(info.value)) < 200


def test_check_choice_and_names():
    assert check_choice("p", "b", ["a", "b"]) == "b"
    with pytest.raises(MTLConfigError, match=r"p must be one of 'a', 'b'; got 'c'\. Fix: pass one of 'a', 'b'\."):
        check_choice("p", "c", ["b", "a"])
    assert names([]) == "(none)"
    assert names(["z", "a"]) == "'a', 'z'"


def test_a_list_of_number_rows_must_be_a_tensor():
    # fit() used to fail later with "must be Tensor, not list" and a fix about module sizes.
    rows = [[0.1, 0.2], [0.3, 0.4]]
    with pytest.raises(MTLConfigError, match=r"X_dict\['x'\] must be a tensor when it holds numbers.*torch\.tensor\(x"):
        DictDataset("d", "train", {"x": rows}, {"t": torch.tensor([0, 1])})
    # Lists of other things stay lists (Snorkel passes e.g. strings to custom modules).
    words = DictDataset("d", "train", {"x": ["a", "b"]}, {"t": torch.tensor([0, 1])})
    assert words.X_dict["x"] == ["a", "b"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_inputs_with_nan_or_inf_are_an_error(bad):
    # score() used to report a silently wrong accuracy on such data.
    X = torch.rand(20, 2)
    X[3, 1] = bad
    X[7, 0] = bad
    with pytest.raises(
        MTLConfigError, match=r"must hold finite numbers.*2 of 20 rows with NaN or inf, the first at row 3"
    ):
        DictDataset("d", "test", {"x": X}, {"t": torch.zeros(20, dtype=torch.long)})
    with pytest.raises(MTLConfigError, match=r"finite numbers"):
        DictDataset("d", "test", {"x": X.numpy().astype(np.float64)}, {"t": torch.zeros(20, dtype=torch.long)})


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "32", None])
def test_bad_batch_size_is_a_clear_error(batch_size):
    dataset = DictDataset("d", "train", {"x": torch.rand(4, 2)}, {"t": torch.tensor([0, 1, 0, 1])})
    with pytest.raises(MTLConfigError, match=r"DictDataLoader\(batch_size\) must be an integer >= 1.*batch_size=32"):
        DictDataLoader(dataset, batch_size=batch_size)


def test_a_batch_size_passed_by_position_is_a_clear_error():
    # DictDataLoader(dataset, 32) puts 32 into collate_fn; it used to fail at the first batch.
    dataset = DictDataset("d", "train", {"x": torch.rand(4, 2)}, {"t": torch.tensor([0, 1, 0, 1])})
    with pytest.raises(MTLConfigError, match=r"DictDataLoader\(collate_fn\) must be a function.*batch_size=32"):
        DictDataLoader(dataset, 32)
