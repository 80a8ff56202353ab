"""The course in JupyterLab, through its UI, in headless Chromium.

First, the page a student sees when ``make lab`` opens the browser: the start
page, ``notebooks/README.md``. Then every course notebook: open it, click
Run > Run All Cells, wait until the kernel is idle with nothing queued, then
check what the student would see: every code cell ran, no error output, every
figure (decision boundaries above all) is a real image. In the student copy of
the exercise, Run All stops at the first stub, as it does for a student; the
test then runs the remaining cells one by one (Shift+Enter) and every
self-check must say "Not attempted". Screenshots go to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from catalog import ARTIFACTS, NOT_ATTEMPTED, SOURCE, STUDENT_DIR, course_notebooks, load_plan
from labserver import JupyterLab
from notebook_ui import Cell, current_tab, open_notebook, read_cells, run_all_cells, run_cell, screenshot_cell, wait_for

NOTEBOOKS = course_notebooks()
MIN_FIGURE_PX = 200
# A traceback, or the "SomeError: message" line an exception ends with.
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception)\b.*:", re.MULTILINE)
START_PAGE = "README.md"  # make lab opens notebooks/README.md
START_PAGE_WORDS = ("Start here", "01_toy_data.ipynb", "student/04_your_turn.ipynb", "Shift+Enter")


def test_the_course_has_notebooks_to_run() -> None:
    """Guards the parametrized test below against silently running nothing."""
    assert any("/" not in rel for rel in NOTEBOOKS), f"no course notebooks found in {SOURCE}"
    assert any(rel.startswith(f"{STUDENT_DIR}/") for rel in NOTEBOOKS), f"no student copy in {SOURCE / STUDENT_DIR}"
    assert any(load_plan(SOURCE / rel).boundaries for rel in NOTEBOOKS), "no notebook draws a decision boundary"


def test_every_notebook_that_draws_decision_boundaries_is_recognised() -> None:
    """05's slice plots are decision boundaries too: their size is checked and screenshots kept."""
    drawing = {rel for rel in NOTEBOOKS if "/" not in rel and load_plan(SOURCE / rel).boundaries}
    assert {"03_decision_boundaries.ipynb", "05_slicing.ipynb"} <= drawing, drawing


def test_make_lab_opens_the_start_page(lab: JupyterLab, lab_root: Path, page: Any) -> None:
    """``make lab`` opens JupyterLab on notebooks/ with the start page (README.md) in front.

    As root and in a container too (the machines the tests run on are often both):
    the ``lab`` fixture passes neither ``--allow-root`` nor an address of its own
    choosing beyond loopback, so the recipe itself must cope.
    """
    page.goto(lab.opened_url())  # the URL JupyterLab gave the browser, as `make lab` does
    wait_for(
        page,
        "(words) => { const t = document.querySelector('#jp-main-dock-panel')?.innerText || '';"
        " return words.every((w) => t.includes(w)); }",
        arg=list(START_PAGE_WORDS),
        timeout_s=60,
        what=f"the start page showing {START_PAGE_WORDS}",
    )
    tab = current_tab(page)
    page.screenshot(path=str(_shot_name("start_page", "lab")))
    assert tab["title"] == START_PAGE, f"the front tab is {tab['title']!r}, not the start page {START_PAGE}"
    # Rendered (scripts/jupyterlab_overrides.json, installed by make), not Markdown source in an editor.
    heading = page.locator("#jp-main-dock-panel .jp-RenderedMarkdown h1")
    assert heading.count() >= 1, (
        "the start page is shown as Markdown source, not rendered: is the overrides file installed?"
    )
    assert "#" not in heading.first.inner_text(), heading.first.inner_text()
    missing = [word for word in START_PAGE_WORDS if word not in tab["text"]]
    assert not missing, f"the start page does not show {missing}:\n{tab['text'][:2000]}"
    listed = page.locator(".jp-DirListing-item .jp-DirListing-itemText").all_inner_texts()
    expected = sorted({rel.split("/")[0] for rel in NOTEBOOKS})
    assert set(expected) <= set(listed), f"the file browser does not show notebooks/ ({expected}); it lists {listed}"


