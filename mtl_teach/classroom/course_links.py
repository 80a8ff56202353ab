"""``mtl-teach links --hub URL``: the nbgitpuller link of every notebook, for a course page.

A student who clicks one logs in to the hub, which clones the kit into
``~/mtl-teach`` the first time and pulls the instructor's changes on later
clicks, merging: their own edits are kept (a file they deleted comes back).
Exercises link to their student copies (``notebooks/student/``), never to
the solutions.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mtl_teach._errors import fail
from mtl_teach.links import START_PAGE, clone_folder, installed_home_url, nbgitpuller_url

STUDENT_DIR = "student"
# The checkout an editable install came from (where `make install` puts the kit).
CHECKOUT_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def course_paths(notebooks: str | os.PathLike[str]) -> list[str]:
    """The start page, then each course notebook, as paths in the repository; exercises as their student copies.

    Parameters
    ----------
    notebooks
        The repository's ``notebooks/`` folder.
    """
    folder = Path(notebooks)
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        fail(
            "links --notebooks",
            "must be the kit's notebooks/ folder (with 01_toy_data.ipynb, ...)",
            str(folder),
            "run it in the kit's checkout, or pass --notebooks path/to/notebooks.",
            raw=True,
        )
    paths = [START_PAGE]
    for notebook in found:
        student = folder / STUDENT_DIR / notebook.name
        paths.append(f"notebooks/{STUDENT_DIR}/{notebook.name}" if student.is_file() else f"notebooks/{notebook.name}")
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hub", required=True, metavar="URL", help="the hub's address, e.g. https://hub.example.edu")
    parser.add_argument("--repo", metavar="URL", help="the kit's repository (default: the project's home)")
    parser.add_argument("--branch", default="main", help="the branch students pull (default: main)")
    parser.add_argument(
        "--notebooks",
        metavar="DIR",
        help="the notebooks/ folder to list (default: ./notebooks, else the kit's checkout)",
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown list, for a course page")


def run(args: argparse.Namespace) -> int:
    repo = args.repo or installed_home_url()
    if "://" not in repo or not clone_folder(repo):
        fail("links --repo", "must be a git repository's URL", repo, "pass e.g. https://github.com/OWNER/REPO.")
    if "://" in args.hub and not args.hub.startswith(("https://", "http://")):
        fail("links --hub", "must be an http(s) address", args.hub, "pass e.g. https://hub.example.edu.")
    notebooks = args.notebooks or ("notebooks" if Path("notebooks").is_dir() else CHECKOUT_NOTEBOOKS)
    for path in course_paths(notebooks):
        url = nbgitpuller_url(args.hub, repo, args.branch, path)
        name = "start page" if path == START_PAGE else path.removeprefix("notebooks/")
        print(f"- [{name}]({url})" if args.markdown else f"{name:40} {url}")
    return 0
