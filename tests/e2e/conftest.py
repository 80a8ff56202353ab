"""Fixtures for the browser tests: one JupyterLab and one Chromium per session.

The server shows a temporary COPY of ``notebooks/`` (plus a generated
progress-bar notebook), so running cells never changes committed outputs or
a student's work. Each test gets a fresh browser context; afterwards its
kernels are shut down and, if it failed, a screenshot is kept in
``test-artifacts/e2e/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from catalog import ARTIFACTS, SOURCE, write_progress_notebook
from labserver import JupyterLab, chromium_executable, launch_chromium
from playwright.sync_api import sync_playwright

VIEWPORT = {"width": 1400, "height": 900}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Keep each phase's report on the test item, so the page fixture knows if the test failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium; a missing browser FAILS the tests (never a skip)."""
    try:
        return chromium_executable()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway copy of the course notebooks, plus the progress-bar notebook."""
    root = tmp_path_factory.mktemp("lab") / "notebooks"
    shutil.copytree(SOURCE, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    write_progress_notebook(root)
    return root


@pytest.fixture(scope="session")
def lab(lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab started by ``make lab`` over ``lab_root``, on loopback (JUPYTER_PORT free, random token)."""
    with JupyterLab(lab_root, tmp_path_factory.mktemp("jupyter-home")) as server:
        yield server


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    """Headless system Chromium driven by Playwright (no browser is ever downloaded)."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, lab: JupyterLab, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser tab; on failure its last state is saved as a screenshot."""
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    try:
        yield tab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            name = "".join(ch if ch.isalnum() else "_" for ch in request.node.name)
            tab.screenshot(path=str(ARTIFACTS / f"FAILED-{name}.png"))
        context.close()
        lab.shutdown_kernels()
