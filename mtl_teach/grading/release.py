"""``mtl-teach release SOURCE... --out DIR``: write the student version of each source notebook.

Solution regions become ``# YOUR CODE HERE`` + ``raise NotImplementedError``,
hidden tests are removed, outputs are cleared and the assignment name (the
file's stem unless ``--assignment``) is stamped in ``metadata.mtl_teach``.
A notebook someone has already run in DIR is never overwritten without
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="instructor notebooks (with solutions)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the student versions")
    parser.add_argument("--assignment", help="assignment name to stamp (default: each file's stem)")
    parser.add_argument("--force", action="store_true", help="overwrite student versions even if someone ran them")


def released_text(source: Path, assignment: str | None = None) -> str:
    """The student version of ``source`` as the exact text ``release`` writes."""
    notebook = nbformat.read(source, as_version=4)
    return nbformat.writes(release_notebook(notebook, assignment or source.stem)) + "\n"


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
    out.mkdir(parents=True, exist_ok=True)
    status = 0
    for source in sources:
        target = out / source.name
        text = released_text(source, args.assignment)
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
