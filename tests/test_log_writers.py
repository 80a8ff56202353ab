"""Log writers never overwrite an earlier run's log."""

from __future__ import annotations

import json

from mtl_teach.log_writers import JsonWriter


def test_a_second_run_with_the_same_name_gets_its_own_file(tmp_path) -> None:
    first = JsonWriter(tmp_path, "run", {"n_epochs": 1})
    first.write(1, {"model/all/train/loss": 0.5})
    second = JsonWriter(tmp_path, "run", {"n_epochs": 2})
    second.write(1, {"model/all/train/loss": 0.25})
    assert first.path.name == "run.json" and second.path.name == "run_1.json"
    assert json.loads(first.path.read_text())["epochs"] == [{"epoch": 1, "model/all/train/loss": 0.5}]
    assert json.loads(second.path.read_text())["config"] == {"n_epochs": 2}


def test_nan_is_written_as_null_so_the_file_is_valid_json(tmp_path) -> None:
    writer = JsonWriter(tmp_path, "nan", {})
    writer.write(1, {"x": float("nan")})
    assert json.loads(writer.path.read_text())["epochs"][0]["x"] is None