def test_make_lab_listens_on_JUPYTER_PORT(lab: JupyterLab) -> None:
    """``make lab`` leaves the port to jupyter_server, which takes ``JUPYTER_PORT`` when it is set."""
    assert lab.port == lab.requested_port, (
        f"JUPYTER_PORT={lab.requested_port}, but the server listens on {lab.port}:\n{lab.log_tail()}"
    )


def _shot_name(rel: str, suffix: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{rel.removesuffix('.ipynb').replace('/', '__')}-{suffix}.png"


def _errors(cells: list[Cell], expected: tuple[int, ...], stubs: tuple[int, ...] = ()) -> list[str]:
    """Error outputs (tracebacks, "SomeError: ...") a student should not see: any outside the
    ``expected`` cells, and in a stub cell any but its own NotImplementedError. Warnings are allowed."""
    found = []
    for i, cell in enumerate(cells):
        for text in cell.stderr():
            if not ERROR_TEXT.search(text) or i in expected:
                continue
            if i in stubs and text.strip().splitlines()[-1].startswith("NotImplementedError"):
                continue
            found.append(f"cell {i} [{cell.execution_count}]:\n{text[-1500:]}")
    return found


def _small_images(cells: list[Cell]) -> list[tuple[int, dict[str, Any]]]:
    return [
        (i, img)
        for i, cell in enumerate(cells)
        for img in cell.images
        if not (img["complete"] and min(img["width"], img["height"]) >= MIN_FIGURE_PX)
    ]


@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_notebook_runs_clean_in_jupyterlab(rel: str, lab: JupyterLab, lab_root: Path, page: Any) -> None:
    """Run All Cells through the UI; the notebook must finish with clean, complete output."""
    plan = load_plan(lab_root / rel)
    student = rel.startswith(f"{STUDENT_DIR}/")
    open_notebook(page, lab.url(f"lab/tree/{rel}?reset"), plan.n_cells)
    run_all_cells(page)
    last = plan.code[-1]
    if student:
        # Run All stops at the first stub, with the stub's NotImplementedError.
        assert plan.stubs, f"{rel}: the student copy has no stub (`raise NotImplementedError`)"
        assert plan.self_checks, f"{rel}: the student copy has no self-check cell (no `.check(` call)"
        stopped = read_cells(page)
        ran = [i for i in plan.code if stopped[i].execution_count is not None]
        assert ran and ran[-1] == plan.stubs[0], (
            f"{rel}: Run All should stop at the first stub, cell {plan.stubs[0]}; cells {ran} ran"
        )
        # Then the student runs on, one cell at a time, through the last self-check.
        last = plan.self_checks[-1]
        for i in plan.code:
            if plan.stubs[0] < i <= last:
                run_cell(page, i)
    cells = read_cells(page)
    screenshot_cell(page, 0, _shot_name(rel, "top"))
    for n, i in enumerate(plan.boundaries):
        screenshot_cell(page, i, _shot_name(rel, f"boundary{n + 1}"))
    for i in plan.self_checks:
        screenshot_cell(page, i, _shot_name(rel, f"cell{i}-self-check"))

    problems = [f"error output:\n{error}" for error in _errors(cells, plan.raises, plan.stubs if student else ())]
    not_run = [i for i in plan.code if i <= last and cells[i].execution_count is None]
    if not_run:
        problems.append(f"code cells {not_run} have no execution count after running")
    small = _small_images(cells)
    if small:
        problems.append(f"images not rendered at a real size (>= {MIN_FIGURE_PX} px): {small}")
    missing = {i: (len(cells[i].images), n) for i, n in plan.figures.items() if len(cells[i].images) < n}
    if missing:
        problems.append(f"cells show fewer figures than committed ({{cell: (shown, committed)}}): {missing}")
    no_boundary = [i for i in plan.boundaries if not cells[i].images]
    if no_boundary:
        problems.append(f"decision-boundary cells {no_boundary} show no image")
    assert not problems, f"{rel} in JupyterLab (screenshots in {ARTIFACTS}):\n" + "\n\n".join(problems)

    if student:
        feedback = {i: cells[i].text for i in plan.self_checks}
        silent = {i: text for i, text in feedback.items() if not NOT_ATTEMPTED.search(text)}
        assert not silent, f"{rel}: these self-checks did not say 'Not attempted': {silent}"
