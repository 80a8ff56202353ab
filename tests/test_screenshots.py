"""The README's pictures are not stale: they were made from the notebooks as they are now.

``scripts/make_screenshots.py`` records in ``docs/images/screenshots.json`` what
each picture was made from: the notebooks it shows, a hash of their cells'
source text, and the entries of the file browser it shows (tests/e2e/pictures.py).
Editing a notebook's text, or adding a notebook, makes this test fail until the
pictures are made again. Outputs and metadata are not hashed: re-running a
notebook does not change what the picture is about.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from pictures import MANIFEST, PICTURES, SCRIPT, manifest, source_sha256  # noqa: E402


def test_every_readme_picture_was_made_from_the_current_notebooks() -> None:
    recorded = json.loads((IMAGES / MANIFEST).read_text())
    current = manifest(ROOT / "notebooks")
    stale = {
        picture: {key: (made, current["pictures"][picture].get(key)) for key, made in entry.items()}
        for picture, entry in recorded["pictures"].items()
        if entry != current["pictures"].get(picture)
    }
    stale = {picture: {k: v for k, v in diff.items() if v[0] != v[1]} for picture, diff in stale.items()}
    missing = sorted(set(current["pictures"]) - set(recorded["pictures"]))
    assert not stale and not missing, (
        f"README pictures in docs/images/ are stale (recorded vs now: {stale}; never recorded: {missing}). "
        f"Run {SCRIPT} and look at the new pictures."
    )


def test_every_picture_exists_and_the_readme_shows_it() -> None:
    readme = (ROOT / "README.md").read_text()
    for picture in PICTURES:
        assert (IMAGES / picture).is_file(), picture
        assert f"](docs/images/{picture})" in readme, f"README.md does not show {picture}"
    assert sorted(p.name for p in IMAGES.glob("*.png")) == sorted(PICTURES), "a picture no script makes"


def test_the_hash_covers_cell_source_only(tmp_path: Path) -> None:
    name = "03_decision_boundaries.ipynb"
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    nbformat.write(notebook, tmp_path / name)
    before = source_sha256(tmp_path, (name,))
    assert before == source_sha256(ROOT / "notebooks", (name,))
    for cell in notebook.cells:
        cell.metadata["touched"] = True
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, tmp_path / name)
    assert source_sha256(tmp_path, (name,)) == before, "outputs or metadata changed the hash"
    notebook.cells[0].source += "\nOne more sentence."
    nbformat.write(notebook, tmp_path / name)
    assert source_sha256(tmp_path, (name,)) != before, "an edit of a cell's text did not change the hash"
