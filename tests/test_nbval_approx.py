"""The notebook checker (tests/nbval_approx.py): exact where output is portable, tolerant where it is trained.

The comparer is tested on strings; the whole plugin once on a real notebook
in a real kernel (pytester), where every kind of change must pass or fail
as it should.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbval_approx import DEFAULT_TOLERANCE, cell_tolerance, compare_approx, split_numbers
from notebook_claims import CLAIMS, Claim

ROOT = Path(__file__).resolve().parent.parent


def approx(expected: str, got: str, **tolerance: float) -> bool:
    tolerance = {"abs_tol": 0.02, "rel_tol": 0.05} | tolerance
    return compare_approx(expected, got, **tolerance)[0]


def test_numbers_are_split_out_but_not_digits_inside_names():
    skeleton, numbers = split_numbers("X (800, 2) float32, x0 = -0.5, loss 1e-3, 79.5% at #1a7f37")
    assert numbers == ["800", "2", "-0.5", "1e-3", "79.5%"]
    assert skeleton == "X (<num>, <num>) float32, x0 = <num>, loss <num>, <num> at #1a7f37"


def test_a_number_within_tolerance_passes_and_one_beyond_fails():
    assert approx("accuracy 0.95", "accuracy 0.96")
    assert approx("loss 0.0259", "loss 0.0249")
    assert not approx("accuracy 0.95", "accuracy 0.85")
    assert not approx("accuracy 0.95", "accuracy nan")
    ok, reasons = compare_approx("a 0.95, b 0.50", "a 0.95, b 0.40", abs_tol=0.02, rel_tol=0.0)
    assert not ok and reasons == ["number 2: committed 0.50, now 0.40 (|difference| 0.1 > allowed 0.02)"]


def test_percentages_compare_as_fractions():
    assert approx("72.4% of the labels", "73.0% of the labels")
    assert not approx("72.4% of the labels", "79.5% of the labels")


def test_counts_must_stay_exact_under_the_default_tolerance():
    # 3 units revived vs 2: |1| > 0.03 + 0.05 * 3. A count that moves is a finding.
    assert not approx("3 units revived", "2 units revived", abs_tol=0.03)


def test_the_text_around_the_numbers_must_not_change():
    ok, reasons = compare_approx("circle_task 0.95", "square_task 0.95", abs_tol=1, rel_tol=1)
    assert not ok and "text around the numbers changed" in reasons[0]
    assert not approx("2 warnings", "2 warnings, 1 error")
    # Column alignment may move when a number gains a digit.
    assert approx("in_patch   0.99  0.781", "in_patch   0.99  0.78")


def test_cell_tolerance_reads_the_tag_and_metadata():
    cell = nbformat.v4.new_code_cell("x")
    assert cell_tolerance(cell) is None
    cell.metadata["tags"] = ["approx"]
    assert cell_tolerance(cell) == DEFAULT_TOLERANCE
    cell.metadata["approx"] = {"abs": 0.1}
    assert cell_tolerance(cell) == DEFAULT_TOLERANCE | {"abs": 0.1}


@pytest.mark.parametrize(
    ("tags", "metadata", "message"),
    [
        ([], {"abs": 0.1}, "no 'approx' tag"),
        (["approx"], {"absolute": 0.1}, "keys 'abs' and/or 'rel'"),
        (["approx"], {"abs": -1}, "approx abs must be a number >= 0, got -1"),
        (["approx"], {"rel": "0.1"}, "approx rel must be a number >= 0"),
    ],
)
def test_bad_approx_metadata_is_a_clear_error(tags, metadata, message):
    cell = nbformat.v4.new_code_cell("x", metadata={"tags": tags, "approx": metadata})
    with pytest.raises(ValueError, match=message):
        cell_tolerance(cell)


def test_claims_name_notebooks_that_exist_and_compile():
    for notebook, claims in CLAIMS.items():
        assert (ROOT / "notebooks" / notebook).is_file(), notebook
        for claim in claims:
            compile(claim.source(), f"{notebook}: {claim.statement}", "exec")


def test_every_notebook_that_trains_has_claims_and_approx_cells():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        trains = any(".fit(" in cell.source for cell in notebook.cells if cell.cell_type == "code")
        tagged = [cell for cell in notebook.cells if "approx" in cell.metadata.get("tags", [])]
        if trains:
            assert CLAIMS.get(path.name), f"{path.name} trains a model but has no claims in tests/notebook_claims.py"
            assert tagged, f"{path.name} trains a model but tags no cell 'approx'"


def _notebook(cells: list[tuple[str, str, dict]]) -> nbformat.NotebookNode:
    """A run notebook whose cells print what the code prints, except where the committed text says otherwise."""
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    for count, (source, committed, metadata) in enumerate(cells, start=1):
        outputs = [nbformat.v4.new_output("stream", name="stdout", text=committed)] if committed else []
        notebook.cells.append(
            nbformat.v4.new_code_cell(source, execution_count=count, outputs=outputs, metadata=metadata)
        )
    return notebook


def test_the_plugin_on_a_real_notebook(pytester):
    approx_tag = {"tags": ["approx"]}
    notebook = _notebook(
        [
            ("n, score = 800, 0.9513\nprint(n, 'points')", "800 points\n", {}),
            ("print(f'score {score:.3f}')", "score 0.949\n", approx_tag),  # within tolerance
            ("print(f'score {score:.3f}')", "score 0.851\n", approx_tag),  # beyond it
            ("print(f'score {score:.3f}')", "score 0.940\n", {}),  # exact: any change fails
            ("print(f'accuracy {score:.3f}')", "score 0.951\n", approx_tag),  # the words changed
            ("print(f'score {score:.3f}')", "score 0.851\n", {"tags": ["approx"], "approx": {"abs": 0.2}}),
        ]
    )
    nbformat.write(notebook, pytester.path / "lesson.ipynb")
    claims = f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from tests.notebook_claims import Claim

        CLAIMS = {{
            "lesson.ipynb": [
                Claim("the score is high", "assert score >= 0.9, score"),
                Claim("the score is perfect", "assert score == 1.0, score"),
                Claim("a claim prints nothing", "print(score)"),
            ]
        }}
    """
    (pytester.path / "lesson_claims.py").write_text(textwrap.dedent(claims))
    pytester.syspathinsert(ROOT)
    env_path = os.pathsep.join([str(ROOT), str(pytester.path)])
    pytester._monkeypatch.setenv("PYTHONPATH", env_path)
    result = pytester.runpytest_subprocess(
        "-p",
        "tests.nbval_approx",
        "--nbval-approx",
        "--nbval-current-env",
        "--nbval-claims=lesson_claims",
        "-p",
        "no:randomly",
        "-rA",
        "lesson.ipynb",
    )
    outcomes = {line.split(" ", 1)[1].split(" - ")[0] for line in result.outlines if line.startswith("PASSED ")}
    failed = {line.split(" ", 1)[1].split(" - ")[0] for line in result.outlines if line.startswith("FAILED ")}
    assert outcomes == {
        "lesson.ipynb::Cell 0",
        "lesson.ipynb::Cell 1",
        "lesson.ipynb::Cell 5",
        "lesson.ipynb::claim: the score is high",
    }, result.stdout.str()
    assert failed == {
        "lesson.ipynb::Cell 2",
        "lesson.ipynb::Cell 3",
        "lesson.ipynb::Cell 4",
        "lesson.ipynb::claim: the score is perfect",
        "lesson.ipynb::claim: a claim prints nothing",
    }, result.stdout.str()
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout.str())  # IPython colours its tracebacks
    assert "number 1: committed 0.851, now 0.951" in output
    assert "text around the numbers changed" in output
    assert "AssertionError: 0.9513" in output  # a claim's message reaches the report


