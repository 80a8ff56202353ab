"""Restamp every link to the project's home from pyproject.toml (run: make links).

The home is declared once, in ``pyproject.toml`` ``[project.urls] Homepage``
(``https://github.com/OWNER/REPO``). A fork changes that line and runs this
script, which rewrites

- each notebook's "Open in Colab" badge (``notebooks/*.ipynb`` and the student
  copies in ``notebooks/student/``), to open that notebook's own path;
- each notebook's setup cell, ``pip install git+<home>``;
- the Binder badge, nbgitpuller and ``git clone`` links in ``README.md`` and
  ``notebooks/README.md``.

Nothing else in a notebook changes (outputs, metadata and other cells are kept;
files are written with nbformat, as the notebooks were). ``--check`` changes
nothing and exits 1 listing the files that disagree with pyproject.toml. After a
fork's longer address, ``make format`` re-wraps a setup cell's long line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from mtl_teach.links import DEFAULT_BRANCH, ProjectHome, read_home, stamp_markdown, stamp_notebook

REPO = Path(__file__).resolve().parents[1]
MARKDOWN = ("README.md", "notebooks/README.md")
NOTEBOOKS = ("notebooks/*.ipynb", "notebooks/student/*.ipynb")


def stamped(root: Path, home: ProjectHome) -> dict[Path, str]:
    """Return ``{file: new text}`` for every file under ``root`` whose links disagree with ``home``.

    Parameters
    ----------
    root
        The repository's folder.
    home
        The project's home.
    """
    changed: dict[Path, str] = {}
    for name in MARKDOWN:
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if (new := stamp_markdown(text, home)) != text:
                changed[path] = new
    for pattern in NOTEBOOKS:
        for path in sorted(root.glob(pattern)):
            text = path.read_text(encoding="utf-8")
            notebook = nbformat.reads(text, as_version=4)
            stamp_notebook(notebook, home, path.relative_to(root).as_posix())
            if (new := nbformat.writes(notebook) + "\n") != text:
                changed[path] = new
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO, help="repository folder (default: this checkout)")
    parser.add_argument("--branch", default=DEFAULT_BRANCH, help="branch the links open (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any file disagrees")
    args = parser.parse_args(argv)
    home = read_home(args.root / "pyproject.toml", args.branch)
    changed = stamped(args.root, home)
    for path, text in changed.items():
        rel = path.relative_to(args.root)
        if args.check:
            print(f"{rel}: links disagree with pyproject.toml ({home.url}); run: make links", file=sys.stderr)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"restamped {rel} for {home.url}")
    if not changed:
        print(f"every link names {home.url} (branch {home.branch})")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
