"""What each README picture shows, and a fingerprint of the notebooks it was made from.

``scripts/make_screenshots.py`` writes ``docs/images/screenshots.json`` next to
the pictures: for each picture, the notebooks it shows, a SHA-256 of their
cells' source text (not outputs or metadata: re-running a notebook does not make
a picture stale, editing its text does) and, for the JupyterLab window, the
entries of ``notebooks/`` its file browser shows. ``tests/test_screenshots.py``
recomputes this and fails, naming the script, when the notebooks have moved on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import nbformat

# picture -> (notebooks it shows, relative to notebooks/; whether notebooks/ is listed in its file browser)
PICTURES: dict[str, tuple[tuple[str, ...], bool]] = {
    "jupyterlab.png": (("03_decision_boundaries.ipynb",), True),
    "self_check.png": (("student/04_your_turn.ipynb",), False),
    "hub_session.png": (("student/04_your_turn.ipynb",), False),
}
MANIFEST = "screenshots.json"
SCRIPT = ".venv/bin/python scripts/make_screenshots.py"


def source_sha256(notebooks: Path, names: tuple[str, ...]) -> str:
    """SHA-256 of the named notebooks' paths and cell sources (cell types included), in order.

    Parameters
    ----------
    notebooks
        The ``notebooks/`` folder.
    names
        Notebook paths relative to ``notebooks``.
    """
    content = [
        [name, [[cell.cell_type, cell.source] for cell in nbformat.read(notebooks / name, as_version=4).cells]]
        for name in names
    ]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode("utf-8")).hexdigest()


def file_browser(notebooks: Path) -> list[str]:
    """The course entries JupyterLab's file browser lists for ``notebooks``: its notebooks and start page,
    and its folders of notebooks (not files a run may leave behind, such as ``logs/``)."""
    return sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in notebooks.iterdir()
        if not p.name.startswith(".")
        and (p.suffix == ".ipynb" or p.name == "README.md" or (p.is_dir() and any(p.glob("*.ipynb"))))
    )


def manifest(notebooks: Path) -> dict[str, Any]:
    """What ``docs/images/screenshots.json`` must hold for pictures made from ``notebooks`` as they are now.

    Parameters
    ----------
    notebooks
        The ``notebooks/`` folder the pictures are made from.
    """
    entries: dict[str, Any] = {}
    for picture, (names, lists_folder) in PICTURES.items():
        entry: dict[str, Any] = {"notebooks": list(names), "source_sha256": source_sha256(notebooks, names)}
        if lists_folder:
            entry["file_browser"] = file_browser(notebooks)
        entries[picture] = entry
    return {"_made_by": SCRIPT, "pictures": entries}