def test_claim_source_wraps_the_code_in_a_function():
    source = Claim("x", "\n    value = 1\n    assert value == 1\n").source()
    namespace: dict = {}
    exec(source, namespace)
    assert "_claim" not in namespace and "value" not in namespace


def test_each_cpu_setting_runs_in_its_own_kernel(pytester):
    # The committed output says "unset": it holds for the inherited environment (this test
    # sets none), and must fail for the run whose kernel got ATEN_CPU_CAPABILITY=default,
    # which torch itself must report.
    notebook = _notebook(
        [
            ("import os\nprint(os.environ.get('ATEN_CPU_CAPABILITY', 'unset'))", "unset\n", {}),
            ("import torch\nprint(torch.backends.cpu.get_cpu_capability() == 'DEFAULT')", "False\n", {}),
        ]
    )
    nbformat.write(notebook, pytester.path / "cpu.ipynb")
    pytester._monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    pytester._monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess(
        "-p", "tests.nbval_approx", "--nbval-approx", "--nbval-current-env", "--nbval-cpus=inherited,default",
        "-p", "no:randomly", "-rA", "cpu.ipynb",
    )  # fmt: skip
    outcomes = {line.split(" - ")[0] for line in result.outlines if line.startswith(("PASSED ", "FAILED "))}
    assert outcomes == {
        "PASSED cpu.ipynb::cpu=inherited::Cell 0",
        "PASSED cpu.ipynb::cpu=inherited::Cell 1",
        "FAILED cpu.ipynb::cpu=default::Cell 0",
        "FAILED cpu.ipynb::cpu=default::Cell 1",
    }, result.stdout.str()
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout.str())
    assert "'unset\\n' == 'default\\n'" in output and "'False\\n' == 'True\\n'" in output


def test_bad_cpu_settings_are_a_usage_error(pytester):
    pytester._monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "tests.nbval_approx", "--nbval-approx", "--nbval-cpus=default,default")
    assert result.ret != 0
    assert "--nbval-cpus must be distinct comma-separated ATEN_CPU_CAPABILITY values" in result.stderr.str()
