"""Make the README's pictures of the kit in JupyterLab (run: .venv/bin/python scripts/make_screenshots.py).

Uses the end-to-end tests' machinery (tests/e2e): JupyterLab started by
``make lab``, over a temporary copy of ``notebooks/``, and Debian's
headless Chromium through Playwright. Writes

- ``docs/images/jupyterlab.png``: notebook 03 open at its first
  decision-boundary figure (the committed outputs, as a student first sees them);
- ``docs/images/self_check.png``: the student copy of notebook 04 after
  Run All Cells stopped at the first stub and its self-check was run;
- ``docs/images/hub_session.png``: a student's session on the class hub
  (``make hub``, as tests/e2e/test_hub.py starts it): the exercise, pulled by
  its nbgitpuller link, solved, run and handed in with the README's one line.

``--pictures NAME...`` remakes only those (and only their entries in the record).

Each PNG is reduced to a 256-colour palette, which keeps it well under 300 KB.
Then it records, in ``docs/images/screenshots.json``, what each picture was made
from (tests/e2e/pictures.py: the notebooks, a hash of their cells' source, the
file browser's entries); ``tests/test_screenshots.py`` fails when the notebooks
no longer match it, so a stale picture is noticed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from catalog import SOURCE, load_plan  # noqa: E402
from hubserver import EXERCISE, HAND_IN, ClassHub, GitServer, exercise_answers, log_in, student_python  # noqa: E402
from labserver import JupyterLab, launch_chromium  # noqa: E402
from notebook_ui import (  # noqa: E402
    NOTEBOOK,
    add_cell_and_run,
    open_notebook,
    run_all_cells,
    run_cell,
    save_notebook,
    set_cell_source,
    wait_for_notebook,
)
from pictures import MANIFEST, PICTURES, manifest  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from mtl_teach.links import nbgitpuller_url  # noqa: E402

VIEWPORT = {"width": 1280, "height": 800}
BOUNDARY_NOTEBOOK = PICTURES["jupyterlab.png"][0][0]
STUDENT_NOTEBOOK = PICTURES["self_check.png"][0][0]
MAX_BYTES = 300_000


def _save(page, path: Path) -> None:
    """Screenshot the window into ``path`` as a palette PNG; fail if it is too big for the README."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path} is {size} bytes, over {MAX_BYTES}")
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path} ({size // 1000} KB)")


def _scroll_to(page, index: int) -> None:
    page.locator(f"{NOTEBOOK} .jp-Cell").nth(index).evaluate("(el) => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)  # let the scroll settle before the screenshot


def boundary_picture(lab: JupyterLab, browser, root: Path, out: Path) -> None:
    """Notebook 03, scrolled to its first decision-boundary figure."""
    plan = load_plan(root / BOUNDARY_NOTEBOOK)
    page = browser.new_page(viewport=VIEWPORT)
    open_notebook(page, lab.url(f"lab/tree/{BOUNDARY_NOTEBOOK}?reset"), plan.n_cells)
    # The markdown cell before the figure says what it shows; start there.
    _scroll_to(page, plan.boundaries[0] - 1)
    _save(page, out / "jupyterlab.png")
    page.close()


def self_check_picture(lab: JupyterLab, browser, root: Path, out: Path) -> None:
    """The student copy of 04: Run All stops at the first stub; its self-check says 'Not attempted'."""
    plan = load_plan(root / STUDENT_NOTEBOOK)
    page = browser.new_page(viewport=VIEWPORT)
    open_notebook(page, lab.url(f"lab/tree/{STUDENT_NOTEBOOK}?reset"), plan.n_cells)
    run_all_cells(page)
    check = next(i for i in plan.self_checks if i > plan.stubs[0])
    run_cell(page, check)
    _scroll_to(page, plan.stubs[0] - 1)
    _save(page, out / "self_check.png")
    page.close()


def hub_picture(browser, out: Path) -> None:
    """A student's session on the class hub: the exercise pulled, solved, run and handed in.

    The demo login and the simple spawner (no system accounts are made), with the
    tests' Python for students, whose JupyterLab settings keep news pop-ups away.
    """
    plan = load_plan(REPO / EXERCISE)
    with tempfile.TemporaryDirectory(prefix="mtl-teach-hub-picture-") as tmp:
        base = Path(tmp)
        base.chmod(0o711)
        (base / "git").mkdir()
        with GitServer(base / "git") as git, ClassHub(base / "state", git.url, "simple", student_python(base)) as hub:
            page = browser.new_page(viewport=VIEWPORT)
            log_in(page, hub, "ada", nbgitpuller_url(hub.url, git.url, "main", EXERCISE))
            wait_for_notebook(page, plan.n_cells, timeout_s=240)
            for index, source in exercise_answers("perfect").items():
                set_cell_source(page, index, source)
            run_all_cells(page, timeout_s=400)
            save_notebook(page)
            add_cell_and_run(page, HAND_IN)
            page.locator(f"{NOTEBOOK} .jp-Cell").last.evaluate("(el) => el.scrollIntoView({block: 'end'})")
            page.wait_for_timeout(300)  # let the scroll settle before the screenshot
            _save(page, out / "hub_session.png")
            page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images", help="folder for the PNGs")
    parser.add_argument("--pictures", nargs="+", choices=sorted(PICTURES), default=sorted(PICTURES))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    lab_pictures = {"jupyterlab.png": boundary_picture, "self_check.png": self_check_picture}
    with tempfile.TemporaryDirectory(prefix="mtl-teach-screenshots-") as tmp, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            if set(args.pictures) & set(lab_pictures):
                root = Path(tmp) / "lab" / "notebooks"
                shutil.copytree(SOURCE, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
                home = Path(tmp) / "home"
                home.mkdir()
                with JupyterLab(root, home) as lab:
                    for picture, make in lab_pictures.items():
                        if picture in args.pictures:
                            make(lab, browser, root, args.out)
                    lab.shutdown_kernels()
            if "hub_session.png" in args.pictures:
                hub_picture(browser, args.out)
        finally:
            browser.close()
    record = args.out / MANIFEST
    made = manifest(SOURCE)
    if record.exists() and set(args.pictures) != set(PICTURES):  # keep the others' entries as they were made
        kept = json.loads(record.read_text())["pictures"]
        made["pictures"] = {p: made["pictures"][p] if p in args.pictures else kept.get(p) for p in PICTURES}
    record.write_text(json.dumps(made, indent=2) + "\n")
    print(f"wrote {record.relative_to(REPO) if record.is_relative_to(REPO) else record}")


if __name__ == "__main__":
    main()
