"""``mtl-teach release SOURCE... --out DIR``: write the student version of each source notebook.

Solution regions become ``# YOUR CODE HERE`` + ``raise NotImplementedError``,
hidden tests are removed, outputs are cleared and the assignment name (the
file's stem unless ``--assignment``) is stamped in ``metadata.mtl_teach``.
Links move with the copy: its "Open in Colab" badge opens the copy itself
(or is removed when DIR is outside the repository, so it never opens the
solutions), and relative links such as "Next" resolve from DIR.
``--repo-url`` stamps another home (a fork) into the copy's badge and install
cell. A notebook someone has already run in DIR is never overwritten without
``--force``: it may be a student's work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import nbformat

from mtl_teach._errors import fail
from mtl_teach.grading.cells import release_notebook
from mtl_teach.links import ProjectHome, badge_path, relocate_links, stamp_notebook


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="instructor notebooks (with solutions)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the student versions")
    parser.add_argument("--assignment", help="assignment name to stamp (default: each file's stem)")
    parser.add_argument("--force", action="store_true", help="overwrite student versions even if someone ran them")
    parser.add_argument(
        "--repo-url",
        metavar="URL",
        help="GitHub address the copies' Colab badge and install cell name (default: the source's own)",
    )


def released_text(
    source: Path,
    assignment: str | None = None,
    out: Path | None = None,
    home: ProjectHome | None = None,
    released: frozenset[str] = frozenset(),
    notes: list[str] | None = None,
) -> str:
    """The student version of ``source`` as the exact text ``release`` writes.

    Parameters
    ----------
    source
        The instructor notebook (with solutions).
    assignment
        Assignment name to stamp; default: the file's stem.
    out
        The folder the copy goes to; its badge and relative links are moved
        there (see :func:`mtl_teach.links.relocate_links`). Default: the
        source's folder (links unchanged).
    home
        Another project home for the badge and the install cell; default: the source's.
    released
        Names of the notebooks released into ``out`` in the same run (links to them stay).
    notes
        A list that receives what was changed beyond the usual (e.g. a removed badge).
    """
    source = Path(source)
    notebook = release_notebook(nbformat.read(source, as_version=4), assignment or source.stem)
    if out is not None:
        found = relocate_links(notebook, source, Path(out) / source.name, released)
        if notes is not None:
            notes.extend(found)
    if home is not None:
        stamp_notebook(notebook, home, badge_path(notebook) or "")
    return nbformat.writes(notebook) + "\n"


def _was_run(path: Path) -> bool:
    try:
        notebook: Any = nbformat.read(path, as_version=4)
    except Exception:
        return True  # unreadable: not ours to overwrite
    return any(
        cell.get("execution_count") or cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"
    )


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    sources = [Path(s) for s in args.sources]
    for source in sources:
        if not source.is_file():
            fail("release SOURCE", "must be an existing notebook", str(source), "check the path.")
        if (out / source.name).resolve() == source.resolve():
            fail(
                "release --out",
                "must differ from the source's folder, or the solutions would be overwritten",
                str(out),
                "pass e.g. --out notebooks/student.",
            )
    home = None if args.repo_url is None else ProjectHome.from_url(args.repo_url, param="release --repo-url")
    out.mkdir(parents=True, exist_ok=True)
    released = frozenset(source.name for source in sources)
    status = 0
    for source in sources:
        target = out / source.name
        notes: list[str] = []
        text = released_text(source, args.assignment, out, home, released, notes)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        if target.exists() and target.read_text(encoding="utf-8") != text and _was_run(target) and not args.force:
            print(
                f"skipped {target}: it has outputs, so it may be someone's work. Fix: move it away, or pass --force.",
                file=sys.stderr,
            )
            status = 1
            continue
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    return status
